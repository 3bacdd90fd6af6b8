//! The ledger's off-box copy: a hash-linked chain of immutable segments, one per journal
//! batch, written to object storage by the server (see the binary's `replica` module) and
//! read back by `ledger restore`.
//!
//! A segment is `WRSEG01 <number> <kind> <journal batch> <prev sha256>\n` followed by the
//! batch's operations in the journal's own encoding. `number` counts segments from 1 without
//! gaps; `prev` is the SHA-256 of the whole previous segment (64 zeros before the first), so
//! a missing, reordered, changed or inserted segment breaks the chain where it happened.
//! `kind` is `batch` (what one group commit wrote) or `base` (every key/value the ledger held
//! after journal batch N: the start of a copy, and the restart point after a gap the server
//! could not fill).
//!
//! Guarantees of [`restore`]: every segment's chain link is checked before anything is
//! written; the rebuilt ledger holds the latest base and every batch after it, replayed into
//! incident records whose hash chains are verified entry by entry (the same rebuild as
//! `ledger salvage`, which names anything it could not keep). Assumes the segments are given
//! in number order. Caveat: evidence bytes are not in segments; the records point at the
//! evidence store, which `ledger verify` re-reads.

use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use warroom_commands::Clock;

use crate::error::LedgerError;
use crate::journal::{Put, TreeId, decode_payload, encode_payload};
use crate::keys;
use crate::salvage::{SalvageReport, Salvaged, rebuild, require_empty};

const MAGIC: &str = "WRSEG01";
/// `prev` of the first segment.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentKind {
    /// One journal batch.
    Batch,
    /// Every key/value after a journal batch.
    Base,
}

impl SegmentKind {
    fn as_str(self) -> &'static str {
        match self {
            SegmentKind::Batch => "batch",
            SegmentKind::Base => "base",
        }
    }
}

/// One link of the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub number: u64,
    pub kind: SegmentKind,
    /// The journal batch it holds (`Batch`) or follows (`Base`).
    pub batch: u64,
    pub prev: String,
    pub puts: Vec<Put>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SegmentError {
    #[error("segment {name}: {what}")]
    Malformed { name: String, what: String },
    #[error(
        "segment {name} does not follow segment {previous}: it names {claimed} as its predecessor, which is {actual}"
    )]
    Broken {
        name: String,
        previous: u64,
        claimed: String,
        actual: String,
    },
    #[error("segment {expected} is missing: the next one is {found}")]
    Gap { expected: u64, found: u64 },
    #[error("no base segment: the copy has no starting point")]
    NoBase,
}

/// Where a copy's chain ends, as the leader publishes it for the replica that takes over
/// (`<installation>/<number>/<sha256>`): the new leader proves its copy reaches it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub installation: String,
    pub number: u64,
    pub digest: String,
}

impl std::fmt::Display for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.installation, self.number, self.digest)
    }
}

impl std::str::FromStr for Head {
    type Err = String;

    fn from_str(s: &str) -> Result<Head, String> {
        let bad = || format!("`{s}` is not <installation>/<segment number>/<sha256>");
        let mut parts = s.rsplitn(3, '/');
        let (Some(digest), Some(number), Some(installation)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if installation.is_empty()
            || digest.len() != 64
            || !digest.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(bad());
        }
        Ok(Head {
            installation: installation.to_owned(),
            number: number.parse().map_err(|_| bad())?,
            digest: digest.to_owned(),
        })
    }
}

/// SHA-256 of a segment's bytes, lowercase hex.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The object name of segment `number`: sorts in chain order.
pub fn object_name(number: u64) -> String {
    format!("{number:020}.seg")
}

impl Segment {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = format!(
            "{MAGIC} {} {} {} {}\n",
            self.number,
            self.kind.as_str(),
            self.batch,
            self.prev
        )
        .into_bytes();
        out.extend_from_slice(&encode_payload(&[&self.puts[..]]));
        out
    }

    /// Read a segment; `name` is where it came from, for the error.
    pub fn decode(name: &str, bytes: &[u8]) -> Result<Segment, SegmentError> {
        let bad = |what: &str| SegmentError::Malformed {
            name: name.to_owned(),
            what: what.to_owned(),
        };
        let end = bytes
            .iter()
            .take(200)
            .position(|b| *b == b'\n')
            .ok_or_else(|| bad("no header line"))?;
        let header = std::str::from_utf8(&bytes[..end]).map_err(|_| bad("header is not text"))?;
        let fields: Vec<&str> = header.split(' ').collect();
        let [magic, number, kind, batch, prev] = fields[..] else {
            return Err(bad("header does not have five fields"));
        };
        if magic != MAGIC {
            return Err(bad(&format!("not a warroom ledger segment ({magic})")));
        }
        let number = number.parse().map_err(|_| bad("number is not a number"))?;
        let batch = batch.parse().map_err(|_| bad("batch is not a number"))?;
        let kind = match kind {
            "batch" => SegmentKind::Batch,
            "base" => SegmentKind::Base,
            other => return Err(bad(&format!("unknown kind `{other}`"))),
        };
        if prev.len() != 64 || !prev.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("predecessor is not a SHA-256"));
        }
        let mut ops =
            decode_payload(&bytes[end + 1..]).ok_or_else(|| bad("body is not a journal batch"))?;
        let puts = match ops.len() {
            1 => ops.remove(0),
            _ => return Err(bad("body holds more than one batch")),
        };
        Ok(Segment {
            number,
            kind,
            batch,
            prev: prev.to_owned(),
            puts,
        })
    }
}

