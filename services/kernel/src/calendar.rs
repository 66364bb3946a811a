//! The PRC working-day calendar: weekends and public holidays are off, except the make-up working days (调休) the
//! State Council announces each year. The schedule is data, one table per year; a date in a year without a table is
//! an error, never a guess.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, OnceLock, RwLock};

use crate::time::Timestamp;

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

/// One year's holiday schedule as published: the public-holiday days off (all listed, weekend or not) and the
/// weekend days that are working days (调休).
#[derive(Debug)]
pub struct PublishedYear {
    pub year: i32,
    /// (month, day) of every public-holiday day off.
    pub holidays: &'static [(u8, u8)],
    /// (month, day) of every make-up working day on a weekend.
    pub make_up_workdays: &'static [(u8, u8)],
    /// Where the schedule was published.
    pub source: &'static str,
}

/// The State Council General Office's notices on public-holiday arrangements for 2025 and 2026: the schedules every
/// exchange starts with (identity seeds them as events). Later years are loaded by an administrator, never invented.
pub const PUBLISHED: &[PublishedYear] = &[
    PublishedYear {
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
        source: "国务院办公厅关于2025年部分节假日安排的通知 (国办发明电〔2024〕12号)",
    },
    PublishedYear {
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
        source: "国务院办公厅关于2026年部分节假日安排的通知",
    },
];

/// A date outside the years the calendar has data for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no public-holiday schedule for {0}; an administrator must load it before periods ending then are counted")]
pub struct NoSchedule(pub i32);

/// Why a schedule cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct BadSchedule {
    pub field: String,
    pub reason: String,
}

fn bad(field: impl Into<String>, reason: impl Into<String>) -> BadSchedule {
    BadSchedule { field: field.into(), reason: reason.into() }
}

/// One year's schedule, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub year: i32,
    pub holidays: BTreeSet<Date>,
    pub make_up_workdays: BTreeSet<Date>,
    pub source: String,
}

impl Schedule {
    /// A schedule whose dates all fall in `year`, whose make-up working days are weekend days, and which no date is
    /// both a holiday and a make-up day.
    pub fn new(
        year: i32,
        holidays: impl IntoIterator<Item = Date>,
        make_up_workdays: impl IntoIterator<Item = Date>,
        source: &str,
    ) -> Result<Self, BadSchedule> {
        if !(2000..=2200).contains(&year) {
            return Err(bad("year", "a year from 2000 to 2200"));
        }
        let holidays: BTreeSet<Date> = holidays.into_iter().collect();
        let make_up_workdays: BTreeSet<Date> = make_up_workdays.into_iter().collect();
        if holidays.is_empty() {
            return Err(bad("holidays", "a year's schedule lists its public holidays"));
        }
        if holidays.len() > 60 || make_up_workdays.len() > 30 {
            return Err(bad("holidays", "more days than any published schedule"));
        }
        if let Some(d) = holidays.iter().find(|d| d.year != year) {
            return Err(bad("holidays", format!("{d} is not in {year}")));
        }
        if let Some(d) = make_up_workdays.iter().find(|d| d.year != year) {
            return Err(bad("make_up_workdays", format!("{d} is not in {year}")));
        }
        if let Some(d) = make_up_workdays.iter().find(|d| d.weekday() <= 5) {
            return Err(bad("make_up_workdays", format!("{d} is a weekday; make-up working days fall on weekends")));
        }
        if let Some(d) = make_up_workdays.iter().find(|d| holidays.contains(d)) {
            return Err(bad("make_up_workdays", format!("{d} is also a holiday")));
        }
        let source = source.trim();
        if source.is_empty() || source.chars().count() > 200 {
            return Err(bad("source", "the notice that published the schedule, 1 to 200 characters"));
        }
        Ok(Self { year, holidays, make_up_workdays, source: source.to_owned() })
    }

    fn published(p: &PublishedYear) -> Self {
        let date = |&(m, d): &(u8, u8)| Date::new(p.year, m, d).expect("a published date is valid");
        Self::new(p.year, p.holidays.iter().map(date), p.make_up_workdays.iter().map(date), p.source)
            .expect("a published schedule is consistent")
    }
}

/// Every schedule the exchange knows, and how many loads made it: the calendar's version.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Calendar {
    years: BTreeMap<i32, Schedule>,
    loads: u64,
}

const DAY_US: i64 = 86_400_000_000;
const BEIJING_US: i64 = 8 * 3_600_000_000;

