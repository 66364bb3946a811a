//! The listed-price sale (挂牌), stream `negotiation-listing-<id>`.
//!
//! The seller lists a published result whose route is the listed price, at a price, for a disclosure period.
//! Enterprise members of other organisations register their intent meanwhile. When the period ends (the service's
//! timer): one registrant buys at the listed price (`DealAgreed`); two or more go to a bidding session the service then
//! opens for them alone (`ListingEnded { outcome: "to_auction", session_id }`); none, and the listing lapses, until the
//! seller relists it.

use std::collections::BTreeMap;

use ttx_kernel::{Ctx, Decider, Timestamp};
use ttx_proto::common::v1::Role;

use crate::deadline::deal_agreed;
use crate::events::wire_events;
use crate::pb;
use crate::terms::{self, Pricing, TermsError};

wire_events!(ListingEvent {
    Opened(ListingOpened),
    IntentRegistered(IntentRegistered),
    Ended(ListingEnded),
    Relisted(ListingRelisted),
    Agreed(DealAgreed),
    DeadlinesFixed(DeadlinesFixed),
});

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListingStatus {
    #[default]
    None,
    Open,
    Sold,
    ToAuction,
    Lapsed,
    /// The seller withdrew the result.
    Cancelled,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListingState {
    pub id: String,
    pub result_id: String,
    pub seller_org_id: String,
    pub price_fen: i64,
    pub terms: pb::TermSheet,
    pub disclosure_ends: Option<Timestamp>,
    pub status: ListingStatus,
    /// Organisation → the user who registered.
    pub registrants: BTreeMap<String, String>,
    pub deal: Option<pb::DealAgreed>,
}

/// The rules of the bidding session a listed-price sale with several registrants turns into at `now`, from the rules in
/// force (`rules`): the listed price to start, the increment a share of it on a whole step (at least one step), the
/// deposit a share of it, registration then bidding for whole days, and an extension window. Nobody chooses them.
pub fn auction_rules(
    price_fen: i64,
    now: Timestamp,
    rules: &crate::rules::Rules,
) -> Result<pb::SessionRules, ttx_kernel::money::MoneyError> {
    use ttx_kernel::money::share_of;
    const DAY_US: i64 = 86_400_000_000;
    let at = |days: i64| {
        Some(Timestamp::from_unix_micros(now.unix_micros().saturating_add(days.saturating_mul(DAY_US))).to_proto())
    };
    let step = rules.auction_increment_step_fen.max(1);
    let increment = (share_of("price_fen", price_fen, rules.auction_increment_bp)? / step * step).max(step);
    let registration = rules.auction_registration_days;
    Ok(pb::SessionRules {
        start_price_fen: price_fen,
        increment_fen: increment,
        deposit_fen: share_of("price_fen", price_fen, rules.auction_deposit_bp)?,
        registration_closes: at(registration),
        bidding_opens: at(registration),
        bidding_closes: at(registration.saturating_add(rules.auction_bidding_days)),
        anti_sniping: "extension".into(),
        window_seconds: rules.auction_window_seconds,
        reserve_fen: None,
        sealed: false,
        reveal_closes: None,
        version: rules.version.into(),
        one_shot: false,
    })
}

/// The id of the bidding session a listing with several registrants turns into.
pub fn session_id_for(listing_id: &str) -> String {
    format!("{listing_id}-auction")
}

#[derive(Debug, Clone, PartialEq)]
pub enum ListingCommand {
    Open {
        id: String,
        result_id: String,
        /// Negotiation's view of the result: the opener's organisation holds it, it is published, and it is priced by
        /// listing.
        holder: bool,
        published: bool,
        listed_route: bool,
        /// The modes the result is offered in.
        modes: Vec<i32>,
        terms: pb::TermSheet,
        /// The disclosure period, in PRC working days (at least the rules' minimum).
        working_days: u32,
    },
    RegisterIntent,
    /// By the timer, at or after the end of the disclosure period; a result no longer on sale cancels the sale.
    End {
        on_sale: bool,
    },
    /// By the exchange, when the seller withdrew the result or it was sold under another process.
    Cancel {
        reason: String,
    },
    Relist {
        working_days: u32,
    },
    /// By the timer, once the year a pending contract deadline waits for has its schedule: the deadline is counted.
    FixDeadlines,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum ListingRejection {
    #[error("the listing exists already")]
    Exists,
    #[error("no such listing")]
    NoSuchListing,
    #[error("only a technology manager of the seller lists or relists a result")]
    NotTheSeller,
    #[error("the result is not published")]
    NotPublished,
    #[error("the result is not priced by listing")]
    NotListedRoute,
    #[error(transparent)]
    Terms(#[from] TermsError),
    #[error("the disclosure period runs {min} to {max} working days")]
    BadPeriod { min: u32, max: u32 },
    #[error(
        "the period would end in {0}, for which no public-holiday schedule is loaded yet; an administrator loads it"
    )]
    NoSchedule(i32),
    #[error("only an enterprise member of another organisation registers")]
    NotABuyer,
    #[error("the disclosure period is over")]
    PeriodOver,
    #[error("already registered")]
    AlreadyRegistered,
    #[error("not yet: the period ends at {0}")]
    NotYet(Timestamp),
    #[error("only the exchange's timer ends a listing")]
    NotTheTimer,
    #[error("only a lapsed listing is relisted")]
    NotLapsed,
}

impl ttx_kernel::decider::Refusal for ListingRejection {
    fn code(&self) -> ttx_proto::common::v1::ErrorCode {
        use ttx_proto::common::v1::ErrorCode as C;
        match self {
            Self::Terms(_) | Self::BadPeriod { .. } | Self::NoSchedule(_) => C::InvalidInput,
            Self::NotTheSeller | Self::NotABuyer | Self::NotTheTimer => C::Forbidden,
            Self::NoSuchListing => C::NotFound,
            Self::Exists | Self::AlreadyRegistered => C::Conflict,
            _ => C::Rejected,
        }
    }

    fn field(&self) -> Option<String> {
        match self {
            Self::Terms(e) => Some(e.field().to_owned()),
            Self::BadPeriod { .. } | Self::NoSchedule(_) => Some("disclosure_working_days".into()),
            _ => None,
        }
    }

    fn reason(&self) -> &'static str {
        self.into()
    }
}

