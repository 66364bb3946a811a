//! The bidding session (竞价), stream `negotiation-session-<id>`.
//!
//! Rules (DOMAIN.md, online bidding), each a rejection when broken:
//! - Bidders register before registration closes (only the invited ones when a listed-price sale opened the session;
//!   never the seller), and bid only once an administrator or a settlement integration has confirmed their deposit.
//! - Open sessions: the first bid is at least the start price, on the increment grid from it; every later bid beats
//!   the high by a whole number of increments; the high bidder does not bid against itself. Bids are accepted from
//!   `bidding_opens` until the session's end, which the anti-sniping rule moves: *extension* (a bid in the last N
//!   seconds moves the end to N seconds after it) or *period reset* (after the free window a period runs; each bid
//!   starts a new one; a period without a bid ends the session).
//! - The session closes by its timer, not by a clock reading inside a bid: `Close` at or after the end. The highest
//!   bid wins (ties cannot happen: each bid must beat the last); below a hidden reserve there is no sale.
//! - Sealed sessions: one commitment per bidder during the window; `Close` at the window's end records
//!   `BiddingClosed` and opens the reveal phase; a reveal must match its commitment; at the reveal deadline `Close`
//!   picks the winner from revealed bids only (ties: the earlier commitment), and every unrevealed commitment forfeits
//!   its deposit.
//! - A sale is `DealAgreed` with the contract due in 5 working days; every other confirmed deposit is due back. A
//!   winner who has not signed by the deadline defaults and forfeits the deposit, recorded by an administrator.

use std::collections::BTreeMap;

use ttx_kernel::{Ctx, Decider, Timestamp};
use ttx_proto::common::v1::Role;

use ttx_kernel::money::{self, MoneyError};

use crate::events::wire_events;
use crate::pb;
use crate::seal;
use crate::terms::{self, Pricing, TermsError};

/// How the end of an open session moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AntiSniping {
    /// A bid within the last `window` microseconds moves the end to `window` after the bid.
    Extension { window_us: i64 },
    /// After the free window, a period of `window` runs; each bid starts a new one.
    PeriodReset { window_us: i64 },
}

/// A session's rules, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub start_price_fen: i64,
    pub increment_fen: i64,
    pub deposit_fen: i64,
    pub registration_closes: Timestamp,
    pub bidding_opens: Timestamp,
    pub bidding_closes: Timestamp,
    pub anti_sniping: AntiSniping,
    pub reserve_fen: Option<i64>,
    pub sealed: bool,
    pub reveal_closes: Timestamp,
    pub version: String,
    /// Each bidder bids once (open sessions).
    pub one_shot: bool,
}

const SECOND_US: i64 = 1_000_000;

fn time(t: &Option<prost_types::Timestamp>) -> Option<Timestamp> {
    t.as_ref().map(Timestamp::from_proto)
}

impl Rules {
    /// Reads wire rules: a sane window, times in order, positive money. A new session's rules are further checked
    /// against the rules in force by [`Rules::check_money`]; stored ones are read as they were decided.
    pub fn from_pb(r: &pb::SessionRules) -> Result<Self, SessionRejection> {
        let bad = |why: &'static str| SessionRejection::BadRules(why);
        let window = r.window_seconds;
        if !(60..=3_600).contains(&window) {
            return Err(bad("the anti-sniping window is 60 to 3600 seconds"));
        }
        let anti_sniping = match r.anti_sniping.as_str() {
            "extension" => AntiSniping::Extension { window_us: window * SECOND_US },
            "period_reset" => AntiSniping::PeriodReset { window_us: window * SECOND_US },
            _ => return Err(bad("anti-sniping is extension or period_reset")),
        };
        let rules = Rules {
            start_price_fen: r.start_price_fen,
            increment_fen: r.increment_fen,
            deposit_fen: r.deposit_fen,
            registration_closes: time(&r.registration_closes).ok_or(bad("registration_closes is missing"))?,
            bidding_opens: time(&r.bidding_opens).ok_or(bad("bidding_opens is missing"))?,
            bidding_closes: time(&r.bidding_closes).ok_or(bad("bidding_closes is missing"))?,
            anti_sniping,
            reserve_fen: r.reserve_fen,
            sealed: r.sealed,
            reveal_closes: time(&r.reveal_closes).unwrap_or(Timestamp::from_unix_micros(0)),
            version: r.version.clone(),
            one_shot: r.one_shot,
        };
        if rules.start_price_fen <= 0 || rules.increment_fen <= 0 || rules.deposit_fen < 0 {
            return Err(bad("the start price and the increment are positive, the deposit is not negative"));
        }
        if rules.reserve_fen.is_some_and(|r| r < rules.start_price_fen) {
            return Err(bad("a reserve is at least the start price"));
        }
        if rules.bidding_opens >= rules.bidding_closes || rules.registration_closes > rules.bidding_closes {
            return Err(bad("bidding opens before it closes, and registration closes by then"));
        }
        if rules.sealed && rules.reveal_closes <= rules.bidding_closes {
            return Err(bad("a sealed session's reveals close after its bidding"));
        }
        Ok(rules)
    }

