//! The one place that does IO for deciders: load → fold → decide → append, retried on conflict.

use std::sync::Arc;

use ttx_proto::common::v1::{Actor, CommandAccepted, CommandContext, ErrorCode, ReplyError};

use crate::calendar::{Calendar, CalendarView};
use crate::decider::{Ctx, Decider, DecodeError, DomainEvent, IdSource};
use crate::error::LogError;
use crate::event::{NewEvent, RecordedEvent};
use crate::ids::{CommandId, StreamId};
use crate::log::{AppendRequest, EventLog, ExpectedVersion, MAX_EVENTS_PER_APPEND, read_stream_to_end};
use crate::time::Clock;

/// Who sent a command and in which trace and causal chain.
#[derive(Debug, Clone)]
pub struct CommandMeta {
    pub command_id: CommandId,
    pub actor: Actor,
    pub correlation_id: String,
    pub causation_id: String,
    pub traceparent: String,
}

impl CommandMeta {
    /// The metadata of a command that arrived over the bus, checked: an actor and a valid command id are required.
    pub fn from_context(context: Option<CommandContext>) -> Result<Self, ReplyError> {
        let context = context.ok_or_else(|| ReplyError::invalid("context", "a command needs its context"))?;
        let actor = context.actor.ok_or_else(|| ReplyError::invalid("context.actor", "a command needs an actor"))?;
        let command_id = CommandId::parse(context.command_id)
            .map_err(|e| ReplyError::invalid("context.command_id", e.to_string()))?;
        if command_id.is_system() {
            return Err(ReplyError::invalid("context.command_id", "'~' marks the exchange's own commands"));
        }
        Ok(Self::new(command_id, actor))
    }

    /// A command's metadata, in the current trace (the events it produces record it).
    pub fn new(command_id: CommandId, actor: Actor) -> Self {
        Self {
            correlation_id: command_id.to_string(),
            command_id,
            actor,
            causation_id: String::new(),
            traceparent: crate::telemetry::current_traceparent().unwrap_or_default(),
        }
    }
}

/// Why a command was not carried out.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CommandError<R: std::error::Error> {
    /// The decider refused the command.
    #[error("rejected: {0}")]
    Rejected(R),
    /// Other writers kept changing the stream; every attempt conflicted.
    #[error("stream {stream} kept changing; gave up after {attempts} attempts")]
    Conflict { stream: String, attempts: u32 },
    /// A stored event of the stream could not be decoded.
    #[error("stream {stream}: {source}")]
    Decode { stream: String, source: DecodeError },
    #[error(transparent)]
    Log(LogError),
}

/// The result of a command that was carried out (or had been already).
#[derive(Debug, Clone)]
pub struct Handled<D: Decider> {
    /// The events the command produced (none if the decider had nothing to do).
    pub events: Vec<D::Event>,
    /// The same events as stored.
    pub recorded: Vec<RecordedEvent>,
    /// The stream's version after the command.
    pub version: u64,
    /// True when this command id had been handled before; nothing new was written.
    pub duplicate: bool,
}

impl<D: Decider> Handled<D> {
    /// How many events this call wrote: none when the command id had been carried out before.
    pub fn written(&self) -> usize {
        if self.duplicate { 0 } else { self.events.len() }
    }

    /// The bus answer to the command: the stream's version and whether it had been carried out before.
    pub fn accepted(&self) -> CommandAccepted {
        CommandAccepted { version: self.version, duplicate: self.duplicate }
    }
}

impl<R: crate::decider::Refusal> CommandError<R> {
    /// The bus answer for a failed command: the rejection as its decider answers it; a conflict that outlasted the
    /// retries as `conflict`; unreadable stored data as `internal` and an unavailable log as `unavailable`, both
    /// logged here with their details.
    pub fn into_reply(self) -> ReplyError {
        match self {
            Self::Rejected(r) => r.to_reply(),
            Self::Conflict { .. } => ReplyError::new(ErrorCode::Conflict, "the record kept changing; try again"),
            Self::Decode { stream, source } => {
                tracing::error!(%stream, error = %source, "a stream does not decode");
                ReplyError::new(ErrorCode::Internal, "stored data could not be read")
            }
            Self::Log(e) => {
                tracing::warn!(error = %e, "a command failed on the log");
                ReplyError::new(ErrorCode::Unavailable, "the event log is unavailable")
            }
        }
    }
}