/// The listed-price decider.
#[derive(Debug, Clone, Copy, Default)]
pub struct Listings;

impl Decider for Listings {
    type State = ListingState;
    type Command = ListingCommand;
    type Event = ListingEvent;
    type Rejection = ListingRejection;

    fn decide(
        &self,
        s: &ListingState,
        command: &ListingCommand,
        ctx: &Ctx,
    ) -> Result<Vec<ListingEvent>, ListingRejection> {
        use ListingRejection as R;
        let actor = &ctx.actor;
        let seller_manager = actor.has_role(Role::TechManager) && actor.org_id == s.seller_org_id;
        match command {
            ListingCommand::Open { id, result_id, holder, published, listed_route, modes, terms, working_days } => {
                if s.status != ListingStatus::None {
                    return Err(R::Exists);
                }
                if !actor.has_role(Role::TechManager) || !holder {
                    return Err(R::NotTheSeller);
                }
                if !published {
                    return Err(R::NotPublished);
                }
                if !listed_route {
                    return Err(R::NotListedRoute);
                }
                let rules = crate::rules::of(&ctx.rule_version);
                let terms = terms::check("terms.", terms, Pricing::Fixed, modes, rules)?;
                let ends = disclosure_end(ctx, *working_days)?;
                Ok(vec![ListingEvent::Opened(pb::ListingOpened {
                    listing_id: id.clone(),
                    result_id: result_id.clone(),
                    seller_org_id: actor.org_id.clone(),
                    price_fen: terms.price_fen,
                    disclosure_ends: Some(ends.to_proto()),
                    terms: Some(terms),
                    disclosure_working_days: *working_days,
                })])
            }
            _ if s.status == ListingStatus::None => Err(R::NoSuchListing),
            // (An `Open` of an existing listing was refused above.)
            ListingCommand::RegisterIntent => {
                if !actor.has_role(Role::EnterpriseMember) || actor.org_id == s.seller_org_id {
                    return Err(R::NotABuyer);
                }
                if s.status != ListingStatus::Open || s.disclosure_ends.is_none_or(|e| ctx.now >= e) {
                    return Err(R::PeriodOver);
                }
                if s.registrants.contains_key(&actor.org_id) {
                    return Err(R::AlreadyRegistered);
                }
                Ok(vec![ListingEvent::IntentRegistered(pb::IntentRegistered {
                    buyer_org_id: actor.org_id.clone(),
                    user_id: actor.user_id.clone(),
                })])
            }
            ListingCommand::Cancel { reason } => {
                if !actor.has_role(Role::System) {
                    return Err(R::NotTheTimer);
                }
                if !matches!(s.status, ListingStatus::Open | ListingStatus::Lapsed) {
                    return Ok(Vec::new());
                }
                Ok(vec![ListingEvent::Ended(pb::ListingEnded {
                    outcome: "cancelled".into(),
                    registrants: s.registrants.keys().cloned().collect(),
                    session_id: String::new(),
                    reason: reason.clone(),
                })])
            }
            ListingCommand::End { on_sale } => {
                if !(actor.has_role(Role::System) || actor.has_role(Role::Admin)) {
                    return Err(R::NotTheTimer);
                }
                if s.status != ListingStatus::Open {
                    return Err(R::PeriodOver);
                }
                if !on_sale {
                    return Ok(vec![ListingEvent::Ended(pb::ListingEnded {
                        outcome: "cancelled".into(),
                        registrants: s.registrants.keys().cloned().collect(),
                        session_id: String::new(),
                        reason: "the result is no longer for sale".into(),
                    })]);
                }
                let ends = s.disclosure_ends.unwrap_or(ctx.now);
                if ctx.now < ends {
                    return Err(R::NotYet(ends));
                }
                let registrants: Vec<String> = s.registrants.keys().cloned().collect();
                let ended = |outcome: &str, session_id: String| {
                    ListingEvent::Ended(pb::ListingEnded {
                        outcome: outcome.into(),
                        registrants: registrants.clone(),
                        session_id,
                        reason: String::new(),
                    })
                };
                Ok(match registrants.as_slice() {
                    [] => vec![ended("lapsed", String::new())],
                    [buyer] => vec![
                        ended("sold", String::new()),
                        ListingEvent::Agreed(deal_agreed(
                            &s.id,
                            &s.result_id,
                            &s.seller_org_id,
                            buyer,
                            "listed",
                            s.terms.clone(),
                            ctx,
                        )),
                    ],
                    _ => vec![ended("to_auction", session_id_for(&s.id))],
                })
            }
            ListingCommand::Relist { working_days } => {
                if !seller_manager {
                    return Err(R::NotTheSeller);
                }
                if s.status != ListingStatus::Lapsed {
                    return Err(R::NotLapsed);
                }
                let ends = disclosure_end(ctx, *working_days)?;
                Ok(vec![ListingEvent::Relisted(pb::ListingRelisted {
                    disclosure_ends: Some(ends.to_proto()),
                    disclosure_working_days: *working_days,
                })])
            }
            ListingCommand::FixDeadlines => {
                if !actor.has_role(Role::System) {
                    return Err(R::NotTheTimer);
                }
                let Some(deal) = s.deal.as_ref().filter(|d| d.pending_year != 0) else { return Ok(Vec::new()) };
                let from = deal.agreed_at.as_ref().map_or(ctx.now, Timestamp::from_proto);
                let due =
                    crate::deadline::working_days_after(&ctx.calendar, from, crate::deadline::CONTRACT_WORKING_DAYS)
                        .map_err(|e| R::NoSchedule(e.0))?;
                Ok(vec![ListingEvent::DeadlinesFixed(pb::DeadlinesFixed {
                    contract_due: Some(due.to_proto()),
                    refunds_due_by: None,
                })])
            }
        }
    }

