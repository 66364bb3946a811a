//! The listings service on a real SQLite log, driven over the in-process bus, with a clock the test moves.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use prost::Message as _;
use ttx_eventlog_sqlite::SqliteLog;
use ttx_kernel::bus::{CallError, call_raw};
use ttx_kernel::{Bus, EventLog, InProcessBus, ManualClock, StreamId, Timestamp};
use ttx_proto::common::v1::{Actor, Role};
use ttx_proto::listings::v1::{self as pb, subjects};

const WAIT: Duration = Duration::from_secs(20);
const DAY: Duration = Duration::from_secs(86_400);

struct Listings {
    bus: Arc<dyn Bus>,
    log: Arc<SqliteLog>,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

fn actor(user: &str, org: &str, role: Role) -> Actor {
    Actor { user_id: user.into(), org_id: org.into(), role: role.into(), roles: vec![role.into()] }
}

fn manager() -> Actor {
    actor("zhangwei", "uni", Role::TechManager)
}

fn reviewer() -> Actor {
    actor("liuyang", "uni", Role::Reviewer)
}

fn enterprise() -> Actor {
    actor("zhaomin", "firm", Role::EnterpriseMember)
}

fn listing() -> pb::Listing {
    pb::Listing {
        title: "高能量密度锂离子电池正极材料".into(),
        summary: "一种高镍三元正极材料的制备方法，循环寿命显著提升。".into(),
        field: pb::TechField::NewEnergy.into(),
        industry: "电池制造".into(),
        keywords: vec!["锂离子电池".into(), "正极材料".into()],
        innovations: vec!["循环寿命提升30%".into()],
        indicators: "比容量 ≥ 210 mAh/g".into(),
        trl: Some(pb::TrlAssessment {
            level: 6,
            assessor: "第三方评价机构".into(),
            assessed_on: "2026-03-01".into(),
            evidence: "中试报告".into(),
        }),
        form: pb::ResultForm::Material.into(),
        ip_rights: vec![],
        holders: vec![pb::Holder { org_id: "uni".into(), share_bp: 10_000 }],
        inventors: vec!["王教授".into()],
        secrecy: pb::Secrecy::Public.into(),
        modes: vec![pb::TransactionMode::Assignment.into()],
        asking_price_fen: Some(500_000_000),
        route: pb::PricingRoute::Negotiated.into(),
        visibility: pb::Visibility::Public.into(),
    }
}

async fn start(instances: usize) -> Listings {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(SqliteLog::open(dir.path()).unwrap());
    let bus: Arc<dyn Bus> = Arc::new(InProcessBus::new());
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_micros(1_790_000_000_000_000)));
    for _ in 0..instances {
        let deps = ttx_listings::Deps { log: log.clone(), bus: bus.clone(), clock: clock.clone() };
        tokio::spawn(ttx_listings::run(deps, std::future::pending()));
    }
    let listings = Listings { bus, log, clock, _dir: dir };
    let mut ready = false;
    for _ in 0..500 {
        if listings.list(manager()).await.is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(ready, "the listings service never answered");
    listings
}

fn ctx(actor: Actor, id: &str) -> Option<pb::CommandContext> {
    Some(pb::CommandContext { actor: Some(actor), command_id: id.into() })
}

fn code(r: Result<impl std::fmt::Debug, CallError>) -> (String, String) {
    match r {
        Err(CallError::Remote { code, field, .. }) => (code, field),
        other => panic!("expected a typed error, got {other:?}"),
    }
}

impl Listings {
    async fn send(&self, subject: &str, m: impl prost::Message) -> Result<Bytes, CallError> {
        call_raw(self.bus.as_ref(), subject, m.encode_to_vec().into(), WAIT).await
    }

    async fn act(&self, subject: &str, who: Actor, id: &str) -> Result<Bytes, CallError> {
        let (context, result_id) = (ctx(who, id), "r1".to_owned());
        match subject {
            subjects::SUBMIT_RESULT => self.send(subject, pb::SubmitResult { context, result_id }).await,
            subjects::APPROVE_RESULT => self.send(subject, pb::ApproveResult { context, result_id }).await,
            _ => self.send(subject, pb::PublishResult { context, result_id }).await,
        }
    }

