//! The emulated Naver Login over real HTTP, started in-process on port 0.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::client;
use kakao_emulator::{
    EmulatorConfig, Endpoint, Fault, NaverConfig, NaverQuirks, OAuthApp, Provider, RunningEmulator,
    start,
};
use reqwest::{Client, StatusCode, Url};
use serde_json::{Value, json};

const CLIENT_ID: &str = "DemoNaverClientId";
const SECRET: &str = "DemoNaverClientSecret";
const OTHER_ID: &str = "OtherNaverApp";
const OTHER_SECRET: &str = "OtherNaverSecret";
const REDIRECT: &str = "http://localhost:8080/auth/naver/callback";

async fn emulator() -> RunningEmulator {
    let config = EmulatorConfig {
        naver: NaverConfig {
            apps: vec![
                OAuthApp::new(CLIENT_ID, SECRET, &[REDIRECT]),
                OAuthApp::new(OTHER_ID, OTHER_SECRET, &[REDIRECT]),
            ],
            ..NaverConfig::default()
        },
        ..EmulatorConfig::default()
    };
    start(config, "127.0.0.1:0".parse().unwrap()).await.unwrap()
}

fn url(emu: &RunningEmulator, path: &str) -> String {
    format!("{}/naver{path}", emu.base_url())
}

