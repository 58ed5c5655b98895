//! gRPC-level integration tests: the real auth-service on port 0, the Kakao
//! emulator over real HTTP, a fresh SQLite or PostgreSQL database per test.

//!
//! The harness is the `test-support` crate.

mod login;
mod login_write;
mod observability;
mod reflection;
mod replicas;
mod revocations;
mod sessions;
mod tls;
mod tokens;
