//! The warp filter tree: Kakao's endpoints, Naver's and Google's (their
//! modules), and the `/_emulator/` controls.

use std::sync::Arc;

use serde_json::json;
use warp::http::StatusCode;
use warp::hyper::body::Bytes;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::api::{self, ApiRequest};
use crate::control_wire::{Endpoint, FaultRequest, IdTokenFault};
use crate::filters::{BodyTooLarge, body, content_type, raw_query, with_shared};
use crate::google;
use crate::naver;
use crate::oauth;
use crate::oidc;
use crate::provider_controls;
use crate::reply;
use crate::state::Shared;
use crate::token;

/// Every route; an oversized body is answered with 413, other refusals
/// with warp's defaults (404, 405, ...).
pub(crate) fn routes(
    shared: Arc<Shared>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    kakao(shared.clone())
        .or(naver::routes(shared.clone()))
        .unify()
        .or(google::routes(shared.clone()))
        .unify()
        .or(controls(shared.clone()))
        .unify()
        .or(provider_controls::routes(shared))
        .unify()
        .recover(recover)
        .unify()
}

async fn recover(rejection: Rejection) -> Result<Response, Rejection> {
    if rejection.find::<BodyTooLarge>().is_some() {
        Ok(reply::api_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            -2,
            "request body too large",
        ))
    } else {
        Err(rejection)
    }
}

/// Authorization, query, content type and body of a kapi call.
fn api_parts()
-> impl Filter<Extract = (Option<String>, String, Option<String>, Bytes), Error = Rejection> + Clone
{
    warp::header::optional::<String>("authorization")
        .and(raw_query())
        .and(content_type())
        .and(body())
}

macro_rules! api_request {
    ($auth:expr, $query:expr, $ct:expr, $body:expr) => {
        ApiRequest {
            authorization: $auth.as_deref(),
            query: &$query,
            content_type: $ct.as_deref(),
            body: &$body,
        }
    };
}

fn kakao(shared: Arc<Shared>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    // GET /oauth/authorize
    let authorize = warp::path!("oauth" / "authorize")
        .and(warp::get())
        .and(with_shared(shared.clone()))
        .and(raw_query())
        .then(|shared: Arc<Shared>, query: String| async move {
            oauth::authorize(&shared, &query).await
        });
    // POST /oauth/authorize/decision
    let decision = warp::path!("oauth" / "authorize" / "decision")
        .and(warp::post())
        .and(with_shared(shared.clone()))
        .and(body())
        .map(|shared: Arc<Shared>, body: Bytes| oauth::decision(&shared, &body));
    // POST /oauth/token
    let token = warp::path!("oauth" / "token")
        .and(warp::post())
        .and(with_shared(shared.clone()))
        .and(content_type())
        .and(body())
        .then(
            |shared: Arc<Shared>, ct: Option<String>, body: Bytes| async move {
                token::token(&shared, ct.as_deref(), &body).await
            },
        );
    // GET|POST /v2/user/me
    let user_me = warp::path!("v2" / "user" / "me")
        .and(warp::get().or(warp::post()).unify())
        .and(with_shared(shared.clone()))
        .and(api_parts())
        .then(
            |shared: Arc<Shared>,
             auth: Option<String>,
             query: String,
             ct: Option<String>,
             body: Bytes| async move {
                api::user_me(&shared, api_request!(auth, query, ct, body)).await
            },
        );
    // GET /v1/user/access_token_info
    let token_info = warp::path!("v1" / "user" / "access_token_info")
        .and(warp::get())
        .and(with_shared(shared.clone()))
        .and(api_parts())
        .then(
            |shared: Arc<Shared>,
             auth: Option<String>,
             query: String,
             ct: Option<String>,
             body: Bytes| async move {
                api::token_info(&shared, api_request!(auth, query, ct, body)).await
            },
        );
    // POST /v1/user/logout
    let logout = warp::path!("v1" / "user" / "logout")
        .and(warp::post())
        .and(with_shared(shared.clone()))
        .and(api_parts())
        .then(
            |shared: Arc<Shared>,
             auth: Option<String>,
             query: String,
             ct: Option<String>,
             body: Bytes| async move {
                api::logout(&shared, api_request!(auth, query, ct, body)).await
            },
        );
    // GET /.well-known/jwks.json
    let jwks = warp::path!(".well-known" / "jwks.json")
        .and(warp::get())
        .and(with_shared(shared.clone()))
        .then(|shared: Arc<Shared>| async move { oidc::jwks_response(&shared).await });
    // GET /.well-known/openid-configuration
    let discovery = warp::path!(".well-known" / "openid-configuration")
        .and(warp::get())
        .and(with_shared(shared.clone()))
        .and(warp::header::optional::<String>("host"))
        .then(|shared: Arc<Shared>, host: Option<String>| async move {
            oidc::discovery_response(&shared, host.as_deref()).await
        });
    // POST /v1/user/unlink
    let unlink = warp::path!("v1" / "user" / "unlink")
        .and(warp::post())
        .and(with_shared(shared))
        .and(api_parts())
        .then(
            |shared: Arc<Shared>,
             auth: Option<String>,
             query: String,
             ct: Option<String>,
             body: Bytes| async move {
                api::unlink(&shared, api_request!(auth, query, ct, body)).await
            },
        );
    authorize
        .or(decision)
        .unify()
        .or(token)
        .unify()
        .or(user_me)
        .unify()
        .or(token_info)
        .unify()
        .or(logout)
        .unify()
        .or(unlink)
        .unify()
        .or(jwks)
        .unify()
        .or(discovery)
        .unify()
}

