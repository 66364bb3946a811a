//! The all-in-one exchange: opens the embedded log and serves HTTP until asked to stop.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use ttx_eventlog_sqlite::SqliteLog;
use ttx_kernel::EventLog;
use ttx_nats::{JetStreamLog, JetStreamOptions};

use crate::config::Config;

/// What request handlers share.
#[derive(Clone)]
pub struct AppState {
    pub log: Arc<dyn EventLog>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

/// An RFC 9457 problem document with a stable `type`.
pub fn problem(status: StatusCode, kind: &str, title: &str, detail: &str) -> Response {
    let body = json!({
        "type": format!("urn:ttx:problem:{kind}"),
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    });
    (status, [(header::CONTENT_TYPE, "application/problem+json")], body.to_string()).into_response()
}

async fn healthz() -> Response {
    (StatusCode::OK, axum::Json(json!({ "status": "ok" }))).into_response()
}

async fn readyz(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    match state.log.head().await {
        Ok(head) => (StatusCode::OK, axum::Json(json!({ "status": "ready", "log_head": head }))).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            problem(StatusCode::SERVICE_UNAVAILABLE, "not-ready", "Not ready", "the event log is unavailable")
        }
    }
}

async fn not_found(uri: axum::http::Uri) -> Response {
    problem(StatusCode::NOT_FOUND, "not-found", "Not found", &format!("nothing at {}", uri.path()))
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    let detail = format!("{method} is not allowed on {}", uri.path());
    problem(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed", &detail)
}

/// The HTTP routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Runs the exchange until `shutdown` resolves; then finishes in-flight requests and closes the log.
pub async fn serve(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    let log: Arc<dyn EventLog> = if config.nats.url.is_empty() {
        let log = SqliteLog::open(&config.data_dir)
            .with_context(|| format!("cannot open the event log in {}", config.data_dir.display()))?;
        tracing::info!(data_dir = %config.data_dir.display(), "embedded event log");
        Arc::new(log)
    } else {
        let options = JetStreamOptions { replicas: config.nats.replicas, ..JetStreamOptions::default() };
        let log = JetStreamLog::connect(&config.nats.url, options).await?;
        tracing::info!(url = %config.nats.url, replicas = config.nats.replicas, "JetStream event log");
        Arc::new(log)
    };
    let head = log.head().await?;
    let listener = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.http.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(head, "event log open");
    // A fixed line on stdout, for people and for tests that listen on port 0.
    println!("ttx listening on http://{addr}");
    let app = router(AppState { log });
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await?;
    tracing::info!("stopped");
    Ok(())
}
