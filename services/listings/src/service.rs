//! The listings service's shell: result commands and queries on the bus, the directory of results folded from the
//! log, and the timer that ends public notices.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use prost::Message;
use tokio::sync::{RwLock, watch};
use ttx_kernel::bus::ReplyError;
use ttx_kernel::handler::decode_event;
use ttx_kernel::{
    Clock, CommandError, CommandHandler, CommandId, CommandMeta, Decider, EventLog, RecordedEvent, StreamId,
    Subscription, Timestamp,
};
use ttx_proto::common::v1::{Actor, Role};
use ttx_proto::listings::v1::{self as pb, subjects};

use crate::codec::listing_to_pb;
use crate::domain::{DealBlocked, Rejection, ResultCommand, ResultEvent, ResultState, Results, Status};
use crate::values::validate_listing;

/// How often the timer looks for notices that reached their end.
const TIMER_TICK: Duration = Duration::from_millis(250);
/// How long a list waits for the directory to catch up with the log as it was when the query arrived.
const CATCH_UP: Duration = Duration::from_secs(5);

pub fn result_stream(id: &str) -> Result<StreamId, ReplyError> {
    StreamId::new("listings", "result", id).map_err(|e| ReplyError::invalid("result_id", e.to_string()))
}

fn bad_request(what: &str) -> ReplyError {
    ReplyError::new("bad_request", format!("the request is not a valid {what}"))
}

fn rejected(r: &Rejection) -> ReplyError {
    let code = match r {
        Rejection::NotTheHoldersManager
        | Rejection::NotTheHoldersReviewer
        | Rejection::OwnSubmission
        | Rejection::CreatorNotAHolder
        | Rejection::Regulator
        | Rejection::Anonymous => "forbidden",
        Rejection::NoSuchResult | Rejection::NoSuchObjection => "not_found",
        Rejection::Exists | Rejection::DuplicateObjection => "conflict",
        _ => "rejected",
    };
    ReplyError::new(code, r.to_string())
}

fn command_error(e: CommandError<Rejection>) -> ReplyError {
    match e {
        CommandError::Rejected(r) => rejected(&r),
        CommandError::Conflict { .. } => ReplyError::new("conflict", "the result kept changing; try again"),
        CommandError::Decode { stream, source } => {
            tracing::error!(%stream, error = %source, "a result stream does not decode");
            ReplyError::new("internal", "stored data could not be read")
        }
        CommandError::Log(e) => {
            tracing::warn!(error = %e, "listings command failed on the log");
            ReplyError::new("unavailable", "the event log is unavailable")
        }
    }
}

fn context(ctx: Option<pb::CommandContext>) -> Result<CommandMeta, ReplyError> {
    let ctx = ctx.ok_or_else(|| ReplyError::invalid("context", "a command needs its context"))?;
    let actor = ctx.actor.ok_or_else(|| ReplyError::invalid("context.actor", "a command needs an actor"))?;
    let command_id =
        CommandId::parse(ctx.command_id).map_err(|e| ReplyError::invalid("context.command_id", e.to_string()))?;
    Ok(CommandMeta::new(command_id, actor))
}

fn status_pb(s: Status) -> pb::ResultStatus {
    match s {
        Status::None => pb::ResultStatus::Unspecified,
        Status::Draft => pb::ResultStatus::Draft,
        Status::Submitted => pb::ResultStatus::Submitted,
        Status::Returned => pb::ResultStatus::Returned,
        Status::Approved => pb::ResultStatus::Approved,
        Status::Published => pb::ResultStatus::Published,
        Status::UnderContract => pb::ResultStatus::UnderContract,
        Status::Transacted => pb::ResultStatus::Transacted,
        Status::Withdrawn => pb::ResultStatus::Withdrawn,
    }
}

/// Whether `asker` may see the result: the holder's members, administrators and regulators see every state; other
/// logged-in users see it once published (and not withdrawn).
pub fn may_see(asker: &Actor, state: &ResultState) -> bool {
    if asker.has_role(Role::Admin) || asker.has_role(Role::Regulator) || asker.org_id == state.owner_org_id {
        return true;
    }
    !asker.user_id.is_empty() && matches!(state.status, Status::Published | Status::UnderContract | Status::Transacted)
}

