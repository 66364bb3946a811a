//! The negotiated deal (协议定价), stream `negotiation-deal-<id>`.
//!
//! An enterprise member opens a negotiation on a published result whose pricing route is negotiated. Either side
//! offers term sheets, each a new version. The side that did not write the latest version may accept it, and the deal
//! is agreed only if the result's public notice allows a deal at that price: the notice has ended, no objection is
//! open or upheld, and the price is the one the notice published. The service keeps that view from listings' events
//! (a projection) and passes it in; this decider only judges it.

use ttx_kernel::{Ctx, Decider};
use ttx_proto::common::v1::Role;

use crate::deadline::deal_agreed;
use crate::events::wire_events;
use crate::pb;

/// What negotiation knows of the result from listings' events when a command arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultFacts {
    pub seller_org_id: String,
    pub published: bool,
    pub negotiated_route: bool,
    pub notice: NoticeGate,
}

/// Whether the public notice allows a negotiated deal, and at which price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeGate {
    NoNotice,
    Running,
    ObjectionsOpen,
    /// An objection was upheld: a new notice is needed.
    Failed,
    /// Ended cleanly at this price.
    Clear {
        price_fen: i64,
    },
}

wire_events!(DealEvent {
    Opened(NegotiationOpened),
    Offered(OfferMade),
    Abandoned(NegotiationAbandoned),
    Agreed(DealAgreed),
});

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DealStatus {
    #[default]
    None,
    Open,
    Agreed,
    Abandoned,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DealState {
    pub id: String,
    pub result_id: String,
    pub seller_org_id: String,
    pub buyer_org_id: String,
    pub status: DealStatus,
    /// Every version, in order: (version, by organisation, terms).
    pub offers: Vec<(u32, String, pb::TermSheet)>,
    pub deal: Option<pb::DealAgreed>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DealCommand {
    Open { id: String, result_id: String, facts: ResultFacts },
    Offer { terms: pb::TermSheet },
    Accept { version: u32, facts: ResultFacts },
    Abandon { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DealRejection {
    #[error("the negotiation exists already")]
    Exists,
    #[error("no such negotiation")]
    NoSuchNegotiation,
    #[error("only an enterprise member opens a negotiation")]
    NotABuyer,
    #[error("the result is not published")]
    NotPublished,
    #[error("the result is not priced by negotiation")]
    NotNegotiated,
    #[error("the seller may not buy its own result")]
    OwnResult,
    #[error("only the two parties take part")]
    NotAParty,
    #[error("the negotiation is over")]
    Over,
    #[error("a price is a positive amount of fen, and payments add up to it")]
    BadTerms,
    #[error("only the latest version (v{0}) can be accepted")]
    NotLatest(u32),
    #[error("a side does not accept its own offer")]
    OwnOffer,
    #[error("no public notice has been published at a price")]
    NoNotice,
    #[error("the public notice is still running")]
    NoticeRunning,
    #[error("an objection to the notice is still open")]
    ObjectionsOpen,
    #[error("an objection to the notice was upheld; a new notice is needed")]
    NoticeFailed,
    #[error("the notice published {noticed} fen; another price needs a new notice")]
    PriceDiffers { noticed: i64 },
}

/// The negotiated-deal decider.
#[derive(Debug, Clone, Copy, Default)]
pub struct Deals;

fn check_terms(t: &pb::TermSheet) -> Result<(), DealRejection> {
    let paid: i64 = t.payments.iter().map(|p| p.amount_fen).sum();
    let payments_ok = t.payments.is_empty() || (paid == t.price_fen && t.payments.iter().all(|p| p.amount_fen > 0));
    if t.price_fen <= 0 || !payments_ok {
        return Err(DealRejection::BadTerms);
    }
    Ok(())
}

impl Decider for Deals {
    type State = DealState;
    type Command = DealCommand;
    type Event = DealEvent;
    type Rejection = DealRejection;

    fn decide(&self, s: &DealState, command: &DealCommand, ctx: &Ctx) -> Result<Vec<DealEvent>, DealRejection> {
        use DealRejection as R;
        let actor = &ctx.actor;
        if let DealCommand::Open { id, result_id, facts } = command {
            if s.status != DealStatus::None {
                return Err(R::Exists);
            }
            if !actor.has_role(Role::EnterpriseMember) {
                return Err(R::NotABuyer);
            }
            if !facts.published {
                return Err(R::NotPublished);
            }
            if !facts.negotiated_route {
                return Err(R::NotNegotiated);
            }
            if facts.seller_org_id == actor.org_id {
                return Err(R::OwnResult);
            }
            return Ok(vec![DealEvent::Opened(pb::NegotiationOpened {
                negotiation_id: id.clone(),
                result_id: result_id.clone(),
                seller_org_id: facts.seller_org_id.clone(),
                buyer_org_id: actor.org_id.clone(),
            })]);
        }
        if s.status == DealStatus::None {
            return Err(R::NoSuchNegotiation);
        }
        let party = if actor.org_id == s.buyer_org_id && actor.has_role(Role::EnterpriseMember) {
            true
        } else {
            actor.org_id == s.seller_org_id && actor.has_role(Role::TechManager)
        };
        if !party {
            return Err(R::NotAParty);
        }
        if s.status != DealStatus::Open {
            return Err(R::Over);
        }
        match command {
            DealCommand::Open { .. } => Err(R::Exists),
            DealCommand::Offer { terms } => {
                check_terms(terms)?;
                Ok(vec![DealEvent::Offered(pb::OfferMade {
                    version: s.offers.len() as u32 + 1,
                    by_org_id: actor.org_id.clone(),
                    by_user_id: actor.user_id.clone(),
                    terms: Some(terms.clone()),
                })])
            }
            DealCommand::Accept { version, facts } => {
                let (latest, by, terms) = s.offers.last().ok_or(R::NotLatest(0))?;
                if version != latest {
                    return Err(R::NotLatest(*latest));
                }
                if *by == actor.org_id {
                    return Err(R::OwnOffer);
                }
                match facts.notice {
                    NoticeGate::NoNotice => return Err(R::NoNotice),
                    NoticeGate::Running => return Err(R::NoticeRunning),
                    NoticeGate::ObjectionsOpen => return Err(R::ObjectionsOpen),
                    NoticeGate::Failed => return Err(R::NoticeFailed),
                    NoticeGate::Clear { price_fen } if price_fen != terms.price_fen => {
                        return Err(R::PriceDiffers { noticed: price_fen });
                    }
                    NoticeGate::Clear { .. } => {}
                }
                Ok(vec![DealEvent::Agreed(deal_agreed(
                    &s.id,
                    &s.result_id,
                    &s.seller_org_id,
                    &s.buyer_org_id,
                    "negotiated",
                    terms.clone(),
                    ctx.now,
                ))])
            }
            DealCommand::Abandon { reason } => Ok(vec![DealEvent::Abandoned(pb::NegotiationAbandoned {
                by_org_id: actor.org_id.clone(),
                reason: reason.clone(),
            })]),
        }
    }

    fn evolve(&self, mut s: DealState, event: &DealEvent) -> DealState {
        match event {
            DealEvent::Opened(e) => {
                s.id = e.negotiation_id.clone();
                s.result_id = e.result_id.clone();
                s.seller_org_id = e.seller_org_id.clone();
                s.buyer_org_id = e.buyer_org_id.clone();
                s.status = DealStatus::Open;
            }
            DealEvent::Offered(e) => {
                s.offers.push((e.version, e.by_org_id.clone(), e.terms.clone().unwrap_or_default()))
            }
            DealEvent::Abandoned(_) => s.status = DealStatus::Abandoned,
            DealEvent::Agreed(d) => {
                s.status = DealStatus::Agreed;
                s.deal = Some(d.clone());
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ttx_kernel::testing::Scenario;
    use ttx_kernel::{CommandId, Timestamp};
    use ttx_proto::common::v1::Actor;

    const NOW: i64 = 1_790_000_000_000_000;

    fn who(user: &str, org: &str, role: Role) -> Actor {
        Actor { user_id: user.into(), org_id: org.into(), role: role.into(), roles: vec![role.into()] }
    }
    fn ctx(actor: Actor) -> Ctx {
        Ctx::new(Timestamp::from_unix_micros(NOW), actor, CommandId::parse("c").unwrap())
    }
    fn buyer() -> Actor {
        who("zhaomin", "firm", Role::EnterpriseMember)
    }
    fn seller() -> Actor {
        who("zhangwei", "uni", Role::TechManager)
    }
    fn sc(by: Actor) -> Scenario<Deals> {
        Scenario::new(Deals).at(Timestamp::from_unix_micros(NOW)).by(by)
    }
    fn facts(notice: NoticeGate) -> ResultFacts {
        ResultFacts { seller_org_id: "uni".into(), published: true, negotiated_route: true, notice }
    }
    fn terms(price: i64) -> pb::TermSheet {
        pb::TermSheet {
            mode: 1, price_fen: price, territory: "中国大陆".into(), term_months: 60, ..Default::default()
        }
    }
    fn opened() -> DealEvent {
        DealEvent::Opened(pb::NegotiationOpened {
            negotiation_id: "n1".into(),
            result_id: "r1".into(),
            seller_org_id: "uni".into(),
            buyer_org_id: "firm".into(),
        })
    }
    fn offer(v: u32, by: &str, price: i64) -> DealEvent {
        DealEvent::Offered(pb::OfferMade {
            version: v,
            by_org_id: by.into(),
            by_user_id: if by == "firm" { "zhaomin" } else { "zhangwei" }.into(),
            terms: Some(terms(price)),
        })
    }
    fn open() -> DealCommand {
        DealCommand::Open { id: "n1".into(), result_id: "r1".into(), facts: facts(NoticeGate::NoNotice) }
    }

    #[test]
    fn an_enterprise_opens_a_negotiation_on_a_published_negotiated_result() {
        sc(buyer()).given([]).when(open()).then([opened()]);
        let unpublished = ResultFacts { published: false, ..facts(NoticeGate::NoNotice) };
        let cmd = DealCommand::Open { id: "n1".into(), result_id: "r1".into(), facts: unpublished };
        sc(buyer()).given([]).when(cmd).then_rejected(DealRejection::NotPublished);
        let listed = ResultFacts { negotiated_route: false, ..facts(NoticeGate::NoNotice) };
        let cmd = DealCommand::Open { id: "n1".into(), result_id: "r1".into(), facts: listed };
        sc(buyer()).given([]).when(cmd).then_rejected(DealRejection::NotNegotiated);
        sc(seller()).given([]).when(open()).then_rejected(DealRejection::NotABuyer);
        let own = who("x", "uni", Role::EnterpriseMember);
        sc(own).given([]).when(open()).then_rejected(DealRejection::OwnResult);
    }

    #[test]
    fn offers_are_versioned_and_only_parties_make_them() {
        let cmd = DealCommand::Offer { terms: terms(480_000_000) };
        sc(buyer()).given([opened()]).when(cmd.clone()).then([offer(1, "firm", 480_000_000)]);
        sc(seller()).given([opened(), offer(1, "firm", 480_000_000)]).when(cmd.clone()).then([offer(
            2,
            "uni",
            480_000_000,
        )]);
        let stranger = who("x", "other", Role::EnterpriseMember);
        sc(stranger).given([opened()]).when(cmd).then_rejected(DealRejection::NotAParty);
        let bad = pb::TermSheet {
            payments: vec![pb::Payment { due: "签约时".into(), amount_fen: 1 }],
            ..terms(480_000_000)
        };
        sc(buyer()).given([opened()]).when(DealCommand::Offer { terms: bad }).then_rejected(DealRejection::BadTerms);
    }

    #[test]
    fn a_deal_is_agreed_only_on_the_latest_version_by_the_other_side_after_a_clean_notice_at_that_price() {
        let given = || [opened(), offer(1, "firm", 400_000_000), offer(2, "uni", 480_000_000)];
        let accept = |version, notice| DealCommand::Accept { version, facts: facts(notice) };
        let clear = NoticeGate::Clear { price_fen: 480_000_000 };
        for (gate, rejection) in [
            (NoticeGate::NoNotice, DealRejection::NoNotice),
            (NoticeGate::Running, DealRejection::NoticeRunning),
            (NoticeGate::ObjectionsOpen, DealRejection::ObjectionsOpen),
            (NoticeGate::Failed, DealRejection::NoticeFailed),
            (NoticeGate::Clear { price_fen: 500_000_000 }, DealRejection::PriceDiffers { noticed: 500_000_000 }),
        ] {
            sc(buyer()).given(given()).when(accept(2, gate)).then_rejected(rejection);
        }
        sc(buyer()).given(given()).when(accept(1, clear.clone())).then_rejected(DealRejection::NotLatest(2));
        sc(seller()).given(given()).when(accept(2, clear.clone())).then_rejected(DealRejection::OwnOffer);
        let events = Deals.decide(&Deals.fold(&given()), &accept(2, clear.clone()), &ctx(buyer())).unwrap();
        let [DealEvent::Agreed(d)] = events.as_slice() else { panic!("{events:?}") };
        assert_eq!((d.route.as_str(), d.price_fen, d.buyer_org_id.as_str()), ("negotiated", 480_000_000, "firm"));
        assert!(d.contract_due.is_some());
        let mut after = given().to_vec();
        after.push(DealEvent::Agreed(d.clone()));
        sc(buyer()).given(after).when(accept(2, clear)).then_rejected(DealRejection::Over);
    }
}