/// The date in Beijing (UTC+8, no daylight saving) at `t`.
pub fn beijing_date(t: Timestamp) -> Date {
    Date::from_days_since_epoch((t.unix_micros() + BEIJING_US).div_euclid(DAY_US))
}

/// The last instant of `d` in Beijing: a period "ends at 24:00" of its last day.
pub fn end_of_beijing_day(d: Date) -> Timestamp {
    Timestamp::from_unix_micros((d.days_since_epoch() + 1) * DAY_US - BEIJING_US - 1)
}

impl Calendar {
    /// An exchange's calendar before any schedule is loaded.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The calendar every exchange starts with: the published schedules, as identity seeds them.
    pub fn published() -> Arc<Self> {
        static PUBLISHED_CALENDAR: OnceLock<Arc<Calendar>> = OnceLock::new();
        PUBLISHED_CALENDAR
            .get_or_init(|| Arc::new(PUBLISHED.iter().fold(Self::empty(), |c, p| c.with(Schedule::published(p)))))
            .clone()
    }

    /// The published schedules, in the order they are seeded.
    pub fn published_schedules() -> Vec<Schedule> {
        PUBLISHED.iter().map(Schedule::published).collect()
    }

    /// This calendar with `s` loaded: a new year, or a revised schedule replacing its year's.
    #[must_use]
    pub fn with(&self, s: Schedule) -> Self {
        let mut next = self.clone();
        next.years.insert(s.year, s);
        next.loads += 1;
        next
    }

    /// This calendar counting one more load that changed nothing (a stored schedule that does not check), so that its
    /// version stays the calendar stream's version.
    #[must_use]
    pub fn counted(&self) -> Self {
        let mut next = self.clone();
        next.loads += 1;
        next
    }

    /// `calendar-<loads>`: the number of schedules loaded identifies the calendar in force.
    pub fn version(&self) -> String {
        format!("calendar-{}", self.loads)
    }

    pub fn loads(&self) -> u64 {
        self.loads
    }

    pub fn schedule(&self, year: i32) -> Option<&Schedule> {
        self.years.get(&year)
    }

    pub fn schedules(&self) -> impl Iterator<Item = &Schedule> {
        self.years.values()
    }

    /// Whether `d` is a working day in the PRC.
    pub fn is_working_day(&self, d: Date) -> Result<bool, NoSchedule> {
        let s = self.years.get(&d.year).ok_or(NoSchedule(d.year))?;
        if s.make_up_workdays.contains(&d) {
            return Ok(true);
        }
        if s.holidays.contains(&d) {
            return Ok(false);
        }
        Ok(d.weekday() <= 5)
    }

    /// The `n`-th working day after `start` (the start itself does not count), as deadlines "within n working days"
    /// are counted.
    pub fn add_working_days(&self, start: Date, n: u32) -> Result<Date, NoSchedule> {
        let mut d = start;
        let mut left = n;
        while left > 0 {
            d = d.add_days(1);
            if self.is_working_day(d)? {
                left -= 1;
            }
        }
        Ok(d)
    }

    /// `d` if it is a working day, else the first working day after it.
    pub fn on_or_after_working_day(&self, d: Date) -> Result<Date, NoSchedule> {
        let mut d = d;
        while !self.is_working_day(d)? {
            d = d.add_days(1);
        }
        Ok(d)
    }

    /// The end of a period of `days` days begun by an event at `from`, as the Civil Code counts it (art. 201–203): the
    /// day of the event does not count; the period ends at 24:00 Beijing time of its last day; a last day that is not
    /// a working day (a weekend or holiday not made a working day) moves to the next working day.
    pub fn day_period_end(&self, from: Timestamp, days: u32) -> Result<Timestamp, NoSchedule> {
        let last = beijing_date(from).add_days(i64::from(days));
        Ok(end_of_beijing_day(self.on_or_after_working_day(last)?))
    }

    /// The end (24:00 Beijing) of the `n`-th working day after the day of `from`.
    pub fn working_days_end(&self, from: Timestamp, n: u32) -> Result<Timestamp, NoSchedule> {
        Ok(end_of_beijing_day(self.add_working_days(beijing_date(from), n)?))
    }
}

/// A calendar shared by a service's handlers and the fold that keeps it: each decision reads the one in force.
#[derive(Debug, Clone)]
pub struct CalendarView(Arc<RwLock<Arc<Calendar>>>);

