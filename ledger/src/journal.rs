//! The write-ahead journal that makes a batch durable with one `pwrite` + `fdatasync`.
//!
//! Why: sled 0.34's flush costs two syncs on a growing file (its `sync_file_range` plus the
//! `fdatasync` needed for real durability, which must also journal the new file size). A
//! preallocated file that is overwritten in place needs no metadata update, so one
//! `fdatasync` of it is the cheapest durable write the disk offers.
//!
//! Layout (format 2): a 4 KiB header area holding two copies of the header (at 0 and 512:
//! `MAGIC`, epoch, base sequence number, crc32), then one frame per batch. A frame is
//! `[head][head][payload][payload]`, both copies written by the same `pwrite`; a head is
//! `[FRAME_MAGIC u32][len u32][epoch u64][seq u64][payload crc u32][head crc u32]`,
//! little-endian, and each payload copy is padded to 8 bytes. Batches are numbered without
//! gaps across checkpoints; the header's base is the first number of the current epoch.
//!
//! Why two copies: a torn write of the last batch and a flipped bit in it look alike, but a
//! single damaged byte leaves one copy whole, so an acknowledged batch is never mistaken
//! for a torn one. Only a frame that no copy can restore *and* that no later frame of the
//! epoch follows is a torn tail (it was never acknowledged); anything else — a damaged frame
//! before valid ones, a gap in the numbers, a damaged header — is named as damage with the
//! file and offset, and nothing is replayed.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Bytes preallocated for the journal; a checkpoint happens well before it fills.
pub const CAPACITY: u64 = 32 * 1024 * 1024;
const HEADER: u64 = 4096;
const MAGIC: &[u8; 8] = b"WRLEDJ02";
const OLD_MAGIC: &[u8; 8] = b"WRLEDJ01";
const HEADER_COPIES: [usize; 2] = [0, 512];
const HEADER_LEN: usize = 28;
const FRAME_MAGIC: u32 = u32::from_le_bytes(*b"WRF2");
const HEAD: usize = 32;

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

/// Why a journal cannot be used: each names the file and, where there is one, the offset.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is damaged at offset {offset}: {what}")]
    Damaged {
        path: PathBuf,
        offset: u64,
        what: String,
    },
}

/// One batch read back from the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub seq: u64,
    pub ops: Vec<Vec<Put>>,
}

/// What reading the journal found.
#[derive(Debug, Default)]
pub struct Replay {
    pub batches: Vec<Batch>,
    /// Number of the first batch since the last checkpoint.
    pub base_seq: u64,
    /// Damage that a second copy made good, to report (nothing was lost).
    pub repaired: Vec<String>,
    /// Offset of an incomplete last write that was dropped (it was never acknowledged).
    pub torn_tail: Option<u64>,
}

impl Replay {
    /// Number of the last batch the journal holds (or the last checkpointed one).
    pub fn last_seq(&self) -> u64 {
        self.batches
            .last()
            .map(|b| b.seq)
            .unwrap_or(self.base_seq.saturating_sub(1))
    }
}

pub struct Journal {
    file: File,
    epoch: u64,
    next_seq: u64,
    offset: u64,
    buf: Vec<u8>,
}

