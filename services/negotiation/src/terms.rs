//! Terms: what a sale sells and how it is paid, checked once for every route.
//!
//! A term sheet names a transaction mode (its exclusivity follows from the mode, never from the caller), the
//! territory, term and field of use, and a payment schedule whose every payment has a structured due date (a calendar
//! date, or a number of working days after an event of the contract). The schedule adds up to the price exactly:
//! by amounts when the price is known (offers, listed prices), by shares of the final price when the bidding will fix
//! it (a session's declared terms). Every amount is 1 fen to the rules' ceiling and every sum is checked.

use ttx_kernel::calendar::Date;
use ttx_kernel::money::{self, MoneyError, WHOLE_BP};
use ttx_proto::listings::v1::TransactionMode;

use crate::pb;
use crate::rules::Rules;

/// Why a term sheet was refused; each names the request field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TermsError {
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: &'static str },
    #[error(transparent)]
    Money(#[from] MoneyError),
}

impl TermsError {
    /// The request field at fault.
    pub fn field(&self) -> &str {
        match self {
            Self::Invalid { field, .. } => field,
            Self::Money(m) => m.field(),
        }
    }
}

/// How the price of a term sheet is fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pricing {
    /// The sheet names the price; payments are amounts that add up to it.
    Fixed,
    /// The bidding fixes the price (0 on the sheet); payments are shares that add up to 10 000 basis points.
    ByShares,
}

/// Events of the contract a payment may fall due after.
pub const DUE_EVENTS: [&str; 4] = ["signing", "registration", "delivery", "acceptance"];

/// Whether `mode` (a listings TransactionMode wire value) grants an exclusive right: an assignment, an exclusive or
/// a sole licence, or equity. `None` for a value that is no mode.
pub fn exclusive(mode: i32) -> Option<bool> {
    match TransactionMode::try_from(mode).ok()? {
        TransactionMode::Unspecified => None,
        TransactionMode::Assignment
        | TransactionMode::ExclusiveLicence
        | TransactionMode::SoleLicence
        | TransactionMode::Equity => Some(true),
        TransactionMode::NonExclusiveLicence | TransactionMode::OpenLicence => Some(false),
    }
}

fn is_licence(mode: i32) -> bool {
    matches!(
        TransactionMode::try_from(mode),
        Ok(TransactionMode::ExclusiveLicence
            | TransactionMode::SoleLicence
            | TransactionMode::NonExclusiveLicence
            | TransactionMode::OpenLicence)
    )
}

fn invalid(prefix: &str, field: &str, reason: &'static str) -> TermsError {
    TermsError::Invalid { field: format!("{prefix}{field}"), reason }
}

fn text(prefix: &str, field: &str, s: &str, max: usize) -> Result<String, TermsError> {
    let t = s.trim();
    if t.chars().count() > max {
        return Err(invalid(prefix, field, "too long"));
    }
    Ok(t.to_owned())
}

