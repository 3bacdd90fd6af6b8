//! Identifiers that look random but are derived from counters and hashes, so runs repeat.

/// Mixes a 64-bit value into a well-spread one (splitmix64's finaliser).
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// FNV-1a: stable across platforms and compiler versions, unlike std's hasher.
pub fn hash(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        h ^= u64::from(byte);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

/// A version-4-shaped UUID from two 64-bit values.
fn uuid(a: u64, b: u64) -> String {
    let a = (a & 0xffff_ffff_ffff_0fff) | 0x4000;
    let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// The uid an object loaded from a scenario gets: the same on every run.
pub fn stable_uid(key: &str) -> String {
    let h = hash(key);
    uuid(h, mix(h ^ 0x5eed))
}

/// `len` hex digits derived from `text`, for digests and container ids.
pub fn hex_digest(text: &str, len: usize) -> String {
    let mut out = String::with_capacity(len + 16);
    let mut h = hash(text);
    while out.len() < len {
        out.push_str(&format!("{h:016x}"));
        h = mix(h);
    }
    out.truncate(len);
    out
}

/// The alphabet kube-controller-manager uses for generated name suffixes (no vowels).
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Generator for the identifiers the server hands out at run time.
#[derive(Debug, Default)]
pub struct Ids {
    counter: u64,
}

impl Ids {
    fn next(&mut self) -> u64 {
        self.counter += 1;
        mix(self.counter ^ 0xd1b5_4a32_d192_ed03)
    }

    pub fn uid(&mut self) -> String {
        let a = self.next();
        let b = self.next();
        uuid(a, b)
    }

    /// A generated-name suffix, e.g. the `x7k2p` of `web-6d8f4c-x7k2p`.
    pub fn suffix(&mut self, len: usize) -> String {
        let mut value = self.next();
        let base = ALPHANUMS.len() as u64;
        (0..len)
            .map(|_| {
                let c = ALPHANUMS[(value % base) as usize];
                value /= base;
                char::from(c)
            })
            .collect()
    }

    pub fn hex(&mut self, len: usize) -> String {
        let seed = self.next();
        hex_digest(&seed.to_string(), len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_have_the_v4_shape_and_differ() {
        let mut ids = Ids::default();
        let a = ids.uid();
        let b = ids.uid();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn suffixes_use_the_controller_alphabet() {
        let mut ids = Ids::default();
        let s = ids.suffix(5);
        assert_eq!(s.len(), 5);
        assert!(s.bytes().all(|c| ALPHANUMS.contains(&c)));
    }

    #[test]
    fn stable_values_repeat() {
        assert_eq!(
            stable_uid("pods/payments/api"),
            stable_uid("pods/payments/api")
        );
        assert_eq!(hex_digest("x", 64).len(), 64);
    }
}
