//! The bidding session's rules, given/when/then, and properties over random bid sequences.

use proptest::prelude::*;
use ttx_kernel::calendar::Calendar;
use ttx_kernel::testing::Scenario;
use ttx_kernel::{CommandId, Ctx, Decider, Timestamp};
use ttx_negotiation::pb;
use ttx_negotiation::seal::commitment;
use ttx_negotiation::session::{
    Deposit, Phase, SessionCommand as C, SessionEvent as E, SessionRejection as R, SessionState, Sessions,
};
use ttx_proto::common::v1::{Actor, Role};

const T0: i64 = 1_790_000_000_000_000;
const MIN: i64 = 60_000_000;

fn at(minutes: i64) -> Timestamp {
    Timestamp::from_unix_micros(T0 + minutes * MIN)
}

fn who(user: &str, org: &str, role: Role) -> Actor {
    Actor { user_id: user.into(), org_id: org.into(), role: role.into(), roles: vec![role.into()] }
}

fn bidder(org: &str) -> Actor {
    who(&format!("{org}-user"), org, Role::EnterpriseMember)
}

fn admin() -> Actor {
    who("root", "exchange", Role::Admin)
}

fn timer() -> Actor {
    who("system", "", Role::System)
}

fn seller() -> Actor {
    who("zhangwei", "uni", Role::TechManager)
}

fn sc(by: Actor, minute: i64) -> Scenario<Sessions> {
    Scenario::new(Sessions).at(at(minute)).by(by)
}

/// Start 1,000,000 fen, increment 10,000, deposit 100,000; registration until minute 50; bidding from minute 0 to
/// minute 60; a 5-minute window.
fn rules(anti_sniping: &str, sealed: bool, reserve: Option<i64>) -> pb::SessionRules {
    pb::SessionRules {
        start_price_fen: 1_000_000,
        increment_fen: 10_000,
        deposit_fen: 100_000,
        registration_closes: Some(at(50).to_proto()),
        bidding_opens: Some(at(0).to_proto()),
        bidding_closes: Some(at(60).to_proto()),
        anti_sniping: anti_sniping.into(),
        window_seconds: 300,
        reserve_fen: reserve,
        sealed,
        reveal_closes: sealed.then(|| at(120).to_proto()),
        version: ttx_negotiation::rules::current().version.into(),
        one_shot: false,
    }
}

/// An exclusive licence, paid 30 % at signing and 70 % on acceptance, as shares of the final price.
fn declared() -> pb::TermSheet {
    let after =
        |event: &str, working_days| Some(pb::payment::When::After(pb::DueAfter { event: event.into(), working_days }));
    pb::TermSheet {
        mode: 2,
        price_fen: 0,
        payments: vec![
            pb::Payment { share_bp: 3_000, when: after("signing", 10), ..Default::default() },
            pb::Payment { share_bp: 7_000, when: after("acceptance", 20), ..Default::default() },
        ],
        territory: "中国大陆".into(),
        term_months: 60,
        field_of_use: "动力电池".into(),
        exclusive: true,
    }
}

/// The refunds of a close at minute 60 are due five working days later, at the end of that day in Beijing.
fn refunds_due_by() -> Option<prost_types::Timestamp> {
    Some(ttx_negotiation::deadline::working_days_after(&Calendar::published(), at(60), 5).unwrap().to_proto())
}

fn opened_with(r: pb::SessionRules, invited: &[&str]) -> E {
    E::Opened(pb::SessionOpened {
        session_id: "s1".into(),
        result_id: "r1".into(),
        seller_org_id: "uni".into(),
        rules: Some(r),
        listing_id: String::new(),
        invited_org_ids: invited.iter().map(|s| (*s).to_owned()).collect(),
        terms: Some(declared()),
    })
}

fn opened() -> E {
    opened_with(rules("extension", false, None), &[])
}

fn registered(org: &str) -> E {
    E::Registered(pb::BidderRegistered { bidder_org_id: org.into(), user_id: format!("{org}-user") })
}

fn deposit(org: &str) -> E {
    E::DepositConfirmed(pb::DepositConfirmed {
        bidder_org_id: org.into(),
        amount_fen: 100_000,
        reference: "bank".into(),
    })
}

fn bid(seq: u32, org: &str, amount: i64, ends_minute: i64) -> E {
    E::BidPlaced(pb::BidPlaced {
        seq,
        bidder_org_id: org.into(),
        user_id: format!("{org}-user"),
        amount_fen: amount,
        ends_at: Some(at(ends_minute).to_proto()),
    })
}

/// An open session with bidders a and b registered and paid.
fn ready() -> Vec<E> {
    vec![opened(), registered("a"), deposit("a"), registered("b"), deposit("b")]
}

fn ctx(by: Actor, minute: i64) -> Ctx {
    Ctx::new(at(minute), by, CommandId::parse("c").unwrap())
}

