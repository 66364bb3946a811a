//! The HTTP gateway: the JSON API under `/api/v1`, the probes and the web UI. It reaches the services only through the
//! bus (in-process or NATS), by typed requests (`ttx_kernel::rpc`), never by linking their crates, so it runs in any
//! process of the exchange.
//!
//! # Layout
//! - [`router`]: the routes, with one span per request that continues the caller's W3C trace context, and a request
//!   id (`x-request-id`, the caller's or a new one) on every answer; `/readyz` pings every service of
//!   `ttx_proto::services::ALL`.
//! - [`api`]: the JSON API (authentication, organisations, users) and [`api::ask`], the one way the gateway sends a
//!   request to a service; [`api_results`]: research results;
//!   [`api_demands`]: demands and open challenges; [`api_search`]: search, matches, notifications;
//!   [`api_negotiation`]: negotiations, listed sales, bidding sessions, a result's market, overdue refunds;
//!   [`api_calendar`]: the holiday schedules, loading a year, the deadlines waiting for one.
//! - [`actions`]: what users do, one function per action (role check, command, call), which the JSON handlers and
//!   the page forms both call.
//! - [`openapi`]: the OpenAPI 3.1 document generated from the handlers, and a page listing it.
//! - [`auth`]: bearer tokens, session cookies with CSRF tokens, the caller as a [`auth::Principal`].
//! - [`token`]: Ed25519-signed JWTs and the key ring (rotation keeps old tokens valid until they expire).
//! - [`throttle`]: failed-login limits per account and per address.
//! - [`ui`]: the web UI (server-rendered, Chinese and English via [`i18n`]); [`ui_listings`]: results (one request
//!   to listings for a result's page, one to negotiation for its sales) and demands; [`ui_negotiation`]: auctions
//!   (the live page waits for negotiation's change notices), the negotiation room, selling from a result's page,
//!   overdue refunds;
//!   [`ui_calendar`]: the holiday calendar, its pending-deadline alert and the form that loads a year;
//!   [`ui_terms`]: the terms part of sale and offer forms (mode, territory, term, a structured schedule).
//! - [`metrics`]: request counts and durations per route, and the requests sent over the bus per subject, at
//!   `/metrics` (Prometheus).
//! - [`problem`]: RFC 9457 problem documents with stable `type` URIs (`urn:ttx:problem:…`), and the one table from
//!   a service's reply codes to HTTP statuses and page messages ([`problem::answer`]).
//! - [`run`]: serves a bound listener until shutdown, finishing requests in flight.

