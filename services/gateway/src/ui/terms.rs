//! The terms part of the pages' sale and offer forms: the transaction mode (of those the result offers), territory,
//! term, field of use, and a payment schedule of up to three payments, each by amount (yuan) at a known price or by
//! share (per cent) of a price the bidding will fix, and each due on a date or some working days after an event of
//! the contract. The negotiation service checks what the form sends; this only reads and shows it.

use std::collections::HashMap;

use maud::{Markup, html};
use ttx_proto::negotiation::v1 as pb;

use crate::api::results::{MODES, to_name, to_wire};
use crate::i18n::Lang;
use crate::problem::ApiError;
use crate::ui::kit::*;

/// Rows a schedule form offers at least.
const ROWS: usize = 3;
const EVENTS: [&str; 4] = ["signing", "registration", "delivery", "acceptance"];

fn all<'a>(f: &'a HashMap<String, Vec<String>>, name: &str) -> &'a [String] {
    f.get(name).map_or(&[], Vec::as_slice)
}

/// "30" or "12.5" per cent as basis points.
fn parse_percent_bp(s: &str) -> Option<u32> {
    let s = s.trim().trim_end_matches(['%', '％']);
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() || frac.len() > 2 || !whole.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac: u32 = format!("{frac:0<2}").parse().ok()?;
    whole.parse::<u32>().ok()?.checked_mul(100)?.checked_add(frac)
}

/// The form's fields for terms, filled from `t`; `modes` are the result's (all modes when empty).
pub fn fields(lang: Lang, modes: &[i32], t: &pb::TermSheet, by_share: bool) -> Markup {
    let modes: Vec<&str> = if modes.is_empty() {
        MODES.iter().map(|(n, _)| *n).collect()
    } else {
        modes.iter().map(|m| to_name(MODES, *m)).collect()
    };
    let chosen = to_name(MODES, t.mode);
    let territory = if t.territory.is_empty() { "中国大陆" } else { t.territory.as_str() };
    let term = if t.term_months == 0 { 60 } else { t.term_months };
    let first = pb::Payment {
        share_bp: 10_000,
        amount_fen: t.price_fen,
        when: Some(pb::payment::When::After(pb::DueAfter { event: "signing".into(), working_days: 10 })),
        ..Default::default()
    };
    // Three rows, or as many as the terms shown have, so that a counter-offer keeps every payment.
    let rows: Vec<Option<&pb::Payment>> = (0..ROWS.max(t.payments.len()))
        .map(|i| if t.payments.is_empty() && i == 0 { Some(&first) } else { t.payments.get(i) })
        .collect();
    html! {
        label for="mode" { (lang.t("modes")) }
        select id="mode" name="mode" { @for n in &modes { option value=(n) selected[*n == chosen] { (label(lang, "mode", n)) } } }
        label for="territory" { (lang.t("territory")) }
        input id="territory" name="territory" type="text" value=(territory);
        label for="term_months" { (lang.t("term_months")) }
        input id="term_months" name="term_months" type="number" min="0" max="1200" value=(term);
        label for="field_of_use" { (lang.t("field_of_use")) }
        input id="field_of_use" name="field_of_use" type="text" value=(t.field_of_use);
        fieldset class="schedule" {
            legend { (lang.t("schedule")) }
            @for (i, p) in rows.iter().enumerate() {
                @let (on, event, days) = match p.and_then(|p| p.when.as_ref()) {
                    Some(pb::payment::When::DueOn(d)) => (d.clone(), "signing".to_owned(), String::new()),
                    Some(pb::payment::When::After(a)) => (String::new(), a.event.clone(), a.working_days.to_string()),
                    None => (String::new(), "signing".to_owned(), String::new()),
                };
                @let amount = match p {
                    Some(p) if by_share => format!("{}.{:02}", p.share_bp / 100, p.share_bp % 100),
                    Some(p) if p.amount_fen > 0 => format!("{}.{:02}", p.amount_fen / 100, p.amount_fen % 100),
                    _ => String::new(),
                };
                div class="inline" {
                    label for={ "pay_amount_" (i) } { (lang.t(if by_share { "pay_pct" } else { "pay_yuan" })) }
                    input id={ "pay_amount_" (i) } name="pay_amount" type="text" value=(amount)
                        placeholder=[(i == 0 && !by_share).then(|| lang.t("pay_whole"))];
                    label for={ "pay_on_" (i) } { (lang.t("due_on")) }
                    input id={ "pay_on_" (i) } name="pay_on" type="date" value=(on);
                    label for={ "pay_days_" (i) } { (lang.t("due_after")) }
                    select name="pay_event" aria-label=(lang.t("due_after")) {
                        @for e in EVENTS { option value=(e) selected[e == event] { (label(lang, "due_event", e)) } }
                    }
                    input id={ "pay_days_" (i) } name="pay_days" type="number" min="0" max="365" value=(days);
                    span { (lang.t("working_days")) }
                }
            }
        }
    }
}