#[test]
fn the_seller_opens_a_session_with_valid_rules() {
    let open = |r: pb::SessionRules| C::Open {
        id: "s1".into(),
        result_id: "r1".into(),
        rules: Box::new(r),
        terms: Box::new(declared()),
        modes: vec![],
        listing_id: String::new(),
        invited: vec![],
        holder: true,
        published: true,
        auction_route: true,
    };
    sc(seller(), -10).given([]).when(open(rules("extension", false, None))).then([opened()]);
    let bad = pb::SessionRules { increment_fen: 0, ..rules("extension", false, None) };
    assert!(matches!(Sessions.decide(&SessionState::default(), &open(bad), &ctx(seller(), -10)), Err(R::BadRules(_))));
    let low_reserve = rules("extension", false, Some(1));
    assert!(matches!(
        Sessions.decide(&SessionState::default(), &open(low_reserve), &ctx(seller(), -10)),
        Err(R::BadRules(_))
    ));
    let no_window = pb::SessionRules { window_seconds: 5, ..rules("extension", false, None) };
    assert!(matches!(
        Sessions.decide(&SessionState::default(), &open(no_window), &ctx(seller(), -10)),
        Err(R::BadRules(_))
    ));
    sc(bidder("a"), -10).given([]).when(open(rules("extension", false, None))).then_rejected(R::NotTheSeller);
    // What negotiation knows of the result decides too: only its holder, only published, only priced by auction.
    let offered = |holder, published, auction_route| C::Open {
        id: "s1".into(),
        result_id: "r1".into(),
        rules: Box::new(rules("extension", false, None)),
        terms: Box::new(declared()),
        modes: vec![],
        listing_id: String::new(),
        invited: vec![],
        holder,
        published,
        auction_route,
    };
    sc(seller(), -10).given([]).when(offered(false, true, true)).then_rejected(R::NotTheSeller);
    sc(seller(), -10).given([]).when(offered(true, false, true)).then_rejected(R::NotPublished);
    sc(seller(), -10).given([]).when(offered(true, true, false)).then_rejected(R::NotAuctionRoute);
    // The exchange opens a session only to continue a listed-price sale.
    let system = who("system", "uni", Role::System);
    sc(system, -10).given([]).when(offered(true, true, true)).then_rejected(R::NotTheSeller);
}

#[test]
fn bidders_register_in_time_once_and_never_the_seller() {
    sc(bidder("a"), 10).given([opened()]).when(C::Register).then([registered("a")]);
    sc(bidder("a"), 50).given([opened()]).when(C::Register).then_rejected(R::RegistrationClosed);
    sc(bidder("a"), 10).given([opened(), registered("a")]).when(C::Register).then_rejected(R::AlreadyRegistered);
    sc(who("x", "uni", Role::EnterpriseMember), 10).given([opened()]).when(C::Register).then_rejected(R::OwnResult);
    sc(who("m", "inst", Role::TechManager), 10).given([opened()]).when(C::Register).then_rejected(R::NotABuyer);
    let invited = opened_with(rules("extension", false, None), &["a", "b"]);
    sc(bidder("c"), 10).given([invited.clone()]).when(C::Register).then_rejected(R::NotInvited);
    sc(bidder("a"), 10).given([invited]).when(C::Register).then([registered("a")]);
}

#[test]
fn deposits_are_recorded_by_an_administrator_and_must_cover_the_rules() {
    let confirm = |amount| C::ConfirmDeposit { bidder: "a".into(), amount_fen: amount, reference: "bank".into() };
    sc(admin(), 5).given([opened(), registered("a")]).when(confirm(100_000)).then([deposit("a")]);
    sc(admin(), 5).given([opened(), registered("a")]).when(confirm(99_999)).then_rejected(R::WrongDeposit(100_000));
    sc(bidder("a"), 5).given([opened(), registered("a")]).when(confirm(100_000)).then_rejected(R::NotAnAdministrator);
    sc(admin(), 5).given([opened()]).when(confirm(100_000)).then_rejected(R::NotRegistered);
    sc(admin(), 5)
        .given([opened(), registered("a"), deposit("a")])
        .when(confirm(100_000))
        .then_rejected(R::DepositSettled(Deposit::Confirmed));
}

#[test]
fn bids_start_at_the_start_price_and_climb_by_whole_increments() {
    sc(bidder("a"), 10)
        .given(ready())
        .when(C::Bid { amount_fen: 1_000_000, on_sale: true })
        .then([bid(1, "a", 1_000_000, 60)]);
    sc(bidder("a"), 10)
        .given(ready())
        .when(C::Bid { amount_fen: 990_000, on_sale: true })
        .then_rejected(R::BelowStart(1_000_000));
    sc(bidder("a"), 10)
        .given(ready())
        .when(C::Bid { amount_fen: 1_005_000, on_sale: true })
        .then_rejected(R::NotOnIncrement { high: 1_000_000, increment: 10_000 });
    let with_high = || [ready(), vec![bid(1, "a", 1_000_000, 60)]].concat();
    sc(bidder("b"), 11)
        .given(with_high())
        .when(C::Bid { amount_fen: 1_030_000, on_sale: true })
        .then([bid(2, "b", 1_030_000, 60)]);
    sc(bidder("b"), 11)
        .given(with_high())
        .when(C::Bid { amount_fen: 1_000_000, on_sale: true })
        .then_rejected(R::NotOnIncrement { high: 1_000_000, increment: 10_000 });
    sc(bidder("b"), 11)
        .given(with_high())
        .when(C::Bid { amount_fen: 1_015_000, on_sale: true })
        .then_rejected(R::NotOnIncrement { high: 1_000_000, increment: 10_000 });
    sc(bidder("a"), 11)
        .given(with_high())
        .when(C::Bid { amount_fen: 1_010_000, on_sale: true })
        .then_rejected(R::AlreadyHighest);
}

