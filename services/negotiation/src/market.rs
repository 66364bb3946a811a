//! One result's market, stream `negotiation-market-<result_id>`: the one owner of "is this result for sale, and to
//! whom has it been sold" (ADR 0008).
//!
//! Every pricing process on a result (a negotiation, a listed sale, a bidding session) is opened here before its own
//! stream records it, and ended here when it ends; a deal records the right it granted. Because all of it is one
//! stream, two processes racing for the same result (two instances, two sellers' clicks) are kept apart by the
//! stream's expected version: exactly one wins. Rules, each a rejection:
//! - An exclusive process (an assignment, an exclusive or sole licence, equity) opens only while no other process is
//!   open, no exclusive right has been granted, and no non-exclusive licence has (an exclusive licence would
//!   contradict it).
//! - A non-exclusive process opens while no exclusive process is open, no exclusive right has been granted, and the
//!   holder has not stopped licensing. Non-exclusive licences may be granted many times.
//! - A process that ended stays ended; only a lapsed listed sale opens again (relisted), and one that never opened
//!   in its own stream (its request is retried).
//! - A right whose deal fell through (the winner defaulted, the seller withdrew before the contract) is voided and the
//!   result is back on the market.

use std::collections::BTreeMap;

use ttx_kernel::{Ctx, Decider};
use ttx_proto::common::v1::Role;

use crate::events::wire_events;
use crate::pb;

wire_events!(MarketEvent {
    Opened(SaleOpened),
    Ended(SaleEnded),
    Granted(RightGranted),
    Voided(RightVoided),
    LicensingStopped(LicensingStopped),
});

/// A process as the market knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sale {
    pub kind: String,
    pub mode: i32,
    pub exclusive: bool,
    /// How it ended, once it has.
    pub ended: Option<String>,
    /// How many times it opened (a lapsed listed sale opens again when relisted).
    pub openings: u32,
    /// The organisation that opened it.
    pub by_org_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarketState {
    pub result_id: String,
    /// Every process that ever opened, by id.
    pub sales: BTreeMap<String, Sale>,
    /// Deal id → (exclusive, voided).
    pub grants: BTreeMap<String, (bool, bool)>,
    pub licensing_stopped: bool,
}

impl MarketState {
    /// The processes open now.
    pub fn open(&self) -> impl Iterator<Item = (&String, &Sale)> {
        self.sales.iter().filter(|(_, s)| s.ended.is_none())
    }

    /// Whether `process` holds the result now: opened here and not ended.
    pub fn holds(&self, process: &str) -> bool {
        self.sales.get(process).is_some_and(|s| s.ended.is_none())
    }

    /// The deal whose exclusive right stands, if any.
    pub fn exclusive_grant(&self) -> Option<&String> {
        self.grants.iter().find(|(_, (exclusive, voided))| *exclusive && !voided).map(|(d, _)| d)
    }

    /// The non-exclusive licences that stand.
    pub fn licences(&self) -> impl Iterator<Item = &String> {
        self.grants.iter().filter(|(_, (exclusive, voided))| !exclusive && !voided).map(|(d, _)| d)
    }
}

