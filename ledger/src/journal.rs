//! The write-ahead journal that makes a batch durable with one `pwrite` + `fdatasync`.
//!
//! Why: sled 0.34's flush costs two syncs on a growing file (its `sync_file_range` plus the
//! `fdatasync` needed for real durability, which must also journal the new file size). A
//! preallocated file that is overwritten in place needs no metadata update, so one
//! `fdatasync` of it is the cheapest durable write the disk offers.
//!
//! Layout: a 4 KiB header (`MAGIC`, epoch) then records
//! `[len u32][epoch u64][crc32 u32][payload]`, little-endian, where the crc covers epoch and
//! payload. A payload is the list of key/value writes of one ledger operation, with the full
//! new values, so replaying a record twice gives the same state. Replay reads records of the
//! header's epoch until the first that does not check out (a torn tail was never
//! acknowledged). A checkpoint flushes sled, then bumps the epoch, which retires every record.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Bytes preallocated for the journal; a checkpoint happens well before it fills.
pub const CAPACITY: u64 = 32 * 1024 * 1024;
const HEADER: u64 = 4096;
const MAGIC: &[u8; 8] = b"WRLEDJ01";
const RECORD_HEAD: usize = 16;

/// The trees a journal record can write to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TreeId {
    Incidents = 0,
    Timeline = 1,
    Evidence = 2,
    Meta = 3,
    Idempotency = 4,
    Fingerprints = 5,
}

impl TreeId {
    fn from_byte(b: u8) -> Option<TreeId> {
        Some(match b {
            0 => TreeId::Incidents,
            1 => TreeId::Timeline,
            2 => TreeId::Evidence,
            3 => TreeId::Meta,
            4 => TreeId::Idempotency,
            5 => TreeId::Fingerprints,
            _ => return None,
        })
    }
}

/// One key/value write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Put {
    pub tree: TreeId,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

pub struct Journal {
    file: File,
    epoch: u64,
    offset: u64,
    buf: Vec<u8>,
}

impl Journal {
    /// Open or create the journal at `path`, returning it with the operations to replay.
    pub fn open(path: &Path) -> std::io::Result<(Journal, Vec<Vec<Put>>)> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let len = file.metadata()?.len();
        let mut header = [0u8; 16];
        let fresh = len < HEADER || {
            file.read_exact_at(&mut header, 0)?;
            &header[..8] != MAGIC
        };
        if fresh {
            if len > 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{} is not a warroom journal", path.display()),
                ));
            }
            preallocate(&file, path)?;
            let mut j = Journal {
                file,
                epoch: 0,
                offset: HEADER,
                buf: Vec::new(),
            };
            j.write_header(1)?;
            return Ok((j, Vec::new()));
        }
        if len < CAPACITY {
            preallocate(&file, path)?;
        }
        let epoch = u64::from_le_bytes(header[8..16].try_into().unwrap_or_default());
        let mut j = Journal {
            file,
            epoch,
            offset: HEADER,
            buf: Vec::new(),
        };
        let ops = j.replay()?;
        Ok((j, ops))
    }

    /// Bytes of records since the last checkpoint.
    pub fn used(&self) -> u64 {
        self.offset - HEADER
    }

    /// Whether `extra` more bytes fit before a checkpoint is needed.
    pub fn fits(&self, extra: usize) -> bool {
        self.offset + extra as u64 <= CAPACITY
    }

    /// Append one record per operation and make them durable with one write and one sync.
    pub fn append<P: AsRef<[Put]>>(&mut self, ops: &[P]) -> std::io::Result<()> {
        self.buf.clear();
        for puts in ops {
            encode_record(self.epoch, puts.as_ref(), &mut self.buf);
        }
        if !self.fits(self.buf.len()) {
            return Err(std::io::Error::other("journal full: checkpoint first"));
        }
        self.file.write_all_at(&self.buf, self.offset)?;
        self.file.sync_data()?;
        self.offset += self.buf.len() as u64;
        Ok(())
    }

    /// Size a batch would take, to decide on a checkpoint before writing it.
    pub fn encoded_len<P: AsRef<[Put]>>(ops: &[P]) -> usize {
        ops.iter()
            .map(|puts| RECORD_HEAD + payload_len(puts.as_ref()))
            .sum()
    }

    /// Retire every record: call only after sled has made all of them durable.
    pub fn reset(&mut self) -> std::io::Result<()> {
        self.write_header(self.epoch + 1)?;
        self.offset = HEADER;
        Ok(())
    }

    fn write_header(&mut self, epoch: u64) -> std::io::Result<()> {
        let mut header = [0u8; 16];
        header[..8].copy_from_slice(MAGIC);
        header[8..].copy_from_slice(&epoch.to_le_bytes());
        self.file.write_all_at(&header, 0)?;
        self.file.sync_data()?;
        self.epoch = epoch;
        Ok(())
    }

    fn replay(&mut self) -> std::io::Result<Vec<Vec<Put>>> {
        let mut ops = Vec::new();
        let mut head = [0u8; RECORD_HEAD];
        while self.offset + RECORD_HEAD as u64 <= CAPACITY {
            self.file.read_exact_at(&mut head, self.offset)?;
            let len = u32::from_le_bytes(head[0..4].try_into().unwrap_or_default()) as u64;
            let epoch = u64::from_le_bytes(head[4..12].try_into().unwrap_or_default());
            let crc = u32::from_le_bytes(head[12..16].try_into().unwrap_or_default());
            let end = self.offset + RECORD_HEAD as u64 + len;
            if epoch != self.epoch || len == 0 || end > CAPACITY {
                break;
            }
            let mut payload = vec![0u8; len as usize];
            self.file
                .read_exact_at(&mut payload, self.offset + RECORD_HEAD as u64)?;
            if checksum(epoch, &payload) != crc {
                break;
            }
            match decode_payload(&payload) {
                Some(puts) => ops.push(puts),
                None => break,
            }
            self.offset = end;
        }
        Ok(ops)
    }
}

