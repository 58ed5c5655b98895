//! The HTTP edge of social login (Kakao, Naver, Google): the only server
//! browsers talk to.
//!
//! It owns cookies, redirects, CORS and CSRF checks, and nothing else: it
//! holds no database, and asks the auth-service (over one shared gRPC
//! channel) for every decision it cannot vouch for. What it keeps in memory:
//! the auth-service's public keys, so that it verifies access tokens locally
//! (`/auth/me`, `/.well-known/jwks.json`); bounded caches of verified tokens
//! and of each session's profile, so that a repeated `/auth/me` needs no
//! call, trusted only while it follows the service's revocation feed (a
//! logout, refresh-token reuse, unlink or key retirement on any replica
//! evicts them within a second; while the feed is down every `/auth/me`
//! asks the service); and its own Prometheus metrics (`/metrics`). A login ends in a 302 to the frontend
//! with the tokens in `HttpOnly; Secure; SameSite=Lax` cookies, and every
//! failure of a navigation in a 302 to the frontend's error route with
//! `?error=<code>` (see [`ErrorCode`]). Tokens never appear in a URL, a body
//! or a log line.
//!
//! Every request gets an id (the caller's `X-Request-Id` when it is a plain
//! token, else a UUID) that is echoed in the response, passed to the
//! auth-service and carried by each of its log lines; request heads are
//! capped at 16 KiB, POST bodies at 4 KiB and login/callback queries at
//! 4 KiB. Concurrent refreshes with one cookie share one rotation.
//!
//! Code map: [`startup`](Application) binds and serves through `server`
//! (limits, request ids) the filters of `routes` (the route table, built
//! from `filters`, refused through `rejection`), which call the handlers
//! (`handlers::{login, callback, session, identities, unlink, operations,
//! demo}`) with the shared
//! `state`. `error` maps service errors to what a browser sees; `cookies`,
//! `origins`, `jwks`, `metrics`, `reply`, `single_flight` and
//! `verified_cache` (what `/auth/me` may answer from memory) are leaves;
//! `revocation_feed` follows the service's revocations into the caches;
//! `rate_limits` counts login starts and callbacks per client address.
//! `service_tls` reads the TLS files for an `https://` auth-service.
//! The wire contract (reason words, request id, access claims) is
//! `auth_proto`'s; start-up and logging are `service_kit`'s.

mod configuration;
mod cookies;
mod error;
mod filters;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod handlers;
mod jwks;
mod metrics;
mod origins;
mod rate_limits;
mod rejection;
mod reply;
mod request_id;
mod revocation_feed;
mod routes;
mod server;
mod service_tls;
mod single_flight;
mod startup;
mod state;
mod verified_cache;

pub use configuration::{RateLimitSettings, Settings, worker_threads_from_env};
pub use cookies::{ACCESS_COOKIE, BINDING_COOKIE, REFRESH_COOKIE};
pub use error::ErrorCode;
pub use service_kit::ConfigError;
pub use service_tls::AuthServiceTls;
pub use startup::Application;
