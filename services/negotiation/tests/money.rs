//! Money is never wrong: the full `i64` range and its edges go into every money field of every command of the three
//! negotiation deciders. Each command is refused, or leaves a state whose invariants hold: every amount is 1 fen to
//! the rules' ceiling, a schedule adds up to its price exactly, bids rise on the increment grid, a deposit is the
//! session's within its share of the start price, and a deal's credited deposit is within its price.

use proptest::prelude::*;
use ttx_kernel::{CommandId, Ctx, Decider, Timestamp};
use ttx_negotiation::deal::{DealCommand, DealEvent, Deals, NoticeGate, ResultFacts};
use ttx_negotiation::listed::{ListingCommand, ListingEvent, Listings};
use ttx_negotiation::pb;
use ttx_negotiation::rules::current;
use ttx_negotiation::seal::commitment;
use ttx_negotiation::session::{SessionCommand, SessionEvent, Sessions};
use ttx_proto::common::v1::{Actor, Role};

const T0: i64 = 1_790_000_000_000_000;
const MIN: i64 = 60_000_000;

fn max() -> i64 {
    current().max_amount_fen
}

/// Any i64, with the edges and the ceiling's neighbours drawn often.
fn money() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(i64::MIN),
        Just(i64::MIN + 1),
        Just(-1i64),
        Just(0i64),
        Just(1i64),
        Just(max() - 1),
        Just(max()),
        Just(max() + 1),
        Just(i64::MAX - 1),
        Just(i64::MAX),
        1i64..=1_000_000_000,
        any::<i64>(),
    ]
}

fn who(user: &str, org: &str, role: Role) -> Actor {
    Actor { user_id: user.into(), org_id: org.into(), role: role.into(), roles: vec![role.into()] }
}

fn ctx(actor: Actor, minute: i64) -> Ctx {
    Ctx::new(Timestamp::from_unix_micros(T0 + minute * MIN), actor, CommandId::parse("c").unwrap())
}

fn at(minute: i64) -> Option<prost_types::Timestamp> {
    Some(Timestamp::from_unix_micros(T0 + minute * MIN).to_proto())
}

fn payment(amount_fen: i64) -> pb::Payment {
    pb::Payment { amount_fen, when: Some(pb::payment::When::DueOn("2027-06-30".into())), ..Default::default() }
}

fn sheet(price: i64, payments: &[i64]) -> pb::TermSheet {
    pb::TermSheet {
        mode: 1,
        price_fen: price,
        payments: payments.iter().copied().map(payment).collect(),
        ..Default::default()
    }
}

fn in_range(fen: i64) -> bool {
    (1..=max()).contains(&fen)
}

/// A term sheet that was accepted: amounts in range, adding up to the price (in i128, which cannot wrap).
fn sheet_holds(t: &pb::TermSheet) -> Result<(), TestCaseError> {
    prop_assert!(in_range(t.price_fen), "price {}", t.price_fen);
    prop_assert!(!t.payments.is_empty());
    prop_assert!(t.payments.iter().all(|p| in_range(p.amount_fen)), "{:?}", t.payments);
    let sum: i128 = t.payments.iter().map(|p| i128::from(p.amount_fen)).sum();
    prop_assert_eq!(sum, i128::from(t.price_fen));
    Ok(())
}

