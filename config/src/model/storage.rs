//! `[storage]`: where the ledger and the evidence live.

use std::path::{Path, PathBuf};

use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    /// Ledger folder; relative paths are relative to the working directory.
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    #[serde(default)]
    pub evidence: Option<EvidenceStore>,
}

impl Storage {
    pub fn data_dir(&self) -> Option<&Path> {
        self.data_dir.as_deref()
    }
}

/// Where captured artifacts are written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum EvidenceStore {
    Local {
        path: PathBuf,
    },
    S3 {
        bucket: String,
        region: String,
        #[serde(default)]
        prefix: String,
        #[serde(default)]
        kms_key_id: Option<String>,
        /// For S3-compatible stores (MinIO, LocalStack, moto).
        #[serde(default)]
        endpoint: Option<String>,
        /// Object Lock retention for every artifact (the bucket must have Object Lock on).
        #[serde(default)]
        object_lock: Option<ObjectLock>,
    },
}

/// `object_lock = { mode = "governance", retain_for = "365d" }`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectLock {
    pub mode: LockMode,
    #[serde(deserialize_with = "crate::duration::deserialize")]
    pub retain_for: Duration,
}

/// S3 Object Lock modes: governance can be lifted by someone with
/// `s3:BypassGovernanceRetention`; compliance by nobody until it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LockMode {
    Governance,
    Compliance,
}

impl EvidenceStore {
    pub fn describe(&self) -> String {
        match self {
            EvidenceStore::Local { path } => format!("local {}", path.display()),
            EvidenceStore::S3 {
                bucket,
                region,
                prefix,
                kms_key_id,
                ..
            } => {
                let kms = if kms_key_id.is_some() { ", KMS" } else { "" };
                format!("s3://{bucket}/{prefix} ({region}{kms})")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_store_is_selected_by_kind() {
        let local: Storage =
            toml::from_str("[evidence]\nkind = \"local\"\npath = \"./ev\"").unwrap();
        assert_eq!(
            local.evidence,
            Some(EvidenceStore::Local {
                path: "./ev".into()
            })
        );
        let s3: Storage = toml::from_str(
            "[evidence]\nkind = \"s3\"\nbucket = \"b\"\nregion = \"eu-west-1\"\nprefix = \"inc/\"",
        )
        .unwrap();
        assert_eq!(s3.evidence.unwrap().describe(), "s3://b/inc/ (eu-west-1)");
    }

    #[test]
    fn evidence_store_rejects_unknown_fields() {
        let err = toml::from_str::<Storage>(
            "[evidence]\nkind = \"local\"\npath = \"./ev\"\nbucket = \"x\"",
        )
        .unwrap_err();
        assert!(err.message().contains("unknown field `bucket`"), "{err}");
    }
}