    async fn get(&self, who: Actor) -> Result<pb::ResultView, CallError> {
        let q = pb::GetResult { asker: Some(who), result_id: "r1".into() };
        self.send(subjects::GET_RESULT, q).await.map(|b| pb::ResultView::decode(b).unwrap())
    }

    async fn list(&self, who: Actor) -> Result<Vec<pb::ResultView>, CallError> {
        let q = pb::ListResults { asker: Some(who), owner_org_id: String::new(), page: None };
        self.send(subjects::LIST_RESULTS, q).await.map(|b| pb::ResultList::decode(b).unwrap().results)
    }

    /// The result's notice as anyone sees it (whether a deal may close is negotiation's rule over these facts).
    async fn notice(&self) -> Option<pb::NoticeView> {
        self.get(enterprise()).await.unwrap().notice
    }

    async fn publish(&self) {
        let create =
            pb::CreateResult { context: ctx(manager(), "c1"), result_id: "r1".into(), listing: Some(listing()) };
        self.send(subjects::CREATE_RESULT, create).await.unwrap();
        self.act(subjects::SUBMIT_RESULT, manager(), "c2").await.unwrap();
        self.act(subjects::APPROVE_RESULT, reviewer(), "c3").await.unwrap();
        self.act(subjects::PUBLISH_RESULT, manager(), "c4").await.unwrap();
    }

    async fn events(&self) -> Vec<String> {
        let stream = StreamId::parse("listings-result-r1").unwrap();
        let events = self.log.read_stream(&stream, 1, 1000).await.unwrap();
        events.iter().map(|e| e.event_type().trim_start_matches("ttx.listings.v1.").to_owned()).collect()
    }
}

/// One instance whose timer the test fires itself (`fire_due`), so that "not yet" is shown, not waited for.
async fn start_with_a_hand_fired_timer() -> (Listings, Arc<ttx_listings::Service>) {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(SqliteLog::open(dir.path()).unwrap());
    let bus: Arc<dyn Bus> = Arc::new(InProcessBus::new());
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_micros(1_790_000_000_000_000)));
    let service = Arc::new(ttx_listings::Service::new(log.clone(), clock.clone()));
    tokio::spawn(service.clone().project());
    tokio::spawn(service.clone().react());
    service.router().serve(bus.as_ref()).await.unwrap();
    (Listings { bus, log, clock, _dir: dir }, service)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_is_published_with_a_notice_objected_to_resolved_and_ended_by_the_clock() {
    let (l, timer) = start_with_a_hand_fired_timer().await;
    l.publish().await;
    assert!(l.notice().await.is_none());
    let notice =
        pb::StartNotice { context: ctx(manager(), "c5"), result_id: "r1".into(), price_fen: 480_000_000, days: 15 };
    l.send(subjects::START_NOTICE, notice).await.unwrap();
    assert!(!l.notice().await.unwrap().ended);

    let object = pb::RaiseObjection {
        context: ctx(enterprise(), "c6"),
        result_id: "r1".into(),
        objection_id: "o1".into(),
        text: "价格偏低".into(),
    };
    l.send(subjects::RAISE_OBJECTION, object).await.unwrap();
    let answer = pb::AnswerObjection {
        context: ctx(manager(), "c7"),
        result_id: "r1".into(),
        objection_id: "o1".into(),
        answer: "经第三方评估".into(),
    };
    l.send(subjects::ANSWER_OBJECTION, answer).await.unwrap();
    let resolve = pb::ResolveObjection {
        context: ctx(reviewer(), "c8"),
        result_id: "r1".into(),
        objection_id: "o1".into(),
        upheld: false,
        note: "评估充分".into(),
    };
    l.send(subjects::RESOLVE_OBJECTION, resolve).await.unwrap();

    // Not yet: the notice runs 15 days from Monday 2026-09-21 (22:13 Beijing); its last day, 10-06, falls in the
    // National Day holiday, so it runs to 24:00 Beijing on 10-08 (Civil Code art. 201–203), past 15 × 24 h.
    l.clock.advance(17 * DAY);
    timer.caught_up().await.unwrap();
    let fired = timer.fire_due().await;
    assert!(fired.iter().all(|(what, ..)| *what != "notice-end"), "not due before its last day is over: {fired:?}");
    assert!(!l.notice().await.unwrap().ended, "not ended before its last day is over");
    l.clock.advance(DAY);
    let fired = timer.fire_due().await;
    assert_eq!(fired, [("notice-end", "listings-result-r1".to_owned(), 1)], "the timer ends the notice once it is due");
    assert!(l.notice().await.is_some_and(|n| n.ended), "the timer ended the notice");
    let view = l.get(enterprise()).await.unwrap();
    let notice = view.notice.unwrap();
    assert!(notice.ended);
    assert_eq!(notice.objections[0].resolution, 2, "dismissed");
    assert_eq!(
        l.events().await,
        [
            "ResultCreated",
            "ResultSubmitted",
            "ResultApproved",
            "ResultPublished",
            "NoticeStarted",
            "ObjectionRaised",
            "ObjectionAnswered",
            "ObjectionResolved",
            "NoticeEnded"
        ]
    );
}

