//! The contract deadline after a deal: 5 PRC working days, to the end of that day in Beijing (UTC+8).

use ttx_kernel::Timestamp;
use ttx_kernel::calendar::{Date, add_working_days};

/// Working days between a deal and its contract.
pub const CONTRACT_WORKING_DAYS: u32 = 5;

const DAY_US: i64 = 86_400_000_000;
const BEIJING_US: i64 = 8 * 3_600_000_000;

/// How a deadline was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// With the State Council's holiday schedule.
    Calendar,
    /// Weekdays only: the year has no published schedule in the data yet.
    WeekdaysOnly,
}

fn beijing_date(t: Timestamp) -> Date {
    Date::from_days_since_epoch((t.unix_micros() + BEIJING_US).div_euclid(DAY_US))
}

fn end_of_beijing_day(d: Date) -> Timestamp {
    Timestamp::from_unix_micros((d.days_since_epoch() + 1) * DAY_US - BEIJING_US - 1)
}

/// The end (23:59:59.999999 Beijing) of the `n`th working day after `from`'s Beijing date.
pub fn working_days_after(from: Timestamp, n: u32) -> (Timestamp, Basis) {
    let start = beijing_date(from);
    match add_working_days(start, n) {
        Ok(d) => (end_of_beijing_day(d), Basis::Calendar),
        Err(_) => {
            let mut d = start;
            let mut left = n;
            while left > 0 {
                d = d.add_days(1);
                if d.weekday() <= 5 {
                    left -= 1;
                }
            }
            (end_of_beijing_day(d), Basis::WeekdaysOnly)
        }
    }
}

/// A deal agreed at `now` on `route`, with its contract due in 5 working days.
pub fn deal_agreed(
    deal_id: &str,
    result_id: &str,
    seller: &str,
    buyer: &str,
    route: &str,
    terms: crate::pb::TermSheet,
    now: Timestamp,
) -> crate::pb::DealAgreed {
    let (due, basis) = working_days_after(now, CONTRACT_WORKING_DAYS);
    crate::pb::DealAgreed {
        deal_id: deal_id.to_owned(),
        result_id: result_id.to_owned(),
        seller_org_id: seller.to_owned(),
        buyer_org_id: buyer.to_owned(),
        route: route.to_owned(),
        price_fen: terms.price_fen,
        terms: Some(terms),
        contract_due: Some(due.to_proto()),
        contract_due_basis: match basis {
            Basis::Calendar => "prc_calendar",
            Basis::WeekdaysOnly => "weekdays_only",
        }
        .into(),
        deposit_credited_fen: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn five_working_days_skip_weekends_and_holidays() {
        // Friday 2026-09-25 (Beijing): the National Day holiday runs 1–8 October 2026, with make-up working days.
        let (due, basis) = working_days_after(at("2026-09-25T02:00:00Z"), 5);
        assert_eq!(basis, Basis::Calendar);
        assert!(due > at("2026-10-08T16:00:00Z"), "the holiday does not count: {due}");
        // A Monday morning in an ordinary week: due the next Monday, end of day in Beijing.
        let (due, _) = working_days_after(at("2026-11-23T01:00:00Z"), 5);
        assert_eq!(due, at("2026-11-30T15:59:59.999999Z"));
    }

    #[test]
    fn a_year_without_a_schedule_counts_weekdays_and_says_so() {
        let (due, basis) = working_days_after(at("2027-03-01T01:00:00Z"), 5);
        assert_eq!(basis, Basis::WeekdaysOnly);
        assert_eq!(due, at("2027-03-08T15:59:59.999999Z"));
    }
}
