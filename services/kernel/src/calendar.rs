//! The PRC working-day calendar: weekends and public holidays are off, except the make-up working days (调休) the
//! State Council announces each year. The schedule is data, one table per year; a date in a year without a table is
//! an error, never a guess.

use std::fmt;

/// A calendar date (proleptic Gregorian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        _ => 28,
    }
}

impl Date {
    /// A valid date, or `None`.
    pub fn new(year: i32, month: u8, day: u8) -> Option<Self> {
        ((1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month)).then_some(Self {
            year,
            month,
            day,
        })
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Self> {
        let mut parts = s.split('-');
        let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        Self::new(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_epoch(self) -> i64 {
        crate::time::days_from_civil(i64::from(self.year), u32::from(self.month), u32::from(self.day))
    }

    /// The date `days` after 1970-01-01.
    pub fn from_days_since_epoch(days: i64) -> Self {
        let (y, m, d) = crate::time::civil_from_days(days);
        Self { year: y as i32, month: m as u8, day: d as u8 }
    }

    pub fn add_days(self, n: i64) -> Self {
        Self::from_days_since_epoch(self.days_since_epoch() + n)
    }

    /// 1 = Monday … 7 = Sunday.
    pub fn weekday(self) -> u8 {
        // 1970-01-01 was a Thursday.
        ((self.days_since_epoch() + 3).rem_euclid(7) + 1) as u8
    }
}

/// One year's holiday schedule: the days off that fall on weekdays or weekends (all listed) and the weekend days that
/// are working days.
#[derive(Debug)]
pub struct YearSchedule {
    pub year: i32,
    /// (month, day) of every public-holiday day off.
    pub holidays: &'static [(u8, u8)],
    /// (month, day) of every make-up working day on a weekend.
    pub make_up_workdays: &'static [(u8, u8)],
}

/// The State Council General Office's notices on public-holiday arrangements for 2025 and 2026.
pub const SCHEDULES: &[YearSchedule] = &[
    YearSchedule {
        year: 2025,
        holidays: &[
            (1, 1),
            (1, 28),
            (1, 29),
            (1, 30),
            (1, 31),
            (2, 1),
            (2, 2),
            (2, 3),
            (2, 4),
            (4, 4),
            (4, 5),
            (4, 6),
            (5, 1),
            (5, 2),
            (5, 3),
            (5, 4),
            (5, 5),
            (5, 31),
            (6, 1),
            (6, 2),
            (10, 1),
            (10, 2),
            (10, 3),
            (10, 4),
            (10, 5),
            (10, 6),
            (10, 7),
            (10, 8),
        ],
        make_up_workdays: &[(1, 26), (2, 8), (4, 27), (9, 28), (10, 11)],
    },
    YearSchedule {
        year: 2026,
        holidays: &[
            (1, 1),
            (1, 2),
            (1, 3),
            (2, 15),
            (2, 16),
            (2, 17),
            (2, 18),
            (2, 19),
            (2, 20),
            (2, 21),
            (2, 22),
            (2, 23),
            (4, 4),
            (4, 5),
            (4, 6),
            (5, 1),
            (5, 2),
            (5, 3),
            (5, 4),
            (5, 5),
            (6, 19),
            (6, 20),
            (6, 21),
            (9, 25),
            (9, 26),
            (9, 27),
            (10, 1),
            (10, 2),
            (10, 3),
            (10, 4),
            (10, 5),
            (10, 6),
            (10, 7),
        ],
        make_up_workdays: &[(1, 4), (2, 14), (2, 28), (5, 9), (9, 20), (10, 10)],
    },
];

/// A date outside the years the calendar has data for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no public-holiday schedule for {0}; working days cannot be counted")]
pub struct NoSchedule(pub i32);

fn schedule(year: i32) -> Result<&'static YearSchedule, NoSchedule> {
    SCHEDULES.iter().find(|s| s.year == year).ok_or(NoSchedule(year))
}

/// Whether `d` is a working day in the PRC.
pub fn is_working_day(d: Date) -> Result<bool, NoSchedule> {
    let s = schedule(d.year)?;
    let md = (d.month, d.day);
    if s.make_up_workdays.contains(&md) {
        return Ok(true);
    }
    if s.holidays.contains(&md) {
        return Ok(false);
    }
    Ok(d.weekday() <= 5)
}

/// The `n`-th working day after `start` (the start itself does not count), as deadlines "within n working days" are
/// counted.
pub fn add_working_days(start: Date, n: u32) -> Result<Date, NoSchedule> {
    let mut d = start;
    let mut left = n;
    while left > 0 {
        d = d.add_days(1);
        if is_working_day(d)? {
            left -= 1;
        }
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn dates_round_trip_through_day_numbers_and_know_their_weekday() {
        for s in ["1970-01-01", "2000-02-29", "2025-12-31", "2026-02-15", "2100-03-01"] {
            assert_eq!(Date::from_days_since_epoch(d(s).days_since_epoch()), d(s));
        }
        assert_eq!(d("1970-01-01").days_since_epoch(), 0);
        assert_eq!(d("2026-11-26").weekday(), 4, "a Thursday");
        assert_eq!(d("2026-02-14").weekday(), 6);
        assert!(Date::parse("2025-02-29").is_none());
        assert!(Date::parse("2026-13-01").is_none());
        assert!(Date::parse("26-1-1").is_none());
    }

    #[test]
    fn holidays_are_off_and_make_up_weekends_are_working_days() {
        assert!(!is_working_day(d("2026-02-16")).unwrap(), "Spring Festival, a Monday");
        assert!(is_working_day(d("2026-02-14")).unwrap(), "a Saturday made a working day");
        assert!(is_working_day(d("2026-01-04")).unwrap(), "a Sunday made a working day");
        assert!(!is_working_day(d("2026-10-07")).unwrap());
        assert!(!is_working_day(d("2026-11-28")).unwrap(), "an ordinary Saturday");
        assert!(is_working_day(d("2026-11-27")).unwrap(), "an ordinary Friday");
        assert_eq!(is_working_day(d("2027-03-01")), Err(NoSchedule(2027)));
    }

    #[test]
    fn working_days_skip_weekends_and_holidays() {
        // Thursday 2026-11-26 + 5 working days: Fri 27, Mon 30, Tue 1, Wed 2, Thu 3.
        assert_eq!(add_working_days(d("2026-11-26"), 5).unwrap(), d("2026-12-03"));
        // From the last working day before the 2026 National Day break: Sep 30 + 1 is Oct 8 (Oct 1–7 off).
        assert_eq!(add_working_days(d("2026-09-30"), 1).unwrap(), d("2026-10-08"));
        // Across the Spring Festival: Fri 2026-02-13, then Sat 14 (make-up), then Tue 24 after the break.
        assert_eq!(add_working_days(d("2026-02-13"), 2).unwrap(), d("2026-02-24"));
        assert!(add_working_days(d("2026-12-30"), 5).is_err(), "2027 has no schedule yet");
    }

    #[test]
    fn the_schedules_are_consistent() {
        for s in SCHEDULES {
            for &(m, day) in s.holidays.iter().chain(s.make_up_workdays) {
                assert!(Date::new(s.year, m, day).is_some(), "{}-{m}-{day}", s.year);
            }
            for &(m, day) in s.make_up_workdays {
                let date = Date::new(s.year, m, day).unwrap();
                assert!(date.weekday() >= 6, "make-up day {date} is a weekend day");
                assert!(!s.holidays.contains(&(m, day)));
            }
        }
    }
}
