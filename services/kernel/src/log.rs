//! The append-only event log: the one trait every store implements, and what is built on top of it.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::error::{InvalidInput, LogError};
use crate::event::{NewEvent, RecordedEvent};
use crate::ids::{CommandId, StreamId};

/// Largest payload of one event: 1 MiB.
pub const MAX_PAYLOAD_BYTES: usize = 1 << 20;
/// Most events one append (one command) may write.
pub const MAX_EVENTS_PER_APPEND: usize = 1000;
/// Longest event type name.
pub const MAX_EVENT_TYPE_BYTES: usize = 256;
/// Longest metadata string (correlation, causation, traceparent, rule version, subject parts).
pub const MAX_METADATA_BYTES: usize = 512;
/// Most subject references one event may carry.
pub const MAX_SUBJECTS_PER_EVENT: usize = 32;
/// Largest total payload of one append: 16 MiB.
pub const MAX_APPEND_PAYLOAD_BYTES: usize = 16 << 20;
/// Longest checkpoint name.
pub const MAX_CHECKPOINT_NAME_BYTES: usize = 128;

/// What the writer believes the stream's version to be. Versions count events: an empty stream is at 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// Append whatever the version.
    Any,
    /// The stream must not exist yet (same as `Exact(0)`).
    NoStream,
    /// The stream's last event must have this version.
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether a stream at `actual` satisfies the expectation.
    pub fn admits(self, actual: u64) -> bool {
        match self {
            Self::Any => true,
            Self::NoStream => actual == 0,
            Self::Exact(v) => actual == v,
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("any version"),
            Self::NoStream => f.write_str("no stream"),
            Self::Exact(v) => write!(f, "version {v}"),
        }
    }
}

/// One command's events, appended all-or-nothing.
#[derive(Debug, Clone)]
pub struct AppendRequest {
    pub stream: StreamId,
    pub expected: ExpectedVersion,
    pub command_id: CommandId,
    pub events: Vec<NewEvent>,
}

impl AppendRequest {
    /// Checks the limits every log enforces, before anything is written.
    pub fn validate(&self) -> Result<(), InvalidInput> {
        if self.events.is_empty() {
            return Err(InvalidInput::NoEvents);
        }
        if self.events.len() > MAX_EVENTS_PER_APPEND {
            return Err(InvalidInput::TooManyEvents { count: self.events.len(), max: MAX_EVENTS_PER_APPEND });
        }
        let total: usize = self.events.iter().map(|e| e.payload.len()).sum();
        if total > MAX_APPEND_PAYLOAD_BYTES {
            return Err(InvalidInput::AppendTooLarge { size: total, max: MAX_APPEND_PAYLOAD_BYTES });
        }
        for (index, e) in self.events.iter().enumerate() {
            if e.payload.len() > MAX_PAYLOAD_BYTES {
                return Err(InvalidInput::PayloadTooLarge { index, size: e.payload.len(), max: MAX_PAYLOAD_BYTES });
            }
            let bad_type = |why| InvalidInput::BadEventType { index, event_type: e.event_type.clone(), why };
            if e.event_type.is_empty() {
                return Err(bad_type("empty"));
            }
            if e.event_type.len() > MAX_EVENT_TYPE_BYTES {
                return Err(bad_type("longer than 256 bytes"));
            }
            if e.event_type.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(bad_type("whitespace and control characters are not allowed"));
            }
            let fields = [
                ("correlation_id", &e.correlation_id),
                ("causation_id", &e.causation_id),
                ("traceparent", &e.traceparent),
                ("rule_version", &e.rule_version),
            ];
            for (field, value) in fields {
                if value.len() > MAX_METADATA_BYTES {
                    return Err(InvalidInput::MetadataTooLong { index, field, max: MAX_METADATA_BYTES });
                }
            }
            if let Some(actor) = &e.actor
                && (actor.user_id.len() > MAX_METADATA_BYTES || actor.org_id.len() > MAX_METADATA_BYTES)
            {
                return Err(InvalidInput::MetadataTooLong { index, field: "actor", max: MAX_METADATA_BYTES });
            }
            if e.subjects.len() > MAX_SUBJECTS_PER_EVENT {
                return Err(InvalidInput::TooManySubjects {
                    index,
                    count: e.subjects.len(),
                    max: MAX_SUBJECTS_PER_EVENT,
                });
            }
            if e.subjects.iter().any(|s| s.kind.len() + s.id.len() > MAX_METADATA_BYTES) {
                return Err(InvalidInput::MetadataTooLong { index, field: "subjects", max: MAX_METADATA_BYTES });
            }
        }
        Ok(())
    }
}