/// Runs commands for one decider against one log.
pub struct CommandHandler<D: Decider> {
    decider: D,
    log: Arc<dyn EventLog>,
    clock: Arc<dyn Clock>,
    rule_version: String,
    calendar: Option<CalendarView>,
    max_attempts: u32,
    /// One lane per stream being handled: commands on the same stream wait their turn in this process instead of
    /// racing to a conflict (other processes are still kept apart by the expected version).
    streams: std::sync::Mutex<std::collections::HashMap<String, Arc<Lane<D>>>>,
    /// Recently handled streams, folded up to a version, with their events by command id: a command reads only the
    /// events appended since (by anyone), not the whole stream.
    cache: std::sync::Mutex<std::collections::HashMap<String, Folded<D>>>,
}

/// Commands waiting for their turn on one stream. Whoever gets the turn carries out every command waiting then, as one
/// group, when the log appends groups; otherwise each caller carries out its own.
struct Lane<D: Decider> {
    turn: tokio::sync::Mutex<()>,
    waiting: std::sync::Mutex<Vec<Waiting<D>>>,
}

impl<D: Decider> Default for Lane<D> {
    fn default() -> Self {
        Self { turn: Default::default(), waiting: Default::default() }
    }
}

type Outcome<D> = Result<Handled<D>, CommandError<<D as Decider>::Rejection>>;

/// A command waiting in a lane, and where its outcome goes.
struct Waiting<D: Decider> {
    command: D::Command,
    meta: CommandMeta,
    reply: tokio::sync::oneshot::Sender<Outcome<D>>,
}

/// What one command of a group came to, before the group is written.
enum Slot<D: Decider> {
    /// Answered without writing (a refusal, nothing to do, or a command handled before).
    Done(Outcome<D>),
    /// Its events are the group's append at this index.
    Append(usize, Vec<D::Event>),
    /// The same command id as an earlier command of the group.
    SameAs(usize),
}

/// How many streams a handler keeps folded.
const CACHED_STREAMS: usize = 512;

/// A stream folded up to `version`.
struct Folded<D: Decider> {
    version: u64,
    state: D::State,
    by_command: std::collections::HashMap<String, Vec<RecordedEvent>>,
}

impl<D: Decider> Default for Folded<D> {
    fn default() -> Self {
        Self { version: 0, state: D::State::default(), by_command: Default::default() }
    }
}

impl<D: Decider + std::fmt::Debug> std::fmt::Debug for CommandHandler<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandHandler").field("decider", &self.decider).finish_non_exhaustive()
    }
}

/// Decodes a stored event into the decider's event type.
pub fn decode_event<E: DomainEvent>(e: &RecordedEvent) -> Result<E, DecodeError> {
    E::decode(e.event_type(), e.envelope.schema_version, e.payload())
}

impl<D: Decider> CommandHandler<D> {
    pub fn new(decider: D, log: Arc<dyn EventLog>, clock: Arc<dyn Clock>) -> Self {
        Self {
            decider,
            log,
            clock,
            rule_version: String::new(),
            calendar: None,
            max_attempts: 5,
            streams: Default::default(),
            cache: Default::default(),
        }
    }

    /// The policy rules version stamped on every event this handler writes.
    pub fn with_rule_version(mut self, v: impl Into<String>) -> Self {
        self.rule_version = v.into();
        self
    }

    /// How many times a command is decided again after a conflict before giving up (at least 1).
    /// Decisions count periods with the calendar `view` holds, and their events record its version.
    pub fn with_calendar(mut self, view: CalendarView) -> Self {
        self.calendar = Some(view);
        self
    }

    pub fn with_max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// How many commands wait for `stream`'s turn in this handler right now (for tests and diagnostics).
    pub fn waiting(&self, stream: &StreamId) -> usize {
        let map = self.streams.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(stream.as_str())
            .map_or(0, |lane| lane.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len())
    }

