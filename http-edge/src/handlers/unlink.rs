//! Kakao's unlink callback: a server-to-server call (`Authorization:
//! KakaoAK <admin key>`) naming a user who left the app; the auth-service
//! checks the key and app and revokes the user's sessions.

use auth_proto::{Reason, v1::HandleUnlinkRequest};
use http::{HeaderMap, HeaderValue, header::CONTENT_TYPE};
use tonic::{Code, Status};
use warp::reply::Response;

use super::first_param;
use crate::{
    error::ApiError,
    state::{Ctx, Outcome},
};

/// GET|POST /auth/kakao/unlink: `params` is the query (GET) or the
/// form body (POST): `app_id`, `user_id`, `referrer_type`.
pub(crate) async fn unlink(ctx: Ctx, params: String, headers: HeaderMap) -> Response {
    let request = HandleUnlinkRequest {
        admin_key: admin_key(&headers),
        app_id: first_param(&params, "app_id").unwrap_or_default(),
        user_id: first_param(&params, "user_id").unwrap_or_default(),
        referrer_type: first_param(&params, "referrer_type").unwrap_or_default(),
    };
    let answer = ctx.client().handle_unlink(ctx.request(request)).await;
    let (outcome, response) = match answer.map_err(|s| ctx.failed(s)) {
        Ok(answer) => {
            if answer.get_ref().sessions_revoked > 0 {
                // Which user is not said; the feed will tell every edge
                // within a second, but this one's next `/auth/me` must not
                // wait for it. Unlinks are rare: drop the caches.
                ctx.state().verified.drop_caches();
            }
            (Outcome::Done("unlinked"), plain_ok())
        }
        Err(s) => {
            let error = unlink_error(&s);
            (Outcome::Failed(error.as_str()), error.into_response())
        }
    };
    ctx.finish("unlink", outcome, response)
}

/// The key of `Authorization: KakaoAK <key>`, empty when there is none.
fn admin_key(headers: &HeaderMap) -> String {
    headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("KakaoAK "))
        .map(|k| k.trim().to_owned())
        .unwrap_or_default()
}

/// A malformed callback is 400; a refused one (disabled, wrong key or app)
/// 401 with its reason; anything else as for the other API routes.
fn unlink_error(status: &Status) -> ApiError {
    match status.code() {
        Code::InvalidArgument => ApiError::BadRequest,
        Code::FailedPrecondition => {
            ApiError::refused(Reason::of(status).unwrap_or(Reason::UnlinkDisabled))
        }
        _ => ApiError::from_status(status),
    }
}

/// 200 `OK`: what Kakao's callback expects.
fn plain_ok() -> Response {
    let mut response = Response::new("OK".into());
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_callbacks_are_401_with_their_reason_and_malformed_ones_400() {
        let table = [
            (Reason::InvalidRequest.status("x"), ApiError::BadRequest),
            (
                Reason::UnlinkDisabled.status("x"),
                ApiError::refused(Reason::UnlinkDisabled),
            ),
            (
                Status::failed_precondition("x"),
                ApiError::refused(Reason::UnlinkDisabled),
            ),
            (
                Reason::InvalidAdminKey.status("x"),
                ApiError::refused(Reason::InvalidAdminKey),
            ),
            (
                Reason::WrongApp.status("x"),
                ApiError::refused(Reason::WrongApp),
            ),
            (Status::unavailable("x"), ApiError::Unavailable),
        ];
        for (status, expected) in table {
            assert_eq!(unlink_error(&status), expected, "{status:?}");
        }
    }

    #[test]
    fn the_admin_key_is_read_from_a_kakaoak_authorization() {
        let mut headers = HeaderMap::new();
        assert_eq!(admin_key(&headers), "");
        headers.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_static("KakaoAK  key-1 "),
        );
        assert_eq!(admin_key(&headers), "key-1");
        headers.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_static("Bearer key-1"),
        );
        assert_eq!(admin_key(&headers), "");
    }
}
