//! Process-level tests of TTX.
//!
//! # Layout
//! - `src/bin/crash-writer.rs`: a child process that appends to a log, one command at a time and in groups, and
//!   reports each acknowledged command on stdout, for `tests/crash.rs` to kill at random moments.
//! - `tests/crash.rs`: kill -9 during appends, reopen, check that nothing acknowledged is lost and nothing partial exists.
//! - `src/bin/queue-worker.rs`: one instance of a small service on NATS (queue group `test-appender`) that appends to the
//!   JetStream log; `tests/queue.rs` runs two and kills one while commands flow.
//! - [`exchange`]: `TestExchange::spawn(Mode::Embedded | Mode::Nats)`, the whole exchange in the test process with a
//!   clock the test moves, seeded with the sample exchange's people (`ttx-seed`), and one method per user action;
//!   `tests/flows.rs` and `tests/negotiation.rs` run the same user flows through HTTP in both deployments.

pub mod exchange;

/// The payload the crash writer stores as event `index` of command `command_id`; the crash test checks it.
pub fn crash_payload(command_id: &str, index: usize) -> Vec<u8> {
    format!("{command_id}/{index}/{}", "x".repeat(200)).into_bytes()
}

/// Events per command written by the crash writer.
pub const CRASH_EVENTS_PER_COMMAND: usize = 3;

/// Commands per group the crash writer's grouped tasks append at once (command ids `r<round>-t<task>-g<i>-<j>`).
pub const CRASH_GROUP: usize = 3;
