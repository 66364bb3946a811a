//! Validated identifiers. Parse, don't validate: once you hold one, it is well formed.

use std::fmt;

use crate::InvalidInput;

/// Longest stream id, in bytes.
pub const MAX_STREAM_ID_BYTES: usize = 256;
/// Longest command id, in bytes.
pub const MAX_COMMAND_ID_BYTES: usize = 128;

/// Characters that may not appear in an id part because they are structural in NATS subjects.
fn is_forbidden(c: char) -> bool {
    c.is_whitespace() || c.is_control() || matches!(c, '.' | '*' | '>')
}

fn is_name(part: &str) -> bool {
    let mut chars = part.chars();
    matches!(chars.next(), Some('a'..='z')) && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

/// The id of one stream of events, `<context>-<aggregate>-<id>`, e.g. `listings-result-7f3a…`.
///
/// `context` and `aggregate` are lower-case ASCII names (`[a-z][a-z0-9_]*`); `id` is any non-empty text without
/// whitespace, control characters, `.`, `*` or `>` (Unicode welcome), so every stream id maps one-to-one onto a NATS
/// subject token.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(String);

impl StreamId {
    /// Parses a full stream id.
    pub fn parse(s: impl Into<String>) -> Result<Self, InvalidInput> {
        let s = s.into();
        let bad = |why: &'static str| InvalidInput::BadStreamId { id: truncate(&s), why };
        if s.is_empty() {
            return Err(bad("empty"));
        }
        if s.len() > MAX_STREAM_ID_BYTES {
            return Err(bad("longer than 256 bytes"));
        }
        let mut parts = s.splitn(3, '-');
        let (Some(context), Some(aggregate), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected <context>-<aggregate>-<id>"));
        };
        if !is_name(context) || !is_name(aggregate) {
            return Err(bad("context and aggregate must match [a-z][a-z0-9_]*"));
        }
        if id.is_empty() {
            return Err(bad("empty id part"));
        }
        if id.chars().any(is_forbidden) {
            return Err(bad("whitespace, control characters, '.', '*' and '>' are not allowed"));
        }
        Ok(Self(s))
    }

    /// Builds `<context>-<aggregate>-<id>` and validates it.
    pub fn new(context: &str, aggregate: &str, id: &str) -> Result<Self, InvalidInput> {
        Self::parse(format!("{context}-{aggregate}-{id}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The bounded context that owns the stream.
    pub fn context(&self) -> &str {
        self.0.split('-').next().unwrap_or_default()
    }

    /// The aggregate type.
    pub fn aggregate(&self) -> &str {
        self.0.split('-').nth(1).unwrap_or_default()
    }

    /// The aggregate's own id.
    pub fn id(&self) -> &str {
        self.0.splitn(3, '-').nth(2).unwrap_or_default()
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StreamId({})", self.0)
    }
}

/// The idempotency key of a command. A command retried with the same id has its original outcome returned.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommandId(String);

impl CommandId {
    pub fn parse(s: impl Into<String>) -> Result<Self, InvalidInput> {
        let s = s.into();
        let bad = |why: &'static str| InvalidInput::BadCommandId { id: truncate(&s), why };
        if s.is_empty() {
            return Err(bad("empty"));
        }
        if s.len() > MAX_COMMAND_ID_BYTES {
            return Err(bad("longer than 128 bytes"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("whitespace and control characters are not allowed"));
        }
        Ok(Self(s))
    }

    /// A fresh random-free, time-ordered id (UUIDv7).
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }

    /// The id of a command derived from another id, e.g. a reaction to an event: `derive("evt-…", "open-draft")`.
    /// Redelivery of the same event derives the same id, which makes the reaction idempotent.
    pub fn derive(cause: &str, purpose: &str) -> Result<Self, InvalidInput> {
        Self::parse(format!("{cause}:{purpose}"))
    }

    /// The id of a command the exchange sends itself (a timer's firing, a reaction): `<purpose>~<what it fires>`.
    /// No command a caller sends may hold the `~` ([`CommandMeta::from_context`](crate::CommandMeta::from_context)
    /// refuses it, and the gateway's ids cannot hold it), so no caller can take, and so pre-empt, the id of a command
    /// the exchange will send.
    pub fn system(purpose: &str, what: &str) -> Result<Self, InvalidInput> {
        Self::parse(format!("{purpose}{SYSTEM_SEPARATOR}{what}"))
    }

    /// Whether this is the id of one of the exchange's own commands.
    pub fn is_system(&self) -> bool {
        self.0.contains(SYSTEM_SEPARATOR)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Marks the exchange's own command ids ([`CommandId::system`]).
pub const SYSTEM_SEPARATOR: char = '~';

impl fmt::Display for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CommandId({})", self.0)
    }
}

/// Keeps error messages bounded when the offending input is huge.
fn truncate(s: &str) -> String {
    if s.len() <= 64 {
        return s.to_owned();
    }
    let mut end = 64;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exchange_s_own_command_ids_are_ones_no_caller_may_send() {
        let timer = CommandId::system("close", "s1:1790000000").unwrap();
        assert_eq!(timer.as_str(), "close~s1:1790000000");
        assert!(timer.is_system());
        // A user whose login is a timer's purpose sends `<login>:<key>`: never the timer's id.
        let user = CommandId::parse("close:s1:1790000000").unwrap();
        assert!(!user.is_system() && user != timer);
        // And a caller that sends an id holding the mark is refused before anything is decided.
        let context = |id: &str| {
            Some(ttx_proto::common::v1::CommandContext {
                actor: Some(ttx_proto::common::v1::Actor { user_id: "close".into(), ..Default::default() }),
                command_id: id.into(),
            })
        };
        let refused = crate::CommandMeta::from_context(context("close~s1:1790000000")).unwrap_err();
        assert_eq!((refused.code.as_str(), refused.field.as_str()), ("invalid_input", "context.command_id"));
        assert!(crate::CommandMeta::from_context(context("close:s1:1790000000")).is_ok());
    }

    #[test]
    fn a_well_formed_stream_id_is_split_into_its_parts() {
        let id = StreamId::parse("listings-result-成果-42").unwrap();
        assert_eq!(id.context(), "listings");
        assert_eq!(id.aggregate(), "result");
        assert_eq!(id.id(), "成果-42");
    }

    #[test]
    fn malformed_stream_ids_are_rejected_with_a_reason() {
        for bad in [
            "",
            "listings",
            "listings-result",
            "listings-result-",
            "Listings-result-1",
            "listings-res ult-1",
            "listings-result-a.b",
            "listings-result-a b",
            "listings-result-a>",
            "listings-result-\u{7}",
        ] {
            let err = StreamId::parse(bad).unwrap_err();
            assert!(matches!(err, InvalidInput::BadStreamId { .. }), "{bad:?} gave {err:?}");
        }
        let long = format!("a-b-{}", "x".repeat(MAX_STREAM_ID_BYTES));
        assert!(StreamId::parse(long).is_err());
    }

    #[test]
    fn command_ids_reject_empty_long_and_blank_input() {
        assert!(CommandId::parse("").is_err());
        assert!(CommandId::parse("a b").is_err());
        assert!(CommandId::parse("x".repeat(129)).is_err());
        assert_eq!(CommandId::parse("cmd-1").unwrap().as_str(), "cmd-1");
        assert_eq!(CommandId::derive("evt", "open").unwrap().as_str(), "evt:open");
    }
}
