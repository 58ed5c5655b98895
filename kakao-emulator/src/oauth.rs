//! kauth.kakao.com: `/oauth/authorize` (consent page and its decision) and
//! `/oauth/token` (code exchange and refresh).
//!
//! OpenID Connect is not emulated: `openid` in `scope` is granted and echoed
//! in the token response's `scope`, but no `id_token` is ever issued.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;
use warp::http::StatusCode;
use warp::reply::Response;

use crate::config::EmulatorConfig;
use crate::control::{Endpoint, TokenRequestSeen};
use crate::fast;
use crate::html;
use crate::params::{Params, is_form};
use crate::reply::{self, fault_gate};
use crate::state::{ACCESS_TOKEN_TTL, CodeGrant, REFRESH_TOKEN_TTL, Shared, granted_scope};

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
    let Ok(mut url) = Url::parse(redirect_uri) else {
        return PageError::UnregisteredRedirect.response();
    };
    let mut added = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        if let Some(value) = value {
            added.append_pair(key, value);
        }
    }
    // The serializer escapes a literal '+' as %2B, so every '+' left is a space.
    let added = added.finish().replace('+', "%20");
    let query = match url.query() {
        Some(existing) if !existing.is_empty() => format!("{existing}&{added}"),
        _ => added,
    };
    url.set_query(Some(&query));
    reply::found(url.as_str())
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

/// A `/oauth/token` refusal, in Kakao's `{"error","error_description","error_code"}` shape.
#[derive(Debug, PartialEq, Eq)]
enum TokenError {
    InvalidRequest(&'static str),
    UnknownClient(String),
    BadClientCredentials,
    UnsupportedGrantType,
    CodeNotFound,
    RedirectUriMismatch,
    PkceFailed,
    RefreshTokenMissing,
    RefreshTokenNotFound,
}

impl TokenError {
    fn response(&self) -> Response {
        let (status, error, description, code) = match self {
            TokenError::InvalidRequest(what) => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                (*what).to_owned(),
                None,
            ),
            TokenError::UnknownClient(client_id) => (
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                format!("Not exist client_id [{client_id}]"),
                Some("KOE101"),
            ),
            TokenError::BadClientCredentials => (
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Bad client credentials".to_owned(),
                Some("KOE010"),
            ),
            TokenError::UnsupportedGrantType => (
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "unsupported grant_type".to_owned(),
                Some("KOE310"),
            ),
            // Kakao echoes the code here; the emulator does not, so codes never reach logs.
            TokenError::CodeNotFound => (
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "authorization code not found for code=(not shown)".to_owned(),
                Some("KOE320"),
            ),
            TokenError::RedirectUriMismatch => (
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "redirect_uri mismatch".to_owned(),
                Some("KOE303"),
            ),
            TokenError::PkceFailed => (
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "PKCE verification failed".to_owned(),
                Some("KOE320"),
            ),
            TokenError::RefreshTokenMissing => (
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "refresh_token missing".to_owned(),
                Some("KOE319"),
            ),
            TokenError::RefreshTokenNotFound => (
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "refresh token not found or expired".to_owned(),
                Some("KOE322"),
            ),
        };
        let mut body = json!({ "error": error, "error_description": description });
        if let (Some(code), Some(map)) = (code, body.as_object_mut()) {
            map.insert("error_code".to_owned(), code.into());
        }
        reply::json(status, &body)
    }
}

/// `POST /oauth/token`
pub(crate) async fn token(shared: &Shared, content_type: Option<&str>, body: &[u8]) -> Response {
    let params = Params::parse(body);
    shared.lock().last_token_request = Some(seen(&params));
    if let Some(faulted) = fault_gate(shared, Endpoint::Token).await {
        return faulted;
    }
    let result = if is_form(content_type) {
        exchange(shared, &params)
    } else {
        Err(TokenError::InvalidRequest(
            "Content-Type must be application/x-www-form-urlencoded",
        ))
    };
    match result {
        Ok(body) => reply::json(StatusCode::OK, &body),
        Err(error) => error.response(),
    }
}

