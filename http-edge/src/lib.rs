//! The HTTP edge of Kakao login: the only server browsers talk to.
//!
//! It owns cookies, redirects, CORS and CSRF checks, and nothing else: it
//! holds no session state and no database, and asks the auth-service (over
//! one shared gRPC channel) for every decision. The only things it keeps in
//! memory are the auth-service's public keys, so that it verifies access
//! tokens locally (`/auth/me`, `/.well-known/jwks.json`), and its own
//! Prometheus metrics (`/metrics`). A login ends in a 302 to the frontend
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
//! (`handlers::{login, session, unlink, operations, demo}`) with the shared
//! `state`. `error` maps service errors to what a browser sees; `cookies`,
//! `origins`, `jwks`, `metrics`, `reply` and `single_flight` are leaves.
//! The wire contract (reason words, request id, access claims) is
//! `auth_proto`'s; start-up and logging are `service_kit`'s.

mod configuration;
mod cookies;
mod error;
mod filters;
mod handlers;
mod jwks;
mod metrics;
mod origins;
mod rejection;
mod reply;
mod request_id;
mod routes;
mod server;
mod single_flight;
mod startup;
mod state;

pub use configuration::Settings;
pub use cookies::{ACCESS_COOKIE, BINDING_COOKIE, REFRESH_COOKIE};
pub use error::ErrorCode;
pub use service_kit::ConfigError;
pub use startup::Application;
