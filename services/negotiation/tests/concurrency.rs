//! 200 bidders bid at once on one session through the negotiation service (real SQLite log, in-process bus): every
//! bid gets an answer, the accepted ones are totally ordered and all stored, and the high is right.

use std::sync::Arc;
use std::time::Duration;

use prost::Message as _;
use ttx_eventlog_sqlite::SqliteLog;
use ttx_kernel::bus::{CallError, call_raw};
use ttx_kernel::{
    AppendRequest, Bus, Clock, CommandId, EventLog, ExpectedVersion, InProcessBus, ManualClock, NewEvent, StreamId,
    Timestamp,
};
use ttx_negotiation::pb::{self, subjects};
use ttx_negotiation::{Service, session::SessionEvent};
use ttx_proto::common::v1::{Actor, Role};
use ttx_proto::listings::v1 as lpb;

const T0: i64 = 1_790_000_000_000_000;
const BIDDERS: usize = 200;
const START: i64 = 10_000_000;
const STEP: i64 = 100_000;

fn actor(user: &str, org: &str, role: Role) -> Actor {
    Actor { user_id: user.into(), org_id: org.into(), role: role.into(), roles: vec![role.into()] }
}

fn ctx(a: Actor, id: String) -> Option<pb::CommandContext> {
    Some(pb::CommandContext { actor: Some(a), command_id: id })
}

async fn send(bus: &Arc<dyn Bus>, subject: &str, m: impl prost::Message) -> Result<bytes::Bytes, CallError> {
    call_raw(bus.as_ref(), subject, m.encode_to_vec().into(), Duration::from_secs(60)).await
}

async fn append(log: &SqliteLog, stream: &str, events: Vec<(&str, Vec<u8>)>) {
    let events = events
        .into_iter()
        .map(|(t, p)| {
            NewEvent::new(uuid::Uuid::now_v7(), format!("ttx.listings.v1.{t}"), Timestamp::from_unix_micros(T0), p)
        })
        .collect();
    let request = AppendRequest {
        stream: StreamId::parse(stream).unwrap(),
        expected: ExpectedVersion::NoStream,
        command_id: CommandId::parse(format!("seed-{stream}")).unwrap(),
        events,
    };
    log.append(request).await.unwrap();
}