pub fn view(state: &ResultState, version: u64) -> pb::ResultView {
    pb::ResultView {
        result_id: state.id.clone(),
        owner_org_id: state.owner_org_id.clone(),
        status: status_pb(state.status).into(),
        listing: state.listing.as_ref().map(listing_to_pb),
        return_reasons: state.return_reasons.clone(),
        notice: state.notice.as_ref().map(|n| pb::NoticeView {
            price_fen: n.price_fen,
            starts_at: Some(n.starts_at.to_proto()),
            ends_at: Some(n.ends_at.to_proto()),
            ended: n.ended,
            objections: n
                .objections
                .iter()
                .map(|(id, o)| pb::ObjectionView {
                    objection_id: id.clone(),
                    by_org_id: o.by.org_id.clone(),
                    text: o.text.clone(),
                    answer: o.answer.clone().unwrap_or_default(),
                    resolution: match o.upheld {
                        None => 0,
                        Some(true) => 1,
                        Some(false) => 2,
                    },
                })
                .collect(),
        }),
        version,
    }
}

/// A result as the directory holds it.
#[derive(Debug, Clone, Default)]
struct Entry {
    state: ResultState,
    version: u64,
    created_position: u64,
}

/// The listings service.
pub struct Service {
    log: Arc<dyn EventLog>,
    clock: Arc<dyn Clock>,
    results: CommandHandler<Results>,
    directory: RwLock<BTreeMap<String, Entry>>,
    applied: watch::Sender<u64>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("listings::Service").finish_non_exhaustive()
    }
}

impl Service {
    pub fn new(log: Arc<dyn EventLog>, clock: Arc<dyn Clock>) -> Self {
        let results = CommandHandler::new(Results::default(), log.clone(), clock.clone())
            .with_rule_version(crate::domain::RULES_2026.version);
        Self { log, clock, results, directory: RwLock::default(), applied: watch::Sender::new(0) }
    }

    fn apply(directory: &mut BTreeMap<String, Entry>, event: &RecordedEvent) -> Result<(), ttx_kernel::DecodeError> {
        let Some(id) = event.stream_id().strip_prefix("listings-result-") else { return Ok(()) };
        let e: ResultEvent = decode_event(event)?;
        let entry = directory.entry(id.to_owned()).or_default();
        if matches!(e, ResultEvent::Created { .. }) {
            entry.created_position = event.position();
        }
        entry.state = Results::default().evolve(std::mem::take(&mut entry.state), &e);
        entry.version = event.version();
        Ok(())
    }

    /// Folds the log into the directory, from the start, then live.
    pub async fn project(self: Arc<Self>) {
        let mut subscription = Subscription::new(self.log.clone(), 1);
        loop {
            match subscription.next().await {
                Ok(event) => {
                    if let Err(e) = Self::apply(&mut *self.directory.write().await, &event) {
                        tracing::error!(position = event.position(), error = %e, "a result event does not decode");
                    }
                    self.applied.send_replace(event.position());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the results directory cannot read the log; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    subscription = Subscription::new(self.log.clone(), subscription.next_position());
                }
            }
        }
    }

    /// Ends every notice whose time has come. Each end is a command with an id derived from the notice, so when
    /// several instances (or a restart) fire the same timer, one ending is stored and the others change nothing.
    pub async fn end_due_notices(&self) {
        let now = self.clock.now();
        let due: Vec<(String, Timestamp)> = self
            .directory
            .read()
            .await
            .iter()
            .filter_map(|(id, e)| e.state.notice.as_ref().map(|n| (id, n)))
            .filter(|(_, n)| !n.ended && n.ends_at <= now)
            .map(|(id, n)| (id.clone(), n.ends_at))
            .collect();
        for (id, ends_at) in due {
            let Ok(stream) = result_stream(&id) else { continue };
            let Ok(command_id) = CommandId::parse(format!("notice-end:{id}:{}", ends_at.unix_micros())) else {
                continue;
            };
            let meta = CommandMeta::new(command_id, system_actor());
            match self.results.handle(&stream, &ResultCommand::EndNotice, &meta).await {
                Ok(_) => tracing::info!(result = %id, "public notice ended"),
                Err(e) => tracing::warn!(result = %id, error = %e, "could not end a public notice"),
            }
        }
    }