/// The key/values a base holds: every journaled tree but the journal's own bookkeeping.
pub fn base_worthy(p: &Put) -> bool {
    match p.tree {
        TreeId::Incidents => false,
        TreeId::Meta => {
            p.key.as_slice() != keys::APPLIED_KEY && p.key.as_slice() != keys::FORMAT_KEY
        }
        _ => true,
    }
}

/// Check that `segments` (name, bytes) form one unbroken chain from number 1, then the
/// key/values from the latest base on. Nothing is written.
pub fn read_chain(segments: &[(String, Vec<u8>)]) -> Result<(Vec<Segment>, u64), SegmentError> {
    read_links(segments, 1, Some(GENESIS))
}

/// Like [`read_chain`], for the tail of a chain (a standby's warm copy): the first segment's
/// link to its predecessor was checked when it was stored; every link after it is checked
/// here.
pub fn read_tail(segments: &[(String, Vec<u8>)]) -> Result<(Vec<Segment>, u64), SegmentError> {
    let Some((name, bytes)) = segments.first() else {
        return Err(SegmentError::NoBase);
    };
    read_links(segments, Segment::decode(name, bytes)?.number, None)
}

/// `first`: the number the first segment must have; `prev`: what it must name as its
/// predecessor, when known.
fn read_links(
    segments: &[(String, Vec<u8>)],
    first: u64,
    prev: Option<&str>,
) -> Result<(Vec<Segment>, u64), SegmentError> {
    let mut chain = Vec::with_capacity(segments.len());
    let mut prev = prev.map(str::to_owned);
    for (i, (name, bytes)) in segments.iter().enumerate() {
        let s = Segment::decode(name, bytes)?;
        let expected = i as u64 + first;
        if s.number != expected {
            return Err(SegmentError::Gap {
                expected,
                found: s.number,
            });
        }
        if let Some(prev) = prev
            && s.prev != prev
        {
            return Err(SegmentError::Broken {
                name: name.clone(),
                previous: expected - 1,
                claimed: s.prev.clone(),
                actual: prev,
            });
        }
        prev = Some(digest(bytes));
        chain.push(s);
    }
    let base = chain
        .iter()
        .rposition(|s| s.kind == SegmentKind::Base)
        .ok_or(SegmentError::NoBase)?;
    let head = chain.last().map(|s| s.batch).unwrap_or(0);
    Ok((chain.split_off(base), head))
}

/// What a restore rebuilt.
#[derive(Debug, serde::Serialize)]
pub struct RestoreReport {
    pub segments: u64,
    /// The journal batch the copy reaches.
    pub last_batch: u64,
    /// The SHA-256 of the last segment: compare it with what the server published.
    pub head: String,
    pub rebuilt: SalvageReport,
}

/// Rebuild a ledger in the new or empty folder `to` from the whole chain `segments` (name,
/// bytes) in number order.
pub fn restore(
    segments: &[(String, Vec<u8>)],
    to: &Path,
    clock: Arc<dyn Clock>,
) -> Result<RestoreReport, LedgerError> {
    require_empty(to, "restore")?;
    rebuild_chain(read_chain(segments)?, segments, to, clock)
}

/// [`restore`] from the tail of a chain whose first link was checked when it was stored (a
/// standby's warm copy, see [`read_tail`]).
pub fn restore_tail(
    segments: &[(String, Vec<u8>)],
    to: &Path,
    clock: Arc<dyn Clock>,
) -> Result<RestoreReport, LedgerError> {
    require_empty(to, "restore")?;
    rebuild_chain(read_tail(segments)?, segments, to, clock)
}

