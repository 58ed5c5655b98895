//! accounts.google.com's `/o/oauth2/v2/auth`: the consent page and its
//! decision.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use warp::http::StatusCode;
use warp::reply::Response;

use super::config::{GoogleConfig, GoogleUser};
use super::id_token::{EMAIL_SCOPE, PROFILE_SCOPE};
use super::memory::{Challenge, GoogleGrant};
use crate::app::{self, OAuthApp};
use crate::control_wire::Endpoint;
use crate::html::{self, Choice, Consent, escape};
use crate::params::Params;
use crate::reply::{self, Spaces, fault_gate};
use crate::state::Shared;

/// An authorize request Google answers with its own error page ("Error
/// 400: redirect_uri_mismatch"), not a redirect.
#[derive(Debug, PartialEq, Eq)]
enum PageError {
    InvalidClient,
    RedirectUriMismatch,
    InvalidScope,
    InvalidRequest(&'static str),
}

impl PageError {
    fn response(&self) -> Response {
        let (status, code, reason) = match self {
            PageError::InvalidClient => (
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "The OAuth client was not found.",
            ),
            PageError::RedirectUriMismatch => (
                StatusCode::BAD_REQUEST,
                "redirect_uri_mismatch",
                "The redirect_uri is not registered for this OAuth client.",
            ),
            PageError::InvalidScope => (
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                "Some requested scopes were invalid.",
            ),
            PageError::InvalidRequest(reason) => {
                (StatusCode::BAD_REQUEST, "invalid_request", *reason)
            }
        };
        reply::html(
            status,
            html::provider_error_page(
                "Google 로그인",
                "Access blocked: this app's request is invalid.",
                code,
                reason,
            ),
        )
    }
}

/// A validated authorize request.
struct Authorize<'a> {
    app: &'a OAuthApp,
    redirect_uri: &'a str,
    state: Option<&'a str>,
    /// Short names: `openid`, `email`, `profile`.
    scope: Vec<String>,
    nonce: Option<&'a str>,
    challenge: Option<Challenge>,
    offline: bool,
    prompt: Vec<&'a str>,
}

/// Google's checks: client, exact redirect URI (nothing is redirected
/// until both hold), then response type, scope and PKCE.
fn validate<'a>(config: &'a GoogleConfig, p: &'a Params) -> Result<Authorize<'a>, PageError> {
    let app = app::find(&config.apps, p.get("client_id")).ok_or(PageError::InvalidClient)?;
    let redirect_uri = p
        .get("redirect_uri")
        .filter(|uri| app.allows_redirect(uri))
        .ok_or(PageError::RedirectUriMismatch)?;
    if p.get("response_type") != Some("code") {
        return Err(PageError::InvalidRequest(
            "response_type must be code (the emulator serves the code flow only).",
        ));
    }
    let scope = parse_scope(p.get("scope").ok_or(PageError::InvalidRequest(
        "Missing required parameter: scope",
    ))?)?;
    if !scope.iter().any(|item| item == "openid") {
        // Plain OAuth without openid exists at Google; the emulator serves
        // Sign-In only.
        return Err(PageError::InvalidRequest(
            "scope must include openid (the emulator serves Sign-In only).",
        ));
    }
    let challenge = match (p.get("code_challenge"), p.get("code_challenge_method")) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(PageError::InvalidRequest(
                "code_challenge_method without code_challenge",
            ));
        }
        (Some(c), Some("S256")) => Some(Challenge::S256(c.to_owned())),
        // RFC 7636: an absent method means plain.
        (Some(c), None | Some("plain")) => Some(Challenge::Plain(c.to_owned())),
        (Some(_), Some(_)) => {
            return Err(PageError::InvalidRequest(
                "Invalid code_challenge_method: use S256 or plain",
            ));
        }
    };
    if config.require_pkce && !matches!(challenge, Some(Challenge::S256(_))) {
        return Err(PageError::InvalidRequest(
            "code_challenge with code_challenge_method=S256 is required (require_pkce)",
        ));
    }
    let offline = match p.get("access_type") {
        None | Some("online") => false,
        Some("offline") => true,
        Some(_) => {
            return Err(PageError::InvalidRequest(
                "Invalid access_type: use online or offline",
            ));
        }
    };
    Ok(Authorize {
        app,
        redirect_uri,
        state: p.get("state"),
        scope,
        nonce: p.get("nonce"),
        challenge,
        offline,
        prompt: p.get("prompt").unwrap_or_default().split(' ').collect(),
    })
}

/// Space-separated scope items as short names; Google's long names for
/// `email` and `profile` are accepted too. Anything else is invalid here.
fn parse_scope(scope: &str) -> Result<Vec<String>, PageError> {
    let mut items: Vec<String> = Vec::new();
    for item in scope.split(' ').filter(|item| !item.is_empty()) {
        let short = match item {
            "openid" => "openid",
            "email" | EMAIL_SCOPE => "email",
            "profile" | PROFILE_SCOPE => "profile",
            _ => return Err(PageError::InvalidScope),
        };
        if !items.iter().any(|known| known == short) {
            items.push(short.to_owned());
        }
    }
    Ok(items)
}

