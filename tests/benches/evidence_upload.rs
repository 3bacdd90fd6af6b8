//! Evidence upload of a large artifact to S3 (moto server on loopback, bucket with Object Lock):
//! throughput and the process's peak RSS, which must stay flat as the artifact grows; and in
//! the same run warroom's SHA-256 hashing of the same file side by side with
//! `openssl dgst -sha256`.
//!
//! Run: `cargo bench -p warroom-tests --bench evidence_upload` (moto from `./scripts/test.sh`).
//! Options: `-- --mib 1024 --small-mib 64 --runs 3 --json FILE`.
//!
//! The file is read from the page cache (each tool reads it once untimed first), so the
//! hashing figures compare SHA-256 implementations, not the disk. The upload's throughput is
//! bounded by moto (Python, checking each part's checksum), not by warroom: the figure that
//! matters there is the peak RSS, which must not depend on the artifact's size.

use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

use warroom_adapters::evidence::EvidenceStore;
use warroom_adapters::evidence::copy_hashing;
use warroom_adapters::evidence::s3::{PART, S3EvidenceStore, S3Settings};
use warroom_tests::Scratch;
use warroom_tests::load::{arg, save_results};
use warroom_tests::moto::{AWS_ENV, Moto};

const MIB: u64 = 1024 * 1024;
const BUCKET: &str = "bench-evidence";

/// `len` pseudo-random bytes into `path`, a MiB at a time.
fn write_file(path: &std::path::Path, len: u64) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut block = vec![0u8; MIB as usize];
    for _ in 0..len / MIB {
        for chunk in block.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        f.write_all(&block).unwrap();
    }
    f.flush().unwrap();
}

/// The process's peak resident set since the last reset, in MiB (`VmHWM`).
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// Start a new peak from the current resident set (Linux: `5` to clear_refs).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn best(runs: usize, mut f: impl FnMut() -> String) -> (Duration, String) {
    let mut best = Duration::MAX;
    let mut out = String::new();
    for _ in 0..runs {
        let t = Instant::now();
        out = f();
        best = best.min(t.elapsed());
    }
    (best, out)
}

fn openssl(path: &std::path::Path) -> String {
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-r"])
        .arg(path)
        .output()
        .expect("openssl runs (apt install openssl)");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn ours(path: &std::path::Path) -> String {
    let mut f = std::fs::File::open(path).unwrap();
    copy_hashing(&mut f, &mut std::io::sink(), &mut |_| {})
        .unwrap()
        .0
}

fn main() {
    let mib: u64 = arg("--mib").unwrap_or(1024);
    let small: u64 = arg("--small-mib").unwrap_or(64);
    let runs: usize = arg("--runs").unwrap_or(3);
    for (k, v) in AWS_ENV {
        // SAFETY: set before any other thread exists.
        unsafe { std::env::set_var(k, v) };
    }
    let s = Scratch::new();
    let path = s.path().join("artifact.bin");
    eprintln!("writing a {mib} MiB artifact …");
    write_file(&path, mib * MIB);
    let gib = (mib * MIB) as f64 / 1e9;

    // Hashing, side by side, from the page cache.
    let _ = openssl(&path);
    let _ = ours(&path);
    let (t_openssl, h_openssl) = best(runs, || openssl(&path));
    let (t_ours, h_ours) = best(runs, || ours(&path));
    assert_eq!(h_openssl, h_ours, "both hash the same bytes");

    // Upload: a small artifact, then the large one; the peak RSS of each from a reset.
    let moto = Moto::start();
    moto.aws(&["bucket", BUCKET]);
    let store = S3EvidenceStore::new(S3Settings {
        bucket: BUCKET.into(),
        region: "eu-central-1".into(),
        prefix: "bench/".into(),
        kms_key_id: None,
        endpoint: Some(moto.endpoint.clone()),
        retention: Some((false, Duration::from_secs(24 * 3600))),
    })
    .unwrap();
    let incident = "INC-20261201-0001".parse().unwrap();
    let upload = |len: u64, name: &str| {
        let mut f = std::fs::File::open(&path).unwrap().take(len);
        reset_peak();
        let before = peak_rss_mib();
        let t = Instant::now();
        let stored = store.put(&incident, name, &mut f).unwrap();
        let took = t.elapsed();
        assert_eq!(stored.size, len);
        (took, before, peak_rss_mib(), stored)
    };
    let (t_small, base_small, peak_small, _) = upload(small * MIB, "small.bin");
    let (t_large, base_large, peak_large, stored) = upload(mib * MIB, "large.bin");
    assert_eq!(stored.sha256, h_ours, "S3 has the bytes that were hashed");

    println!("\nevidence hashing, {mib} MiB from the page cache (best of {runs}):");
    println!("| tool | time | throughput |");
    println!("|---|---:|---:|");
    for (tool, t) in [
        ("openssl dgst -sha256", t_openssl),
        ("warroom (sha2, streaming)", t_ours),
    ] {
        println!(
            "| {tool} | {:.2} s | {:.2} GB/s |",
            t.as_secs_f64(),
            gib / t.as_secs_f64()
        );
    }
    println!(
        "ratio warroom / openssl throughput: {:.2}× (goal ≥ 0.75×)",
        t_openssl.as_secs_f64() / t_ours.as_secs_f64()
    );
    println!(
        "\nevidence upload to moto S3 (Object Lock, SHA-256 checked per part, {} MiB parts):",
        PART as u64 / MIB
    );
    println!("| artifact | time | throughput | RSS before | peak RSS |");
    println!("|---:|---:|---:|---:|---:|");
    for (size, t, before, peak) in [
        (small, t_small, base_small, peak_small),
        (mib, t_large, base_large, peak_large),
    ] {
        println!(
            "| {size} MiB | {:.1} s | {:.0} MB/s | {before:.1} MiB | {peak:.1} MiB |",
            t.as_secs_f64(),
            (size * MIB) as f64 / 1e6 / t.as_secs_f64()
        );
    }
    println!(
        "peak RSS growth from {small} MiB to {mib} MiB: {:+.1} MiB (flat: one part in flight)",
        peak_large - peak_small
    );
    let upload = |size: u64, t: Duration, peak: f64| {
        serde_json::json!({
            "mib": size, "seconds": t.as_secs_f64(),
            "mb_per_second": (size * MIB) as f64 / 1e6 / t.as_secs_f64(), "peak_rss_mib": peak,
        })
    };
    save_results(&serde_json::json!({
        "hash_mib": mib,
        "openssl_gb_per_second": gib / t_openssl.as_secs_f64(),
        "warroom_gb_per_second": gib / t_ours.as_secs_f64(),
        "uploads": [upload(small, t_small, peak_small), upload(mib, t_large, peak_large)],
    }));
}