    pub fn decider(&self) -> &D {
        &self.decider
    }

    /// Loads a stream and folds it into state. Returns the state, the stream's version and its stored events.
    pub async fn load(
        &self,
        stream: &StreamId,
    ) -> Result<(D::State, u64, Vec<RecordedEvent>), CommandError<D::Rejection>> {
        let recorded = read_stream_to_end(self.log.as_ref(), stream, 1).await.map_err(CommandError::Log)?;
        let mut state = D::State::default();
        for r in &recorded {
            let e = decode_event::<D::Event>(r)
                .map_err(|source| CommandError::Decode { stream: stream.to_string(), source })?;
            state = self.decider.evolve(state, &e);
        }
        let version = recorded.last().map_or(0, RecordedEvent::version);
        Ok((state, version, recorded))
    }

    fn lane(&self, stream: &StreamId) -> Arc<Lane<D>> {
        let mut map = self.streams.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(stream.to_string()).or_default().clone()
    }

    /// Carries out `command` on `stream`: load, fold, decide, append with the loaded version; on conflict, again.
    /// Commands on one stream take turns within this handler. When the log appends groups, the commands that arrived
    /// while another held the turn are decided one after another and written together, with one durable write.
    pub async fn handle(&self, stream: &StreamId, command: &D::Command, meta: &CommandMeta) -> Outcome<D> {
        let lane = self.lane(stream);
        let outcome = if self.log.max_group() > 1 {
            self.handle_grouped(stream, &lane, command, meta).await
        } else {
            let _turn = lane.turn.lock().await;
            self.handle_in_turn(stream, command, meta).await
        };
        let mut map = self.streams.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Nobody else holds or waits for this stream's lane: forget it.
        if Arc::strong_count(&lane) == 2 {
            map.remove(stream.as_str());
        }
        outcome
    }

