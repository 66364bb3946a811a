//! `ttx bench bids`: one hot bidding session, many bidders at once over HTTP, against the whole exchange in this
//! process (embedded log, or JetStream with `--nats`): accepted bids per second and bid latency.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use prost::Message;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use ttx_gateway::token::{Claims, KeyRing};
use ttx_kernel::{AppendRequest, Clock, CommandId, ExpectedVersion, NewEvent, StreamId, SystemClock, Timestamp};
use ttx_proto::common::v1::Role;
use ttx_proto::listings::v1 as lpb;

use crate::bench::{Latencies, bench_root, ms};
use crate::cli::BenchBidsArgs;
use crate::config::Config;
use crate::serve::{ServiceName, Wiring, open_log, serve_wired};

const START: i64 = 100_000_000;
const STEP: i64 = 100_000;

/// One HTTP/1.1 connection kept alive for a bidder's requests.
struct Conn {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

impl Conn {
    async fn open(addr: SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (r, w) = stream.into_split();
        Ok(Self { reader: BufReader::new(r), writer: w })
    }

    async fn send(
        &mut self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let body = body.map(Value::to_string).unwrap_or_default();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        );
        self.writer.write_all(head.as_bytes()).await?;
        self.writer.write_all(body.as_bytes()).await?;
        let mut status_line = String::new();
        self.reader.read_line(&mut status_line).await?;
        let status: u16 = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).context("no status")?;
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).await?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((_, value)) = line.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case("content-length")) {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut buf = vec![0; length];
        self.reader.read_exact(&mut buf).await?;
        Ok((status, serde_json::from_slice(&buf).unwrap_or(Value::Null)))
    }
}

fn token(keys: &KeyRing, user: &str, org: &str, role: Role, now: i64) -> String {
    keys.sign(&Claims {
        sub: user.into(),
        org: org.into(),
        roles: vec![role as i32],
        iat: now,
        exp: now + 3600,
        jti: uuid::Uuid::now_v7().to_string(),
    })
}

/// A published result priced by auction, recorded as listings would record it.
async fn seed(config: &Config) -> anyhow::Result<()> {
    let log = open_log(config).await?;
    let at = SystemClock.now();
    let listing = lpb::Listing {
        title: "竞价基准成果".into(),
        summary: "用于竞价基准的成果。".into(),
        field: lpb::TechField::NewEnergy.into(),
        trl: Some(lpb::TrlAssessment {
            level: 6,
            assessor: "第三方评价机构".into(),
            assessed_on: "2026-03-01".into(),
            evidence: "中试报告".into(),
        }),
        form: lpb::ResultForm::Process.into(),
        holders: vec![lpb::Holder { org_id: "bench-uni".into(), share_bp: 10_000 }],
        inventors: vec!["王教授".into()],
        secrecy: lpb::Secrecy::Public.into(),
        modes: vec![lpb::TransactionMode::Assignment.into()],
        asking_price_fen: Some(START),
        route: lpb::PricingRoute::Auction.into(),
        visibility: lpb::Visibility::Public.into(),
        ..Default::default()
    };
    let created =
        lpb::ResultCreated { result_id: "bench-r1".into(), owner_org_id: "bench-uni".into(), listing: Some(listing) };
    let events = vec![
        NewEvent::new(uuid::Uuid::now_v7(), "ttx.listings.v1.ResultCreated", at, created.encode_to_vec()),
        NewEvent::new(
            uuid::Uuid::now_v7(),
            "ttx.listings.v1.ResultPublished",
            at,
            lpb::ResultPublished {}.encode_to_vec(),
        ),
    ];
    let request = AppendRequest {
        stream: StreamId::parse("listings-result-bench-r1")?,
        expected: ExpectedVersion::NoStream,
        command_id: CommandId::parse("bench-seed")?,
        events,
    };
    log.append(request).await.context("the benchmark needs an empty log")?;
    Ok(())
}

