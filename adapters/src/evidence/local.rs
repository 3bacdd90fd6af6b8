//! Evidence in a local folder: `<root>/<incident>/<name>`.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};
use warroom_commands::IncidentId;

use super::{EvidenceError, EvidenceStore, StoredArtifact};

/// Bytes read per step: constant memory whatever the artifact's size.
const CHUNK: usize = 256 * 1024;

pub struct LocalEvidenceStore {
    root: PathBuf,
}

impl LocalEvidenceStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalEvidenceStore { root: root.into() }
    }
}

impl EvidenceStore for LocalEvidenceStore {
    /// Guarantees: the artifact is hashed while it is written (constant memory), is fsynced
    /// before this returns, and never overwrites an earlier artifact (evidence is write-once;
    /// a second put of the same name is an error). A failed put leaves no partial file under
    /// the final name.
    /// Assumes: nobody else writes into the store's folder.
    fn put(
        &self,
        incident: &IncidentId,
        name: &str,
        content: &mut dyn Read,
    ) -> Result<StoredArtifact, EvidenceError> {
        let rel = safe_relative(name)?;
        let key = Path::new(incident.as_str()).join(rel);
        let path = self.root.join(&key);
        let location = key.display().to_string();
        let io = |source| EvidenceError::Io {
            location: location.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(io)?;
        }
        let tmp = path.with_extension("partial");
        let result = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            let (sha256, size) = copy_hashing(content, &mut file, &mut |_| {})?;
            file.sync_all()?;
            // hard_link refuses to replace an existing artifact, unlike rename.
            std::fs::hard_link(&tmp, &path)?;
            std::fs::remove_file(&tmp)?;
            if let Some(parent) = path.parent() {
                File::open(parent)?.sync_all()?;
            }
            Ok(StoredArtifact {
                sha256,
                size,
                location: location.clone(),
            })
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(io)
    }

    /// Locations are store-relative keys; an absolute path (recorded by older versions) is
    /// read as it is.
    fn open(&self, location: &str) -> std::io::Result<Box<dyn Read>> {
        let path = if Path::new(location).is_absolute() {
            PathBuf::from(location)
        } else {
            let rel = safe_relative(location).map_err(|e| {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())
            })?;
            self.root.join(rel)
        };
        Ok(Box::new(File::open(path)?))
    }
}

/// Copy `from` into `to`, returning the SHA-256 (hex) and byte count; `progress` gets the
/// bytes copied so far.
pub fn copy_hashing(
    from: &mut dyn Read,
    to: &mut dyn Write,
    progress: &mut dyn FnMut(u64),
) -> std::io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut size = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        to.write_all(&buf[..n])?;
        size += n as u64;
        progress(size);
    }
    Ok((hex::encode(hasher.finalize()), size))
}

/// Artifact names come from pod and container names: keep them inside the store.
pub(super) fn safe_relative(name: &str) -> Result<&Path, EvidenceError> {
    let path = Path::new(name);
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/'))
        && path.components().all(|c| matches!(c, Component::Normal(_)));
    if ok {
        Ok(path)
    } else {
        Err(EvidenceError::BadName(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> IncidentId {
        "INC-20261127-0001".parse().unwrap()
    }

    #[test]
    fn artifacts_are_hashed_while_stored_and_match_sha256() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalEvidenceStore::new(dir.path());
        let data = vec![7u8; 1_000_000];
        let got = store
            .put(&id(), "payments/api-7f9c/logs.txt", &mut data.as_slice())
            .unwrap();
        assert_eq!(got.size, 1_000_000);
        assert_eq!(got.sha256, hex::encode(Sha256::digest(&data)));
        assert_eq!(got.location, "INC-20261127-0001/payments/api-7f9c/logs.txt");
        let mut back = Vec::new();
        store
            .open(&got.location)
            .unwrap()
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
        let mode = std::fs::metadata(dir.path().join(&got.location)).unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
            0o600
        );
    }

    #[test]
    fn evidence_is_write_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalEvidenceStore::new(dir.path());
        store.put(&id(), "a.txt", &mut &b"first"[..]).unwrap();
        assert!(store.put(&id(), "a.txt", &mut &b"second"[..]).is_err());
        let kept = std::fs::read(dir.path().join("INC-20261127-0001/a.txt")).unwrap();
        assert_eq!(kept, b"first");
    }

    #[test]
    fn names_that_escape_the_store_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalEvidenceStore::new(dir.path());
        for bad in ["../x", "/etc/passwd", "a/../../b", "", "a b"] {
            assert!(matches!(
                store.put(&id(), bad, &mut &b"x"[..]),
                Err(EvidenceError::BadName(_))
            ));
        }
    }
}