    /// Runs the notice timer until the task is dropped.
    pub async fn timers(self: Arc<Self>) {
        loop {
            self.end_due_notices().await;
            tokio::time::sleep(TIMER_TICK).await;
        }
    }

    async fn caught_up(&self) -> Result<(), ReplyError> {
        let head = self.log.head().await.map_err(|_| ReplyError::new("unavailable", "the event log is unavailable"))?;
        let mut applied = self.applied.subscribe();
        match tokio::time::timeout(CATCH_UP, applied.wait_for(|p| *p >= head)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(ReplyError::new("unavailable", "the results directory is behind the log")),
        }
    }

    async fn handle(&self, result_id: &str, command: ResultCommand, meta: &CommandMeta) -> Result<Bytes, ReplyError> {
        let stream = result_stream(result_id)?;
        let handled = self.results.handle(&stream, &command, meta).await.map_err(command_error)?;
        Ok(pb::CommandAccepted { version: handled.version, duplicate: handled.duplicate }.encode_to_vec().into())
    }

    /// Carries out one command.
    pub async fn command(&self, subject: &str, payload: Bytes) -> Result<Bytes, ReplyError> {
        fn text(field: &'static str, s: &str, max: usize) -> Result<String, ReplyError> {
            let t = s.trim();
            if t.is_empty() || t.chars().count() > max {
                return Err(ReplyError::invalid(field, format!("must be 1 to {max} characters")));
            }
            Ok(t.to_owned())
        }
        match subject {
            subjects::CREATE_RESULT | subjects::EDIT_RESULT => {
                let (ctx, id, listing) = if subject == subjects::CREATE_RESULT {
                    let c = pb::CreateResult::decode(payload).map_err(|_| bad_request("CreateResult"))?;
                    (c.context, c.result_id, c.listing)
                } else {
                    let c = pb::EditResult::decode(payload).map_err(|_| bad_request("EditResult"))?;
                    (c.context, c.result_id, c.listing)
                };
                let meta = context(ctx)?;
                let listing = validate_listing(listing.unwrap_or_default())?;
                let command = if subject == subjects::CREATE_RESULT {
                    ResultCommand::Create { id: id.clone(), listing }
                } else {
                    ResultCommand::Edit { listing }
                };
                self.handle(&id, command, &meta).await
            }
            subjects::SUBMIT_RESULT | subjects::APPROVE_RESULT | subjects::PUBLISH_RESULT => {
                let c = pb::ResultAction::decode(payload).map_err(|_| bad_request("ResultAction"))?;
                let meta = context(c.context)?;
                let command = match subject {
                    subjects::SUBMIT_RESULT => ResultCommand::Submit,
                    subjects::APPROVE_RESULT => ResultCommand::Approve,
                    _ => ResultCommand::Publish,
                };
                self.handle(&c.result_id, command, &meta).await
            }
            subjects::RETURN_RESULT => {
                let c = pb::ReturnResult::decode(payload).map_err(|_| bad_request("ReturnResult"))?;
                let meta = context(c.context)?;
                let reasons = c.reasons.iter().map(|r| text("reasons", r, 500)).collect::<Result<Vec<_>, _>>()?;
                self.handle(&c.result_id, ResultCommand::Return { reasons }, &meta).await
            }
            subjects::WITHDRAW_RESULT => {
                let c = pb::WithdrawResult::decode(payload).map_err(|_| bad_request("WithdrawResult"))?;
                let meta = context(c.context)?;
                let reason = text("reason", &c.reason, 500)?;
                self.handle(&c.result_id, ResultCommand::Withdraw { reason }, &meta).await
            }
            subjects::START_NOTICE => {
                let c = pb::StartNotice::decode(payload).map_err(|_| bad_request("StartNotice"))?;
                let meta = context(c.context)?;
                if c.days > 365 {
                    return Err(ReplyError::invalid("days", "a notice runs at most 365 days"));
                }
                let command = ResultCommand::StartNotice { price_fen: c.price_fen, days: c.days };
                self.handle(&c.result_id, command, &meta).await
            }
            subjects::RAISE_OBJECTION => {
                let c = pb::RaiseObjection::decode(payload).map_err(|_| bad_request("RaiseObjection"))?;
                let meta = context(c.context)?;
                let objection_id = text("objection_id", &c.objection_id, 64)?;
                let command = ResultCommand::RaiseObjection { objection_id, text: text("text", &c.text, 2000)? };
                self.handle(&c.result_id, command, &meta).await
            }
            subjects::ANSWER_OBJECTION => {
                let c = pb::AnswerObjection::decode(payload).map_err(|_| bad_request("AnswerObjection"))?;
                let meta = context(c.context)?;
                let command = ResultCommand::AnswerObjection {
                    objection_id: c.objection_id,
                    answer: text("answer", &c.answer, 2000)?,
                };
                self.handle(&c.result_id, command, &meta).await
            }
            subjects::RESOLVE_OBJECTION => {
                let c = pb::ResolveObjection::decode(payload).map_err(|_| bad_request("ResolveObjection"))?;
                let meta = context(c.context)?;
                let command = ResultCommand::ResolveObjection {
                    objection_id: c.objection_id,
                    upheld: c.upheld,
                    note: text("note", &c.note, 2000)?,
                };
                self.handle(&c.result_id, command, &meta).await
            }
            other => Err(ReplyError::new("unknown_command", format!("the listings service has no command {other}"))),
        }
    }

