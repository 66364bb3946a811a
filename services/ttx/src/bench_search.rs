//! `ttx bench search`: generated results with Chinese titles and abstracts on an embedded log; the time to build the
//! search index from the log; search latency over a fixed query set through the listings service; and the lag from
//! an acknowledged append to the result being searchable.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use futures::StreamExt;
use prost::Message;
use ttx_eventlog_sqlite::SqliteLog;
use ttx_kernel::{AppendRequest, CommandId, EventLog, ExpectedVersion, ManualClock, NewEvent, StreamId, Timestamp};
use ttx_listings::Service;
use ttx_proto::common::v1::{Actor, Role};
use ttx_proto::listings::v1::{self as pb};
use uuid::Uuid;

use crate::bench::{Latencies, bench_root, ms};
use crate::cli::BenchSearchArgs;

const REGIONS: &[&str] = &[
    "北京市",
    "上海市",
    "天津市",
    "重庆市",
    "江苏省",
    "浙江省",
    "广东省",
    "山东省",
    "湖北省",
    "四川省",
    "陕西省",
    "安徽省",
    "福建省",
    "湖南省",
    "河南省",
    "辽宁省",
];
const PREFIXES: &[&str] = &[
    "高效",
    "低成本",
    "新型",
    "智能",
    "高性能",
    "绿色",
    "基于深度学习的",
    "一种",
    "高精度",
    "可降解",
    "大尺寸",
    "长寿命",
];
const SUFFIXES: &[&str] =
    &["制备方法", "及其应用", "关键技术", "生产工艺", "检测方法", "控制系统", "成套装置", "集成技术", "优化设计"];
/// (field, subjects in that field, an industry).
const SUBJECTS: &[(pb::TechField, &[&str], &str)] = &[
    (
        pb::TechField::NewEnergy,
        &[
            "锂离子电池正极材料",
            "钠离子电池负极材料",
            "固态电解质",
            "钙钛矿太阳能电池",
            "氢燃料电池催化剂",
            "风力发电机叶片",
            "储能系统热管理",
            "光伏组件清洗机器人",
        ],
        "新能源汽车",
    ),
    (
        pb::TechField::Biomedicine,
        &["单克隆抗体", "mRNA疫苗递送系统", "基因编辑水稻", "中药有效成分提取", "医用可降解支架", "肿瘤早筛试剂盒"],
        "生物医药",
    ),
    (
        pb::TechField::ElectronicInformation,
        &["5G基站天线", "工业互联网平台", "图像识别算法", "碳化硅功率器件", "量子密钥分发系统", "边缘计算网关"],
        "电子信息",
    ),
    (
        pb::TechField::NewMaterials,
        &["石墨烯导热膜", "碳纤维复合材料", "高温合金", "陶瓷基复合材料", "纳米涂层"],
        "新材料",
    ),
    (
        pb::TechField::AdvancedManufacturing,
        &["工业机器人减速器", "数控机床主轴", "激光焊接工艺", "增材制造装备", "智能检测系统"],
        "装备制造",
    ),
    (pb::TechField::ResourcesEnvironment, &["污水处理膜", "土壤修复药剂", "固废资源化利用", "烟气脱硝催化剂"], "环保"),
    (pb::TechField::Aerospace, &["无人机飞控系统", "卫星姿态控制", "航空发动机叶片涂层"], "航空航天"),
    (pb::TechField::HighTechServices, &["科技成果评价系统", "知识产权运营平台"], "科技服务"),
];
const METRICS: &[&str] = &["能量密度", "转化效率", "循环寿命", "检测精度", "良品率", "处理能力", "响应速度", "强度"];
const PLACES: &[&str] = &["中试基地", "示范生产线", "合作企业", "重点实验室", "产业园区"];
const QUERIES: &[&str] = &[
    "锂电池",
    "锂离子电池正极材料",
    "固态电解质",
    "钠离子电池",
    "太阳能电池",
    "燃料电池催化剂",
    "疫苗",
    "基因编辑",
    "抗体",
    "5G",
    "图像识别",
    "功率器件",
    "石墨烯",
    "碳纤维",
    "工业机器人",
    "数控机床",
    "激光焊接",
    "污水处理",
    "土壤修复",
    "无人机",
    "卫星",
    "制备方法",
    "检测方法",
    "低成本 储能",
    "高温合金 涂层",
    "",
];

/// A small deterministic generator, so every run indexes the same market.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn event(event_type: &str, at: Timestamp, payload: Vec<u8>) -> NewEvent {
    NewEvent::new(Uuid::now_v7(), event_type, at, payload)
}

fn org(i: usize) -> String {
    format!("bench-org-{i}")
}

