//! Helpers the emulator's test files share (each file uses some).
#![allow(dead_code)]

use std::time::Duration;

use reqwest::Client;

/// A client that does not follow redirects (the tests read `Location`).
pub fn client() -> Client {
    service_kit::crypto::install();
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Posts a consent page's decision to `decision_url`: the authorize
/// `params`, the chosen test user and `action` (`allow` or `cancel`).
pub async fn decide(
    decision_url: String,
    params: &[(String, String)],
    user: &str,
    action: &str,
) -> reqwest::Response {
    let mut form = params.to_vec();
    form.push(("user_id".into(), user.into()));
    form.push(("action".into(), action.into()));
    client()
        .post(decision_url)
        .form(&form)
        .send()
        .await
        .unwrap()
}
