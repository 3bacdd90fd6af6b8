//! "Did you mean …?" for mistyped verbs, options and ids: the closest known word, when it is
//! close enough that the guess helps rather than confuses.

/// Edit distance with adjacent swaps counted as one edit (`aprove` → `approve` is 1,
/// `quaratine` → `quarantine` is 1, `cordno` → `cordon` is 1): optimal string alignment.
pub fn distance(a: &str, b: &str) -> usize {
    strsim::osa_distance(a, b)
}

/// The candidate closest to `typed` (case-insensitive), if within 1 edit for short words and
/// 2 for words of 6 characters or more; ties go to the first candidate.
pub fn closest<'a>(typed: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let typed = typed.to_ascii_lowercase();
    let limit = if typed.chars().count() >= 6 { 2 } else { 1 };
    candidates
        .into_iter()
        .map(|c| (distance(&typed, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// " — did you mean `X`?" or nothing.
pub fn did_you_mean<'a>(typed: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(typed, candidates)
        .map(|c| format!(" — did you mean `{c}`?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_slips_find_their_command() {
        let verbs = ["quarantine", "approve", "cordon", "capture", "ack", "note"];
        assert_eq!(closest("quaratine", verbs), Some("quarantine"));
        assert_eq!(closest("aprove", verbs), Some("approve"));
        assert_eq!(closest("cordno", verbs), Some("cordon"));
        assert_eq!(closest("APPROVE", verbs), Some("approve"));
        assert_eq!(closest("nuke", verbs), None);
        // Short words get one edit only: `act` is `ack`, `xyz` is nothing.
        assert_eq!(closest("act", verbs), Some("ack"));
        assert_eq!(closest("xyz", verbs), None);
    }

    #[test]
    fn distance_counts_a_swap_as_one_edit() {
        assert_eq!(distance("ab", "ba"), 1);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("reason", "reason"), 0);
        assert_eq!(distance("reson", "reason"), 1);
    }
}
