//! Links the binary with packed relative relocations (DT_RELR): the PIE's
//! ~20,000 relative relocations take a few KiB instead of ~24 bytes each,
//! pages the loader reads (and keeps resident) at every start. Needs GNU ld
//! 2.38+ or lld 15+ and glibc 2.36+ (Debian bookworm has both).

fn main() {
    let linux_gnu = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu");
    if linux_gnu {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
