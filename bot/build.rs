//! Link the server with packed relative relocations (RELR, glibc ≥ 2.36 — Debian 12, the
//! image's base): a position-independent binary keeps ASLR, and the loader no longer reads
//! ~3 MiB of 24-byte relocation entries at every start, which stayed in its resident memory.
//!
//! In a release build for x86-64 Linux, also lay out first the functions that run at start
//! and while idle (`link/startup-order.txt`, written by `scripts/startup-order.py`): their
//! code then sits in a few pages instead of being spread over the whole text.

fn main() {
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let order = std::path::Path::new(&dir).join("link/startup-order.txt");
    println!("cargo:rerun-if-changed={}", order.display());
    println!("cargo:rerun-if-changed=build.rs");
    // lld takes the option, and lld links this target by default (Rust ≥ 1.90); GNU ld,
    // the default elsewhere (aarch64 among them), would refuse it.
    let lld_target = std::env::var("TARGET").as_deref() == Ok("x86_64-unknown-linux-gnu");
    if lld_target && std::env::var("PROFILE").as_deref() == Ok("release") {
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}
