//! The emulator over real HTTP, started in-process on port 0.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::client;
use kakao_emulator::{EmulatorConfig, Endpoint, Fault, RunningEmulator, start};
use reqwest::{Client, StatusCode, Url};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const CLIENT_ID: &str = "demo-rest-api-key";
const REDIRECT: &str = "http://localhost:8080/auth/kakao/callback";
const HONG: i64 = 3_208_537_903;
const CAT: i64 = 3_208_537_905;

fn config() -> EmulatorConfig {
    EmulatorConfig {
        redirect_uris: vec![
            REDIRECT.to_owned(),
            "https://app.example/cb?tenant=1".to_owned(),
        ],
        ..EmulatorConfig::default()
    }
}

async fn emulator(config: EmulatorConfig) -> RunningEmulator {
    start(config, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

fn authorize_params(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut params = vec![
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("state", "st-123"),
    ];
    for (key, value) in extra {
        params.retain(|(k, _)| k != key);
        params.push((key, value));
    }
    params
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

async fn get_authorize(emu: &RunningEmulator, params: &[(String, String)]) -> reqwest::Response {
    client()
        .get(format!("{}/oauth/authorize", emu.base_url()))
        .query(params)
        .send()
        .await
        .unwrap()
}

/// What the consent form posts: the original parameters, the user and the button.
async fn decide(
    emu: &RunningEmulator,
    params: &[(String, String)],
    user_id: i64,
    action: &str,
) -> reqwest::Response {
    let mut form = params.to_vec();
    form.push(("user_id".into(), user_id.to_string()));
    form.push(("action".into(), action.into()));
    client()
        .post(format!("{}/oauth/authorize/decision", emu.base_url()))
        .form(&form)
        .send()
        .await
        .unwrap()
}

fn location(response: &reqwest::Response) -> (Url, HashMap<String, String>) {
    let url = Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    let pairs = url.query_pairs().into_owned().collect();
    (url, pairs)
}

async fn code_for(emu: &RunningEmulator, user_id: i64, extra: &[(&str, &str)]) -> String {
    let response = decide(emu, &authorize_params(extra), user_id, "agree").await;
    assert_eq!(response.status(), StatusCode::FOUND);
    location(&response).1["code"].clone()
}

async fn token(emu: &RunningEmulator, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = client()
        .post(format!("{}/oauth/token", emu.base_url()))
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
        ("redirect_uri", REDIRECT),
        ("code", code),
    ];
    for (key, value) in extra {
        form.retain(|(k, _)| k != key);
        form.push((key, value));
    }
    token(emu, &form).await
}

async fn user_me(emu: &RunningEmulator, authorization: &str) -> (StatusCode, Value) {
    let response = client()
        .get(format!("{}/v2/user/me", emu.base_url()))
        .header("authorization", authorization)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

async fn access_token_for(emu: &RunningEmulator, user_id: i64) -> (String, String) {
    let code = code_for(emu, user_id, &[]).await;
    let (status, body) = exchange(emu, &code, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[tokio::test]
async fn the_consent_page_lists_every_test_user_with_stable_ids() {
    let emu = emulator(config()).await;
    let response = get_authorize(&emu, &authorize_params(&[("state", "a\"<b>&")])).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = response.text().await.unwrap();
    assert!(page.contains(r#"<meta charset="utf-8">"#));
    assert!(page.contains("카카오 로그인 (에뮬레이터)"));
    for (id, nickname) in [
        (3_208_537_903_i64, "홍길동 🙂"),
        (3_208_537_904, "김카카오"),
        (3_208_537_905, "🐱 고양이 😺"),
        (3_208_537_906, "닉네임을 등록해주세요"),
    ] {
        assert!(page.contains(&format!(r#"id="user-{id}""#)), "{id}");
        assert!(page.contains(nickname), "{nickname}");
    }
    assert!(page.contains(r#"id="user-3208537903" value="3208537903" checked"#));
    assert!(page.contains(r#"id="agree" name="action" value="agree">동의하고 계속하기"#));
    assert!(page.contains(r#"id="cancel" name="action" value="cancel">취소"#));
    assert!(page.contains(r#"action="/oauth/authorize/decision""#));
    assert!(page.contains(r#"name="state" value="a&quot;&lt;b&gt;&amp;""#));
    assert!(!page.contains("<b>"));
    assert_eq!(emu.control().calls(Endpoint::Authorize), 1);
}

#[tokio::test]
async fn cancelling_redirects_back_with_access_denied_and_the_state() {
    let emu = emulator(config()).await;
    let response = decide(&emu, &authorize_params(&[]), HONG, "cancel").await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let raw = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(raw.starts_with(REDIRECT));
    assert!(
        raw.contains("error_description=User%20denied%20access"),
        "{raw}"
    );
    let (_, params) = location(&response);
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["state"], "st-123");
    assert!(!params.contains_key("code"));
}

#[tokio::test]
async fn agreeing_then_exchanging_the_code_gives_tokens_that_read_the_chosen_user() {
    let emu = emulator(config()).await;
    let response = decide(&emu, &authorize_params(&[]), HONG, "agree").await;
    let (url, params) = location(&response);
    assert_eq!(
        format!("{}{}", url.origin().ascii_serialization(), url.path()),
        REDIRECT
    );
    assert_eq!(params["state"], "st-123");
    let code = &params["code"];
    assert!(URL_SAFE_NO_PAD.decode(code).unwrap().len() >= 16);

    let (status, body) = exchange(&emu, code, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 21599);
    assert_eq!(body["refresh_token_expires_in"], 5_183_999);
    assert_eq!(
        body["scope"],
        "profile_nickname profile_image account_email"
    );
    assert!(body.get("id_token").is_none());
    let access = body["access_token"].as_str().unwrap();

    let (status, me) = user_me(&emu, &format!("Bearer {access}")).await;
    assert_eq!(status, StatusCode::OK);
    let id = me["id"].as_i64().unwrap();
    assert_eq!(id, HONG);
    assert!(id > i64::from(i32::MAX));
    assert!(me["connected_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(me["properties"], json!({}));
    let account = &me["kakao_account"];
    assert_eq!(account["profile"]["nickname"], "홍길동 🙂");
    assert_eq!(account["has_email"], true);
    assert_eq!(account["is_email_valid"], true);
    assert_eq!(account["is_email_verified"], true);
    assert_eq!(account["email"], "hong@example.com");

    let seen = emu.control().last_token_request().unwrap();
    assert_eq!(seen.grant_type, "authorization_code");
    assert_eq!(seen.client_id, CLIENT_ID);
    assert_eq!(seen.redirect_uri.as_deref(), Some(REDIRECT));
    assert!(!seen.had_client_secret);
}

#[tokio::test]
async fn a_user_without_email_is_reported_as_needing_email_agreement() {
    let emu = emulator(config()).await;
    let (access, _) = access_token_for(&emu, CAT).await;
    let (status, me) = user_me(&emu, &format!("Bearer {access}")).await;
    assert_eq!(status, StatusCode::OK);
    let account = &me["kakao_account"];
    assert_eq!(account["email_needs_agreement"], true);
    assert!(account.get("email").is_none());
    assert!(account.get("has_email").is_none());
}

#[tokio::test]
async fn a_code_presented_twice_is_refused_with_koe320() {
    let emu = emulator(config()).await;
    let code = code_for(&emu, HONG, &[]).await;
    assert_eq!(exchange(&emu, &code, &[]).await.0, StatusCode::OK);
    let (status, body) = exchange(&emu, &code, &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["error_code"], "KOE320");
    assert!(!body["error_description"].as_str().unwrap().contains(&code));
}

#[tokio::test]
async fn a_different_redirect_uri_is_refused_with_koe303_and_spends_the_code() {
    let emu = emulator(config()).await;
    let code = code_for(&emu, HONG, &[]).await;
    let (status, body) = exchange(
        &emu,
        &code,
        &[("redirect_uri", "http://localhost:8080/other")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["error_code"], "KOE303");
    let (status, body) = exchange(&emu, &code, &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_code"], "KOE320");
}

#[tokio::test]
async fn a_missing_or_wrong_client_secret_is_refused_with_koe010_when_one_is_configured() {
    let emu = emulator(EmulatorConfig {
        client_secret: Some("s3cret".into()),
        ..config()
    })
    .await;
    let code = code_for(&emu, HONG, &[]).await;
    for extra in [&[][..], &[("client_secret", "wrong")][..]] {
        let (status, body) = exchange(&emu, &code, extra).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"], "invalid_client");
        assert_eq!(body["error_description"], "Bad client credentials");
        assert_eq!(body["error_code"], "KOE010");
    }
    let (status, _) = exchange(&emu, &code, &[("client_secret", "s3cret")]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        emu.control()
            .last_token_request()
            .unwrap()
            .had_client_secret
    );
}

#[tokio::test]
async fn an_unknown_client_id_is_refused_with_koe101() {
    let emu = emulator(config()).await;
    let code = code_for(&emu, HONG, &[]).await;
    let (status, body) = exchange(&emu, &code, &[("client_id", "someone-else")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(body["error_code"], "KOE101");
}

#[tokio::test]
async fn pkce_accepts_the_matching_verifier_and_refuses_a_wrong_or_missing_one_with_koe320() {
    let emu = emulator(config()).await;
    let verifier = "a-verifier-of-at-least-forty-three-characters-long";
    let pkce = [
        ("code_challenge", s256(verifier)),
        ("code_challenge_method", "S256".to_owned()),
    ];
    let pkce: Vec<(&str, &str)> = pkce.iter().map(|(k, v)| (*k, v.as_str())).collect();

    for extra in [&[("code_verifier", "wrong")][..], &[][..]] {
        let code = code_for(&emu, HONG, &pkce).await;
        let (status, body) = exchange(&emu, &code, extra).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], "invalid_grant");
        assert_eq!(body["error_code"], "KOE320");
        assert_eq!(body["error_description"], "PKCE verification failed");
    }
    let code = code_for(&emu, HONG, &pkce).await;
    let (status, _) = exchange(&emu, &code, &[("code_verifier", verifier)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        emu.control()
            .last_token_request()
            .unwrap()
            .had_code_verifier
    );
}

#[tokio::test]
async fn refresh_gives_a_new_access_token_and_keeps_a_young_refresh_token() {
    let emu = emulator(config()).await;
    let (_, refresh) = access_token_for(&emu, HONG).await;
    let form = |rt| {
        [
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("refresh_token", rt),
        ]
    };
    let (status, body) = token(&emu, &form(&refresh)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert!(body.get("refresh_token").is_none());
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(
        user_me(&emu, &format!("Bearer {access}")).await.1["id"],
        HONG
    );

    let (status, body) = token(&emu, &form("unknown")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_code"], "KOE322");
    let (status, body) = token(&emu, &form("")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_code"], "KOE319");
}

#[tokio::test]
async fn other_grant_types_and_missing_parameters_are_refused() {
    let emu = emulator(config()).await;
    let (status, body) = token(
        &emu,
        &[("grant_type", "password"), ("client_id", CLIENT_ID)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "unsupported_grant_type");
    assert_eq!(body["error_code"], "KOE310");
    let (status, body) = token(
        &emu,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn user_me_with_an_unknown_or_missing_token_answers_minus_401() {
    let emu = emulator(config()).await;
    for authorization in ["Bearer not-a-token", ""] {
        let (status, body) = user_me(&emu, authorization).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            body,
            json!({"msg": "this access token does not exist", "code": -401})
        );
    }
}

#[tokio::test]
async fn expired_access_tokens_are_refused_until_refreshed() {
    let emu = emulator(config()).await;
    let (access, _) = access_token_for(&emu, HONG).await;
    emu.control().expire_access_tokens();
    let (status, body) = user_me(&emu, &format!("Bearer {access}")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], -401);
    assert_eq!(body["msg"], "this access token is already expired");
}

#[tokio::test]
async fn token_info_reports_the_user_and_remaining_lifetime() {
    let emu = emulator(config()).await;
    let (access, _) = access_token_for(&emu, HONG).await;
    let body: Value = client()
        .get(format!("{}/v1/user/access_token_info", emu.base_url()))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["id"], HONG);
    assert_eq!(body["app_id"], 1234);
    assert!(body["expires_in"].as_u64().unwrap() > 21_000);
}

#[tokio::test]
async fn logout_ends_that_tokens_session() {
    let emu = emulator(config()).await;
    let (access, _) = access_token_for(&emu, HONG).await;
    let response = client()
        .post(format!("{}/v1/user/logout", emu.base_url()))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({"id": HONG}));
    assert_eq!(
        user_me(&emu, &format!("Bearer {access}")).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn unlink_with_the_admin_key_revokes_tokens_and_a_second_unlink_answers_minus_101() {
    let emu = emulator(EmulatorConfig {
        admin_key: Some("admin-key".into()),
        ..config()
    })
    .await;
    let (access, _) = access_token_for(&emu, HONG).await;
    let admin_me = client()
        .get(format!("{}/v2/user/me", emu.base_url()))
        .header("authorization", "KakaoAK admin-key")
        .query(&[
            ("target_id_type", "user_id"),
            ("target_id", &HONG.to_string()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(admin_me.json::<Value>().await.unwrap()["id"], HONG);

    let unlink = || {
        client()
            .post(format!("{}/v1/user/unlink", emu.base_url()))
            .header("authorization", "KakaoAK admin-key")
            .form(&[
                ("target_id_type", "user_id"),
                ("target_id", &HONG.to_string()),
            ])
            .send()
    };
    let first = unlink().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.json::<Value>().await.unwrap(), json!({"id": HONG}));
    assert_eq!(
        user_me(&emu, &format!("Bearer {access}")).await.0,
        StatusCode::UNAUTHORIZED
    );

    let second = unlink().await.unwrap();
    assert_eq!(second.status(), StatusCode::BAD_REQUEST);
    assert_eq!(second.json::<Value>().await.unwrap()["code"], -101);
    assert_eq!(emu.control().calls(Endpoint::Unlink), 2);
}

#[tokio::test]
async fn an_unregistered_redirect_uri_shows_koe006_without_redirecting() {
    let emu = emulator(config()).await;
    let params = authorize_params(&[("redirect_uri", "https://evil.example/cb")]);
    let response = get_authorize(&emu, &params).await;
    assert!(response.status().is_client_error());
    assert!(response.headers().get("location").is_none());
    assert!(response.text().await.unwrap().contains("KOE006"));

    let response = decide(&emu, &params, HONG, "agree").await;
    assert!(response.status().is_client_error());
    assert!(response.headers().get("location").is_none());
}

#[tokio::test]
async fn bad_authorize_requests_show_kakaos_error_codes() {
    let emu = emulator(config()).await;
    for (extra, koe) in [
        (&[("client_id", "nope")][..], "KOE101"),
        (&[("response_type", "token")][..], "KOE202"),
        (&[("response_type", "id_token")][..], "KOE201"),
        (
            &[("code_challenge", "x"), ("code_challenge_method", "plain")][..],
            "invalid_request",
        ),
    ] {
        let response = get_authorize(&emu, &authorize_params(extra)).await;
        assert!(response.status().is_client_error(), "{koe}");
        assert!(response.headers().get("location").is_none());
        assert!(response.text().await.unwrap().contains(koe), "{koe}");
    }
}

#[tokio::test]
async fn prompt_none_redirects_with_consent_required() {
    let emu = emulator(config()).await;
    let response = get_authorize(&emu, &authorize_params(&[("prompt", "none")])).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let (_, params) = location(&response);
    assert_eq!(params["error"], "consent_required");
    assert_eq!(params["state"], "st-123");
}

#[tokio::test]
async fn a_redirect_uri_with_a_query_keeps_it() {
    let emu = emulator(config()).await;
    let params = authorize_params(&[("redirect_uri", "https://app.example/cb?tenant=1")]);
    let response = decide(&emu, &params, HONG, "agree").await;
    let (url, pairs) = location(&response);
    assert_eq!(url.path(), "/cb");
    assert_eq!(pairs["tenant"], "1");
    assert!(pairs.contains_key("code"));
}

#[tokio::test]
async fn a_status_fault_answers_with_its_status_and_body_and_is_counted() {
    let emu = emulator(config()).await;
    let control = emu.control();
    let body =
        json!({"error": "server_error", "error_description": "down", "error_code": "KOE003"});
    control.set_fault(
        Endpoint::Token,
        Fault::Status {
            status: 503,
            body: body.clone(),
        },
    );
    let code = code_for(&emu, HONG, &[]).await;
    let (status, answer) = exchange(&emu, &code, &[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer, body);
    assert_eq!(control.calls(Endpoint::Token), 1);

    control.clear_faults();
    let (status, _) = exchange(&emu, &code, &[]).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a faulted request does not spend the code"
    );
    assert_eq!(control.calls(Endpoint::Token), 2);
}

#[tokio::test]
async fn a_delay_fault_answers_normally_after_the_delay() {
    let emu = emulator(config()).await;
    let (access, _) = access_token_for(&emu, HONG).await;
    emu.control()
        .set_fault(Endpoint::UserMe, Fault::Delay(Duration::from_millis(300)));
    let started = Instant::now();
    let (status, body) = user_me(&emu, &format!("Bearer {access}")).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["id"], HONG);
}

#[tokio::test]
async fn a_garbage_fault_answers_200_with_a_body_that_is_not_json() {
    let emu = emulator(config()).await;
    let (access, _) = access_token_for(&emu, HONG).await;
    emu.control().set_fault(Endpoint::UserMe, Fault::Garbage);
    let response = client()
        .get(format!("{}/v2/user/me", emu.base_url()))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err());
    assert_eq!(emu.control().calls(Endpoint::UserMe), 1);
}

#[tokio::test]
async fn a_hanging_endpoint_times_the_client_out_and_does_not_block_shutdown() {
    let emu = emulator(config()).await;
    emu.control().set_fault(Endpoint::Token, Fault::Hang);
    service_kit::crypto::install();
    let result = Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap()
        .post(format!("{}/oauth/token", emu.base_url()))
        .form(&[("grant_type", "authorization_code")])
        .send()
        .await;
    assert!(result.unwrap_err().is_timeout());
    let started = Instant::now();
    emu.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn the_http_control_api_sets_and_clears_faults_and_reports_counts() {
    let emu = emulator(config()).await;
    let http = client();
    let faults = format!("{}/_emulator/faults", emu.base_url());
    let response = http
        .post(&faults)
        .json(&json!({"endpoint": "user_me", "fault": {"status": 500, "body": {"msg": "x", "code": -1}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let (status, body) = user_me(&emu, "Bearer whatever").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["code"], -1);

    let response = http
        .post(&faults)
        .json(&json!({"fault": "garbage"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = http
        .post(format!("{}/oauth/token", emu.base_url()))
        .form(&[("grant_type", "authorization_code")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "<html>oops</html>");

    let response = http
        .post(&faults)
        .json(&json!({"fault": {"delay_ms": 1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = http
        .post(&faults)
        .json(&json!({"fault": "nonsense"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    assert_eq!(
        http.delete(&faults).send().await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        user_me(&emu, "Bearer whatever").await.0,
        StatusCode::UNAUTHORIZED
    );

    let stats: Value = http
        .get(format!("{}/_emulator/stats", emu.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["calls"]["user_me"], 2);
    assert_eq!(stats["calls"]["token"], 1);
    assert_eq!(stats["calls"]["unlink"], 0);
    assert_eq!(
        stats["last_token_request"]["grant_type"],
        "authorization_code"
    );
}

fn fast_config() -> EmulatorConfig {
    EmulatorConfig {
        fast_mode: true,
        ..config()
    }
}

#[tokio::test]
async fn fast_mode_is_off_by_default_so_made_up_codes_and_tokens_are_refused() {
    assert!(!EmulatorConfig::default().fast_mode);
    let emu = emulator(config()).await;
    let (status, body) = exchange(&emu, "fast-42", &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_code"], "KOE320");
    let (status, body) = user_me(&emu, "Bearer fast-42").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], -401);
}

#[tokio::test]
async fn in_fast_mode_a_made_up_code_gives_a_token_that_reads_that_user_again_and_again() {
    let emu = emulator(fast_config()).await;
    for _ in 0..2 {
        // No consent, no PKCE verifier, another redirect URI: fast codes skip those checks.
        let (status, body) = exchange(
            &emu,
            "fast-7000000001",
            &[("redirect_uri", "http://elsewhere/cb")],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let access = body["access_token"].as_str().unwrap().to_owned();
        assert_eq!(access, "fast-7000000001");
        let (status, me) = user_me(&emu, &format!("Bearer {access}")).await;
        assert_eq!(status, StatusCode::OK, "{me}");
        assert_eq!(me["id"], 7_000_000_001_i64);
        assert_eq!(
            me["kakao_account"]["profile"]["nickname"],
            "user 7000000001"
        );
        assert_eq!(me["kakao_account"]["email"], "user7000000001@example.com");
        assert_eq!(me["kakao_account"]["is_email_verified"], true);
    }
}

#[tokio::test]
async fn in_fast_mode_the_client_is_still_checked_and_other_codes_follow_the_normal_rules() {
    let emu = emulator(fast_config()).await;
    let (status, body) = exchange(&emu, "fast-42", &[("client_id", "other")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error_code"], "KOE101");
    for not_fast in ["fast-0", "fast-x", "fast--5"] {
        let (status, body) = exchange(&emu, not_fast, &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{not_fast}");
        assert_eq!(body["error_code"], "KOE320", "{not_fast}");
    }
    // A real code stays single-use and reads the test user it was issued for.
    let code = code_for(&emu, HONG, &[]).await;
    let (status, body) = exchange(&emu, &code, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let (_, me) = user_me(
        &emu,
        &format!("Bearer {}", body["access_token"].as_str().unwrap()),
    )
    .await;
    assert_eq!(me["id"], HONG);
    let (status, _) = exchange(&emu, &code, &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

fn jwt_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

async fn jwks(emu: &RunningEmulator) -> (Option<String>, Value) {
    let response = client()
        .get(format!("{}/.well-known/jwks.json", emu.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cache_control = response
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned());
    (cache_control, response.json().await.unwrap())
}

#[tokio::test]
async fn openid_grants_carry_an_id_token_signed_by_the_key_the_jwks_publishes() {
    use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
    let emu = emulator(config()).await;
    let plain = code_for(&emu, HONG, &[]).await;
    assert!(
        exchange(&emu, &plain, &[])
            .await
            .1
            .get("id_token")
            .is_none()
    );

    let code = code_for(&emu, HONG, &[("scope", "openid"), ("nonce", "n-1")]).await;
    let (status, body) = exchange(&emu, &code, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let id_token = body["id_token"].as_str().unwrap();
    let header = jwt_part(id_token, 0);
    let claims = jwt_part(id_token, 1);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(claims["iss"], "https://kauth.kakao.com");
    assert_eq!(claims["aud"], CLIENT_ID);
    assert_eq!(claims["sub"], HONG.to_string());
    assert_eq!(claims["nonce"], "n-1");
    assert_eq!(claims["email"], "hong@example.com");

    let (cache_control, set) = jwks(&emu).await;
    assert_eq!(cache_control.as_deref(), Some("public, max-age=3600"));
    let key = &set["keys"][0];
    assert_eq!(key["kid"], header["kid"]);
    let n = URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap();
    let e = URL_SAFE_NO_PAD.decode(key["e"].as_str().unwrap()).unwrap();
    let (input, signature) = id_token.rsplit_once('.').unwrap();
    RsaPublicKeyComponents { n: &n, e: &e }
        .verify(
            &RSA_PKCS1_2048_8192_SHA256,
            input.as_bytes(),
            &URL_SAFE_NO_PAD.decode(signature).unwrap(),
        )
        .expect("the published key verifies the id_token");
    assert_eq!(emu.control().calls(Endpoint::Jwks), 1);

    let discovery: Value = client()
        .get(format!(
            "{}/.well-known/openid-configuration",
            emu.base_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], "https://kauth.kakao.com");
    assert_eq!(
        discovery["jwks_uri"],
        format!("{}/.well-known/jwks.json", emu.base_url())
    );
}

#[tokio::test]
async fn id_token_faults_and_key_rotation_are_steered_over_http() {
    let emu = emulator(config()).await;
    let http = client();
    let (_, before) = jwks(&emu).await;
    let rotated = http
        .post(format!("{}/_emulator/rotate_key", emu.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), StatusCode::NO_CONTENT);
    let (_, after) = jwks(&emu).await;
    assert_ne!(before["keys"][0]["kid"], after["keys"][0]["kid"]);

    let set = http
        .post(format!("{}/_emulator/id_token", emu.base_url()))
        .json(&json!({ "fault": "alg_none" }))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::NO_CONTENT);
    let code = code_for(&emu, HONG, &[("scope", "openid")]).await;
    let id_token = exchange(&emu, &code, &[]).await.1["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(jwt_part(&id_token, 0)["alg"], "none");
    assert!(id_token.ends_with('.'), "no signature");

    let cleared = http
        .delete(format!("{}/_emulator/faults", emu.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), StatusCode::NO_CONTENT);
    let code = code_for(&emu, HONG, &[("scope", "openid")]).await;
    let id_token = exchange(&emu, &code, &[]).await.1["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let header = jwt_part(&id_token, 0);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], after["keys"][0]["kid"]);
    let bad = http
        .post(format!("{}/_emulator/id_token", emu.base_url()))
        .json(&json!({ "fault": "nonsense" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}
