//! Declares the `loom` cfg, so that `#![cfg(loom)]` in tests/loom.rs is not an unexpected cfg.
//! (A `[lints.rust]` table cannot sit beside `lints.workspace = true`.)
fn main() {
    println!("cargo::rustc-check-cfg=cfg(loom)");
}