/// Body of `POST /_emulator/id_token`: `{"fault":"expired"}`, or
/// `{"fault":null}` for good tokens again.
#[derive(serde::Deserialize)]
struct IdTokenControl {
    fault: Option<IdTokenFault>,
}

fn controls(shared: Arc<Shared>) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    // POST /_emulator/faults
    let set_fault = warp::path!("_emulator" / "faults")
        .and(warp::post())
        .and(with_shared(shared.clone()))
        .and(body())
        .map(|shared: Arc<Shared>, body: Bytes| {
            match serde_json::from_slice::<FaultRequest>(&body) {
                Ok(request) => {
                    let mut state = shared.lock();
                    let endpoints = match request.endpoint {
                        Some(endpoint) => vec![endpoint],
                        None => Endpoint::ALL.to_vec(),
                    };
                    for endpoint in endpoints {
                        state.faults.insert(endpoint, request.fault.clone());
                    }
                    StatusCode::NO_CONTENT.into_response()
                }
                Err(error) => reply::json(
                    StatusCode::BAD_REQUEST,
                    &json!({ "error": format!("invalid fault request: {error}") }),
                ),
            }
        });
    // DELETE /_emulator/faults
    let clear_faults = warp::path!("_emulator" / "faults")
        .and(warp::delete())
        .and(with_shared(shared.clone()))
        .map(|shared: Arc<Shared>| {
            shared.lock().clear_faults();
            StatusCode::NO_CONTENT.into_response()
        });
    // POST /_emulator/id_token
    let id_token_fault = warp::path!("_emulator" / "id_token")
        .and(warp::post())
        .and(with_shared(shared.clone()))
        .and(body())
        .map(|shared: Arc<Shared>, body: Bytes| {
            match serde_json::from_slice::<IdTokenControl>(&body) {
                Ok(request) => {
                    shared.lock().id_token_fault = request.fault;
                    StatusCode::NO_CONTENT.into_response()
                }
                Err(error) => reply::json(
                    StatusCode::BAD_REQUEST,
                    &json!({ "error": format!("invalid id_token request: {error}") }),
                ),
            }
        });
    // POST /_emulator/rotate_key
    let rotate_key = warp::path!("_emulator" / "rotate_key")
        .and(warp::post())
        .and(with_shared(shared.clone()))
        .map(|shared: Arc<Shared>| {
            let mut state = shared.lock();
            state.signing_key = (state.signing_key + 1) % 2;
            StatusCode::NO_CONTENT.into_response()
        });
    // GET /_emulator/stats
    let stats = warp::path!("_emulator" / "stats")
        .and(warp::get())
        .and(with_shared(shared))
        .map(|shared: Arc<Shared>| {
            let stats = shared.lock().stats();
            match serde_json::to_value(stats) {
                Ok(body) => reply::json(StatusCode::OK, &body),
                Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            }
        });
    // GET /_emulator/healthz
    let health = warp::path!("_emulator" / "healthz")
        .and(warp::get())
        .map(|| reply::json(StatusCode::OK, &json!({ "status": "ok" })));
    set_fault
        .or(clear_faults)
        .unify()
        .or(id_token_fault)
        .unify()
        .or(rotate_key)
        .unify()
        .or(stats)
        .unify()
        .or(health)
        .unify()
}
