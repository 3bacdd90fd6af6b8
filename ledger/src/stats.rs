//! How long the ledger's writes take, for `/metrics`: each group commit (journal, fdatasync,
//! sled) and its fdatasync alone, how many writes each batch carried, and each checkpoint
//! (which holds writes back while it runs). Lock-free counters
//! the committer thread bumps and any reader renders.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds in seconds: fdatasync on SSDs is 0.1–10 ms, on network disks tens of ms.
const SECONDS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];
/// Upper bounds in writes per batch.
const WRITES: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// A Prometheus histogram with fixed buckets.
pub struct Histogram {
    bounds: &'static [f64],
    /// Non-cumulative counts per bucket, then one for +Inf.
    counts: Vec<AtomicU64>,
    /// Sum of observations, in millionths (of a second, or of a write).
    sum_micros: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, value: f64) {
        let i = self
            .bounds
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(self.bounds.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((value * 1e6) as u64, Ordering::Relaxed);
    }

    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// Sum of every observation (seconds, or writes).
    pub fn sum(&self) -> f64 {
        self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
    }

    /// Each bucket's upper bound with its own (not cumulative) count; the last is +Inf.
    pub fn buckets(&self) -> Vec<(f64, u64)> {
        self.bounds
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .zip(self.counts.iter().map(|c| c.load(Ordering::Relaxed)))
            .collect()
    }

    /// The text format's `_bucket`, `_sum` and `_count` lines, with HELP and TYPE.
    pub fn render(&self, name: &str, help: &str) -> String {
        let mut out = format!("# HELP {name} {help}\n# TYPE {name} histogram\n");
        let mut running = 0;
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            running += count.load(Ordering::Relaxed);
            out.push_str(&format!("{name}_bucket{{le=\"{bound}\"}} {running}\n"));
        }
        running += self.counts[self.bounds.len()].load(Ordering::Relaxed);
        out.push_str(&format!("{name}_bucket{{le=\"+Inf\"}} {running}\n"));
        out.push_str(&format!(
            "{name}_sum {}\n{name}_count {running}\n",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        ));
        out
    }
}

/// The ledger's write latencies.
pub struct LedgerStats {
    /// One group commit: journal write and fdatasync, then sled.
    pub commit: Histogram,
    /// The journal's fdatasync alone.
    pub fsync: Histogram,
    /// Writes per group commit.
    pub batch: Histogram,
    /// One checkpoint: sled made durable and the journal retired. Writes wait for it.
    pub checkpoint: Histogram,
}

impl Default for LedgerStats {
    fn default() -> Self {
        LedgerStats {
            commit: Histogram::new(&SECONDS),
            fsync: Histogram::new(&SECONDS),
            batch: Histogram::new(&WRITES),
            checkpoint: Histogram::new(&SECONDS),
        }
    }
}

impl LedgerStats {
    /// Prometheus text for all four.
    pub fn render(&self) -> String {
        self.commit.render(
            "warroom_ledger_commit_seconds",
            "One group commit of ledger writes: journal, fdatasync, sled. A write is acknowledged after it.",
        ) + &self.fsync.render(
            "warroom_ledger_fsync_seconds",
            "The journal write and its fdatasync within a group commit (what makes a batch durable).",
        ) + &self.batch.render(
            "warroom_ledger_batch_writes",
            "Writes carried by one group commit.",
        ) + &self.checkpoint.render(
            "warroom_ledger_checkpoint_seconds",
            "One checkpoint: sled flushed and synced, the journal retired. Ledger writes wait while it runs.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_the_sum_and_count_agree() {
        let h = Histogram::new(&SECONDS);
        h.observe(0.0002);
        h.observe(0.003);
        h.observe(5.0);
        let text = h.render("x_seconds", "test");
        assert!(
            text.contains("x_seconds_bucket{le=\"0.0001\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("x_seconds_bucket{le=\"0.00025\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("x_seconds_bucket{le=\"0.005\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("x_seconds_bucket{le=\"1\"} 2\n"), "{text}");
        assert!(text.contains("x_seconds_bucket{le=\"+Inf\"} 3\n"), "{text}");
        assert!(text.contains("x_seconds_count 3\n"), "{text}");
        assert!(text.contains("x_seconds_sum 5.0032\n"), "{text}");
        assert_eq!(h.count(), 3);
    }
}