    /// Money within the rules in force: every amount 1 fen to the ceiling, the deposit within its share of the start
    /// price (5–20 % by default), a reserve at least the start price.
    pub fn check_money(&self, rules: &crate::rules::Rules) -> Result<(), SessionRejection> {
        let max = rules.max_amount_fen;
        money::amount("rules.start_price_fen", self.start_price_fen, max)?;
        money::amount("rules.increment_fen", self.increment_fen, max)?;
        money::amount("rules.deposit_fen", self.deposit_fen, max)?;
        if let Some(reserve) = self.reserve_fen {
            money::amount("rules.reserve_fen", reserve, max)?;
        }
        // The share's bounds, the lower rounded up and the upper down (in i128, where the product of an amount and
        // basis points cannot wrap): a start price too small for any whole-fen deposit in range has none.
        let start = i128::from(self.start_price_fen);
        let whole = i128::from(money::WHOLE_BP);
        let min = ((start * i128::from(rules.deposit_min_bp) + whole - 1) / whole).max(1);
        let max = start * i128::from(rules.deposit_max_bp) / whole;
        if !(min..=max).contains(&i128::from(self.deposit_fen)) {
            let fen = |x: i128| i64::try_from(x).unwrap_or(i64::MAX);
            return Err(SessionRejection::DepositOutOfRange { min: fen(min), max: fen(max) });
        }
        Ok(())
    }

    pub fn to_pb(&self) -> pb::SessionRules {
        let (name, window_us) = match self.anti_sniping {
            AntiSniping::Extension { window_us } => ("extension", window_us),
            AntiSniping::PeriodReset { window_us } => ("period_reset", window_us),
        };
        pb::SessionRules {
            start_price_fen: self.start_price_fen,
            increment_fen: self.increment_fen,
            deposit_fen: self.deposit_fen,
            registration_closes: Some(self.registration_closes.to_proto()),
            bidding_opens: Some(self.bidding_opens.to_proto()),
            bidding_closes: Some(self.bidding_closes.to_proto()),
            anti_sniping: name.into(),
            window_seconds: window_us / SECOND_US,
            reserve_fen: self.reserve_fen,
            sealed: self.sealed,
            one_shot: self.one_shot,
            reveal_closes: self.sealed.then(|| self.reveal_closes.to_proto()),
            version: self.version.clone(),
        }
    }

    /// Where an open session ends before any bid.
    fn first_end(&self) -> Timestamp {
        match self.anti_sniping {
            AntiSniping::Extension { .. } => self.bidding_closes,
            AntiSniping::PeriodReset { window_us } => {
                Timestamp::from_unix_micros(self.bidding_closes.unix_micros().saturating_add(window_us))
            }
        }
    }

    /// Where the session ends after a bid at `now`, given the end before it.
    fn end_after_bid(&self, now: Timestamp, ends_at: Timestamp) -> Timestamp {
        match self.anti_sniping {
            AntiSniping::Extension { window_us }
                if ends_at.unix_micros().saturating_sub(now.unix_micros()) <= window_us =>
            {
                Timestamp::from_unix_micros(now.unix_micros().saturating_add(window_us))
            }
            AntiSniping::PeriodReset { window_us } if now >= self.bidding_closes => {
                Timestamp::from_unix_micros(now.unix_micros().saturating_add(window_us))
            }
            _ => ends_at,
        }
    }
}

