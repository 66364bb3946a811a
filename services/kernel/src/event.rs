//! Events going into the log and events coming out of it.

use bytes::Bytes;
use prost::Message;
use ttx_proto::common::v1::{Actor, SubjectRef};
use ttx_proto::envelope::v1::Envelope;
use uuid::Uuid;

use crate::chain::{Hash, hash_bytes};
use crate::ids::{CommandId, StreamId};
use crate::time::Timestamp;

/// An event to append: everything but what the log assigns (version, position, record time, previous hash).
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub event_id: Uuid,
    /// Fully qualified protobuf message name of the payload, e.g. `ttx.listings.v1.ResultPublished`.
    pub event_type: String,
    pub schema_version: u32,
    pub occurred_at: Timestamp,
    pub actor: Option<Actor>,
    pub correlation_id: String,
    pub causation_id: String,
    pub subjects: Vec<SubjectRef>,
    pub traceparent: String,
    pub rule_version: String,
    pub payload: Bytes,
}

impl NewEvent {
    /// An event with the given id, type, time and payload and empty metadata.
    pub fn new(
        event_id: Uuid,
        event_type: impl Into<String>,
        occurred_at: Timestamp,
        payload: impl Into<Bytes>,
    ) -> Self {
        Self {
            event_id,
            event_type: event_type.into(),
            schema_version: 1,
            occurred_at,
            actor: None,
            correlation_id: String::new(),
            causation_id: String::new(),
            subjects: Vec::new(),
            traceparent: String::new(),
            rule_version: String::new(),
            payload: payload.into(),
        }
    }
}

/// What the log assigns to an event when it stores it.
#[derive(Debug, Clone, Copy)]
pub struct Placement<'a> {
    pub stream: &'a StreamId,
    pub stream_version: u64,
    pub global_position: u64,
    pub command_id: &'a CommandId,
    pub command_index: u32,
    pub recorded_at: Timestamp,
    pub prev_hash: &'a Hash,
}

/// An event as stored: its decoded envelope, the exact stored bytes and the hash the log stored with them.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    pub envelope: Envelope,
    /// The exact bytes the log stores; every hash is computed over these.
    pub bytes: Bytes,
    /// SHA-256 of `bytes`, as stored by the log (a tampered store may make it disagree: see [`crate::chain`]).
    pub hash: Hash,
}

impl RecordedEvent {
    /// Builds the envelope for `event` at `at`, encodes it and hashes the encoding. Every log implementation stores
    /// exactly these bytes.
    pub fn seal(event: &NewEvent, at: Placement<'_>) -> Self {
        let (envelope, bytes) = Self::encode_at(event, at);
        let hash = hash_bytes(&bytes);
        Self { envelope, bytes, hash }
    }

    /// The envelope for `event` at `at` and its encoding, not yet hashed: for logs that hash many events at once
    /// ([`crate::sha256x::hash_many`]). The stored hash must be SHA-256 of exactly these bytes.
    pub fn encode_at(event: &NewEvent, at: Placement<'_>) -> (Envelope, Bytes) {
        let envelope = Envelope {
            event_id: Bytes::copy_from_slice(event.event_id.as_bytes()),
            stream_id: at.stream.as_str().to_owned(),
            stream_version: at.stream_version,
            global_position: at.global_position,
            event_type: event.event_type.clone(),
            schema_version: event.schema_version,
            occurred_at: Some(event.occurred_at.to_proto()),
            recorded_at: Some(at.recorded_at.to_proto()),
            actor: event.actor.clone(),
            correlation_id: event.correlation_id.clone(),
            causation_id: event.causation_id.clone(),
            command_id: at.command_id.as_str().to_owned(),
            subjects: event.subjects.clone(),
            traceparent: event.traceparent.clone(),
            rule_version: event.rule_version.clone(),
            prev_hash: Bytes::copy_from_slice(at.prev_hash),
            payload: event.payload.clone(),
            command_index: at.command_index,
        };
        let bytes = Bytes::from(envelope.encode_to_vec());
        (envelope, bytes)
    }

    /// Decodes stored bytes. `hash` is the hash stored alongside them.
    pub fn decode(bytes: Bytes, hash: Hash) -> Result<Self, prost::DecodeError> {
        let envelope = Envelope::decode(bytes.clone())?;
        Ok(Self { envelope, bytes, hash })
    }

    pub fn position(&self) -> u64 {
        self.envelope.global_position
    }

    pub fn version(&self) -> u64 {
        self.envelope.stream_version
    }

    pub fn stream_id(&self) -> &str {
        &self.envelope.stream_id
    }

    pub fn event_type(&self) -> &str {
        &self.envelope.event_type
    }

    pub fn command_id(&self) -> &str {
        &self.envelope.command_id
    }

    pub fn payload(&self) -> &Bytes {
        &self.envelope.payload
    }

    /// The rules (and calendar) the event was decided under.
    pub fn rule_version(&self) -> &str {
        &self.envelope.rule_version
    }

    pub fn event_id(&self) -> Option<Uuid> {
        Uuid::from_slice(&self.envelope.event_id).ok()
    }

    pub fn occurred_at(&self) -> Timestamp {
        self.envelope.occurred_at.as_ref().map(Timestamp::from_proto).unwrap_or_default()
    }

    pub fn recorded_at(&self) -> Timestamp {
        self.envelope.recorded_at.as_ref().map(Timestamp::from_proto).unwrap_or_default()
    }
}