/// Checks a group of appends (see [`EventLog::append_group`]) before anything is written: at least one and at most
/// `max` appends, all to one stream, no command twice, each valid on its own.
pub fn validate_group(requests: &[AppendRequest], max: usize) -> Result<(), InvalidInput> {
    let Some(first) = requests.first() else { return Err(InvalidInput::EmptyGroup) };
    if requests.len() > max {
        return Err(InvalidInput::GroupTooLarge { count: requests.len(), max });
    }
    let mut seen = std::collections::HashSet::with_capacity(requests.len());
    for (index, r) in requests.iter().enumerate() {
        if r.stream != first.stream {
            return Err(InvalidInput::GroupMixesStreams { index, stream: r.stream.to_string() });
        }
        if !seen.insert(r.command_id.as_str()) {
            return Err(InvalidInput::GroupRepeatsCommand { index, command_id: r.command_id.to_string() });
        }
        r.validate()?;
    }
    Ok(())
}

/// Checks where a read starts: positions and versions start at 1.
pub fn validate_read_start(from: u64) -> Result<(), InvalidInput> {
    if from == 0 { Err(InvalidInput::ZeroPosition) } else { Ok(()) }
}

/// Checks a checkpoint name: 1..=128 bytes, no whitespace or control characters.
pub fn validate_checkpoint_name(name: &str) -> Result<(), InvalidInput> {
    let bad = |why| InvalidInput::BadCheckpointName { name: name.chars().take(64).collect(), why };
    if name.is_empty() {
        return Err(bad("empty"));
    }
    if name.len() > MAX_CHECKPOINT_NAME_BYTES {
        return Err(bad("longer than 128 bytes"));
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("whitespace and control characters are not allowed"));
    }
    Ok(())
}

/// What an append stored, or, for a retried command, what the first attempt stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AppendOutcome {
    pub events: Vec<RecordedEvent>,
    /// True when the command id had already been appended to the stream and nothing new was written.
    pub duplicate: bool,
}

impl AppendOutcome {
    pub fn first_position(&self) -> u64 {
        self.events.first().map_or(0, RecordedEvent::position)
    }

    pub fn last_position(&self) -> u64 {
        self.events.last().map_or(0, RecordedEvent::position)
    }

    /// The stream's version after the command's last event.
    pub fn last_version(&self) -> u64 {
        self.events.last().map_or(0, RecordedEvent::version)
    }
}

/// The durable, append-only, hash-chained event log.
///
/// Positions in the global log and versions in a stream both start at 1 and are dense. Every read returns events in
/// order. An append that returns `Ok` is durable.
#[async_trait]
pub trait EventLog: Send + Sync + 'static {
    /// Appends one command's events to one stream, all or nothing, if the stream is at the expected version.
    ///
    /// If `command_id` was already appended to this stream, nothing is written and the original events are
    /// returned with `duplicate: true`. The embedded log guarantees this whatever the expected version; the JetStream
    /// log guarantees it within the server's duplicate window, and after it whenever the expectation is stale or the
    /// command is the stream's last (see docs/adr/0002-jetstream-event-log.md). The command handler, which checks the
    /// stream it loads, is covered in both.
    async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, LogError>;

    /// How many appends [`EventLog::append_group`] takes at once. 1 (the default) means the log cannot append a group
    /// atomically, and callers append one command at a time.
    fn max_group(&self) -> usize {
        1
    }

    /// Appends several commands to one stream, in order, all or nothing, with one durable write.
    ///
    /// Each append keeps its own command id and expected version; the versions must chain (the second append expects
    /// the version the first leaves, and so on). If any append would not be written as a new command, because the
    /// stream is not at its expected version or its command id is already in the stream, nothing of the group is
    /// written and the answer is a [`LogError::Conflict`]: the caller reads the stream and decides again. A group of
    /// more than [`EventLog::max_group`] appends is invalid.
    async fn append_group(&self, requests: Vec<AppendRequest>) -> Result<Vec<AppendOutcome>, LogError> {
        validate_group(&requests, self.max_group())?;
        let mut requests = requests;
        match requests.pop() {
            Some(only) if requests.is_empty() => match self.append(only).await? {
                AppendOutcome { duplicate: true, events } => Err(LogError::Conflict {
                    stream: events.first().map(|e| e.stream_id().to_owned()).unwrap_or_default(),
                    expected: ExpectedVersion::Any,
                    actual: events.last().map_or(0, RecordedEvent::version),
                }),
                outcome => Ok(vec![outcome]),
            },
            _ => Err(InvalidInput::GroupTooLarge { count: requests.len() + 1, max: 1 }.into()),
        }
    }

    /// Up to `max` events of one stream, from `from_version` (1 for the start) on. An unknown stream is empty.
    async fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, LogError>;

    /// Up to `max` events of the global log, from `from_position` (1 for the start) on.
    async fn read_all(&self, from_position: u64, max: usize) -> Result<Vec<RecordedEvent>, LogError>;

    /// The position of the last stored event (0 when the log is empty).
    async fn head(&self) -> Result<u64, LogError>;

    /// A watch of the head, updated after every durable append; it drives live subscriptions.
    fn watch_head(&self) -> watch::Receiver<u64>;

    /// The durable position of a named checkpoint.
    async fn load_checkpoint(&self, name: &str) -> Result<Option<u64>, LogError>;

    /// Durably records a named checkpoint.
    async fn save_checkpoint(&self, name: &str, position: u64) -> Result<(), LogError>;
}

