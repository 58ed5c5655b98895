//! kapi.kakao.com: `/v2/user/me`, `/v1/user/access_token_info`,
//! `/v1/user/logout` and `/v1/user/unlink`.
//!
//! `secure_resource` and `property_keys` are accepted and ignored: image URLs
//! are always https and every consented field is always returned.

use serde_json::{Map, Value, json};
use warp::http::StatusCode;
use warp::reply::Response;

use crate::config::TestUser;
use crate::control_wire::Endpoint;
use crate::fast;
use crate::params::{Params, is_form};
use crate::reply::{self, api_error, fault_gate};
use crate::state::{AccessProblem, Shared};

/// The parts of a kapi request the handlers read.
pub(crate) struct ApiRequest<'a> {
    pub(crate) authorization: Option<&'a str>,
    pub(crate) query: &'a str,
    pub(crate) content_type: Option<&'a str>,
    pub(crate) body: &'a [u8],
}

impl ApiRequest<'_> {
    /// Query parameters, then form-body parameters.
    fn params(&self) -> Params {
        let query = Params::parse(self.query.as_bytes());
        if is_form(self.content_type) {
            query.merged(Params::parse(self.body))
        } else {
            query
        }
    }
}

/// Who a kapi call acts for.
enum Caller {
    /// A user's access token, from one login session.
    Token { user_id: i64, session: u64 },
    /// The app's admin key, naming a linked user.
    Admin { user_id: i64 },
}

impl Caller {
    fn user_id(&self) -> i64 {
        match self {
            Caller::Token { user_id, .. } | Caller::Admin { user_id } => *user_id,
        }
    }
}

/// A kapi refusal, answered as `{"msg","code"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ApiError {
    UnknownToken,
    ExpiredToken,
    WrongAdminKey,
    BadParameter(&'static str),
    NotLinked,
}

impl ApiError {
    fn response(self) -> Response {
        match self {
            ApiError::UnknownToken => api_error(
                StatusCode::UNAUTHORIZED,
                -401,
                "this access token does not exist",
            ),
            ApiError::ExpiredToken => api_error(
                StatusCode::UNAUTHORIZED,
                -401,
                "this access token is already expired",
            ),
            ApiError::WrongAdminKey => api_error(StatusCode::UNAUTHORIZED, -401, "wrong appKey"),
            ApiError::BadParameter(msg) => api_error(StatusCode::BAD_REQUEST, -2, msg),
            ApiError::NotLinked => api_error(
                StatusCode::BAD_REQUEST,
                -101,
                "NotRegisteredUserException: the user is not linked to this app",
            ),
        }
    }
}

impl From<AccessProblem> for ApiError {
    fn from(problem: AccessProblem) -> Self {
        match problem {
            AccessProblem::Unknown => ApiError::UnknownToken,
            AccessProblem::Expired => ApiError::ExpiredToken,
        }
    }
}

/// `Bearer {access_token}`, or `KakaoAK {admin_key}` with
/// `target_id_type=user_id&target_id={id}`.
fn authenticate(shared: &Shared, request: &ApiRequest<'_>) -> Result<Caller, ApiError> {
    let header = request.authorization.unwrap_or_default().trim();
    let (scheme, credential) = header.split_once(' ').unwrap_or((header, ""));
    let credential = credential.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        let info = shared.lock().access_token(credential)?;
        return Ok(Caller::Token {
            user_id: info.user_id,
            session: info.session,
        });
    }
    if scheme != "KakaoAK" {
        return Err(ApiError::UnknownToken);
    }
    if credential.is_empty() || shared.config.admin_key.as_deref() != Some(credential) {
        return Err(ApiError::WrongAdminKey);
    }
    let params = request.params();
    if params.get("target_id_type") != Some("user_id") {
        return Err(ApiError::BadParameter("target_id_type must be user_id"));
    }
    let user_id = params
        .get("target_id")
        .and_then(|id| id.parse::<i64>().ok())
        .ok_or(ApiError::BadParameter("target_id must be a user id"))?;
    if shared.lock().connected_at(user_id).is_none() {
        return Err(ApiError::NotLinked);
    }
    Ok(Caller::Admin { user_id })
}

/// The user of a `Bearer fast-<id>` token, in fast mode only.
fn fast_bearer(shared: &Shared, request: &ApiRequest<'_>) -> Option<i64> {
    let header = request.authorization?.trim();
    let (scheme, token) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    fast::user_id(&shared.config, token.trim())
}