/// One published result: its creation, review and publication in one append.
fn result_events(rng: &mut Rng, id: &str, title_override: Option<&str>, at: Timestamp) -> (String, Vec<NewEvent>) {
    let (field, subjects, industry) = rng.pick(SUBJECTS);
    let subject = rng.pick(subjects);
    let title = title_override
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{}{}{}", rng.pick(PREFIXES), subject, rng.pick(SUFFIXES)));
    let others = rng.pick(SUBJECTS).1;
    let other = rng.pick(others);
    let summary = format!(
        "本成果面向{industry}领域，提出了一种{}{}{}。与现有技术相比，{}提升{}%，成本降低{}%。已在{}完成{}验证，可与{}结合应用，\
         适用于{industry}企业的产品升级与规模化生产。",
        rng.pick(PREFIXES),
        subject,
        rng.pick(SUFFIXES),
        rng.pick(METRICS),
        10 + rng.below(60),
        5 + rng.below(40),
        rng.pick(PLACES),
        ["实验室", "中试", "小批量生产"][rng.below(3) as usize],
        other,
    );
    let owner = org(rng.below(REGIONS.len() as u64 * 4) as usize);
    let trl = 1 + rng.below(9) as u32;
    let price = (rng.below(10) > 1).then(|| (1 + rng.below(2_000)) as i64 * 1_000_000);
    let listing = pb::Listing {
        title,
        summary,
        field: (*field).into(),
        industry: (*industry).into(),
        keywords: vec![(*subject).into()],
        innovations: vec![format!("{}显著提升", rng.pick(METRICS))],
        indicators: String::new(),
        trl: Some(pb::TrlAssessment {
            level: trl,
            assessor: "第三方评价机构".into(),
            assessed_on: "2026-03-01".into(),
            evidence: "测试报告".into(),
        }),
        form: pb::ResultForm::Process.into(),
        ip_rights: vec![],
        holders: vec![pb::Holder { org_id: owner.clone(), share_bp: 10_000 }],
        inventors: vec!["王教授".into()],
        secrecy: pb::Secrecy::Public.into(),
        modes: vec![
            *rng.pick(&[pb::TransactionMode::Assignment, pb::TransactionMode::ExclusiveLicence]) as i32,
            pb::TransactionMode::NonExclusiveLicence.into(),
        ],
        asking_price_fen: price,
        route: (*rng.pick(&[pb::PricingRoute::Negotiated, pb::PricingRoute::Listed, pb::PricingRoute::Auction])).into(),
        visibility: pb::Visibility::RegisteredUsers.into(),
    };
    let created = pb::ResultCreated { result_id: id.into(), owner_org_id: owner, listing: Some(listing) };
    let events = vec![
        event("ttx.listings.v1.ResultCreated", at, created.encode_to_vec()),
        event("ttx.listings.v1.ResultSubmitted", at, pb::ResultSubmitted { by_user_id: "m".into() }.encode_to_vec()),
        event("ttx.listings.v1.ResultApproved", at, pb::ResultApproved { by_user_id: "r".into() }.encode_to_vec()),
        event("ttx.listings.v1.ResultPublished", at, pb::ResultPublished {}.encode_to_vec()),
    ];
    (format!("listings-result-{id}"), events)
}

async fn append(log: &SqliteLog, stream: String, events: Vec<NewEvent>) -> anyhow::Result<u64> {
    let request = AppendRequest {
        command_id: CommandId::parse(format!("bench:{stream}"))?,
        stream: StreamId::parse(stream)?,
        expected: ExpectedVersion::NoStream,
        events,
    };
    Ok(log.append(request).await?.last_position())
}

/// The query set: every text query, plain and with one of the filters or sorts a user would pick.
fn query_set() -> Vec<pb::Search> {
    let asker = Actor {
        user_id: "bench-user".into(),
        org_id: "bench-enterprise".into(),
        role: Role::EnterpriseMember.into(),
        roles: vec![Role::EnterpriseMember.into()],
    };
    let mut out = Vec::new();
    for (i, q) in QUERIES.iter().enumerate() {
        for variant in 0..4 {
            let mut s = pb::Search { asker: Some(asker.clone()), q: (*q).into(), ..pb::Search::default() };
            match (i + variant) % 6 {
                0 => {}
                1 => s.field = pb::TechField::NewEnergy.into(),
                2 => (s.trl_min, s.trl_max) = (4, 7),
                3 => s.price_max_fen = Some(500_000_000),
                4 => s.sort = "newest".into(),
                _ => {
                    s.sort = "price_asc".into();
                    s.region = "上海市".into();
                }
            }
            out.push(s);
        }
    }
    out
}

fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

pub async fn bench_search(args: BenchSearchArgs) -> anyhow::Result<()> {
    let (_tmp, root) = bench_root(args.data_dir)?;
    let n = args.results.max(100);
    let log = Arc::new(SqliteLog::open(root.join("log")).context("cannot open the benchmark log")?);
    let at = Timestamp::from_unix_micros(1_790_000_000_000_000);
    println!("ttx bench search: {n} published results in {}", root.display());

    for (i, region) in REGIONS.iter().cycle().take(REGIONS.len() * 4).enumerate() {
        let payload = ttx_proto::identity::v1::OrganisationRegistered {
            org_id: org(i),
            kind: 1,
            name: format!("示范大学{i}"),
            credit_code: String::new(),
            region: (*region).into(),
        };
        let e = event("ttx.identity.v1.OrganisationRegistered", at, payload.encode_to_vec());
        append(&log, format!("identity-org-{}", org(i)), vec![e]).await?;
    }
    let started = Instant::now();
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let batches: Vec<(String, Vec<NewEvent>)> =
        (0..n).map(|i| result_events(&mut rng, &format!("b{i:07}"), None, at)).collect();
    let mut appends = futures::stream::iter(batches.into_iter().map(|(s, e)| append(&log, s, e))).buffer_unordered(64);
    while let Some(r) = appends.next().await {
        r?;
    }
    drop(appends);
    let head = log.head().await?;
    println!("generate: {n} results ({} events) appended in {:.1} s", head, started.elapsed().as_secs_f64());

    // Rebuild: a fresh service folds the whole log and indexes it.
    let clock = Arc::new(ManualClock::new(at));
    let rss_before = rss_mib();
    let started = Instant::now();
    let service = Arc::new(Service::new(log.clone(), clock));
    let projection = tokio::spawn(service.clone().project());
    let indexer = tokio::spawn(service.clone().index());
    service.indexed_up_to(head).await;
    let rebuild = started.elapsed();
    if service.search_index().len() as u64 != n {
        bail!("the index holds {} documents, not {n}", service.search_index().len());
    }
    println!(
        "rebuild: {n} documents indexed from the log in {:.2} s ({:.0} results/s){}",
        rebuild.as_secs_f64(),
        n as f64 / rebuild.as_secs_f64(),
        match (rss_before, rss_mib()) {
            (Some(a), Some(b)) => format!("; resident memory {a:.0} → {b:.0} MiB"),
            _ => String::new(),
        }
    );

    // Search latency through the service's query handler (decode, catch-up check, search, facets, encode).
    let router = service.router();
    let queries = query_set();
    for q in queries.iter().take(20) {
        router.call(q).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    let mut latencies = Vec::new();
    let mut hits = 0u64;
    let started = Instant::now();
    for _ in 0..args.rounds.max(1) {
        for q in &queries {
            let t = Instant::now();
            let reply = router.call(q).await;
            latencies.push(t.elapsed());
            let reply = reply.map_err(|e| anyhow::anyhow!("search failed: {e:?}"))?;
            hits += reply.total;
        }
    }
    let total = latencies.len();
    let elapsed = started.elapsed();
    let lat = Latencies::sorted(latencies);
    println!(
        "search: {total} queries ({} distinct, {} rounds), {:.0} queries/s, mean {:.0} matches per query",
        queries.len(),
        args.rounds.max(1),
        total as f64 / elapsed.as_secs_f64(),
        hits as f64 / total as f64
    );
    println!("  {}  (target p99 < 50 ms)", lat.line());

    // Live indexing lag: from an acknowledged append of a newly published result to its being searchable.
    let mut lags = Vec::new();
    for i in 0..args.appends.max(1) {
        let (stream, events) =
            result_events(&mut rng, &format!("live{i:05}"), Some(&format!("实时索引测试成果{i}号")), at);
        let t = Instant::now();
        let position = append(&log, stream, events).await?;
        service.indexed_up_to(position).await;
        lags.push(t.elapsed());
    }
    let probe = pb::Search { q: "实时索引测试成果".into(), ..query_set().remove(0) };
    let found = router.call(&probe).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    if found.total < args.appends.max(1) {
        bail!("only {} of the {} live results are searchable", found.total, args.appends.max(1));
    }
    let lag = Latencies::sorted(lags);
    println!("live indexing lag ({} appends, one at a time): {}  (target p99 < 1000 ms)", lag.0.len(), lag.line());
    println!("  p99 as a number: {:.1} ms", ms(lag.pct(0.99)));
    projection.abort();
    indexer.abort();
    Ok(())
}
