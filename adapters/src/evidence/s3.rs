//! Evidence in S3 (`[storage.evidence] kind = "s3"`): each artifact streamed to
//! `<prefix>incidents/<incident>/<name>` with its SHA-256 sent to S3 and checked by S3 on
//! arrival, multipart above 8 MiB, Object Lock retention and SSE-KMS when the plan asks.
//!
//! Guarantees: memory stays flat (one part of at most 8 MiB in flight); S3 refuses a part or
//! object whose bytes do not match the SHA-256 warroom computed (`x-amz-checksum-sha256`),
//! and warroom compares the checksum S3 reports for the completed object with its own before
//! recording anything; a failed multipart upload is aborted. The ledger records bucket, key,
//! version id and the whole artifact's SHA-256 (`s3://bucket/key?versionId=…`), and
//! `ledger verify` re-reads that version and re-hashes it. Assumes `s3:PutObject`,
//! `s3:GetObject`, `s3:GetObjectVersion` (and `s3:PutObjectRetention`, `kms:GenerateDataKey`
//! when used) and, for retention, a bucket created with Object Lock. Caveat: the S3 client
//! runs on a small runtime of its own, so callers block (they already run off the async
//! threads: artifacts are stored in `spawn_blocking`).

use std::io::Read;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart, ObjectLockMode,
    ServerSideEncryption,
};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use warroom_commands::IncidentId;

use super::{EvidenceError, EvidenceStore, StoredArtifact};
use crate::aws::errors::describe;

/// Each part (and the largest single upload).
pub const PART: usize = 8 * 1024 * 1024;

/// What the plan says about the bucket.
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub bucket: String,
    pub region: String,
    pub prefix: String,
    pub kms_key_id: Option<String>,
    pub endpoint: Option<String>,
    /// Object Lock: compliance (`true`) or governance, and for how long.
    pub retention: Option<(bool, Duration)>,
}

pub struct S3EvidenceStore {
    settings: S3Settings,
    client: aws_sdk_s3::Client,
    runtime: Option<tokio::runtime::Runtime>,
}

/// SSE-KMS and Object Lock retention, as the plan asks, on a PutObject or
/// CreateMultipartUpload call.
macro_rules! as_the_plan_asks {
    ($store:expr, $call:expr) => {{
        let mut call = $call;
        if let Some(k) = &$store.settings.kms_key_id {
            call = call
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(k);
        }
        if let Some((mode, until)) = $store.retain_until() {
            call = call
                .object_lock_mode(mode)
                .object_lock_retain_until_date(until);
        }
        call
    }};
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Read until `buf` is full or the stream ends; how many bytes were read.
fn fill(content: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match content.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// An S3 client on a small runtime of its own, for callers that block (built on another
/// thread, so this may be called from async code). `endpoint`: an S3-compatible store
/// (MinIO, moto), addressed path-style.
pub fn blocking_client(
    region: &str,
    endpoint: Option<&str>,
) -> std::io::Result<(tokio::runtime::Runtime, aws_sdk_s3::Client)> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("warroom-s3")
        .enable_all()
        .build()?;
    let handle = runtime.handle().clone();
    let region = region.to_owned();
    let endpoint = endpoint.map(str::to_owned);
    let client = std::thread::spawn(move || {
        handle.block_on(async move {
            let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_types::region::Region::new(region))
                .http_client(crate::aws::http_client())
                .timeout_config(crate::aws::timeouts());
            if let Some(e) = &endpoint {
                loader = loader.endpoint_url(e);
            }
            let base = loader.load().await;
            let conf = aws_sdk_s3::config::Builder::from(&base)
                .force_path_style(endpoint.is_some())
                .build();
            aws_sdk_s3::Client::from_conf(conf)
        })
    })
    .join()
    .map_err(|_| std::io::Error::other("the S3 client could not be built"))?;
    Ok((runtime, client))
}