/// Checks a term sheet under `rules` and returns it normalised: texts trimmed, exclusivity set from the mode, the
/// legacy free-text due dates dropped. `offered` is the modes the result offers (empty: any mode). Fields are named
/// below `prefix` (`"terms."`).
pub fn check(
    prefix: &str,
    t: &pb::TermSheet,
    pricing: Pricing,
    offered: &[i32],
    rules: &Rules,
) -> Result<pb::TermSheet, TermsError> {
    let exclusive = exclusive(t.mode).ok_or_else(|| invalid(prefix, "mode", "a transaction mode is required"))?;
    if !offered.is_empty() && !offered.contains(&t.mode) {
        return Err(invalid(prefix, "mode", "the result is not offered in this mode"));
    }
    let territory = text(prefix, "territory", &t.territory, 200)?;
    let field_of_use = text(prefix, "field_of_use", &t.field_of_use, 500)?;
    if is_licence(t.mode) {
        if territory.is_empty() {
            return Err(invalid(prefix, "territory", "a licence names its territory"));
        }
        if !(1..=1_200).contains(&t.term_months) {
            return Err(invalid(prefix, "term_months", "a licence runs 1 to 1200 months"));
        }
    } else if t.term_months > 1_200 {
        return Err(invalid(prefix, "term_months", "at most 1200 months"));
    }
    let price_fen = match pricing {
        Pricing::Fixed => money::amount(&format!("{prefix}price_fen"), t.price_fen, rules.max_amount_fen)?,
        Pricing::ByShares if t.price_fen == 0 => 0,
        Pricing::ByShares => return Err(invalid(prefix, "price_fen", "the bidding fixes the price: leave it 0")),
    };
    if t.payments.is_empty() {
        return Err(invalid(prefix, "payments", "a schedule has at least one payment"));
    }
    if t.payments.len() > rules.max_payments {
        return Err(invalid(prefix, "payments", "too many payments"));
    }
    let mut payments = Vec::with_capacity(t.payments.len());
    for (i, p) in t.payments.iter().enumerate() {
        let at = format!("{prefix}payments[{i}].");
        let when = match &p.when {
            Some(pb::payment::When::DueOn(d)) => {
                let d = d.trim();
                Date::parse(d).ok_or_else(|| invalid(&at, "due_on", "a date is YYYY-MM-DD"))?;
                pb::payment::When::DueOn(d.to_owned())
            }
            Some(pb::payment::When::After(a)) => {
                if !DUE_EVENTS.contains(&a.event.as_str()) {
                    return Err(invalid(&at, "after.event", "signing, registration, delivery or acceptance"));
                }
                if a.working_days > rules.max_due_working_days {
                    return Err(invalid(&at, "after.working_days", "too many working days"));
                }
                pb::payment::When::After(a.clone())
            }
            None => return Err(invalid(&at, "due_on", "each payment says when it is due: due_on or after")),
        };
        match pricing {
            Pricing::Fixed => {
                money::amount(&format!("{at}amount_fen"), p.amount_fen, rules.max_amount_fen)?;
                if p.share_bp != 0 {
                    return Err(invalid(&at, "share_bp", "a schedule at a known price is by amounts"));
                }
            }
            Pricing::ByShares => {
                if p.amount_fen != 0 {
                    return Err(invalid(&at, "amount_fen", "the bidding fixes the amounts: give shares"));
                }
                if !(1..=WHOLE_BP).contains(&p.share_bp) {
                    return Err(invalid(&at, "share_bp", "a share is 1 to 10000 basis points"));
                }
            }
        }
        payments.push(pb::Payment {
            due: String::new(),
            amount_fen: p.amount_fen,
            when: Some(when),
            share_bp: p.share_bp,
        });
    }
    match pricing {
        Pricing::Fixed => {
            let field = format!("{prefix}payments");
            if money::sum(&field, payments.iter().map(|p| p.amount_fen))? != price_fen {
                return Err(invalid(prefix, "payments", "the payments add up to the price exactly"));
            }
        }
        Pricing::ByShares => {
            let total: u64 = payments.iter().map(|p| u64::from(p.share_bp)).sum();
            if total != u64::from(WHOLE_BP) {
                return Err(invalid(prefix, "payments", "the shares add up to 10000 basis points"));
            }
        }
    }
    Ok(pb::TermSheet {
        mode: t.mode,
        price_fen,
        payments,
        territory,
        term_months: t.term_months,
        field_of_use,
        exclusive,
    })
}

/// Declared terms (by shares) at the price the bidding fixed: the amounts split from the price, adding up to it.
pub fn at_price(declared: &pb::TermSheet, price_fen: i64) -> Result<pb::TermSheet, MoneyError> {
    if declared.payments.is_empty() {
        // Older sessions declared no schedule: the whole price at signing.
        return Ok(pb::TermSheet {
            price_fen,
            payments: vec![pb::Payment {
                amount_fen: price_fen,
                when: Some(pb::payment::When::After(pb::DueAfter { event: "signing".into(), working_days: 0 })),
                share_bp: WHOLE_BP,
                ..Default::default()
            }],
            ..declared.clone()
        });
    }
    let shares: Vec<u32> = declared.payments.iter().map(|p| p.share_bp).collect();
    let amounts = money::split_by_shares("terms.payments", price_fen, &shares)?;
    let payments =
        declared.payments.iter().zip(amounts).map(|(p, amount_fen)| pb::Payment { amount_fen, ..p.clone() }).collect();
    Ok(pb::TermSheet { price_fen, payments, ..declared.clone() })
}