fn deal_holds(d: &pb::DealAgreed) -> Result<(), TestCaseError> {
    let t = d.terms.as_ref().expect("a deal carries its terms");
    sheet_holds(t)?;
    prop_assert_eq!(t.price_fen, d.price_fen);
    prop_assert!((0..=d.price_fen).contains(&d.deposit_credited_fen));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn negotiated_offers_and_deals_keep_their_money_right(price in money(), a in money(), b in money(), split in any::<bool>()) {
        let opened = DealEvent::Opened(pb::NegotiationOpened {
            negotiation_id: "n1".into(),
            result_id: "r1".into(),
            seller_org_id: "uni".into(),
            buyer_org_id: "firm".into(),
            mode: 1,
            exclusive: true,
        });
        let payments = if split { vec![a, b] } else { vec![a] };
        let offer = DealCommand::Offer { terms: sheet(price, &payments) };
        let seller = who("m", "uni", Role::TechManager);
        let state = Deals.fold(&[opened]);
        let Ok(events) = Deals.decide(&state, &offer, &ctx(seller, 0)) else { return Ok(()) };
        let state = events.iter().fold(state, |s, e| Deals.evolve(s, e));
        sheet_holds(&state.offers[0].2)?;
        let facts = ResultFacts {
            seller_org_id: "uni".into(),
            published: true,
            negotiated_route: true,
            notice: NoticeGate::Clear { price_fen: price },
            modes: vec![],
            on_sale: true,
        };
        let accept = DealCommand::Accept { version: 1, facts };
        let events = Deals.decide(&state, &accept, &ctx(who("z", "firm", Role::EnterpriseMember), 1)).unwrap();
        let [DealEvent::Agreed(d)] = events.as_slice() else { panic!("{events:?}") };
        deal_holds(d)?;
    }

    #[test]
    fn listed_prices_and_their_deals_keep_their_money_right(price in money(), a in money(), b in money()) {
        let open = ListingCommand::Open {
            id: "l1".into(),
            result_id: "r1".into(),
            holder: true,
            published: true,
            listed_route: true,
            modes: vec![],
            terms: sheet(price, &[a, b]),
            working_days: 10,
        };
        let Ok(events) = Listings.decide(&Default::default(), &open, &ctx(who("m", "uni", Role::TechManager), 0)) else {
            return Ok(());
        };
        let ListingEvent::Opened(o) = &events[0] else { panic!("{events:?}") };
        sheet_holds(o.terms.as_ref().unwrap())?;
        prop_assert_eq!(o.price_fen, price);
        let state = events.iter().fold(Default::default(), |s, e| Listings.evolve(s, e));
        let intent = ListingCommand::RegisterIntent;
        let events = Listings.decide(&state, &intent, &ctx(who("z", "firm", Role::EnterpriseMember), 1)).unwrap();
        let state = events.iter().fold(state, |s, e| Listings.evolve(s, e));
        // 10 working days from Monday 2026-09-21 end at 24:00 Beijing on 2026-10-12: 22 days later is past it.
        let end = ctx(who("t", "", Role::System), 22 * 24 * 60);
        let events = Listings.decide(&state, &ListingCommand::End { on_sale: true }, &end).unwrap();
        let Some(ListingEvent::Agreed(d)) = events.last() else { panic!("{events:?}") };
        deal_holds(d)?;
    }

    #[test]
    fn sessions_keep_their_money_right_from_the_rules_to_the_deal(
        start in money(),
        increment in money(),
        deposit in money(),
        tenth in any::<bool>(),
        reserve in proptest::option::of(money()),
        confirmed in money(),
        bids in proptest::collection::vec((0usize..2, prop_oneof![money().prop_map(Err), (0i64..40).prop_map(Ok)]), 0..8),
        sealed in any::<bool>(),
        reveal in money(),
    ) {
        // Often a deposit of 10 %, and bids a whole number of increments above the start, so that sessions open and
        // bids land; otherwise anything.
        let deposit = if tenth { start / 10 } else { deposit };
        let amount_of = |bid: &Result<i64, i64>| match bid {
            Ok(steps) => increment.checked_mul(*steps).and_then(|x| x.checked_add(start)).unwrap_or(i64::MAX),
            Err(raw) => *raw,
        };
        let rules = pb::SessionRules {
            start_price_fen: start,
            increment_fen: increment,
            deposit_fen: deposit,
            registration_closes: at(50),
            bidding_opens: at(0),
            bidding_closes: at(60),
            anti_sniping: "extension".into(),
            window_seconds: 300,
            reserve_fen: reserve,
            sealed,
            reveal_closes: sealed.then(|| at(120)).flatten(),
            version: String::new(),
            one_shot: false,
        };
        let open = SessionCommand::Open {
            id: "s1".into(),
            result_id: "r1".into(),
            rules: Box::new(rules),
            terms: Box::new(ttx_negotiation::terms::single_payment(2, 0, 10)),
            modes: vec![],
            listing_id: String::new(),
            invited: vec![],
            holder: true,
            published: true,
            auction_route: true,
        };
        let seller = who("m", "uni", Role::TechManager);
        let Ok(events) = Sessions.decide(&Default::default(), &open, &ctx(seller, -10)) else { return Ok(()) };
        let mut s = events.iter().fold(Default::default(), |s, e| Sessions.evolve(s, e));
        {
            let r = s.rules.as_ref().unwrap();
            prop_assert!(in_range(r.start_price_fen) && in_range(r.increment_fen) && in_range(r.deposit_fen));
            let share = i128::from(r.deposit_fen) * 10_000 / i128::from(r.start_price_fen);
            prop_assert!(share <= i128::from(current().deposit_max_bp), "deposit {} of {}", r.deposit_fen, r.start_price_fen);
            prop_assert!(r.reserve_fen.is_none_or(|x| in_range(x) && x >= r.start_price_fen));
        }
        let admin = who("root", "ops", Role::Admin);
        for org in ["a", "b"] {
            let e = Sessions.decide(&s, &SessionCommand::Register, &ctx(who(org, org, Role::EnterpriseMember), 1)).unwrap();
            s = e.iter().fold(s, |s, e| Sessions.evolve(s, e));
            let amount = if org == "a" { confirmed } else { s.rules.as_ref().unwrap().deposit_fen };
            let confirm = SessionCommand::ConfirmDeposit { bidder: org.into(), amount_fen: amount, reference: "r".into() };
            if let Ok(e) = Sessions.decide(&s, &confirm, &ctx(admin.clone(), 2)) {
                s = e.iter().fold(s, |s, e| Sessions.evolve(s, e));
                prop_assert_eq!(s.bidders[org].deposit_fen, s.rules.as_ref().unwrap().deposit_fen);
            }
        }
        let nonce = [7u8; 32];
        for (i, (who_bids, bid)) in bids.iter().enumerate() {
            let amount = &amount_of(bid);
            let org = ["a", "b"][*who_bids];
            let by = who(org, org, Role::EnterpriseMember);
            let command = if sealed {
                SessionCommand::Commit { commitment: commitment("s1", org, *amount, &nonce) }
            } else {
                SessionCommand::Bid { amount_fen: *amount, on_sale: true }
            };
            if let Ok(e) = Sessions.decide(&s, &command, &ctx(by, 3 + i as i64)) {
                s = e.iter().fold(s, |s, e| Sessions.evolve(s, e));
            }
        }
        let r = s.rules.clone().unwrap();
        for pair in s.bids.windows(2) {
            prop_assert!(pair[1].amount_fen > pair[0].amount_fen);
            prop_assert_eq!((i128::from(pair[1].amount_fen) - i128::from(pair[0].amount_fen)) % i128::from(r.increment_fen), 0);
        }
        prop_assert!(s.bids.iter().all(|b| in_range(b.amount_fen) && b.amount_fen >= r.start_price_fen));
        let timer = who("system", "", Role::System);
        let mut minute = 61;
        if sealed {
            if let Ok(e) = Sessions.decide(&s, &SessionCommand::Close { on_sale: true }, &ctx(timer.clone(), minute)) {
                s = e.iter().fold(s, |s, e| Sessions.evolve(s, e));
            }
            for org in ["a", "b"] {
                let amount = bids.iter().rev().find(|(w, _)| ["a", "b"][*w] == org).map_or(reveal, |(_, b)| amount_of(b));
                let command = SessionCommand::Reveal { amount_fen: amount, nonce };
                if let Ok(e) = Sessions.decide(&s, &command, &ctx(who(org, org, Role::EnterpriseMember), 62)) {
                    s = e.iter().fold(s, |s, e| Sessions.evolve(s, e));
                }
            }
            prop_assert!(s.reveals.values().all(|a| in_range(*a)));
            minute = 121;
        }
        let events = Sessions.decide(&s, &SessionCommand::Close { on_sale: true }, &ctx(timer, minute)).unwrap();
        for e in &events {
            if let SessionEvent::DealAgreed(d) = e {
                deal_holds(d)?;
                prop_assert!(d.deposit_credited_fen <= r.deposit_fen);
            }
            if let SessionEvent::Closed(c) = e {
                prop_assert!(!c.sold || in_range(c.price_fen));
            }
        }
    }
}
