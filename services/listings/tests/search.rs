//! Search and matching through the listings service, on a real SQLite log over the in-process bus: Chinese queries,
//! facets, a withdrawn result leaving the index, an index rebuilt from the log equal to the live one, and a new
//! demand's matches recorded once with the holder notified.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use prost::Message as _;
use ttx_eventlog_sqlite::SqliteLog;
use ttx_kernel::bus::{CallError, call_raw};
use ttx_kernel::{
    AppendRequest, Bus, CommandId, EventLog, ExpectedVersion, InProcessBus, ManualClock, NewEvent, StreamId, Timestamp,
};
use ttx_listings::Service;
use ttx_proto::common::v1::{Actor, Role};
use ttx_proto::listings::v1::{self as pb, subjects};

const WAIT: Duration = Duration::from_secs(20);
const NOW: i64 = 1_790_000_000_000_000;

fn actor(user: &str, org: &str, role: Role) -> Actor {
    Actor { user_id: user.into(), org_id: org.into(), role: role.into(), roles: vec![role.into()] }
}

fn manager(org: &str) -> Actor {
    actor(&format!("{org}-manager"), org, Role::TechManager)
}

fn reviewer(org: &str) -> Actor {
    actor(&format!("{org}-reviewer"), org, Role::Reviewer)
}

fn enterprise() -> Actor {
    actor("zhaomin", "firm", Role::EnterpriseMember)
}

fn ctx(actor: Actor, id: String) -> Option<pb::CommandContext> {
    Some(pb::CommandContext { actor: Some(actor), command_id: id })
}

struct Market {
    bus: Arc<dyn Bus>,
    log: Arc<SqliteLog>,
    clock: Arc<ManualClock>,
    live: Arc<Service>,
    _dir: tempfile::TempDir,
}

/// A service with its projection, indexer, timers and reactions, serving the bus; as `ttx_listings::run` starts it.
async fn serve(log: Arc<SqliteLog>, clock: Arc<ManualClock>, bus: &Arc<dyn Bus>) -> Arc<Service> {
    let service = Arc::new(Service::new(log, clock));
    tokio::spawn(service.clone().project());
    tokio::spawn(service.clone().index());
    tokio::spawn(service.clone().timers());
    tokio::spawn(service.clone().react());
    service.router().serve(bus.as_ref()).await.unwrap();
    service
}

async fn register(log: &SqliteLog, org: &str, region: &str) {
    let payload = ttx_proto::identity::v1::OrganisationRegistered {
        org_id: org.into(),
        kind: 1,
        name: org.into(),
        credit_code: String::new(),
        region: region.into(),
    };
    let event = NewEvent::new(
        uuid::Uuid::now_v7(),
        "ttx.identity.v1.OrganisationRegistered",
        Timestamp::from_unix_micros(NOW),
        payload.encode_to_vec(),
    );
    let request = AppendRequest {
        stream: StreamId::parse(format!("identity-org-{org}")).unwrap(),
        expected: ExpectedVersion::NoStream,
        command_id: CommandId::parse(format!("register-{org}")).unwrap(),
        events: vec![event],
    };
    log.append(request).await.unwrap();
}

async fn market() -> Market {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(SqliteLog::open(dir.path()).unwrap());
    for (org, region) in [("uni", "上海市"), ("inst", "北京市"), ("firm", "深圳市")] {
        register(&log, org, region).await;
    }
    let bus: Arc<dyn Bus> = Arc::new(InProcessBus::new());
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_micros(NOW)));
    let live = serve(log.clone(), clock.clone(), &bus).await;
    Market { bus, log, clock, live, _dir: dir }
}

struct Offer<'a> {
    id: &'a str,
    org: &'a str,
    title: &'a str,
    summary: &'a str,
    field: pb::TechField,
    trl: u32,
    price: Option<i64>,
}