/// A schedule by amounts at `price_fen` turned into shares of a price not yet known (a listed sale that goes to
/// auction): each share rounded down, the last taking what rounding left. A payment's share is at least 1 basis
/// point.
pub fn as_shares(fixed: &pb::TermSheet) -> Result<pb::TermSheet, MoneyError> {
    let field = "terms.payments";
    if fixed.payments.is_empty() {
        // A sale listed before schedules were required: the whole price at signing.
        return Ok(single_payment(fixed.mode, 0, 0));
    }
    let price = fixed.price_fen.max(1);
    let mut left = WHOLE_BP;
    let n = fixed.payments.len();
    let mut payments = Vec::with_capacity(n);
    for (i, p) in fixed.payments.iter().enumerate() {
        let share = if i + 1 == n {
            left
        } else {
            let bp = p
                .amount_fen
                .checked_mul(i64::from(WHOLE_BP))
                .map(|x| x / price)
                .ok_or_else(|| MoneyError::Overflow { field: field.into() })?;
            // Leave at least a basis point for each payment still to come.
            let room = left.saturating_sub(u32::try_from(n - i - 1).unwrap_or(u32::MAX));
            u32::try_from(bp).unwrap_or(u32::MAX).clamp(1, room.max(1))
        };
        left = left.saturating_sub(share);
        // A free-text due date of an older sale becomes "at signing"; the text stays with it.
        let when = p
            .when
            .clone()
            .or_else(|| Some(pb::payment::When::After(pb::DueAfter { event: "signing".into(), working_days: 0 })));
        payments.push(pb::Payment { amount_fen: 0, share_bp: share, when, ..p.clone() });
    }
    Ok(pb::TermSheet { price_fen: 0, payments, ..fixed.clone() })
}

