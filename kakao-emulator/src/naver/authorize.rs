//! nid.naver.com's `/oauth2.0/authorize`: the consent page and its
//! decision.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use warp::http::StatusCode;
use warp::reply::Response;

use super::config::{NaverConfig, NaverUser};
use super::memory::NaverGrant;
use crate::app::{self, OAuthApp};
use crate::control_wire::Endpoint;
use crate::html::{self, Choice, Consent, escape};
use crate::params::Params;
use crate::reply::{self, Spaces, fault_gate};
use crate::state::Shared;

/// An authorize request Naver answers with its own page, not a redirect.
#[derive(Debug, PartialEq, Eq)]
enum PageError {
    UnknownClient,
    UnregisteredRedirect,
    /// Naver marks `state` mandatory. How it answers a request without
    /// one is UNCONFIRMED; with nothing to echo back, the emulator shows
    /// its error page rather than redirecting.
    MissingState,
    NoAccountChosen,
}

impl PageError {
    fn response(&self) -> Response {
        // The real page's wording is UNCONFIRMED; these say what is wrong.
        let (code, reason) = match self {
            PageError::UnknownClient => ("invalid_client", "등록되지 않은 client_id입니다."),
            PageError::UnregisteredRedirect => (
                "invalid_redirect_uri",
                "등록된 Callback URL과 redirect_uri가 일치하지 않습니다.",
            ),
            PageError::MissingState => ("invalid_request", "state 값이 없습니다."),
            PageError::NoAccountChosen => ("invalid_request", "테스트 계정을 골라 주세요."),
        };
        reply::html(
            StatusCode::BAD_REQUEST,
            html::provider_error_page(
                "네이버 로그인",
                "서비스 설정에 오류가 있어 네이버 아이디로 로그인할 수 없습니다.",
                code,
                reason,
            ),
        )
    }
}

/// A request whose client and redirect URI are known good.
struct Authorize<'a> {
    app: &'a OAuthApp,
    redirect_uri: &'a str,
    state: &'a str,
    /// `false`: answered by a redirect with `unsupported_response_type`.
    response_type_ok: bool,
}

/// Client, redirect URI, state; `response_type` is reported back by
/// redirect, as Naver's callback error list includes it.
fn validate<'a>(config: &'a NaverConfig, p: &'a Params) -> Result<Authorize<'a>, PageError> {
    let app = app::find(&config.apps, p.get("client_id")).ok_or(PageError::UnknownClient)?;
    // Exact matching is the emulator's choice; Naver's rule is UNCONFIRMED.
    let redirect_uri = p
        .get("redirect_uri")
        .filter(|uri| app.allows_redirect(uri))
        .ok_or(PageError::UnregisteredRedirect)?;
    let state = p.get("state").ok_or(PageError::MissingState)?;
    Ok(Authorize {
        app,
        redirect_uri,
        state,
        response_type_ok: p.get("response_type") == Some("code"),
    })
}

/// Naver writes spaces as `+` in its callbacks (`Canceled+By+User`).
fn redirect_back(redirect_uri: &str, pairs: &[(&str, Option<&str>)]) -> Response {
    reply::redirect_appending(redirect_uri, pairs, Spaces::Plus)
        .unwrap_or_else(|| PageError::UnregisteredRedirect.response())
}

fn unsupported_response_type(request: &Authorize<'_>) -> Response {
    redirect_back(
        request.redirect_uri,
        &[
            ("state", Some(request.state)),
            ("error", Some("unsupported_response_type")),
            ("error_description", Some("response_type must be code")),
        ],
    )
}

/// `GET|POST /naver/oauth2.0/authorize`
pub(crate) async fn authorize(shared: &Shared, params: &Params) -> Response {
    if let Some(faulted) = fault_gate(shared, Endpoint::NaverAuthorize).await {
        return faulted;
    }
    let request = match validate(&shared.config.naver, params) {
        Ok(request) => request,
        Err(error) => return error.response(),
    };
    if !request.response_type_ok {
        return unsupported_response_type(&request);
    }
    reply::html(
        StatusCode::OK,
        consent_page(&shared.config.naver.users, params),
    )
}

