//! A worked example: a counter that can be closed. The conformance suite uses it to drive the command handler.

use bytes::Bytes;
use prost::Message;

use crate::decider::{Ctx, Decider, DecodeError, DomainEvent};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CounterState {
    pub value: u64,
    pub closed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CounterCommand {
    Increment {
        by: u64,
    },
    /// `count` increments by one, each its own event (a command that writes many events).
    Burst {
        count: u32,
    },
    Close,
    /// Raises the counter to `to`, which must be above its value: commands waiting together are decided lowest
    /// first (as bids are), so that each meets only lower ones.
    Raise {
        to: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CounterEvent {
    Incremented { by: u64 },
    Closed,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CounterRejection {
    #[error("the counter is closed")]
    Closed,
    #[error("an increment must be positive")]
    ZeroIncrement,
    #[error("the counter would overflow")]
    Overflow,
    #[error("the counter is at or above that already")]
    NotAbove,
}

impl crate::decider::Refusal for CounterRejection {
    fn code(&self) -> ttx_proto::common::v1::ErrorCode {
        ttx_proto::common::v1::ErrorCode::Rejected
    }

    fn reason(&self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::ZeroIncrement => "zero_increment",
            Self::Overflow => "overflow",
            Self::NotAbove => "not_above",
        }
    }
}

#[derive(Clone, PartialEq, prost::Message)]
struct IncrementedPb {
    #[prost(uint64, tag = "1")]
    by: u64,
}

const INCREMENTED: &str = "ttx.example.v1.Incremented";
const CLOSED: &str = "ttx.example.v1.Closed";

impl DomainEvent for CounterEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::Incremented { .. } => INCREMENTED,
            Self::Closed => CLOSED,
        }
    }

    fn encode(&self) -> Bytes {
        match self {
            Self::Incremented { by } => IncrementedPb { by: *by }.encode_to_vec().into(),
            Self::Closed => Bytes::new(),
        }
    }

    fn decode(event_type: &str, schema_version: u32, payload: &[u8]) -> Result<Self, DecodeError> {
        match (event_type, schema_version) {
            (INCREMENTED, 1) => IncrementedPb::decode(payload)
                .map(|p| Self::Incremented { by: p.by })
                .map_err(|e| DecodeError::Malformed { event_type: event_type.into(), reason: e.to_string() }),
            (CLOSED, 1) => Ok(Self::Closed),
            _ => Err(DecodeError::UnknownType { event_type: event_type.into(), schema_version }),
        }
    }
}

/// The counter's rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counter;

impl Decider for Counter {
    type State = CounterState;
    type Command = CounterCommand;
    type Event = CounterEvent;
    type Rejection = CounterRejection;

    fn decide(
        &self,
        state: &CounterState,
        command: &CounterCommand,
        _ctx: &Ctx,
    ) -> Result<Vec<CounterEvent>, CounterRejection> {
        if state.closed {
            return Err(CounterRejection::Closed);
        }
        match command {
            CounterCommand::Increment { by: 0 } => Err(CounterRejection::ZeroIncrement),
            CounterCommand::Increment { by } => {
                state.value.checked_add(*by).ok_or(CounterRejection::Overflow)?;
                Ok(vec![CounterEvent::Incremented { by: *by }])
            }
            CounterCommand::Burst { count: 0 } => Err(CounterRejection::ZeroIncrement),
            CounterCommand::Burst { count } => {
                state.value.checked_add(u64::from(*count)).ok_or(CounterRejection::Overflow)?;
                Ok(vec![CounterEvent::Incremented { by: 1 }; *count as usize])
            }
            CounterCommand::Close => Ok(vec![CounterEvent::Closed]),
            CounterCommand::Raise { to } if *to <= state.value => Err(CounterRejection::NotAbove),
            CounterCommand::Raise { to } => Ok(vec![CounterEvent::Incremented { by: to - state.value }]),
        }
    }

    fn simultaneous_order(&self, command: &CounterCommand) -> i64 {
        match command {
            CounterCommand::Raise { to } => i64::try_from(*to).unwrap_or(i64::MAX),
            _ => 0,
        }
    }

    fn evolve(&self, mut state: CounterState, event: &CounterEvent) -> CounterState {
        match event {
            CounterEvent::Incremented { by } => state.value += by,
            CounterEvent::Closed => state.closed = true,
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Scenario;

    #[test]
    fn an_open_counter_counts_up() {
        let state = Scenario::new(Counter)
            .given([CounterEvent::Incremented { by: 2 }])
            .when(CounterCommand::Increment { by: 3 })
            .then([CounterEvent::Incremented { by: 3 }]);
        assert_eq!(state.value, 5);
    }

    #[test]
    fn a_closed_counter_refuses_increments() {
        Scenario::new(Counter)
            .given([CounterEvent::Closed])
            .when(CounterCommand::Increment { by: 1 })
            .then_rejected(CounterRejection::Closed);
    }

    #[test]
    fn a_zero_increment_is_refused() {
        Scenario::new(Counter).when(CounterCommand::Increment { by: 0 }).then_rejected(CounterRejection::ZeroIncrement);
    }

    #[test]
    fn an_overflowing_increment_is_refused() {
        Scenario::new(Counter)
            .given([CounterEvent::Incremented { by: u64::MAX }])
            .when(CounterCommand::Increment { by: 1 })
            .then_rejected(CounterRejection::Overflow);
    }

    #[test]
    fn an_unknown_event_type_is_an_error_not_a_panic() {
        let err = CounterEvent::decode("ttx.example.v1.Nope", 1, &[]).unwrap_err();
        assert!(matches!(err, DecodeError::UnknownType { .. }));
        let err = CounterEvent::decode(INCREMENTED, 1, &[0xff, 0xff]).unwrap_err();
        assert!(matches!(err, DecodeError::Malformed { .. }));
    }
}