/// How a process ended, and the right its deal granted if it had one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ending {
    pub outcome: String,
    /// (deal id, exclusive, buyer).
    pub deal: Option<(String, bool, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarketCommand {
    /// A process takes the result (or, already holding it, nothing changes).
    /// `missing_consents`: the co-holders that have not consented to exclusive disposal (negotiation's view of
    /// listings; empty when the process was opened before consents were recorded and is adopted).
    Open {
        result_id: String,
        kind: String,
        process_id: String,
        mode: i32,
        exclusive: bool,
        missing_consents: Vec<String>,
    },
    /// A listed sale with several registrants hands the result to the session it turns into, in one step.
    Handover { from: String, to: String },
    /// A process ended (nothing changes if it had already, or never opened here).
    End { process_id: String, ending: Ending },
    /// A granted right fell through.
    Void { deal_id: String, reason: String },
    /// The holder's technology manager stops non-exclusive licensing; `holder` says whether the actor's organisation
    /// holds the result (negotiation's view of listings).
    StopLicensing { holder: bool },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum MarketRejection {
    #[error("the result is under another sale ({0}); one exclusive sale at a time")]
    Busy(String),
    #[error("an exclusive right in the result has been granted (deal {0})")]
    ExclusiveGranted(String),
    #[error("non-exclusive licences have been granted; an exclusive sale would contradict them")]
    LicencesGranted,
    #[error("the holder has stopped licensing this result")]
    LicensingStopped,
    #[error("the sale {0} has ended")]
    Ended(String),
    #[error("only the holder's technology manager stops licensing")]
    NotTheHolder,
    #[error("only the exchange itself hands a sale over")]
    NotTheSystem,
    #[error("at most {0} processes are open on a result at once")]
    TooManyOpen(usize),
    #[error("this organisation negotiates this result already ({0})")]
    AlreadyNegotiating(String),
    #[error("every co-holder must consent to an assignment, an exclusive or sole licence or equity first; missing: {}", .0.join(", "))]
    ConsentMissing(Vec<String>),
}

impl ttx_kernel::decider::Refusal for MarketRejection {
    fn code(&self) -> ttx_proto::common::v1::ErrorCode {
        use ttx_proto::common::v1::ErrorCode as C;
        match self {
            Self::Busy(_) | Self::ExclusiveGranted(_) | Self::AlreadyNegotiating(_) => C::Conflict,
            Self::NotTheHolder | Self::NotTheSystem => C::Forbidden,
            Self::LicencesGranted | Self::LicensingStopped | Self::Ended(_) | Self::ConsentMissing(_) => C::Rejected,
            Self::TooManyOpen(_) => C::TooMany,
        }
    }

    fn reason(&self) -> &'static str {
        self.into()
    }
}

/// The market decider.
#[derive(Debug, Clone, Copy, Default)]
pub struct Markets;

impl Decider for Markets {
    type State = MarketState;
    type Command = MarketCommand;
    type Event = MarketEvent;
    type Rejection = MarketRejection;

    fn decide(&self, s: &MarketState, command: &MarketCommand, ctx: &Ctx) -> Result<Vec<MarketEvent>, MarketRejection> {
        use MarketRejection as R;
        match command {
            MarketCommand::Open { result_id, kind, process_id, mode, exclusive, missing_consents } => {
                // Patent Law art. 14: a jointly held right is disposed of exclusively only with every co-holder's
                // consent; non-exclusive licences need none.
                if *exclusive && !missing_consents.is_empty() {
                    return Err(R::ConsentMissing(missing_consents.clone()));
                }
                match s.sales.get(process_id).map(|sale| sale.ended.as_deref()) {
                    Some(None) => return Ok(Vec::new()),
                    // A lapsed listed sale is relisted; a sale that never opened may open when its request is retried.
                    Some(Some("lapsed" | "not_opened")) | None => {}
                    Some(Some(_)) => return Err(R::Ended(process_id.clone())),
                }
                available(s, process_id, *exclusive)?;
                // No one floods a result's market: a bounded number open at once, one negotiation per buyer.
                let rules = crate::rules::of(&ctx.rule_version);
                let others = || s.open().filter(|(id, _)| *id != process_id);
                if others().count() >= rules.max_open_sales {
                    return Err(R::TooManyOpen(rules.max_open_sales));
                }
                let by = &ctx.actor.org_id;
                if kind == "negotiation"
                    && !by.is_empty()
                    && let Some((id, _)) =
                        others().find(|(_, sale)| sale.kind == "negotiation" && sale.by_org_id == *by)
                {
                    return Err(R::AlreadyNegotiating(id.clone()));
                }
                Ok(vec![MarketEvent::Opened(pb::SaleOpened {
                    result_id: result_id.clone(),
                    kind: kind.clone(),
                    process_id: process_id.clone(),
                    mode: *mode,
                    exclusive: *exclusive,
                    opened_by_org_id: by.clone(),
                })])
            }
            MarketCommand::Handover { from, to } => {
                if !ctx.actor.has_role(Role::System) {
                    return Err(R::NotTheSystem);
                }
                if s.holds(to) {
                    return Ok(Vec::new());
                }
                let sale = s.sales.get(from).filter(|sale| sale.ended.is_none()).ok_or(R::Ended(from.clone()))?;
                Ok(vec![
                    MarketEvent::Ended(pb::SaleEnded { process_id: from.clone(), outcome: "to_auction".into() }),
                    MarketEvent::Opened(pb::SaleOpened {
                        result_id: s.result_id.clone(),
                        kind: "session".into(),
                        process_id: to.clone(),
                        mode: sale.mode,
                        exclusive: sale.exclusive,
                        opened_by_org_id: sale.by_org_id.clone(),
                    }),
                ])
            }
            MarketCommand::End { process_id, ending } => {
                if !s.holds(process_id) {
                    return Ok(Vec::new());
                }
                let mut events = vec![MarketEvent::Ended(pb::SaleEnded {
                    process_id: process_id.clone(),
                    outcome: ending.outcome.clone(),
                })];
                if let Some((deal_id, exclusive, buyer)) = &ending.deal {
                    events.push(MarketEvent::Granted(pb::RightGranted {
                        deal_id: deal_id.clone(),
                        process_id: process_id.clone(),
                        exclusive: *exclusive,
                        buyer_org_id: buyer.clone(),
                    }));
                }
                Ok(events)
            }
            MarketCommand::Void { deal_id, reason } => match s.grants.get(deal_id) {
                Some((_, false)) => {
                    Ok(vec![MarketEvent::Voided(pb::RightVoided { deal_id: deal_id.clone(), reason: reason.clone() })])
                }
                _ => Ok(Vec::new()),
            },
            MarketCommand::StopLicensing { holder } => {
                if !(*holder && ctx.actor.has_role(Role::TechManager)) {
                    return Err(R::NotTheHolder);
                }
                if s.licensing_stopped {
                    return Ok(Vec::new());
                }
                Ok(vec![MarketEvent::LicensingStopped(pb::LicensingStopped { by_user_id: ctx.actor.user_id.clone() })])
            }
        }
    }

    fn evolve(&self, mut s: MarketState, event: &MarketEvent) -> MarketState {
        match event {
            MarketEvent::Opened(e) => {
                s.result_id.clone_from(&e.result_id);
                let openings = s.sales.get(&e.process_id).map_or(0, |sale| sale.openings).saturating_add(1);
                s.sales.insert(
                    e.process_id.clone(),
                    Sale {
                        kind: e.kind.clone(),
                        mode: e.mode,
                        exclusive: e.exclusive,
                        ended: None,
                        openings,
                        by_org_id: e.opened_by_org_id.clone(),
                    },
                );
            }
            MarketEvent::Ended(e) => {
                if let Some(sale) = s.sales.get_mut(&e.process_id) {
                    sale.ended = Some(e.outcome.clone());
                }
            }
            MarketEvent::Granted(e) => {
                s.grants.insert(e.deal_id.clone(), (e.exclusive, false));
            }
            MarketEvent::Voided(e) => {
                if let Some(g) = s.grants.get_mut(&e.deal_id) {
                    g.1 = true;
                }
            }
            MarketEvent::LicensingStopped(_) => s.licensing_stopped = true,
        }
        s
    }
}

/// Whether a process (`exclusive` or not) may take the result now, beside the ones open.
fn available(s: &MarketState, process_id: &str, exclusive: bool) -> Result<(), MarketRejection> {
    use MarketRejection as R;
    if let Some(deal) = s.exclusive_grant() {
        return Err(R::ExclusiveGranted(deal.clone()));
    }
    let mut others = s.open().filter(|(id, _)| *id != process_id);
    if exclusive {
        if let Some((id, _)) = others.next() {
            return Err(R::Busy(id.clone()));
        }
        if s.licences().next().is_some() {
            return Err(R::LicencesGranted);
        }
    } else {
        if let Some((id, _)) = others.find(|(_, sale)| sale.exclusive) {
            return Err(R::Busy(id.clone()));
        }
        if s.licensing_stopped {
            return Err(R::LicensingStopped);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use ttx_kernel::Timestamp;
    use ttx_kernel::testing::Scenario;
    use ttx_proto::common::v1::Actor;

    use super::*;

    fn who(org: &str, role: Role) -> Actor {
        Actor { user_id: format!("{org}-user"), org_id: org.into(), role: role.into(), roles: vec![role.into()] }
    }
    fn sc(role: Role) -> Scenario<Markets> {
        Scenario::new(Markets).at(Timestamp::from_unix_micros(1_790_000_000_000_000)).by(who("uni", role))
    }
    fn open(process: &str, exclusive: bool) -> MarketCommand {
        MarketCommand::Open {
            result_id: "r1".into(),
            kind: "session".into(),
            process_id: process.into(),
            mode: if exclusive { 1 } else { 4 },
            exclusive,
            missing_consents: Vec::new(),
        }
    }
    fn opened(process: &str, exclusive: bool) -> MarketEvent {
        MarketEvent::Opened(pb::SaleOpened {
            result_id: "r1".into(),
            kind: "session".into(),
            process_id: process.into(),
            mode: if exclusive { 1 } else { 4 },
            exclusive,
            opened_by_org_id: "uni".into(),
        })
    }
    fn ended(process: &str, outcome: &str) -> MarketEvent {
        MarketEvent::Ended(pb::SaleEnded { process_id: process.into(), outcome: outcome.into() })
    }
    fn granted(deal: &str, exclusive: bool) -> MarketEvent {
        MarketEvent::Granted(pb::RightGranted {
            deal_id: deal.into(),
            process_id: deal.into(),
            exclusive,
            buyer_org_id: "firm".into(),
        })
    }
    fn end_with_deal(process: &str, exclusive: bool) -> MarketCommand {
        MarketCommand::End {
            process_id: process.into(),
            ending: Ending { outcome: "agreed".into(), deal: Some((process.into(), exclusive, "firm".into())) },
        }
    }

    #[test]
    fn no_one_floods_a_results_market() {
        let negotiation = |process: &str| match open(process, false) {
            MarketCommand::Open { result_id, mode, exclusive, missing_consents, .. } => MarketCommand::Open {
                result_id,
                kind: "negotiation".into(),
                process_id: process.into(),
                mode,
                exclusive,
                missing_consents,
            },
            other => other,
        };
        let buyer = |org: &str| {
            Scenario::new(Markets)
                .at(Timestamp::from_unix_micros(1_790_000_000_000_000))
                .by(who(org, Role::EnterpriseMember))
        };
        let first = MarketEvent::Opened(pb::SaleOpened {
            result_id: "r1".into(),
            kind: "negotiation".into(),
            process_id: "n1".into(),
            mode: 4,
            exclusive: false,
            opened_by_org_id: "firm".into(),
        });
        buyer("firm").when(negotiation("n1")).then([first.clone()]);
        // One negotiation per buyer organisation and result at a time; another buyer negotiates beside it.
        buyer("firm")
            .given([first.clone()])
            .when(negotiation("n2"))
            .then_rejected(MarketRejection::AlreadyNegotiating("n1".into()));
        buyer("other").given([first.clone()]).when(negotiation("n2")).then([MarketEvent::Opened(pb::SaleOpened {
            process_id: "n2".into(),
            opened_by_org_id: "other".into(),
            ..match &first {
                MarketEvent::Opened(e) => e.clone(),
                _ => unreachable!(),
            }
        })]);
        // At most the rules' number of processes open at once.
        let max = crate::rules::current().max_open_sales;
        let full: Vec<MarketEvent> = (0..max).map(|i| opened(&format!("s{i}"), false)).collect();
        sc(Role::TechManager)
            .given(full)
            .when(open("one-more", false))
            .then_rejected(MarketRejection::TooManyOpen(max));
    }

    #[test]
    fn an_exclusive_sale_of_a_jointly_held_result_waits_for_every_co_holders_consent() {
        let with_missing = |exclusive, missing: &[&str]| match open("p1", exclusive) {
            MarketCommand::Open { result_id, kind, process_id, mode, exclusive, .. } => MarketCommand::Open {
                result_id,
                kind,
                process_id,
                mode,
                exclusive,
                missing_consents: missing.iter().map(|m| (*m).to_owned()).collect(),
            },
            other => other,
        };
        sc(Role::TechManager)
            .when(with_missing(true, &["inst"]))
            .then_rejected(MarketRejection::ConsentMissing(vec!["inst".into()]));
        // A non-exclusive licence needs no consent (Patent Law art. 14); with every consent, an exclusive sale opens.
        sc(Role::TechManager).when(with_missing(false, &["inst"])).then([opened("p1", false)]);
        sc(Role::TechManager).when(with_missing(true, &[])).then([opened("p1", true)]);
    }

    #[test]
    fn one_exclusive_sale_at_a_time_and_none_after_an_exclusive_right_is_granted() {
        sc(Role::TechManager).given([]).when(open("s1", true)).then([opened("s1", true)]);
        sc(Role::TechManager).given([opened("s1", true)]).when(open("s1", true)).then([]);
        sc(Role::TechManager)
            .given([opened("s1", true)])
            .when(open("s2", true))
            .then_rejected(MarketRejection::Busy("s1".into()));
        sc(Role::TechManager)
            .given([opened("s1", true)])
            .when(open("n1", false))
            .then_rejected(MarketRejection::Busy("s1".into()));
        let sold = [opened("s1", true), ended("s1", "agreed"), granted("s1", true)];
        sc(Role::System).given([opened("s1", true)]).when(end_with_deal("s1", true)).then(sold[1..].to_vec());
        for exclusive in [true, false] {
            sc(Role::TechManager)
                .given(sold.clone())
                .when(open("s2", exclusive))
                .then_rejected(MarketRejection::ExclusiveGranted("s1".into()));
        }
        // An ended process stays ended.
        sc(Role::TechManager)
            .given(sold.clone())
            .when(open("s1", true))
            .then_rejected(MarketRejection::Ended("s1".into()));
    }

    #[test]
    fn non_exclusive_licences_are_granted_many_times_until_the_holder_stops() {
        let one = [opened("n1", false), ended("n1", "agreed"), granted("n1", false)];
        sc(Role::TechManager).given(one.clone()).when(open("n2", false)).then([opened("n2", false)]);
        // Two non-exclusive processes side by side.
        let mut two = one.to_vec();
        two.push(opened("n2", false));
        sc(Role::TechManager).given(two.clone()).when(open("n3", false)).then([opened("n3", false)]);
        // No exclusive sale beside them, nor after a licence.
        sc(Role::TechManager).given(two).when(open("s1", true)).then_rejected(MarketRejection::Busy("n2".into()));
        sc(Role::TechManager).given(one.clone()).when(open("s1", true)).then_rejected(MarketRejection::LicencesGranted);
        let stop = MarketCommand::StopLicensing { holder: true };
        let stopped = MarketEvent::LicensingStopped(pb::LicensingStopped { by_user_id: "uni-user".into() });
        sc(Role::TechManager).given(one.clone()).when(stop.clone()).then([stopped.clone()]);
        sc(Role::EnterpriseMember)
            .given(one.clone())
            .when(MarketCommand::StopLicensing { holder: false })
            .then_rejected(MarketRejection::NotTheHolder);
        let mut after = one.to_vec();
        after.push(stopped);
        sc(Role::TechManager).given(after).when(open("n2", false)).then_rejected(MarketRejection::LicensingStopped);
    }

    #[test]
    fn a_voided_right_puts_the_result_back_on_the_market_and_a_lapsed_sale_reopens() {
        let sold = [opened("s1", true), ended("s1", "agreed"), granted("s1", true)];
        let void = MarketCommand::Void { deal_id: "s1".into(), reason: "defaulted".into() };
        let voided = MarketEvent::Voided(pb::RightVoided { deal_id: "s1".into(), reason: "defaulted".into() });
        sc(Role::System).given(sold.clone()).when(void.clone()).then([voided.clone()]);
        let mut back = sold.to_vec();
        back.push(voided);
        sc(Role::System).given(back.clone()).when(void).then([]);
        sc(Role::TechManager).given(back).when(open("s2", true)).then([opened("s2", true)]);
        let lapsed = [opened("l1", true), ended("l1", "lapsed")];
        sc(Role::TechManager).given(lapsed).when(open("l1", true)).then([opened("l1", true)]);
        // A sale let go because its process never opened may open when its request is retried.
        let never = [opened("s1", true), ended("s1", "not_opened")];
        sc(Role::TechManager).given(never).when(open("s1", true)).then([opened("s1", true)]);
    }

    #[test]
    fn a_listed_sale_hands_the_result_to_its_auction_in_one_step() {
        let handover = MarketCommand::Handover { from: "l1".into(), to: "l1-auction".into() };
        sc(Role::System).given([opened("l1", true)]).when(handover.clone()).then([
            ended("l1", "to_auction"),
            MarketEvent::Opened(pb::SaleOpened {
                result_id: "r1".into(),
                kind: "session".into(),
                process_id: "l1-auction".into(),
                mode: 1,
                exclusive: true,
                opened_by_org_id: "uni".into(),
            }),
        ]);
        sc(Role::TechManager).given([opened("l1", true)]).when(handover).then_rejected(MarketRejection::NotTheSystem);
    }
}