impl Market {
    async fn send(&self, subject: &str, m: impl prost::Message) -> Result<Bytes, CallError> {
        call_raw(self.bus.as_ref(), subject, m.encode_to_vec().into(), WAIT).await
    }

    async fn create(&self, o: &Offer<'_>) {
        let listing = pb::Listing {
            title: o.title.into(),
            summary: o.summary.into(),
            field: o.field.into(),
            industry: String::new(),
            keywords: vec![],
            innovations: vec![],
            indicators: String::new(),
            trl: Some(pb::TrlAssessment {
                level: o.trl,
                assessor: "第三方评价机构".into(),
                assessed_on: "2026-03-01".into(),
                evidence: "测试报告".into(),
            }),
            form: pb::ResultForm::Process.into(),
            ip_rights: vec![],
            holders: vec![pb::Holder { org_id: o.org.into(), share_bp: 10_000 }],
            inventors: vec!["王教授".into()],
            secrecy: pb::Secrecy::Public.into(),
            modes: vec![pb::TransactionMode::Assignment.into(), pb::TransactionMode::NonExclusiveLicence.into()],
            asking_price_fen: o.price,
            route: pb::PricingRoute::Negotiated.into(),
            visibility: pb::Visibility::RegisteredUsers.into(),
        };
        let create = pb::CreateResult {
            context: ctx(manager(o.org), format!("{}-create", o.id)),
            result_id: o.id.into(),
            listing: Some(listing),
        };
        self.send(subjects::CREATE_RESULT, create).await.unwrap();
    }

    async fn publish(&self, o: &Offer<'_>) {
        self.create(o).await;
        let context = |who, step: &str| ctx(who, format!("{}-{step}", o.id));
        let result_id = || o.id.to_owned();
        let submit = pb::SubmitResult { context: context(manager(o.org), "submit"), result_id: result_id() };
        self.send(subjects::SUBMIT_RESULT, submit).await.unwrap();
        let approve = pb::ApproveResult { context: context(reviewer(o.org), "approve"), result_id: result_id() };
        self.send(subjects::APPROVE_RESULT, approve).await.unwrap();
        let publish = pb::PublishResult { context: context(manager(o.org), "publish"), result_id: result_id() };
        self.send(subjects::PUBLISH_RESULT, publish).await.unwrap();
    }

    async fn search(&self, q: pb::Search) -> pb::SearchResults {
        pb::SearchResults::decode(self.send(subjects::SEARCH, q).await.unwrap()).unwrap()
    }
}

fn query(q: &str) -> pb::Search {
    pb::Search { asker: Some(enterprise()), q: q.into(), ..pb::Search::default() }
}

fn ids(r: &pb::SearchResults) -> Vec<&str> {
    r.hits.iter().map(|h| h.id.as_str()).collect()
}

fn facet<'a>(r: &'a pb::SearchResults, name: &str) -> Vec<(i32, &'a str, u64)> {
    let f = r.facets.iter().find(|f| f.name == name).unwrap();
    f.counts.iter().map(|c| (c.code, c.label.as_str(), c.count)).collect()
}

