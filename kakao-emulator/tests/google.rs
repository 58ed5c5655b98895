//! The emulated Google Sign-In over real HTTP, started in-process on port
//! 0; id_tokens are verified with `jsonwebtoken` against the served JWKS.

mod common;

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::client;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use kakao_emulator::{
    EmulatorConfig, Endpoint, Fault, GoogleConfig, IdTokenFault, OAuthApp, RunningEmulator, start,
};
use reqwest::{StatusCode, Url};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const CLIENT_ID: &str = "demo-google-client.apps.googleusercontent.com";
const SECRET: &str = "GOCSPX-demo-google-secret";
const OTHER_ID: &str = "other-client.apps.googleusercontent.com";
const OTHER_SECRET: &str = "GOCSPX-other";
const REDIRECT: &str = "http://localhost:8080/auth/google/callback";
const KIM: &str = "110248495921238986420";
const UNVERIFIED: &str = "108516029483746120935";
const NO_EMAIL: &str = "117030221906781234567";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn config() -> EmulatorConfig {
    EmulatorConfig {
        google: GoogleConfig {
            apps: vec![
                OAuthApp::new(CLIENT_ID, SECRET, &[REDIRECT]),
                OAuthApp::new(OTHER_ID, OTHER_SECRET, &[REDIRECT]),
            ],
            ..GoogleConfig::default()
        },
        ..EmulatorConfig::default()
    }
}

