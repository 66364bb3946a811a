//! Several `ttx serve --service …` processes on one NATS server form one exchange, and one trace follows a request
//! from the HTTP gateway in one process to the audit service in another, exported over OTLP to a collector on a real
//! socket.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use prost::Message as _;

use common::{Process, Server, run, text, ttx};

/// A span as the collector received it.
#[derive(Debug, Clone)]
struct Span {
    service: String,
    name: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
}

/// An OTLP/HTTP receiver: decodes every export and keeps the spans.
struct Collector {
    url: String,
    spans: Arc<Mutex<Vec<Span>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Collector {
    fn start() -> Self {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let spans: Arc<Mutex<Vec<Span>>> = Arc::default();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let store = spans.clone();
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: Bytes| {
                let store = store.clone();
                async move {
                    let request = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf export");
                    let mut store = store.lock().unwrap();
                    for rs in request.resource_spans {
                        let service = rs
                            .resource
                            .iter()
                            .flat_map(|r| &r.attributes)
                            .find(|kv| kv.key == "service.name")
                            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                                any_value::Value::StringValue(s) => Some(s.clone()),
                                _ => None,
                            })
                            .unwrap_or_default();
                        for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
                            store.push(Span {
                                service: service.clone(),
                                name: span.name,
                                trace_id: hex::encode(span.trace_id),
                                span_id: hex::encode(span.span_id),
                                parent_span_id: hex::encode(span.parent_span_id),
                            });
                        }
                    }
                    ""
                }
            }),
        );
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, spans, _runtime: runtime }
    }

    fn spans_of(&self, trace_id: &str) -> Vec<Span> {
        self.spans.lock().unwrap().iter().filter(|s| s.trace_id == trace_id).cloned().collect()
    }
}