/// Two instances on one log, their timers fired at once once both have read the notice: both try to end it, and
/// exactly one writes the ending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_two_instances_a_notice_ends_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(SqliteLog::open(dir.path()).unwrap());
    let bus: Arc<dyn Bus> = Arc::new(InProcessBus::new());
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_micros(1_790_000_000_000_000)));
    let [a, b] = [(); 2].map(|()| Arc::new(ttx_listings::Service::new(log.clone(), clock.clone())));
    for s in [&a, &b] {
        tokio::spawn(s.clone().project());
    }
    a.router().serve(bus.as_ref()).await.unwrap();
    let l = Listings { bus, log, clock, _dir: dir };
    l.publish().await;
    let notice = pb::StartNotice { context: ctx(manager(), "c5"), result_id: "r1".into(), price_fen: 1_000, days: 15 };
    l.send(subjects::START_NOTICE, notice).await.unwrap();
    l.clock.advance(18 * DAY);
    // Both instances have read the notice before either timer fires.
    let (ready_a, ready_b) = tokio::join!(a.caught_up(), b.caught_up());
    ready_a.unwrap();
    ready_b.unwrap();
    let (fired_a, fired_b) = tokio::join!(a.fire_due(), b.fire_due());
    let ending = |fired: &[(&str, String, usize)]| {
        fired.iter().find(|(what, stream, _)| *what == "notice-end" && stream == "listings-result-r1").map(|f| f.2)
    };
    let (wrote_a, wrote_b) = (ending(&fired_a), ending(&fired_b));
    assert!(wrote_a.is_some() && wrote_b.is_some(), "both tried: {fired_a:?} {fired_b:?}");
    let mut wrote = [wrote_a.unwrap_or_default(), wrote_b.unwrap_or_default()];
    wrote.sort_unstable();
    assert_eq!(wrote, [0, 1], "exactly one wrote: {fired_a:?} {fired_b:?}");
    // A later look, once it has read the ending, finds nothing due.
    a.caught_up().await.unwrap();
    assert!(ending(&a.fire_due().await).is_none());
    assert_eq!(l.events().await.iter().filter(|e| *e == "NoticeEnded").count(), 1);
}

#[tokio::test]
async fn only_the_holder_and_the_supervisors_see_a_result_before_it_is_published() {
    let l = start(1).await;
    let create = pb::CreateResult { context: ctx(manager(), "c1"), result_id: "r1".into(), listing: Some(listing()) };
    l.send(subjects::CREATE_RESULT, create).await.unwrap();
    assert_eq!(code(l.get(enterprise()).await).0, "not_found");
    assert!(l.get(reviewer()).await.is_ok());
    assert!(l.get(actor("wufang", "agency", Role::Regulator)).await.is_ok());
    assert!(l.list(enterprise()).await.unwrap().is_empty());
    assert_eq!(l.list(manager()).await.unwrap().len(), 1);
    l.act(subjects::SUBMIT_RESULT, manager(), "c2").await.unwrap();
    l.act(subjects::APPROVE_RESULT, reviewer(), "c3").await.unwrap();
    l.act(subjects::PUBLISH_RESULT, manager(), "c4").await.unwrap();
    assert_eq!(l.get(enterprise()).await.unwrap().status, pb::ResultStatus::Published as i32);
    assert_eq!(l.list(enterprise()).await.unwrap().len(), 1);
    // Listed as public: anonymous visitors see it once it is published.
    assert!(l.get(Actor::default()).await.is_ok());
}

