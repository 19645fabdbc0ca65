//! Links the kernel binary with its own linker script (bare-metal target only; on the host the
//! binary is a stub so that `cargo check` and rust-analyzer work), and points the kernel at the
//! initial program archive to embed.
//!
//! `cargo xtask` builds the user programs, packs them into an archive and passes its path in
//! `LUX9_INITRD`. Without it (plain `cargo build`/`check`) an empty archive is embedded and the
//! kernel says at boot that it has no programs.

use std::path::PathBuf;

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rerun-if-changed=linker.ld");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=LUX9_INITRD");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        println!("cargo:rustc-link-arg-bins=-T{dir}/linker.ld");
        println!("cargo:rustc-link-arg-bins=--no-dynamic-linker");
    }
    let archive = match std::env::var_os("LUX9_INITRD") {
        Some(path) => {
            let path = PathBuf::from(path);
            println!("cargo:rerun-if-changed={}", path.display());
            path
        }
        None => {
            let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
            let path = out.join("empty-initrd.lux9");
            // The archive header (see lux9_abi::archive): magic, zero entries, reserved.
            let mut empty = b"LUX9ARC1".to_vec();
            empty.extend_from_slice(&[0; 8]);
            std::fs::write(&path, empty).expect("writing the empty archive");
            path
        }
    };
    println!("cargo:rustc-env=LUX9_INITRD_FILE={}", archive.display());
}