    async fn handle_grouped(
        &self,
        stream: &StreamId,
        lane: &Lane<D>,
        command: &D::Command,
        meta: &CommandMeta,
    ) -> Outcome<D> {
        let (reply, mut answer) = tokio::sync::oneshot::channel();
        let waiting = Waiting { command: command.clone(), meta: meta.clone(), reply };
        lane.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(waiting);
        // Either a caller holding the turn answers this command, or this caller gets the turn and carries out what
        // is waiting then (this command among it, unless a caller before it took it).
        tokio::select! {
            answered = &mut answer => {
                return match answered {
                    Ok(outcome) => outcome,
                    Err(_) => self.again(stream, lane, command, meta).await,
                };
            }
            turn = lane.turn.lock() => {
                let _turn = turn;
                match answer.try_recv() {
                    Ok(outcome) => return outcome,
                    // A group that held this command lost its caller before answering (the caller was cancelled, and
                    // with it the group's write, which may or may not have landed): carry it out again, in this turn,
                    // which its command id makes safe. (The answer may not be awaited again once it said so.)
                    Err(tokio::sync::oneshot::error::TryRecvError::Closed) => {
                        return self.handle_in_turn(stream, command, meta).await;
                    }
                    Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {}
                }
                let mut group =
                    std::mem::take(&mut *lane.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
                // Callers that gave up before their turn: their commands are not carried out.
                group.retain(|w| !w.reply.is_closed());
                if !group.is_empty() {
                    self.handle_group(stream, group).await;
                }
            }
        }
        match answer.await {
            Ok(outcome) => outcome,
            Err(_) => self.again(stream, lane, command, meta).await,
        }
    }

    /// The caller carrying out a group was cancelled before it answered this command, which may or may not have been
    /// written: carry it out again, which its command id makes safe.
    async fn again(&self, stream: &StreamId, lane: &Lane<D>, command: &D::Command, meta: &CommandMeta) -> Outcome<D> {
        let _turn = lane.turn.lock().await;
        self.handle_in_turn(stream, command, meta).await
    }

    /// Decides every command of `group` in order, each on the state the earlier ones leave, writes all their events
    /// as one group, and answers each command. A conflict (another process wrote) decides the whole group again.
    async fn handle_group(&self, stream: &StreamId, group: Vec<Waiting<D>>) {
        let max = self.log.max_group();
        let mut group = group;
        group.sort_by_key(|w| self.decider.simultaneous_order(&w.command));
        while !group.is_empty() {
            let mut rest = if group.len() > max { group.split_off(max) } else { Vec::new() };
            let outcomes = self.decide_and_write(stream, &group).await;
            // Commands past the group's event limit wait for the next round, ahead of the rest.
            let later = group.split_off(outcomes.len().clamp(1, group.len()));
            for (w, outcome) in group.into_iter().zip(outcomes) {
                let _ = w.reply.send(outcome);
            }
            rest.splice(0..0, later);
            group = rest;
        }
    }

    /// The outcome of the first commands of `group` (at most `max_group` of them): all of them, or as many as fit
    /// in one group's [`MAX_EVENTS_PER_APPEND`] events.
    async fn decide_and_write(&self, stream: &StreamId, group: &[Waiting<D>]) -> Vec<Outcome<D>> {
        let fail = |e: CommandError<D::Rejection>| group.iter().map(|_| Err(e.clone())).collect();
        for _ in 0..self.max_attempts {
            // The fold this handler keeps, brought up to the log's end (one read): refusals and known command ids
            // are then decided on what every process has written.
            let mut f = match self.fold_to_end(stream).await {
                Ok(f) => f,
                Err(e) => return fail(e),
            };
            let base = f.version;
            let mut slots = Vec::with_capacity(group.len());
            let mut requests = Vec::new();
            let mut seen = std::collections::HashMap::new();
            let mut events_in_group = 0;
            for (i, w) in group.iter().enumerate() {
                if let Some(&first) = seen.get(w.meta.command_id.as_str()) {
                    slots.push(Slot::SameAs(first));
                    continue;
                }
                seen.insert(w.meta.command_id.as_str(), i);
                match self.earlier(stream, &f, &w.meta.command_id) {
                    Ok(Some(done)) => {
                        slots.push(Slot::Done(Ok(done)));
                        continue;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        slots.push(Slot::Done(Err(e)));
                        continue;
                    }
                }
                let ctx = self.ctx(&w.meta);
                match self.decider.decide(&f.state, &w.command, &ctx) {
                    Err(r) => slots.push(Slot::Done(Err(CommandError::Rejected(r)))),
                    Ok(events) if events.is_empty() => slots.push(Slot::Done(Ok(Handled {
                        events,
                        recorded: Vec::new(),
                        version: f.version,
                        duplicate: false,
                    }))),
                    Ok(events) => {
                        let request = AppendRequest {
                            stream: stream.clone(),
                            expected: expected(f.version),
                            command_id: w.meta.command_id.clone(),
                            events: events.iter().map(|e| self.to_new_event(e, &ctx, &w.meta)).collect(),
                        };
                        // An append no log takes fails its own command, not the group.
                        if let Err(e) = request.validate() {
                            slots.push(Slot::Done(Err(CommandError::Log(e.into()))));
                            continue;
                        }
                        events_in_group += events.len();
                        if events_in_group > MAX_EVENTS_PER_APPEND && !requests.is_empty() {
                            // Decided again in the next round, on the state this group leaves.
                            break;
                        }
                        requests.push(request);
                        // The state the next command is decided on; it is kept only if the group is written.
                        for e in &events {
                            f.state = self.decider.evolve(std::mem::take(&mut f.state), e);
                        }
                        f.version += events.len() as u64;
                        slots.push(Slot::Append(requests.len() - 1, events));
                    }
                }
            }
            if requests.is_empty() {
                self.keep(stream, f);
                return finish(slots, Vec::new());
            }
            match self.log.append_group(requests).await {
                Ok(outcomes) => {
                    for outcome in &outcomes {
                        for r in &outcome.events {
                            f.by_command.entry(r.command_id().to_owned()).or_default().push(r.clone());
                        }
                    }
                    if let Some(last) = outcomes.last() {
                        f.version = last.last_version();
                    }
                    self.keep(stream, f);
                    return finish(slots, outcomes);
                }
                Err(LogError::Conflict { .. }) => {
                    // Another process wrote to the stream (or carried out one of these commands): the fold is
                    // dropped, and the next attempt reads the stream again.
                    tracing::debug!(%stream, base, commands = group.len(), "group conflicted; deciding again");
                    tokio::task::yield_now().await;
                }
                Err(e) => return fail(CommandError::Log(e)),
            }
        }
        fail(CommandError::Conflict { stream: stream.to_string(), attempts: self.max_attempts })
    }

    fn ctx(&self, meta: &CommandMeta) -> Ctx {
        Ctx {
            now: self.clock.now(),
            actor: meta.actor.clone(),
            command_id: meta.command_id.clone(),
            rule_version: self.rule_version.clone(),
            calendar: self.calendar.as_ref().map_or_else(Calendar::published, CalendarView::get),
            ids: IdSource::System,
        }
    }

    /// The stream folded to its end: the cached fold plus whatever was appended since.
    async fn fold_to_end(&self, stream: &StreamId) -> Result<Folded<D>, CommandError<D::Rejection>> {
        let cached = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(stream.as_str());
        self.catch_up(stream, cached.unwrap_or_default()).await
    }

    /// `f` plus the events appended after it.
    async fn catch_up(&self, stream: &StreamId, mut f: Folded<D>) -> Result<Folded<D>, CommandError<D::Rejection>> {
        let tail = read_stream_to_end(self.log.as_ref(), stream, f.version + 1).await.map_err(CommandError::Log)?;
        for r in tail {
            let e = decode_event::<D::Event>(&r)
                .map_err(|source| CommandError::Decode { stream: stream.to_string(), source })?;
            f.state = self.decider.evolve(std::mem::take(&mut f.state), &e);
            f.version = r.version();
            f.by_command.entry(r.command_id().to_owned()).or_default().push(r);
        }
        Ok(f)
    }

    fn keep(&self, stream: &StreamId, f: Folded<D>) {
        let mut cache = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(evict) = cache.keys().next().cloned().filter(|_| cache.len() >= CACHED_STREAMS) {
            cache.remove(&evict);
        }
        cache.insert(stream.to_string(), f);
    }

    fn earlier(
        &self,
        stream: &StreamId,
        f: &Folded<D>,
        command_id: &CommandId,
    ) -> Result<Option<Handled<D>>, CommandError<D::Rejection>> {
        let Some(earlier) = f.by_command.get(command_id.as_str()) else { return Ok(None) };
        let events = earlier
            .iter()
            .map(decode_event::<D::Event>)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| CommandError::Decode { stream: stream.to_string(), source })?;
        Ok(Some(Handled { events, recorded: earlier.clone(), version: f.version, duplicate: true }))
    }