/// Written zeros, not `fallocate`: writing into unwritten extents would still change
/// metadata on every sync.
fn preallocate(file: &File, path: &Path) -> std::io::Result<()> {
    let zeros = vec![0u8; 1024 * 1024];
    let mut at = file.metadata()?.len();
    while at < CAPACITY {
        let n = zeros.len().min((CAPACITY - at) as usize);
        file.write_all_at(&zeros[..n], at)?;
        at += n as u64;
    }
    file.sync_all()?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn checksum(epoch: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&epoch.to_le_bytes());
    h.update(payload);
    h.finalize()
}

fn payload_len(puts: &[Put]) -> usize {
    4 + puts
        .iter()
        .map(|p| 1 + 4 + p.key.len() + 4 + p.value.len())
        .sum::<usize>()
}

fn encode_record(epoch: u64, puts: &[Put], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0u8; RECORD_HEAD]);
    out.extend_from_slice(&(puts.len() as u32).to_le_bytes());
    for p in puts {
        out.push(p.tree as u8);
        out.extend_from_slice(&(p.key.len() as u32).to_le_bytes());
        out.extend_from_slice(&p.key);
        out.extend_from_slice(&(p.value.len() as u32).to_le_bytes());
        out.extend_from_slice(&p.value);
    }
    let payload = &out[start + RECORD_HEAD..];
    let len = payload.len() as u32;
    let crc = checksum(epoch, payload);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 12].copy_from_slice(&epoch.to_le_bytes());
    out[start + 12..start + 16].copy_from_slice(&crc.to_le_bytes());
}

fn decode_payload(mut p: &[u8]) -> Option<Vec<Put>> {
    fn take<'a>(p: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (a, b) = (p.get(..n)?, p.get(n..)?);
        *p = b;
        Some(a)
    }
    fn u32_at(p: &mut &[u8]) -> Option<usize> {
        Some(u32::from_le_bytes(take(p, 4)?.try_into().ok()?) as usize)
    }
    let count = u32_at(&mut p)?;
    let mut puts = Vec::with_capacity(count.min(16));
    for _ in 0..count {
        let tree = TreeId::from_byte(*take(&mut p, 1)?.first()?)?;
        let klen = u32_at(&mut p)?;
        let key = take(&mut p, klen)?.to_vec();
        let vlen = u32_at(&mut p)?;
        let value = take(&mut p, vlen)?.to_vec();
        puts.push(Put { tree, key, value });
    }
    p.is_empty().then_some(puts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(n: u8) -> Vec<Put> {
        vec![
            Put {
                tree: TreeId::Incidents,
                key: vec![n],
                value: vec![n; 40],
            },
            Put {
                tree: TreeId::Timeline,
                key: vec![n, 1],
                value: vec![n; 300],
            },
        ]
    }

    #[test]
    fn records_survive_reopening_until_a_checkpoint_retires_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let (mut j, ops) = Journal::open(&path).unwrap();
        assert!(ops.is_empty());
        j.append(&[op(1), op(2)]).unwrap();
        j.append(&[op(3)]).unwrap();
        drop(j);
        let (mut j, ops) = Journal::open(&path).unwrap();
        assert_eq!(ops, vec![op(1), op(2), op(3)]);
        j.reset().unwrap();
        j.append(&[op(4)]).unwrap();
        drop(j);
        let (_, ops) = Journal::open(&path).unwrap();
        assert_eq!(ops, vec![op(4)], "records of the retired epoch are ignored");
    }

    #[test]
    fn a_torn_tail_is_dropped_and_everything_before_it_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let (mut j, _) = Journal::open(&path).unwrap();
        j.append(&[op(1)]).unwrap();
        let torn_at = HEADER + Journal::encoded_len(&[op(1)]) as u64;
        j.append(&[op(2)]).unwrap();
        drop(j);
        // Damage the second record's payload as a crash mid-write would.
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.write_all_at(b"garbage", torn_at + 30).unwrap();
        let (_, ops) = Journal::open(&path).unwrap();
        assert_eq!(ops, vec![op(1)]);
    }

    #[test]
    fn a_foreign_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        std::fs::write(&path, b"hello").unwrap();
        assert!(Journal::open(&path).is_err());
    }
}
