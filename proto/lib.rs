//! The `auth.v1` gRPC contract shared by the auth-service, the HTTP edge and
//! any internal service that calls the API: generated messages, the
//! `AuthService` client and server traits, and the encoded file descriptor set
//! that the service registers for server reflection; and the rest of the
//! wire contract both sides must agree on: the error reason words
//! ([`reason`]), the browser's `?error=` codes ([`error_code`]), the
//! request-id key and shape ([`request_id`]), and the
//! access-token claims with their validation ([`claims`]), the providers'
//! path names ([`provider`]); and the codec
//! both sides use ([`codec`]: prost's, with small message buffers).

/// Generated code for package `auth.v1` (see `proto/auth/v1/auth.proto`).
pub mod auth {
    pub mod v1 {
        tonic::include_proto!("auth.v1");
    }
}

pub use auth::v1;

/// Encoded `FileDescriptorSet` of `auth.v1`, for `tonic-reflection`.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("auth_v1_descriptor");

pub mod claims;
pub mod codec;
pub mod error_code;
pub mod provider;
pub mod reason;
pub mod request_id;

pub use claims::{AccessClaims, access_token_validation};
pub use error_code::ErrorCode;
pub use reason::{AUTH_ERROR_KEY, Reason};
pub use request_id::{REQUEST_ID_KEY, RequestId};
