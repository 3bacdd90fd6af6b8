//! Link the server with packed relative relocations (RELR, glibc ≥ 2.36 — Debian 12, the
//! image's base): a position-independent binary keeps ASLR, and the loader no longer reads
//! ~3 MiB of 24-byte relocation entries at every start, which stayed in its resident memory.

fn main() {
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
}