const LITHIUM: Offer<'static> = Offer {
    id: "r-li",
    org: "uni",
    title: "高镍锂离子电池正极材料制备技术",
    summary: "一种高能量密度的三元正极材料，循环寿命提升30%，适用于动力电池。",
    field: pb::TechField::NewEnergy,
    trl: 6,
    price: Some(500_000_000),
};
const SODIUM: Offer<'static> = Offer {
    id: "r-na",
    org: "inst",
    title: "钠离子电池层状氧化物正极",
    summary: "低成本储能电池正极材料，原料来源广泛。",
    field: pb::TechField::NewEnergy,
    trl: 4,
    price: Some(80_000_000),
};
const RICE: Offer<'static> = Offer {
    id: "r-rice",
    org: "inst",
    title: "耐盐碱水稻分子育种技术",
    summary: "利用基因编辑培育耐盐碱水稻新品种，亩产提高15%。",
    field: pb::TechField::Biomedicine,
    trl: 7,
    price: None,
};
const DRAFT: Offer<'static> = Offer {
    id: "r-draft",
    org: "uni",
    title: "废旧锂电池回收工艺",
    summary: "尚未提交审核。",
    field: pb::TechField::ResourcesEnvironment,
    trl: 5,
    price: None,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chinese_queries_facets_withdrawal_and_a_rebuild_equal_to_the_live_index() {
    let m = market().await;
    for o in [&LITHIUM, &SODIUM, &RICE] {
        m.publish(o).await;
    }
    m.create(&DRAFT).await;

    // 锂电池 finds the lithium-ion result by its characters; the draft is not searchable.
    let lithium = m.search(query("锂电池")).await;
    assert_eq!(ids(&lithium), vec!["r-li"]);
    let marked: Vec<&str> = lithium.hits[0].title_spans.iter().filter(|s| s.hit).map(|s| s.text.as_str()).collect();
    assert_eq!(marked, vec!["锂", "电池"]);
    assert_eq!(lithium.hits[0].region, "上海市");

    // Everything, with its facets.
    let all = m.search(query("")).await;
    assert_eq!(all.total, 3);
    let energy = pb::TechField::NewEnergy as i32;
    let bio = pb::TechField::Biomedicine as i32;
    assert_eq!(facet(&all, "field"), vec![(bio, "", 1), (energy, "", 2)]);
    assert_eq!(facet(&all, "region"), vec![(0, "北京市", 2), (0, "上海市", 1)]);
    assert_eq!(facet(&all, "trl"), vec![(4, "", 1), (6, "", 1), (7, "", 1)]);
    let assignment = pb::TransactionMode::Assignment as i32;
    assert_eq!(facet(&all, "mode")[0], (assignment, "", 3));
    assert_eq!(
        facet(&all, "price").iter().map(|(_, l, n)| (*l, *n)).collect::<Vec<_>>(),
        vec![("50万–100万", 1), ("500万–1000万", 1), ("面议", 1)]
    );
    let beijing_energy = m.search(pb::Search { region: "北京市".into(), field: energy, ..query("") }).await;
    assert_eq!(ids(&beijing_energy), vec!["r-na"]);
    let by_price = m.search(pb::Search { sort: "price_desc".into(), ..query("电池") }).await;
    assert_eq!(ids(&by_price), vec!["r-li", "r-na"]);

    // A withdrawn result leaves the index.
    let withdraw = pb::WithdrawResult {
        context: ctx(manager("inst"), "withdraw-na".into()),
        result_id: "r-na".into(),
        reason: "转让意向变更".into(),
    };
    m.send(subjects::WITHDRAW_RESULT, withdraw).await.unwrap();
    assert_eq!(ids(&m.search(query("电池")).await), vec!["r-li"]);

    // Bad input is refused with the field named.
    let bad = m.send(subjects::SEARCH, pb::Search { sort: "cheapest".into(), ..query("") }).await;
    assert!(matches!(bad, Err(CallError::Remote { code, field, .. }) if code == "invalid_input" && field == "sort"));

    // An index rebuilt from the log holds the same documents and answers the same.
    let bus: Arc<dyn Bus> = Arc::new(InProcessBus::new());
    let rebuilt = serve(m.log.clone(), m.clock.clone(), &bus).await;
    let rebuilt_market = Market {
        bus,
        log: m.log.clone(),
        clock: m.clock.clone(),
        live: rebuilt.clone(),
        _dir: tempfile::tempdir().unwrap(),
    };
    for q in ["锂电池", "电池", "", "水稻", "正极材料"] {
        let (a, b) = (m.search(query(q)).await, rebuilt_market.search(query(q)).await);
        assert_eq!(ids(&a), ids(&b), "{q}");
        assert_eq!(a.facets, b.facets, "{q}");
        assert_eq!(a.total, b.total, "{q}");
    }
    assert_eq!(m.live.search_index().documents(), rebuilt_market.live.search_index().documents());
    assert_eq!(m.live.search_index().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_demand_is_matched_once_and_the_holders_are_notified() {
    let m = market().await;
    // A second instance on the same log: both see the demand, one record is kept.
    let twin = serve(m.log.clone(), m.clock.clone(), &m.bus).await;
    for o in [&LITHIUM, &SODIUM, &RICE] {
        m.publish(o).await;
    }
    let post = pb::PostDemand {
        context: ctx(enterprise(), "post-d1".into()),
        demand_id: "d1".into(),
        demand: Some(pb::Demand {
            title: "寻求高能量密度锂离子电池正极材料".into(),
            field: pb::TechField::NewEnergy.into(),
            indicators: "循环寿命 ≥ 2000 次".into(),
            problem: "现有动力电池正极材料能量密度不足，希望引进高镍三元正极技术。".into(),
            existing_conditions: "已有中试线".into(),
            budget_fen: 600_000_000,
            cooperation_mode: "技术转让".into(),
            wanted_trl: 5,
            valid_until: Some(Timestamp::from_unix_micros(NOW + 90 * 86_400_000_000).to_proto()),
        }),
        challenge: None,
    };
    m.send(subjects::POST_DEMAND, post).await.unwrap();

    let mut notices = Vec::new();
    for _ in 0..200 {
        let q = pb::ListNotifications { asker: Some(manager("uni")), page: None };
        notices =
            pb::NotificationList::decode(m.send(subjects::LIST_NOTIFICATIONS, q).await.unwrap()).unwrap().notifications;
        if !notices.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(notices.len(), 1, "the lithium result's holder is notified");
    assert_eq!((notices[0].demand_id.as_str(), notices[0].result_id.as_str()), ("d1", "r-li"));
    assert!(notices[0].score >= 80, "field, TRL, budget and text fit: {}", notices[0].score);
    let reasons: Vec<&str> = notices[0].reasons.iter().map(|r| r.factor.as_str()).collect();
    assert_eq!(reasons, vec!["text", "field", "trl", "budget", "region"]);

    // The rice result is no match; the institute hears nothing.
    let q = pb::ListNotifications { asker: Some(manager("inst")), page: None };
    let inst = pb::NotificationList::decode(m.send(subjects::LIST_NOTIFICATIONS, q).await.unwrap()).unwrap();
    assert!(inst.notifications.iter().all(|n| n.result_id != "r-rice"));

    // Matches on demand, both ways.
    let q = pb::FindMatches { asker: Some(enterprise()), demand_id: "d1".into(), result_id: String::new(), limit: 3 };
    let for_demand = pb::MatchList::decode(m.send(subjects::FIND_MATCHES, q).await.unwrap()).unwrap();
    assert_eq!(for_demand.matches[0].id, "r-li");
    assert!(for_demand.matches.windows(2).all(|w| w[0].score >= w[1].score));
    let q =
        pb::FindMatches { asker: Some(manager("uni")), demand_id: String::new(), result_id: "r-li".into(), limit: 3 };
    let for_result = pb::MatchList::decode(m.send(subjects::FIND_MATCHES, q).await.unwrap()).unwrap();
    assert_eq!(for_result.matches.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(), vec!["d1"]);

    // Recorded once, though two instances saw the demand: once both are done with it (each tried, or read the
    // other's record first), the log holds one record.
    let mut settled = false;
    for _ in 0..400 {
        if m.live.match_settled("d1").await && twin.match_settled("d1").await {
            settled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(settled, "both instances are done with the demand");
    let stream = StreamId::parse("listings-match-d1").unwrap();
    assert_eq!(m.log.read_stream(&stream, 1, 100).await.unwrap().len(), 1);
}
