//! kauth.kakao.com: `/oauth/authorize` (consent page and its decision);
//! the token endpoint is in [`crate::token`].
//!
//! `openid` in `scope` is granted, echoed in the token response's `scope`,
//! and makes the token endpoint add an id_token (see [`crate::oidc`]).

use url::Url;
use warp::http::StatusCode;
use warp::reply::Response;

use crate::config::EmulatorConfig;
use crate::control_wire::Endpoint;
use crate::html;
use crate::params::Params;
use crate::reply::{self, Spaces, fault_gate};
use crate::state::{CodeGrant, Shared, granted_scope};

/// Why an authorize request gets Kakao's error page instead of a redirect.
#[derive(Debug, PartialEq, Eq)]
enum PageError {
    UnknownClient,
    UnregisteredRedirect,
    UnsupportedResponseType,
    ImplicitGrant,
    InvalidRequest(&'static str),
}

impl PageError {
    fn response(&self) -> Response {
        let (koe, reason) = match self {
            PageError::UnknownClient => (
                "KOE101",
                "invalid_client: 등록되지 않은 앱 키입니다 (client_id).",
            ),
            PageError::UnregisteredRedirect => (
                "KOE006",
                "misconfigured: 등록되지 않은 리다이렉트 URI입니다 (redirect_uri).",
            ),
            PageError::UnsupportedResponseType => (
                "KOE201",
                "unsupported_response_type: response_type은 code만 지원합니다.",
            ),
            PageError::ImplicitGrant => (
                "KOE202",
                "unsupported_response_type: implicit grant (response_type=token)는 지원하지 않습니다.",
            ),
            PageError::InvalidRequest(reason) => ("invalid_request", *reason),
        };
        reply::html(StatusCode::BAD_REQUEST, html::error_page(koe, reason))
    }
}

/// A validated authorize request.
struct Authorize<'a> {
    redirect_uri: &'a str,
    state: Option<&'a str>,
    scope: Vec<String>,
    prompt_none: bool,
    code_challenge: Option<&'a str>,
    nonce: Option<&'a str>,
}

/// The checks Kakao makes before showing anything, in Kakao's order: app key,
/// redirect URI, response type, then PKCE parameters.
fn validate<'a>(config: &EmulatorConfig, p: &'a Params) -> Result<Authorize<'a>, PageError> {
    if p.get("client_id") != Some(config.client_id.as_str()) {
        return Err(PageError::UnknownClient);
    }
    let redirect_uri = p
        .get("redirect_uri")
        .filter(|uri| redirect_uri_allowed(config, uri))
        .ok_or(PageError::UnregisteredRedirect)?;
    match p.get("response_type") {
        Some("code") => {}
        Some("token") => return Err(PageError::ImplicitGrant),
        _ => return Err(PageError::UnsupportedResponseType),
    }
    let code_challenge = p.get("code_challenge");
    match (code_challenge, p.get("code_challenge_method")) {
        (_, Some(method)) if method != "S256" => {
            return Err(PageError::InvalidRequest(
                "invalid_request: code_challenge_method는 S256만 지원합니다.",
            ));
        }
        (None, Some(_)) => {
            return Err(PageError::InvalidRequest(
                "invalid_request: code_challenge가 없습니다.",
            ));
        }
        (Some(_), None) => {
            return Err(PageError::InvalidRequest(
                "invalid_request: code_challenge_method가 없습니다 (plain은 지원하지 않습니다).",
            ));
        }
        _ => {}
    }
    Ok(Authorize {
        redirect_uri,
        state: p.get("state"),
        scope: split_scope(p.get("scope").unwrap_or_default()),
        prompt_none: p
            .get("prompt")
            .is_some_and(|prompt| prompt.split(',').any(|v| v.trim() == "none")),
        code_challenge,
        nonce: p.get("nonce"),
    })
}

/// Registered URIs match exactly; with none registered, any absolute http(s) URI.
fn redirect_uri_allowed(config: &EmulatorConfig, uri: &str) -> bool {
    if config.redirect_uris.is_empty() {
        Url::parse(uri).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
    } else {
        config
            .redirect_uris
            .iter()
            .any(|registered| registered == uri)
    }
}

