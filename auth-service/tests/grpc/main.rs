//! gRPC-level integration tests: the real auth-service on port 0, the Kakao
//! emulator over real HTTP, a fresh SQLite or PostgreSQL database per test.

#[path = "../support/mod.rs"]
mod support;

mod login;
mod observability;
mod reflection;
mod replicas;
mod revocations;
mod sessions;
mod tokens;