/// The `scope` Google reports back: long names for `email` and `profile`.
pub(crate) fn reported_scope(scope: &[String]) -> String {
    scope
        .iter()
        .map(|item| match item.as_str() {
            "email" => EMAIL_SCOPE,
            "profile" => PROFILE_SCOPE,
            other => other,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn redirect_back(redirect_uri: &str, pairs: &[(&str, Option<&str>)]) -> Response {
    reply::redirect_appending(redirect_uri, pairs, Spaces::Percent20)
        .unwrap_or_else(|| PageError::RedirectUriMismatch.response())
}

/// `GET /google/o/oauth2/v2/auth`
pub(crate) async fn authorize(shared: &Shared, params: &Params) -> Response {
    if let Some(faulted) = fault_gate(shared, Endpoint::GoogleAuthorize).await {
        return faulted;
    }
    let request = match validate(&shared.config.google, params) {
        Ok(request) => request,
        Err(error) => return error.response(),
    };
    if request.prompt.contains(&"none") {
        // No browser session here, so nobody is signed in. Google's exact
        // error for prompt=none is UNCONFIRMED; this is OIDC's.
        return redirect_back(
            request.redirect_uri,
            &[("error", Some("login_required")), ("state", request.state)],
        );
    }
    let page = consent_page(&shared.config.google.users, params, &request.scope);
    reply::html(StatusCode::OK, page)
}

fn consent_page(users: &[GoogleUser], original: &Params, scope: &[String]) -> String {
    let choices = users
        .iter()
        .map(|user| {
            let email = match &user.email {
                Some(email) if user.email_verified => escape(email),
                Some(email) => format!("{} (email_verified=false)", escape(email)),
                None => "이메일 없음".to_owned(),
            };
            Choice {
                value: user.sub.clone(),
                label_html: format!(
                    "<strong>{}</strong> (sub {}) · {email}",
                    escape(user.name.as_deref().unwrap_or("(이름 없음)")),
                    escape(&user.sub),
                ),
            }
        })
        .collect();
    html::consent(
        &Consent {
            heading: "Google 로그인 (에뮬레이터)",
            intro: "계정을 선택하세요. 실제 Google 계정은 필요하지 않습니다.",
            action: "/google/o/oauth2/v2/auth/decision",
            choices,
            scope_note: Some(format!("요청 범위: {}", scope.join(" "))),
            agree: "계속",
            cancel: "취소",
        },
        original,
    )
}

/// `POST /google/o/oauth2/v2/auth/decision` (the consent page's form).
pub(crate) fn decision(shared: &Shared, body: &[u8]) -> Response {
    let params = Params::parse(body);
    let config = &shared.config.google;
    let request = match validate(config, &params) {
        Ok(request) => request,
        Err(error) => return error.response(),
    };
    match params.get("action") {
        Some("cancel") => redirect_back(
            request.redirect_uri,
            &[("error", Some("access_denied")), ("state", request.state)],
        ),
        Some("agree") => {
            let Some(user) = params
                .get("user_id")
                .and_then(|sub| config.users.iter().find(|u| u.sub == sub))
            else {
                return PageError::InvalidRequest("Choose a test account.").response();
            };
            let scope = reported_scope(&request.scope);
            let grant = GoogleGrant {
                client_id: request.app.client_id.clone(),
                redirect_uri: request.redirect_uri.to_owned(),
                user: user.sub.clone(),
                scope: request.scope,
                nonce: request.nonce.map(str::to_owned),
                challenge: request.challenge,
                offline: request.offline,
                prompt_consent: request.prompt.contains(&"consent"),
            };
            let code = new_code();
            shared
                .lock()
                .google
                .tokens
                .issue_code(code.clone(), grant, config.code_ttl);
            redirect_back(
                request.redirect_uri,
                &[
                    ("state", request.state),
                    ("code", Some(&code)),
                    ("scope", Some(&scope)),
                    ("authuser", Some("0")),
                    ("prompt", Some("consent")),
                ],
            )
        }
        _ => PageError::InvalidRequest("action must be agree or cancel.").response(),
    }
}

/// Shaped like Google's (`4/0A…`): the `/` must be URL-encoded by clients.
fn new_code() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("4/0A{}", URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(extra: &str) -> Result<(), PageError> {
        let config = GoogleConfig {
            apps: vec![OAuthApp::new("c", "s", &["http://localhost/cb"])],
            ..GoogleConfig::default()
        };
        let query = format!(
            "client_id=c&redirect_uri=http%3A%2F%2Flocalhost%2Fcb&response_type=code&scope=openid+email{extra}"
        );
        let params = Params::parse(query.as_bytes());
        validate(&config, &params).map(|_| ())
    }

    #[test]
    fn authorize_requests_are_checked_as_google_documents() {
        assert_eq!(check(""), Ok(()));
        assert_eq!(check("&client_id=x"), Ok(()), "the first value wins");
        assert_eq!(
            check("&code_challenge=abc&code_challenge_method=S256"),
            Ok(())
        );
        assert_eq!(check("&code_challenge=abc"), Ok(()), "plain by default");
        assert!(matches!(
            check("&code_challenge=abc&code_challenge_method=S512"),
            Err(PageError::InvalidRequest(_))
        ));
        assert!(matches!(
            check("&access_type=forever"),
            Err(PageError::InvalidRequest(_))
        ));
        assert_eq!(parse_scope("openid calendar"), Err(PageError::InvalidScope));
        assert_eq!(
            parse_scope(&format!("openid {EMAIL_SCOPE} email profile")).unwrap(),
            ["openid", "email", "profile"]
        );
    }

    #[test]
    fn the_reported_scope_uses_googles_long_names() {
        let scope = ["openid".to_owned(), "email".to_owned()];
        assert_eq!(reported_scope(&scope), format!("openid {EMAIL_SCOPE}"));
    }
}
