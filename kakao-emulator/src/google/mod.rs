//! Google Sign-In (OpenID Connect, server-side code flow) under `/google`:
//! a client fetches `{emulator}/google/.well-known/openid-configuration`
//! and takes every other endpoint from it, as Google asks. The paths after
//! `/google` are Google's own, on one host. Faithful to
//! `shared/reference/google-oidc.md`; where Google's behaviour is
//! undocumented the emulator's choice is marked UNCONFIRMED where it is
//! made.
//!
//! | route | emulates |
//! |---|---|
//! | `GET /google/.well-known/openid-configuration` | discovery (issuer: [`crate::GoogleConfig::issuer`]) |
//! | `GET /google/o/oauth2/v2/auth` | consent page (bad client or redirect: an error page, no redirect) |
//! | `POST /google/o/oauth2/v2/auth/decision` | the consent form: 302 with `code`, `scope`, `authuser`, `prompt`, or `error=access_denied` |
//! | `POST /google/token` | `authorization_code` (single-use, `redirect_uri`, PKCE `S256`/`plain`) and `refresh_token`; RS256 `id_token` |
//! | `GET\|POST /google/v1/userinfo` | the account's claims for the granted scope |
//! | `GET /google/oauth2/v3/certs` | the JWKS (`Cache-Control: public, max-age=3600`) |
//! | `POST /google/revoke` | revokes the grant; 400 `invalid_token` for an unknown token |
//!
//! Not emulated: implicit and hybrid flows, `tokeninfo`, the device flow,
//! `hd`, incremental authorization, and a browser session (every
//! authorize shows the consent page; `prompt=none` answers
//! `login_required`).

pub(crate) mod api;
pub(crate) mod authorize;
pub(crate) mod config;
pub(crate) mod id_token;
pub(crate) mod memory;
pub(crate) mod token;

use std::sync::Arc;

use warp::hyper::body::Bytes;
use warp::reply::Response;
use warp::{Filter, Rejection};

use crate::filters::{
    authorization, body, content_type, get_or_post, host, raw_query, request_params, with_shared,
};
use crate::params::Params;
use crate::state::Shared;

/// Every `/google/...` route.
pub(crate) fn routes(
    shared: Arc<Shared>,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    // GET /google/.well-known/openid-configuration
    let discovery = warp::path!("google" / ".well-known" / "openid-configuration")
        .and(warp::get())
        .and(with_shared(shared.clone()))
        .and(host())
        .then(|shared: Arc<Shared>, host: Option<String>| async move {
            id_token::discovery_response(&shared, host.as_deref()).await
        });
    // GET /google/o/oauth2/v2/auth
    let authorize = warp::path!("google" / "o" / "oauth2" / "v2" / "auth")
        .and(warp::get())
        .and(with_shared(shared.clone()))
        .and(raw_query())
        .then(|shared: Arc<Shared>, query: String| async move {
            authorize::authorize(&shared, &Params::parse(query.as_bytes())).await
        });
    // POST /google/o/oauth2/v2/auth/decision
    let decision = warp::path!("google" / "o" / "oauth2" / "v2" / "auth" / "decision")
        .and(warp::post())
        .and(with_shared(shared.clone()))
        .and(body())
        .map(|shared: Arc<Shared>, body: Bytes| authorize::decision(&shared, &body));
    // POST /google/token
    let token = warp::path!("google" / "token")
        .and(warp::post())
        .and(with_shared(shared.clone()))
        .and(host())
        .and(authorization())
        .and(content_type())
        .and(body())
        .then(
            |shared: Arc<Shared>,
             host: Option<String>,
             auth: Option<String>,
             ct: Option<String>,
             body: Bytes| async move {
                let request = token::TokenRequest {
                    host: host.as_deref(),
                    authorization: auth.as_deref(),
                    content_type: ct.as_deref(),
                    body: &body,
                };
                token::token(&shared, request).await
            },
        );
    // GET|POST /google/v1/userinfo
    let userinfo = warp::path!("google" / "v1" / "userinfo")
        .and(get_or_post())
        .and(with_shared(shared.clone()))
        .and(authorization())
        .then(|shared: Arc<Shared>, auth: Option<String>| async move {
            api::userinfo(&shared, auth.as_deref()).await
        });
    // GET /google/oauth2/v3/certs
    let jwks = warp::path!("google" / "oauth2" / "v3" / "certs")
        .and(warp::get())
        .and(with_shared(shared.clone()))
        .then(|shared: Arc<Shared>| async move { id_token::jwks_response(&shared).await });
    // POST /google/revoke
    let revoke = warp::path!("google" / "revoke")
        .and(warp::post())
        .and(with_shared(shared))
        .and(request_params())
        .then(
            |shared: Arc<Shared>, query: String, ct: Option<String>, body: Bytes| async move {
                api::revoke(&shared, &Params::of_request(&query, ct.as_deref(), &body)).await
            },
        );
    discovery
        .or(authorize)
        .unify()
        .or(decision)
        .unify()
        .or(token)
        .unify()
        .or(userinfo)
        .unify()
        .or(jwks)
        .unify()
        .or(revoke)
        .unify()
}
