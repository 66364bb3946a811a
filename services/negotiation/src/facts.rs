//! Negotiation's own view of the results, folded from listings' published events (the contract), never by asking
//! listings: who holds a result, whether it is published, its pricing route, and where its public notice stands.

use std::collections::BTreeMap;

use prost::Message;
use ttx_proto::listings::v1 as lpb;

use crate::deal::{NoticeGate, ResultFacts};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Availability {
    #[default]
    Unpublished,
    Published,
    /// Withdrawn, under contract or transacted: not for sale.
    Gone,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notice {
    pub price_fen: i64,
    /// When the notice is due to end, as it was started.
    pub ends_at: Option<ttx_kernel::Timestamp>,
    pub ended: bool,
    pub open_objections: usize,
    pub upheld: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResultEntry {
    pub owner_org_id: String,
    pub title: String,
    pub route: i32,
    /// The transaction modes the listing offers.
    pub modes: Vec<i32>,
    pub availability: Availability,
    /// The holder withdrew it.
    pub withdrawn: bool,
    /// The deal it is under contract by, if it is.
    pub deal_id: Option<String>,
    pub notice: Option<Notice>,
    /// The holders other than the creator, and those that consented to exclusive disposal (listings' record).
    pub co_holders: Vec<String>,
    pub consents: std::collections::BTreeSet<String>,
}

impl ResultEntry {
    /// The co-holders whose consent an exclusive sale still needs.
    pub fn missing_consents(&self) -> Vec<String> {
        self.co_holders.iter().filter(|o| !self.consents.contains(*o)).cloned().collect()
    }

    /// Where the notice stands, as listings' events record it: ended (the timer's event), objections open or upheld.
    pub fn gate(&self) -> NoticeGate {
        match &self.notice {
            None => NoticeGate::NoNotice,
            Some(n) if !n.ended => NoticeGate::Running,
            Some(n) if n.open_objections > 0 => NoticeGate::ObjectionsOpen,
            Some(n) if n.upheld => NoticeGate::Failed,
            Some(n) => NoticeGate::Clear { price_fen: n.price_fen },
        }
    }

    pub fn facts(&self) -> ResultFacts {
        ResultFacts {
            seller_org_id: self.owner_org_id.clone(),
            published: self.availability == Availability::Published,
            negotiated_route: self.route == lpb::PricingRoute::Negotiated as i32,
            notice: self.gate(),
            modes: self.modes.clone(),
            on_sale: self.availability == Availability::Published,
        }
    }
}

fn co_holders(holders: &[lpb::Holder], owner: &str) -> Vec<String> {
    holders.iter().map(|h| h.org_id.clone()).filter(|o| o != owner).collect()
}

/// The results as negotiation knows them.
#[derive(Debug, Clone, Default)]
pub struct Results(pub BTreeMap<String, ResultEntry>);

impl Results {
    /// Folds one listings event; other events are ignored. A payload that does not decode is an error.
    pub fn apply(&mut self, stream: &str, event_type: &str, payload: &[u8]) -> Result<(), prost::DecodeError> {
        let Some(id) = stream.strip_prefix("listings-result-") else { return Ok(()) };
        let entry = self.0.entry(id.to_owned()).or_default();
        match event_type.strip_prefix("ttx.listings.v1.").unwrap_or_default() {
            "ResultCreated" => {
                let e = lpb::ResultCreated::decode(payload)?;
                entry.owner_org_id = e.owner_org_id;
                let listing = e.listing.unwrap_or_default();
                entry.route = listing.route;
                entry.modes = listing.modes;
                entry.title = listing.title;
                entry.co_holders = co_holders(&listing.holders, &entry.owner_org_id);
            }
            "ResultEdited" => {
                let listing = lpb::ResultEdited::decode(payload)?.listing.unwrap_or_default();
                entry.route = listing.route;
                entry.modes = listing.modes;
                entry.title = listing.title;
                entry.co_holders = co_holders(&listing.holders, &entry.owner_org_id);
                entry.consents.clear();
            }
            "CoHolderConsented" => {
                entry.consents.insert(lpb::CoHolderConsented::decode(payload)?.org_id);
            }
            "ResultPublished" => entry.availability = Availability::Published,
            "ResultReleased" => {
                entry.availability = Availability::Published;
                entry.deal_id = None;
            }
            "ResultWithdrawn" => {
                entry.availability = Availability::Gone;
                entry.withdrawn = true;
            }
            "ResultUnderContract" => {
                entry.availability = Availability::Gone;
                entry.deal_id = Some(lpb::ResultUnderContract::decode(payload)?.deal_id);
            }
            "NoticeStarted" => {
                let e = lpb::NoticeStarted::decode(payload)?;
                let ends_at = e.ends_at.as_ref().map(ttx_kernel::Timestamp::from_proto);
                entry.notice = Some(Notice { price_fen: e.price_fen, ends_at, ..Notice::default() });
            }
            "ObjectionRaised" => {
                if let Some(n) = &mut entry.notice {
                    n.open_objections += 1;
                }
            }
            "ObjectionResolved" => {
                let e = lpb::ObjectionResolved::decode(payload)?;
                if let Some(n) = &mut entry.notice {
                    n.open_objections = n.open_objections.saturating_sub(1);
                    n.upheld |= e.upheld;
                }
            }
            "NoticeEnded" => {
                if let Some(n) = &mut entry.notice {
                    n.ended = true;
                }
            }
            _ => {}
        }
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<&ResultEntry> {
        self.0.get(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(r: &mut Results, event: &str, m: impl Message) {
        r.apply("listings-result-r1", &format!("ttx.listings.v1.{event}"), &m.encode_to_vec()).unwrap();
    }

    #[test]
    fn the_gate_follows_the_notice_as_listings_records_it() {
        let mut r = Results::default();
        let listing = lpb::Listing { route: lpb::PricingRoute::Negotiated.into(), ..Default::default() };
        apply(
            &mut r,
            "ResultCreated",
            lpb::ResultCreated { result_id: "r1".into(), owner_org_id: "uni".into(), listing: Some(listing) },
        );
        assert!(!r.get("r1").unwrap().facts().published);
        apply(&mut r, "ResultPublished", lpb::ResultPublished {});
        assert_eq!(r.get("r1").unwrap().gate(), NoticeGate::NoNotice);
        apply(&mut r, "NoticeStarted", lpb::NoticeStarted { price_fen: 100, starts_at: None, ends_at: None });
        assert_eq!(r.get("r1").unwrap().gate(), NoticeGate::Running);
        apply(&mut r, "ObjectionRaised", lpb::ObjectionRaised::default());
        apply(&mut r, "NoticeEnded", lpb::NoticeEnded { clean: false });
        assert_eq!(r.get("r1").unwrap().gate(), NoticeGate::ObjectionsOpen);
        apply(&mut r, "ObjectionResolved", lpb::ObjectionResolved { upheld: false, ..Default::default() });
        assert_eq!(r.get("r1").unwrap().gate(), NoticeGate::Clear { price_fen: 100 });
        let facts = r.get("r1").unwrap().facts();
        assert!(facts.published && facts.negotiated_route && facts.seller_org_id == "uni");
        apply(&mut r, "ResultUnderContract", lpb::ResultUnderContract::default());
        assert!(!r.get("r1").unwrap().facts().published);
        assert!(r.apply("listings-result-r1", "ttx.listings.v1.NoticeStarted", b"\xff").is_err());
    }
}
