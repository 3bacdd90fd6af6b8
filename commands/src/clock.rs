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
        let _ = self.try_advance(by);
    }

    /// Move forward by `by` unless that leaves the years 0–9999 the ledger's timestamps
    /// are written in (or chrono's range): then nothing moves and `None` says so.
    pub fn try_advance(&self, by: Duration) -> Option<DateTime<Utc>> {
        use chrono::Datelike;
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let moved = now
            .checked_add_signed(by)
            .filter(|t| (0..=9999).contains(&t.year()))?;
        *now = moved;
        Some(moved)
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
    use chrono::{Datelike, Timelike};
    let (year, nanos) = (at.year(), at.nanosecond());
    // Every ledger write formats one; chrono's formatter interprets its pattern each time.
    // Four-digit years without a leap second are written digit by digit; anything else
    // (years before 0 or after 9999, which chrono writes with a sign, and leap seconds,
    // written as second 60) goes to chrono. `timestamps_match_chronos_format` holds the
    // two to the same text.
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        return at.format(TIMESTAMP_FORMAT).to_string();
    }
    let mut out = String::with_capacity(27);
    let mut digits = |value: u32, width: u32, after: char| {
        for place in (0..width).rev() {
            out.push(char::from(b'0' + (value / 10u32.pow(place) % 10) as u8));
        }
        out.push(after);
    };
    digits(year as u32, 4, '-');
    digits(at.month(), 2, '-');
    digits(at.day(), 2, 'T');
    digits(at.hour(), 2, ':');
    digits(at.minute(), 2, ':');
    digits(at.second(), 2, '.');
    digits(nanos / 1_000, 6, 'Z');
    out
}

const TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timestamps_match_chronos_format() {
        let chrono_says = |at: DateTime<Utc>| at.format(TIMESTAMP_FORMAT).to_string();
        let seconds = |y, mo, d, h, mi, s| {
            Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
                .unwrap()
                .timestamp()
        };
        let mut instants: Vec<(i64, u32)> = vec![
            (seconds(0, 1, 1, 0, 0, 0), 0),
            (seconds(9999, 12, 31, 23, 59, 59), 999_999_999),
            (seconds(10000, 1, 1, 0, 0, 0), 0),
            (seconds(-1, 12, 31, 23, 59, 59), 999_999),
            (seconds(1970, 1, 1, 0, 0, 0), 1_000),
            (seconds(2024, 2, 29, 12, 0, 0), 999),
            (seconds(2026, 11, 27, 2, 15, 0), 123_456_789),
            // A leap second: chrono writes second 60.
            (seconds(2016, 12, 31, 23, 59, 59), 1_500_000_000),
        ];
        // Spread over the years 0..=9999 and a little beyond, from a fixed seed.
        let (low, high) = (seconds(-5, 1, 1, 0, 0, 0), seconds(10005, 1, 1, 0, 0, 0));
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let secs = low + (state % (high - low) as u64) as i64;
            instants.push((secs, (state >> 33) as u32 % 1_000_000_000));
        }
        for (secs, nanos) in instants {
            let at = DateTime::from_timestamp(secs, nanos).unwrap();
            assert_eq!(timestamp(at), chrono_says(at), "{secs} s {nanos} ns");
        }
    }

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
