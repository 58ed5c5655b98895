//! The `auth.v1` gRPC contract shared by the auth-service, the HTTP edge and
//! any internal service that calls the API: generated messages, the
//! `AuthService` client and server traits, and the encoded file descriptor set
//! that the service registers for server reflection.

/// Generated code for package `auth.v1` (see `proto/auth/v1/auth.proto`).
pub mod auth {
    pub mod v1 {
        tonic::include_proto!("auth.v1");
    }
}

pub use auth::v1;

/// Encoded `FileDescriptorSet` of `auth.v1`, for `tonic-reflection`.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("auth_v1_descriptor");
