//! The HTTP gateway: the JSON API under `/api/v1`, the probes and the web UI. It reaches the services only through the
//! bus (in-process or NATS), by typed requests (`ttx_kernel::rpc`), never by linking their crates, so it runs in any
//! process of the exchange.
//!
//! # Layout
//! - [`router`]: the routes, with one span per request that continues the caller's W3C trace context, and a request
//!   id (`x-request-id`, the caller's or a new one) on every answer; `/readyz` pings every service of
//!   `ttx_proto::services::ALL`.
//! - [`api`]: the JSON API, one module per context, each serving its routes ([`api::routes`] merges them):
//!   [`api::identity`]: logging in, the caller, organisations, users; [`api::results`]: research results;
//!   [`api::demands`]: demands and open challenges; [`api::search`]: search, matches, notifications;
//!   [`api::negotiation`]: negotiations, listed sales, bidding sessions, a result's market, overdue refunds;
//!   [`api::calendar`]: the holiday schedules, loading a year, the deadlines waiting for one; [`api::kit`]: what they
//!   share, among it [`api::kit::ask`], the one way the gateway sends a request to a service.
//! - [`actions`]: what users do, one function per action (role check, command, call), which the JSON handlers and
//!   the page forms both call.
//! - [`openapi`]: the OpenAPI 3.1 document generated from the handlers, and a page listing it.
//! - [`auth`]: bearer tokens, session cookies with CSRF tokens, the caller as a [`auth::Principal`].
//! - [`token`]: Ed25519-signed JWTs and the key ring (rotation keeps old tokens valid until they expire).
//! - [`throttle`]: failed-login limits per account and per address.
//! - [`ui`]: the web UI (server-rendered, Chinese and English via [`i18n`]), one module per context under it:
//!   [`ui::identity`]: logging in, home, one's organisation, the administrators' pages; [`ui::listings`]: results
//!   (one request to listings for a result's page, one to negotiation for its sales) and demands;
//!   [`ui::negotiation`]: auctions (the live page waits for negotiation's change notices), the negotiation room,
//!   selling from a result's page, overdue refunds; [`ui::calendar`]: the holiday calendar, its pending-deadline alert
//!   and the form that loads a year; [`ui::terms`]: the terms part of sale and offer forms; [`ui::kit`]: what every
//!   page uses.
//!
//!   Modules depend one way: pages → actions → API kit; API routes → actions; `ui::listings` → `ui::negotiation` →
//!   `ui::terms` → `ui::kit`; no module uses one that uses it.
//! - [`metrics`]: request counts and durations per route, and the requests sent over the bus per subject, at
//!   `/metrics` (Prometheus).
//! - [`problem`]: RFC 9457 problem documents with stable `type` URIs (`urn:ttx:problem:…`), and the one table from
//!   a service's reply codes to HTTP statuses and page messages ([`problem::answer`]).
//! - [`run`]: serves a bound listener until shutdown, finishing requests in flight.

pub mod actions;
pub mod api;
pub mod auth;
pub mod i18n;
pub mod metrics;
pub mod openapi;
pub mod problem;
pub mod throttle;
pub mod token;
pub mod ui;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use problem::ApiError;
use serde_json::json;
use tracing::Instrument as _;
use ttx_kernel::Bus;
use ttx_kernel::bus::call_raw;
use ttx_kernel::rpc::call_within;
use ttx_kernel::telemetry;
use ttx_proto::audit::v1::StatusRequest;

/// How long the readiness probe waits for the services.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// What the gateway needs.
#[derive(Clone)]
pub struct Deps {
    pub bus: Arc<dyn Bus>,
    pub auth: Arc<auth::Auth>,
    pub metrics: Arc<metrics::Metrics>,
}

impl std::fmt::Debug for Deps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deps").finish_non_exhaustive()
    }
}

async fn healthz() -> Response {
    (StatusCode::OK, axum::Json(json!({ "status": "ok" }))).into_response()
}