    async fn handle_in_turn(
        &self,
        stream: &StreamId,
        command: &D::Command,
        meta: &CommandMeta,
    ) -> Result<Handled<D>, CommandError<D::Rejection>> {
        // The first attempt trusts the folded state this handler keeps: if another process appended meanwhile, the
        // expected version makes the append conflict and the next attempt reads what it wrote. A refusal or a
        // command id it does not know is checked against the log's tail first, since those depend on what others
        // may have written.
        let cached = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(stream.as_str());
        let mut trusted = cached;
        for _ in 0..self.max_attempts {
            let (mut f, verified) = match trusted.take() {
                Some(f) if f.version > 0 => (f, false),
                _ => (self.fold_to_end(stream).await?, true),
            };
            if let Some(done) = self.earlier(stream, &f, &meta.command_id)? {
                self.keep(stream, f);
                return Ok(done);
            }
            let ctx = self.ctx(meta);
            let mut decided = self.decider.decide(&f.state, command, &ctx);
            if decided.is_err() && !verified {
                f = self.catch_up(stream, f).await?;
                if let Some(done) = self.earlier(stream, &f, &meta.command_id)? {
                    self.keep(stream, f);
                    return Ok(done);
                }
                decided = self.decider.decide(&f.state, command, &ctx);
            }
            let events = match decided {
                Ok(events) => events,
                Err(r) => {
                    self.keep(stream, f);
                    return Err(CommandError::Rejected(r));
                }
            };
            if events.is_empty() {
                let handled = Handled { events, recorded: Vec::new(), version: f.version, duplicate: false };
                self.keep(stream, f);
                return Ok(handled);
            }
            let new_events = events.iter().map(|e| self.to_new_event(e, &ctx, meta)).collect();
            let request = AppendRequest {
                stream: stream.clone(),
                expected: expected(f.version),
                command_id: meta.command_id.clone(),
                events: new_events,
            };
            match self.log.append(request).await {
                Ok(outcome) if outcome.duplicate => {
                    // Another instance handled the same command meanwhile: report its outcome.
                    let f = self.fold_to_end(stream).await?;
                    let done = self.earlier(stream, &f, &meta.command_id)?;
                    self.keep(stream, f);
                    if let Some(done) = done {
                        return Ok(done);
                    }
                }
                Ok(outcome) => {
                    for (e, r) in events.iter().zip(&outcome.events) {
                        f.state = self.decider.evolve(std::mem::take(&mut f.state), e);
                        f.by_command.entry(r.command_id().to_owned()).or_default().push(r.clone());
                    }
                    f.version = outcome.last_version();
                    let handled = Handled { events, version: f.version, recorded: outcome.events, duplicate: false };
                    self.keep(stream, f);
                    return Ok(handled);
                }
                Err(LogError::Conflict { .. }) => {
                    // Another process appended: the next attempt reads what it wrote.
                    self.keep(stream, f);
                    tracing::debug!(%stream, command_id = %meta.command_id, "conflict; deciding again");
                    tokio::task::yield_now().await;
                }
                Err(e) => {
                    self.keep(stream, f);
                    return Err(CommandError::Log(e));
                }
            }
        }
        Err(CommandError::Conflict { stream: stream.to_string(), attempts: self.max_attempts })
    }