impl Journal {
    /// Create a journal at `path` if there is none: built aside as `<path>.partial`, synced,
    /// then renamed, so a crash leaves either no journal or a whole one. A leftover
    /// `.partial` from such a crash is replaced.
    pub fn create_if_missing(path: &Path) -> Result<bool, JournalError> {
        let io = |source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        };
        if path.exists() {
            return Ok(false);
        }
        let partial = path.with_extension("partial");
        let _ = std::fs::remove_file(&partial);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&partial)
            .map_err(io)?;
        preallocate(&file).map_err(io)?;
        write_header(&file, 1, 1).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&partial, path).map_err(io)?;
        if let Some(dir) = path.parent() {
            File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        Ok(true)
    }

    /// Open an existing journal, returning it with the batches to replay.
    pub fn open(path: &Path) -> Result<(Journal, Replay), JournalError> {
        let io = |source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(io)?;
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
        let len = file.metadata().map_err(io)?.len();
        // Read through a window, not whole: a 32 MiB journal held at once was most of the
        // server's peak memory.
        let mut window = Window::new(&file, len as usize);
        let parsed = parse_from(path, &mut window);
        if let Some(e) = window.error {
            return Err(io(e));
        }
        let (epoch, replay) = parsed?;
        if len < CAPACITY {
            preallocate(&file).map_err(io)?;
        }
        let mut offset = HEADER;
        for b in &replay.batches {
            offset += frame_len(payload_len(&b.ops)) as u64;
        }
        // A torn tail is overwritten by the next batch; its bytes are never read again.
        Ok((
            Journal {
                file,
                epoch,
                next_seq: replay.last_seq() + 1,
                offset,
                buf: Vec::new(),
            },
            replay,
        ))
    }

    /// Number of the last batch written (0 before the first).
    pub fn last_seq(&self) -> u64 {
        self.next_seq.saturating_sub(1)
    }

    /// Bytes of records since the last checkpoint.
    pub fn used(&self) -> u64 {
        self.offset - HEADER
    }

    /// Whether a batch of `payload` bytes fits before a checkpoint is needed.
    pub fn fits(&self, payload: usize) -> bool {
        self.offset + frame_len(payload) as u64 <= CAPACITY
    }

    /// Whether a batch of `payload` bytes fits in an empty journal at all.
    pub fn ever_fits(payload: usize) -> bool {
        HEADER + frame_len(payload) as u64 <= CAPACITY
    }

    /// Append the operations as one batch, durable with one write and one sync; returns the
    /// batch's number.
    pub fn append<P: AsRef<[Put]>>(&mut self, ops: &[P]) -> std::io::Result<u64> {
        let seq = self.next_seq;
        self.buf.clear();
        encode_frame(self.epoch, seq, ops, &mut self.buf);
        if self.offset + self.buf.len() as u64 > CAPACITY {
            return Err(std::io::Error::other("journal full: checkpoint first"));
        }
        self.file.write_all_at(&self.buf, self.offset)?;
        self.file.sync_data()?;
        self.offset += self.buf.len() as u64;
        self.next_seq += 1;
        Ok(seq)
    }

    /// Size of a batch's payload, to decide on a checkpoint before writing it.
    pub fn encoded_len<P: AsRef<[Put]>>(ops: &[P]) -> usize {
        payload_len(ops)
    }

    /// Retire every record: call only after sled has made all of them durable.
    pub fn reset(&mut self) -> std::io::Result<()> {
        write_header(&self.file, self.epoch + 1, self.next_seq)?;
        self.file.sync_data()?;
        self.epoch += 1;
        self.offset = HEADER;
        Ok(())
    }
}

/// Read a journal without changing it: its batches since the last checkpoint, or the damage
/// that makes it unusable.
#[cfg(test)]
pub fn read(path: &Path) -> Result<Replay, JournalError> {
    let data = std::fs::read(path).map_err(|source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(parse(path, &data)?.1)
}

#[cfg(test)]
fn parse(path: &Path, mut data: &[u8]) -> Result<(u64, Replay), JournalError> {
    parse_from(path, &mut data)
}

/// A journal's bytes, read where asked: a slice in memory, or the file through a window.
trait Source {
    fn len(&self) -> usize;
    /// The bytes of `r`; `None` past the end.
    fn bytes(&mut self, r: std::ops::Range<usize>) -> Option<&[u8]>;
}

impl Source for &[u8] {
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }

    fn bytes(&mut self, r: std::ops::Range<usize>) -> Option<&[u8]> {
        <[u8]>::get(self, r)
    }
}

/// Reads the file a window at a time; a read error ends the bytes and is kept to report.
struct Window<'a> {
    file: &'a File,
    len: usize,
    start: usize,
    buf: Vec<u8>,
    error: Option<std::io::Error>,
}