impl Default for CalendarView {
    fn default() -> Self {
        Self(Arc::new(RwLock::new(Calendar::published())))
    }
}

impl CalendarView {
    /// The calendar in force now.
    pub fn get(&self) -> Arc<Calendar> {
        self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Loads `s`, the calendar stream's event at `version` (as it is folded): the calendar's version becomes exactly
    /// that. A schedule identical to the one in force for its year, at a version the view has reached (as the seeds
    /// are to the published calendar a view starts with), changes nothing.
    pub fn load(&self, s: Schedule, version: u64) {
        let mut guard = self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if version <= guard.loads && guard.years.get(&s.year) == Some(&s) {
            return;
        }
        let mut next = guard.with(s);
        next.loads = version;
        *guard = Arc::new(next);
    }

    /// Counts the stream's event at `version` that could not be read, so later versions stay exact.
    pub fn skip(&self, version: u64) {
        let mut guard = self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if version > guard.loads {
            let mut next = guard.as_ref().clone();
            next.loads = version;
            *guard = Arc::new(next);
        }
    }
}

/// The calendar's one stream, owned by identity.
pub const STREAM: &str = "identity-calendar-prc";

/// The event that loads a year's schedule (`ttx.identity.v1.ScheduleLoaded`).
pub const SCHEDULE_LOADED: &str = "ttx.identity.v1.ScheduleLoaded";

/// The schedule an event or a command carries (dates as `YYYY-MM-DD`), checked; a bad date names its entry.
pub fn schedule(year: i32, holidays: &[String], make_up: &[String], source: &str) -> Result<Schedule, BadSchedule> {
    let dates = |field: &str, v: &[String]| -> Result<Vec<Date>, BadSchedule> {
        v.iter()
            .enumerate()
            .map(|(i, s)| Date::parse(s.trim()).ok_or_else(|| bad(format!("{field}[{i}]"), "a date, YYYY-MM-DD")))
            .collect()
    };
    Schedule::new(year, dates("holidays", holidays)?, dates("make_up_workdays", make_up)?, source)
}

/// Folds a calendar event of the log into `view`; every other event is ignored. Each service that counts periods
/// calls this from its own fold of the log.
pub fn fold(view: &CalendarView, event: &crate::event::RecordedEvent) {
    use prost::Message as _;
    if event.stream_id() != STREAM || event.event_type() != SCHEDULE_LOADED {
        return;
    }
    match ttx_proto::identity::v1::ScheduleLoaded::decode(event.payload().as_ref()) {
        Ok(e) => match schedule(e.year, &e.holidays, &e.make_up_workdays, &e.source) {
            Ok(s) => view.load(s, event.version()),
            Err(err) => {
                tracing::error!(year = e.year, error = %err, "a stored holiday schedule does not check");
                view.skip(event.version());
            }
        },
        Err(err) => {
            tracing::error!(error = %err, "a holiday schedule event does not decode");
            view.skip(event.version());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    fn is_working_day(d: Date) -> Result<bool, NoSchedule> {
        Calendar::published().is_working_day(d)
    }

    fn add_working_days(d: Date, n: u32) -> Result<Date, NoSchedule> {
        Calendar::published().add_working_days(d, n)
    }

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
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
    fn the_published_schedules_are_consistent_and_seed_version_2() {
        let c = Calendar::published();
        assert_eq!(c.version(), "calendar-2");
        assert_eq!(c.schedules().map(|s| s.year).collect::<Vec<_>>(), vec![2025, 2026]);
        assert_eq!(Calendar::published_schedules().len(), PUBLISHED.len());
    }

    #[test]
    fn a_day_period_starts_the_next_day_and_ends_at_24_00_beijing_of_a_working_day() {
        let c = Calendar::published();
        // A notice of 15 days started Monday 2026-11-02 10:00 Beijing: day 1 is 11-03, day 15 is Tuesday 11-17.
        assert_eq!(c.day_period_end(at("2026-11-02T02:00:00Z"), 15).unwrap(), at("2026-11-17T15:59:59.999999Z"));
        // Started at 23:30 Beijing on 11-02 (15:30 UTC): still the 2nd in Beijing, so the same end.
        assert_eq!(c.day_period_end(at("2026-11-02T15:30:00Z"), 15).unwrap(), at("2026-11-17T15:59:59.999999Z"));
        // Started at 00:30 Beijing on 11-03 (16:30 UTC on the 2nd): the 3rd in Beijing, one day later.
        assert_eq!(c.day_period_end(at("2026-11-02T16:30:00Z"), 15).unwrap(), at("2026-11-18T15:59:59.999999Z"));
        // A last day on a Saturday moves to Monday.
        assert_eq!(c.day_period_end(at("2026-11-13T02:00:00Z"), 15).unwrap(), at("2026-11-30T15:59:59.999999Z"));
        // A last day in the National Day holiday (2026-10-01…07) moves to Thursday 10-08.
        assert_eq!(c.day_period_end(at("2026-09-16T02:00:00Z"), 15).unwrap(), at("2026-10-08T15:59:59.999999Z"));
        // A last day on a make-up working Saturday (2026-10-10) stays.
        assert_eq!(c.day_period_end(at("2026-09-25T02:00:00Z"), 15).unwrap(), at("2026-10-10T15:59:59.999999Z"));
        // A period whose last day falls in a year without a schedule cannot be counted.
        assert_eq!(c.day_period_end(at("2026-12-20T02:00:00Z"), 15), Err(NoSchedule(2027)));
    }

    #[test]
    fn working_day_periods_end_at_24_00_beijing() {
        let c = Calendar::published();
        assert_eq!(c.working_days_end(at("2026-11-23T01:00:00Z"), 5).unwrap(), at("2026-11-30T15:59:59.999999Z"));
        assert_eq!(c.working_days_end(at("2026-12-28T01:00:00Z"), 5), Err(NoSchedule(2027)));
    }

    #[test]
    fn a_loaded_year_counts_and_a_revision_replaces_its_year() {
        let y2027 = Schedule::new(2027, [d("2027-01-01")], [], "test schedule").unwrap();
        let c = Calendar::published().with(y2027.clone());
        assert_eq!(c.version(), "calendar-3");
        assert!(!c.is_working_day(d("2027-01-01")).unwrap());
        assert!(c.is_working_day(d("2027-01-04")).unwrap());
        let revised = Schedule::new(2027, [d("2027-01-01"), d("2027-01-04")], [], "revised").unwrap();
        let c = c.with(revised);
        assert_eq!(c.version(), "calendar-4");
        assert!(!c.is_working_day(d("2027-01-04")).unwrap());
    }

    #[test]
    fn a_view_folds_the_seeds_as_no_change_and_later_loads_in_order() {
        let view = CalendarView::default();
        for (i, s) in Calendar::published_schedules().into_iter().enumerate() {
            view.load(s, i as u64 + 1);
        }
        assert_eq!(view.get().version(), "calendar-2");
        view.load(Schedule::new(2027, [d("2027-01-01")], [], "x").unwrap(), 3);
        assert_eq!(view.get().version(), "calendar-3");
        assert!(view.get().schedule(2027).is_some());
    }

    #[test]
    fn a_view_takes_the_streams_version_even_when_its_start_already_holds_a_later_year() {
        // A build whose published list already holds 2027, on a log where an administrator loaded 2027 as version 3.
        let y2027 = Schedule::new(2027, [d("2027-01-01")], [], "x").unwrap();
        let view = CalendarView::default();
        view.load(y2027.clone(), 3);
        assert_eq!(view.get().version(), "calendar-3");
        view.load(y2027, 3);
        assert_eq!(view.get().version(), "calendar-3", "folding the same event again changes nothing");
        view.skip(4);
        assert_eq!(view.get().version(), "calendar-4", "an unreadable event still counts");
    }

    #[test]
    fn inconsistent_schedules_are_refused_naming_the_field() {
        let field = |r: Result<Schedule, BadSchedule>| r.unwrap_err().field;
        assert_eq!(field(Schedule::new(2027, [d("2026-01-01")], [], "x")), "holidays");
        assert_eq!(field(Schedule::new(2027, [d("2027-01-01")], [d("2027-01-04")], "x")), "make_up_workdays");
        assert_eq!(field(Schedule::new(2027, [d("2027-01-02")], [d("2027-01-02")], "x")), "make_up_workdays");
        assert_eq!(field(Schedule::new(2027, [], [], "x")), "holidays");
        assert_eq!(field(Schedule::new(2027, [d("2027-01-01")], [], " ")), "source");
        assert_eq!(field(Schedule::new(1999, [d("1999-01-01")], [], "x")), "year");
    }
}