impl S3EvidenceStore {
    /// The client, on a runtime of its own (built on another thread, so this may be called
    /// from async code).
    pub fn new(settings: S3Settings) -> std::io::Result<Self> {
        let (runtime, client) = blocking_client(&settings.region, settings.endpoint.as_deref())?;
        Ok(S3EvidenceStore {
            settings,
            client,
            runtime: Some(runtime),
        })
    }

    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        match &self.runtime {
            Some(rt) => rt.block_on(f),
            None => unreachable!("the runtime lives as long as the store"),
        }
    }

    fn key(&self, incident: &IncidentId, name: &str) -> String {
        format!("{}incidents/{incident}/{name}", self.settings.prefix)
    }

    fn failed(&self, key: &str, what: impl std::fmt::Display) -> EvidenceError {
        EvidenceError::Io {
            location: format!("s3://{}/{key}", self.settings.bucket),
            source: std::io::Error::other(what.to_string()),
        }
    }

    fn retain_until(&self) -> Option<(ObjectLockMode, aws_sdk_s3::primitives::DateTime)> {
        let (compliance, days) = self.settings.retention?;
        let until = std::time::SystemTime::now() + days;
        Some((
            if compliance {
                ObjectLockMode::Compliance
            } else {
                ObjectLockMode::Governance
            },
            aws_sdk_s3::primitives::DateTime::from(until),
        ))
    }

    /// One object of at most [`PART`] bytes.
    async fn put_single(&self, key: &str, bytes: Vec<u8>) -> Result<(String, String), String> {
        let digest = Sha256::digest(&bytes);
        let call = as_the_plan_asks!(
            self,
            self.client
                .put_object()
                .bucket(&self.settings.bucket)
                .key(key)
                .checksum_algorithm(ChecksumAlgorithm::Sha256)
                .checksum_sha256(b64(&digest))
                .metadata("sha256", hex::encode(digest))
                .body(ByteStream::from(bytes))
        );
        let out = call.send().await.map_err(|e| describe(&e))?;
        let version = out.version_id().unwrap_or_default().to_owned();
        Ok((version, b64(&digest)))
    }

    /// Parts of [`PART`] bytes; the first already read.
    async fn put_multipart(
        &self,
        key: &str,
        first: Vec<u8>,
        content: &mut dyn Read,
        whole: &mut Sha256,
        size: &mut u64,
    ) -> Result<(String, String), String> {
        let create = as_the_plan_asks!(
            self,
            self.client
                .create_multipart_upload()
                .bucket(&self.settings.bucket)
                .key(key)
                .checksum_algorithm(ChecksumAlgorithm::Sha256)
        );
        let upload = create.send().await.map_err(|e| describe(&e))?;
        let id = upload.upload_id().unwrap_or_default().to_owned();
        let result = self.parts(key, &id, first, content, whole, size).await;
        if result.is_err() {
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(&self.settings.bucket)
                .key(key)
                .upload_id(&id)
                .send()
                .await;
        }
        result
    }

    async fn parts(
        &self,
        key: &str,
        id: &str,
        first: Vec<u8>,
        content: &mut dyn Read,
        whole: &mut Sha256,
        size: &mut u64,
    ) -> Result<(String, String), String> {
        let mut done = Vec::new();
        let mut digests = Vec::new();
        let mut next = Some(first);
        let mut number = 1;
        while let Some(bytes) = next.take() {
            let digest = Sha256::digest(&bytes);
            digests.extend_from_slice(&digest);
            let part = self
                .client
                .upload_part()
                .bucket(&self.settings.bucket)
                .key(key)
                .upload_id(id)
                .part_number(number)
                .checksum_sha256(b64(&digest))
                .body(ByteStream::from(bytes))
                .send()
                .await
                .map_err(|e| format!("part {number}: {}", describe(&e)))?;
            done.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(part.e_tag().map(str::to_owned))
                    .checksum_sha256(b64(&digest))
                    .build(),
            );
            number += 1;
            let mut buf = vec![0u8; PART];
            let n = fill(content, &mut buf).map_err(|e| format!("reading the artifact: {e}"))?;
            if n > 0 {
                buf.truncate(n);
                whole.update(&buf);
                *size += n as u64;
                next = Some(buf);
            }
        }
        let parts = done.len();
        let out = self
            .client
            .complete_multipart_upload()
            .bucket(&self.settings.bucket)
            .key(key)
            .upload_id(id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(done))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| describe(&e))?;
        // S3's checksum of a multipart object: the SHA-256 of the parts' digests, "-N".
        let expected = format!("{}-{parts}", b64(&Sha256::digest(&digests)));
        let version = out.version_id().unwrap_or_default().to_owned();
        // Retention asked for at the start is set again on the version itself: not every
        // S3-compatible store applies it from the upload's first request.
        if let Some((mode, until)) = self.retain_until() {
            self.client
                .put_object_retention()
                .bucket(&self.settings.bucket)
                .key(key)
                .version_id(&version)
                .retention(
                    aws_sdk_s3::types::ObjectLockRetention::builder()
                        .mode(mode.as_str().into())
                        .retain_until_date(until)
                        .build(),
                )
                .checksum_algorithm(ChecksumAlgorithm::Sha256)
                .send()
                .await
                .map_err(|e| format!("setting retention: {}", describe(&e)))?;
        }
        Ok((version, expected))
    }

    /// S3's own checksum of the stored version, when it reports one.
    async fn reported(&self, key: &str, version: &str) -> Result<Option<String>, String> {
        let mut head = self
            .client
            .head_object()
            .bucket(&self.settings.bucket)
            .key(key)
            .checksum_mode(ChecksumMode::Enabled);
        if !version.is_empty() {
            head = head.version_id(version);
        }
        let out = head.send().await.map_err(|e| describe(&e))?;
        Ok(out.checksum_sha256().map(str::to_owned))
    }

    /// `s3://bucket/key?versionId=…` → (key, version).
    fn parse<'a>(&self, location: &'a str) -> Option<(&'a str, &'a str)> {
        let rest = location.strip_prefix("s3://")?;
        let (bucket, key) = rest.split_once('/')?;
        if bucket != self.settings.bucket {
            return None;
        }
        Some(match key.split_once("?versionId=") {
            Some((k, v)) => (k, v),
            None => (key, ""),
        })
    }
}