/// Rules of an open session: registration for half an hour, an hour of bidding from `T0`, a 10 % deposit.
fn hour_of_bidding() -> pb::SessionRules {
    let at = |minutes: i64| Some(Timestamp::from_unix_micros(T0 + minutes * 60_000_000).to_proto());
    pb::SessionRules {
        start_price_fen: START,
        increment_fen: STEP,
        deposit_fen: START / 10,
        registration_closes: at(30),
        bidding_opens: at(0),
        bidding_closes: at(60),
        anti_sniping: "extension".into(),
        window_seconds: 300,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_bidders_at_once_are_totally_ordered_and_none_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(SqliteLog::open(dir.path()).unwrap());
    // A published result priced by auction, as listings records it.
    let listing =
        lpb::Listing { route: lpb::PricingRoute::Auction.into(), title: "竞价成果".into(), ..Default::default() };
    let created = lpb::ResultCreated { result_id: "r1".into(), owner_org_id: "uni".into(), listing: Some(listing) };
    append(
        &log,
        "listings-result-r1",
        vec![("ResultCreated", created.encode_to_vec()), ("ResultPublished", lpb::ResultPublished {}.encode_to_vec())],
    )
    .await;
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_micros(T0)));
    let bus: Arc<dyn Bus> = Arc::new(InProcessBus::new());
    let service = Arc::new(Service::new(log.clone(), clock.clone()));
    tokio::spawn(service.clone().project());
    service.router().serve(bus.as_ref()).await.unwrap();

    let at = |minutes: i64| Some(Timestamp::from_unix_micros(T0 + minutes * 60_000_000).to_proto());
    let rules = pb::SessionRules {
        start_price_fen: START,
        increment_fen: STEP,
        deposit_fen: 1_000_000,
        registration_closes: at(60),
        bidding_opens: at(60),
        bidding_closes: at(120),
        anti_sniping: "extension".into(),
        window_seconds: 300,
        reserve_fen: None,
        sealed: false,
        one_shot: false,
        reveal_closes: None,
        version: String::new(),
    };
    let open = pb::OpenSession {
        context: ctx(actor("m", "uni", Role::TechManager), "open".into()),
        session_id: "s1".into(),
        result_id: "r1".into(),
        rules: Some(rules),
        terms: Some(ttx_negotiation::terms::single_payment(1, 0, 10)),
    };
    send(&bus, subjects::OPEN_SESSION, open).await.unwrap();
    let admin = actor("root", "ops", Role::Admin);
    for i in 0..BIDDERS {
        let org = format!("firm-{i:03}");
        let reg = pb::RegisterBidder {
            context: ctx(actor(&format!("u{i}"), &org, Role::EnterpriseMember), format!("reg-{i}")),
            session_id: "s1".into(),
        };
        send(&bus, subjects::REGISTER_BIDDER, reg).await.unwrap();
        let deposit = pb::ConfirmDeposit {
            context: ctx(admin.clone(), format!("dep-{i}")),
            session_id: "s1".into(),
            bidder_org_id: org,
            amount_fen: 1_000_000,
            reference: "bank".into(),
        };
        send(&bus, subjects::CONFIRM_DEPOSIT, deposit).await.unwrap();
    }
    clock.advance(Duration::from_secs(61 * 60));
    assert!(clock.now().unix_micros() > T0);

    // Every bidder at once, each at its own step above the start.
    let tasks: Vec<_> = (0..BIDDERS)
        .map(|i| {
            let bus = bus.clone();
            tokio::spawn(async move {
                let bid = pb::PlaceBid {
                    context: ctx(
                        actor(&format!("u{i}"), &format!("firm-{i:03}"), Role::EnterpriseMember),
                        format!("bid-{i}"),
                    ),
                    session_id: "s1".into(),
                    amount_fen: START + i as i64 * STEP,
                };
                (i, send(&bus, subjects::PLACE_BID, bid).await)
            })
        })
        .collect();
    let mut accepted = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            (i, Ok(_)) => accepted.push(i),
            (_, Err(CallError::Remote { code, .. })) => assert_eq!(code, "rejected", "only rule refusals"),
            (i, Err(e)) => panic!("bid {i} got no answer: {e:?}"),
        }
    }
    // The highest bid always beats whatever came before it.
    assert!(accepted.contains(&(BIDDERS - 1)));

    let stored = log.read_stream(&StreamId::parse("negotiation-session-s1").unwrap(), 1, 10_000).await.unwrap();
    let bids: Vec<pb::BidPlaced> = stored
        .iter()
        .filter_map(|e| match ttx_kernel::handler::decode_event::<SessionEvent>(e).unwrap() {
            SessionEvent::BidPlaced(b) => Some(b),
            _ => None,
        })
        .collect();
    assert_eq!(bids.len(), accepted.len(), "every accepted bid is stored, and only those");
    for (n, pair) in bids.windows(2).enumerate() {
        assert_eq!(pair[1].seq, pair[0].seq + 1, "sequence at {n}");
        assert!(pair[1].amount_fen > pair[0].amount_fen);
        assert_eq!((pair[1].amount_fen - pair[0].amount_fen) % STEP, 0);
    }
    assert_eq!(bids.first().map(|b| b.seq), Some(1));
    let high = bids.last().unwrap();
    assert_eq!((high.bidder_org_id.as_str(), high.amount_fen), ("firm-199", START + 199 * STEP));
    let view = pb::SessionView::decode(
        send(&bus, subjects::GET_SESSION, pb::GetSession { asker: Some(admin.clone()), session_id: "s1".into() })
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(view.bids.last().map(|b| b.amount_fen), Some(START + 199 * STEP));
    assert_eq!(view.bid_count as usize, bids.len());
    assert!(view.bids.len() <= ttx_negotiation::service::RECENT_BIDS, "a view carries only the latest bids");
    // Paging through list-bids gives every stored bid, in order.
    let mut paged = Vec::new();
    loop {
        let after_seq = paged.last().map_or(0, |b: &pb::BidView| b.seq);
        let q = pb::ListBids { asker: Some(admin.clone()), session_id: "s1".into(), after_seq, limit: 7 };
        let page = pb::BidPage::decode(send(&bus, subjects::LIST_BIDS, q).await.unwrap()).unwrap();
        if page.bids.is_empty() {
            break;
        }
        paged.extend(page.bids);
    }
    let amounts: Vec<i64> = paged.iter().map(|b| b.amount_fen).collect();
    assert_eq!(amounts, bids.iter().map(|b| b.amount_fen).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_close_a_session_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(SqliteLog::open(dir.path()).unwrap());
    let listing = lpb::Listing { route: lpb::PricingRoute::Auction.into(), ..Default::default() };
    let created = lpb::ResultCreated { result_id: "r1".into(), owner_org_id: "uni".into(), listing: Some(listing) };
    append(
        &log,
        "listings-result-r1",
        vec![("ResultCreated", created.encode_to_vec()), ("ResultPublished", lpb::ResultPublished {}.encode_to_vec())],
    )
    .await;
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_micros(T0)));
    let bus: Arc<dyn Bus> = Arc::new(InProcessBus::new());
    let a = Arc::new(Service::new(log.clone(), clock.clone()));
    let b = Arc::new(Service::new(log.clone(), clock.clone()));
    for s in [&a, &b] {
        tokio::spawn(s.clone().project());
    }
    a.router().serve(bus.as_ref()).await.unwrap();
    let rules = hour_of_bidding();
    let seller = actor("m", "uni", Role::TechManager);
    let open = pb::OpenSession {
        context: ctx(seller, "open".into()),
        session_id: "s1".into(),
        result_id: "r1".into(),
        rules: Some(rules),
        terms: Some(ttx_negotiation::terms::single_payment(1, 0, 10)),
    };
    send(&bus, subjects::OPEN_SESSION, open).await.unwrap();
    let firm = actor("u", "firm", Role::EnterpriseMember);
    let reg = pb::RegisterBidder { context: ctx(firm.clone(), "reg".into()), session_id: "s1".into() };
    send(&bus, subjects::REGISTER_BIDDER, reg).await.unwrap();
    let deposit = pb::ConfirmDeposit {
        context: ctx(actor("root", "ops", Role::Admin), "dep".into()),
        session_id: "s1".into(),
        bidder_org_id: "firm".into(),
        amount_fen: START / 10,
        reference: "bank".into(),
    };
    send(&bus, subjects::CONFIRM_DEPOSIT, deposit).await.unwrap();
    let bid = pb::PlaceBid { context: ctx(firm, "bid".into()), session_id: "s1".into(), amount_fen: START };
    send(&bus, subjects::PLACE_BID, bid).await.unwrap();
    clock.advance(Duration::from_secs(61 * 60));
    // Both instances' directories hold the bid before either timer fires; then both fire at once: both try to close
    // the session, exactly one writes the close (and its deal), and a second look by both writes nothing.
    let (ready_a, ready_b) = tokio::join!(a.caught_up(), b.caught_up());
    ready_a.unwrap();
    ready_b.unwrap();
    let (fired_a, fired_b) = tokio::join!(a.fire_due(), b.fire_due());
    let (wrote_a, wrote_b) = (fired_a.written("close", "s1"), fired_b.written("close", "s1"));
    assert!(wrote_a.is_some() && wrote_b.is_some(), "both tried: {fired_a:?} {fired_b:?}");
    let mut wrote = [wrote_a.unwrap_or_default(), wrote_b.unwrap_or_default()];
    wrote.sort_unstable();
    assert_eq!(wrote, [0, 2], "exactly one wrote the close and its deal: {fired_a:?} {fired_b:?}");
    let (again_a, again_b) = tokio::join!(a.fire_due(), b.fire_due());
    assert_eq!(
        again_a.written("close", "s1").unwrap_or_default() + again_b.written("close", "s1").unwrap_or_default(),
        0
    );
    let stored = log.read_stream(&StreamId::parse("negotiation-session-s1").unwrap(), 1, 100).await.unwrap();
    let types: Vec<&str> = stored.iter().map(|e| e.event_type().trim_start_matches("ttx.negotiation.v1.")).collect();
    assert_eq!(types.iter().filter(|t| **t == "SessionClosed").count(), 1, "{types:?}");
    assert_eq!(types.iter().filter(|t| **t == "DealAgreed").count(), 1, "{types:?}");
}

