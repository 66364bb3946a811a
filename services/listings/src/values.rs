//! Checking a listing as it arrives: every field within its bounds, named when it is not.

use ttx_kernel::bus::ReplyError;
use ttx_proto::listings::v1 as pb;

use crate::calendar::Date;
use crate::codec::{self, listing_from_pb};
use crate::domain::Listing;

fn text(field: &str, s: &str, max: usize) -> Result<(), ReplyError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(ReplyError::invalid(field, "must not be empty"));
    }
    if t.chars().count() > max {
        return Err(ReplyError::invalid(field, format!("must be at most {max} characters")));
    }
    if t.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ReplyError::invalid(field, "must not contain control characters"));
    }
    Ok(())
}

fn optional_text(field: &str, s: &str, max: usize) -> Result<(), ReplyError> {
    if s.trim().is_empty() { Ok(()) } else { text(field, s, max) }
}

fn list(field: &str, items: &[String], max_items: usize, max_chars: usize) -> Result<(), ReplyError> {
    if items.len() > max_items {
        return Err(ReplyError::invalid(field, format!("at most {max_items}")));
    }
    for (i, item) in items.iter().enumerate() {
        text(&format!("{field}[{i}]"), item, max_chars)?;
    }
    Ok(())
}

fn known(field: &str, ok: bool, what: &str) -> Result<(), ReplyError> {
    if ok { Ok(()) } else { Err(ReplyError::invalid(field, format!("not a known {what}"))) }
}

/// A listing from the wire, checked: texts trimmed and bounded, enums known, TRL 1–9 with a real date, holders
/// named, a positive price when one is asked.
pub fn validate_listing(mut p: pb::Listing) -> Result<Listing, ReplyError> {
    text("listing.title", &p.title, 200)?;
    text("listing.summary", &p.summary, 5000)?;
    known("listing.field", codec::field_from(p.field).is_some(), "field")?;
    optional_text("listing.industry", &p.industry, 100)?;
    list("listing.keywords", &p.keywords, 3, 20)?;
    list("listing.innovations", &p.innovations, 3, 200)?;
    optional_text("listing.indicators", &p.indicators, 2000)?;
    let trl = p.trl.as_ref().ok_or_else(|| ReplyError::invalid("listing.trl", "a TRL assessment is required"))?;
    if !(1..=9).contains(&trl.level) {
        return Err(ReplyError::invalid("listing.trl.level", "a TRL is 1 to 9"));
    }
    text("listing.trl.assessor", &trl.assessor, 100)?;
    if Date::parse(trl.assessed_on.trim()).is_none() {
        return Err(ReplyError::invalid("listing.trl.assessed_on", "a date as YYYY-MM-DD"));
    }
    text("listing.trl.evidence", &trl.evidence, 500)?;
    known("listing.form", codec::form_from(p.form).is_some(), "result form")?;
    if p.ip_rights.len() > 50 {
        return Err(ReplyError::invalid("listing.ip_rights", "at most 50"));
    }
    for (i, r) in p.ip_rights.iter().enumerate() {
        known(&format!("listing.ip_rights[{i}].kind"), codec::ip_from(r.kind).is_some(), "IP kind")?;
        optional_text(&format!("listing.ip_rights[{i}].number"), &r.number, 50)?;
        optional_text(&format!("listing.ip_rights[{i}].legal_status"), &r.legal_status, 50)?;
    }
    if p.holders.is_empty() || p.holders.len() > 20 {
        return Err(ReplyError::invalid("listing.holders", "1 to 20 holders"));
    }
    for (i, h) in p.holders.iter().enumerate() {
        text(&format!("listing.holders[{i}].org_id"), &h.org_id, 64)?;
        if h.share_bp == 0 || h.share_bp > 10_000 {
            return Err(ReplyError::invalid(format!("listing.holders[{i}].share_bp"), "1 to 10000 basis points"));
        }
    }
    if p.inventors.is_empty() {
        return Err(ReplyError::invalid("listing.inventors", "at least one inventor"));
    }
    list("listing.inventors", &p.inventors, 50, 50)?;
    known("listing.secrecy", codec::secrecy_from(p.secrecy).is_some(), "secrecy level")?;
    for (i, m) in p.modes.iter().enumerate() {
        known(&format!("listing.modes[{i}]"), codec::mode_from(*m).is_some(), "transaction mode")?;
    }
    if let Some(price) = p.asking_price_fen {
        // Omit it for 面议 (negotiable).
        ttx_kernel::money::amount("listing.asking_price_fen", price, crate::domain::RULES_2026.max_amount_fen)
            .map_err(|e| ReplyError::invalid(e.field(), e.to_string()))?;
    }
    known("listing.route", codec::route_from(p.route).is_some(), "pricing route")?;
    known("listing.visibility", codec::visibility_from(p.visibility).is_some(), "visibility")?;
    // Stored trimmed.
    for s in [&mut p.title, &mut p.summary, &mut p.industry, &mut p.indicators] {
        *s = s.trim().to_owned();
    }
    for v in [&mut p.keywords, &mut p.innovations, &mut p.inventors] {
        for s in v.iter_mut() {
            *s = s.trim().to_owned();
        }
    }
    listing_from_pb(p).map_err(|e| ReplyError::invalid("listing", e))
}