wire_events!(SessionEvent {
    Opened(SessionOpened),
    Registered(BidderRegistered),
    DepositConfirmed(DepositConfirmed),
    DepositRefunded(DepositRefunded),
    DepositForfeited(DepositForfeited),
    BidPlaced(BidPlaced),
    BidCommitted(BidCommitted),
    BiddingClosed(BiddingClosed),
    BidRevealed(BidRevealed),
    Closed(SessionClosed),
    DealAgreed(DealAgreed),
    WinnerDefaulted(WinnerDefaulted),
    WinnerSigned(WinnerSigned),
    Cancelled(SessionCancelled),
    DeadlinesFixed(DeadlinesFixed),
});

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    #[default]
    None,
    /// Registration and bidding (or committing), as the clock allows.
    Open,
    /// Sealed: commitments closed, reveals accepted.
    Revealing,
    Closed,
    /// The winner defaulted after the close.
    Defaulted,
    /// The seller withdrew the result: every deposit is due back, none forfeited.
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deposit {
    Unpaid,
    Confirmed,
    Refunded,
    Forfeited,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bidder {
    /// Its place in the order of registration (1 for the first): other bidders see it as "竞买人 <n>".
    pub number: u32,
    pub user_id: String,
    pub deposit: Deposit,
    /// The deposit confirmed, in fen (0 until confirmed).
    pub deposit_fen: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bid {
    pub seq: u32,
    pub bidder: String,
    pub amount_fen: i64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionState {
    pub id: String,
    pub result_id: String,
    pub seller_org_id: String,
    /// The listed-price sale that opened it, if any.
    pub listing_id: String,
    pub invited: Vec<String>,
    pub rules: Option<Rules>,
    /// What the session sells, with the schedule as shares of the final price (none in older sessions).
    pub terms: Option<pb::TermSheet>,
    pub phase: Phase,
    pub bidders: BTreeMap<String, Bidder>,
    pub bids: Vec<Bid>,
    /// How many bids each bidder placed.
    pub bids_by: BTreeMap<String, usize>,
    pub ends_at: Option<Timestamp>,
    /// Sealed: bidder → (commitment, order of commitment).
    pub commitments: BTreeMap<String, ([u8; 32], u32)>,
    pub reveals: BTreeMap<String, i64>,
    pub winner: Option<(String, i64)>,
    pub refunds_due: Vec<String>,
    /// The deposits due back are due by then.
    pub refunds_due_by: Option<Timestamp>,
    /// The cancellation, if the exchange cancelled the session.
    pub cancellation: Option<pb::SessionCancelled>,
    pub outcome: Option<pb::SessionClosed>,
    pub deal: Option<pb::DealAgreed>,
    /// The winner's contract is due by then.
    pub contract_due: Option<Timestamp>,
    /// The signed contract's reference, once the winner signed.
    pub signed: Option<String>,
}

/// A deadline recorded as pending: what it is, the instant it counts from, the working days it runs and the year whose
/// schedule it waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    pub what: &'static str,
    pub from: Timestamp,
    pub working_days: u32,
    pub year: i32,
}

impl SessionState {
    /// The deadlines in force that wait for their year's schedule: the refunds' (of the cancellation if cancelled,
    /// else of the close) and the winner's contract (unless the session was cancelled, which voids the deal).
    pub fn pending(&self) -> Vec<Pending> {
        let refund_days =
            |recorded: u32| if recorded == 0 { crate::rules::current().refund_working_days } else { recorded };
        let refunds = match (&self.cancellation, &self.outcome) {
            (Some(c), _) if c.pending_year != 0 => Some(Pending {
                what: "refunds",
                from: time(&c.cancelled_at).unwrap_or_default(),
                working_days: refund_days(c.refund_working_days),
                year: c.pending_year,
            }),
            (None, Some(o)) if o.pending_year != 0 => Some(Pending {
                what: "refunds",
                from: time(&o.closed_at).unwrap_or_default(),
                working_days: refund_days(o.refund_working_days),
                year: o.pending_year,
            }),
            _ => None,
        };
        let contract =
            self.deal.as_ref().filter(|d| d.pending_year != 0 && self.phase != Phase::Cancelled).map(|d| Pending {
                what: "contract",
                from: time(&d.agreed_at).unwrap_or_default(),
                working_days: crate::deadline::CONTRACT_WORKING_DAYS,
                year: d.pending_year,
            });
        refunds.into_iter().chain(contract).collect()
    }

    /// The year a pending contract deadline waits for, if it does.
    fn contract_pending(&self) -> Option<i32> {
        self.pending().iter().find(|p| p.what == "contract").map(|p| p.year)
    }

    /// The highest accepted bid of an open session.
    pub fn high(&self) -> Option<&Bid> {
        self.bids.last()
    }

    /// Deposits due back and not refunded by their due date, as of `now`: (bidder, amount, due by).
    pub fn overdue_refunds(&self, now: Timestamp) -> Vec<(String, i64, Timestamp)> {
        let Some(due_by) = self.refunds_due_by.filter(|due| *due < now) else { return Vec::new() };
        self.refunds_due
            .iter()
            .filter_map(|b| self.bidders.get(b).map(|info| (b, info)))
            .filter(|(_, info)| info.deposit == Deposit::Confirmed)
            .map(|(b, info)| (b.clone(), info.deposit_fen, due_by))
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SessionCommand {
    Open {
        id: String,
        result_id: String,
        rules: Box<pb::SessionRules>,
        /// What is sold, the schedule by shares of the final price.
        terms: Box<pb::TermSheet>,
        /// The modes the result is offered in.
        modes: Vec<i32>,
        /// The listed-price sale it continues, when the exchange opens it for one that drew several registrants.
        listing_id: String,
        invited: Vec<String>,
        /// Negotiation's view of the result: the opener's organisation holds it, it is published, and it is priced by
        /// auction.
        holder: bool,
        published: bool,
        auction_route: bool,
    },
    Register,
    ConfirmDeposit {
        bidder: String,
        amount_fen: i64,
        reference: String,
    },
    RefundDeposit {
        bidder: String,
        reference: String,
    },
    Bid {
        amount_fen: i64,
        /// Whether the result is still this session's to sell (negotiation's view of the market and of listings).
        on_sale: bool,
    },
    Commit {
        commitment: [u8; 32],
    },
    Reveal {
        amount_fen: i64,
        nonce: [u8; 32],
    },
    /// By the timer: ends the bidding (or the reveals) when their time has come; a result no longer on sale cancels
    /// the session instead.
    Close {
        on_sale: bool,
    },
    RecordDefault {
        reason: String,
        /// The seller withdrew the result: a winner is never in default for the seller's act.
        seller_withdrew: bool,
    },
    /// An administrator (or the contracts service) records that the winner signed.
    RecordSigned {
        reference: String,
    },
    /// By the timer, at the contract deadline: a winner who has not signed by then defaults (unless the seller
    /// withdrew the result).
    ContractDeadline {
        seller_withdrew: bool,
    },
    /// By the timer, once the year pending deadlines wait for has its schedule: they are counted.
    FixDeadlines,
    /// By the exchange, when the seller withdrew the result (or it was sold under another process): the session ends
    /// with every confirmed deposit due back, the winner's too, and none forfeited.
    Cancel {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum SessionRejection {
    #[error("the session exists already")]
    Exists,
    #[error("no such session")]
    NoSuchSession,
    #[error("invalid rules: {0}")]
    BadRules(&'static str),
    #[error("only a technology manager of the seller may open a session")]
    NotTheSeller,
    #[error("the result is not published")]
    NotPublished,
    #[error("the result is not priced by auction")]
    NotAuctionRoute,
    #[error("only an enterprise member may register or bid")]
    NotABuyer,
    #[error("the seller may not bid on its own result")]
    OwnResult,
    #[error("only an administrator (or the settlement integration) records deposits and defaults")]
    NotAnAdministrator,
    #[error("only the exchange's timer closes a session")]
    NotTheTimer,
    #[error("registration is closed")]
    RegistrationClosed,
    #[error("only the registrants of the listed-price sale may register")]
    NotInvited,
    #[error("already registered")]
    AlreadyRegistered,
    #[error("not registered for this session")]
    NotRegistered,
    #[error("the deposit is not confirmed")]
    NoDeposit,
    #[error("the deposit of this session is {0} fen exactly")]
    WrongDeposit(i64),
    #[error("the deposit is {min} to {max} fen under the rules in force (a share of the start price)")]
    DepositOutOfRange { min: i64, max: i64 },
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error(transparent)]
    Terms(#[from] TermsError),
    #[error("the deposit is already {0:?}")]
    DepositSettled(Deposit),
    #[error("bidding has not opened yet")]
    NotOpenYet,
    #[error("bidding is closed")]
    BiddingClosed,
    #[error("a first bid is at least the start price, {0} fen")]
    BelowStart(i64),
    #[error("a bid must beat the high of {high} fen by a whole number of increments of {increment} fen")]
    NotOnIncrement { high: i64, increment: i64 },
    #[error("you hold the highest bid already")]
    AlreadyHighest,
    #[error("this session takes sealed bids")]
    Sealed,
    #[error("this session takes open bids")]
    NotSealed,
    #[error("one commitment per bidder")]
    AlreadyCommitted,
    #[error("the reveal phase is not open")]
    NotRevealing,
    #[error("no commitment to reveal")]
    NothingToReveal,
    #[error("already revealed")]
    AlreadyRevealed,
    #[error("the amount and nonce do not match the commitment")]
    RevealMismatch,
    #[error("not yet: the session ends at {0}")]
    NotYet(Timestamp),
    #[error("the session is closed")]
    Closed,
    #[error("there is no winner to default")]
    NoWinner,
    #[error("the winner has until {0} to sign")]
    ContractNotDue(Timestamp),
    #[error("the winner signed the contract already")]
    AlreadySigned,
    #[error("this session is one-shot: one bid per bidder")]
    OneBidEach,
    #[error("a refund is due only after the close, and never to the winner or a forfeited deposit")]
    NoRefundDue,
    #[error("the result is no longer for sale in this session")]
    NotOnSale,
    #[error("the seller withdrew the result; the session is cancelled, not the winner in default")]
    SellerWithdrew,
    #[error("only the exchange cancels a session")]
    NotTheSystem,
    #[error("the deadline falls in {0}, for which no public-holiday schedule is loaded yet; an administrator loads it")]
    DeadlinePending(i32),
    #[error("a bidder places at most {0} bids in a session")]
    TooManyBids(usize),
}

impl ttx_kernel::decider::Refusal for SessionRejection {
    fn code(&self) -> ttx_proto::common::v1::ErrorCode {
        use ttx_proto::common::v1::ErrorCode as C;
        match self {
            Self::Terms(_) | Self::Money(_) | Self::DepositOutOfRange { .. } | Self::WrongDeposit(_) => C::InvalidInput,
            Self::TooManyBids(_) => C::TooMany,
            Self::NotTheSeller
            | Self::NotABuyer
            | Self::NotAnAdministrator
            | Self::NotTheTimer
            | Self::NotInvited
            | Self::NotTheSystem => C::Forbidden,
            Self::NoSuchSession | Self::NotRegistered => C::NotFound,
            Self::Exists
            | Self::AlreadyRegistered
            | Self::AlreadyCommitted
            | Self::AlreadyRevealed
            | Self::AlreadySigned => C::Conflict,
            _ => C::Rejected,
        }
    }

    fn field(&self) -> Option<String> {
        match self {
            Self::Terms(e) => Some(e.field().to_owned()),
            Self::Money(e) => Some(e.field().to_owned()),
            Self::DepositOutOfRange { .. } => Some("rules.deposit_fen".into()),
            Self::WrongDeposit(_) => Some("amount_fen".into()),
            _ => None,
        }
    }

    fn reason(&self) -> &'static str {
        self.into()
    }
}

/// The bidding-session decider.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sessions;

fn is_admin(ctx: &Ctx) -> bool {
    ctx.actor.has_role(Role::Admin) || ctx.actor.has_role(Role::System)
}

/// The deal of a sold session: the declared terms at the final price (the schedule split by its shares), the winner's
/// deposit credited toward the price.
fn deal(state: &SessionState, winner: &str, price: i64, ctx: &Ctx) -> Result<pb::DealAgreed, MoneyError> {
    let declared = state.terms.clone().unwrap_or_default();
    let mut d = crate::deadline::deal_agreed(
        &state.id,
        &state.result_id,
        &state.seller_org_id,
        winner,
        "auction",
        terms::at_price(&declared, price)?,
        ctx,
    );
    d.deposit_credited_fen =
        state.bidders.get(winner).filter(|b| b.deposit == Deposit::Confirmed).map_or(0, |b| b.deposit_fen.min(price));
    Ok(d)
}

/// The outcome of a close: the winner if any, the reason if not, every deposit due back and by when, the forfeits.
fn settle(
    state: &SessionState,
    rules: &Rules,
    best: Option<(String, i64)>,
    forfeited: &[String],
    ctx: &Ctx,
) -> Result<Vec<SessionEvent>, SessionRejection> {
    let now = ctx.now;
    let mut events: Vec<SessionEvent> = forfeited
        .iter()
        .map(|b| {
            SessionEvent::DepositForfeited(pb::DepositForfeited {
                bidder_org_id: b.clone(),
                reason: "unrevealed".into(),
            })
        })
        .collect();
    let sold = best.filter(|(_, p)| rules.reserve_fen.is_none_or(|r| *p >= r));
    let reason = match (&sold, state.bids.is_empty() && state.reveals.is_empty()) {
        (Some(_), _) => "",
        (None, true) => "no_bids",
        (None, false) => "reserve_not_met",
    };
    let refunds_due: Vec<String> = state
        .bidders
        .iter()
        .filter(|(b, info)| info.deposit == Deposit::Confirmed && !forfeited.contains(b))
        .filter(|(b, _)| sold.as_ref().is_none_or(|(w, _)| w != *b))
        .map(|(b, _)| b.clone())
        .collect();
    let refund_days = crate::rules::of(&ctx.rule_version).refund_working_days;
    // Decided by the timer: a deadline in a year without a schedule is recorded as pending, never guessed.
    let refunds_due_by = crate::deadline::working_days_after(&ctx.calendar, now, refund_days);
    events.push(SessionEvent::Closed(pb::SessionClosed {
        sold: sold.is_some(),
        winner_org_id: sold.as_ref().map(|(w, _)| w.clone()).unwrap_or_default(),
        price_fen: sold.as_ref().map_or(0, |(_, p)| *p),
        reason: reason.into(),
        refunds_due,
        refunds_due_by: refunds_due_by.as_ref().ok().map(|t| t.to_proto()),
        closed_at: Some(now.to_proto()),
        pending_year: refunds_due_by.err().map_or(0, |e| e.0),
        refund_working_days: refund_days,
    }));
    if let Some((winner, price)) = sold {
        events.push(SessionEvent::DealAgreed(deal(state, &winner, price, ctx)?));
    }
    Ok(events)
}

impl Decider for Sessions {
    type State = SessionState;
    type Command = SessionCommand;
    type Event = SessionEvent;
    type Rejection = SessionRejection;

    fn decide(
        &self,
        s: &SessionState,
        command: &SessionCommand,
        ctx: &Ctx,
    ) -> Result<Vec<SessionEvent>, SessionRejection> {
        use SessionRejection as R;
        let now = ctx.now;
        let actor = &ctx.actor;
        let in_force = crate::rules::of(&ctx.rule_version);
        if let SessionCommand::Open {
            id,
            result_id,
            rules,
            terms: declared,
            modes,
            listing_id,
            invited,
            holder,
            published,
            auction_route,
        } = command
        {
            if s.phase != Phase::None {
                return Err(R::Exists);
            }
            // A technology manager of the holder opens a session on its published result priced by auction. The
            // exchange opens one for a listed-price sale that drew several registrants: that sale was checked when it
            // opened, and the session continuing it is cancelled like any sale if the result is withdrawn since.
            let for_listing = actor.has_role(Role::System) && !listing_id.is_empty();
            if !for_listing {
                if !actor.has_role(Role::TechManager) || !holder {
                    return Err(R::NotTheSeller);
                }
                if !published {
                    return Err(R::NotPublished);
                }
                if !auction_route {
                    return Err(R::NotAuctionRoute);
                }
            }
            let mut checked = Rules::from_pb(rules)?;
            if checked.bidding_closes <= now {
                return Err(R::BadRules("bidding must close in the future"));
            }
            checked.check_money(in_force)?;
            // The rules' version is the one in force, never the caller's.
            checked.version = in_force.version.to_owned();
            let declared = terms::check("terms.", declared, Pricing::ByShares, modes, in_force)?;
            // Every payment is at least a fen at the lowest price the session can end at.
            for (i, p) in declared.payments.iter().enumerate() {
                if money::share_of("terms.payments", checked.start_price_fen, p.share_bp)? < 1 {
                    return Err(TermsError::Invalid {
                        field: format!("terms.payments[{i}].share_bp"),
                        reason: "the share is less than a fen of the start price",
                    }
                    .into());
                }
            }
            return Ok(vec![SessionEvent::Opened(pb::SessionOpened {
                session_id: id.clone(),
                result_id: result_id.clone(),
                seller_org_id: actor.org_id.clone(),
                rules: Some(checked.to_pb()),
                listing_id: listing_id.clone(),
                invited_org_ids: invited.clone(),
                terms: Some(declared),
            })]);
        }
        let Some(rules) = &s.rules else { return Err(R::NoSuchSession) };
        let org = actor.org_id.clone();
        match command {
            SessionCommand::Open { .. } => Err(R::Exists),
            SessionCommand::Register => {
                if s.phase != Phase::Open || now >= rules.registration_closes {
                    return Err(R::RegistrationClosed);
                }
                if !actor.has_role(Role::EnterpriseMember) {
                    return Err(R::NotABuyer);
                }
                if org == s.seller_org_id {
                    return Err(R::OwnResult);
                }
                if !s.invited.is_empty() && !s.invited.contains(&org) {
                    return Err(R::NotInvited);
                }
                if s.bidders.contains_key(&org) {
                    return Err(R::AlreadyRegistered);
                }
                Ok(vec![SessionEvent::Registered(pb::BidderRegistered {
                    bidder_org_id: org,
                    user_id: actor.user_id.clone(),
                })])
            }
            SessionCommand::ConfirmDeposit { bidder, amount_fen, reference } => {
                if !is_admin(ctx) {
                    return Err(R::NotAnAdministrator);
                }
                let b = s.bidders.get(bidder).ok_or(R::NotRegistered)?;
                if b.deposit != Deposit::Unpaid {
                    return Err(R::DepositSettled(b.deposit));
                }
                if s.phase != Phase::Open {
                    return Err(R::Closed);
                }
                money::amount("amount_fen", *amount_fen, in_force.max_amount_fen)?;
                if rules.deposit_fen > 0 && *amount_fen != rules.deposit_fen {
                    return Err(R::WrongDeposit(rules.deposit_fen));
                }
                Ok(vec![SessionEvent::DepositConfirmed(pb::DepositConfirmed {
                    bidder_org_id: bidder.clone(),
                    amount_fen: *amount_fen,
                    reference: reference.clone(),
                })])
            }
            SessionCommand::RefundDeposit { bidder, reference } => {
                if !is_admin(ctx) {
                    return Err(R::NotAnAdministrator);
                }
                if !matches!(s.phase, Phase::Closed | Phase::Defaulted | Phase::Cancelled)
                    || !s.refunds_due.contains(bidder)
                {
                    return Err(R::NoRefundDue);
                }
                match s.bidders.get(bidder).map(|b| b.deposit) {
                    Some(Deposit::Confirmed) => Ok(vec![SessionEvent::DepositRefunded(pb::DepositRefunded {
                        bidder_org_id: bidder.clone(),
                        reference: reference.clone(),
                    })]),
                    Some(d) => Err(R::DepositSettled(d)),
                    None => Err(R::NotRegistered),
                }
            }
            SessionCommand::Bid { amount_fen, on_sale } => {
                if rules.sealed {
                    return Err(R::Sealed);
                }
                if !on_sale && s.phase == Phase::Open {
                    return Err(R::NotOnSale);
                }
                money::amount("amount_fen", *amount_fen, in_force.max_amount_fen)?;
                let bidder = s.bidders.get(&org).ok_or(R::NotRegistered)?;
                if !actor.has_role(Role::EnterpriseMember) {
                    return Err(R::NotABuyer);
                }
                if s.phase != Phase::Open {
                    return Err(R::BiddingClosed);
                }
                if now < rules.bidding_opens {
                    return Err(R::NotOpenYet);
                }
                let ends_at = s.ends_at.unwrap_or(rules.bidding_closes);
                if now >= ends_at {
                    return Err(R::BiddingClosed);
                }
                if bidder.deposit != Deposit::Confirmed {
                    return Err(R::NoDeposit);
                }
                if rules.one_shot && s.bids.iter().any(|b| b.bidder == org) {
                    return Err(R::OneBidEach);
                }
                // No bidder floods a session's record.
                if s.bids_by.get(&org).copied().unwrap_or(0) >= in_force.max_bids_per_bidder {
                    return Err(R::TooManyBids(in_force.max_bids_per_bidder));
                }
                match s.high() {
                    None => {
                        if *amount_fen < rules.start_price_fen {
                            return Err(R::BelowStart(rules.start_price_fen));
                        }
                        let above = money::sub("amount_fen", *amount_fen, rules.start_price_fen)?;
                        if above.checked_rem(rules.increment_fen) != Some(0) {
                            return Err(R::NotOnIncrement {
                                high: rules.start_price_fen,
                                increment: rules.increment_fen,
                            });
                        }
                    }
                    Some(high) => {
                        if high.bidder == org {
                            return Err(R::AlreadyHighest);
                        }
                        let above = money::sub("amount_fen", *amount_fen, high.amount_fen)?;
                        if above <= 0 || above.checked_rem(rules.increment_fen) != Some(0) {
                            return Err(R::NotOnIncrement { high: high.amount_fen, increment: rules.increment_fen });
                        }
                    }
                }
                let seq = u32::try_from(s.bids.len()).ok().and_then(|n| n.checked_add(1)).ok_or(R::BiddingClosed)?;
                Ok(vec![SessionEvent::BidPlaced(pb::BidPlaced {
                    seq,
                    bidder_org_id: org,
                    user_id: actor.user_id.clone(),
                    amount_fen: *amount_fen,
                    ends_at: Some(rules.end_after_bid(now, ends_at).to_proto()),
                })])
            }
            SessionCommand::Commit { commitment } => {
                if !rules.sealed {
                    return Err(R::NotSealed);
                }
                let bidder = s.bidders.get(&org).ok_or(R::NotRegistered)?;
                if s.phase != Phase::Open || now >= rules.bidding_closes {
                    return Err(R::BiddingClosed);
                }
                if now < rules.bidding_opens {
                    return Err(R::NotOpenYet);
                }
                if bidder.deposit != Deposit::Confirmed {
                    return Err(R::NoDeposit);
                }
                if s.commitments.contains_key(&org) {
                    return Err(R::AlreadyCommitted);
                }
                Ok(vec![SessionEvent::BidCommitted(pb::BidCommitted {
                    bidder_org_id: org,
                    user_id: actor.user_id.clone(),
                    commitment: hex::encode(commitment),
                })])
            }
            SessionCommand::Reveal { amount_fen, nonce } => {
                if s.phase != Phase::Revealing || now >= rules.reveal_closes {
                    return Err(R::NotRevealing);
                }
                money::amount("amount_fen", *amount_fen, in_force.max_amount_fen)?;
                let (committed, _) = s.commitments.get(&org).ok_or(R::NothingToReveal)?;
                if s.reveals.contains_key(&org) {
                    return Err(R::AlreadyRevealed);
                }
                if seal::commitment(&s.id, &org, *amount_fen, nonce) != *committed {
                    return Err(R::RevealMismatch);
                }
                if *amount_fen < rules.start_price_fen {
                    return Err(R::BelowStart(rules.start_price_fen));
                }
                Ok(vec![SessionEvent::BidRevealed(pb::BidRevealed { bidder_org_id: org, amount_fen: *amount_fen })])
            }
            SessionCommand::Close { on_sale } => {
                if !is_admin(ctx) {
                    return Err(R::NotTheTimer);
                }
                if !on_sale && matches!(s.phase, Phase::Open | Phase::Revealing) {
                    return cancel(s, "the result is no longer for sale", ctx);
                }
                match s.phase {
                    Phase::Open if rules.sealed => {
                        if now < rules.bidding_closes {
                            return Err(R::NotYet(rules.bidding_closes));
                        }
                        Ok(vec![SessionEvent::BiddingClosed(pb::BiddingClosed {
                            reveal_closes: Some(rules.reveal_closes.to_proto()),
                        })])
                    }
                    Phase::Open => {
                        let ends_at = s.ends_at.unwrap_or(rules.bidding_closes);
                        if now < ends_at {
                            return Err(R::NotYet(ends_at));
                        }
                        let best = s.high().map(|b| (b.bidder.clone(), b.amount_fen));
                        settle(s, rules, best, &[], ctx)
                    }
                    Phase::Revealing => {
                        if now < rules.reveal_closes {
                            return Err(R::NotYet(rules.reveal_closes));
                        }
                        // Highest revealed amount; ties go to the earlier commitment.
                        let best = s
                            .reveals
                            .iter()
                            .map(|(b, amount)| (b.clone(), *amount, s.commitments.get(b).map_or(u32::MAX, |c| c.1)))
                            .max_by(|a, b| a.1.cmp(&b.1).then(b.2.cmp(&a.2)))
                            .map(|(b, amount, _)| (b, amount));
                        let unrevealed: Vec<String> =
                            s.commitments.keys().filter(|b| !s.reveals.contains_key(*b)).cloned().collect();
                        settle(s, rules, best, &unrevealed, ctx)
                    }
                    Phase::Closed | Phase::Defaulted | Phase::Cancelled | Phase::None => Err(R::Closed),
                }
            }
            SessionCommand::RecordDefault { reason, seller_withdrew } => {
                if !is_admin(ctx) {
                    return Err(R::NotAnAdministrator);
                }
                if *seller_withdrew {
                    return Err(R::SellerWithdrew);
                }
                let (winner, _) = s.winner.as_ref().filter(|_| s.phase == Phase::Closed).ok_or(R::NoWinner)?;
                if s.signed.is_some() {
                    return Err(R::AlreadySigned);
                }
                if let Some(year) = s.contract_pending() {
                    return Err(R::DeadlinePending(year));
                }
                if let Some(due) = s.contract_due.filter(|due| now <= *due) {
                    return Err(R::ContractNotDue(due));
                }
                Ok(default(&s.id, winner, reason.clone()))
            }
            SessionCommand::RecordSigned { reference } => {
                if !is_admin(ctx) {
                    return Err(R::NotAnAdministrator);
                }
                let (winner, _) = s.winner.as_ref().filter(|_| s.phase == Phase::Closed).ok_or(R::NoWinner)?;
                if s.signed.is_some() {
                    return Err(R::AlreadySigned);
                }
                Ok(vec![SessionEvent::WinnerSigned(pb::WinnerSigned {
                    winner_org_id: winner.clone(),
                    reference: reference.clone(),
                })])
            }
            SessionCommand::ContractDeadline { seller_withdrew } => {
                if !is_admin(ctx) {
                    return Err(R::NotTheTimer);
                }
                // Signed in time, already defaulted or cancelled, or the seller withdrew (the cancellation follows):
                // the deadline passes with nothing to record.
                if s.signed.is_some() || matches!(s.phase, Phase::Defaulted | Phase::Cancelled) || *seller_withdrew {
                    return Ok(Vec::new());
                }
                let (winner, _) = s.winner.as_ref().filter(|_| s.phase == Phase::Closed).ok_or(R::NoWinner)?;
                if let Some(year) = s.contract_pending() {
                    return Err(R::DeadlinePending(year));
                }
                let due = s.contract_due.ok_or(R::NoWinner)?;
                if now <= due {
                    return Err(R::ContractNotDue(due));
                }
                Ok(default(&s.id, winner, format!("the contract was not signed by its deadline, {due}")))
            }
            SessionCommand::FixDeadlines => {
                if !ctx.actor.has_role(Role::System) {
                    return Err(R::NotTheSystem);
                }
                let pending = s.pending();
                if pending.is_empty() {
                    return Ok(Vec::new());
                }
                // Each counted from its own instant, over the days it was given when it was decided.
                let count = |what: &str| {
                    pending
                        .iter()
                        .find(|p| p.what == what)
                        .map(|p| crate::deadline::working_days_after(&ctx.calendar, p.from, p.working_days))
                        .transpose()
                        .map(|t| t.map(Timestamp::to_proto))
                        .map_err(|e| R::DeadlinePending(e.0))
                };
                Ok(vec![SessionEvent::DeadlinesFixed(pb::DeadlinesFixed {
                    contract_due: count("contract")?,
                    refunds_due_by: count("refunds")?,
                })])
            }
            SessionCommand::Cancel { reason } => {
                if !ctx.actor.has_role(Role::System) {
                    return Err(R::NotTheSystem);
                }
                match s.phase {
                    Phase::Open | Phase::Revealing => cancel(s, reason, ctx),
                    // Won but not signed: the deal falls through with the winner refunded.
                    Phase::Closed if s.winner.is_some() && s.signed.is_none() => cancel(s, reason, ctx),
                    _ => Ok(Vec::new()),
                }
            }
        }
    }

    /// Bids that arrive together are decided lowest first, so that each is measured against the lower ones rather
    /// than refused for arriving a moment after a higher one; equal amounts keep their arrival order (price, then
    /// time). Every other command goes before the bids it arrived with.
    fn simultaneous_order(&self, command: &SessionCommand) -> i64 {
        match command {
            SessionCommand::Bid { amount_fen, .. } => *amount_fen,
            _ => i64::MIN,
        }
    }

    fn evolve(&self, mut s: SessionState, event: &SessionEvent) -> SessionState {
        match event {
            SessionEvent::Opened(e) => {
                s.id = e.session_id.clone();
                s.result_id = e.result_id.clone();
                s.seller_org_id = e.seller_org_id.clone();
                s.invited = e.invited_org_ids.clone();
                s.listing_id = e.listing_id.clone();
                s.terms = e.terms.clone();
                s.rules = e.rules.as_ref().and_then(|r| Rules::from_pb(r).ok());
                s.ends_at = s.rules.as_ref().map(Rules::first_end);
                s.phase = Phase::Open;
            }
            SessionEvent::Registered(e) => {
                let number = u32::try_from(s.bidders.len()).unwrap_or(u32::MAX).saturating_add(1);
                let bidder = Bidder { number, user_id: e.user_id.clone(), deposit: Deposit::Unpaid, deposit_fen: 0 };
                s.bidders.entry(e.bidder_org_id.clone()).or_insert(bidder);
            }
            SessionEvent::DepositConfirmed(e) => {
                set_deposit(&mut s, &e.bidder_org_id, Deposit::Confirmed);
                if let Some(b) = s.bidders.get_mut(&e.bidder_org_id) {
                    b.deposit_fen = e.amount_fen;
                }
            }
            SessionEvent::DepositRefunded(e) => set_deposit(&mut s, &e.bidder_org_id, Deposit::Refunded),
            SessionEvent::DepositForfeited(e) => set_deposit(&mut s, &e.bidder_org_id, Deposit::Forfeited),
            SessionEvent::BidPlaced(e) => {
                s.bids.push(Bid { seq: e.seq, bidder: e.bidder_org_id.clone(), amount_fen: e.amount_fen });
                *s.bids_by.entry(e.bidder_org_id.clone()).or_default() += 1;
                s.ends_at = time(&e.ends_at).or(s.ends_at);
            }
            SessionEvent::BidCommitted(e) => {
                let order = s.commitments.len() as u32;
                if let Some(c) = seal::parse_hex32(&e.commitment) {
                    s.commitments.insert(e.bidder_org_id.clone(), (c, order));
                }
            }
            SessionEvent::BiddingClosed(_) => s.phase = Phase::Revealing,
            SessionEvent::BidRevealed(e) => {
                s.reveals.insert(e.bidder_org_id.clone(), e.amount_fen);
            }
            SessionEvent::Closed(e) => {
                s.phase = Phase::Closed;
                s.winner = e.sold.then(|| (e.winner_org_id.clone(), e.price_fen));
                s.refunds_due = e.refunds_due.clone();
                s.refunds_due_by = time(&e.refunds_due_by);
                s.outcome = Some(e.clone());
            }
            SessionEvent::DeadlinesFixed(f) => {
                if let Some(due) = time(&f.contract_due) {
                    s.contract_due = Some(due);
                    if let Some(d) = s.deal.as_mut() {
                        d.contract_due = f.contract_due;
                        d.contract_due_basis = crate::deadline::PRC_CALENDAR.into();
                        d.pending_year = 0;
                    }
                }
                if let Some(due) = time(&f.refunds_due_by) {
                    s.refunds_due_by = Some(due);
                    // The refunds in force: the cancellation's if there is one, else the close's.
                    if let Some(c) = s.cancellation.as_mut().filter(|c| c.pending_year != 0) {
                        c.refunds_due_by = f.refunds_due_by;
                        c.pending_year = 0;
                    } else if let Some(o) = s.outcome.as_mut().filter(|o| o.pending_year != 0) {
                        o.refunds_due_by = f.refunds_due_by;
                        o.pending_year = 0;
                    }
                }
            }
            SessionEvent::DealAgreed(d) => {
                s.contract_due = time(&d.contract_due);
                s.deal = Some(d.clone());
            }
            SessionEvent::WinnerDefaulted(_) => s.phase = Phase::Defaulted,
            SessionEvent::WinnerSigned(e) => s.signed = Some(e.reference.clone()),
            SessionEvent::Cancelled(e) => {
                s.cancellation = Some(e.clone());
                s.phase = Phase::Cancelled;
                s.refunds_due = e.refunds_due.clone();
                s.refunds_due_by = time(&e.refunds_due_by);
            }
        }
        s
    }
}

/// The cancellation of a session for the seller's act: every confirmed deposit (the winner's too) due back, none
/// forfeited.
fn cancel(s: &SessionState, reason: &str, ctx: &Ctx) -> Result<Vec<SessionEvent>, SessionRejection> {
    let refund_days = crate::rules::of(&ctx.rule_version).refund_working_days;
    let due_by = crate::deadline::working_days_after(&ctx.calendar, ctx.now, refund_days);
    let refunds_due =
        s.bidders.iter().filter(|(_, b)| b.deposit == Deposit::Confirmed).map(|(org, _)| org.clone()).collect();
    Ok(vec![SessionEvent::Cancelled(pb::SessionCancelled {
        reason: reason.to_owned(),
        refunds_due,
        refunds_due_by: due_by.as_ref().ok().map(|t| t.to_proto()),
        cancelled_at: Some(ctx.now.to_proto()),
        pending_year: due_by.err().map_or(0, |e| e.0),
        refund_working_days: refund_days,
    })])
}

/// A winner's default: recorded, and the deposit forfeited.
fn default(deal_id: &str, winner: &str, reason: String) -> Vec<SessionEvent> {
    vec![
        SessionEvent::WinnerDefaulted(pb::WinnerDefaulted {
            winner_org_id: winner.to_owned(),
            reason,
            deal_id: deal_id.to_owned(),
        }),
        SessionEvent::DepositForfeited(pb::DepositForfeited {
            bidder_org_id: winner.to_owned(),
            reason: "defaulted".into(),
        }),
    ]
}

fn set_deposit(s: &mut SessionState, bidder: &str, deposit: Deposit) {
    if let Some(b) = s.bidders.get_mut(bidder) {
        b.deposit = deposit;
    }
}