fn consent_page(users: &[NaverUser], original: &Params) -> String {
    let choices = users
        .iter()
        .map(|user| {
            let shown = |value: &Option<String>, absent: &str| match value {
                Some(value) => escape(value),
                None => absent.to_owned(),
            };
            Choice {
                value: user.key.clone(),
                label_html: format!(
                    "<strong>{}</strong> ({}) · {}{}",
                    shown(&user.nickname, "별명 없음"),
                    shown(&user.name, "이름 미제공"),
                    shown(&user.email, "이메일 미제공"),
                    match &user.legacy_id {
                        Some(id) => format!(" · 예전 앱 id {}", escape(id)),
                        None => String::new(),
                    },
                ),
            }
        })
        .collect();
    html::consent(
        &Consent {
            heading: "네이버 로그인 (에뮬레이터)",
            intro: "로그인할 테스트 계정을 고르고 동의해 주세요. 실제 네이버 계정은 필요하지 않습니다.",
            action: "/naver/oauth2.0/authorize/decision",
            choices,
            scope_note: None,
            agree: "동의하기",
            cancel: "취소",
        },
        original,
    )
}

/// `POST /naver/oauth2.0/authorize/decision` (the consent page's form).
pub(crate) fn decision(shared: &Shared, body: &[u8]) -> Response {
    let params = Params::parse(body);
    let config = &shared.config.naver;
    let request = match validate(config, &params) {
        Ok(request) => request,
        Err(error) => return error.response(),
    };
    if !request.response_type_ok {
        return unsupported_response_type(&request);
    }
    match params.get("action") {
        // Order and wording as in a captured Naver consent page's cancel_url.
        Some("cancel") => redirect_back(
            request.redirect_uri,
            &[
                ("error", Some("access_denied")),
                ("error_description", Some("Canceled By User")),
                ("state", Some(request.state)),
            ],
        ),
        Some("agree") => {
            let Some(user) = params
                .get("user_id")
                .and_then(|key| config.users.iter().find(|u| u.key == key))
            else {
                return PageError::NoAccountChosen.response();
            };
            let grant = NaverGrant {
                client_id: request.app.client_id.clone(),
                redirect_uri: request.redirect_uri.to_owned(),
                state: request.state.to_owned(),
                user: user.key.clone(),
            };
            let code = new_code();
            shared
                .lock()
                .naver
                .tokens
                .issue_code(code.clone(), grant, config.code_ttl);
            redirect_back(
                request.redirect_uri,
                &[("code", Some(&code)), ("state", Some(request.state))],
            )
        }
        _ => PageError::NoAccountChosen.response(),
    }
}

/// A code like Naver's short alphanumeric ones (`EIc5bFrl4RibFls1`),
/// longer here: 128 random bits.
fn new_code() -> String {
    let bytes: [u8; 16] = rand::random();
    URL_SAFE_NO_PAD
        .encode(bytes)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(query: &str) -> Result<bool, PageError> {
        let config = NaverConfig {
            apps: vec![OAuthApp::new("id", "secret", &["http://localhost/cb"])],
            ..NaverConfig::default()
        };
        let params = Params::parse(query.as_bytes());
        validate(&config, &params).map(|request| request.response_type_ok)
    }

    #[test]
    fn authorize_checks_client_then_redirect_then_state() {
        let cb = "redirect_uri=http%3A%2F%2Flocalhost%2Fcb";
        assert_eq!(
            check(&format!("client_id=id&{cb}&response_type=code&state=s")),
            Ok(true)
        );
        assert_eq!(check(&format!("client_id=id&{cb}&state=s")), Ok(false));
        assert_eq!(
            check(&format!("client_id=other&{cb}&state=s")),
            Err(PageError::UnknownClient)
        );
        assert_eq!(
            check("client_id=id&redirect_uri=http%3A%2F%2Flocalhost%2Fcb%2F&state=s"),
            Err(PageError::UnregisteredRedirect)
        );
        assert_eq!(
            check(&format!("client_id=id&{cb}&response_type=code&state=")),
            Err(PageError::MissingState)
        );
    }

    #[test]
    fn codes_are_alphanumeric() {
        let code = new_code();
        assert!(code.len() >= 16, "{code}");
        assert!(code.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
