//! gRPC-level integration tests: the real auth-service on port 0, the Kakao
//! emulator over real HTTP, a fresh SQLite or PostgreSQL database per test.

//!
//! The harness is the `test-support` crate.

mod grace_sealing;
mod identities_migration;
mod jwks_rotation;
mod kakao_circuit;
mod kakao_oidc;
mod key_encryption;
mod login;
mod login_write;
mod logout_all;
mod observability;
mod providers;
mod reflection;
mod replicas;
mod revocations;
mod sessions;
mod sweeper;
mod tls;
mod tokens;