fn authorize_params(client_id: &str, state: &str) -> Vec<(String, String)> {
    [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("state", state),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

async fn decide(
    emu: &RunningEmulator,
    params: &[(String, String)],
    user: &str,
    action: &str,
) -> reqwest::Response {
    common::decide(
        url(emu, "/oauth2.0/authorize/decision"),
        params,
        user,
        action,
    )
    .await
}

fn location(response: &reqwest::Response) -> (String, HashMap<String, String>) {
    let raw = response.headers()["location"].to_str().unwrap().to_owned();
    let pairs = Url::parse(&raw)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    (raw, pairs)
}

async fn code_for(emu: &RunningEmulator, client_id: &str, user: &str, state: &str) -> String {
    let response = decide(emu, &authorize_params(client_id, state), user, "agree").await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let (_, params) = location(&response);
    assert_eq!(params["state"], state);
    params["code"].clone()
}

/// A token call as Naver's docs show it: everything in the query string.
async fn token_get(emu: &RunningEmulator, query: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = client()
        .get(url(emu, "/oauth2.0/token"))
        .query(query)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

async fn issue(emu: &RunningEmulator, code: &str, state: &str) -> (StatusCode, Value) {
    token_get(
        emu,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("code", code),
            ("state", state),
        ],
    )
    .await
}

async fn tokens_for(emu: &RunningEmulator, user: &str) -> (String, String) {
    let code = code_for(emu, CLIENT_ID, user, "st-1").await;
    let (status, body) = issue(emu, &code, "st-1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

async fn me(emu: &RunningEmulator, authorization: Option<&str>) -> (StatusCode, Value) {
    let mut request = client().get(url(emu, "/v1/nid/me"));
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

fn no_valid_session() -> Value {
    json!({"error": "invalid_request", "error_description": "no valid data in session"})
}

#[tokio::test]
async fn the_consent_page_lists_korean_emoji_and_email_less_accounts() {
    let emu = emulator().await;
    let response = client()
        .get(url(&emu, "/oauth2.0/authorize"))
        .query(&authorize_params(CLIENT_ID, "a\"<b>"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    assert!(page.contains("네이버 로그인 (에뮬레이터)"));
    for shown in [
        "길동이 🌿",
        "홍길동",
        "🐻 곰돌이 🍯",
        "이메일 미제공",
        "오픈 API",
        "nid***",
    ] {
        assert!(page.contains(shown), "{shown}");
    }
    assert!(page.contains(r#"id="user-gildong" value="gildong" checked"#));
    assert!(page.contains(r#"action="/naver/oauth2.0/authorize/decision""#));
    assert!(page.contains(r#"name="state" value="a&quot;&lt;b&gt;""#));
    assert_eq!(emu.control().calls(Endpoint::NaverAuthorize), 1);
}

#[tokio::test]
async fn cancelling_redirects_with_navers_own_error_parameters() {
    let emu = emulator().await;
    let response = decide(
        &emu,
        &authorize_params(CLIENT_ID, "st-9"),
        "gildong",
        "cancel",
    )
    .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let (raw, params) = location(&response);
    assert_eq!(
        raw,
        format!("{REDIRECT}?error=access_denied&error_description=Canceled+By+User&state=st-9")
    );
    assert!(!params.contains_key("code"));
}

#[tokio::test]
async fn unknown_clients_redirect_uris_and_missing_states_get_an_error_page_not_a_redirect() {
    let emu = emulator().await;
    for (name, value) in [
        ("client_id", "NoSuchApp"),
        ("redirect_uri", "http://localhost:8080/auth/naver/callback/"),
        ("state", ""),
    ] {
        let mut params = authorize_params(CLIENT_ID, "st");
        params.retain(|(k, _)| k != name);
        params.push((name.to_owned(), value.to_owned()));
        let response = client()
            .get(url(&emu, "/oauth2.0/authorize"))
            .query(&params)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name}");
        assert!(response.headers().get("location").is_none(), "{name}");
        assert!(response.text().await.unwrap().contains("error-code"));
    }
    let mut params = authorize_params(CLIENT_ID, "st");
    params.retain(|(k, _)| k != "response_type");
    let response = client()
        .get(url(&emu, "/oauth2.0/authorize"))
        .query(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(location(&response).1["error"], "unsupported_response_type");
}

#[tokio::test]
async fn a_code_gives_navers_token_shape_and_a_profile_in_navers_wrapper() {
    let emu = emulator().await;
    let code = code_for(&emu, CLIENT_ID, "gildong", "st-1").await;
    let (status, body) = issue(&emu, &code, "st-1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(
        body["expires_in"], "3600",
        "a JSON string, as Naver sends it"
    );
    let access = body["access_token"].as_str().unwrap();
    assert!(access.contains('+'), "clients must URL-encode it: {access}");

    let (status, profile) = me(&emu, Some(&format!("Bearer {access}"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(profile["resultcode"], "00");
    assert_eq!(profile["message"], "success");
    let response = &profile["response"];
    assert!(response["id"].is_string());
    assert_eq!(response["nickname"], "길동이 🌿");
    assert_eq!(response["name"], "홍길동");
    assert_eq!(response["email"], "gildong@naver.com");
    assert!(
        response["profile_image"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );

    let (access, _) = tokens_for(&emu, "bear").await;
    let (_, profile) = me(&emu, Some(&format!("Bearer {access}"))).await;
    assert!(
        profile["response"].get("email").is_none(),
        "declined, so absent"
    );
    let seen = emu.control().last_naver_token_request().unwrap();
    assert!(seen.had_client_secret && seen.had_state);
    assert_eq!(seen.client_id, CLIENT_ID);
}

#[tokio::test]
async fn the_same_person_has_another_id_in_another_app_and_a_legacy_account_an_all_digit_one() {
    let emu = emulator().await;
    let mut ids = Vec::new();
    for (client_id, secret) in [(CLIENT_ID, SECRET), (OTHER_ID, OTHER_SECRET)] {
        let code = code_for(&emu, client_id, "gildong", "s").await;
        let (_, body) = token_get(
            &emu,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", client_id),
                ("client_secret", secret),
                ("code", &code),
                ("state", "s"),
            ],
        )
        .await;
        let access = body["access_token"].as_str().unwrap().to_owned();
        let (_, profile) = me(&emu, Some(&format!("Bearer {access}"))).await;
        ids.push(profile["response"]["id"].as_str().unwrap().to_owned());
    }
    assert_ne!(ids[0], ids[1]);
    let (access, _) = tokens_for(&emu, "openapi").await;
    let (_, profile) = me(&emu, Some(&format!("Bearer {access}"))).await;
    assert_eq!(profile["response"]["id"], "32742776");
}

#[tokio::test]
async fn a_reused_code_answers_http_200_with_an_error_body() {
    let emu = emulator().await;
    let code = code_for(&emu, CLIENT_ID, "gildong", "st-1").await;
    assert_eq!(issue(&emu, &code, "st-1").await.0, StatusCode::OK);
    let (status, body) = issue(&emu, &code, "st-1").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "Naver's quirk: errors come with 200"
    );
    assert_eq!(body, no_valid_session());
    assert!(body.get("access_token").is_none());
}

#[tokio::test]
async fn a_code_is_bound_to_its_app_its_state_and_its_redirect_uri() {
    let emu = emulator().await;
    let code = code_for(&emu, CLIENT_ID, "gildong", "st-1").await;
    let (_, body) = token_get(
        &emu,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", OTHER_ID),
            ("client_secret", OTHER_SECRET),
            ("code", &code),
            ("state", "st-1"),
        ],
    )
    .await;
    assert_eq!(body, no_valid_session(), "another app's code");
    assert_eq!(
        issue(&emu, &code, "st-1").await.1,
        no_valid_session(),
        "spent"
    );

    let code = code_for(&emu, CLIENT_ID, "gildong", "st-1").await;
    assert_eq!(issue(&emu, &code, "st-2").await.1, no_valid_session());

    let code = code_for(&emu, CLIENT_ID, "gildong", "st-1").await;
    let (_, body) = token_get(
        &emu,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("code", &code),
            ("state", "st-1"),
            ("redirect_uri", "http://elsewhere/cb"),
        ],
    )
    .await;
    assert_eq!(
        body,
        no_valid_session(),
        "a redirect_uri, when sent, must match"
    );

    let code = code_for(&emu, CLIENT_ID, "gildong", "st-1").await;
    let (status, body) = token_get(
        &emu,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("code", &code),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["error"], "invalid_request",
        "state is required: {body}"
    );
}

#[tokio::test]
async fn a_form_post_works_as_well_as_the_query_string() {
    let emu = emulator().await;
    let code = code_for(&emu, CLIENT_ID, "gildong", "st-1").await;
    let response = client()
        .post(url(&emu, "/oauth2.0/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("code", &code),
            ("state", "st-1"),
        ])
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert!(body["access_token"].is_string(), "{body}");
}

#[tokio::test]
async fn bad_client_credentials_answer_200_by_default_and_401_when_asked() {
    let emu = emulator().await;
    let bad = [
        ("grant_type", "refresh_token"),
        ("client_id", CLIENT_ID),
        ("client_secret", "wrong"),
        ("refresh_token", "x"),
    ];
    let (status, body) = token_get(&emu, &bad).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["error"], "invalid_client");
    emu.control().set_naver_quirks(NaverQuirks {
        invalid_client_as_401: true,
    });
    assert_eq!(token_get(&emu, &bad).await.0, StatusCode::UNAUTHORIZED);
    let reset = client()
        .post(format!("{}/_emulator/naver/quirks", emu.base_url()))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    assert_eq!(token_get(&emu, &bad).await.0, StatusCode::OK);
}

#[tokio::test]
async fn refresh_gives_a_new_access_token_and_no_new_refresh_token() {
    let emu = emulator().await;
    let (old_access, refresh) = tokens_for(&emu, "gildong").await;
    let (status, body) = token_get(
        &emu,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("refresh_token", &refresh),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["expires_in"], "3600");
    assert!(body.get("refresh_token").is_none(), "{body}");
    let access = body["access_token"].as_str().unwrap();
    assert_ne!(access, old_access);
    assert_eq!(
        me(&emu, Some(&format!("Bearer {access}"))).await.0,
        StatusCode::OK
    );

    let (status, body) = token_get(
        &emu,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", OTHER_ID),
            ("client_secret", OTHER_SECRET),
            ("refresh_token", &refresh),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["error"], "invalid_request",
        "another app's refresh token"
    );
}

#[tokio::test]
async fn the_profile_refuses_missing_and_bad_tokens_with_navers_result_codes() {
    let emu = emulator().await;
    let (status, body) = me(&emu, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["resultcode"], "028");
    let (status, body) = me(&emu, Some("Bearer AAAAnope")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["resultcode"], "024");
    let (access, _) = tokens_for(&emu, "gildong").await;
    emu.control().expire_access_tokens();
    let (status, body) = me(&emu, Some(&format!("Bearer {access}"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["resultcode"], "024");
}

#[tokio::test]
async fn grant_type_delete_always_says_success_and_ends_both_tokens() {
    let emu = emulator().await;
    let (access, refresh) = tokens_for(&emu, "gildong").await;
    // Unencoded, the token's '+' turns into a space: a different token,
    // which Naver still answers with success.
    let raw = format!(
        "{}?grant_type=delete&client_id={CLIENT_ID}&client_secret={SECRET}&access_token={access}&service_provider=NAVER",
        url(&emu, "/oauth2.0/token")
    );
    let body: Value = client()
        .get(raw)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["result"], "success");
    assert_eq!(
        me(&emu, Some(&format!("Bearer {access}"))).await.0,
        StatusCode::OK
    );

    let (status, body) = token_get(
        &emu,
        &[
            ("grant_type", "delete"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("access_token", &access),
            ("service_provider", "NAVER"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"access_token": access, "result": "success"}));
    assert_eq!(
        me(&emu, Some(&format!("Bearer {access}"))).await.1["resultcode"],
        "024"
    );
    let (_, body) = token_get(
        &emu,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("refresh_token", &refresh),
        ],
    )
    .await;
    assert_eq!(body["error"], "invalid_request", "the pair died: {body}");
}

#[tokio::test]
async fn revoke_answers_an_empty_200_even_for_unknown_tokens_and_ends_the_pair() {
    let emu = emulator().await;
    let (access, refresh) = tokens_for(&emu, "gildong").await;
    let revoke = |form: Vec<(&'static str, String)>| {
        let emu_url = url(&emu, "/oauth2.0/revoke");
        async move {
            let response = client().post(emu_url).form(&form).send().await.unwrap();
            (response.status(), response.text().await.unwrap())
        }
    };
    let credentials = |token: &str| {
        vec![
            ("client_id", CLIENT_ID.to_owned()),
            ("client_secret", SECRET.to_owned()),
            ("token", token.to_owned()),
            ("token_type_hint", "refresh_token".to_owned()),
        ]
    };
    assert_eq!(
        revoke(credentials(&refresh)).await,
        (StatusCode::OK, String::new())
    );
    assert_eq!(
        me(&emu, Some(&format!("Bearer {access}"))).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        revoke(credentials(&refresh)).await,
        (StatusCode::OK, String::new())
    );
    assert_eq!(revoke(credentials("never-issued")).await.0, StatusCode::OK);

    let mut bad = credentials("x");
    bad[1].1 = "wrong".to_owned();
    let (status, body) = revoke(bad).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("unauthorized_client"));
    let (status, body) = revoke(vec![("client_id", CLIENT_ID.to_owned())]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("invalid_request"));
    assert_eq!(emu.control().calls(Endpoint::NaverRevoke), 5);
}

#[tokio::test]
async fn token_faults_hangs_and_200_with_error_are_steered_per_naver_endpoint() {
    let emu = emulator().await;
    let control = emu.control();
    control.set_fault(
        Endpoint::NaverToken,
        Fault::ok_with_error("server_error", "Internal Server Error"),
    );
    let code = code_for(&emu, CLIENT_ID, "gildong", "st-1").await;
    let (status, body) = issue(&emu, &code, "st-1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["error"], "server_error");
    assert_eq!(
        control.calls(Endpoint::Token),
        0,
        "Kakao's counter is apart"
    );

    let http = client();
    let faults = format!("{}/_emulator/faults", emu.base_url());
    let set = http
        .post(&faults)
        .json(&json!({"endpoint": "naver_token", "fault": "hang"}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::NO_CONTENT);
    let hung = Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap()
        .get(url(&emu, "/oauth2.0/token"))
        .send()
        .await;
    assert!(hung.unwrap_err().is_timeout());

    assert_eq!(
        http.delete(&faults).send().await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    let (status, body) = issue(&emu, &code, "st-1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body["access_token"].is_string(),
        "faults do not spend codes: {body}"
    );

    let stats: Value = http
        .get(format!("{}/_emulator/stats", emu.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["calls"]["naver_token"], 3);
    assert_eq!(stats["calls"]["naver_authorize"], 0);
    assert_eq!(
        stats["naver_last_token_request"]["grant_type"],
        "authorization_code"
    );
    assert_eq!(control.provider_calls(Provider::Naver), 3);
    assert_eq!(control.provider_calls(Provider::Kakao), 0);
}