/// `GET|POST /v2/user/me`
pub(crate) async fn user_me(shared: &Shared, request: ApiRequest<'_>) -> Response {
    if let Some(faulted) = fault_gate(shared, Endpoint::UserMe).await {
        return faulted;
    }
    if let Some(user_id) = fast_bearer(shared, &request) {
        return reply::json(
            StatusCode::OK,
            &user_me_body(&fast::user(user_id), fast::CONNECTED_AT),
        );
    }
    let caller = match authenticate(shared, &request) {
        Ok(caller) => caller,
        Err(refused) => return refused.response(),
    };
    let user_id = caller.user_id();
    let connected_at = shared.lock().connected_at(user_id);
    match (shared.user(user_id), connected_at) {
        (Some(user), Some(connected_at)) => reply::json(
            StatusCode::OK,
            &user_me_body(
                user,
                &humantime::format_rfc3339_seconds(connected_at).to_string(),
            ),
        ),
        _ => ApiError::NotLinked.response(),
    }
}

/// The `/v2/user/me` document, in the shape of Kakao's reference example.
fn user_me_body(user: &TestUser, connected_at: &str) -> Value {
    let mut profile = Map::new();
    profile.insert("nickname".into(), user.nickname.clone().into());
    if let Some(url) = &user.thumbnail_image_url {
        profile.insert("thumbnail_image_url".into(), url.clone().into());
    }
    if let Some(url) = &user.profile_image_url {
        profile.insert("profile_image_url".into(), url.clone().into());
    }
    profile.insert("is_default_image".into(), user.is_default_image.into());
    profile.insert(
        "is_default_nickname".into(),
        user.is_default_nickname.into(),
    );

    let mut account = Map::new();
    account.insert("profile_nickname_needs_agreement".into(), false.into());
    account.insert("profile_image_needs_agreement".into(), false.into());
    account.insert("profile".into(), Value::Object(profile));
    match &user.email {
        Some(email) => {
            account.insert("has_email".into(), true.into());
            account.insert("email_needs_agreement".into(), false.into());
            account.insert("is_email_valid".into(), user.is_email_valid.into());
            account.insert("is_email_verified".into(), user.is_email_verified.into());
            account.insert("email".into(), email.clone().into());
        }
        None => {
            account.insert("email_needs_agreement".into(), true.into());
        }
    }
    json!({
        "id": user.id,
        "connected_at": connected_at,
        "properties": {},
        "kakao_account": account,
    })
}

/// `GET /v1/user/access_token_info`
pub(crate) async fn token_info(shared: &Shared, request: ApiRequest<'_>) -> Response {
    if let Some(faulted) = fault_gate(shared, Endpoint::TokenInfo).await {
        return faulted;
    }
    let header = request.authorization.unwrap_or_default().trim();
    let Some(token) = header
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
    else {
        return ApiError::UnknownToken.response();
    };
    let info = shared.lock().access_token(token);
    match info {
        Ok(info) => reply::json(
            StatusCode::OK,
            &json!({
                "id": info.user_id,
                "expires_in": info.expires_in.as_secs(),
                "app_id": 1234,
            }),
        ),
        Err(problem) => ApiError::from(problem).response(),
    }
}

/// `POST /v1/user/logout`: a token ends its own session; the admin key ends
/// all of the user's sessions. The user stays linked.
pub(crate) async fn logout(shared: &Shared, request: ApiRequest<'_>) -> Response {
    if let Some(faulted) = fault_gate(shared, Endpoint::Logout).await {
        return faulted;
    }
    let caller = match authenticate(shared, &request) {
        Ok(caller) => caller,
        Err(refused) => return refused.response(),
    };
    match caller {
        Caller::Token { session, .. } => shared.lock().revoke_session(session),
        Caller::Admin { user_id } => shared.lock().revoke_user(user_id),
    }
    reply::json(StatusCode::OK, &json!({ "id": caller.user_id() }))
}

/// `POST /v1/user/unlink`: revokes every token of the user and forgets the link.
pub(crate) async fn unlink(shared: &Shared, request: ApiRequest<'_>) -> Response {
    if let Some(faulted) = fault_gate(shared, Endpoint::Unlink).await {
        return faulted;
    }
    let caller = match authenticate(shared, &request) {
        Ok(caller) => caller,
        Err(refused) => return refused.response(),
    };
    let user_id = caller.user_id();
    if !shared.lock().unlink(user_id) {
        return ApiError::NotLinked.response();
    }
    reply::json(StatusCode::OK, &json!({ "id": user_id }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_without_email_reports_only_that_agreement_is_needed() {
        let users = TestUser::defaults();
        let body = user_me_body(&users[2], "2024-03-02T05:11:40Z");
        let account = &body["kakao_account"];
        assert_eq!(account["email_needs_agreement"], true);
        for absent in ["email", "has_email", "is_email_valid", "is_email_verified"] {
            assert!(account.get(absent).is_none(), "{absent}");
        }
    }

    #[test]
    fn a_user_without_images_has_no_image_urls() {
        let users = TestUser::defaults();
        let body = user_me_body(&users[3], "2024-03-02T05:11:40Z");
        let profile = &body["kakao_account"]["profile"];
        assert!(profile.get("profile_image_url").is_none());
        assert_eq!(profile["is_default_nickname"], true);
        assert_eq!(body["id"], 3_208_537_906_i64);
    }
}