pub mod actions;
pub mod api;
pub mod api_calendar;
pub mod api_demands;
pub mod api_negotiation;
pub mod api_results;
pub mod api_search;
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
use axum::routing::{delete, get, post, put};
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
    let v1 = Router::new()
        .route("/auth/login", post(api::login))
        .route("/auth/logout", post(api::logout))
        .route("/me", get(api::me))
        .route("/organisations", get(api::list_organisations).post(api::create_organisation))
        .route("/organisations/{org_id}", get(api::get_organisation))
        .route("/organisations/{org_id}/users", get(api::list_org_users))
        .route("/organisations/{org_id}/related-parties", post(api::declare_related_party))
        .route("/organisations/{org_id}/representative", axum::routing::put(api::name_representative))
        .route(
            "/organisations/{org_id}/related-parties/{related_org_id}",
            axum::routing::delete(api::withdraw_related_party),
        )
        .route("/users", post(api::create_user))
        .route("/users/{user_id}", get(api::get_user))
        .route("/users/{user_id}/roles", post(api::grant_role))
        .route("/users/{user_id}/roles/{role}", delete(api::revoke_role))
        .route("/users/{user_id}/password", put(api::set_password))
        .route("/tech-managers", post(api::register_tech_manager))
        .route("/results", get(api_results::list).post(api_results::create))
        .route("/results/{result_id}", get(api_results::get).put(api_results::edit))
        .route("/results/{result_id}/submit", post(api_results::submit))
        .route("/results/{result_id}/approve", post(api_results::approve))
        .route("/results/{result_id}/return", post(api_results::return_result))
        .route("/results/{result_id}/publish", post(api_results::publish))
        .route("/results/{result_id}/withdraw", post(api_results::withdraw))
        .route("/results/{result_id}/notice", post(api_results::start_notice))
        .route("/results/{result_id}/consent", post(api_results::consent))
        .route("/results/{result_id}/objections", post(api_results::raise_objection).get(api_results::list_objections))
        .route("/results/{result_id}/objections/{objection_id}/answer", post(api_results::answer_objection))
        .route("/results/{result_id}/objections/{objection_id}/resolution", post(api_results::resolve_objection))
        .route("/results/{result_id}/deal-status", get(api_results::deal_status))
        .route("/demands", get(api_demands::list).post(api_demands::post))
        .route("/demands/{demand_id}", get(api_demands::get))
        .route("/demands/{demand_id}/applications", post(api_demands::apply))
        .route("/demands/{demand_id}/applications/{application_id}/shortlist", post(api_demands::shortlist))
        .route("/demands/{demand_id}/applications/{application_id}/award", post(api_demands::award))
        .route("/demands/{demand_id}/withdraw", post(api_demands::withdraw))
        .route("/demands/{demand_id}/matches", get(api_search::demand_matches))
        .route("/results/{result_id}/matches", get(api_search::result_matches))
        .route("/search", get(api_search::search))
        .route("/notifications", get(api_search::notifications))
        .route("/negotiations", get(api_negotiation::list_negotiations).post(api_negotiation::open_negotiation))
        .route("/negotiations/{negotiation_id}", get(api_negotiation::get_negotiation))
        .route("/negotiations/{negotiation_id}/offers", post(api_negotiation::make_offer))
        .route("/negotiations/{negotiation_id}/accept", post(api_negotiation::accept_offer))
        .route("/negotiations/{negotiation_id}/abandon", post(api_negotiation::abandon))
        .route("/listed-sales", get(api_negotiation::list_listings).post(api_negotiation::open_listing))
        .route("/listed-sales/{listing_id}", get(api_negotiation::get_listing))
        .route("/listed-sales/{listing_id}/register", post(api_negotiation::register_intent))
        .route("/listed-sales/{listing_id}/relist", post(api_negotiation::relist))
        .route("/sessions", get(api_negotiation::list_sessions).post(api_negotiation::open_session))
        .route("/sessions/{session_id}", get(api_negotiation::get_session))
        .route("/sessions/{session_id}/register", post(api_negotiation::register_bidder))
        .route("/sessions/{session_id}/deposits", post(api_negotiation::confirm_deposit))
        .route("/sessions/{session_id}/refunds", post(api_negotiation::refund_deposit))
        .route("/sessions/{session_id}/bids", post(api_negotiation::place_bid).get(api_negotiation::list_bids))
        .route("/sessions/{session_id}/commitments", post(api_negotiation::commit_bid))
        .route("/sessions/{session_id}/reveals", post(api_negotiation::reveal_bid))
        .route("/sessions/{session_id}/default", post(api_negotiation::record_default))
        .route("/sessions/{session_id}/contract-signed", post(api_negotiation::record_signed))
        .route("/refunds/overdue", get(api_negotiation::overdue_refunds))
        .route("/calendar", get(api_calendar::get_calendar).post(api_calendar::load_schedule))
        .route("/calendar/pending-deadlines", get(api_calendar::pending_deadlines))
        .route("/results/{result_id}/market", get(api_negotiation::get_market))
        .route("/results/{result_id}/stop-licensing", post(api_negotiation::stop_licensing))
        .route("/openapi.json", get(openapi::document));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(serve_metrics))
        .nest("/api/v1", v1)
        .route("/api/docs", get(openapi::page))
        .merge(ui::routes())
        .layer(axum::extract::DefaultBodyLimit::max(api::MAX_BODY))
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
