//! The event-sourcing kernel of TTX: everything a service needs except its own rules and its wiring.
//!
//! # Layout
//! - [`ids`]: validated `StreamId` (`<context>-<aggregate>-<id>`) and `CommandId`.
//! - [`time`]: `Timestamp` (UTC, microseconds), the `Clock` trait, `SystemClock`, `ShiftedClock` and `ManualClock`.
//! - [`event`]: `NewEvent` (what a decision produces) and `RecordedEvent` (envelope + exact stored bytes + hash).
//! - [`log`]: the `EventLog` trait (expected versions, command ids, stream/global reads, checkpoints) and
//!   `Subscription` (catch-up, then live, by position).
//! - [`projection`]: `Progress`, for read models that follow the log and let queries wait until they caught up.
//! - [`chain`]: SHA-256 per-stream hash chain; `verify_log` / `verify_stream` name the first bad position.
//! - [`sha256x`]: SHA-256 of many messages at once (16 lanes of AVX-512 where available).
//! - [`decider`]: the `Decider` and `DomainEvent` traits and the decision context `Ctx`.
//! - [`calendar`]: PRC dates, day periods (Civil Code art. 201–203) and working-day periods with the holiday schedules
//!   as data: the published years, and `CalendarView`, which each service folds from identity's `ScheduleLoaded`.
//! - [`money`]: integer fen bounded by the rules' ceiling, and checked sums, differences, shares and splits.
//! - [`handler`]: `CommandHandler`, load → fold → decide → append, bounded retry, idempotent by command id.
//! - [`bus`]: the `Bus` trait (publish/subscribe, request/reply with queue groups), `InProcessBus`, and list pages.
//! - [`rpc`]: typed request/reply: `call::<R>` and the `Router` a service serves its requests with, one handler per
//!   request type (each request type names its subject and reply in `ttx-proto`).
//! - [`telemetry`]: W3C trace context in bus headers and envelopes.
//! - [`testing`]: `Scenario` (given/when/then), `log_conformance`, `bus_conformance`, an example decider.
//!
//! The kernel has no storage, network or HTTP dependency: implementations live in their own crates.

pub mod bus;
pub mod calendar;
pub mod chain;
pub mod decider;
pub mod error;
pub mod event;
pub mod handler;
pub mod ids;
pub mod log;
pub mod money;
pub mod projection;
pub mod rpc;
pub mod sha256x;
pub mod telemetry;
pub mod testing;
pub mod time;

pub use bus::{Bus, BusError, InProcessBus};
pub use chain::{Hash, VerifyReport, ZERO_HASH, check_links, hash_bytes, verify_log, verify_stream};
pub use decider::{Ctx, Decider, DecodeError, DomainEvent, IdSource};
pub use error::{InvalidInput, LogError};
pub use event::{NewEvent, Placement, RecordedEvent};
pub use handler::{CommandError, CommandHandler, CommandMeta, Handled};
pub use ids::{CommandId, StreamId};
pub use log::{AppendOutcome, AppendRequest, EventLog, ExpectedVersion, Subscription};
pub use time::{Clock, ManualClock, ShiftedClock, SystemClock, Timestamp};
pub use ttx_proto;