impl<'a> Window<'a> {
    const SIZE: usize = 1024 * 1024;

    fn new(file: &'a File, len: usize) -> Self {
        Window {
            file,
            len,
            start: 0,
            buf: Vec::new(),
            error: None,
        }
    }
}

impl Source for Window<'_> {
    fn len(&self) -> usize {
        self.len
    }

    fn bytes(&mut self, r: std::ops::Range<usize>) -> Option<&[u8]> {
        if r.end > self.len || r.start > r.end || self.error.is_some() {
            return None;
        }
        if r.start < self.start || r.end > self.start + self.buf.len() {
            let size = Self::SIZE.max(r.len()).min(self.len - r.start);
            self.buf.resize(size, 0);
            if let Err(e) = self.file.read_exact_at(&mut self.buf, r.start as u64) {
                self.error = Some(e);
                self.buf.clear();
                return None;
            }
            self.start = r.start;
        }
        self.buf.get(r.start - self.start..r.end - self.start)
    }
}

fn parse_from(path: &Path, data: &mut impl Source) -> Result<(u64, Replay), JournalError> {
    let (epoch, base_seq) = read_header(path, data)?;
    let damaged = |offset: usize, what: String| JournalError::Damaged {
        path: path.to_path_buf(),
        offset: offset as u64,
        what,
    };
    let mut replay = Replay {
        base_seq,
        ..Replay::default()
    };
    let mut at = HEADER as usize;
    let mut expected = base_seq;
    loop {
        let heads = [head_at(data, at), head_at(data, at + HEAD)];
        let head = heads.iter().flatten().find(|h| h.epoch == epoch).copied();
        let Some(head) = head else {
            // No frame of this epoch starts here: the end, unless one follows further on.
            if let Some((later, seq)) = later_frame(data, at + 8, epoch, expected) {
                return Err(damaged(
                    at,
                    format!(
                        "batch {expected} is unreadable but batch {seq} follows at offset {later}: acknowledged writes would be lost"
                    ),
                ));
            }
            break;
        };
        if head.seq != expected {
            return Err(damaged(
                at,
                format!(
                    "batch number {} where {expected} was due: a gap in the journal's sequence",
                    head.seq
                ),
            ));
        }
        let padded = pad8(head.len as usize);
        let copies = [at + 2 * HEAD, at + 2 * HEAD + padded];
        let valid = copies.map(|start| {
            data.bytes(start..start + head.len as usize)
                .filter(|payload| crc(epoch, payload) == head.crc)
                .and_then(decode_payload)
        });
        let whole = heads.iter().all(|h| *h == Some(head)) && valid.iter().all(Option::is_some);
        let end = at + frame_len(head.len as usize);
        match valid.into_iter().flatten().next() {
            Some(ops) => {
                if !whole {
                    replay.repaired.push(format!(
                        "{}: batch {} at offset {at} has a damaged copy; the other copy is intact and was used",
                        path.display(),
                        head.seq
                    ));
                }
                replay.batches.push(Batch { seq: head.seq, ops });
                expected += 1;
                at = end;
            }
            None => {
                if let Some((later, seq)) = later_frame(data, at + 2 * HEAD, epoch, expected + 1) {
                    return Err(damaged(
                        at,
                        format!(
                            "batch {expected} fails its checksum in both copies and batch {seq} follows at offset {later}: acknowledged writes would be lost"
                        ),
                    ));
                }
                replay.torn_tail = Some(at as u64);
                break;
            }
        }
    }
    Ok((epoch, replay))
}

