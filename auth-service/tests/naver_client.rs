//! The Naver client against the emulated Naver Login over real HTTP (the
//! kakao-emulator on port 0, Naver under `/naver`): the authorize URL the
//! emulator's consent page accepts, a sign-in from a real consent, Naver's
//! refusals and outages as the three kinds of `ProviderError`, and the
//! revocation of the grant.

use std::{collections::HashMap, sync::Arc, time::Duration};

use auth_service::{
    configuration::{NaverSettings, ProviderHttp},
    domain::AuthorizationCode,
    kakao::circuit::FAILURES_TO_OPEN,
    metrics::Metrics,
    naver::NaverClient,
    providers::ProviderError,
};
use kakao_emulator::{
    EmulatorConfig, Endpoint, Fault, NaverConfig, NaverQuirks, NaverUser, OAuthApp, RunningEmulator,
};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use url::Url;

const CLIENT_ID: &str = "DemoNaverClientId";
const SECRET: &str = "DemoNaverClientSecret";
const REDIRECT: &str = "http://localhost:8080/auth/naver/callback";
const STATE: &str = "st+1/=";

/// The emulator with our app (its redirect URI registered) and, besides
/// the default accounts, one that shared only its name and one that
/// shared nothing but its id.
async fn emulator() -> RunningEmulator {
    let bare = |key: &str, name: Option<&str>| NaverUser {
        key: key.into(),
        legacy_id: None,
        nickname: None,
        name: name.map(str::to_owned),
        email: None,
        profile_image: None,
        gender: None,
        age: None,
        birthday: None,
        birthyear: None,
        mobile: None,
    };
    let mut users = NaverUser::defaults();
    users.push(bare("named", Some("홍길동")));
    users.push(bare("anonymous", None));
    let config = EmulatorConfig {
        naver: NaverConfig {
            apps: vec![OAuthApp::new(CLIENT_ID, SECRET, &[REDIRECT])],
            users,
            ..NaverConfig::default()
        },
        ..EmulatorConfig::default()
    };
    kakao_emulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn naver_url(emu: &RunningEmulator, path: &str) -> String {
    format!("{}/naver{path}", emu.base_url())
}

fn http(timeout: Duration) -> reqwest::Client {
    service_kit::crypto::install();
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A client of the emulator with `secret`, whose calls time out after
/// `timeout` and whose circuit stays open an hour once opened.
fn naver_with(
    emu: &RunningEmulator,
    secret: &str,
    timeout: Duration,
) -> (NaverClient, Arc<Metrics>) {
    let base = Url::parse(&naver_url(emu, "")).unwrap();
    let settings = NaverSettings {
        client_id: CLIENT_ID.into(),
        client_secret: SecretString::from(secret),
        redirect_uri: Url::parse(REDIRECT).unwrap(),
        auth_base_url: base.clone(),
        api_base_url: base,
        http: ProviderHttp {
            connect_timeout: timeout,
            request_timeout: timeout,
            circuit_open: Duration::from_secs(3600),
        },
    };
    let metrics = Arc::new(Metrics::new());
    (
        NaverClient::new(&settings, http(timeout), metrics.clone()),
        metrics,
    )
}

fn naver(emu: &RunningEmulator) -> NaverClient {
    naver_with(emu, SECRET, Duration::from_secs(5)).0
}

/// Opens `naver`'s authorize URL (the consent page must accept it), agrees
/// as the test account `user`, and returns the callback's code.
async fn consent(emu: &RunningEmulator, naver: &NaverClient, user: &str) -> AuthorizationCode {
    let browser = http(Duration::from_secs(5));
    let authorize = naver.authorize_url(STATE);
    let page = browser.get(authorize.clone()).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "the consent page");
    let mut form: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
    form.push(("user_id".into(), user.into()));
    form.push(("action".into(), "agree".into()));
    let decided = browser
        .post(naver_url(emu, "/oauth2.0/authorize/decision"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(decided.status(), StatusCode::FOUND);
    let location = Url::parse(decided.headers()["location"].to_str().unwrap()).unwrap();
    let callback: HashMap<String, String> = location.query_pairs().into_owned().collect();
    assert_eq!(callback["state"], STATE);
    AuthorizationCode::parse(&callback["code"]).unwrap()
}

/// A token-endpoint call with a refresh token, as the test makes it.
async fn refresh(emu: &RunningEmulator, grant: &SecretString) -> Value {
    http(Duration::from_secs(5))
        .post(naver_url(emu, "/oauth2.0/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("refresh_token", grant.expose_secret()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn profile_status(emu: &RunningEmulator, access_token: &str) -> (StatusCode, Value) {
    let response = http(Duration::from_secs(5))
        .get(naver_url(emu, "/v1/nid/me"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn the_authorize_url_carries_the_state_and_no_pkce_or_nonce() {
    let emu = emulator().await;
    let url = naver(&emu).authorize_url(STATE);
    assert_eq!(url.path(), "/naver/oauth2.0/authorize");
    let pairs: HashMap<String, String> = url.query_pairs().into_owned().collect();
    let expected: HashMap<String, String> = [
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT),
        ("state", STATE),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(pairs, expected, "no code_challenge, no nonce, no scope");
    // And the emulated Naver shows its consent page for it.
    consent(&emu, &naver(&emu), "gildong").await;
}

#[tokio::test]
async fn a_consented_code_signs_in_with_navers_id_and_keeps_the_refresh_token_as_the_grant() {
    let emu = emulator().await;
    let (naver, metrics) = naver_with(&emu, SECRET, Duration::from_secs(5));
    let code = consent(&emu, &naver, "gildong").await;
    let signed_in = naver.sign_in(&code, STATE).await.unwrap();
    let seen = emu.control().last_naver_token_request().unwrap();
    assert!(seen.had_client_secret && seen.had_state && !seen.had_code_verifier);
    let user = signed_in.user;
    assert_eq!(
        user.subject.len(),
        43,
        "a per-app base64 id: {}",
        user.subject
    );
    assert_eq!(user.nickname, "길동이 🌿");
    assert_eq!(
        user.profile_image_url.as_deref(),
        Some("https://phinf.pstatic.net/contact/emu/gildong.png")
    );
    assert_eq!(user.thumbnail_image_url, None);
    assert_eq!(user.email, None, "Naver's e-mail is never verified");
    let grant = signed_in.grant.expect("the refresh token");
    assert!(refresh(&emu, &grant).await["access_token"].is_string());

    let metrics = metrics.encode().unwrap();
    for endpoint in ["token", "user_me"] {
        let line = format!(
            r#"auth_provider_request_duration_seconds_count{{provider="naver",endpoint="{endpoint}",outcome="ok"}} 1"#
        );
        assert!(metrics.contains(&line), "{line}\n{metrics}");
    }

    let again = naver
        .sign_in(&consent(&emu, &naver, "gildong").await, STATE)
        .await
        .unwrap();
    assert_eq!(
        again.user.subject, user.subject,
        "the same person, the same id"
    );
    let legacy = naver
        .sign_in(&consent(&emu, &naver, "openapi").await, STATE)
        .await
        .unwrap();
    assert_eq!(legacy.user.subject, "32742776");
}

#[tokio::test]
async fn users_without_an_email_or_a_nickname_sign_in_with_the_name_or_an_empty_nickname() {
    let emu = emulator().await;
    let naver = naver(&emu);
    let mut nicknames = Vec::new();
    for user in ["bear", "named", "anonymous"] {
        let signed_in = naver
            .sign_in(&consent(&emu, &naver, user).await, STATE)
            .await
            .unwrap();
        assert_eq!(signed_in.user.email, None);
        nicknames.push(signed_in.user.nickname);
    }
    assert_eq!(nicknames, ["🐻 곰돌이 🍯", "홍길동", ""]);
}

#[tokio::test]
async fn the_same_code_twice_is_rejected() {
    let emu = emulator().await;
    let naver = naver(&emu);
    let code = consent(&emu, &naver, "gildong").await;
    naver.sign_in(&code, STATE).await.unwrap();
    assert_eq!(
        naver.sign_in(&code, STATE).await.err(),
        Some(ProviderError::Rejected("invalid_request".into())),
        "Naver's HTTP 200 with an error body"
    );
    let other = consent(&emu, &naver, "gildong").await;
    assert_eq!(
        naver.sign_in(&other, "another state").await.err(),
        Some(ProviderError::Rejected("invalid_request".into()))
    );
}

#[tokio::test]
async fn a_wrong_client_secret_is_misconfigured_whether_naver_answers_200_or_401() {
    let emu = emulator().await;
    let (wrong, _) = naver_with(&emu, "NotTheSecret", Duration::from_secs(5));
    let misconfigured = Some(ProviderError::Misconfigured("invalid_client".into()));
    let code = consent(&emu, &wrong, "gildong").await;
    assert_eq!(wrong.sign_in(&code, STATE).await.err(), misconfigured);
    emu.control().set_naver_quirks(NaverQuirks {
        invalid_client_as_401: true,
    });
    let code = consent(&emu, &wrong, "gildong").await;
    assert_eq!(wrong.sign_in(&code, STATE).await.err(), misconfigured);
    assert_eq!(
        wrong.revoke(&SecretString::from("any")).await,
        Err(ProviderError::Misconfigured("unauthorized_client".into()))
    );
}

#[tokio::test]
async fn naver_outages_and_refused_profiles_are_told_apart() {
    let emu = emulator().await;
    let status = |status: u16, body: Value| Fault::Status { status, body };
    let cases = [
        (
            Endpoint::NaverToken,
            status(503, json!({})),
            ProviderError::Unavailable("HTTP 503".into()),
        ),
        (
            Endpoint::NaverToken,
            Fault::ok_with_error("server_error", "Internal Server Error"),
            ProviderError::Unavailable("server_error".into()),
        ),
        (
            Endpoint::NaverToken,
            Fault::Garbage,
            ProviderError::Unavailable("unreadable answer".into()),
        ),
        (
            Endpoint::NaverProfile,
            Fault::Hang,
            ProviderError::Unavailable("timeout".into()),
        ),
        (
            Endpoint::NaverProfile,
            status(
                500,
                json!({"resultcode": "500", "message": "Internal Server Error"}),
            ),
            ProviderError::Unavailable("500".into()),
        ),
        (
            Endpoint::NaverProfile,
            status(
                401,
                json!({"resultcode": "024", "message": "Authentication failed"}),
            ),
            ProviderError::Rejected("024".into()),
        ),
    ];
    for (endpoint, fault, expected) in cases {
        // A client each: these outages must not add up in one circuit.
        let (naver, metrics) = naver_with(&emu, SECRET, Duration::from_millis(500));
        let code = consent(&emu, &naver, "gildong").await;
        emu.control().set_fault(endpoint, fault);
        assert_eq!(
            naver.sign_in(&code, STATE).await.err(),
            Some(expected.clone())
        );
        emu.control().clear_faults();
        let outcome = match expected {
            ProviderError::Rejected(_) => "rejected",
            _ => "unavailable",
        };
        let name = if endpoint == Endpoint::NaverToken {
            "token"
        } else {
            "user_me"
        };
        let line = format!(r#"provider="naver",endpoint="{name}",outcome="{outcome}"}} 1"#);
        assert!(metrics.encode().unwrap().contains(&line), "{line}");
    }
}

#[tokio::test]
async fn outages_in_a_row_open_navers_circuit_and_calls_stop_reaching_naver() {
    let emu = emulator().await;
    let naver = naver(&emu);
    let control = emu.control();
    let code = consent(&emu, &naver, "gildong").await;
    control.set_fault(
        Endpoint::NaverToken,
        Fault::Status {
            status: 503,
            body: json!({}),
        },
    );
    for _ in 0..FAILURES_TO_OPEN {
        assert!(naver.sign_in(&code, STATE).await.is_err());
    }
    control.clear_faults();
    assert_eq!(
        naver.sign_in(&code, STATE).await.err(),
        Some(ProviderError::Unavailable("circuit open".into()))
    );
    assert_eq!(
        naver.revoke(&SecretString::from("any")).await,
        Err(ProviderError::Unavailable("circuit open".into()))
    );
    assert_eq!(
        control.calls(Endpoint::NaverToken),
        FAILURES_TO_OPEN as usize
    );
    assert_eq!(control.calls(Endpoint::NaverRevoke), 0);
}

#[tokio::test]
async fn revoking_the_grant_ends_both_of_navers_tokens() {
    let emu = emulator().await;
    let naver = naver(&emu);
    let grant = naver
        .sign_in(&consent(&emu, &naver, "gildong").await, STATE)
        .await
        .unwrap()
        .grant
        .unwrap();
    let refreshed = refresh(&emu, &grant).await;
    let access = refreshed["access_token"].as_str().unwrap();
    assert_eq!(profile_status(&emu, access).await.0, StatusCode::OK);

    assert_eq!(naver.revoke(&grant).await, Ok(()));
    let (status, body) = profile_status(&emu, access).await;
    assert_eq!(
        (status, body["resultcode"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("024"))
    );
    assert!(refresh(&emu, &grant).await.get("access_token").is_none());
    assert_eq!(
        naver.revoke(&grant).await,
        Ok(()),
        "already revoked is done too"
    );

    emu.control().set_fault(
        Endpoint::NaverRevoke,
        Fault::Status {
            status: 503,
            body: json!({"error": "temporarily_unavailable"}),
        },
    );
    assert_eq!(
        naver.revoke(&grant).await,
        Err(ProviderError::Unavailable("temporarily_unavailable".into()))
    );
}