    fn evolve(&self, mut s: ListingState, event: &ListingEvent) -> ListingState {
        match event {
            ListingEvent::Opened(e) => {
                s.id = e.listing_id.clone();
                s.result_id = e.result_id.clone();
                s.seller_org_id = e.seller_org_id.clone();
                s.price_fen = e.price_fen;
                s.terms = e.terms.clone().unwrap_or_default();
                s.disclosure_ends = e.disclosure_ends.as_ref().map(Timestamp::from_proto);
                s.status = ListingStatus::Open;
            }
            ListingEvent::IntentRegistered(e) => {
                s.registrants.insert(e.buyer_org_id.clone(), e.user_id.clone());
            }
            ListingEvent::Ended(e) => {
                s.status = match e.outcome.as_str() {
                    "sold" => ListingStatus::Sold,
                    "to_auction" => ListingStatus::ToAuction,
                    "cancelled" => ListingStatus::Cancelled,
                    _ => ListingStatus::Lapsed,
                }
            }
            ListingEvent::Relisted(e) => {
                s.status = ListingStatus::Open;
                s.registrants.clear();
                s.disclosure_ends = e.disclosure_ends.as_ref().map(Timestamp::from_proto);
            }
            ListingEvent::Agreed(d) => s.deal = Some(d.clone()),
            ListingEvent::DeadlinesFixed(f) => {
                if let Some(d) = s.deal.as_mut() {
                    d.contract_due = f.contract_due;
                    d.contract_due_basis = crate::deadline::PRC_CALENDAR.into();
                    d.pending_year = 0;
                }
            }
        }
        s
    }
}

