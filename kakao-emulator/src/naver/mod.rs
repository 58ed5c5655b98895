//! Naver Login (네이버 로그인), classic OAuth 2.0 flavour, under `/naver`:
//! a client points both Naver hosts (`https://nid.naver.com`,
//! `https://openapi.naver.com`) at `{emulator}/naver` and keeps Naver's
//! paths. Faithful to `shared/reference/naver-login.md`; where Naver's
//! behaviour is undocumented the emulator's choice is marked UNCONFIRMED
//! where it is made.
//!
//! | route | emulates |
//! |---|---|
//! | `GET\|POST /naver/oauth2.0/authorize` | consent page (unknown client or redirect: an error page, no redirect) |
//! | `POST /naver/oauth2.0/authorize/decision` | the consent form: 302 with `code`+`state`, or `error=access_denied&error_description=Canceled+By+User` |
//! | `GET\|POST /naver/oauth2.0/token` | `authorization_code`, `refresh_token`, `delete`; errors as **HTTP 200** `{"error","error_description"}` |
//! | `POST /naver/oauth2.0/revoke` | RFC 7009 revoke: empty 200, even for unknown tokens |
//! | `GET\|POST /naver/v1/nid/me` | `{"resultcode":"00","message":"success","response":{…}}`; 401 `024`/`028` |
//!
//! Not emulated: the OIDC flavour (`/oauth2/*`, its discovery and JWKS),
//! `/v1/nid/verify`, the unlink callback, and a browser session
//! (`auth_type` is accepted and every authorize shows the consent page).
//! PKCE is not part of the classic path (it is not in its parameter
//! table): `code_challenge` and `code_verifier` are ignored.

pub(crate) mod authorize;
pub(crate) mod config;
pub(crate) mod memory;
pub(crate) mod profile;
pub(crate) mod token;

use std::sync::Arc;

use warp::hyper::body::Bytes;
use warp::reply::Response;
use warp::{Filter, Rejection};

use crate::filters::{authorization, body, get_or_post, request_params, with_shared};
use crate::params::Params;
use crate::state::Shared;

/// Every `/naver/...` route.
pub(crate) fn routes(
    shared: Arc<Shared>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    // GET|POST /naver/oauth2.0/authorize
    let authorize = warp::path!("naver" / "oauth2.0" / "authorize")
        .and(get_or_post())
        .and(with_shared(shared.clone()))
        .and(request_params())
        .then(
            |shared: Arc<Shared>, query: String, ct: Option<String>, body: Bytes| async move {
                let params = Params::of_request(&query, ct.as_deref(), &body);
                authorize::authorize(&shared, &params).await
            },
        );
    // POST /naver/oauth2.0/authorize/decision
    let decision = warp::path!("naver" / "oauth2.0" / "authorize" / "decision")
        .and(warp::post())
        .and(with_shared(shared.clone()))
        .and(body())
        .map(|shared: Arc<Shared>, body: Bytes| authorize::decision(&shared, &body));
    // GET|POST /naver/oauth2.0/token
    let token = warp::path!("naver" / "oauth2.0" / "token")
        .and(get_or_post())
        .and(with_shared(shared.clone()))
        .and(request_params())
        .then(
            |shared: Arc<Shared>, query: String, ct: Option<String>, body: Bytes| async move {
                let params = Params::of_request(&query, ct.as_deref(), &body);
                token::token(&shared, &params).await
            },
        );
    // POST /naver/oauth2.0/revoke
    let revoke = warp::path!("naver" / "oauth2.0" / "revoke")
        .and(warp::post())
        .and(with_shared(shared.clone()))
        .and(request_params())
        .then(
            |shared: Arc<Shared>, query: String, ct: Option<String>, body: Bytes| async move {
                let params = Params::of_request(&query, ct.as_deref(), &body);
                token::revoke(&shared, &params).await
            },
        );
    // GET|POST /naver/v1/nid/me
    let me = warp::path!("naver" / "v1" / "nid" / "me")
        .and(get_or_post())
        .and(with_shared(shared))
        .and(authorization())
        .then(|shared: Arc<Shared>, auth: Option<String>| async move {
            profile::me(&shared, auth.as_deref()).await
        });
    authorize
        .or(decision)
        .unify()
        .or(token)
        .unify()
        .or(revoke)
        .unify()
        .or(me)
        .unify()
}