/// Kakao's docs use commas, its SDK spaces: accept both.
fn split_scope(scope: &str) -> Vec<String> {
    scope
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `redirect_uri` with `pairs` appended to its query. Spaces are written as
/// `%20`, as Kakao does (`User%20denied%20access`).
fn redirect_back(redirect_uri: &str, pairs: &[(&str, Option<&str>)]) -> Response {
    reply::redirect_appending(redirect_uri, pairs, Spaces::Percent20)
        .unwrap_or_else(|| PageError::UnregisteredRedirect.response())
}

/// `GET /oauth/authorize`
pub(crate) async fn authorize(shared: &Shared, query: &str) -> Response {
    if let Some(faulted) = fault_gate(shared, Endpoint::Authorize).await {
        return faulted;
    }
    let params = Params::parse(query.as_bytes());
    let request = match validate(&shared.config, &params) {
        Ok(request) => request,
        Err(error) => return error.response(),
    };
    if request.prompt_none {
        return redirect_back(
            request.redirect_uri,
            &[
                ("error", Some("consent_required")),
                ("error_description", Some("user consent required.")),
                ("state", request.state),
            ],
        );
    }
    reply::html(
        StatusCode::OK,
        html::consent_page(&shared.config.users, &params, &request.scope),
    )
}

/// `POST /oauth/authorize/decision` (the consent page's form).
pub(crate) fn decision(shared: &Shared, body: &[u8]) -> Response {
    let params = Params::parse(body);
    let request = match validate(&shared.config, &params) {
        Ok(request) => request,
        Err(error) => return error.response(),
    };
    match params.get("action") {
        Some("cancel") => redirect_back(
            request.redirect_uri,
            &[
                ("error", Some("access_denied")),
                ("error_description", Some("User denied access")),
                ("state", request.state),
            ],
        ),
        Some("agree") => {
            let user = params
                .get("user_id")
                .and_then(|id| id.parse::<i64>().ok())
                .and_then(|id| shared.user(id));
            let Some(user) = user else {
                return PageError::InvalidRequest("invalid_request: 테스트 계정을 골라 주세요.")
                    .response();
            };
            let grant = CodeGrant {
                client_id: shared.config.client_id.clone(),
                redirect_uri: request.redirect_uri.to_owned(),
                user_id: user.id,
                code_challenge: request.code_challenge.map(str::to_owned),
                scope: granted_scope(user, &request.scope),
                nonce: request.nonce.map(str::to_owned),
            };
            let code = shared.lock().issue_code(grant, shared.config.code_ttl);
            redirect_back(
                request.redirect_uri,
                &[("code", Some(&code)), ("state", request.state)],
            )
        }
        _ => PageError::InvalidRequest("invalid_request: action은 agree 또는 cancel입니다.")
            .response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(redirect_uris: &[&str]) -> EmulatorConfig {
        EmulatorConfig {
            redirect_uris: redirect_uris.iter().map(|s| (*s).to_owned()).collect(),
            ..EmulatorConfig::default()
        }
    }

    fn check(config: &EmulatorConfig, query: &str) -> Result<(), PageError> {
        validate(config, &Params::parse(query.as_bytes())).map(|_| ())
    }

    #[test]
    fn authorize_validation_follows_kakaos_error_codes() {
        let registered = config(&["http://localhost:8080/cb"]);
        let ok = "client_id=demo-rest-api-key&redirect_uri=http%3A%2F%2Flocalhost%3A8080%2Fcb&response_type=code";
        let cases: &[(&str, Result<(), PageError>)] = &[
            (ok, Ok(())),
            (
                "client_id=nope&redirect_uri=http%3A%2F%2Flocalhost%3A8080%2Fcb&response_type=code",
                Err(PageError::UnknownClient),
            ),
            (
                "client_id=demo-rest-api-key&redirect_uri=http%3A%2F%2Flocalhost%3A8080%2Fcb%2F&response_type=code",
                Err(PageError::UnregisteredRedirect),
            ),
            (
                "client_id=demo-rest-api-key&response_type=code",
                Err(PageError::UnregisteredRedirect),
            ),
            (
                "client_id=demo-rest-api-key&redirect_uri=http%3A%2F%2Flocalhost%3A8080%2Fcb&response_type=token",
                Err(PageError::ImplicitGrant),
            ),
            (
                "client_id=demo-rest-api-key&redirect_uri=http%3A%2F%2Flocalhost%3A8080%2Fcb",
                Err(PageError::UnsupportedResponseType),
            ),
        ];
        for (query, expected) in cases {
            assert_eq!(&check(&registered, query), expected, "{query}");
        }
        let pkce_plain = format!("{ok}&code_challenge=abc&code_challenge_method=plain");
        assert!(matches!(
            check(&registered, &pkce_plain),
            Err(PageError::InvalidRequest(_))
        ));
        let pkce_s256 = format!("{ok}&code_challenge=abc&code_challenge_method=S256");
        assert_eq!(check(&registered, &pkce_s256), Ok(()));
    }

    #[test]
    fn with_no_registered_uris_any_absolute_http_uri_is_accepted() {
        let any = config(&[]);
        assert!(redirect_uri_allowed(&any, "https://app.example/cb?x=1"));
        assert!(redirect_uri_allowed(&any, "http://127.0.0.1:9/cb"));
        assert!(!redirect_uri_allowed(&any, "javascript:alert(1)"));
        assert!(!redirect_uri_allowed(&any, "/relative"));
    }

    #[test]
    fn scope_accepts_commas_and_spaces() {
        assert_eq!(
            split_scope("openid, account_email profile_image"),
            ["openid", "account_email", "profile_image"]
        );
    }

    #[test]
    fn redirects_append_to_an_existing_query_with_percent_encoded_spaces() {
        let response = redirect_back(
            "https://app.example/cb?x=1",
            &[
                ("error", Some("access_denied")),
                ("error_description", Some("User denied access")),
                ("state", None),
            ],
        );
        let location = response.headers()["location"].to_str().unwrap();
        assert_eq!(
            location,
            "https://app.example/cb?x=1&error=access_denied&error_description=User%20denied%20access"
        );
    }
}