/// The end of a disclosure period of `working_days` from now, within the rules' bounds.
fn disclosure_end(ctx: &Ctx, working_days: u32) -> Result<Timestamp, ListingRejection> {
    let rules = crate::rules::of(&ctx.rule_version);
    let (min, max) = (rules.listing_min_working_days, rules.listing_max_working_days);
    if !(min..=max).contains(&working_days) {
        return Err(ListingRejection::BadPeriod { min, max });
    }
    crate::deadline::working_days_after(&ctx.calendar, ctx.now, working_days)
        .map_err(|e| ListingRejection::NoSchedule(e.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ttx_kernel::testing::Scenario;
    use ttx_proto::common::v1::Actor;

    const NOW: i64 = 1_790_000_000_000_000;
    const DAY: i64 = 86_400_000_000;

    fn who(user: &str, org: &str, role: Role) -> Actor {
        Actor { user_id: user.into(), org_id: org.into(), role: role.into(), roles: vec![role.into()] }
    }
    fn at(days: i64) -> Timestamp {
        Timestamp::from_unix_micros(NOW + days * DAY)
    }
    fn sc(by: Actor, days: i64) -> Scenario<Listings> {
        Scenario::new(Listings).at(at(days)).by(by)
    }
    fn seller() -> Actor {
        who("zhangwei", "uni", Role::TechManager)
    }
    fn timer() -> Actor {
        who("system", "", Role::System)
    }
    fn terms() -> pb::TermSheet {
        let due = pb::payment::When::DueOn("2027-06-30".into());
        let payment = pb::Payment { amount_fen: 2_000_000, when: Some(due), ..Default::default() };
        pb::TermSheet { mode: 1, price_fen: 2_000_000, payments: vec![payment], exclusive: true, ..Default::default() }
    }
    /// The end of a 10-working-day disclosure opened at day 0 (Monday 2026-09-21, 21:33 Beijing): the Mid-Autumn and
    /// National Day holidays do not count, the make-up Saturday 10-10 does, so it ends at 24:00 on Monday 10-12.
    fn ends() -> Timestamp {
        Timestamp::parse_rfc3339("2026-10-12T15:59:59.999999Z").unwrap()
    }
    fn after(t: Timestamp, micros: i64) -> Timestamp {
        Timestamp::from_unix_micros(t.unix_micros() + micros)
    }
    fn opened() -> ListingEvent {
        ListingEvent::Opened(pb::ListingOpened {
            listing_id: "l1".into(),
            result_id: "r1".into(),
            seller_org_id: "uni".into(),
            price_fen: 2_000_000,
            disclosure_ends: Some(ends().to_proto()),
            terms: Some(terms()),
            disclosure_working_days: 10,
        })
    }
    fn intent(org: &str) -> ListingEvent {
        ListingEvent::IntentRegistered(pb::IntentRegistered {
            buyer_org_id: org.into(),
            user_id: if org == "firm" { "zhaomin" } else { "u" }.into(),
        })
    }
    fn ended(outcome: &str, registrants: &[&str], session: &str) -> ListingEvent {
        ListingEvent::Ended(pb::ListingEnded {
            outcome: outcome.into(),
            registrants: registrants.iter().map(|r| (*r).to_owned()).collect(),
            session_id: session.into(),
            reason: String::new(),
        })
    }

    #[test]
    fn a_seller_lists_a_published_listed_route_result_for_a_period_in_working_days() {
        let open = |published, listed_route, working_days| ListingCommand::Open {
            id: "l1".into(),
            result_id: "r1".into(),
            holder: true,
            published,
            listed_route,
            modes: vec![1],
            terms: terms(),
            working_days,
        };
        sc(seller(), 0).given([]).when(open(true, true, 10)).then([opened()]);
        sc(seller(), 0).given([]).when(open(false, true, 10)).then_rejected(ListingRejection::NotPublished);
        sc(seller(), 0).given([]).when(open(true, false, 10)).then_rejected(ListingRejection::NotListedRoute);
        let bounds = ListingRejection::BadPeriod { min: 10, max: 60 };
        sc(seller(), 0).given([]).when(open(true, true, 9)).then_rejected(bounds.clone());
        sc(seller(), 0).given([]).when(open(true, true, 61)).then_rejected(bounds);
        // A period ending in a year without a schedule is refused naming the year, never guessed.
        let december = Timestamp::parse_rfc3339("2026-12-21T02:00:00Z").unwrap();
        Scenario::new(Listings)
            .at(december)
            .by(seller())
            .when(open(true, true, 10))
            .then_rejected(ListingRejection::NoSchedule(2027));
        let buyer = who("zhaomin", "firm", Role::EnterpriseMember);
        sc(buyer, 0).given([]).when(open(true, true, 10)).then_rejected(ListingRejection::NotTheSeller);
        // A technology manager of another organisation does not list someone else's result.
        let other = ListingCommand::Open {
            id: "l1".into(),
            result_id: "r1".into(),
            holder: false,
            published: true,
            listed_route: true,
            modes: vec![1],
            terms: terms(),
            working_days: 10,
        };
        sc(seller(), 0).given([]).when(other).then_rejected(ListingRejection::NotTheSeller);
    }

    #[test]
    fn the_auction_a_listed_sale_turns_into_has_rules_nobody_chooses_and_the_session_accepts() {
        use crate::session::{SessionCommand, Sessions};
        let now = Timestamp::from_unix_micros(NOW);
        let rules = crate::rules::current();
        // ¥1,234,567.89: an increment of 1 % on whole ¥100, a deposit of 10 %, registration a day, bidding a day more.
        let r = auction_rules(123_456_789, now, rules).unwrap();
        assert_eq!((r.start_price_fen, r.increment_fen, r.deposit_fen), (123_456_789, 1_230_000, 12_345_678));
        assert_eq!(r.registration_closes, Some(Timestamp::from_unix_micros(NOW + DAY).to_proto()));
        assert_eq!(r.bidding_closes, Some(Timestamp::from_unix_micros(NOW + 2 * DAY).to_proto()));
        // A small price still bids on at least one step.
        assert_eq!(auction_rules(500_000, now, rules).unwrap().increment_fen, rules.auction_increment_step_fen);
        // At every price a listing may have, the session decider opens the auction for the exchange.
        let system = who("system", "uni", Role::System);
        for price in [10, 99, 10_000, 123_456_789, rules.max_amount_fen - 1, rules.max_amount_fen] {
            let open = SessionCommand::Open {
                id: "l1-auction".into(),
                result_id: "r1".into(),
                rules: Box::new(auction_rules(price, now, rules).unwrap()),
                terms: Box::new(crate::terms::single_payment(2, 0, 10)),
                modes: vec![],
                listing_id: "l1".into(),
                invited: vec!["a".into(), "b".into()],
                holder: true,
                published: false,
                auction_route: false,
            };
            let ctx = Ctx::new(now, system.clone(), ttx_kernel::CommandId::parse("c").unwrap());
            let opened = Sessions.decide(&Default::default(), &open, &ctx);
            assert!(opened.is_ok(), "at {price} fen: {opened:?}");
        }
    }

    #[test]
    fn enterprises_register_during_the_period_once_each() {
        let firm = who("zhaomin", "firm", Role::EnterpriseMember);
        sc(firm.clone(), 1).given([opened()]).when(ListingCommand::RegisterIntent).then([intent("firm")]);
        sc(firm.clone(), 2)
            .given([opened(), intent("firm")])
            .when(ListingCommand::RegisterIntent)
            .then_rejected(ListingRejection::AlreadyRegistered);
        Scenario::new(Listings)
            .at(ends())
            .by(firm)
            .given([opened()])
            .when(ListingCommand::RegisterIntent)
            .then_rejected(ListingRejection::PeriodOver);
        let own = who("x", "uni", Role::EnterpriseMember);
        sc(own, 1).given([opened()]).when(ListingCommand::RegisterIntent).then_rejected(ListingRejection::NotABuyer);
    }

    #[test]
    fn the_end_sells_to_one_sends_several_to_auction_and_lapses_with_none() {
        let timer_at = |t: Timestamp| Scenario::new(Listings).at(t).by(timer());
        timer_at(after(ends(), -1))
            .given([opened()])
            .when(ListingCommand::End { on_sale: true })
            .then_rejected(ListingRejection::NotYet(ends()));
        timer_at(ends()).given([opened()]).when(ListingCommand::End { on_sale: true }).then([ended("lapsed", &[], "")]);
        timer_at(ends())
            .given([opened(), intent("a"), intent("b")])
            .when(ListingCommand::End { on_sale: true })
            .then([ended("to_auction", &["a", "b"], "l1-auction")]);
        let one = Listings.fold(&[opened(), intent("a")]);
        let ctx = ttx_kernel::Ctx::new(ends(), timer(), ttx_kernel::CommandId::parse("c").unwrap());
        let events = Listings.decide(&one, &ListingCommand::End { on_sale: true }, &ctx).unwrap();
        assert_eq!(events[0], ended("sold", &["a"], ""));
        let ListingEvent::Agreed(d) = &events[1] else { panic!("{events:?}") };
        assert_eq!((d.route.as_str(), d.price_fen, d.buyer_org_id.as_str()), ("listed", 2_000_000, "a"));
        let buyer = who("zhaomin", "firm", Role::EnterpriseMember);
        sc(buyer, 20)
            .given([opened()])
            .when(ListingCommand::End { on_sale: true })
            .then_rejected(ListingRejection::NotTheTimer);
    }

    #[test]
    fn a_sale_ended_by_the_timer_into_a_year_without_a_schedule_records_its_contract_deadline_as_pending() {
        let december = Timestamp::parse_rfc3339("2026-12-28T02:00:00Z").unwrap();
        let state = Scenario::new(Listings)
            .at(december)
            .by(timer())
            .given([opened(), intent("a")])
            .when(ListingCommand::End { on_sale: true })
            .result()
            .clone()
            .unwrap();
        let ListingEvent::Agreed(d) = &state[1] else { panic!("{state:?}") };
        assert_eq!((d.contract_due, d.pending_year, d.contract_due_basis.as_str()), (None, 2027, "pending_calendar"));
        let given = [opened(), intent("a"), state[0].clone(), state[1].clone()];
        // Still no schedule: the timer's attempt is refused and records nothing.
        Scenario::new(Listings)
            .at(december)
            .by(timer())
            .given(given.clone())
            .when(ListingCommand::FixDeadlines)
            .then_rejected(ListingRejection::NoSchedule(2027));
        // Once 2027 is loaded, the deadline is counted from the day of the agreement.
        let y2027 = ttx_kernel::calendar::Schedule::new(
            2027,
            [ttx_kernel::calendar::Date::new(2027, 1, 1).unwrap()],
            [],
            "a test schedule",
        )
        .unwrap();
        let loaded = ttx_kernel::calendar::Calendar::published().with(y2027);
        let fixed = Scenario::new(Listings)
            .at(after(december, 86_400_000_000 * 30))
            .by(timer())
            .with_calendar(loaded)
            .given(given)
            .when(ListingCommand::FixDeadlines)
            .then([ListingEvent::DeadlinesFixed(pb::DeadlinesFixed {
                // Monday 12-28 + 5 working days: 29, 30, 31, (1 January off), 4, 5 January.
                contract_due: Some(Timestamp::parse_rfc3339("2027-01-05T15:59:59.999999Z").unwrap().to_proto()),
                refunds_due_by: None,
            })]);
        let deal = fixed.deal.unwrap();
        assert_eq!((deal.pending_year, deal.contract_due_basis.as_str()), (0, "prc_calendar"));
    }

    #[test]
    fn a_sale_whose_result_is_gone_ends_cancelled_and_sells_nothing() {
        let cancelled = |reason: &str| {
            ListingEvent::Ended(pb::ListingEnded {
                outcome: "cancelled".into(),
                registrants: vec!["a".into()],
                session_id: String::new(),
                reason: reason.into(),
            })
        };
        sc(timer(), 20)
            .given([opened(), intent("a")])
            .when(ListingCommand::End { on_sale: false })
            .then([cancelled("the result is no longer for sale")]);
        let state = sc(timer(), 5)
            .given([opened(), intent("a")])
            .when(ListingCommand::Cancel { reason: "withdrawn".into() })
            .then([cancelled("withdrawn")]);
        assert_eq!(state.status, ListingStatus::Cancelled);
        sc(seller(), 5)
            .given([opened()])
            .when(ListingCommand::Cancel { reason: "x".into() })
            .then_rejected(ListingRejection::NotTheTimer);
    }

    #[test]
    fn a_lapsed_listing_is_relisted_by_its_seller() {
        let lapsed = || [opened(), ended("lapsed", &[], "")];
        let relist = ListingCommand::Relist { working_days: 10 };
        let relisted = ListingEvent::Relisted(pb::ListingRelisted {
            disclosure_ends: Some(ends().to_proto()),
            disclosure_working_days: 10,
        });
        let state = sc(seller(), 0).given(lapsed()).when(relist.clone()).then([relisted]);
        assert_eq!(state.status, ListingStatus::Open);
        sc(seller(), 10).given([opened()]).when(relist).then_rejected(ListingRejection::NotLapsed);
    }
}
