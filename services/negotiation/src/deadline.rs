//! Deadlines counted in PRC working days with the calendar in force (the decision's context carries it), to 24:00
//! Beijing time of the last day. A deadline whose last day falls in a year without a loaded schedule is never guessed:
//! a user's command is refused naming the year; a timer's or reaction's decision records it as pending, and
//! `DeadlinesFixed` completes it once an administrator loads the year.

use ttx_kernel::calendar::{Calendar, NoSchedule};
use ttx_kernel::{Ctx, Timestamp};

/// Working days between a deal and its contract.
pub const CONTRACT_WORKING_DAYS: u32 = 5;

/// The basis of a deadline counted with the calendar.
pub const PRC_CALENDAR: &str = "prc_calendar";
/// The basis of a deadline waiting for its year's schedule.
pub const PENDING: &str = "pending_calendar";

/// The end (24:00 Beijing) of the `n`th working day after `from`'s Beijing date, or the year without a schedule.
pub fn working_days_after(calendar: &Calendar, from: Timestamp, n: u32) -> Result<Timestamp, NoSchedule> {
    calendar.working_days_end(from, n)
}

/// A deal agreed at `ctx.now` on `route`, with its contract due in 5 working days, or pending that year's schedule.
pub fn deal_agreed(
    deal_id: &str,
    result_id: &str,
    seller: &str,
    buyer: &str,
    route: &str,
    terms: crate::pb::TermSheet,
    ctx: &Ctx,
) -> crate::pb::DealAgreed {
    let due = working_days_after(&ctx.calendar, ctx.now, CONTRACT_WORKING_DAYS);
    crate::pb::DealAgreed {
        deal_id: deal_id.to_owned(),
        result_id: result_id.to_owned(),
        seller_org_id: seller.to_owned(),
        buyer_org_id: buyer.to_owned(),
        route: route.to_owned(),
        price_fen: terms.price_fen,
        terms: Some(terms),
        contract_due: due.as_ref().ok().map(|t| t.to_proto()),
        contract_due_basis: if due.is_ok() { PRC_CALENDAR } else { PENDING }.into(),
        deposit_credited_fen: 0,
        agreed_at: Some(ctx.now.to_proto()),
        pending_year: due.err().map_or(0, |e| e.0),
    }
}

#[cfg(test)]
mod tests {
    use ttx_kernel::CommandId;

    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    fn ctx(now: &str) -> Ctx {
        Ctx::new(at(now), Default::default(), CommandId::parse("c").unwrap())
    }

    #[test]
    fn five_working_days_skip_weekends_and_holidays() {
        // Friday 2026-09-25 (Beijing): the National Day holiday runs 1–7 October 2026, with make-up working days.
        let c = ctx("2026-09-25T02:00:00Z");
        let due = working_days_after(&c.calendar, c.now, 5).unwrap();
        assert!(due > at("2026-10-08T16:00:00Z"), "the holiday does not count: {due}");
        // A Monday morning in an ordinary week: due the next Monday, end of day in Beijing.
        let c = ctx("2026-11-23T01:00:00Z");
        assert_eq!(working_days_after(&c.calendar, c.now, 5).unwrap(), at("2026-11-30T15:59:59.999999Z"));
    }

    #[test]
    fn a_deadline_in_a_year_without_a_schedule_is_pending_never_guessed() {
        let c = ctx("2026-12-28T01:00:00Z");
        assert_eq!(working_days_after(&c.calendar, c.now, 5), Err(NoSchedule(2027)));
        let d = deal_agreed("d", "r", "s", "b", "listed", Default::default(), &c);
        assert_eq!((d.contract_due, d.contract_due_basis.as_str(), d.pending_year), (None, PENDING, 2027));
        assert_eq!(d.agreed_at, Some(c.now.to_proto()));
    }
}