pub async fn bench_bids(args: BenchBidsArgs) -> anyhow::Result<()> {
    let (_tmp, root) = bench_root(args.data_dir)?;
    let mut config = Config { data_dir: root.clone(), ..Config::default() };
    config.http.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    if let Some(url) = &args.nats {
        config.nats.url = url.clone();
    }
    let mode = if args.nats.is_some() { "JetStream" } else { "the embedded log" };
    let pace = match args.rate {
        Some(r) => format!("{r} bids/s offered (open loop)"),
        None => "each bidding again when answered (closed loop)".to_owned(),
    };
    println!(
        "ttx bench bids: {} bidders on one session over HTTP, {} s, {pace}, on {mode}",
        args.bidders, args.seconds
    );
    seed(&config).await?;
    let now = SystemClock.now().unix_micros() / 1_000_000;
    let keys = KeyRing::load_or_create(&config.keys_dir(), now)?;

    let (tx, rx) = tokio::sync::oneshot::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let services: BTreeSet<ServiceName> = ServiceName::ALL.into_iter().collect();
    let server = tokio::spawn(async move {
        serve_wired(config, &services, Wiring { clock: Arc::new(SystemClock), listening: Some(tx) }, async {
            let _ = stopped.await;
        })
        .await
    });
    let addr = rx.await.context("the exchange did not start")?;

    let seller = token(&keys, "bench-manager", "bench-uni", Role::TechManager, now);
    let admin = token(&keys, "bench-admin", "bench-ops", Role::Admin, now);
    let at = |s: i64| Timestamp::from_unix_micros((now + s) * 1_000_000).to_string();
    let rules = json!({
        "start_price_fen": START, "increment_fen": STEP, "deposit_fen": START / 10,
        "registration_closes": at(3_000), "bidding_opens": at(0), "bidding_closes": at(3_600),
        "anti_sniping": "extension", "window_seconds": 300
    });
    let terms = json!({
        "mode": "assignment",
        "payments": [{ "share_bp": 10_000, "after": { "event": "signing", "working_days": 10 } }]
    });
    let mut c = Conn::open(addr).await?;
    let (status, body) = c
        .send(
            "POST",
            "/api/v1/sessions",
            &seller,
            Some(&json!({ "result_id": "bench-r1", "rules": rules, "terms": terms })),
        )
        .await?;
    if status != 201 {
        bail!("cannot open the session: {status} {body}");
    }
    let session = body["id"].as_str().unwrap_or_default().to_owned();
    let bidders: Vec<(String, String)> = (0..args.bidders)
        .map(|i| {
            let org = format!("bench-firm-{i:04}");
            (org.clone(), token(&keys, &format!("bench-bidder-{i}"), &org, Role::EnterpriseMember, now))
        })
        .collect();
    let setup = Instant::now();
    for (org, t) in &bidders {
        let (s, b) = c.send("POST", &format!("/api/v1/sessions/{session}/register"), t, None).await?;
        if s != 200 {
            bail!("registration failed: {s} {b}");
        }
        let deposit = json!({ "bidder_org_id": org, "amount_fen": START / 10, "reference": "bench" });
        let (s, b) = c.send("POST", &format!("/api/v1/sessions/{session}/deposits"), &admin, Some(&deposit)).await?;
        if s != 200 {
            bail!("deposit failed: {s} {b}");
        }
    }
    println!("setup: {} bidders registered with deposits in {:.1} s", args.bidders, setup.elapsed().as_secs_f64());

    // Every bidder bids in a loop, each time above the highest amount any bidder has asked for so far.
    let next = Arc::new(AtomicI64::new(0));
    let (accepted, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    // Every bidder's connection is open before the clock starts: connecting is not bidding.
    let mut conns = Vec::with_capacity(bidders.len());
    for _ in &bidders {
        conns.push(Conn::open(addr).await?);
    }
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    // Open loop: bidder i bids every `interval`, starting at an offset of its own; a bid's latency counts from when it
    // was due, so a slow answer that delays the next bid is not hidden.
    let interval = args.rate.filter(|r| *r > 0).map(|r| Duration::from_secs_f64(args.bidders as f64 / r as f64));
    let mut tasks = Vec::new();
    for (i, ((_, t), mut conn)) in bidders.into_iter().zip(conns).enumerate() {
        let offset = interval.map(|d| d.mul_f64(i as f64 / args.bidders as f64));
        let (next, accepted, refused, path) =
            (next.clone(), accepted.clone(), refused.clone(), format!("/api/v1/sessions/{session}/bids"));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut due = started + offset.unwrap_or_default();
            while Instant::now() < deadline {
                let t0 = match interval {
                    Some(d) => {
                        tokio::time::sleep_until(due.into()).await;
                        let t0 = due;
                        due += d;
                        t0
                    }
                    None => Instant::now(),
                };
                if t0 >= deadline {
                    break;
                }
                let k = next.fetch_add(1, Ordering::Relaxed);
                let body = json!({ "amount_fen": START + k * STEP });
                let (status, answer) = conn.send("POST", &path, &t, Some(&body)).await?;
                latencies.push(t0.elapsed());
                match status {
                    201 => accepted.fetch_add(1, Ordering::Relaxed),
                    422 => refused.fetch_add(1, Ordering::Relaxed),
                    other => bail!("a bid answered {other}: {answer}"),
                };
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = started.elapsed();
    let (accepted, refused) = (accepted.load(Ordering::Relaxed), refused.load(Ordering::Relaxed));
    let lat = Latencies::sorted(all);
    let (_, view) = c.send("GET", &format!("/api/v1/sessions/{session}"), &admin, None).await?;
    let stored = view["bid_count"].as_u64().unwrap_or(0);
    println!(
        "bids: {} sent, {accepted} accepted, {refused} refused (outbid while in flight, or the bidder already held \
         the high); {} stored",
        accepted + refused,
        stored
    );
    println!(
        "  accepted bids/s {:.0} (target ≥ 2,000); all bids/s {:.0}",
        accepted as f64 / elapsed.as_secs_f64(),
        (accepted + refused) as f64 / elapsed.as_secs_f64()
    );
    println!("  latency {}  (target p99 < 50 ms)", lat.line());
    println!("  p99 as a number: {:.1} ms", ms(lat.pct(0.99)));
    if stored != accepted {
        bail!("{accepted} bids were accepted but {stored} are in the session");
    }
    let _ = stop.send(());
    server.await??;
    Ok(())
}