#[tokio::test]
async fn an_invalid_listing_names_its_field_and_writes_nothing() {
    let l = start(1).await;
    type Spoil = Box<dyn Fn(&mut pb::Listing)>;
    let cases: Vec<(Spoil, &str)> = vec![
        (Box::new(|p| p.title = "  ".into()), "listing.title"),
        (Box::new(|p| p.keywords = vec!["a".into(), "b".into(), "c".into(), "d".into()]), "listing.keywords"),
        (Box::new(|p| p.trl.as_mut().unwrap().level = 10), "listing.trl.level"),
        (Box::new(|p| p.trl.as_mut().unwrap().assessed_on = "2026-02-30".into()), "listing.trl.assessed_on"),
        (Box::new(|p| p.field = 99), "listing.field"),
        (Box::new(|p| p.modes = vec![42]), "listing.modes[0]"),
        (Box::new(|p| p.asking_price_fen = Some(-1)), "listing.asking_price_fen"),
        (Box::new(|p| p.inventors.clear()), "listing.inventors"),
        (Box::new(|p| p.trl = None), "listing.trl"),
        (Box::new(|p| p.asking_price_fen = Some(i64::MAX)), "listing.asking_price_fen"),
        // Classified content never enters the log.
        (Box::new(|p| p.secrecy = pb::Secrecy::Secret.into()), "listing.secrecy"),
        (Box::new(|p| p.secrecy = pb::Secrecy::Confidential.into()), "listing.secrecy"),
        (Box::new(|p| p.secrecy = pb::Secrecy::TopSecret.into()), "listing.secrecy"),
    ];
    for (i, (spoil, field)) in cases.into_iter().enumerate() {
        let mut bad = listing();
        spoil(&mut bad);
        let create =
            pb::CreateResult { context: ctx(manager(), &format!("c{i}")), result_id: "r1".into(), listing: Some(bad) };
        assert_eq!(code(l.send(subjects::CREATE_RESULT, create).await), ("invalid_input".into(), field.into()));
    }
    let mut half = listing();
    half.holders[0].share_bp = 5_000;
    let create = pb::CreateResult { context: ctx(manager(), "c-half"), result_id: "r1".into(), listing: Some(half) };
    assert_eq!(code(l.send(subjects::CREATE_RESULT, create).await).0, "rejected");
    let create =
        pb::CreateResult { context: ctx(enterprise(), "c-firm"), result_id: "r1".into(), listing: Some(listing()) };
    assert_eq!(code(l.send(subjects::CREATE_RESULT, create).await).0, "forbidden");
    assert_eq!(l.log.head().await.unwrap(), 0);
}

proptest::proptest! {
    /// Money is never wrong: any asking price, over the full i64 range, is refused naming its field or is 1 fen to the
    /// rules' ceiling.
    #[test]
    fn an_asking_price_is_refused_or_within_the_rules(
        price in proptest::prop_oneof![
            proptest::strategy::Just(i64::MIN),
            proptest::strategy::Just(0i64),
            proptest::strategy::Just(1i64),
            proptest::strategy::Just(ttx_listings::domain::RULES_2026.max_amount_fen + 1),
            proptest::strategy::Just(i64::MAX),
            proptest::arbitrary::any::<i64>(),
        ],
    ) {
        let mut l = listing();
        l.asking_price_fen = Some(price);
        match ttx_listings::values::validate_listing(l) {
            Ok(v) => proptest::prop_assert!(matches!(
                v.price,
                ttx_listings::domain::AskingPrice::Fen(p) if (1..=ttx_listings::domain::RULES_2026.max_amount_fen).contains(&p)
            )),
            Err(e) => proptest::prop_assert_eq!(e.field, "listing.asking_price_fen"),
        }
    }
}
