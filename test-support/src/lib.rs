//! The harness shared by the workspace's integration tests (auth-service's
//! `tests/grpc`, http-edge's `tests/*`). Only ever a dev-dependency.
//!
//! - [`stack`]: a fresh database per test (SQLite, or PostgreSQL when
//!   `TEST_DATABASE_URL` is set), the Kakao emulator and the real
//!   auth-service, all on port 0.
//! - [`browser`]: a browser's view: `Location`, `Set-Cookie` (parsed with
//!   the `cookie` crate), a cookie jar, Kakao's consent page, and the login
//!   flow through an edge ([`EdgeClient`]).
//! - [`grpc`]: the same over gRPC: a login, token verification, health.
//! - [`logs`]: a log sink to search what the services logged.
//! - [`tls`]: a throw-away CA, service and client certificates as PEM files.
//! - [`wait`]: bounded polling instead of fixed sleeps.
//! - `edge` (feature `edge`): an in-process http-edge.
//!
//! Everything is re-exported at the root.

pub mod browser;
#[cfg(feature = "edge")]
pub mod edge;
pub mod grpc;
pub mod logs;
pub mod stack;
pub mod tls;
pub mod wait;

pub use browser::{
    CookieJar, EdgeClient, consent, consent_as, cookie_header, header, http, location,
    login_across, query, set_cookie_lines, set_cookies, urlencode,
};
#[cfg(feature = "edge")]
pub use edge::EdgeHandle;
pub use grpc::{
    Started, complete_with, health_status, login, login_on, login_with, reason, refresh,
    start_login, start_login_on, start_with, verify,
};
pub use logs::LogCapture;
pub use stack::{
    AuthHandle, CLIENT_ID, FRONTEND_URL, REDIRECT_URI, Stack, TempDir, TestDb, init_tracing,
    settings, start_emulator, users,
};
pub use tls::{CertFiles, TestPki};
pub use wait::{poll, wait_until};