/// Every frame of the current epoch that still checks out, in order, skipping damage; and a
/// line for each stretch that could not be read. For salvage only: replay never skips.
pub fn salvage_frames(path: &Path, mut data: &[u8]) -> (Vec<Batch>, Vec<String>) {
    let data = &mut data;
    let mut problems = Vec::new();
    let epoch = match read_header(path, data) {
        Ok((epoch, _)) => epoch,
        Err(e) => {
            problems.push(format!("{e}; no journal batch could be recovered"));
            return (Vec::new(), problems);
        }
    };
    let mut batches: Vec<Batch> = Vec::new();
    let mut at = HEADER as usize;
    while let Some((start, _)) = later_frame(data, at, epoch, 0) {
        let heads = [head_at(data, start), head_at(data, start + HEAD)];
        let Some(head) = heads.iter().flatten().find(|h| h.epoch == epoch).copied() else {
            at = start + 8;
            continue;
        };
        let padded = pad8(head.len as usize);
        let payload = [start + 2 * HEAD, start + 2 * HEAD + padded]
            .iter()
            .find_map(|&p| {
                data.bytes(p..p + head.len as usize)
                    .filter(|bytes| crc(epoch, bytes) == head.crc)
                    .and_then(decode_payload)
            });
        match payload {
            Some(ops) => {
                if let Some(prev) = batches.last()
                    && head.seq != prev.seq + 1
                {
                    problems.push(format!(
                        "{}: journal batches {}..{} are unreadable",
                        path.display(),
                        prev.seq + 1,
                        head.seq.saturating_sub(1)
                    ));
                }
                batches.push(Batch { seq: head.seq, ops });
                at = start + frame_len(head.len as usize);
            }
            None => {
                problems.push(format!(
                    "{}: journal batch {} at offset {start} fails its checksum in both copies",
                    path.display(),
                    head.seq
                ));
                at = start + 2 * HEAD;
            }
        }
    }
    (batches, problems)
}

/// The header's epoch and base sequence number, from whichever copy checks out.
fn read_header(path: &Path, data: &mut impl Source) -> Result<(u64, u64), JournalError> {
    let damaged = |what: &str| JournalError::Damaged {
        path: path.to_path_buf(),
        offset: 0,
        what: what.to_string(),
    };
    let Some(area) = data.bytes(0..HEADER as usize) else {
        return Err(damaged(
            "shorter than a journal header: not a warroom journal",
        ));
    };
    let data = area;
    if data.starts_with(OLD_MAGIC) {
        return Err(damaged(
            "journal format 1 (an older warroom): open this folder once with that version to checkpoint it, then remove the journal file",
        ));
    }
    let copies: Vec<(u64, u64)> = HEADER_COPIES
        .iter()
        .filter_map(|&at| {
            let h = &data[at..at + HEADER_LEN];
            let sum = u32::from_le_bytes(h[24..28].try_into().ok()?);
            (h.starts_with(MAGIC) && crc32fast::hash(&h[..24]) == sum).then(|| {
                (
                    u64::from_le_bytes(h[8..16].try_into().unwrap_or_default()),
                    u64::from_le_bytes(h[16..24].try_into().unwrap_or_default()),
                )
            })
        })
        .collect();
    // Both copies are written together; after a torn header write the newer one wins.
    copies.into_iter().max().ok_or_else(|| {
        if HEADER_COPIES
            .iter()
            .any(|&at| data[at..at + 8].starts_with(MAGIC))
        {
            damaged("both copies of the header fail their checksum")
        } else {
            damaged("no warroom journal header (magic WRLEDJ02) at offset 0 or 512")
        }
    })
}