fn serve(nats: &str, service: &str, otlp: &str, data: &std::path::Path) -> std::process::Command {
    let mut cmd = ttx();
    cmd.args(["serve", "--nats", nats, "--service", service, "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .env("TTX__TELEMETRY__OTLP_ENDPOINT", otlp);
    cmd
}

#[test]
fn a_gateway_and_audit_services_in_separate_processes_form_one_exchange_with_one_trace() {
    let nats = ttx_nats::testing::NatsServer::start();
    let collector = Collector::start();
    let data = tempfile::tempdir().unwrap();
    let data = data.path();

    let mut audit = Process::start(serve(&nats.url(), "audit", &collector.url, data));
    assert!(audit.first_line.starts_with("ttx serving audit over nats://"), "{}", audit.first_line);
    // The gateway is ready only when every service answers: identity, listings and negotiation run in a third process.
    let mut others = ttx();
    others
        .args([
            "serve",
            "--nats",
            &nats.url(),
            "--service",
            "identity",
            "--service",
            "listings",
            "--service",
            "negotiation",
        ])
        .arg("--data-dir")
        .arg(data);
    let _others = Process::start(others);
    let gateway = Server::start(serve(&nats.url(), "gateway", &collector.url, data));

    // The caller's trace context, as a browser or another system would send it (header name in capitals).
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let traceparent = format!("00-{trace_id}-00f067aa0ba902b7-01");
    let (status, _, body) = gateway.request("GET", "/readyz", &[("TraceParent", &traceparent)]);
    assert_eq!(status, 200, "{body}");
    let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["services"]["audit"], "ok");
    assert_eq!(ready["log_head"], 2, "the published holiday schedules, seeded by identity before it answers");

    // Without an audit service the gateway is not ready; another audit process makes it ready again.
    assert!(audit.terminate(), "the audit process stops cleanly and flushes its spans");
    let (status, content_type, body) = gateway.get("/readyz");
    assert_eq!((status, content_type.as_str()), (503, "application/problem+json"), "{body}");
    assert!(body.contains("urn:ttx:problem:not-ready") && body.contains("audit"), "{body}");
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["services"]["audit"], "unavailable");
    assert_eq!(problem["services"]["identity"], "ok");
    let _second = Process::start(serve(&nats.url(), "audit", &collector.url, data));
    assert_eq!(gateway.get("/readyz").0, 200);
    assert!(gateway.terminate());

    // Both processes exported their part of the one trace.
    let deadline = Instant::now() + Duration::from_secs(30);
    let spans = loop {
        let spans = collector.spans_of(trace_id);
        let services: HashMap<&str, usize> = spans.iter().fold(HashMap::new(), |mut m, s| {
            *m.entry(s.service.as_str()).or_default() += 1;
            m
        });
        if services.contains_key("ttx-gateway") && services.contains_key("ttx-audit") {
            break spans;
        }
        assert!(Instant::now() < deadline, "spans of trace {trace_id} so far: {spans:#?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let http = spans.iter().find(|s| s.service == "ttx-gateway" && s.name == "http.request").expect("gateway span");
    assert_eq!(http.parent_span_id, "00f067aa0ba902b7", "the gateway continues the caller's trace");
    let served = spans.iter().find(|s| s.service == "ttx-audit" && s.name == "bus.request").expect("audit span");
    assert_eq!(served.parent_span_id, http.span_id, "the audit service's span is a child of the gateway's");
}

#[test]
fn only_known_services_run_and_a_subset_needs_nats() {
    let out = run(&["serve", "--service", "audit", "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--service needs --nats"), "{}", text(&out.stderr));
    let out = run(&["serve", "--service", "nonsense"]);
    assert_eq!(out.status.code(), Some(2), "clap refuses an unknown service");
    assert!(text(&out.stderr).contains("gateway") && text(&out.stderr).contains("audit"), "{}", text(&out.stderr));
}

#[test]
fn identity_runs_as_its_own_process_behind_a_gateway_on_nats() {
    let nats = ttx_nats::testing::NatsServer::start();
    let data = tempfile::tempdir().unwrap();
    let target = ["--nats", &nats.url(), "--data-dir", data.path().to_str().unwrap()];
    let target: Vec<&str> = target.iter().map(|s| &**s).collect();
    common::admin_create_user(
        &target,
        "root",
        "91310000MA1FL4KX3N",
        "技术交易所",
        "service_institution",
        "admin",
        "root's long password",
    );
    let mut services = ttx();
    services
        .args(["serve", "--nats", &nats.url(), "--service", "identity", "--service", "audit", "--data-dir"])
        .arg(data.path());
    let _services = Process::start(services);
    let mut gateway = ttx();
    gateway
        .args(["serve", "--nats", &nats.url(), "--service", "gateway", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path());
    let gateway = Server::start(gateway);
    common::identity_flow(&gateway, "root's long password");
    assert!(gateway.terminate());
}

/// Two negotiation processes on one NATS server, each asked at the same moment to open an exclusive sale of the same
/// result: exactly one sale opens per result, whichever process took which request (the result's market stream
/// keeps them apart, ADR 0008).
#[test]
fn two_negotiation_processes_racing_for_one_result_open_exactly_one_sale() {
    use ttx_kernel::bus::call_raw;
    use ttx_kernel::{AppendRequest, CommandId, EventLog, ExpectedVersion, NewEvent, StreamId, Timestamp};
    use ttx_proto::common::v1::{Actor, Role};
    use ttx_proto::listings::v1 as lpb;
    use ttx_proto::negotiation::v1::{self as npb, subjects};

    const RESULTS: usize = 30;
    let nats = ttx_nats::testing::NatsServer::start();
    let data = tempfile::tempdir().unwrap();
    let negotiation = || {
        let mut cmd = ttx();
        cmd.args(["serve", "--nats", &nats.url(), "--service", "negotiation", "--data-dir"]).arg(data.path());
        Process::start(cmd)
    };
    let (_a, _b) = (negotiation(), negotiation());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let log = ttx_nats::JetStreamLog::connect(&nats.url(), ttx_nats::JetStreamOptions::default()).await.unwrap();
        let now = Timestamp::from_unix_micros(
            i64::try_from(std::time::SystemTime::UNIX_EPOCH.elapsed().unwrap().as_micros()).unwrap(),
        );
        for i in 0..RESULTS {
            let listing = lpb::Listing {
                route: lpb::PricingRoute::Auction.into(),
                modes: vec![lpb::TransactionMode::Assignment.into()],
                title: format!("成果 {i}"),
                ..Default::default()
            };
            let created =
                lpb::ResultCreated { result_id: format!("r{i}"), owner_org_id: "uni".into(), listing: Some(listing) };
            let events = [("ResultCreated", created.encode_to_vec()), ("ResultPublished", Vec::new())]
                .into_iter()
                .map(|(t, p)| NewEvent::new(uuid::Uuid::now_v7(), format!("ttx.listings.v1.{t}"), now, p))
                .collect();
            let request = AppendRequest {
                stream: StreamId::parse(format!("listings-result-r{i}")).unwrap(),
                expected: ExpectedVersion::NoStream,
                command_id: CommandId::parse(format!("seed-r{i}")).unwrap(),
                events,
            };
            log.append(request).await.unwrap();
        }
        let bus = std::sync::Arc::new(ttx_nats::NatsBus::connect(&nats.url()).await.unwrap());
        let at = |days: i64| Some(Timestamp::from_unix_micros(now.unix_micros() + days * 86_400_000_000).to_proto());
        let manager = Actor {
            user_id: "m".into(),
            org_id: "uni".into(),
            role: Role::TechManager.into(),
            roles: vec![Role::TechManager.into()],
        };
        let open = |result: usize, side: &str| npb::OpenSession {
            context: Some(npb::CommandContext {
                actor: Some(manager.clone()),
                command_id: format!("open-r{result}-{side}"),
            }),
            session_id: format!("s{result}{side}"),
            result_id: format!("r{result}"),
            rules: Some(npb::SessionRules {
                start_price_fen: 100_000_000,
                increment_fen: 1_000_000,
                deposit_fen: 10_000_000,
                registration_closes: at(1),
                bidding_opens: at(1),
                bidding_closes: at(2),
                anti_sniping: "extension".into(),
                window_seconds: 300,
                ..Default::default()
            }),
            terms: Some(ttx_negotiation::terms::single_payment(lpb::TransactionMode::Assignment.into(), 0, 10)),
        };
        let mut pairs = Vec::new();
        for i in 0..RESULTS {
            let (bus_a, bus_b) = (bus.clone(), bus.clone());
            let (a, b) = (open(i, "a").encode_to_vec(), open(i, "b").encode_to_vec());
            pairs.push(tokio::spawn(async move {
                let subject = subjects::OPEN_SESSION;
                let timeout = Duration::from_secs(30);
                futures::join!(
                    call_raw(bus_a.as_ref(), subject, a.into(), timeout),
                    call_raw(bus_b.as_ref(), subject, b.into(), timeout)
                )
            }));
        }
        for (i, pair) in pairs.into_iter().enumerate() {
            let (a, b) = pair.await.unwrap();
            let won = [a.is_ok(), b.is_ok()];
            assert_eq!(won.iter().filter(|w| **w).count(), 1, "result r{i}: exactly one sale opens: {a:?} {b:?}");
            let lost = if won[0] { b } else { a };
            assert!(
                matches!(&lost, Err(ttx_kernel::bus::CallError::Remote { code, .. }) if code == "conflict"),
                "the other is refused as a conflict: {lost:?}"
            );
            // The log holds one sale of the result, in its market and as a session.
            let market =
                log.read_stream(&StreamId::parse(format!("negotiation-market-r{i}")).unwrap(), 1, 100).await.unwrap();
            let opened: Vec<_> = market.iter().filter(|e| e.event_type() == "ttx.negotiation.v1.SaleOpened").collect();
            let ended = market.iter().filter(|e| e.event_type() == "ttx.negotiation.v1.SaleEnded").count();
            assert_eq!(opened.len() - ended, 1, "one sale holds r{i}: {market:?}");
            let mut sessions = 0;
            for side in ["a", "b"] {
                let s = StreamId::parse(format!("negotiation-session-s{i}{side}")).unwrap();
                sessions += usize::from(!log.read_stream(&s, 1, 10).await.unwrap().is_empty());
            }
            assert_eq!(sessions, 1, "one session of r{i} exists");
        }
        // Both processes took commands: the races were between processes, not only within one.
        use futures::StreamExt as _;
        let client = async_nats::connect(nats.url()).await.unwrap();
        let inbox = client.new_inbox();
        let mut replies = client.subscribe(inbox.clone()).await.unwrap();
        client.publish_with_reply("$SRV.STATS.negotiation", inbox, "".into()).await.unwrap();
        let mut busy = 0;
        while let Ok(Some(reply)) = tokio::time::timeout(Duration::from_millis(500), replies.next()).await {
            let stats: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
            let commands: u64 = stats["endpoints"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|e| e["subject"].as_str().is_some_and(|s| s.contains(".cmd.")))
                .filter_map(|e| e["num_requests"].as_u64())
                .sum();
            busy += usize::from(commands > 0);
        }
        assert_eq!(busy, 2, "both negotiation processes opened sales");
    });
}