    /// Answers one query.
    pub async fn query(&self, subject: &str, payload: Bytes) -> Result<Bytes, ReplyError> {
        match subject {
            subjects::GET_RESULT => {
                let q = pb::GetResult::decode(payload).map_err(|_| bad_request("GetResult"))?;
                let asker = q.asker.unwrap_or_default();
                let stream = result_stream(&q.result_id)?;
                let (state, version, _) = self.results.load(&stream).await.map_err(command_error)?;
                // Someone who may not see a result learns nothing, not even that it exists.
                if state.status == Status::None || !may_see(&asker, &state) {
                    return Err(ReplyError::new("not_found", "no such result"));
                }
                Ok(view(&state, version).encode_to_vec().into())
            }
            subjects::LIST_RESULTS => {
                let q = pb::ListResults::decode(payload).map_err(|_| bad_request("ListResults"))?;
                let asker = q.asker.unwrap_or_default();
                self.caught_up().await?;
                let directory = self.directory.read().await;
                let mut entries: Vec<&Entry> = directory
                    .values()
                    .filter(|e| q.owner_org_id.is_empty() || e.state.owner_org_id == q.owner_org_id)
                    .filter(|e| may_see(&asker, &e.state))
                    .collect();
                entries.sort_by_key(|e| std::cmp::Reverse(e.created_position));
                let results = entries.into_iter().map(|e| view(&e.state, e.version)).collect();
                Ok(pb::ResultList { results }.encode_to_vec().into())
            }
            subjects::DEAL_STATUS => {
                let q = pb::DealStatus::decode(payload).map_err(|_| bad_request("DealStatus"))?;
                let (state, _, _) = self.results.load(&result_stream(&q.result_id)?).await.map_err(command_error)?;
                if state.status == Status::None {
                    return Err(ReplyError::new("not_found", "no such result"));
                }
                let blocked = state.negotiated_deal_blocked(q.price_fen);
                let (blocked_by, ends_at) = match &blocked {
                    None => ("", None),
                    Some(DealBlocked::NotPublished) => ("not_published", None),
                    Some(DealBlocked::NoNotice) => ("no_notice", None),
                    Some(DealBlocked::NoticeRunning { ends_at }) => ("notice_running", Some(ends_at.to_proto())),
                    Some(DealBlocked::ObjectionsOpen(_)) => ("objections_open", None),
                    Some(DealBlocked::NoticeFailed) => ("notice_failed", None),
                };
                let reply = pb::DealStatusReply {
                    may_close: blocked.is_none(),
                    blocked_by: blocked_by.into(),
                    notice_ends_at: ends_at,
                };
                Ok(reply.encode_to_vec().into())
            }
            other => Err(ReplyError::new("unknown_query", format!("the listings service has no query {other}"))),
        }
    }
}

/// The actor timers act as.
pub fn system_actor() -> Actor {
    Actor {
        user_id: "system".into(),
        org_id: String::new(),
        role: Role::System.into(),
        roles: vec![Role::System.into()],
    }
}
