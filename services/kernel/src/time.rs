//! Instants and clocks. Decisions never read the clock: the handler reads it and passes the instant in.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A UTC instant with microsecond precision (microseconds since the Unix epoch).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_unix_micros(us: i64) -> Self {
        Self(us)
    }

    pub const fn unix_micros(self) -> i64 {
        self.0
    }

    /// The current system time.
    pub fn now() -> Self {
        let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Self(i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
    }

    pub fn checked_add(self, d: Duration) -> Option<Self> {
        let us = i64::try_from(d.as_micros()).ok()?;
        self.0.checked_add(us).map(Self)
    }

    pub fn to_proto(self) -> prost_types::Timestamp {
        prost_types::Timestamp {
            seconds: self.0.div_euclid(1_000_000),
            nanos: i32::try_from(self.0.rem_euclid(1_000_000) * 1_000).unwrap_or(0),
        }
    }

    pub fn from_proto(t: &prost_types::Timestamp) -> Self {
        Self(t.seconds.saturating_mul(1_000_000).saturating_add(i64::from(t.nanos / 1_000)))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl Timestamp {
    /// Parses RFC 3339 in UTC as this type prints it: `YYYY-MM-DDTHH:MM:SS[.f…]Z` (up to 6 fraction digits).
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        let s = s.strip_suffix('Z').or_else(|| s.strip_suffix('z'))?;
        let (date, time) = s.split_once(['T', 't'])?;
        let mut d = date.split('-');
        let (y, m, day) = (d.next()?, d.next()?, d.next()?);
        if d.next().is_some() || y.len() != 4 || m.len() != 2 || day.len() != 2 {
            return None;
        }
        let (y, m, day): (i64, u32, u32) = (y.parse().ok()?, m.parse().ok()?, day.parse().ok()?);
        let days = days_from_civil(y, m, day);
        if civil_from_days(days) != (y, m, day) {
            return None;
        }
        let (hms, fraction) = time.split_once('.').unwrap_or((time, ""));
        let mut t = hms.split(':');
        let (h, mi, sec) = (t.next()?, t.next()?, t.next()?);
        if t.next().is_some() || h.len() != 2 || mi.len() != 2 || sec.len() != 2 || fraction.len() > 6 {
            return None;
        }
        let (h, mi, sec): (i64, i64, i64) = (h.parse().ok()?, mi.parse().ok()?, sec.parse().ok()?);
        if h > 23 || mi > 59 || sec > 59 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let micros = if fraction.is_empty() { 0 } else { format!("{fraction:0<6}").parse::<i64>().ok()? };
        Some(Self(((days * 86_400 + h * 3600 + mi * 60 + sec) * 1_000_000) + micros))
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC, e.g. `2026-11-26T08:00:00.000000Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(1_000_000);
        let micros = self.0.rem_euclid(1_000_000);
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(f, "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z", rem / 3600, rem % 3600 / 60, rem % 60)
    }
}

/// A proleptic Gregorian date to days since 1970-01-01 (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = y - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Where the current time comes from.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// The system clock shifted to start at a chosen instant, then running at real speed: for tests and rehearsals of
/// processes whose periods must fall inside years the calendar holds.
#[derive(Debug, Clone, Copy)]
pub struct ShiftedClock {
    offset_us: i64,
}

impl ShiftedClock {
    /// A clock that reads `start` now.
    pub fn starting_at(start: Timestamp) -> Self {
        Self { offset_us: start.unix_micros().saturating_sub(Timestamp::now().unix_micros()) }
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> Timestamp {
        Timestamp(Timestamp::now().unix_micros().saturating_add(self.offset_us))
    }
}

/// A clock that moves only when told to; clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        Self(Arc::new(AtomicI64::new(start.unix_micros())))
    }

    pub fn set(&self, t: Timestamp) {
        self.0.store(t.unix_micros(), Ordering::SeqCst);
    }

    pub fn advance(&self, d: Duration) {
        let us = i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        self.0.fetch_add(us, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_parses_back_what_prints() {
        for us in [0, 1_790_000_000_123_456, 951_782_400_000_000] {
            let t = Timestamp::from_unix_micros(us);
            assert_eq!(Timestamp::parse_rfc3339(&t.to_string()), Some(t));
        }
        assert_eq!(Timestamp::parse_rfc3339("1970-01-01T00:00:01Z"), Some(Timestamp::from_unix_micros(1_000_000)));
        assert_eq!(Timestamp::parse_rfc3339("1970-01-01T00:00:00.5Z"), Some(Timestamp::from_unix_micros(500_000)));
        for bad in
            ["2026-02-30T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01 00:00:00Z", "2026-01-01T00:00:00+08:00", ""]
        {
            assert_eq!(Timestamp::parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn timestamps_print_as_rfc3339_utc() {
        assert_eq!(Timestamp::from_unix_micros(0).to_string(), "1970-01-01T00:00:00.000000Z");
        // 2026-11-26T08:30:15.123456Z
        let t = Timestamp::from_unix_micros(1_795_681_815_123_456);
        assert_eq!(t.to_string(), "2026-11-26T08:30:15.123456Z");
        assert_eq!(Timestamp::from_proto(&t.to_proto()), t);
    }

    #[test]
    fn a_shifted_clock_starts_where_told_and_runs() {
        let start = Timestamp::from_unix_micros(1_780_000_000_000_000);
        let c = ShiftedClock::starting_at(start);
        let first = c.now();
        assert!(first >= start && first.unix_micros() - start.unix_micros() < 5_000_000, "{first}");
        std::thread::sleep(Duration::from_millis(2));
        assert!(c.now() > first);
    }

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let c = ManualClock::new(Timestamp::from_unix_micros(10));
        assert_eq!(c.now().unix_micros(), 10);
        c.advance(Duration::from_millis(2));
        assert_eq!(c.clone().now().unix_micros(), 2_010);
    }
}