/// How long a caught-up subscription trusts the head watch before it reads the log again anyway.
const HEAD_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// Page size used by the helpers below.
pub const READ_PAGE: usize = 4096;

/// Reads a whole stream from `from_version` on, page by page.
pub async fn read_stream_to_end<L: EventLog + ?Sized>(
    log: &L,
    stream: &StreamId,
    from_version: u64,
) -> Result<Vec<RecordedEvent>, LogError> {
    let mut out = Vec::new();
    let mut next = from_version.max(1);
    loop {
        let page = log.read_stream(stream, next, READ_PAGE).await?;
        let full = page.len() == READ_PAGE;
        if let Some(last) = page.last() {
            next = last.version() + 1;
        }
        out.extend(page);
        if !full {
            return Ok(out);
        }
    }
}

/// A live feed of the global log from a position: first every stored event (catch-up), then each new one as it is
/// appended, in log order, with no gap and no duplicate. It reads by position, so the hand-over from catch-up to live
/// cannot skip or repeat an event whatever appends run meanwhile.
pub struct Subscription {
    log: Arc<dyn EventLog>,
    head: watch::Receiver<u64>,
    next: u64,
    buffer: std::collections::VecDeque<RecordedEvent>,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription").field("next", &self.next).finish_non_exhaustive()
    }
}

impl Subscription {
    /// Subscribes from `from_position` (1 for the whole log). Use a checkpoint + 1 to resume.
    pub fn new(log: Arc<dyn EventLog>, from_position: u64) -> Self {
        let head = log.watch_head();
        Self { log, head, next: from_position.max(1), buffer: Default::default() }
    }

    /// The position of the next event this subscription will return.
    pub fn next_position(&self) -> u64 {
        self.next
    }

    /// The next event; waits for it if the subscriber is caught up. Fails if the log is closed or unavailable.
    pub async fn next(&mut self) -> Result<RecordedEvent, LogError> {
        loop {
            if let Some(e) = self.buffer.pop_front() {
                return Ok(e);
            }
            let page = self.log.read_all(self.next, READ_PAGE).await?;
            if !page.is_empty() {
                for e in page {
                    if e.position() != self.next {
                        return Err(LogError::Corrupt {
                            position: self.next,
                            stream: "?".into(),
                            reason: format!("missing from the log; the next stored event is at {}", e.position()),
                        });
                    }
                    self.next += 1;
                    self.buffer.push_back(e);
                }
                continue;
            }
            // Caught up: wait until the head moves past what we have read. The watch is a hint, not the truth, so the
            // log is read again at least once a second even if it says nothing.
            let next = self.next;
            let waited = tokio::time::timeout(HEAD_POLL, self.head.wait_for(|h| *h >= next)).await;
            if let Ok(Err(_)) = waited {
                return Err(LogError::Unavailable("the event log was closed".into()));
            }
        }
    }
}