fn write_header(file: &File, epoch: u64, base_seq: u64) -> std::io::Result<()> {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(MAGIC);
    h[8..16].copy_from_slice(&epoch.to_le_bytes());
    h[16..24].copy_from_slice(&base_seq.to_le_bytes());
    let sum = crc32fast::hash(&h[..24]);
    h[24..].copy_from_slice(&sum.to_le_bytes());
    let mut block = [0u8; 1024];
    for at in HEADER_COPIES {
        block[at..at + HEADER_LEN].copy_from_slice(&h);
    }
    file.write_all_at(&block, 0)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Head {
    len: u32,
    epoch: u64,
    seq: u64,
    crc: u32,
}

fn head_at(data: &mut impl Source, at: usize) -> Option<Head> {
    let total = data.len();
    let h = data.bytes(at..at + HEAD)?;
    let word = |r: std::ops::Range<usize>| u32::from_le_bytes(h[r].try_into().unwrap_or_default());
    let long = |r: std::ops::Range<usize>| u64::from_le_bytes(h[r].try_into().unwrap_or_default());
    if word(0..4) != FRAME_MAGIC || crc32fast::hash(&h[..28]) != word(28..32) {
        return None;
    }
    let head = Head {
        len: word(4..8),
        epoch: long(8..16),
        seq: long(16..24),
        crc: word(24..28),
    };
    (head.len > 0 && at + frame_len(head.len as usize) <= total).then_some(head)
}

/// The first frame head of `epoch` numbered `expected` or later at or after `from`.
fn later_frame(
    data: &mut impl Source,
    from: usize,
    epoch: u64,
    expected: u64,
) -> Option<(usize, u64)> {
    // Frames start 8-aligned with the magic word: find those in one read of a stretch
    // rather than reading and checking each position. Every start looks past the journal's
    // last frame to its end (32 MiB when it is empty), so this is on the way to ready.
    const STRETCH: usize = 64 * 1024;
    let magic = FRAME_MAGIC.to_le_bytes();
    let mut at = from.next_multiple_of(8);
    while at + HEAD <= data.len() {
        let end = (at + STRETCH).min(data.len());
        let found = data
            .bytes(at..end)
            .and_then(|stretch| stretch.chunks_exact(8).position(|w| w[..4] == magic));
        let Some(i) = found else {
            at = end;
            continue;
        };
        let candidate = at + i * 8;
        if let Some(h) = head_at(data, candidate)
            && h.epoch == epoch
            && h.seq >= expected
        {
            return Some((candidate, h.seq));
        }
        at = candidate + 8;
    }
    None
}

/// Written zeros, not `fallocate`: writing into unwritten extents would still change
/// metadata on every sync.
fn preallocate(file: &File) -> std::io::Result<()> {
    let zeros = vec![0u8; 1024 * 1024];
    let mut at = file.metadata()?.len();
    while at < CAPACITY {
        let n = zeros.len().min((CAPACITY - at) as usize);
        file.write_all_at(&zeros[..n], at)?;
        at += n as u64;
    }
    file.sync_all()
}

fn crc(epoch: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&epoch.to_le_bytes());
    h.update(payload);
    h.finalize()
}

fn pad8(n: usize) -> usize {
    n.next_multiple_of(8)
}

fn frame_len(payload: usize) -> usize {
    2 * HEAD + 2 * pad8(payload)
}

fn payload_len<P: AsRef<[Put]>>(ops: &[P]) -> usize {
    4 + ops
        .iter()
        .map(|puts| {
            4 + puts
                .as_ref()
                .iter()
                .map(|p| 1 + 4 + p.key.len() + 4 + p.value.len())
                .sum::<usize>()
        })
        .sum::<usize>()
}

/// A batch's operations in the journal's encoding (also the body of a ledger segment).
pub(crate) fn encode_payload<P: AsRef<[Put]>>(ops: &[P]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(payload_len(ops));
    payload.extend_from_slice(&(ops.len() as u32).to_le_bytes());
    for puts in ops {
        let puts = puts.as_ref();
        payload.extend_from_slice(&(puts.len() as u32).to_le_bytes());
        for p in puts {
            payload.push(p.tree as u8);
            payload.extend_from_slice(&(p.key.len() as u32).to_le_bytes());
            payload.extend_from_slice(&p.key);
            payload.extend_from_slice(&(p.value.len() as u32).to_le_bytes());
            payload.extend_from_slice(&p.value);
        }
    }
    payload
}

