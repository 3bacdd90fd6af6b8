//! Where the ledger's segments go: an S3 bucket (S3, MinIO, moto), under
//! `<prefix><installation>/segments/<number>.seg`.
//!
//! Guarantees: a segment is written once — the upload says `If-None-Match: *`, so a second
//! writer (or a retry after an answer that was lost) cannot replace a segment that exists; a
//! retry finding the same bytes there counts as done, different bytes are an error. S3 checks
//! each upload's SHA-256 (`x-amz-checksum-sha256`). With `object_lock`, each segment is kept
//! under Object Lock retention. Assumes `s3:PutObject`, `s3:GetObject`, `s3:ListBucket` (and
//! `s3:PutObjectRetention` for retention) on the bucket. Caveat: calls block (the client runs
//! on a runtime of its own); call from a thread, not an async task.

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ObjectLockMode};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::aws::errors::describe;

/// The plan's `[ha]` bucket.
#[derive(Debug, Clone)]
pub struct SegmentBucket {
    pub bucket: String,
    pub region: String,
    /// Ends with `/` or is empty.
    pub prefix: String,
    pub endpoint: Option<String>,
    /// Object Lock: compliance (`true`) or governance, and for how long.
    pub retention: Option<(bool, Duration)>,
}

impl SegmentBucket {
    /// `s3://bucket/prefix` as the plan and the CLI write it.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    /// Parse `s3://bucket/prefix/` (the prefix may be empty).
    pub fn parse_url(url: &str) -> Option<(String, String)> {
        warroom_config::model::ha::parse_s3_url(url)
    }
}

/// Why a segment was not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutError {
    /// Another writer stored other bytes under this name: the chain moved on without this
    /// segment, and putting it again can never succeed.
    Taken(String),
    /// The bucket did not take it (unreachable, refused): the same put may be tried again.
    Failed(String),
}

impl std::fmt::Display for PutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PutError::Taken(why) | PutError::Failed(why) => f.write_str(why),
        }
    }
}

pub struct SegmentStore {
    settings: SegmentBucket,
    installation: String,
    client: aws_sdk_s3::Client,
    runtime: tokio::runtime::Runtime,
}

impl SegmentStore {
    pub fn new(settings: SegmentBucket, installation: &str) -> std::io::Result<Self> {
        let (runtime, client) =
            crate::evidence::s3::blocking_client(&settings.region, settings.endpoint.as_deref())?;
        Ok(SegmentStore {
            settings,
            installation: installation.to_owned(),
            client,
            runtime,
        })
    }

    /// Where this installation's segments are, for messages.
    pub fn location(&self) -> String {
        format!("{}{}/segments/", self.settings.url(), self.installation)
    }

    fn key(&self, name: &str) -> String {
        format!(
            "{}{}/segments/{name}",
            self.settings.prefix, self.installation
        )
    }

    /// Store segment `name`, once.
    pub fn put(&self, name: &str, bytes: &[u8]) -> Result<(), PutError> {
        let key = self.key(name);
        let sha = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes));
        let mut call = self
            .client
            .put_object()
            .bucket(&self.settings.bucket)
            .key(&key)
            .if_none_match("*")
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .checksum_sha256(sha)
            .body(ByteStream::from(bytes.to_vec()));
        if let Some((compliance, days)) = self.settings.retention {
            let until = std::time::SystemTime::now() + days;
            call = call
                .object_lock_mode(if compliance {
                    ObjectLockMode::Compliance
                } else {
                    ObjectLockMode::Governance
                })
                .object_lock_retain_until_date(aws_sdk_s3::primitives::DateTime::from(until));
        }
        match self.runtime.block_on(call.send()) {
            Ok(_) => Ok(()),
            // Already there: done if it is this very segment (an earlier answer was lost).
            Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(412) => {
                match self.get(name) {
                    Ok(there) if there == bytes => Ok(()),
                    Ok(_) => Err(PutError::Taken(format!(
                        "{}{name} already exists with other bytes: another server writes this installation's segments",
                        self.location()
                    ))),
                    Err(e) => Err(PutError::Failed(e)),
                }
            }
            Err(e) => Err(PutError::Failed(format!(
                "PutObject {}{name}: {}",
                self.location(),
                describe(&e)
            ))),
        }
    }

    /// Segment `name`'s bytes.
    pub fn get(&self, name: &str) -> Result<Vec<u8>, String> {
        let key = self.key(name);
        let call = self
            .client
            .get_object()
            .bucket(&self.settings.bucket)
            .key(&key)
            .send();
        self.runtime.block_on(async {
            let out = call
                .await
                .map_err(|e| format!("GetObject {}{name}: {}", self.location(), describe(&e)))?;
            out.body
                .collect()
                .await
                .map(|b| b.into_bytes().to_vec())
                .map_err(|e| format!("reading {}{name}: {e}", self.location()))
        })
    }

    /// The segments `names`, in that order, as (name, bytes); `progress(done, total)` after
    /// each. Stops at the first that cannot be read.
    pub fn get_all(
        &self,
        names: &[String],
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<(String, Vec<u8>)>, String> {
        let mut segments = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            segments.push((name.clone(), self.get(name)?));
            progress(i + 1, names.len());
        }
        Ok(segments)
    }

    /// Every segment name, in chain order.
    pub fn list(&self) -> Result<Vec<String>, String> {
        self.list_after(None)
    }

    /// The segment names after `after` (all when `None`), in chain order: a follower asks
    /// only for what it has not seen.
    pub fn list_after(&self, after: Option<&str>) -> Result<Vec<String>, String> {
        let prefix = self.key("");
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut call = self
                .client
                .list_objects_v2()
                .bucket(&self.settings.bucket)
                .prefix(&prefix)
                .set_start_after(after.map(|a| self.key(a)));
            if let Some(t) = &token {
                call = call.continuation_token(t);
            }
            let out = self
                .runtime
                .block_on(call.send())
                .map_err(|e| format!("ListObjectsV2 {}: {}", self.location(), describe(&e)))?;
            for o in out.contents() {
                if let Some(name) = o.key().and_then(|k| k.strip_prefix(&prefix))
                    && name.ends_with(".seg")
                {
                    names.push(name.to_owned());
                }
            }
            match out.next_continuation_token() {
                Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => break,
            }
        }
        names.sort();
        Ok(names)
    }

    /// The installations that have segments under the bucket's prefix.
    pub fn installations(settings: &SegmentBucket) -> Result<Vec<String>, String> {
        let (runtime, client) =
            crate::evidence::s3::blocking_client(&settings.region, settings.endpoint.as_deref())
                .map_err(|e| e.to_string())?;
        let out = runtime
            .block_on(
                client
                    .list_objects_v2()
                    .bucket(&settings.bucket)
                    .prefix(&settings.prefix)
                    .delimiter("/")
                    .send(),
            )
            .map_err(|e| format!("ListObjectsV2 {}: {}", settings.url(), describe(&e)))?;
        Ok(out
            .common_prefixes()
            .iter()
            .filter_map(|p| p.prefix())
            .filter_map(|p| p.strip_prefix(&settings.prefix))
            .map(|p| p.trim_end_matches('/').to_owned())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_urls_parse_with_or_without_a_prefix() {
        assert_eq!(
            SegmentBucket::parse_url("s3://b/ledger"),
            Some(("b".into(), "ledger/".into()))
        );
        assert_eq!(
            SegmentBucket::parse_url("s3://b"),
            Some(("b".into(), "".into()))
        );
        assert_eq!(SegmentBucket::parse_url("s3:///x"), None);
        assert_eq!(SegmentBucket::parse_url("https://b/x"), None);
    }
}