/// Terms in `mode` paid in one payment, the whole price `working_days` after signing: by amount at `price_fen`, or
/// by shares when `price_fen` is 0 (a session's declared terms). A licence runs in mainland China for five years.
pub fn single_payment(mode: i32, price_fen: i64, working_days: u32) -> pb::TermSheet {
    let licence = is_licence(mode);
    pb::TermSheet {
        mode,
        price_fen,
        payments: vec![pb::Payment {
            amount_fen: price_fen,
            share_bp: if price_fen == 0 { WHOLE_BP } else { 0 },
            when: Some(pb::payment::When::After(pb::DueAfter { event: "signing".into(), working_days })),
            ..Default::default()
        }],
        territory: if licence { "中国大陆".into() } else { String::new() },
        term_months: if licence { 60 } else { 0 },
        field_of_use: String::new(),
        exclusive: exclusive(mode).unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RULES_2026_2 as RULES;

    fn after(event: &str, days: u32) -> Option<pb::payment::When> {
        Some(pb::payment::When::After(pb::DueAfter { event: event.into(), working_days: days }))
    }

    fn pay(amount_fen: i64, share_bp: u32) -> pb::Payment {
        pb::Payment { amount_fen, share_bp, when: after("signing", 10), ..Default::default() }
    }

    fn sheet(mode: TransactionMode, price: i64, payments: Vec<pb::Payment>) -> pb::TermSheet {
        pb::TermSheet {
            mode: mode as i32,
            price_fen: price,
            payments,
            territory: "中国大陆".into(),
            term_months: 60,
            ..Default::default()
        }
    }

    #[test]
    fn exclusivity_follows_the_mode_not_the_caller() {
        let mut t = sheet(TransactionMode::NonExclusiveLicence, 100, vec![pay(100, 0)]);
        t.exclusive = true;
        assert!(!check("terms.", &t, Pricing::Fixed, &[], &RULES).unwrap().exclusive);
        t.mode = TransactionMode::Assignment as i32;
        t.exclusive = false;
        assert!(check("terms.", &t, Pricing::Fixed, &[], &RULES).unwrap().exclusive);
        t.mode = 0;
        assert_eq!(check("terms.", &t, Pricing::Fixed, &[], &RULES).unwrap_err().field(), "terms.mode");
        t.mode = TransactionMode::Assignment as i32;
        let only_licence = [TransactionMode::ExclusiveLicence as i32];
        assert_eq!(check("terms.", &t, Pricing::Fixed, &only_licence, &RULES).unwrap_err().field(), "terms.mode");
    }

    #[test]
    fn a_schedule_adds_up_to_the_price_with_structured_due_dates() {
        let ok = sheet(TransactionMode::Assignment, 1_000, vec![pay(300, 0), pay(700, 0)]);
        assert!(check("terms.", &ok, Pricing::Fixed, &[], &RULES).is_ok());
        let short = sheet(TransactionMode::Assignment, 1_000, vec![pay(300, 0), pay(600, 0)]);
        assert_eq!(check("terms.", &short, Pricing::Fixed, &[], &RULES).unwrap_err().field(), "terms.payments");
        let wraps = sheet(TransactionMode::Assignment, 1_000, vec![pay(i64::MAX, 0), pay(i64::MAX, 0)]);
        assert_eq!(
            check("terms.", &wraps, Pricing::Fixed, &[], &RULES).unwrap_err().field(),
            "terms.payments[0].amount_fen"
        );
        let mut undated = ok.clone();
        undated.payments[1].when = None;
        undated.payments[1].due = "签约后 10 个工作日内".into();
        assert_eq!(
            check("terms.", &undated, Pricing::Fixed, &[], &RULES).unwrap_err().field(),
            "terms.payments[1].due_on"
        );
        let mut bad_date = ok.clone();
        bad_date.payments[0].when = Some(pb::payment::When::DueOn("2027-02-30".into()));
        assert!(check("terms.", &bad_date, Pricing::Fixed, &[], &RULES).is_err());
        let mut bad_event = ok;
        bad_event.payments[0].when = after("whenever", 1);
        assert_eq!(
            check("terms.", &bad_event, Pricing::Fixed, &[], &RULES).unwrap_err().field(),
            "terms.payments[0].after.event"
        );
        let empty = sheet(TransactionMode::Assignment, 1_000, vec![]);
        assert!(check("terms.", &empty, Pricing::Fixed, &[], &RULES).is_err());
        let over = sheet(TransactionMode::Assignment, RULES.max_amount_fen + 1, vec![pay(RULES.max_amount_fen + 1, 0)]);
        assert!(matches!(
            check("terms.", &over, Pricing::Fixed, &[], &RULES),
            Err(TermsError::Money(MoneyError::AboveCeiling { .. }))
        ));
    }

    #[test]
    fn declared_shares_become_amounts_that_add_up_at_the_final_price() {
        let declared = sheet(TransactionMode::ExclusiveLicence, 0, vec![pay(0, 3_333), pay(0, 6_667)]);
        let declared = check("terms.", &declared, Pricing::ByShares, &[], &RULES).unwrap();
        let sold = at_price(&declared, 1_000_001).unwrap();
        assert_eq!(sold.price_fen, 1_000_001);
        assert_eq!(sold.payments.iter().map(|p| p.amount_fen).collect::<Vec<_>>(), vec![333_300, 666_701]);
        let bad = sheet(TransactionMode::ExclusiveLicence, 0, vec![pay(0, 3_333), pay(0, 6_000)]);
        assert!(check("terms.", &bad, Pricing::ByShares, &[], &RULES).is_err());
        let listed = sheet(TransactionMode::Assignment, 3, vec![pay(1, 0), pay(1, 0), pay(1, 0)]);
        let shares = as_shares(&listed).unwrap();
        assert_eq!(shares.payments.iter().map(|p| p.share_bp).sum::<u32>(), WHOLE_BP);
        assert!(check("terms.", &shares, Pricing::ByShares, &[], &RULES).is_ok());
    }
}