/// A process id is one sale of one result: reusing a session's id for another result opens nothing there and holds
/// nothing there, so the other result stays free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_that_names_a_sale_of_another_result_holds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(SqliteLog::open(dir.path()).unwrap());
    for r in ["r1", "r2"] {
        let listing = lpb::Listing { route: lpb::PricingRoute::Auction.into(), ..Default::default() };
        let created = lpb::ResultCreated { result_id: r.into(), owner_org_id: "uni".into(), listing: Some(listing) };
        append(
            &log,
            &format!("listings-result-{r}"),
            vec![
                ("ResultCreated", created.encode_to_vec()),
                ("ResultPublished", lpb::ResultPublished {}.encode_to_vec()),
            ],
        )
        .await;
    }
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_micros(T0)));
    let bus: Arc<dyn Bus> = Arc::new(InProcessBus::new());
    let service = Arc::new(Service::new(log.clone(), clock.clone()));
    tokio::spawn(service.clone().project());
    service.router().serve(bus.as_ref()).await.unwrap();
    let open = |session: &str, result: &str, command: &str| pb::OpenSession {
        context: ctx(actor("m", "uni", Role::TechManager), command.into()),
        session_id: session.into(),
        result_id: result.into(),
        rules: Some(hour_of_bidding()),
        terms: Some(ttx_negotiation::terms::single_payment(1, 0, 10)),
    };
    send(&bus, subjects::OPEN_SESSION, open("s1", "r1", "open-1")).await.unwrap();
    let reused = send(&bus, subjects::OPEN_SESSION, open("s1", "r2", "open-2")).await;
    assert!(matches!(&reused, Err(CallError::Remote { code, .. }) if code == "conflict"), "{reused:?}");
    // r2's market holds nothing: another session opens there.
    send(&bus, subjects::OPEN_SESSION, open("s2", "r2", "open-3")).await.unwrap();
    let market = log.read_stream(&StreamId::parse("negotiation-market-r2").unwrap(), 1, 10).await.unwrap();
    assert_eq!(market.len(), 1, "only s2 opened in r2's market: {market:?}");
}