#[test]
fn only_paid_registered_bidders_bid_and_only_in_the_window() {
    let unpaid = [opened(), registered("a")];
    sc(bidder("a"), 10).given(unpaid).when(C::Bid { amount_fen: 1_000_000, on_sale: true }).then_rejected(R::NoDeposit);
    sc(bidder("c"), 10)
        .given(ready())
        .when(C::Bid { amount_fen: 1_000_000, on_sale: true })
        .then_rejected(R::NotRegistered);
    sc(bidder("a"), -1)
        .given(ready())
        .when(C::Bid { amount_fen: 1_000_000, on_sale: true })
        .then_rejected(R::NotOpenYet);
    sc(bidder("a"), 60)
        .given(ready())
        .when(C::Bid { amount_fen: 1_000_000, on_sale: true })
        .then_rejected(R::BiddingClosed);
    sc(bidder("a"), 10).given(ready()).when(C::Commit { commitment: [0; 32] }).then_rejected(R::NotSealed);
}

#[test]
fn a_bid_in_the_last_minutes_extends_the_end() {
    // The window is 5 minutes and bidding closes at 60: a bid at 56 moves the end to 61; one at 50 does not.
    sc(bidder("a"), 50)
        .given(ready())
        .when(C::Bid { amount_fen: 1_000_000, on_sale: true })
        .then([bid(1, "a", 1_000_000, 60)]);
    sc(bidder("a"), 56)
        .given(ready())
        .when(C::Bid { amount_fen: 1_000_000, on_sale: true })
        .then([bid(1, "a", 1_000_000, 61)]);
    // Extended, the session takes a bid at 60.5 and moves again.
    let extended = [ready(), vec![bid(1, "a", 1_000_000, 61)]].concat();
    let late = Timestamp::from_unix_micros(at(60).unix_micros() + 30_000_000);
    let events = Sessions
        .decide(
            &Sessions.fold(&extended),
            &C::Bid { amount_fen: 1_010_000, on_sale: true },
            &Ctx::new(late, bidder("b"), CommandId::parse("c").unwrap()),
        )
        .unwrap();
    let [E::BidPlaced(b)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(Timestamp::from_proto(b.ends_at.as_ref().unwrap()).unix_micros(), late.unix_micros() + 5 * MIN);
}

#[test]
fn with_period_reset_each_bid_after_the_free_window_starts_a_new_period() {
    let open = opened_with(rules("period_reset", false, None), &[]);
    let given = || vec![open.clone(), registered("a"), deposit("a"), registered("b"), deposit("b")];
    // In the free window the end stays at the free window's end plus one period.
    sc(bidder("a"), 30)
        .given(given())
        .when(C::Bid { amount_fen: 1_000_000, on_sale: true })
        .then([bid(1, "a", 1_000_000, 65)]);
    // After it, a bid starts a new period.
    sc(bidder("a"), 62)
        .given(given())
        .when(C::Bid { amount_fen: 1_000_000, on_sale: true })
        .then([bid(1, "a", 1_000_000, 67)]);
    // A period with no bid closes the session.
    let after = [given(), vec![bid(1, "a", 1_000_000, 67)]].concat();
    sc(timer(), 66).given(after.clone()).when(C::Close { on_sale: true }).then_rejected(R::NotYet(at(67)));
    let state = Sessions.fold(&after);
    let events = Sessions.decide(&state, &C::Close { on_sale: true }, &ctx(timer(), 67)).unwrap();
    assert!(matches!(&events[0], E::Closed(c) if c.sold && c.winner_org_id == "a" && c.price_fen == 1_000_000));
}

#[test]
fn the_timer_closes_with_the_high_bidder_as_winner_and_refunds_the_others() {
    let bids = [ready(), vec![bid(1, "a", 1_000_000, 60), bid(2, "b", 1_050_000, 60)]].concat();
    sc(timer(), 59).given(bids.clone()).when(C::Close { on_sale: true }).then_rejected(R::NotYet(at(60)));
    sc(bidder("a"), 60).given(bids.clone()).when(C::Close { on_sale: true }).then_rejected(R::NotTheTimer);
    let events = Sessions.decide(&Sessions.fold(&bids), &C::Close { on_sale: true }, &ctx(timer(), 60)).unwrap();
    let [E::Closed(closed), E::DealAgreed(deal)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!((closed.sold, closed.winner_org_id.as_str(), closed.price_fen), (true, "b", 1_050_000));
    assert_eq!(closed.refunds_due, vec!["a".to_owned()]);
    assert_eq!((deal.route.as_str(), deal.buyer_org_id.as_str(), deal.price_fen), ("auction", "b", 1_050_000));
    let due = Timestamp::from_proto(deal.contract_due.as_ref().unwrap());
    assert!(due.unix_micros() - at(60).unix_micros() >= 5 * 24 * 60 * MIN, "five working days at least: {due}");
    // Closed is closed; late bids and second closes are refused.
    let after = [bids, events.clone()].concat();
    sc(bidder("a"), 61)
        .given(after.clone())
        .when(C::Bid { amount_fen: 1_060_000, on_sale: true })
        .then_rejected(R::BiddingClosed);
    sc(timer(), 61).given(after).when(C::Close { on_sale: true }).then_rejected(R::Closed);
}

#[test]
fn below_a_hidden_reserve_or_without_bids_there_is_no_sale() {
    let reserved = opened_with(rules("extension", false, Some(2_000_000)), &[]);
    let given = vec![reserved, registered("a"), deposit("a"), bid(1, "a", 1_500_000, 60)];
    let closed = sc(timer(), 60).given(given).when(C::Close { on_sale: true }).then([E::Closed(pb::SessionClosed {
        sold: false,
        winner_org_id: String::new(),
        price_fen: 0,
        reason: "reserve_not_met".into(),
        refunds_due: vec!["a".into()],
        refunds_due_by: refunds_due_by(),
        closed_at: Some(at(60).to_proto()),
        pending_year: 0,
        refund_working_days: 5,
    })]);
    assert_eq!(closed.phase, Phase::Closed);
    sc(timer(), 60).given(ready()).when(C::Close { on_sale: true }).then([E::Closed(pb::SessionClosed {
        sold: false,
        winner_org_id: String::new(),
        price_fen: 0,
        reason: "no_bids".into(),
        refunds_due: vec!["a".into(), "b".into()],
        refunds_due_by: refunds_due_by(),
        closed_at: Some(at(60).to_proto()),
        pending_year: 0,
        refund_working_days: 5,
    })]);
}

#[test]
fn deposits_are_refunded_after_the_close_and_a_defaulting_winner_forfeits() {
    let bids = [ready(), vec![bid(1, "a", 1_000_000, 60), bid(2, "b", 1_010_000, 60)]].concat();
    let close = Sessions.decide(&Sessions.fold(&bids), &C::Close { on_sale: true }, &ctx(timer(), 60)).unwrap();
    let closed = [bids.clone(), close].concat();
    let refund = |b: &str| C::RefundDeposit { bidder: b.into(), reference: "bank-out".into() };
    sc(admin(), 61).given(bids).when(refund("a")).then_rejected(R::NoRefundDue);
    sc(admin(), 61)
        .given(closed.clone())
        .when(refund("a"))
        .then([E::DepositRefunded(pb::DepositRefunded { bidder_org_id: "a".into(), reference: "bank-out".into() })]);
    sc(admin(), 61).given(closed.clone()).when(refund("b")).then_rejected(R::NoRefundDue);
    let early = Sessions.decide(
        &Sessions.fold(&closed),
        &C::RecordDefault { reason: "x".into(), seller_withdrew: false },
        &ctx(admin(), 61),
    );
    assert!(matches!(early, Err(R::ContractNotDue(_))), "not before the contract deadline: {early:?}");
    let defaulted = sc(admin(), 20_000)
        .given(closed)
        .when(C::RecordDefault { reason: "未按期签约".into(), seller_withdrew: false })
        .then([
            E::WinnerDefaulted(pb::WinnerDefaulted {
                deal_id: "s1".into(),
                winner_org_id: "b".into(),
                reason: "未按期签约".into(),
            }),
            E::DepositForfeited(pb::DepositForfeited { bidder_org_id: "b".into(), reason: "defaulted".into() }),
        ]);
    assert_eq!(defaulted.phase, Phase::Defaulted);
    assert_eq!(defaulted.bidders["b"].deposit, Deposit::Forfeited);
}

/// A session won by "b" at 1,010,000 fen, closed at minute 60.
fn won() -> Vec<E> {
    let bids = [ready(), vec![bid(1, "a", 1_000_000, 60), bid(2, "b", 1_010_000, 60)]].concat();
    let close = Sessions.decide(&Sessions.fold(&bids), &C::Close { on_sale: true }, &ctx(timer(), 60)).unwrap();
    [bids, close].concat()
}

#[test]
fn the_contract_deadline_defaults_a_winner_who_has_not_signed() {
    let due = Sessions.fold(&won()).contract_due.expect("the deal sets a contract deadline");
    // Five working days after a close on a weekday are at least a week later, and at most a few weeks.
    assert!(due > at(60 + 7 * 24 * 60 - 1) && due < at(60 + 30 * 24 * 60), "{due}");
    sc(timer(), 61)
        .given(won())
        .when(C::ContractDeadline { seller_withdrew: false })
        .then_rejected(R::ContractNotDue(due));
    sc(bidder("a"), 20_000)
        .given(won())
        .when(C::ContractDeadline { seller_withdrew: false })
        .then_rejected(R::NotTheTimer);
    let defaulted = sc(timer(), 20_000).given(won()).when(C::ContractDeadline { seller_withdrew: false }).then([
        E::WinnerDefaulted(pb::WinnerDefaulted {
            deal_id: "s1".into(),
            winner_org_id: "b".into(),
            reason: format!("the contract was not signed by its deadline, {due}"),
        }),
        E::DepositForfeited(pb::DepositForfeited { bidder_org_id: "b".into(), reason: "defaulted".into() }),
    ]);
    assert_eq!((defaulted.phase, defaulted.bidders["b"].deposit), (Phase::Defaulted, Deposit::Forfeited));
    // The timer firing again changes nothing.
    let again =
        Sessions.decide(&defaulted, &C::ContractDeadline { seller_withdrew: false }, &ctx(timer(), 20_001)).unwrap();
    assert!(again.is_empty());
    // A session without a winner has no deadline.
    let unsold =
        [ready(), Sessions.decide(&Sessions.fold(&ready()), &C::Close { on_sale: true }, &ctx(timer(), 60)).unwrap()]
            .concat();
    sc(timer(), 20_000).given(unsold).when(C::ContractDeadline { seller_withdrew: false }).then_rejected(R::NoWinner);
}

#[test]
fn a_winner_who_signed_in_time_keeps_the_deposit() {
    let sign = |r: &str| C::RecordSigned { reference: r.into() };
    sc(bidder("b"), 61).given(won()).when(sign("HT-1")).then_rejected(R::NotAnAdministrator);
    let signed_event = E::WinnerSigned(pb::WinnerSigned { winner_org_id: "b".into(), reference: "HT-1".into() });
    let signed = sc(admin(), 61).given(won()).when(sign("HT-1")).then([signed_event.clone()]);
    assert_eq!(signed.signed.as_deref(), Some("HT-1"));
    let after = [won(), vec![signed_event]].concat();
    sc(admin(), 62).given(after.clone()).when(sign("HT-2")).then_rejected(R::AlreadySigned);
    // The deadline passes with nothing to record, and no administrator can record a default any more.
    sc(timer(), 20_000).given(after.clone()).when(C::ContractDeadline { seller_withdrew: false }).then([]);
    sc(admin(), 20_000)
        .given(after)
        .when(C::RecordDefault { reason: "x".into(), seller_withdrew: false })
        .then_rejected(R::AlreadySigned);
    // Nothing to sign before the close or without a winner.
    sc(admin(), 30).given(ready()).when(sign("HT-1")).then_rejected(R::NoWinner);
}

#[test]
fn a_one_shot_session_takes_one_bid_per_bidder() {
    let one_shot = pb::SessionRules { one_shot: true, ..rules("extension", false, None) };
    let given = [
        vec![opened_with(one_shot, &[]), registered("a"), deposit("a"), registered("b"), deposit("b")],
        vec![bid(1, "a", 1_000_000, 60), bid(2, "b", 1_010_000, 60)],
    ]
    .concat();
    sc(bidder("a"), 10)
        .given(given.clone())
        .when(C::Bid { amount_fen: 1_020_000, on_sale: true })
        .then_rejected(R::OneBidEach);
    // In a multi-round session (the default) "a" may bid again once outbid.
    let multi = [ready(), vec![bid(1, "a", 1_000_000, 60), bid(2, "b", 1_010_000, 60)]].concat();
    let again = Sessions.decide(
        &Sessions.fold(&multi),
        &C::Bid { amount_fen: 1_020_000, on_sale: true },
        &ctx(bidder("a"), 10),
    );
    assert!(again.is_ok(), "{again:?}");
}

fn sealed_ready() -> Vec<E> {
    vec![
        opened_with(rules("extension", true, None), &[]),
        registered("a"),
        deposit("a"),
        registered("b"),
        deposit("b"),
        registered("c"),
        deposit("c"),
    ]
}

fn committed(org: &str, amount: i64, nonce: u8) -> E {
    E::BidCommitted(pb::BidCommitted {
        bidder_org_id: org.into(),
        user_id: format!("{org}-user"),
        commitment: hex::encode(commitment("s1", org, amount, &[nonce; 32])),
    })
}

fn revealed(org: &str, amount: i64) -> E {
    E::BidRevealed(pb::BidRevealed { bidder_org_id: org.into(), amount_fen: amount })
}

#[test]
fn sealed_bids_commit_then_reveal_and_the_unrevealed_forfeit() {
    let c = commitment("s1", "a", 1_200_000, &[1; 32]);
    sc(bidder("a"), 10).given(sealed_ready()).when(C::Commit { commitment: c }).then([committed("a", 1_200_000, 1)]);
    sc(bidder("a"), 10)
        .given(sealed_ready())
        .when(C::Bid { amount_fen: 1_000_000, on_sale: true })
        .then_rejected(R::Sealed);
    let one = [sealed_ready(), vec![committed("a", 1_200_000, 1)]].concat();
    sc(bidder("a"), 11).given(one.clone()).when(C::Commit { commitment: c }).then_rejected(R::AlreadyCommitted);
    sc(bidder("b"), 60).given(one).when(C::Commit { commitment: c }).then_rejected(R::BiddingClosed);

    let all = [
        sealed_ready(),
        vec![committed("a", 1_200_000, 1), committed("b", 1_500_000, 2), committed("c", 1_900_000, 3)],
    ]
    .concat();
    // Nobody reveals before the logged close.
    let reveal = |amount, nonce| C::Reveal { amount_fen: amount, nonce: [nonce; 32] };
    sc(bidder("a"), 61).given(all.clone()).when(reveal(1_200_000, 1)).then_rejected(R::NotRevealing);
    let closing = E::BiddingClosed(pb::BiddingClosed { reveal_closes: Some(at(120).to_proto()) });
    sc(timer(), 60).given(all.clone()).when(C::Close { on_sale: true }).then([closing.clone()]);
    let revealing = [all, vec![closing]].concat();
    sc(bidder("a"), 61).given(revealing.clone()).when(reveal(1_200_000, 1)).then([revealed("a", 1_200_000)]);
    sc(bidder("a"), 61).given(revealing.clone()).when(reveal(1_300_000, 1)).then_rejected(R::RevealMismatch);
    sc(bidder("a"), 61).given(revealing.clone()).when(reveal(1_200_000, 9)).then_rejected(R::RevealMismatch);
    sc(bidder("a"), 120).given(revealing.clone()).when(reveal(1_200_000, 1)).then_rejected(R::NotRevealing);

    // a and b reveal, c (the highest) does not: b wins on revealed bids only, c forfeits.
    let revealed_two = [revealing, vec![revealed("a", 1_200_000), revealed("b", 1_500_000)]].concat();
    sc(timer(), 119).given(revealed_two.clone()).when(C::Close { on_sale: true }).then_rejected(R::NotYet(at(120)));
    let events =
        Sessions.decide(&Sessions.fold(&revealed_two), &C::Close { on_sale: true }, &ctx(timer(), 120)).unwrap();
    let [E::DepositForfeited(f), E::Closed(closed), E::DealAgreed(deal)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!((f.bidder_org_id.as_str(), f.reason.as_str()), ("c", "unrevealed"));
    assert_eq!((closed.winner_org_id.as_str(), closed.price_fen), ("b", 1_500_000));
    assert_eq!(closed.refunds_due, vec!["a".to_owned()]);
    assert_eq!(deal.buyer_org_id, "b");
}

#[test]
fn sealed_ties_go_to_the_earlier_commitment() {
    let given = [
        sealed_ready(),
        vec![
            committed("b", 1_500_000, 2),
            committed("a", 1_500_000, 1),
            E::BiddingClosed(pb::BiddingClosed { reveal_closes: Some(at(120).to_proto()) }),
            revealed("a", 1_500_000),
            revealed("b", 1_500_000),
        ],
    ]
    .concat();
    let events = Sessions.decide(&Sessions.fold(&given), &C::Close { on_sale: true }, &ctx(timer(), 120)).unwrap();
    assert!(matches!(&events[0], E::Closed(c) if c.winner_org_id == "b"), "{events:?}");
}

// ---- Properties ----

/// Plays a random sequence of (bidder, increments above the high or start, minute) bids against the decider,
/// keeping what it accepts; returns the log of events and whether the final close happened.
fn play(moves: &[(usize, i64, i64)], anti: &str) -> Vec<E> {
    let orgs = ["a", "b", "c", "d"];
    let mut log = vec![opened_with(rules(anti, false, None), &[])];
    for o in orgs {
        log.push(registered(o));
        log.push(deposit(o));
    }
    let mut state = Sessions.fold(&log);
    let mut minute_us = at(0).unix_micros();
    for (who, steps, gap_s) in moves {
        minute_us += gap_s * 1_000_000;
        let now = Timestamp::from_unix_micros(minute_us);
        let base = state.high().map_or(1_000_000 - 10_000, |h| h.amount_fen);
        let amount = base + steps * 10_000 - if steps % 7 == 3 { 5_000 } else { 0 };
        let command = C::Bid { amount_fen: amount, on_sale: true };
        let ctx = Ctx::new(now, bidder(orgs[*who]), CommandId::parse("c").unwrap());
        if let Ok(events) = Sessions.decide(&state, &command, &ctx) {
            for e in &events {
                state = Sessions.evolve(state, e);
            }
            log.extend(events);
        }
    }
    // The timer, late enough.
    let end = state.ends_at.unwrap().unix_micros().max(minute_us);
    let ctx = Ctx::new(Timestamp::from_unix_micros(end), timer(), CommandId::parse("c").unwrap());
    let close = Sessions.decide(&state, &C::Close { on_sale: true }, &ctx).expect("the timer closes");
    log.extend(close);
    log
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn replaying_the_log_gives_the_same_winner_and_every_accepted_bid_beats_the_last_by_increments(
        moves in proptest::collection::vec((0usize..4, -1i64..6, 0i64..400), 0..60),
        period in proptest::bool::ANY,
    ) {
        let anti = if period { "period_reset" } else { "extension" };
        let log = play(&moves, anti);
        // Replaying the stored events (through their codec) reproduces the state and the outcome.
        let replayed: Vec<E> = log
            .iter()
            .map(|e| {
                use ttx_kernel::DomainEvent;
                E::decode(e.event_type(), 1, &e.encode()).unwrap()
            })
            .collect();
        let a = Sessions.fold(&log);
        let b = Sessions.fold(&replayed);
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(a.phase, Phase::Closed);
        // The winner is the last accepted bid, at its amount.
        prop_assert_eq!(a.winner.clone(), a.bids.last().map(|b| (b.bidder.clone(), b.amount_fen)));
        // Every accepted bid beats the previous high by a whole number of increments; the first is on the grid.
        let mut previous = 1_000_000 - 10_000;
        let mut ends_at = at(60).unix_micros();
        for e in &log {
            if let E::BidPlaced(b) = e {
                prop_assert!(b.amount_fen > previous);
                prop_assert_eq!((b.amount_fen - previous) % 10_000, 0);
                previous = b.amount_fen;
                let new_end = Timestamp::from_proto(b.ends_at.as_ref().unwrap()).unix_micros();
                prop_assert!(new_end >= ends_at || anti == "period_reset");
                ends_at = new_end;
            }
        }
        // No bid is accepted after the close.
        let closed = Sessions.fold(&log);
        let late = Ctx::new(Timestamp::from_unix_micros(i64::MAX / 2), bidder("a"), CommandId::parse("c").unwrap());
        prop_assert_eq!(Sessions.decide(&closed, &C::Bid { amount_fen: previous + 10_000, on_sale: true }, &late), Err(R::BiddingClosed));
    }

    #[test]
    fn no_bid_is_accepted_at_or_after_the_end(extra_s in 0i64..10_000) {
        let log = [ready(), vec![bid(1, "a", 1_000_000, 60)]].concat();
        let state = Sessions.fold(&log);
        let now = Timestamp::from_unix_micros(at(60).unix_micros() + extra_s * 1_000_000);
        let ctx = Ctx::new(now, bidder("b"), CommandId::parse("c").unwrap());
        prop_assert_eq!(Sessions.decide(&state, &C::Bid { amount_fen: 1_010_000, on_sale: true }, &ctx), Err(R::BiddingClosed));
    }
}

#[test]
fn the_property_player_accepts_and_refuses_bids() {
    // (bidder, increments, seconds later): a valid opening, a self-raise (refused), an off-grid bid (three steps are
    // played 5,000 fen short, refused), then raises by others, the last in the final minutes.
    let moves = [(0, 1, 60), (0, 1, 60), (1, 3, 60), (1, 1, 60), (2, 2, 3_000), (3, 1, 200)];
    let log = play(&moves, "extension");
    let bids: Vec<(String, i64)> = log
        .iter()
        .filter_map(|e| if let E::BidPlaced(b) = e { Some((b.bidder_org_id.clone(), b.amount_fen)) } else { None })
        .collect();
    assert_eq!(
        bids,
        vec![
            ("a".to_owned(), 1_000_000),
            ("b".to_owned(), 1_010_000),
            ("c".to_owned(), 1_030_000),
            ("d".to_owned(), 1_040_000)
        ]
    );
    assert!(matches!(log.last(), Some(E::DealAgreed(d)) if d.buyer_org_id == "d"));
}

/// A sealed session in its reveal phase: a and b committed and paid, only a revealed.
fn revealing() -> Vec<E> {
    let sealed = opened_with(rules("extension", true, None), &[]);
    let nonce = [9u8; 32];
    let commit = |org: &str, amount| {
        E::BidCommitted(pb::BidCommitted {
            bidder_org_id: org.into(),
            user_id: format!("{org}-user"),
            commitment: hex::encode(commitment("s1", org, amount, &nonce)),
        })
    };
    vec![
        sealed,
        registered("a"),
        deposit("a"),
        registered("b"),
        deposit("b"),
        commit("a", 1_200_000),
        commit("b", 1_500_000),
        E::BiddingClosed(pb::BiddingClosed { reveal_closes: Some(at(120).to_proto()) }),
        E::BidRevealed(pb::BidRevealed { bidder_org_id: "a".into(), amount_fen: 1_200_000 }),
    ]
}

#[test]
fn no_deposit_is_ever_forfeited_because_the_seller_withdrew() {
    let cancel = || C::Cancel { reason: "the holder withdrew the result".into() };
    let refunds = |orgs: &[&str], minute| {
        E::Cancelled(pb::SessionCancelled {
            reason: "the holder withdrew the result".into(),
            refunds_due: orgs.iter().map(|o| (*o).to_owned()).collect(),
            refunds_due_by: Some(
                ttx_negotiation::deadline::working_days_after(&Calendar::published(), at(minute), 5)
                    .unwrap()
                    .to_proto(),
            ),
            cancelled_at: Some(at(minute).to_proto()),
            pending_year: 0,
            refund_working_days: 5,
        })
    };
    // While bidding runs: every confirmed deposit is due back, and no more bids are taken.
    let running = [ready(), vec![bid(1, "a", 1_000_000, 60)]].concat();
    let cancelled = sc(timer(), 30).given(running.clone()).when(cancel()).then([refunds(&["a", "b"], 30)]);
    assert_eq!(cancelled.phase, Phase::Cancelled);
    let after = [running, vec![refunds(&["a", "b"], 30)]].concat();
    sc(bidder("b"), 31)
        .given(after.clone())
        .when(C::Bid { amount_fen: 1_010_000, on_sale: true })
        .then_rejected(R::BiddingClosed);
    sc(timer(), 61).given(after.clone()).when(C::Close { on_sale: true }).then_rejected(R::Closed);
    sc(admin(), 32)
        .given(after)
        .when(C::RefundDeposit { bidder: "a".into(), reference: "退款".into() })
        .then([E::DepositRefunded(pb::DepositRefunded { bidder_org_id: "a".into(), reference: "退款".into() })]);
    // A sealed session's reveal phase: the unrevealed commitment forfeits nothing.
    let state = sc(timer(), 100).given(revealing()).when(cancel()).then([refunds(&["a", "b"], 100)]);
    assert!(state.bidders.values().all(|b| b.deposit == Deposit::Confirmed));
    // Won, not yet signed: the winner is refunded too, and the contract deadline then records nothing.
    let withdrawn_after_the_close = [won(), vec![refunds(&["a", "b"], 70)]].concat();
    sc(timer(), 70).given(won()).when(cancel()).then([refunds(&["a", "b"], 70)]);
    sc(timer(), 20_000).given(withdrawn_after_the_close).when(C::ContractDeadline { seller_withdrew: true }).then([]);
    // The deadline's timer does not default a winner whose seller withdrew, even before the cancellation is recorded;
    // nor may an administrator.
    sc(timer(), 20_000).given(won()).when(C::ContractDeadline { seller_withdrew: true }).then([]);
    sc(admin(), 20_000)
        .given(won())
        .when(C::RecordDefault { reason: "x".into(), seller_withdrew: true })
        .then_rejected(R::SellerWithdrew);
    // Only the exchange cancels, and a signed or finished session is left as it is.
    sc(seller(), 30).given(ready()).when(cancel()).then_rejected(R::NotTheSystem);
    let signed = [won(), vec![E::WinnerSigned(pb::WinnerSigned { winner_org_id: "b".into(), reference: "HT".into() })]];
    sc(timer(), 70).given(signed.concat()).when(cancel()).then([]);
}

#[test]
fn a_result_no_longer_on_sale_takes_no_bid_and_its_close_cancels_the_session() {
    sc(bidder("a"), 10)
        .given(ready())
        .when(C::Bid { amount_fen: 1_000_000, on_sale: false })
        .then_rejected(R::NotOnSale);
    let events = Sessions
        .decide(
            &Sessions.fold(&[ready(), vec![bid(1, "a", 1_000_000, 60)]].concat()),
            &C::Close { on_sale: false },
            &ctx(timer(), 60),
        )
        .unwrap();
    assert!(matches!(events.as_slice(), [E::Cancelled(c)] if c.refunds_due == ["a", "b"]), "{events:?}");
}

#[test]
fn no_bidder_floods_a_session_with_bids() {
    let max = ttx_negotiation::rules::current().max_bids_per_bidder;
    // "a" and "b" outbid each other, each reaching the limit.
    let bids: Vec<E> = (0..2 * max as u32)
        .map(|i| bid(i + 1, if i % 2 == 0 { "a" } else { "b" }, 1_000_000 + i64::from(i) * 10_000, 60))
        .collect();
    let given = [ready(), bids].concat();
    let next = 1_000_000 + 2 * max as i64 * 10_000;
    sc(bidder("a"), 10)
        .given(given.clone())
        .when(C::Bid { amount_fen: next, on_sale: true })
        .then_rejected(R::TooManyBids(max));
}

/// A close late in December with no schedule for the next year: both deadlines pending, no default while the contract's
/// is; a cancellation takes over the refunds and voids the contract's; once the year is loaded each is counted from its
/// own instant over the days it was given.
#[test]
fn deadlines_pending_their_year_are_counted_from_their_own_instant_once_it_is_loaded() {
    let beijing = |s: &str| Timestamp::parse_rfc3339(s).unwrap();
    let bids = [ready(), vec![bid(1, "a", 1_000_000, 60), bid(2, "b", 1_010_000, 60)]].concat();
    // Monday 2026-12-28, 10:00 Beijing.
    let close = Ctx::new(beijing("2026-12-28T02:00:00Z"), timer(), CommandId::parse("c").unwrap());
    let events = Sessions.decide(&Sessions.fold(&bids), &C::Close { on_sale: true }, &close).unwrap();
    let closed = [bids, events].concat();
    let state = Sessions.fold(&closed);
    let pending: Vec<(&str, i32)> = state.pending().iter().map(|p| (p.what, p.year)).collect();
    assert_eq!(pending, [("refunds", 2027), ("contract", 2027)]);
    assert_eq!((state.refunds_due_by, state.contract_due), (None, None));
    let late = Ctx::new(beijing("2027-03-01T02:00:00Z"), timer(), CommandId::parse("c").unwrap());
    let deadline = C::ContractDeadline { seller_withdrew: false };
    assert_eq!(Sessions.decide(&state, &deadline, &late), Err(R::DeadlinePending(2027)), "never in default");
    assert_eq!(Sessions.decide(&state, &C::FixDeadlines, &late), Err(R::DeadlinePending(2027)), "still no schedule");
    // The holder withdraws the next day: the cancellation's refunds are due, pending too; the deal is void.
    let cancel = Ctx::new(beijing("2026-12-29T02:00:00Z"), timer(), CommandId::parse("c").unwrap());
    let events = Sessions.decide(&state, &C::Cancel { reason: "withdrawn".into() }, &cancel).unwrap();
    let cancelled = [closed, events].concat();
    let state = Sessions.fold(&cancelled);
    let pending: Vec<(&str, Timestamp)> = state.pending().iter().map(|p| (p.what, p.from)).collect();
    assert_eq!(pending, [("refunds", cancel.now)]);
    // 2027 loaded (1 January off): Tuesday 12-29 + 5 working days = 30, 31 December, 4, 5, 6 January.
    let y2027 = ttx_kernel::calendar::Schedule::new(
        2027,
        [ttx_kernel::calendar::Date::new(2027, 1, 1).unwrap()],
        [],
        "a test schedule",
    )
    .unwrap();
    let mut fix = Ctx::new(beijing("2027-01-10T02:00:00Z"), timer(), CommandId::parse("c").unwrap());
    fix.calendar = std::sync::Arc::new(Calendar::published().with(y2027));
    let fixed = Sessions.decide(&state, &C::FixDeadlines, &fix).unwrap();
    assert_eq!(
        fixed,
        [E::DeadlinesFixed(pb::DeadlinesFixed {
            contract_due: None,
            refunds_due_by: Some(beijing("2027-01-06T15:59:59.999999Z").to_proto()),
        })]
    );
    let state = Sessions.fold(&[cancelled, fixed].concat());
    assert!(state.pending().is_empty());
    assert_eq!(state.refunds_due_by, Some(beijing("2027-01-06T15:59:59.999999Z")));
    assert_eq!(state.cancellation.unwrap().pending_year, 0);
}