impl Drop for S3EvidenceStore {
    fn drop(&mut self) {
        // Dropping a runtime waits for its threads, which async code may not do.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl EvidenceStore for S3EvidenceStore {
    fn put(
        &self,
        incident: &IncidentId,
        name: &str,
        content: &mut dyn Read,
    ) -> Result<StoredArtifact, EvidenceError> {
        super::local::safe_relative(name)?;
        let key = self.key(incident, name);
        let mut first = vec![0u8; PART];
        let n = fill(content, &mut first).map_err(|e| self.failed(&key, e))?;
        first.truncate(n);
        let mut whole = Sha256::new();
        whole.update(&first);
        let mut size = n as u64;
        // One more byte tells whether it fits in a single object.
        let mut probe = [0u8; 1];
        let more = fill(content, &mut probe).map_err(|e| self.failed(&key, e))?;
        let (version, expected) = if more == 0 {
            self.block_on(self.put_single(&key, first))
        } else {
            // The probed byte starts the next part, counted and hashed with it.
            let mut chained = std::io::Cursor::new(probe).chain(content);
            self.block_on(self.put_multipart(&key, first, &mut chained, &mut whole, &mut size))
        }
        .map_err(|e| self.failed(&key, e))?;
        match self.block_on(self.reported(&key, &version)) {
            Ok(Some(got)) if !same_checksum(&got, &expected) => {
                return Err(self.failed(
                    &key,
                    format!("S3 reports checksum {got}, warroom sent {expected}: the artifact is not recorded"),
                ));
            }
            Ok(_) => {}
            Err(e) => return Err(self.failed(&key, format!("checking the stored object: {e}"))),
        }
        let location = if version.is_empty() {
            format!("s3://{}/{key}", self.settings.bucket)
        } else {
            format!("s3://{}/{key}?versionId={version}", self.settings.bucket)
        };
        Ok(StoredArtifact {
            sha256: hex::encode(whole.finalize()),
            size,
            location,
        })
    }

    fn open(&self, location: &str) -> std::io::Result<Box<dyn Read>> {
        let (key, version) = self.parse(location).ok_or_else(|| {
            std::io::Error::other(format!(
                "{location} is not in bucket {}",
                self.settings.bucket
            ))
        })?;
        let mut get = self
            .client
            .get_object()
            .bucket(&self.settings.bucket)
            .key(key);
        if !version.is_empty() {
            get = get.version_id(version);
        }
        let out = self
            .block_on(get.send())
            .map_err(|e| std::io::Error::other(describe(&e)))?;
        Ok(Box::new(BlockingBody {
            handle: self
                .runtime
                .as_ref()
                .map(|r| r.handle().clone())
                .ok_or_else(|| std::io::Error::other("the S3 store is shut down"))?,
            body: out.body,
            buf: bytes::Bytes::new(),
        }))
    }
}

/// S3 reports a multipart object's checksum as the digest of its parts' digests with `-N`
/// (the number of parts); some S3-compatible stores leave the suffix out.
fn same_checksum(reported: &str, expected: &str) -> bool {
    let base = |c: &str| c.split('-').next().unwrap_or(c).to_owned();
    reported == expected || (!reported.contains('-') && base(expected) == reported)
}

/// An S3 body read chunk by chunk from synchronous code.
struct BlockingBody {
    handle: tokio::runtime::Handle,
    body: ByteStream,
    buf: bytes::Bytes,
}

impl Read for BlockingBody {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.buf.is_empty() {
            match self.handle.block_on(self.body.next()) {
                Some(Ok(b)) => self.buf = b,
                Some(Err(e)) => return Err(std::io::Error::other(e)),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        let _ = self.buf.split_to(n);
        Ok(n)
    }
}