    fn to_new_event(&self, e: &D::Event, ctx: &Ctx, meta: &CommandMeta) -> NewEvent {
        NewEvent {
            event_id: ctx.new_id(),
            event_type: e.event_type().to_owned(),
            schema_version: e.schema_version(),
            occurred_at: ctx.now,
            actor: Some(meta.actor.clone()),
            correlation_id: meta.correlation_id.clone(),
            causation_id: meta.causation_id.clone(),
            subjects: e.subjects(),
            traceparent: meta.traceparent.clone(),
            rule_version: ctx.recorded_rule_version(self.calendar.is_some()),
            payload: e.encode(),
        }
    }
}

/// The expectation of an append to a stream believed to be at `version`.
fn expected(version: u64) -> ExpectedVersion {
    if version == 0 { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(version) }
}

/// Each command's outcome, once its group's appends are `outcomes` (in the order of the group's requests).
fn finish<D: Decider>(slots: Vec<Slot<D>>, outcomes: Vec<crate::log::AppendOutcome>) -> Vec<Outcome<D>> {
    let mut outcomes: Vec<Option<crate::log::AppendOutcome>> = outcomes.into_iter().map(Some).collect();
    let mut answers: Vec<Outcome<D>> = Vec::with_capacity(slots.len());
    for slot in slots {
        let answer = match slot {
            Slot::Done(outcome) => outcome,
            Slot::Append(i, events) => match outcomes.get_mut(i).and_then(Option::take) {
                Some(o) => Ok(Handled { events, version: o.last_version(), recorded: o.events, duplicate: false }),
                None => Err(CommandError::Log(LogError::Unavailable("the log answered too few appends".into()))),
            },
            Slot::SameAs(first) => match answers.get(first) {
                Some(Ok(h)) => Ok(Handled {
                    events: h.events.clone(),
                    recorded: h.recorded.clone(),
                    version: h.version,
                    duplicate: true,
                }),
                Some(Err(e)) => Err(e.clone()),
                None => Err(CommandError::Log(LogError::Unavailable("a repeated command lost its first".into()))),
            },
        };
        answers.push(answer);
    }
    answers
}