/// Ready when every service behind the gateway ([`ttx_proto::services::ALL`]) answers its ping through the bus and
/// the audit service reports the log's head. Not ready names the services that do not answer.
async fn readyz(State(deps): State<Deps>) -> Response {
    let bus = deps.bus.as_ref();
    let pings = ttx_proto::services::ALL.map(|name| async move {
        let subject = ttx_proto::services::ping_subject(name);
        (name, call_raw(bus, &subject, Bytes::new(), READY_TIMEOUT).await.is_ok())
    });
    let (answered, status) =
        tokio::join!(futures::future::join_all(pings), call_within(bus, &StatusRequest {}, READY_TIMEOUT));
    let log_head = status.ok().map(|s| s.log_head);
    let states: Vec<(&str, bool)> =
        answered.into_iter().map(|(name, ok)| (name, ok && (name != "audit" || log_head.is_some()))).collect();
    let services: serde_json::Map<String, serde_json::Value> =
        states.iter().map(|(name, ok)| ((*name).to_owned(), json!(if *ok { "ok" } else { "unavailable" }))).collect();
    let missing: Vec<&str> = states.iter().filter(|(_, ok)| !ok).map(|(name, _)| *name).collect();
    if missing.is_empty() {
        let body = json!({ "status": "ready", "log_head": log_head, "services": services });
        return (StatusCode::OK, axum::Json(body)).into_response();
    }
    tracing::warn!(?missing, "readiness check failed");
    let body = json!({
        "type": "urn:ttx:problem:not-ready",
        "title": "Not ready",
        "status": 503,
        "detail": format!("these services do not answer: {}", missing.join(", ")),
        "services": services,
    });
    (StatusCode::SERVICE_UNAVAILABLE, [(header::CONTENT_TYPE, "application/problem+json")], body.to_string())
        .into_response()
}

async fn not_found(uri: axum::http::Uri) -> Response {
    ApiError::not_found(format!("nothing at {}", uri.path())).into_response()
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    let detail = format!("{method} is not allowed on {}", uri.path());
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed", detail).into_response()
}

async fn serve_metrics(State(deps): State<Deps>) -> Response {
    let text = deps.metrics.render();
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// Counts each answered request under its route template (unmatched paths count as one route, `other`).
async fn measure(State(deps): State<Deps>, request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "other".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    deps.metrics.record(&method, &route, response.status().as_u16(), started.elapsed());
    response
}

/// Runs each request in a span `http.request`, a child of the caller's `traceparent` when it sends a valid one.
async fn trace_request(request: Request, next: Next) -> Response {
    // The caller's request id when it is a short token, else a new one; echoed on the answer and in the span.
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned);
    let span = tracing::info_span!(
        "http.request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %request_id,
    );
    if let Some(parent) = remote_parent(request.headers()) {
        telemetry::set_remote_parent(&span, parent);
    }
    let mut response = next.run(request).instrument(span).await;
    if let Ok(value) = header::HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

fn remote_parent(headers: &axum::http::HeaderMap) -> Option<telemetry::SpanContext> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    telemetry::parse_traceparent(header(telemetry::TRACEPARENT)?, header(telemetry::TRACESTATE))
}

/// The HTTP routes.
pub fn router(deps: Deps) -> Router {
    let v1 = api::routes();
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(serve_metrics))
        .nest("/api/v1", v1)
        .route("/api/docs", get(openapi::page))
        .merge(ui::routes())
        .layer(axum::extract::DefaultBodyLimit::max(api::kit::MAX_BODY))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(deps.clone(), measure))
        .layer(axum::middleware::from_fn(trace_request))
        .with_state(deps)
}

/// Serves `listener` until `shutdown` resolves, then finishes the requests in flight.
pub async fn run(
    listener: tokio::net::TcpListener,
    deps: Deps,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(deps).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
