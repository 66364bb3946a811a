//! The audit service: the record as regulators check it.
//!
//! It owns no events yet; it reads the log. It answers, over the bus (`ttx.audit.qry.*`, queue group `audit`):
//! - `status`: the log's head position; the gateway's readiness probe asks it, so a ready gateway means the log
//!   and at least one audit instance answer;
//! - `verify-stream`: one stream's hash chain, versions and positions checked from its first event.
//!
//! Per-result timelines, as-of replay, the Merkle log and signed tree heads will live here too.
//!
//! # Layout
//! - [`router`]: each query type with its handler; [`run`] serves them until shutdown.
//! - [`status`], [`verify`]: one query in, one typed reply out (no IO but the log reads).

use std::future::Future;
use std::sync::Arc;

use ttx_kernel::bus::{ErrorCode, ReplyError};
use ttx_kernel::rpc::Router;
use ttx_kernel::{Bus, BusError, EventLog, LogError, StreamId, verify_stream};
use ttx_proto::audit::v1::{StatusReply, StatusRequest, VerifyStreamReply, VerifyStreamRequest, subjects};

/// What the audit service needs.
#[derive(Clone)]
pub struct Deps {
    pub log: Arc<dyn EventLog>,
    pub bus: Arc<dyn Bus>,
}

impl std::fmt::Debug for Deps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deps").finish_non_exhaustive()
    }
}

/// The audit service's requests, each with its handler.
pub fn router(log: Arc<dyn EventLog>) -> Router<dyn EventLog> {
    Router::new(subjects::QUEUE_GROUP, log)
        .route(|log: Arc<dyn EventLog>, q: StatusRequest| async move { status(log.as_ref(), q).await })
        .route(|log: Arc<dyn EventLog>, q: VerifyStreamRequest| async move { verify(log.as_ref(), q).await })
}

/// Serves the audit queries until `shutdown` resolves. Requests already received are still answered.
pub async fn run(deps: Deps, shutdown: impl Future<Output = ()>) -> Result<(), BusError> {
    let tasks = router(deps.log).serve(deps.bus.as_ref()).await?;
    tracing::info!(subjects = subjects::QUERIES, "audit service serving");
    shutdown.await;
    // Dropping the request stream unsubscribes; tasks already answering finish on their own.
    for task in tasks {
        task.abort();
    }
    Ok(())
}

fn log_error(e: LogError) -> ReplyError {
    tracing::warn!(error = %e, "audit query failed on the log");
    match e {
        LogError::Unavailable(_) => ReplyError::new(ErrorCode::Unavailable, "the event log is unavailable"),
        _ => ReplyError::new(ErrorCode::Internal, "the event log failed while answering"),
    }
}

/// The log's head position and this service's version.
pub async fn status(log: &dyn EventLog, _: StatusRequest) -> Result<StatusReply, ReplyError> {
    let log_head = log.head().await.map_err(log_error)?;
    Ok(StatusReply { log_head, service_version: env!("CARGO_PKG_VERSION").to_owned() })
}

/// One stream's hash chain, versions and positions, checked from its first event.
pub async fn verify(log: &dyn EventLog, request: VerifyStreamRequest) -> Result<VerifyStreamReply, ReplyError> {
    let stream = StreamId::parse(request.stream_id).map_err(|e| ReplyError::invalid("stream_id", e.to_string()))?;
    let report = verify_stream(log, &stream).await.map_err(log_error)?;
    if report.events == 0 && report.failure.is_none() {
        return Err(ReplyError::new(ErrorCode::NotFound, format!("stream {stream} has no events")));
    }
    Ok(VerifyStreamReply {
        events: report.events,
        ok: report.failure.is_none(),
        failed_position: report.failure.as_ref().map_or(0, |f| f.position),
        reason: report.failure.map(|f| f.reason).unwrap_or_default(),
    })
}
