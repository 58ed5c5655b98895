//! The auth-service: a tonic gRPC server that owns every Kakao call, all
//! persistence (SeaORM, SQLite or PostgreSQL), JWT signing and verification,
//! and refresh sessions. Browsers never reach it; the HTTP edge and internal
//! services call `auth.v1.AuthService`.
//!
//! Where things are: [`grpc`] decodes and encodes; [`login`], [`sessions`]
//! and [`unlink`] decide; [`kakao`] talks to Kakao and [`kakao_oidc`]
//! verifies its id_tokens; [`key_ring`] and
//! [`access_tokens`] hold the signing keys and the JWTs; [`persistence`]
//! stores; [`error`] maps every failure to the contract's reasons.

#![warn(missing_docs)]

pub mod access_tokens;
pub mod auth_core;
pub mod configuration;
pub mod domain;
pub mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod google;
pub mod grpc;
pub mod grpc_tls;
pub mod identity_links;
pub mod kakao;
pub mod kakao_oidc;
pub mod key_ring;
pub mod keys_at_rest;
pub mod live_sessions;
pub mod login;
pub mod metrics;
pub mod naver;
pub mod persistence;
pub mod providers;
pub mod request_id;
pub mod revocations;
pub mod rpc_observer;
pub mod sessions;
pub mod startup;
pub mod sweeper;
pub mod token_cache;
pub mod unlink;

pub use auth_core::AuthCore;
pub use configuration::Settings;
pub use startup::Application;