async fn emulator(config: EmulatorConfig) -> RunningEmulator {
    start(config, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

fn url(emu: &RunningEmulator, path: &str) -> String {
    format!("{}/google{path}", emu.base_url())
}

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A Sign-In request with PKCE S256 and a nonce, `extra` replacing or adding.
fn authorize_params(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let challenge = s256(VERIFIER);
    let mut params = vec![
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid email profile"),
        ("state", "st-1"),
        ("nonce", "n-1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    for (key, value) in extra {
        params.retain(|(k, _)| k != key);
        params.push((key, value));
    }
    params
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

async fn decide(
    emu: &RunningEmulator,
    params: &[(String, String)],
    sub: &str,
    action: &str,
) -> reqwest::Response {
    common::decide(url(emu, "/o/oauth2/v2/auth/decision"), params, sub, action).await
}

fn location(response: &reqwest::Response) -> HashMap<String, String> {
    let raw = response.headers()["location"].to_str().unwrap();
    Url::parse(raw)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

async fn code_for(emu: &RunningEmulator, sub: &str, extra: &[(&str, &str)]) -> String {
    let response = decide(emu, &authorize_params(extra), sub, "agree").await;
    assert_eq!(response.status(), StatusCode::FOUND);
    location(&response)["code"].clone()
}

async fn token(emu: &RunningEmulator, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = client()
        .post(url(emu, "/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

async fn exchange(
    emu: &RunningEmulator,
    code: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("client_id", CLIENT_ID),
        ("client_secret", SECRET),
        ("redirect_uri", REDIRECT),
        ("code", code),
        ("code_verifier", VERIFIER),
    ];
    for (key, value) in extra {
        form.retain(|(k, _)| k != key);
        form.push((key, value));
    }
    form.retain(|(_, v)| !v.is_empty());
    token(emu, &form).await
}

async fn get_json(url: String) -> (StatusCode, Option<String>, Value) {
    let response = client().get(url).send().await.unwrap();
    let status = response.status();
    let cache = response
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, cache, response.json().await.unwrap())
}

/// Verify as a careful client would: RS256 only, key by `kid` from the
/// JWKS, issuer, audience, expiry.
async fn verify(
    emu: &RunningEmulator,
    id_token: &str,
) -> Result<Value, jsonwebtoken::errors::Error> {
    let (_, _, jwks) = get_json(url(emu, "/oauth2/v3/certs")).await;
    let header = jsonwebtoken::decode_header(id_token)?;
    let Some(key) = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| Some(key["kid"].as_str().unwrap()) == header.kid.as_deref())
    else {
        return Err(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat.into());
    };
    let key =
        DecodingKey::from_rsa_components(key["n"].as_str().unwrap(), key["e"].as_str().unwrap())?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[format!("{}/google", emu.base_url())]);
    validation.set_audience(&[CLIENT_ID]);
    Ok(decode::<Value>(id_token, &key, &validation)?.claims)
}

async fn userinfo(emu: &RunningEmulator, access: &str) -> (StatusCode, Value) {
    let response = client()
        .get(url(emu, "/v1/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn discovery_names_every_endpoint_under_the_google_issuer_base() {
    let emu = emulator(config()).await;
    let (status, cache, document) = get_json(url(&emu, "/.well-known/openid-configuration")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cache.as_deref(), Some("public, max-age=3600"));
    let base = url(&emu, "");
    assert_eq!(document["issuer"], base);
    for (field, path) in [
        ("authorization_endpoint", "/o/oauth2/v2/auth"),
        ("token_endpoint", "/token"),
        ("userinfo_endpoint", "/v1/userinfo"),
        ("jwks_uri", "/oauth2/v3/certs"),
        ("revocation_endpoint", "/revoke"),
    ] {
        assert_eq!(document[field], format!("{base}{path}"), "{field}");
    }
    assert_eq!(
        document["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    assert_eq!(
        document["code_challenge_methods_supported"],
        json!(["plain", "S256"])
    );
    assert_eq!(emu.control().calls(Endpoint::GoogleDiscovery), 1);
    assert_eq!(
        emu.control().calls(Endpoint::Discovery),
        0,
        "Kakao's is apart"
    );
}

#[tokio::test]
async fn the_consent_page_offers_verified_unverified_and_email_less_accounts() {
    let emu = emulator(config()).await;
    let response = client()
        .get(url(&emu, "/o/oauth2/v2/auth"))
        .query(&authorize_params(&[]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    for shown in [
        "김구글 🙂",
        "Émile 🐙 Unverified",
        "email_verified=false",
        "이메일 없는 사용자 😶",
        "이메일 없음",
    ] {
        assert!(page.contains(shown), "{shown}");
    }
    assert!(page.contains(&format!(r#"id="user-{KIM}" value="{KIM}" checked"#)));
    assert!(page.contains(r#"action="/google/o/oauth2/v2/auth/decision""#));
}

#[tokio::test]
async fn a_pkce_sign_in_gives_an_rs256_id_token_that_verifies_against_the_jwks() {
    let emu = emulator(config()).await;
    let response = decide(&emu, &authorize_params(&[]), KIM, "agree").await;
    let callback = location(&response);
    assert_eq!(callback["state"], "st-1");
    assert!(
        callback["code"].starts_with("4/"),
        "a '/' the client must encode"
    );
    assert_eq!(callback["authuser"], "0");
    let (status, body) = exchange(&emu, &callback["code"], &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert!(
        body["scope"]
            .as_str()
            .unwrap()
            .contains("https://www.googleapis.com/auth/userinfo.email")
    );
    assert!(
        body.get("refresh_token").is_none(),
        "online access: no refresh token"
    );

    let id_token = body["id_token"].as_str().unwrap();
    let claims = verify(&emu, id_token)
        .await
        .expect("a good id_token verifies");
    assert_eq!(claims["sub"], KIM);
    assert_eq!(claims["azp"], CLIENT_ID);
    assert_eq!(claims["nonce"], "n-1");
    assert_eq!(claims["email"], "kim.google@gmail.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["name"], "김구글 🙂");
    assert!(claims["picture"].is_string());
    let at_hash = URL_SAFE_NO_PAD
        .encode(&Sha256::digest(body["access_token"].as_str().unwrap().as_bytes())[..16]);
    assert_eq!(claims["at_hash"], at_hash);
    let (_, cache, _) = get_json(url(&emu, "/oauth2/v3/certs")).await;
    assert_eq!(cache.as_deref(), Some("public, max-age=3600"));

    let (status, info) = userinfo(&emu, body["access_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["sub"], KIM);
    assert_eq!(info["email_verified"], true);
}

#[tokio::test]
async fn unverified_and_email_less_accounts_show_in_the_claims() {
    let emu = emulator(config()).await;
    let code = code_for(&emu, UNVERIFIED, &[]).await;
    let claims = verify(
        &emu,
        exchange(&emu, &code, &[]).await.1["id_token"]
            .as_str()
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(claims["email_verified"], false);
    let code = code_for(&emu, NO_EMAIL, &[]).await;
    let claims = verify(
        &emu,
        exchange(&emu, &code, &[]).await.1["id_token"]
            .as_str()
            .unwrap(),
    )
    .await
    .unwrap();
    assert!(claims.get("email").is_none() && claims.get("email_verified").is_none());
    let code = code_for(&emu, KIM, &[("scope", "openid")]).await;
    let claims = verify(
        &emu,
        exchange(&emu, &code, &[]).await.1["id_token"]
            .as_str()
            .unwrap(),
    )
    .await
    .unwrap();
    assert!(
        claims.get("email").is_none() && claims.get("name").is_none(),
        "openid alone"
    );
}

#[tokio::test]
async fn a_wrong_or_missing_code_verifier_is_refused_and_spends_the_code() {
    let emu = emulator(config()).await;
    let code = code_for(&emu, KIM, &[]).await;
    let (status, body) = exchange(
        &emu,
        &code,
        &[("code_verifier", "not-the-verifier-not-the-verifier-43chars")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(
        exchange(&emu, &code, &[]).await.0,
        StatusCode::BAD_REQUEST,
        "spent"
    );
    let code = code_for(&emu, KIM, &[]).await;
    let (status, body) = exchange(&emu, &code, &[("code_verifier", "")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let plain = code_for(
        &emu,
        KIM,
        &[
            ("code_challenge", "plain-verifier"),
            ("code_challenge_method", "plain"),
        ],
    )
    .await;
    assert_eq!(
        exchange(&emu, &plain, &[("code_verifier", "plain-verifier")])
            .await
            .0,
        StatusCode::OK
    );
    let seen = emu.control().last_google_token_request().unwrap();
    assert!(seen.had_code_verifier && seen.had_client_secret);
}

#[tokio::test]
async fn a_code_works_once_and_only_with_its_client_and_redirect_uri() {
    let emu = emulator(config()).await;
    let code = code_for(&emu, KIM, &[]).await;
    assert_eq!(exchange(&emu, &code, &[]).await.0, StatusCode::OK);
    let (status, body) = exchange(&emu, &code, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    let code = code_for(&emu, KIM, &[]).await;
    let (status, body) = exchange(
        &emu,
        &code,
        &[(
            "redirect_uri",
            "http://localhost:8080/auth/google/callback/",
        )],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("redirect_uri_mismatch"))
    );

    let code = code_for(&emu, KIM, &[]).await;
    let (status, body) = exchange(
        &emu,
        &code,
        &[("client_id", OTHER_ID), ("client_secret", OTHER_SECRET)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn client_credentials_work_in_the_body_or_http_basic_and_a_wrong_secret_is_401() {
    let emu = emulator(config()).await;
    let code = code_for(&emu, KIM, &[]).await;
    let (status, body) = exchange(&emu, &code, &[("client_secret", "wrong")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let code = code_for(&emu, KIM, &[]).await;
    let response = client()
        .post(url(&emu, "/token"))
        .header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("{CLIENT_ID}:{SECRET}"))),
        )
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn offline_access_gives_one_refresh_token_that_refreshes_with_a_new_id_token() {
    let emu = emulator(config()).await;
    let code = code_for(&emu, KIM, &[("access_type", "offline")]).await;
    let (_, first) = exchange(&emu, &code, &[]).await;
    let refresh = first["refresh_token"]
        .as_str()
        .expect("first offline grant")
        .to_owned();
    let code = code_for(&emu, KIM, &[("access_type", "offline")]).await;
    assert!(
        exchange(&emu, &code, &[])
            .await
            .1
            .get("refresh_token")
            .is_none(),
        "only once"
    );
    let code = code_for(
        &emu,
        KIM,
        &[("access_type", "offline"), ("prompt", "consent")],
    )
    .await;
    assert!(
        exchange(&emu, &code, &[]).await.1["refresh_token"].is_string(),
        "again with prompt=consent"
    );

    let (status, body) = token(
        &emu,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("refresh_token", &refresh),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("refresh_token").is_none());
    let claims = verify(&emu, body["id_token"].as_str().unwrap())
        .await
        .unwrap();
    assert!(claims.get("nonce").is_none());
    assert_eq!(claims["sub"], KIM);
}

#[tokio::test]
async fn revoking_ends_the_grant_and_an_unknown_token_is_400_invalid_token() {
    let emu = emulator(config()).await;
    let code = code_for(&emu, KIM, &[("access_type", "offline")]).await;
    let (_, body) = exchange(&emu, &code, &[]).await;
    let access = body["access_token"].as_str().unwrap().to_owned();
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    let revoke = |token: String| {
        let target = url(&emu, "/revoke");
        async move {
            let response = client()
                .post(target)
                .form(&[("token", token)])
                .send()
                .await
                .unwrap();
            (response.status(), response.text().await.unwrap())
        }
    };
    assert_eq!(
        revoke(access.clone()).await,
        (StatusCode::OK, String::new())
    );
    assert_eq!(userinfo(&emu, &access).await.0, StatusCode::UNAUTHORIZED);
    let (status, body) = token(
        &emu,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("refresh_token", &refresh),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, body) = revoke(refresh).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("invalid_token"));
    let code = code_for(&emu, KIM, &[("access_type", "offline")]).await;
    assert!(
        exchange(&emu, &code, &[]).await.1["refresh_token"].is_string(),
        "a new grant after revocation"
    );
}

#[tokio::test]
async fn each_id_token_fault_makes_verification_or_the_nonce_check_fail() {
    let emu = emulator(config()).await;
    let control = emu.control();
    for fault in [
        IdTokenFault::WrongSignature,
        IdTokenFault::WrongIssuer,
        IdTokenFault::WrongAudience,
        IdTokenFault::Expired,
        IdTokenFault::AlgNone,
        IdTokenFault::Hs256,
        IdTokenFault::UnknownKid,
    ] {
        control.set_google_id_token_fault(Some(fault));
        let code = code_for(&emu, KIM, &[]).await;
        let id_token = exchange(&emu, &code, &[]).await.1["id_token"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(verify(&emu, &id_token).await.is_err(), "{fault:?}");
    }
    for (fault, nonce) in [
        (IdTokenFault::NoNonce, None),
        (IdTokenFault::WrongNonce, Some("not-the-nonce-you-sent")),
    ] {
        control.set_google_id_token_fault(Some(fault));
        let code = code_for(&emu, KIM, &[]).await;
        let claims = verify(
            &emu,
            exchange(&emu, &code, &[]).await.1["id_token"]
                .as_str()
                .unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(claims["nonce"].as_str(), nonce, "{fault:?}");
    }
    let set = client()
        .post(format!("{}/_emulator/google/id_token", emu.base_url()))
        .json(&json!({"fault": "missing", "email_verified_as_string": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::NO_CONTENT);
    let code = code_for(&emu, KIM, &[]).await;
    assert!(exchange(&emu, &code, &[]).await.1.get("id_token").is_none());
    control.set_google_id_token_fault(None);
    let code = code_for(&emu, KIM, &[]).await;
    let claims = verify(
        &emu,
        exchange(&emu, &code, &[]).await.1["id_token"]
            .as_str()
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(claims["email_verified"], "true");
    control.clear_faults();
    let code = code_for(&emu, KIM, &[]).await;
    let claims = verify(
        &emu,
        exchange(&emu, &code, &[]).await.1["id_token"]
            .as_str()
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(claims["email_verified"], true);
}

#[tokio::test]
async fn rotating_googles_key_changes_its_jwks_and_leaves_kakaos_alone() {
    let emu = emulator(config()).await;
    let (_, _, before) = get_json(url(&emu, "/oauth2/v3/certs")).await;
    let (_, _, kakao_before) = get_json(format!("{}/.well-known/jwks.json", emu.base_url())).await;
    let rotated = client()
        .post(format!("{}/_emulator/google/rotate_key", emu.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), StatusCode::NO_CONTENT);
    let (_, _, after) = get_json(url(&emu, "/oauth2/v3/certs")).await;
    let (_, _, kakao_after) = get_json(format!("{}/.well-known/jwks.json", emu.base_url())).await;
    assert_ne!(before["keys"][0]["kid"], after["keys"][0]["kid"]);
    assert_eq!(kakao_before, kakao_after);
    assert_ne!(
        after["keys"][0]["n"], kakao_after["keys"][0]["n"],
        "Google has its own keys"
    );
    let code = code_for(&emu, KIM, &[]).await;
    let id_token = exchange(&emu, &code, &[]).await.1["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(verify(&emu, &id_token).await.is_ok());
}

#[tokio::test]
async fn a_configured_issuer_appears_in_discovery_and_id_tokens() {
    let mut config = config();
    config.google.issuer = Some("https://accounts.google.com".to_owned());
    let emu = emulator(config).await;
    let (_, _, document) = get_json(url(&emu, "/.well-known/openid-configuration")).await;
    assert_eq!(document["issuer"], "https://accounts.google.com");
    assert_eq!(document["token_endpoint"], url(&emu, "/token"));
    let code = code_for(&emu, KIM, &[]).await;
    let id_token = exchange(&emu, &code, &[]).await.1["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(id_token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["iss"], "https://accounts.google.com");
}

#[tokio::test]
async fn bad_clients_and_redirects_get_an_error_page_and_denial_redirects_with_the_state() {
    let emu = emulator(config()).await;
    for (extra, status, code) in [
        (
            ("client_id", "nobody.apps.googleusercontent.com"),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            (
                "redirect_uri",
                "http://localhost:8080/auth/google/callback/",
            ),
            StatusCode::BAD_REQUEST,
            "redirect_uri_mismatch",
        ),
        (
            ("scope", "email profile"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            ("scope", "openid https://mail.google.com/"),
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
    ] {
        let response = client()
            .get(url(&emu, "/o/oauth2/v2/auth"))
            .query(&authorize_params(&[extra]))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{extra:?}");
        assert!(response.headers().get("location").is_none());
        assert!(response.text().await.unwrap().contains(code), "{extra:?}");
    }
    let response = decide(&emu, &authorize_params(&[]), KIM, "cancel").await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let params = location(&response);
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["state"], "st-1");
}

#[tokio::test]
async fn pkce_can_be_required_and_token_faults_are_counted_per_google_endpoint() {
    let mut config = config();
    config.google.require_pkce = true;
    let emu = emulator(config).await;
    let response = client()
        .get(url(&emu, "/o/oauth2/v2/auth"))
        .query(&authorize_params(&[
            ("code_challenge", ""),
            ("code_challenge_method", ""),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let control = emu.control();
    let body = json!({"error": "internal_failure", "error_description": "Backend Error"});
    control.set_fault(
        Endpoint::GoogleToken,
        Fault::Status {
            status: 503,
            body: body.clone(),
        },
    );
    let code = code_for(&emu, KIM, &[]).await;
    assert_eq!(
        exchange(&emu, &code, &[]).await,
        (StatusCode::SERVICE_UNAVAILABLE, body)
    );
    control.clear_faults();
    assert_eq!(exchange(&emu, &code, &[]).await.0, StatusCode::OK);
    assert_eq!(control.calls(Endpoint::GoogleToken), 2);
    assert_eq!(control.calls(Endpoint::GoogleAuthorize), 1);
    assert_eq!(control.calls(Endpoint::Token), 0);
}
