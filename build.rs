//! Compiles `proto/auth/v1/auth.proto` with tonic-prost-build, using a vendored
//! `protoc` so that a fresh machine needs nothing installed, and writes the
//! file descriptor set that the auth-service serves through gRPC reflection.

use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: a build script is single-threaded here; prost-build reads PROTOC.
    unsafe { env::set_var("PROTOC", protoc) };
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        // Small message buffers (see proto/codec.rs).
        .codec_path("crate::codec::SmallBufferCodec")
        .file_descriptor_set_path(out_dir.join("auth_v1_descriptor.bin"))
        .compile_protos(&["proto/auth/v1/auth.proto"], &["proto"])?;
    println!("cargo:rerun-if-changed=proto/auth/v1/auth.proto");
    Ok(())
}
