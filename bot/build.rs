//! Link the server with packed relative relocations (RELR, glibc ≥ 2.36 — Debian 12, the
//! image's base): a position-independent binary keeps ASLR, and the loader no longer reads
//! ~3 MiB of 24-byte relocation entries at every start, which stayed in its resident memory.
//!
//! In a release build, also lay out first the functions that run at start and while idle
//! (`link/startup-order.txt`, written by `scripts/startup-order.py`).

fn main() {
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let order = std::path::Path::new(&dir).join("link/startup-order.txt");
    println!("cargo:rerun-if-changed={}", order.display());
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("PROFILE").as_deref() == Ok("release") {
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}
