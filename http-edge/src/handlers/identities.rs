//! `POST /auth/identities/{provider}/unlink`: the logged-in user removes
//! one of their provider identities (JSON API, guarded like logout:
//! same-site, body limit, POST only). The access cookie is verified as for
//! `/auth/me`; the service checks that its session is live, forgets the
//! identity and asks the provider to revoke its grant. The answer lists the
//! identities that remain; the user's cached profiles are dropped so that
//! `/auth/me` shows it at once.

use auth_proto::{
    Reason,
    v1::{Provider, UnlinkIdentityRequest, UnlinkIdentityResponse},
};
use http::{HeaderMap, StatusCode};
use serde::Serialize;
use tonic::{Code, Status};
use warp::reply::Response;

use super::{profile::IdentityView, session::verified_unrevoked};
use crate::{
    cookies::{self, ACCESS_COOKIE},
    error::ApiError,
    reply::json_response,
    state::{Ctx, Outcome},
};

/// The 200 body: `{"identities": [...], "provider_revoked": bool}`.
#[derive(Debug, Serialize)]
struct Unlinked {
    identities: Vec<IdentityView>,
    provider_revoked: bool,
}

impl From<UnlinkIdentityResponse> for Unlinked {
    fn from(answer: UnlinkIdentityResponse) -> Self {
        Unlinked {
            identities: IdentityView::list(answer.identities),
            provider_revoked: answer.provider_revoked,
        }
    }
}

/// POST /auth/identities/{provider}/unlink
pub(crate) async fn unlink(ctx: Ctx, provider: Provider, headers: HeaderMap) -> Response {
    let result = match cookies::read(&headers, ACCESS_COOKIE) {
        None => Err(ApiError::missing_token()),
        Some(access_token) => unlink_identity(&ctx, provider, &access_token).await,
    };
    let (outcome, response) = match result {
        Ok(body) => (
            Outcome::Done("unlinked_identity"),
            json_response(StatusCode::OK, &body),
        ),
        Err(error) => (Outcome::Failed(error.as_str()), error.into_response()),
    };
    ctx.finish("unlink_identity", outcome, response)
}

/// Verifies the token, asks the service to remove the identity of its user
/// at `provider` (provided its session is live), and drops the user's
/// cached profiles.
async fn unlink_identity(
    ctx: &Ctx,
    provider: Provider,
    access_token: &str,
) -> Result<Unlinked, ApiError> {
    let verified = verified_unrevoked(ctx, access_token).await?;
    let request = UnlinkIdentityRequest {
        user_id: verified.sub.clone(),
        session_id: verified.sid.clone(),
        provider: provider.into(),
    };
    let answer = ctx
        .client()
        .unlink_identity(ctx.request(request))
        .await
        .map_err(|s| unlink_error(&ctx.failed(s)))?
        .into_inner();
    ctx.state().verified.forget_profiles_of(&verified.sub);
    Ok(Unlinked::from(answer))
}

/// 404 for an identity the user does not have (or a provider the service
/// does not know), 409 for the user's last identity, 400 for a request the
/// service finds malformed; a refused session 401 and an unreachable
/// service 503 as for the other API routes.
fn unlink_error(status: &Status) -> ApiError {
    match (status.code(), Reason::of(status)) {
        (Code::NotFound, reason) => ApiError::Missing(reason.unwrap_or(Reason::IdentityNotFound)),
        (Code::FailedPrecondition, Some(Reason::LastIdentity)) => {
            ApiError::Conflict(Reason::LastIdentity)
        }
        (Code::InvalidArgument, _) => ApiError::BadRequest,
        (Code::Unauthenticated, reason) => {
            ApiError::refused(reason.unwrap_or(Reason::SessionRevoked))
        }
        _ => ApiError::from_status(status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_proto::v1::Identity;

    #[test]
    fn service_errors_of_an_unlink_map_to_precise_statuses() {
        let table = [
            (
                Reason::IdentityNotFound.status("x"),
                ApiError::Missing(Reason::IdentityNotFound),
                404,
            ),
            (
                Reason::ProviderDisabled.status("x"),
                ApiError::Missing(Reason::ProviderDisabled),
                404,
            ),
            (
                Status::not_found("x"),
                ApiError::Missing(Reason::IdentityNotFound),
                404,
            ),
            (
                Reason::LastIdentity.status("x"),
                ApiError::Conflict(Reason::LastIdentity),
                409,
            ),
            (
                Reason::SessionRevoked.status("x"),
                ApiError::refused(Reason::SessionRevoked),
                401,
            ),
            (
                Reason::InvalidRequest.status("x"),
                ApiError::BadRequest,
                400,
            ),
            (Reason::Unavailable.status("x"), ApiError::Unavailable, 503),
            (Status::unavailable("tcp"), ApiError::Unavailable, 503),
            (Status::deadline_exceeded("x"), ApiError::Unavailable, 503),
            (Reason::ServerError.status("x"), ApiError::ServerError, 500),
            (Status::failed_precondition("x"), ApiError::ServerError, 500),
        ];
        for (status, expected, code) in table {
            let error = unlink_error(&status);
            assert_eq!(error, expected, "{status:?}");
            assert_eq!(error.status().as_u16(), code, "{status:?}");
        }
    }

    #[test]
    fn an_unlink_answer_lists_the_remaining_identities() {
        let answer = UnlinkIdentityResponse {
            identities: vec![Identity {
                provider: Provider::Kakao.into(),
                subject: "4000000001".into(),
                email: String::new(),
                linked_at: 1,
                last_login_at: 2,
            }],
            provider_revoked: true,
        };
        assert_eq!(
            serde_json::to_value(Unlinked::from(answer)).unwrap(),
            serde_json::json!({
                "identities": [
                    {"provider": "kakao", "email": null, "linked_at": 1, "last_login_at": 2}
                ],
                "provider_revoked": true
            })
        );
    }

    #[tokio::test]
    async fn the_error_bodies_keep_the_api_shape_with_the_reason() {
        use warp::Filter;
        for (error, body) in [
            (
                ApiError::Conflict(Reason::LastIdentity),
                serde_json::json!({"error": "conflict", "reason": Reason::LastIdentity.as_str()}),
            ),
            (
                ApiError::Missing(Reason::IdentityNotFound),
                serde_json::json!({"error": "not_found", "reason": Reason::IdentityNotFound.as_str()}),
            ),
        ] {
            let reply = warp::any().map(move || error.clone().into_response());
            let response = warp::test::request().reply(&reply).await;
            let got: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
            assert_eq!(got, body);
        }
    }
}
