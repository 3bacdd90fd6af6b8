//! How untrusted input arrives damaged or hostile: cut short, with bytes put in, with a
//! stretch missing, with bytes overwritten. The property tests of every parser (alerts,
//! chat payloads, the plan) start from real payloads and feed them through [`damage`].

/// What to do to a seed.
#[derive(Clone, Copy, Debug)]
pub enum Damage {
    Cut,
    Insert,
    Remove,
    Overwrite,
}

impl Damage {
    /// One of the four, from any number (for generators).
    pub fn nth(n: usize) -> Damage {
        [
            Damage::Cut,
            Damage::Insert,
            Damage::Remove,
            Damage::Overwrite,
        ][n % 4]
    }
}

/// `seed` damaged as `how` says, at `at` (and up to `to` for [`Damage::Remove`]), with
/// `bytes` for what is put in or written over. Positions past the end are clamped.
pub fn damage(seed: &[u8], how: Damage, at: usize, to: usize, bytes: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    let i = at.min(v.len());
    match how {
        Damage::Cut => v.truncate(i),
        Damage::Insert => {
            let tail = v.split_off(i);
            v.extend_from_slice(bytes);
            v.extend_from_slice(&tail);
        }
        Damage::Remove => {
            let j = to.min(v.len());
            let (a, b) = if i < j { (i, j) } else { (j, i) };
            v.drain(a..b);
        }
        Damage::Overwrite => {
            for (k, b) in bytes.iter().enumerate() {
                if let Some(x) = v.get_mut(i + k) {
                    *x = *b;
                }
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_damage_does_what_it_says() {
        let s = b"abcdef";
        assert_eq!(damage(s, Damage::Cut, 2, 0, b""), b"ab");
        assert_eq!(damage(s, Damage::Insert, 2, 0, b"XY"), b"abXYcdef");
        assert_eq!(damage(s, Damage::Remove, 4, 1, b""), b"aef");
        assert_eq!(damage(s, Damage::Overwrite, 5, 0, b"XY"), b"abcdeX");
        assert_eq!(damage(s, Damage::Cut, 99, 0, b""), s);
    }
}