/// A schedule as one line: each payment's amount (or share of the final price) and when it is due.
pub fn schedule_text(lang: Lang, t: &pb::TermSheet) -> String {
    t.payments
        .iter()
        .map(|p| {
            let due = match &p.when {
                Some(pb::payment::When::DueOn(d)) => d.clone(),
                Some(pb::payment::When::After(a)) => {
                    format!("{} {} {}", label(lang, "due_event", &a.event), a.working_days, lang.t("working_days"))
                }
                None => p.due.clone(),
            };
            let amount = if p.amount_fen > 0 {
                crate::ui::kit::yuan(p.amount_fen)
            } else {
                format!("{}.{:02}%", p.share_bp / 100, p.share_bp % 100)
            };
            format!("{due} {amount}")
        })
        .collect::<Vec<_>>()
        .join("；")
}

/// The terms a form sent, at `price_fen` (0 when the schedule is by shares). Rows without an amount are skipped (at a
/// known price, a form with no amount at all pays the whole price as its first row says); a row with a date is due on
/// it, otherwise some working days after its event.
pub fn from_form(f: &HashMap<String, Vec<String>>, price_fen: i64, by_share: bool) -> Result<pb::TermSheet, ApiError> {
    let mut amounts: Vec<String> = all(f, "pay_amount").to_vec();
    if !by_share && amounts.iter().all(|a| a.trim().is_empty()) {
        amounts = vec![format!("{}.{:02}", price_fen / 100, price_fen % 100)];
    }
    let (ons, events, days) = (all(f, "pay_on"), all(f, "pay_event"), all(f, "pay_days"));
    let mut payments = Vec::new();
    for (i, amount) in amounts.iter().enumerate().filter(|(_, a)| !a.trim().is_empty()) {
        let (amount_fen, share_bp) = if by_share {
            (0, parse_percent_bp(amount).ok_or_else(|| ApiError::invalid("pay_amount", "a share in per cent"))?)
        } else {
            (parse_yuan(amount).ok_or_else(|| ApiError::invalid("pay_amount", "an amount in yuan"))?, 0)
        };
        let on = ons.get(i).map_or("", |s| s.trim());
        let when = if on.is_empty() {
            let working_days = days
                .get(i)
                .map_or("0", |s| s.trim())
                .parse()
                .map_err(|_| ApiError::invalid("pay_days", "a number of working days"))?;
            let event = events.get(i).cloned().unwrap_or_else(|| "signing".into());
            pb::payment::When::After(pb::DueAfter { event, working_days })
        } else {
            pb::payment::When::DueOn(on.to_owned())
        };
        payments.push(pb::Payment { amount_fen, share_bp, when: Some(when), ..Default::default() });
    }
    Ok(pb::TermSheet {
        mode: to_wire(MODES, "mode", field(f, "mode"))?,
        price_fen,
        payments,
        territory: field(f, "territory").to_owned(),
        term_months: field(f, "term_months").trim().parse().unwrap_or(0),
        field_of_use: field(f, "field_of_use").to_owned(),
        exclusive: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_are_basis_points() {
        assert_eq!(parse_percent_bp("30"), Some(3_000));
        assert_eq!(parse_percent_bp("12.5%"), Some(1_250));
        assert_eq!(parse_percent_bp("0.01"), Some(1));
        assert_eq!(parse_percent_bp("-3"), None);
        assert_eq!(parse_percent_bp("99999999999"), None);
    }

    #[test]
    fn a_form_becomes_a_schedule_due_on_dates_or_after_events() {
        let f: HashMap<String, Vec<String>> = [
            ("mode", vec!["assignment"]),
            ("pay_amount", vec!["300", "700.50", ""]),
            ("pay_on", vec!["", "2027-06-30", ""]),
            ("pay_event", vec!["signing", "signing", "signing"]),
            ("pay_days", vec!["10", "", ""]),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
        .collect();
        let t = from_form(&f, 100_050, false).unwrap();
        assert_eq!(t.payments.len(), 2);
        assert_eq!(t.payments[0].amount_fen, 30_000);
        assert_eq!(
            t.payments[0].when,
            Some(pb::payment::When::After(pb::DueAfter { event: "signing".into(), working_days: 10 }))
        );
        assert_eq!(t.payments[1].when, Some(pb::payment::When::DueOn("2027-06-30".into())));
    }
}
