//! Pure decisions: a decider turns (state, command, context) into events, and folds events into state.

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use ttx_proto::common::v1::{Actor, ErrorCode, ReplyError, SubjectRef};
use uuid::Uuid;

use crate::calendar::Calendar;
use crate::ids::CommandId;
use crate::time::Timestamp;

/// Why stored bytes could not be turned back into a domain event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown event type {event_type:?} (schema version {schema_version})")]
    UnknownType { event_type: String, schema_version: u32 },
    #[error("event {event_type:?} does not decode: {reason}")]
    Malformed { event_type: String, reason: String },
}

/// A domain event that knows its wire form. Unknown types are an error value, never a panic.
pub trait DomainEvent: Sized + Clone + Debug + PartialEq + Send + Sync + 'static {
    /// Fully qualified type name stored in the envelope.
    fn event_type(&self) -> &'static str;
    /// Version of this type's schema; bump it only with an upcaster in `decode`.
    fn schema_version(&self) -> u32 {
        1
    }
    /// The business objects this event is about (the result id, above all), for audit joins.
    fn subjects(&self) -> Vec<SubjectRef> {
        Vec::new()
    }
    fn encode(&self) -> Bytes;
    fn decode(event_type: &str, schema_version: u32, payload: &[u8]) -> Result<Self, DecodeError>;
}

/// Where new ids come from: fresh UUIDv7s in production, a predictable sequence in tests.
#[derive(Debug)]
pub enum IdSource {
    System,
    Sequence { prefix: u64, next: AtomicU64 },
}

impl IdSource {
    /// Ids `prefix:1`, `prefix:2`, … laid out as UUIDs (the first 8 bytes are `prefix`, the last 8 the counter).
    pub fn sequence(prefix: u64) -> Self {
        Self::Sequence { prefix, next: AtomicU64::new(1) }
    }

    pub fn next_id(&self) -> Uuid {
        match self {
            Self::System => Uuid::now_v7(),
            Self::Sequence { prefix, next } => {
                let n = next.fetch_add(1, Ordering::Relaxed);
                Uuid::from_u64_pair(*prefix, n)
            }
        }
    }
}

/// Everything a decision may depend on besides state and command: who, when, under which rules, and new ids.
#[derive(Debug)]
pub struct Ctx {
    pub now: Timestamp,
    pub actor: Actor,
    pub command_id: CommandId,
    pub rule_version: String,
    /// The PRC working-day calendar in force: periods are counted with it, never guessed.
    pub calendar: Arc<Calendar>,
    pub ids: IdSource,
}

impl Ctx {
    /// A context with the published calendar.
    pub fn new(now: Timestamp, actor: Actor, command_id: CommandId) -> Self {
        Self {
            now,
            actor,
            command_id,
            rule_version: String::new(),
            calendar: Calendar::published(),
            ids: IdSource::System,
        }
    }

    /// The rule version an event records: the service's rules, and the calendar in force where periods are counted.
    pub fn recorded_rule_version(&self, counts_periods: bool) -> String {
        if counts_periods && !self.rule_version.is_empty() {
            format!("{};{}", self.rule_version, self.calendar.version())
        } else {
            self.rule_version.clone()
        }
    }

    /// A fresh id for a new entity.
    pub fn new_id(&self) -> Uuid {
        self.ids.next_id()
    }
}

/// A decider's refusal as every caller sees it: a code of the closed set ([`ErrorCode`]), the rejection's own stable
/// name, and for invalid input the field at fault. Implemented beside each decider, so each rejection has one answer.
pub trait Refusal: std::error::Error {
    /// What kind of refusal it is; callers map codes to their answers (HTTP status, page message).
    fn code(&self) -> ErrorCode;
    /// The rejection's stable snake_case name (for example `notice_running`), which clients may match on.
    fn reason(&self) -> &'static str;
    /// For invalid input: the request field at fault.
    fn field(&self) -> Option<String> {
        None
    }
    /// The refusal as a bus reply.
    fn to_reply(&self) -> ReplyError {
        let error = match self.field() {
            Some(field) => ReplyError::invalid(field, self.to_string()),
            None => ReplyError::new(self.code(), self.to_string()),
        };
        error.with_reason(self.reason())
    }
}

/// A decider that refuses nothing.
impl Refusal for std::convert::Infallible {
    fn code(&self) -> ErrorCode {
        match *self {}
    }
    fn reason(&self) -> &'static str {
        match *self {}
    }
}

/// An aggregate's rules, as two pure functions.
pub trait Decider: Send + Sync + 'static {
    type State: Default + Clone + Debug + Send + Sync;
    type Command: Clone + Debug + Send + Sync;
    type Event: DomainEvent;
    type Rejection: Refusal + Clone + PartialEq + Send + Sync + 'static;

    /// Decides which events a command produces, or why it is refused. No IO, no clock: everything is in `ctx`.
    fn decide(
        &self,
        state: &Self::State,
        command: &Self::Command,
        ctx: &Ctx,
    ) -> Result<Vec<Self::Event>, Self::Rejection>;

    /// Applies one event to the state.
    fn evolve(&self, state: Self::State, event: &Self::Event) -> Self::State;

    /// Where a command goes among commands that arrived together. Commands waiting for the same stream at the same
    /// time, none of them answered yet, are concurrent: any order is a true account of them. The handler decides
    /// them by this key, lowest first, and in arrival order among equal keys. The default keeps arrival order.
    fn simultaneous_order(&self, _command: &Self::Command) -> i64 {
        0
    }

    /// Folds events into a state, from the initial one.
    fn fold<'a>(&self, events: impl IntoIterator<Item = &'a Self::Event>) -> Self::State {
        events.into_iter().fold(Self::State::default(), |s, e| self.evolve(s, e))
    }
}
