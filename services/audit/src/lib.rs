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
//! - [`run`]: serves the queries until shutdown.
//! - [`answer`]: one query in, one typed reply out (no IO but the log reads).

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use prost::Message as _;
use ttx_kernel::bus::{ReplyError, serve_calls};
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

/// Serves the audit queries until `shutdown` resolves. Requests already received are still answered.
pub async fn run(deps: Deps, shutdown: impl Future<Output = ()>) -> Result<(), BusError> {
    let log = deps.log.clone();
    let server = serve_calls(deps.bus.as_ref(), subjects::QUERIES, subjects::QUEUE_GROUP, move |subject, payload| {
        let log = log.clone();
        async move { answer(log.as_ref(), &subject, payload).await }
    })
    .await?;
    tracing::info!(subjects = subjects::QUERIES, "audit service serving");
    shutdown.await;
    // Dropping the request stream unsubscribes; tasks already answering finish on their own.
    server.abort();
    Ok(())
}

fn invalid(what: &str) -> ReplyError {
    ReplyError::new("invalid_request", format!("the request is not a valid {what}"))
}

fn log_error(e: LogError) -> ReplyError {
    tracing::warn!(error = %e, "audit query failed on the log");
    match e {
        LogError::Unavailable(_) => ReplyError::new("unavailable", "the event log is unavailable"),
        _ => ReplyError::new("internal", "the event log failed while answering"),
    }
}

/// Answers one audit query.
pub async fn answer(log: &dyn EventLog, subject: &str, payload: Bytes) -> Result<Bytes, ReplyError> {
    match subject {
        subjects::STATUS => {
            StatusRequest::decode(payload).map_err(|_| invalid("StatusRequest"))?;
            let log_head = log.head().await.map_err(log_error)?;
            let reply = StatusReply { log_head, service_version: env!("CARGO_PKG_VERSION").to_owned() };
            Ok(reply.encode_to_vec().into())
        }
        subjects::VERIFY_STREAM => {
            let request = VerifyStreamRequest::decode(payload).map_err(|_| invalid("VerifyStreamRequest"))?;
            let stream =
                StreamId::parse(request.stream_id).map_err(|e| ReplyError::new("invalid_stream_id", e.to_string()))?;
            let report = verify_stream(log, &stream).await.map_err(log_error)?;
            if report.events == 0 && report.failure.is_none() {
                return Err(ReplyError::new("not_found", format!("stream {stream} has no events")));
            }
            let reply = VerifyStreamReply {
                events: report.events,
                ok: report.failure.is_none(),
                failed_position: report.failure.as_ref().map_or(0, |f| f.position),
                reason: report.failure.map(|f| f.reason).unwrap_or_default(),
            };
            Ok(reply.encode_to_vec().into())
        }
        other => Err(ReplyError::new("unknown_query", format!("the audit service has no query {other}"))),
    }
}