fn encode_frame<P: AsRef<[Put]>>(epoch: u64, seq: u64, ops: &[P], out: &mut Vec<u8>) {
    let payload = encode_payload(ops);
    let mut head = [0u8; HEAD];
    head[..4].copy_from_slice(&FRAME_MAGIC.to_le_bytes());
    head[4..8].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    head[8..16].copy_from_slice(&epoch.to_le_bytes());
    head[16..24].copy_from_slice(&seq.to_le_bytes());
    head[24..28].copy_from_slice(&crc(epoch, &payload).to_le_bytes());
    let sum = crc32fast::hash(&head[..28]);
    head[28..].copy_from_slice(&sum.to_le_bytes());
    let padding = pad8(payload.len()) - payload.len();
    out.extend_from_slice(&head);
    out.extend_from_slice(&head);
    for _ in 0..2 {
        out.extend_from_slice(&payload);
        out.extend(std::iter::repeat_n(0u8, padding));
    }
}

/// The inverse of [`encode_payload`]; `None` for anything malformed (never panics).
pub(crate) fn decode_payload(mut p: &[u8]) -> Option<Vec<Vec<Put>>> {
    fn take<'a>(p: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (a, b) = (p.get(..n)?, p.get(n..)?);
        *p = b;
        Some(a)
    }
    fn u32_at(p: &mut &[u8]) -> Option<usize> {
        Some(u32::from_le_bytes(take(p, 4)?.try_into().ok()?) as usize)
    }
    let ops = u32_at(&mut p)?;
    let mut out = Vec::with_capacity(ops.min(256));
    for _ in 0..ops {
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
        out.push(puts);
    }
    p.is_empty().then_some(out)
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

    fn ops(replay: &Replay) -> Vec<Vec<Put>> {
        replay.batches.iter().flat_map(|b| b.ops.clone()).collect()
    }

    fn journal() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        assert!(Journal::create_if_missing(&path).unwrap());
        (dir, path)
    }

    fn flip(path: &Path, at: u64) {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .unwrap();
        let mut b = [0u8; 1];
        f.read_exact_at(&mut b, at).unwrap();
        f.write_all_at(&[b[0] ^ 0x10], at).unwrap();
    }

    #[test]
    fn records_survive_reopening_until_a_checkpoint_retires_them() {
        let (_dir, path) = journal();
        let (mut j, replay) = Journal::open(&path).unwrap();
        assert!(replay.batches.is_empty());
        assert_eq!(j.append(&[op(1), op(2)]).unwrap(), 1);
        assert_eq!(j.append(&[op(3)]).unwrap(), 2);
        drop(j);
        let (mut j, replay) = Journal::open(&path).unwrap();
        assert_eq!(ops(&replay), vec![op(1), op(2), op(3)]);
        assert_eq!(replay.last_seq(), 2);
        j.reset().unwrap();
        assert_eq!(
            j.append(&[op(4)]).unwrap(),
            3,
            "numbers continue past a checkpoint"
        );
        drop(j);
        let (_, replay) = Journal::open(&path).unwrap();
        assert_eq!(ops(&replay), vec![op(4)], "retired records are ignored");
        assert_eq!(replay.base_seq, 3);
    }

    #[test]
    fn opening_reads_through_a_window_and_finds_what_reading_whole_finds() {
        let (_dir, path) = journal();
        let (mut j, _) = Journal::open(&path).unwrap();
        // Frames of ~9 KiB past three windows, so some straddle a window's edge.
        let big = |n: u8| {
            vec![Put {
                tree: TreeId::Timeline,
                key: vec![n],
                value: vec![n; 9000 + n as usize],
            }]
        };
        for n in 0..=255u8 {
            j.append(&[big(n)]).unwrap();
        }
        assert!(j.used() > 2 * Window::SIZE as u64);
        drop(j);
        let whole = read(&path).unwrap();
        let (_, windowed) = Journal::open(&path).unwrap();
        assert_eq!(ops(&windowed).len(), 256);
        assert_eq!(ops(&windowed), ops(&whole));
        // Damage in the first window is still seen to be followed by a frame windows later.
        let first = frame_len(payload_len(&[big(0)])) as u64;
        let second_payload = HEADER + first + 2 * HEAD as u64 + 8;
        flip(&path, second_payload);
        flip(&path, second_payload + pad8(payload_len(&[big(1)])) as u64);
        let err = Journal::open(&path)
            .err()
            .expect("damage is named")
            .to_string();
        assert!(err.contains("batch 3 follows"), "{err}");
    }

    #[test]
    fn a_torn_last_write_is_dropped_and_everything_before_it_kept() {
        let (_dir, path) = journal();
        let (mut j, _) = Journal::open(&path).unwrap();
        j.append(&[op(1)]).unwrap();
        let torn_at = HEADER + frame_len(payload_len(&[op(1)])) as u64;
        j.append(&[op(2)]).unwrap();
        drop(j);
        // Both payload copies of the last frame damaged, as a crash mid-write leaves them.
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        let padded = pad8(payload_len(&[op(2)])) as u64;
        f.write_all_at(b"garbage", torn_at + 2 * HEAD as u64 + 30)
            .unwrap();
        f.write_all_at(b"garbage", torn_at + 2 * HEAD as u64 + padded + 30)
            .unwrap();
        let replay = read(&path).unwrap();
        assert_eq!(ops(&replay), vec![op(1)]);
        assert_eq!(replay.torn_tail, Some(torn_at));
    }

    #[test]
    fn one_flipped_bit_anywhere_in_a_frame_loses_nothing() {
        let (_dir, path) = journal();
        let (mut j, _) = Journal::open(&path).unwrap();
        j.append(&[op(1)]).unwrap();
        j.append(&[op(2), op(3)]).unwrap();
        let end = HEADER + frame_len(payload_len(&[op(1)])) as u64;
        let last = frame_len(payload_len(&[op(2), op(3)])) as u64;
        drop(j);
        let mut pristine = std::fs::read(&path).unwrap();
        // Zeros follow the frames; a short tail of them keeps each check quick.
        pristine.truncate((end + last) as usize + 4096);
        // Every byte of the last frame, which no later frame vouches for.
        for at in end..end + last {
            let mut data = pristine.clone();
            data[at as usize] ^= 0x10;
            let (_, replay) = parse(&path, &data).unwrap_or_else(|e| panic!("offset {at}: {e}"));
            assert_eq!(ops(&replay), vec![op(1), op(2), op(3)], "offset {at}");
        }
    }

    #[test]
    fn a_damaged_frame_before_valid_ones_is_named_not_dropped() {
        let (_dir, path) = journal();
        let (mut j, _) = Journal::open(&path).unwrap();
        for n in 0..5 {
            j.append(&[op(n)]).unwrap();
        }
        drop(j);
        // Both copies of batch 2's payload.
        let frame = frame_len(payload_len(&[op(0)])) as u64;
        let at = HEADER + frame;
        let padded = pad8(payload_len(&[op(0)])) as u64;
        flip(&path, at + 2 * HEAD as u64 + 50);
        flip(&path, at + 2 * HEAD as u64 + padded + 50);
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains(&format!("offset {at}")), "{err}");
        assert!(err.contains("batch 3 follows"), "{err}");
    }

    #[test]
    fn damage_is_seen_past_a_frame_longer_than_one_scan_stretch() {
        let (_dir, path) = journal();
        let (mut j, _) = Journal::open(&path).unwrap();
        let sized = |n: u8, len: usize| {
            vec![Put {
                tree: TreeId::Timeline,
                key: vec![n],
                value: vec![n; len],
            }]
        };
        j.append(&[sized(1, 100)]).unwrap();
        j.append(&[sized(2, 150 * 1024)]).unwrap();
        j.append(&[sized(3, 100)]).unwrap();
        drop(j);
        // Both heads of batch 2: the frame after it starts 300 KiB on, past several stretches
        // of the search for the next frame.
        let at = HEADER + frame_len(payload_len(&[sized(1, 100)])) as u64;
        flip(&path, at + 1);
        flip(&path, at + HEAD as u64 + 1);
        let whole = read(&path).unwrap_err().to_string();
        assert!(
            whole.contains("batch 2 is unreadable but batch 3 follows"),
            "{whole}"
        );
        let windowed = Journal::open(&path)
            .err()
            .expect("damage is named")
            .to_string();
        assert!(windowed.contains("batch 3 follows"), "{windowed}");
    }

    #[test]
    fn a_gap_in_the_batch_numbers_is_damage() {
        let (_dir, path) = journal();
        let (mut j, _) = Journal::open(&path).unwrap();
        j.append(&[op(1)]).unwrap();
        j.next_seq += 1;
        j.append(&[op(2)]).unwrap();
        drop(j);
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("gap"), "{err}");
    }

    #[test]
    fn a_damaged_header_copy_is_outvoted_and_both_damaged_is_named() {
        let (_dir, path) = journal();
        let (mut j, _) = Journal::open(&path).unwrap();
        j.append(&[op(1)]).unwrap();
        drop(j);
        flip(&path, 9);
        assert_eq!(ops(&read(&path).unwrap()), vec![op(1)]);
        flip(&path, 512 + 9);
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("both copies of the header"), "{err}");
    }

    #[test]
    fn a_foreign_file_is_refused_and_creation_is_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        std::fs::write(&path, b"hello").unwrap();
        assert!(Journal::open(&path).is_err());
        let other = dir.path().join("j2");
        // A crash while building the journal leaves only the `.partial` file.
        std::fs::write(other.with_extension("partial"), vec![0u8; 4096]).unwrap();
        assert!(Journal::create_if_missing(&other).unwrap());
        assert!(!other.with_extension("partial").exists());
        assert!(Journal::open(&other).unwrap().1.batches.is_empty());
        let mode = std::fs::metadata(&other).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    /// A journal's bytes and each batch it holds.
    type Written = (Vec<u8>, Vec<Vec<Vec<Put>>>);

    /// A journal of four small batches, as bytes, and what each batch held (written once:
    /// every case damages its own copy).
    fn written() -> &'static Written {
        static WRITTEN: std::sync::OnceLock<Written> = std::sync::OnceLock::new();
        WRITTEN.get_or_init(|| {
            let (_dir, path) = journal();
            let (mut j, _) = Journal::open(&path).unwrap();
            let mut batches = Vec::new();
            for i in 1..=4 {
                j.append(&[op(i)]).unwrap();
                batches.push(vec![op(i)]);
            }
            // What was written and a page of the preallocated zeros after it.
            let used = j.used() as usize + 4096;
            drop(j);
            let mut data = std::fs::read(&path).unwrap();
            data.truncate(used);
            (data, batches)
        })
    }

    proptest::proptest! {
        /// Whatever the file holds, reading it never panics, and every batch it yields is
        /// exactly one that was written (its checksum held): damage is named, never replayed.
        #[test]
        fn damaged_or_arbitrary_bytes_never_panic_nor_yield_a_batch_never_written(
            flips in proptest::collection::vec((0usize..8192, proptest::prelude::any::<u8>()), 0..8),
            cut in proptest::option::of(0usize..8192),
            noise in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048),
            raw in proptest::prelude::any::<bool>(),
        ) {
            let (data, batches) = written();
            let mut data = data.clone();
            if raw {
                data = noise;
            } else {
                for (at, b) in flips {
                    let i = at % data.len();
                    data[i] ^= b;
                }
                if let Some(c) = cut {
                    data.truncate(c.min(data.len()));
                }
            }
            let path = Path::new("fuzzed-journal");
            if let Ok((_, replay)) = parse(path, &data) {
                for b in &replay.batches {
                    let i = b.seq.checked_sub(replay.base_seq).map(|i| i as usize);
                    proptest::prop_assert!(
                        i.and_then(|i| batches.get(i)) == Some(&b.ops),
                        "batch {} was not written like this", b.seq
                    );
                }
            }
            let (found, _) = salvage_frames(path, &data);
            for b in &found {
                proptest::prop_assert!(batches.contains(&b.ops), "salvaged batch {} was never written", b.seq);
            }
        }
    }
}