fn seen(p: &Params) -> TokenRequestSeen {
    TokenRequestSeen {
        grant_type: p.get("grant_type").unwrap_or_default().to_owned(),
        client_id: p.get("client_id").unwrap_or_default().to_owned(),
        redirect_uri: p.get("redirect_uri").map(str::to_owned),
        had_client_secret: p.get("client_secret").is_some(),
        had_code_verifier: p.get("code_verifier").is_some(),
    }
}

/// Client authentication, then the grant.
fn exchange(shared: &Shared, p: &Params) -> Result<Value, TokenError> {
    let config = &shared.config;
    let grant_type = p
        .get("grant_type")
        .ok_or(TokenError::InvalidRequest("grant_type is required"))?;
    let client_id = p.get("client_id").unwrap_or_default();
    if client_id != config.client_id {
        return Err(TokenError::UnknownClient(client_id.to_owned()));
    }
    if let Some(secret) = &config.client_secret
        && p.get("client_secret") != Some(secret.as_str())
    {
        return Err(TokenError::BadClientCredentials);
    }
    match grant_type {
        "authorization_code" => exchange_code(shared, p, client_id),
        "refresh_token" => refresh(shared, p, client_id),
        _ => Err(TokenError::UnsupportedGrantType),
    }
}

fn exchange_code(shared: &Shared, p: &Params, client_id: &str) -> Result<Value, TokenError> {
    let code = p
        .get("code")
        .ok_or(TokenError::InvalidRequest("code is required"))?;
    let redirect_uri = p
        .get("redirect_uri")
        .ok_or(TokenError::InvalidRequest("redirect_uri is required"))?;
    if let Some(user_id) = fast::user_id(&shared.config, code) {
        return Ok(fast::token_body(user_id));
    }
    let mut state = shared.lock();
    // Taken before any other check: a code is spent by its first presentation.
    let grant = state
        .take_code(code)
        .filter(|grant| grant.client_id == client_id)
        .ok_or(TokenError::CodeNotFound)?;
    if grant.redirect_uri != redirect_uri {
        return Err(TokenError::RedirectUriMismatch);
    }
    if let Some(challenge) = &grant.code_challenge {
        let verified = p
            .get("code_verifier")
            .is_some_and(|verifier| s256(verifier) == *challenge);
        if !verified {
            return Err(TokenError::PkceFailed);
        }
    }
    let tokens = state.issue_tokens(grant.user_id, client_id);
    Ok(json!({
        "token_type": "bearer",
        "access_token": tokens.access_token,
        "expires_in": ACCESS_TOKEN_TTL.as_secs(),
        "refresh_token": tokens.refresh_token,
        "refresh_token_expires_in": REFRESH_TOKEN_TTL.as_secs(),
        "scope": grant.scope.join(" "),
    }))
}

fn refresh(shared: &Shared, p: &Params, client_id: &str) -> Result<Value, TokenError> {
    let refresh_token = p
        .get("refresh_token")
        .ok_or(TokenError::RefreshTokenMissing)?;
    let refreshed = shared
        .lock()
        .refresh(refresh_token, client_id)
        .ok_or(TokenError::RefreshTokenNotFound)?;
    let mut body = json!({
        "token_type": "bearer",
        "access_token": refreshed.access_token,
        "expires_in": ACCESS_TOKEN_TTL.as_secs(),
    });
    if let (Some(new_refresh), Some(map)) = (refreshed.refresh_token, body.as_object_mut()) {
        map.insert("refresh_token".to_owned(), new_refresh.into());
        map.insert(
            "refresh_token_expires_in".to_owned(),
            REFRESH_TOKEN_TTL.as_secs().into(),
        );
    }
    Ok(body)
}

/// PKCE S256: base64url-no-pad(SHA-256(verifier)).
fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
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
    fn s256_matches_the_rfc_7636_example() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
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