fn rebuild_chain(
    (from_base, last_batch): (Vec<Segment>, u64),
    segments: &[(String, Vec<u8>)],
    to: &Path,
    clock: Arc<dyn Clock>,
) -> Result<RestoreReport, LedgerError> {
    let mut found = Salvaged::default();
    for s in &from_base {
        for p in &s.puts {
            found.put(p);
        }
    }
    let rebuilt = rebuild(&found, to, clock, SalvageReport::default())?;
    Ok(RestoreReport {
        segments: segments
            .last()
            .and_then(|(n, b)| Segment::decode(n, b).ok())
            .map_or(0, |s| s.number),
        last_batch,
        head: segments
            .last()
            .map(|(_, b)| digest(b))
            .unwrap_or_else(|| GENESIS.to_owned()),
        rebuilt,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(k: &str) -> Put {
        Put {
            tree: TreeId::Timeline,
            key: k.as_bytes().to_vec(),
            value: b"{}".to_vec(),
        }
    }

    fn chain(kinds: &[SegmentKind]) -> Vec<(String, Vec<u8>)> {
        let mut prev = GENESIS.to_owned();
        let mut out = Vec::new();
        for (i, kind) in kinds.iter().enumerate() {
            let s = Segment {
                number: i as u64 + 1,
                kind: *kind,
                batch: i as u64 + 10,
                prev: prev.clone(),
                puts: vec![put(&format!("k{i}"))],
            };
            let bytes = s.encode();
            prev = digest(&bytes);
            out.push((object_name(s.number), bytes));
        }
        out
    }

    #[test]
    fn a_published_head_reads_back_and_nonsense_is_named() {
        let h = Head {
            installation: "inst-1".into(),
            number: 42,
            digest: "ab".repeat(32),
        };
        assert_eq!(h.to_string().parse::<Head>(), Ok(h));
        for bad in [
            "",
            "x/1",
            "x/y/abc",
            "/1/abc",
            &format!("x/y/{}", "ab".repeat(32)),
        ] {
            assert!(bad.parse::<Head>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_tail_is_checked_from_its_first_segment_on() {
        let segs = chain(&[
            SegmentKind::Base,
            SegmentKind::Batch,
            SegmentKind::Base,
            SegmentKind::Batch,
        ]);
        let (from_base, _) = read_tail(&segs[2..]).unwrap();
        assert_eq!(from_base[0].number, 3);
        let mut broken = segs[1..].to_vec();
        broken.remove(1);
        assert!(matches!(
            read_tail(&broken),
            Err(SegmentError::Gap {
                expected: 3,
                found: 4
            })
        ));
        assert_eq!(read_tail(&[]), Err(SegmentError::NoBase));
    }

    #[test]
    fn a_segment_reads_back_as_written() {
        let s = Segment {
            number: 7,
            kind: SegmentKind::Base,
            batch: 41,
            prev: GENESIS.into(),
            puts: vec![put("a"), put("b")],
        };
        assert_eq!(Segment::decode("x", &s.encode()).unwrap(), s);
        assert_eq!(object_name(7), "00000000000000000007.seg");
    }

    #[test]
    fn the_chain_starts_at_the_latest_base_and_names_any_break() {
        use SegmentKind::*;
        let c = chain(&[Base, Batch, Base, Batch, Batch]);
        let (from_base, head) = read_chain(&c).unwrap();
        assert_eq!(from_base.len(), 3);
        assert_eq!(from_base[0].kind, Base);
        assert_eq!(head, 14);

        let mut changed = c.clone();
        changed[1].1.push(b'x');
        assert!(matches!(
            read_chain(&changed),
            Err(SegmentError::Malformed { .. })
        ));
        let mut swapped = c.clone();
        swapped[3].1 = chain(&[Base, Batch, Base, Batch])[3].1.clone();
        let mut forged = swapped.clone();
        let mut s = Segment::decode("x", &forged[2].1).unwrap();
        s.puts.push(put("forged"));
        forged[2].1 = s.encode();
        assert!(matches!(
            read_chain(&forged),
            Err(SegmentError::Broken { previous: 3, .. })
        ));
        let mut gap = c.clone();
        gap.remove(2);
        assert_eq!(
            read_chain(&gap),
            Err(SegmentError::Gap {
                expected: 3,
                found: 4
            })
        );
        assert_eq!(read_chain(&chain(&[Batch])), Err(SegmentError::NoBase));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        for bytes in [
            &b""[..],
            b"WRSEG01",
            b"WRSEG01 1 base 2 zz\n",
            b"WRSEG01 1 base 2 0000000000000000000000000000000000000000000000000000000000000000\n\xff\xff\xff\xff",
        ] {
            assert!(Segment::decode("x", bytes).is_err());
        }
    }
}
