//! Evidence kept in S3 (moto server): artifacts land under `incidents/<id>/…` with Object
//! Lock retention and the checksum S3 checked, the ledger records bucket, key, version and
//! hash, `ledger verify` re-reads and re-hashes them, and a large artifact goes up in parts
//! with memory kept flat.

use std::io::Read;

use serde_json::Value;
use sha2::{Digest, Sha256};
use warroom_adapters::evidence::EvidenceStore;
use warroom_adapters::evidence::s3::{PART, S3EvidenceStore, S3Settings};
use warroom_tests::api::Api;
use warroom_tests::moto::{AWS_ENV, Moto, drill_plan_with_aws_at};
use warroom_tests::{Scratch, Server};

const BUCKET: &str = "northwind-incident-evidence";

fn settings(moto: &Moto) -> S3Settings {
    S3Settings {
        bucket: BUCKET.into(),
        region: "eu-central-1".into(),
        prefix: "warroom/".into(),
        kms_key_id: None,
        endpoint: Some(moto.endpoint.clone()),
        retention: Some((false, std::time::Duration::from_secs(24 * 3600))),
    }
}

fn moto_env() {
    for (k, v) in AWS_ENV {
        // SAFETY: set before any thread of this test reads the environment.
        unsafe { std::env::set_var(k, v) };
    }
}

/// A reader of `len` pseudo-random bytes that never holds them all.
struct Pattern {
    left: u64,
    state: u64,
}

impl Read for Pattern {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = (out.len() as u64).min(self.left) as usize;
        for b in &mut out[..n] {
            self.state = self.state.wrapping_mul(6364136223846793005).wrapping_add(1);
            *b = (self.state >> 56) as u8;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[test]
fn a_large_artifact_goes_up_in_checked_parts_and_reads_back_byte_for_byte() {
    moto_env();
    let moto = Moto::start();
    moto.aws(&["bucket", BUCKET]);
    let store = S3EvidenceStore::new(settings(&moto)).unwrap();
    let incident = "INC-20261201-0001".parse().unwrap();
    let len = 2 * PART as u64 + 12_345;
    let expected = {
        let mut h = Sha256::new();
        let mut p = Pattern {
            left: len,
            state: 7,
        };
        std::io::copy(&mut p, &mut h).unwrap();
        hex::encode(h.finalize())
    };
    let stored = store
        .put(
            &incident,
            "R1/disk.img",
            &mut Pattern {
                left: len,
                state: 7,
            },
        )
        .unwrap();
    assert_eq!(stored.size, len);
    assert_eq!(stored.sha256, expected);
    assert!(
        stored.location.starts_with(&format!(
            "s3://{BUCKET}/warroom/incidents/INC-20261201-0001/R1/disk.img?versionId="
        )),
        "{}",
        stored.location
    );
    let (key, version) = stored
        .location
        .trim_start_matches(&format!("s3://{BUCKET}/"))
        .split_once("?versionId=")
        .unwrap();
    let object = moto.aws(&["object", BUCKET, key, version]);
    assert_eq!(object["size"], len, "{object}");
    assert_eq!(object["lock_mode"], "GOVERNANCE", "{object}");
    // S3's checksum of the parts (the digest of the three parts' digests).
    assert!(
        object["checksum_sha256"]
            .as_str()
            .is_some_and(|c| !c.is_empty()),
        "S3 kept the parts' checksum: {object}"
    );
    // Read back and re-hashed, as `ledger verify` does.
    let (again, size) = store.digest(&stored.location, &mut |_| {}).unwrap();
    assert_eq!((again, size), (expected, len));
    // A name that would leave the incident's folder is refused before anything is sent.
    assert!(
        store
            .put(&incident, "../other/x", &mut std::io::empty())
            .is_err()
    );
}

#[test]
fn captured_evidence_lands_in_the_bucket_locked_and_ledger_verify_rehashes_it() {
    let moto = Moto::start();
    moto.aws(&["bucket", BUCKET]);
    let s = Scratch::new();
    let plan = drill_plan_with_aws_at(&moto.endpoint).replace(
        "[storage.evidence]\nkind = \"local\"\npath = \"./warroom-data/evidence\"",
        &format!(
            "[storage.evidence]\nkind = \"s3\"\nbucket = \"{BUCKET}\"\nregion = \"eu-central-1\"\nprefix = \"warroom/\"\nendpoint = \"{}\"\nobject_lock = {{ mode = \"governance\", retain_for = \"30d\" }}",
            moto.endpoint
        ),
    );
    assert!(
        plan.contains("kind = \"s3\""),
        "the plan keeps evidence in S3"
    );
    let file = s.write("plan.toml", &plan);
    let server = Server::start_with_env(&s, &["--config", file.to_str().unwrap()], AWS_ENV);
    let api = Api::new(&server.addr);
    let inc = api.open_incident("evidence to S3");
    let r = api.ok("alice", "capture pod payments/api-7f9c", Some(&inc));
    assert_eq!(r["status"], "executed", "{r}");
    let evidence: Vec<Value> = api.incident(&inc)["evidence"].as_array().cloned().unwrap();
    assert!(evidence.len() >= 5, "{evidence:?}");
    for e in &evidence {
        let location = e["location"].as_str().unwrap();
        let (key, version) = location
            .trim_start_matches(&format!("s3://{BUCKET}/"))
            .split_once("?versionId=")
            .unwrap_or_else(|| panic!("bucket, key and version recorded: {location}"));
        assert!(
            key.starts_with(&format!("warroom/incidents/{inc}/R1/")),
            "{key}"
        );
        let object = moto.aws(&["object", BUCKET, key, version]);
        assert_eq!(object["lock_mode"], "GOVERNANCE", "{object}");
        assert_eq!(object["metadata"]["sha256"], e["sha256"], "{object}");
        assert_eq!(object["size"], e["size"], "{object}");
    }
    let (status, report) = api.get("/api/v1/ledger/verify");
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["intact"], true, "{report}");
}
