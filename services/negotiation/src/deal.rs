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
use crate::terms::{self, Pricing, TermsError};

/// What negotiation knows of the result from listings' events when a command arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultFacts {
    pub seller_org_id: String,
    pub published: bool,
    pub negotiated_route: bool,
    pub notice: NoticeGate,
    /// The transaction modes the result is offered in (listings wire values).
    pub modes: Vec<i32>,
    /// Whether the result is this process's to sell now: published, not withdrawn, and held by this process in the
    /// result's market (or a process from before the market, which the market has not adopted yet).
    pub on_sale: bool,
}

/// Whether a negotiated deal on a result may close now at `price_fen`: the result is on sale, and its public notice at
/// that very price has ended (recorded, not inferred from the clock) with no objection open or upheld. The one copy of
/// the rule: accepting an offer applies it, and `get-deal-status` answers with it.
pub fn may_close(facts: &ResultFacts, price_fen: i64) -> Result<(), DealRejection> {
    use DealRejection as R;
    if !facts.published || !facts.on_sale {
        return Err(R::NotOnSale);
    }
    match facts.notice {
        NoticeGate::NoNotice => Err(R::NoNotice),
        NoticeGate::Running => Err(R::NoticeRunning),
        NoticeGate::ObjectionsOpen => Err(R::ObjectionsOpen),
        NoticeGate::Failed => Err(R::NoticeFailed),
        NoticeGate::Clear { price_fen: noticed } if noticed != price_fen => Err(R::PriceDiffers { noticed }),
        NoticeGate::Clear { .. } => Ok(()),
    }
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
    /// The mode declared at the opening (0 for negotiations opened before modes were declared) and its exclusivity.
    pub mode: i32,
    pub exclusive: bool,
    pub status: DealStatus,
    /// Every version, in order: (version, by organisation, terms).
    pub offers: Vec<(u32, String, pb::TermSheet)>,
    pub deal: Option<pb::DealAgreed>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DealCommand {
    Open {
        id: String,
        result_id: String,
        mode: i32,
        facts: ResultFacts,
    },
    Offer {
        terms: pb::TermSheet,
    },
    Accept {
        version: u32,
        facts: ResultFacts,
    },
    Abandon {
        reason: String,
    },
    /// By the exchange, when the seller withdrew the result or it was sold under another process.
    Cancel {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum DealRejection {
    #[error("the negotiation exists already")]
    Exists,
    #[error(
        "the contract deadline would fall in {0}, for which no public-holiday schedule is loaded yet; an administrator loads it"
    )]
    NoSchedule(i32),
    #[error("a party makes at most {0} offers in a negotiation")]
    TooManyOffers(usize),
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
    #[error(transparent)]
    Terms(#[from] TermsError),
    #[error("the negotiation was opened for {0}: an offer keeps its mode and exclusivity")]
    ExclusivityChanged(&'static str),
    #[error("only the latest version (v{0}) can be accepted")]
    NotLatest(u32),
    #[error("a side does not accept its own offer")]
    OwnOffer,
    #[error("no public notice has been published at a price")]
    NoNotice,
    #[error("the public notice is still running")]
    NoticeRunning,
    #[error("the result is no longer for sale")]
    NotOnSale,
    #[error("only the exchange cancels a negotiation")]
    NotTheSystem,
    #[error("an objection to the notice is still open")]
    ObjectionsOpen,
    #[error("an objection to the notice was upheld; a new notice is needed")]
    NoticeFailed,
    #[error("the notice published {noticed} fen; another price needs a new notice")]
    PriceDiffers { noticed: i64 },
}

impl ttx_kernel::decider::Refusal for DealRejection {
    fn code(&self) -> ttx_proto::common::v1::ErrorCode {
        use ttx_proto::common::v1::ErrorCode as C;
        match self {
            Self::Terms(_) | Self::ExclusivityChanged(_) => C::InvalidInput,
            Self::TooManyOffers(_) => C::TooMany,
            Self::NotABuyer | Self::NotAParty => C::Forbidden,
            Self::NoSuchNegotiation => C::NotFound,
            Self::Exists => C::Conflict,
            // NoSchedule among them: the deadline an acceptance would set cannot be counted yet, and nothing the
            // caller sent is wrong.
            _ => C::Rejected,
        }
    }

    fn field(&self) -> Option<String> {
        match self {
            Self::Terms(e) => Some(e.field().to_owned()),
            Self::ExclusivityChanged(_) => Some("terms.mode".into()),
            _ => None,
        }
    }

    fn reason(&self) -> &'static str {
        self.into()
    }
}

/// The negotiated-deal decider.
#[derive(Debug, Clone, Copy, Default)]
pub struct Deals;

impl Decider for Deals {
    type State = DealState;
    type Command = DealCommand;
    type Event = DealEvent;
    type Rejection = DealRejection;

    fn decide(&self, s: &DealState, command: &DealCommand, ctx: &Ctx) -> Result<Vec<DealEvent>, DealRejection> {
        use DealRejection as R;
        let actor = &ctx.actor;
        let rules = crate::rules::of(&ctx.rule_version);
        if let DealCommand::Open { id, result_id, mode, facts } = command {
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
            let mode_error = |reason| TermsError::Invalid { field: "mode".into(), reason };
            let exclusive = terms::exclusive(*mode).ok_or_else(|| mode_error("a transaction mode is required"))?;
            if !facts.modes.is_empty() && !facts.modes.contains(mode) {
                return Err(mode_error("the result is not offered in this mode").into());
            }
            return Ok(vec![DealEvent::Opened(pb::NegotiationOpened {
                negotiation_id: id.clone(),
                result_id: result_id.clone(),
                seller_org_id: facts.seller_org_id.clone(),
                buyer_org_id: actor.org_id.clone(),
                mode: *mode,
                exclusive,
            })]);
        }
        if s.status == DealStatus::None {
            return Err(R::NoSuchNegotiation);
        }
        if let DealCommand::Cancel { reason } = command {
            if !actor.has_role(Role::System) {
                return Err(R::NotTheSystem);
            }
            if s.status != DealStatus::Open {
                return Ok(Vec::new());
            }
            return Ok(vec![DealEvent::Abandoned(pb::NegotiationAbandoned {
                by_org_id: String::new(),
                reason: reason.clone(),
            })]);
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
            DealCommand::Cancel { .. } => Err(R::NotTheSystem),
            DealCommand::Offer { terms } => {
                let terms = terms::check("terms.", terms, Pricing::Fixed, &[], rules)?;
                if s.mode != 0 && (terms.mode != s.mode || terms.exclusive != s.exclusive) {
                    return Err(R::ExclusivityChanged(if s.exclusive {
                        "exclusive rights"
                    } else {
                        "non-exclusive rights"
                    }));
                }
                // No party floods a negotiation: at most the rules' number of offers each.
                if s.offers.iter().filter(|(_, by, _)| *by == actor.org_id).count() >= rules.max_offers_per_party {
                    return Err(R::TooManyOffers(rules.max_offers_per_party));
                }
                let version = u32::try_from(s.offers.len()).ok().and_then(|n| n.checked_add(1)).ok_or(R::Over)?;
                Ok(vec![DealEvent::Offered(pb::OfferMade {
                    version,
                    by_org_id: actor.org_id.clone(),
                    by_user_id: actor.user_id.clone(),
                    terms: Some(terms),
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
                // Terms offered under earlier rules (a free-text schedule, no mode) need a new offer.
                let terms = &terms::check("terms.", terms, Pricing::Fixed, &[], rules)?;
                may_close(facts, terms.price_fen)?;
                let agreed = deal_agreed(
                    &s.id,
                    &s.result_id,
                    &s.seller_org_id,
                    &s.buyer_org_id,
                    "negotiated",
                    terms.clone(),
                    ctx,
                );
                // A user's command never leaves its own deadline pending: it waits for the year's schedule.
                if agreed.pending_year != 0 {
                    return Err(R::NoSchedule(agreed.pending_year));
                }
                Ok(vec![DealEvent::Agreed(agreed)])
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
                s.mode = e.mode;
                s.exclusive = e.exclusive;
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
        ResultFacts {
            seller_org_id: "uni".into(),
            published: true,
            negotiated_route: true,
            notice,
            modes: vec![1, 4],
            on_sale: true,
        }
    }
    fn terms(price: i64) -> pb::TermSheet {
        let signing = pb::DueAfter { event: "signing".into(), working_days: 10 };
        pb::TermSheet {
            mode: 1,
            price_fen: price,
            payments: vec![pb::Payment {
                amount_fen: price,
                when: Some(pb::payment::When::After(signing)),
                ..Default::default()
            }],
            territory: "中国大陆".into(),
            term_months: 60,
            exclusive: true,
            ..Default::default()
        }
    }
    fn opened() -> DealEvent {
        DealEvent::Opened(pb::NegotiationOpened {
            negotiation_id: "n1".into(),
            result_id: "r1".into(),
            seller_org_id: "uni".into(),
            buyer_org_id: "firm".into(),
            mode: 1,
            exclusive: true,
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
        DealCommand::Open { id: "n1".into(), result_id: "r1".into(), mode: 1, facts: facts(NoticeGate::NoNotice) }
    }

    #[test]
    fn an_enterprise_opens_a_negotiation_on_a_published_negotiated_result() {
        sc(buyer()).given([]).when(open()).then([opened()]);
        let unpublished = ResultFacts { published: false, ..facts(NoticeGate::NoNotice) };
        let cmd = DealCommand::Open { id: "n1".into(), result_id: "r1".into(), mode: 1, facts: unpublished };
        sc(buyer()).given([]).when(cmd).then_rejected(DealRejection::NotPublished);
        let listed = ResultFacts { negotiated_route: false, ..facts(NoticeGate::NoNotice) };
        let cmd = DealCommand::Open { id: "n1".into(), result_id: "r1".into(), mode: 1, facts: listed };
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
        let mut bad = terms(480_000_000);
        bad.payments[0].amount_fen = 1;
        let short =
            TermsError::Invalid { field: "terms.payments".into(), reason: "the payments add up to the price exactly" };
        sc(buyer()).given([opened()]).when(DealCommand::Offer { terms: bad }).then_rejected(short.into());
    }

    #[test]
    fn no_party_floods_a_negotiation_with_offers() {
        let max = crate::rules::current().max_offers_per_party;
        let history: Vec<DealEvent> =
            std::iter::once(opened()).chain((1..=max as u32).map(|v| offer(v, "firm", 480_000_000))).collect();
        let cmd = DealCommand::Offer { terms: terms(480_000_000) };
        sc(buyer()).given(history.clone()).when(cmd.clone()).then_rejected(DealRejection::TooManyOffers(max));
        // The other party still answers.
        sc(seller()).given(history).when(cmd).then([offer(max as u32 + 1, "uni", 480_000_000)]);
    }

    #[test]
    fn a_deal_is_not_agreed_on_a_result_no_longer_on_sale_and_the_exchange_cancels_it() {
        let given = || [opened(), offer(1, "uni", 480_000_000)];
        let gone = ResultFacts { on_sale: false, ..facts(NoticeGate::Clear { price_fen: 480_000_000 }) };
        sc(buyer())
            .given(given())
            .when(DealCommand::Accept { version: 1, facts: gone })
            .then_rejected(DealRejection::NotOnSale);
        let cancel = DealCommand::Cancel { reason: "the holder withdrew the result".into() };
        let state =
            sc(who("system", "", Role::System)).given(given()).when(cancel.clone()).then([DealEvent::Abandoned(
                pb::NegotiationAbandoned { by_org_id: String::new(), reason: "the holder withdrew the result".into() },
            )]);
        assert_eq!(state.status, DealStatus::Abandoned);
        sc(buyer()).given(given()).when(cancel).then_rejected(DealRejection::NotTheSystem);
    }

    #[test]
    fn the_mode_is_declared_at_the_opening_and_no_offer_changes_its_exclusivity() {
        let unoffered =
            DealCommand::Open { id: "n1".into(), result_id: "r1".into(), mode: 2, facts: facts(NoticeGate::NoNotice) };
        let decided = sc(buyer()).given([]).when(unoffered);
        assert!(
            matches!(decided.result(), Err(DealRejection::Terms(e)) if e.field() == "mode"),
            "{:?}",
            decided.result()
        );
        let licence = pb::TermSheet { mode: 4, exclusive: true, ..terms(480_000_000) };
        sc(buyer())
            .given([opened()])
            .when(DealCommand::Offer { terms: licence })
            .then_rejected(DealRejection::ExclusivityChanged("exclusive rights"));
        // A caller's exclusivity flag is ignored: the mode decides it.
        let claimed = pb::TermSheet { exclusive: false, ..terms(480_000_000) };
        sc(buyer()).given([opened()]).when(DealCommand::Offer { terms: claimed }).then([offer(1, "firm", 480_000_000)]);
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
