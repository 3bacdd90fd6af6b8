//! The injected clock: production reads the system time, tests move time by hand.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// Wall-clock time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to, so expiry and escalation are tested without sleeping.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock(Mutex::new(start))
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A drill's clock: from `start`, `speed` times as fast as the wall clock, so a rehearsal of
/// a 45-minute game day can take 4½ minutes. Escalations, expiries and the ledger's
/// timestamps all follow it.
#[derive(Debug)]
pub struct ScaledClock {
    start: DateTime<Utc>,
    real_start: std::time::Instant,
    speed: f64,
}

impl ScaledClock {
    /// `speed` is clamped to 1..=1000: slower than real time is no rehearsal.
    pub fn new(start: DateTime<Utc>, speed: f64) -> Self {
        ScaledClock {
            start,
            real_start: std::time::Instant::now(),
            speed: if speed.is_finite() {
                speed.clamp(1.0, 1000.0)
            } else {
                1.0
            },
        }
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> DateTime<Utc> {
        let real = self.real_start.elapsed().as_secs_f64() * self.speed;
        self.start + Duration::microseconds((real * 1e6) as i64)
    }
}

/// The one timestamp format of the ledger: UTC, microseconds, `Z`. Fixed width, so entries
/// hash the same in every language that re-serialises them.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_scaled_clock_runs_faster_than_the_wall_clock() {
        let start = Utc.with_ymd_and_hms(2026, 11, 27, 2, 0, 0).unwrap();
        // No sleeping: whatever real time passed, the clock moved at most 100× that, and
        // never backwards.
        let before = std::time::Instant::now();
        let clock = ScaledClock::new(start, 100.0);
        let a = clock.now();
        let b = clock.now();
        let passed = Duration::from_std(before.elapsed() * 100).unwrap();
        assert!(a >= start && b >= a);
        assert!(b - start <= passed, "{} > {passed}", b - start);
        assert_eq!(ScaledClock::new(start, 0.0).speed(), 1.0);
        assert_eq!(ScaledClock::new(start, f64::NAN).speed(), 1.0);
    }

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let start = Utc.with_ymd_and_hms(2026, 11, 27, 2, 0, 0).unwrap();
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::minutes(15));
        assert_eq!(timestamp(clock.now()), "2026-11-27T02:15:00.000000Z");
    }
}
