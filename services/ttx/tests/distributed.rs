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
    assert_eq!(ready["log_head"], 0);

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
