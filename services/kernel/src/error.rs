//! Errors of the log, as typed values.

use thiserror::Error;

use crate::log::ExpectedVersion;

/// Input that no log accepts. Returned before anything is written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InvalidInput {
    #[error("invalid stream id {id:?}: {why}")]
    BadStreamId { id: String, why: &'static str },
    #[error("invalid command id {id:?}: {why}")]
    BadCommandId { id: String, why: &'static str },
    #[error("an append needs at least one event")]
    NoEvents,
    #[error("an append holds at most {max} events, got {count}")]
    TooManyEvents { count: usize, max: usize },
    #[error("event {index}: payload of {size} bytes exceeds the limit of {max} bytes")]
    PayloadTooLarge { index: usize, size: usize, max: usize },
    #[error("event {index}: invalid event type {event_type:?}: {why}")]
    BadEventType { index: usize, event_type: String, why: &'static str },
    #[error("an append's payloads total {size} bytes, over the limit of {max} bytes")]
    AppendTooLarge { size: usize, max: usize },
    #[error("event {index}: {count} subject references, over the limit of {max}")]
    TooManySubjects { index: usize, count: usize, max: usize },
    #[error("event {index}: metadata field {field} is longer than {max} bytes")]
    MetadataTooLong { index: usize, field: &'static str, max: usize },
    #[error("invalid checkpoint name {name:?}: {why}")]
    BadCheckpointName { name: String, why: &'static str },
    #[error("position 0 does not exist; positions and versions start at 1")]
    ZeroPosition,
    #[error("a group of appends needs at least one append")]
    EmptyGroup,
    #[error("a group holds at most {max} appends, got {count}")]
    GroupTooLarge { count: usize, max: usize },
    #[error("append {index} of a group is to stream {stream:?}; a group appends to one stream")]
    GroupMixesStreams { index: usize, stream: String },
    #[error("append {index} of a group repeats command {command_id:?}")]
    GroupRepeatsCommand { index: usize, command_id: String },
}

/// Why a log operation failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LogError {
    /// The stream is not at the expected version; nothing was written. Reload and decide again.
    #[error("stream {stream}: expected {expected}, but it is at version {actual}")]
    Conflict { stream: String, expected: ExpectedVersion, actual: u64 },
    /// The input is invalid; nothing was written.
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    /// Stored data failed to decode or is inconsistent.
    #[error("corrupt event at position {position} (stream {stream}): {reason}")]
    Corrupt { position: u64, stream: String, reason: String },
    /// The log was opened read-only.
    #[error("the log is open read-only")]
    ReadOnly,
    /// The store cannot be reached or failed; the operation may be retried. Nothing partial was written.
    #[error("event log unavailable: {0}")]
    Unavailable(String),
}

impl LogError {
    /// Whether retrying the same call later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}
