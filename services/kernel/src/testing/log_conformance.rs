//! The behaviour every [`EventLog`] must show. Each case takes a fresh, empty log from a [`LogHarness`].

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use ttx_proto::common::v1::{Actor, Role, SubjectRef};
use uuid::Uuid;

use crate::chain::{ZERO_HASH, check_links, hash_bytes, verify_log, verify_stream};
use crate::error::{InvalidInput, LogError};
use crate::event::{NewEvent, RecordedEvent};
use crate::handler::{CommandError, CommandHandler, CommandMeta};
use crate::ids::{CommandId, StreamId};
use crate::log::{
    AppendOutcome, AppendRequest, EventLog, ExpectedVersion, MAX_EVENTS_PER_APPEND, MAX_PAYLOAD_BYTES, Subscription,
    read_stream_to_end,
};
use crate::testing::example::{Counter, CounterCommand, CounterRejection};
use crate::time::{SystemClock, Timestamp};

/// What [`LogHarness::corrupt`] does to a stored event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tampering {
    /// Flips one byte of the stored bytes (a store whose files can be edited, like SQLite).
    FlipByte,
    /// Deletes the event (a store that checksums its own records, like JetStream, where removal through its API is
    /// what an operator can do).
    Delete,
}

/// How the suite reaches one implementation. Each case gets its own harness over an empty store.
#[async_trait]
pub trait LogHarness: Send + Sync + 'static {
    /// Opens the log. Called again after every earlier instance is dropped, it must reopen the same data.
    async fn open(&self) -> Arc<dyn EventLog>;
    /// Tampers with the stored event at `position`, behind the log's back, as [`Self::tampering`] says.
    async fn corrupt(&self, position: u64);
    /// What `corrupt` does.
    fn tampering(&self) -> Tampering {
        Tampering::FlipByte
    }
}

/// The names of all cases, in the order [`log_conformance`] runs them.
pub const LOG_CASES: &[&str] = &[
    "expected_version_semantics",
    "racing_appenders_have_one_winner_per_version",
    "racing_retries_lose_nothing",
    "command_retry_returns_the_original_outcome",
    "concurrent_duplicates_write_once",
    "multi_event_appends_are_atomic",
    "global_order_is_dense_and_consistent",
    "subscription_hands_over_from_catch_up_to_live",
    "reopen_keeps_everything",
    "payloads_up_to_one_mebibyte",
    "unicode_stream_ids",
    "invalid_input_is_rejected_with_typed_errors",
    "checkpoints_are_durable",
    "reads_page_by_version_and_position",
    "tampering_is_found_at_its_position",
    "tampering_with_a_streams_last_event_is_found",
    "command_handler_decides_retries_and_dedupes",
    "groups_are_all_or_nothing",
    "command_handler_answers_every_command_of_a_crowd",
    "command_handler_keeps_each_append_within_the_limits",
    "command_handler_groups_as_documented",
];

/// Runs one case by name. Panics (fails the test) on any deviation.
pub async fn run_log_case<H: LogHarness>(name: &str, h: H) {
    match name {
        "expected_version_semantics" => expected_version_semantics(&h).await,
        "racing_appenders_have_one_winner_per_version" => racing_appenders_have_one_winner_per_version(&h).await,
        "racing_retries_lose_nothing" => racing_retries_lose_nothing(&h).await,
        "command_retry_returns_the_original_outcome" => command_retry_returns_the_original_outcome(&h).await,
        "concurrent_duplicates_write_once" => concurrent_duplicates_write_once(&h).await,
        "multi_event_appends_are_atomic" => multi_event_appends_are_atomic(&h).await,
        "global_order_is_dense_and_consistent" => global_order_is_dense_and_consistent(&h).await,
        "subscription_hands_over_from_catch_up_to_live" => subscription_hands_over_from_catch_up_to_live(&h).await,
        "reopen_keeps_everything" => reopen_keeps_everything(&h).await,
        "payloads_up_to_one_mebibyte" => payloads_up_to_one_mebibyte(&h).await,
        "unicode_stream_ids" => unicode_stream_ids(&h).await,
        "invalid_input_is_rejected_with_typed_errors" => invalid_input_is_rejected_with_typed_errors(&h).await,
        "checkpoints_are_durable" => checkpoints_are_durable(&h).await,
        "reads_page_by_version_and_position" => reads_page_by_version_and_position(&h).await,
        "tampering_is_found_at_its_position" => tampering_is_found_at_its_position(&h).await,
        "tampering_with_a_streams_last_event_is_found" => tampering_with_a_streams_last_event_is_found(&h).await,
        "command_handler_decides_retries_and_dedupes" => command_handler_decides_retries_and_dedupes(&h).await,
        "groups_are_all_or_nothing" => groups_are_all_or_nothing(&h).await,
        "command_handler_answers_every_command_of_a_crowd" => {
            command_handler_answers_every_command_of_a_crowd(&h).await
        }
        "command_handler_keeps_each_append_within_the_limits" => {
            command_handler_keeps_each_append_within_the_limits(&h).await
        }
        "command_handler_groups_as_documented" => command_handler_groups_as_documented(&h).await,
        other => panic!("no conformance case named {other}"),
    }
}

/// Runs every case, each on a fresh harness from `make`.
pub async fn log_conformance<H: LogHarness, F: Fn() -> H>(make: F) {
    for name in LOG_CASES {
        run_log_case(name, make()).await;
    }
}

/// Expands to one `#[tokio::test]` per conformance case; `$make` builds a fresh harness.
///
/// ```ignore
/// ttx_kernel::log_conformance_tests!(SqliteHarness::new());
/// ```
#[macro_export]
macro_rules! log_conformance_tests {
    ($make:expr) => {
        $crate::log_conformance_tests!(@cases $make;
            expected_version_semantics,
            racing_appenders_have_one_winner_per_version,
            racing_retries_lose_nothing,
            command_retry_returns_the_original_outcome,
            concurrent_duplicates_write_once,
            multi_event_appends_are_atomic,
            global_order_is_dense_and_consistent,
            subscription_hands_over_from_catch_up_to_live,
            reopen_keeps_everything,
            payloads_up_to_one_mebibyte,
            unicode_stream_ids,
            invalid_input_is_rejected_with_typed_errors,
            checkpoints_are_durable,
            reads_page_by_version_and_position,
            tampering_is_found_at_its_position,
            tampering_with_a_streams_last_event_is_found,
            command_handler_decides_retries_and_dedupes,
            groups_are_all_or_nothing,
            command_handler_answers_every_command_of_a_crowd,
            command_handler_keeps_each_append_within_the_limits,
            command_handler_groups_as_documented
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                $crate::testing::run_log_case(stringify!($case), $make).await;
            }
        )*
    };
}

// ---- helpers ----

fn sid(s: &str) -> StreamId {
    StreamId::parse(s).unwrap()
}

fn cid(s: &str) -> CommandId {
    CommandId::parse(s).unwrap()
}

/// A test event whose payload is `payload`.
pub fn test_event(payload: impl Into<Bytes>) -> NewEvent {
    let mut e = NewEvent::new(Uuid::now_v7(), "ttx.test.v1.Happened", Timestamp::now(), payload);
    e.actor = Some(Actor { user_id: "user-1".into(), org_id: "org-1".into(), role: Role::Admin.into(), roles: vec![] });
    e.subjects = vec![SubjectRef { kind: "result".into(), id: "r-1".into() }];
    e.correlation_id = "corr-1".into();
    e
}

fn req(stream: &StreamId, expected: ExpectedVersion, command: &str, payloads: &[&str]) -> AppendRequest {
    AppendRequest {
        stream: stream.clone(),
        expected,
        command_id: cid(command),
        events: payloads.iter().map(|p| test_event(p.as_bytes().to_vec())).collect(),
    }
}

async fn append(
    log: &dyn EventLog,
    stream: &StreamId,
    expected: ExpectedVersion,
    command: &str,
    payloads: &[&str],
) -> AppendOutcome {
    log.append(req(stream, expected, command, payloads))
        .await
        .unwrap_or_else(|e| panic!("append {command} failed: {e}"))
}

async fn all(log: &dyn EventLog) -> Vec<RecordedEvent> {
    let mut out = Vec::new();
    loop {
        let page = log.read_all(out.len() as u64 + 1, 1000).await.unwrap();
        if page.is_empty() {
            return out;
        }
        out.extend(page);
    }
}

fn assert_conflict(r: Result<AppendOutcome, LogError>, actual_version: u64) {
    match r {
        Err(LogError::Conflict { actual, .. }) => {
            assert_eq!(actual, actual_version, "conflict reports the actual version")
        }
        other => panic!("expected a conflict at version {actual_version}, got {other:?}"),
    }
}

// ---- cases ----

async fn expected_version_semantics<H: LogHarness>(h: &H) {
    let log = h.open().await;
    let s = sid("test-thing-1");
    assert!(log.read_stream(&s, 1, 10).await.unwrap().is_empty(), "an unknown stream is empty");
    assert_eq!(log.head().await.unwrap(), 0);

    let o = append(log.as_ref(), &s, ExpectedVersion::NoStream, "c1", &["a"]).await;
    assert_eq!((o.first_position(), o.last_version(), o.duplicate), (1, 1, false));
    assert_conflict(log.append(req(&s, ExpectedVersion::NoStream, "c2", &["b"])).await, 1);
    assert_conflict(log.append(req(&s, ExpectedVersion::Exact(0), "c2", &["b"])).await, 1);
    assert_conflict(log.append(req(&s, ExpectedVersion::Exact(2), "c2", &["b"])).await, 1);
    let o = append(log.as_ref(), &s, ExpectedVersion::Exact(1), "c2", &["b"]).await;
    assert_eq!(o.last_version(), 2);
    assert_conflict(log.append(req(&s, ExpectedVersion::Exact(1), "c3", &["c"])).await, 2);
    let o = append(log.as_ref(), &s, ExpectedVersion::Any, "c3", &["c"]).await;
    assert_eq!(o.last_version(), 3);
    let fresh = sid("test-thing-2");
    let o = append(log.as_ref(), &fresh, ExpectedVersion::Exact(0), "c4", &["d"]).await;
    assert_eq!((o.first_position(), o.last_version()), (4, 1), "Exact(0) is the same as NoStream");
    let o = append(log.as_ref(), &sid("test-thing-3"), ExpectedVersion::Any, "c5", &["e"]).await;
    assert_eq!(o.last_version(), 1, "Any creates a stream");
    assert_eq!(log.head().await.unwrap(), 5, "conflicts wrote nothing");
    let events = log.read_stream(&s, 1, 10).await.unwrap();
    let payloads: Vec<&[u8]> = events.iter().map(|e| e.payload().as_ref()).collect();
    assert_eq!(payloads, [b"a".as_ref(), b"b", b"c"]);
    assert_eq!(events[0].envelope.prev_hash.as_ref(), ZERO_HASH, "a stream's first event links to the zero hash");
    assert_eq!(events[1].envelope.prev_hash.as_ref(), events[0].hash, "each event links to its predecessor");
    assert_eq!(events[2].envelope.prev_hash.as_ref(), events[1].hash);
    for e in &events {
        assert_eq!(hash_bytes(&e.bytes), e.hash, "the stored hash is the hash of the stored bytes");
    }
}

async fn racing_appenders_have_one_winner_per_version<H: LogHarness>(h: &H) {
    let log = h.open().await;
    let s = sid("test-race-1");
    const TASKS: usize = 64;
    const ROUNDS: u64 = 8;
    for round in 0..ROUNDS {
        let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
        let mut tasks = Vec::new();
        for t in 0..TASKS {
            let (log, s, barrier) = (log.clone(), s.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let expected = ExpectedVersion::Exact(round);
                log.append(req(&s, expected, &format!("r{round}-t{t}"), &[&format!("{round}/{t}")])).await
            }));
        }
        let mut winners = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(o) => {
                    winners += 1;
                    assert_eq!(o.last_version(), round + 1);
                }
                Err(LogError::Conflict { actual, .. }) => {
                    assert_eq!(actual, round + 1, "losers see the winner's version")
                }
                Err(e) => panic!("unexpected error: {e}"),
            }
        }
        assert_eq!(winners, 1, "exactly one winner in round {round}");
    }
    let events = read_stream_to_end(log.as_ref(), &s, 1).await.unwrap();
    let versions: Vec<u64> = events.iter().map(RecordedEvent::version).collect();
    assert_eq!(versions, (1..=ROUNDS).collect::<Vec<_>>());
    assert!(verify_stream(log.as_ref(), &s).await.unwrap().is_ok());
}

async fn racing_retries_lose_nothing<H: LogHarness>(h: &H) {
    let log = h.open().await;
    let s = sid("test-race-2");
    const TASKS: usize = 64;
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let (log, s) = (log.clone(), s.clone());
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0u32;
            loop {
                let version = log.read_stream(&s, 1, 10_000).await.unwrap().last().map_or(0, RecordedEvent::version);
                match log.append(req(&s, ExpectedVersion::Exact(version), &format!("t{t}"), &[&format!("t{t}")])).await
                {
                    Ok(o) => return (o, conflicts),
                    Err(LogError::Conflict { .. }) => conflicts += 1,
                    Err(e) => panic!("unexpected error: {e}"),
                }
            }
        }));
    }
    let mut seen = HashSet::new();
    for t in tasks {
        let (o, _) = t.await.unwrap();
        assert!(seen.insert(o.last_version()), "two appends got version {}", o.last_version());
    }
    let events = read_stream_to_end(log.as_ref(), &s, 1).await.unwrap();
    assert_eq!(events.len(), TASKS, "every task's event is stored exactly once");
    let payloads: HashSet<Vec<u8>> = events.iter().map(|e| e.payload().to_vec()).collect();
    assert_eq!(payloads.len(), TASKS);
    assert!(verify_log(log.as_ref()).await.unwrap().is_ok());
}

async fn command_retry_returns_the_original_outcome<H: LogHarness>(h: &H) {
    let log = h.open().await;
    let s = sid("test-idem-1");
    let first = append(log.as_ref(), &s, ExpectedVersion::NoStream, "cmd-a", &["x", "y", "z"]).await;
    assert!(!first.duplicate);
    // The same command again, with the same expectation (a client retry after a lost reply) ...
    let again = append(log.as_ref(), &s, ExpectedVersion::NoStream, "cmd-a", &["x", "y", "z"]).await;
    assert!(again.duplicate, "a retried command is recognised");
    assert_eq!(again.events, first.events, "and answered with the original events");
    // ... with a later expectation, and with Any.
    let o = append(log.as_ref(), &s, ExpectedVersion::Exact(3), "cmd-a", &["x", "y", "z"]).await;
    assert!(o.duplicate);
    let o = append(log.as_ref(), &s, ExpectedVersion::Any, "cmd-a", &["x", "y", "z"]).await;
    assert!(o.duplicate);
    assert_eq!(o.first_position(), 1);
    // Still recognised once other commands followed it.
    append(log.as_ref(), &s, ExpectedVersion::Exact(3), "cmd-b", &["w"]).await;
    let o = append(log.as_ref(), &s, ExpectedVersion::Exact(4), "cmd-a", &["x", "y", "z"]).await;
    assert!(o.duplicate);
    assert_eq!(o.events, first.events);
    assert_eq!(log.head().await.unwrap(), 4, "retries wrote nothing");
    drop(log);
    // And after a restart.
    let log = h.open().await;
    let o = append(log.as_ref(), &s, ExpectedVersion::Any, "cmd-a", &["x", "y", "z"]).await;
    assert!(o.duplicate);
    assert_eq!(o.events, first.events);
    // Command ids are scoped to their stream: the same id on another stream is another command.
    let other = append(log.as_ref(), &sid("test-idem-2"), ExpectedVersion::NoStream, "cmd-a", &["q"]).await;
    assert!(!other.duplicate);
    assert_eq!(log.head().await.unwrap(), 5);
}

async fn concurrent_duplicates_write_once<H: LogHarness>(h: &H) {
    let log = h.open().await;
    let s = sid("test-idem-3");
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (log, s) = (log.clone(), s.clone());
        tasks.push(tokio::spawn(
            async move { log.append(req(&s, ExpectedVersion::Any, "same-cmd", &["1", "2"])).await },
        ));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap().expect("a duplicate is not an error"));
    }
    assert_eq!(outcomes.iter().filter(|o| !o.duplicate).count(), 1, "exactly one append wrote");
    let positions: HashSet<(u64, u64)> = outcomes.iter().map(|o| (o.first_position(), o.last_position())).collect();
    assert_eq!(positions.len(), 1, "every caller got the same outcome");
    assert_eq!(log.read_stream(&s, 1, 100).await.unwrap().len(), 2);
}

async fn multi_event_appends_are_atomic<H: LogHarness>(h: &H) {
    let log = h.open().await;
    let s = sid("test-atomic-1");
    append(log.as_ref(), &sid("test-other-1"), ExpectedVersion::NoStream, "c0", &["o"]).await;
    let o = append(log.as_ref(), &s, ExpectedVersion::NoStream, "c1", &["a", "b", "c"]).await;
    let pos: Vec<u64> = o.events.iter().map(RecordedEvent::position).collect();
    let ver: Vec<u64> = o.events.iter().map(RecordedEvent::version).collect();
    assert_eq!(pos, [2, 3, 4], "one command's events are contiguous in the global log");
    assert_eq!(ver, [1, 2, 3]);
    let idx: Vec<u32> = o.events.iter().map(|e| e.envelope.command_index).collect();
    assert_eq!(idx, [0, 1, 2]);
    // One bad event spoils the whole append.
    let mut bad = req(&s, ExpectedVersion::Exact(3), "c2", &["d", "e"]);
    bad.events.push(test_event(vec![0u8; MAX_PAYLOAD_BYTES + 1]));
    assert!(matches!(log.append(bad).await, Err(LogError::Invalid(InvalidInput::PayloadTooLarge { index: 2, .. }))));
    assert_eq!(log.head().await.unwrap(), 4, "nothing of the refused append was written");
    assert_eq!(log.read_stream(&s, 1, 100).await.unwrap().len(), 3);
}

async fn global_order_is_dense_and_consistent<H: LogHarness>(h: &H) {
    let log = h.open().await;
    const WRITERS: usize = 8;
    const EACH: usize = 40;
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..EACH {
                let s = sid(&format!("test-order-{}", (w + i) % 5));
                let n = 1 + i % 3;
                let payloads: Vec<String> = (0..n).map(|k| format!("{w}/{i}/{k}")).collect();
                let refs: Vec<&str> = payloads.iter().map(String::as_str).collect();
                log.append(req(&s, ExpectedVersion::Any, &format!("w{w}-i{i}"), &refs)).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let events = all(log.as_ref()).await;
    let expected: usize = (0..WRITERS).map(|_| (0..EACH).map(|i| 1 + i % 3).sum::<usize>()).sum();
    assert_eq!(events.len(), expected);
    assert_eq!(log.head().await.unwrap(), expected as u64);
    let mut versions: HashMap<String, u64> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.position(), i as u64 + 1, "positions are dense and ordered");
        let v = versions.entry(e.stream_id().to_owned()).or_default();
        *v += 1;
        assert_eq!(e.version(), *v, "stream versions follow global order");
    }
    // Reading a stream gives the same events as filtering the global log.
    for (stream, count) in versions {
        let from_stream = read_stream_to_end(log.as_ref(), &sid(&stream), 1).await.unwrap();
        let from_all: Vec<&RecordedEvent> = events.iter().filter(|e| e.stream_id() == stream).collect();
        assert_eq!(from_stream.len() as u64, count);
        assert!(from_stream.iter().zip(from_all).all(|(a, b)| a == b));
    }
    let report = verify_log(log.as_ref()).await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.events, expected as u64);
    let report = check_links(log.as_ref()).await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!((report.events, report.head), (expected as u64, expected as u64));
}

async fn subscription_hands_over_from_catch_up_to_live<H: LogHarness>(h: &H) {
    let log = h.open().await;
    for i in 0..100 {
        append(log.as_ref(), &sid(&format!("test-sub-{}", i % 7)), ExpectedVersion::Any, &format!("pre-{i}"), &["p"])
            .await;
    }
    const WRITERS: usize = 4;
    const EACH: usize = 150;
    let total = 100 + WRITERS * EACH;
    let mut from_start = Subscription::new(log.clone(), 1);
    let from_middle = Subscription::new(log.clone(), 51);
    // The first reads happen before and while the writers run, so catch-up and live overlap.
    let first = from_start.next().await.unwrap();
    assert_eq!(first.position(), 1);
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let log = log.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..EACH {
                let s = sid(&format!("test-live-{w}"));
                log.append(req(&s, ExpectedVersion::Any, &format!("live-{w}-{i}"), &["l"])).await.unwrap();
                if i % 16 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    let collect = |mut sub: Subscription, mut got: Vec<u64>, until: usize| async move {
        while got.len() < until {
            let e = tokio::time::timeout(Duration::from_secs(30), sub.next())
                .await
                .expect("the subscription stalled")
                .unwrap();
            got.push(e.position());
        }
        (sub, got)
    };
    let (a, b) = tokio::join!(collect(from_start, vec![1], total), collect(from_middle, vec![], total - 50));
    for w in writers {
        w.await.unwrap();
    }
    assert_eq!(a.1, (1..=total as u64).collect::<Vec<_>>(), "no gap, no duplicate, in order");
    assert_eq!(b.1, (51..=total as u64).collect::<Vec<_>>());
    // Nothing more arrives until something is appended.
    let mut sub = a.0;
    assert!(tokio::time::timeout(Duration::from_millis(200), sub.next()).await.is_err());
    append(log.as_ref(), &sid("test-sub-x"), ExpectedVersion::Any, "late", &["z"]).await;
    let late = tokio::time::timeout(Duration::from_secs(10), sub.next()).await.unwrap().unwrap();
    assert_eq!(late.position(), total as u64 + 1);
}

async fn reopen_keeps_everything<H: LogHarness>(h: &H) {
    let log = h.open().await;
    let s = sid("test-reopen-1");
    append(log.as_ref(), &s, ExpectedVersion::NoStream, "c1", &["a", "b"]).await;
    append(log.as_ref(), &sid("test-reopen-2"), ExpectedVersion::NoStream, "c2", &["c"]).await;
    log.save_checkpoint("projection-a", 2).await.unwrap();
    let before = all(log.as_ref()).await;
    drop(log);
    let log = h.open().await;
    assert_eq!(all(log.as_ref()).await, before, "the same bytes come back");
    assert_eq!(log.head().await.unwrap(), 3);
    assert_eq!(log.load_checkpoint("projection-a").await.unwrap(), Some(2));
    assert_conflict(log.append(req(&s, ExpectedVersion::Exact(1), "c3", &["x"])).await, 2);
    let o = append(log.as_ref(), &s, ExpectedVersion::Exact(2), "c3", &["d"]).await;
    assert_eq!((o.first_position(), o.last_version()), (4, 3), "appends continue where they stopped");
    assert_eq!(o.events[0].envelope.prev_hash.as_ref(), before[1].hash, "and the chain goes on");
    drop(log);
    let log = h.open().await;
    assert!(verify_log(log.as_ref()).await.unwrap().is_ok());
}

async fn payloads_up_to_one_mebibyte<H: LogHarness>(h: &H) {
    let log = h.open().await;
    let s = sid("test-big-1");
    let big: Vec<u8> = (0..MAX_PAYLOAD_BYTES).map(|i| (i * 7 % 251) as u8).collect();
    let mut r = req(&s, ExpectedVersion::NoStream, "big", &[]);
    r.events.push(test_event(big.clone()));
    r.events.push(test_event(Bytes::new()));
    append_ok(log.as_ref(), r).await;
    let back = log.read_stream(&s, 1, 10).await.unwrap();
    assert_eq!(back[0].payload().as_ref(), big.as_slice(), "1 MiB comes back byte for byte");
    assert!(back[1].payload().is_empty(), "an empty payload is allowed");
    let mut r = req(&s, ExpectedVersion::Exact(2), "too-big", &[]);
    r.events.push(test_event(vec![1u8; MAX_PAYLOAD_BYTES + 1]));
    let err = log.append(r).await.unwrap_err();
    assert_eq!(
        err,
        LogError::Invalid(InvalidInput::PayloadTooLarge {
            index: 0,
            size: MAX_PAYLOAD_BYTES + 1,
            max: MAX_PAYLOAD_BYTES
        })
    );
    drop(log);
    let log = h.open().await;
    assert_eq!(log.read_stream(&s, 1, 1).await.unwrap()[0].payload().len(), MAX_PAYLOAD_BYTES);
}

async fn append_ok(log: &dyn EventLog, r: AppendRequest) -> AppendOutcome {
    log.append(r).await.unwrap()
}

async fn unicode_stream_ids<H: LogHarness>(h: &H) {
    let log = h.open().await;
    let ids = ["listings-result-成果-2026-001", "listings-demand-需求_α😀", "contracts-contract-Ünïcødé"];
    for (i, id) in ids.iter().enumerate() {
        append(log.as_ref(), &sid(id), ExpectedVersion::NoStream, &format!("u{i}"), &["统一社会信用代码"]).await;
    }
    for id in ids {
        let e = log.read_stream(&sid(id), 1, 10).await.unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].stream_id(), id);
        assert_eq!(std::str::from_utf8(e[0].payload()).unwrap(), "统一社会信用代码");
    }
    let back: Vec<String> = all(log.as_ref()).await.iter().map(|e| e.stream_id().to_owned()).collect();
    assert_eq!(back, ids);
    drop(log);
    let log = h.open().await;
    assert_eq!(log.read_stream(&sid(ids[1]), 1, 10).await.unwrap().len(), 1);
}

async fn invalid_input_is_rejected_with_typed_errors<H: LogHarness>(h: &H) {
    let log = h.open().await;
    let s = sid("test-bad-1");
    let empty = req(&s, ExpectedVersion::Any, "e", &[]);
    assert_eq!(log.append(empty).await.unwrap_err(), LogError::Invalid(InvalidInput::NoEvents));
    let many: Vec<String> = (0..=MAX_EVENTS_PER_APPEND).map(|i| i.to_string()).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    assert!(matches!(
        log.append(req(&s, ExpectedVersion::Any, "m", &refs)).await,
        Err(LogError::Invalid(InvalidInput::TooManyEvents { .. }))
    ));
    for bad_type in ["", "has space", "tab\there"] {
        let mut r = req(&s, ExpectedVersion::Any, "t", &["x"]);
        r.events[0].event_type = bad_type.into();
        assert!(matches!(log.append(r).await, Err(LogError::Invalid(InvalidInput::BadEventType { index: 0, .. }))));
    }
    let mut r = req(&s, ExpectedVersion::Any, "t", &["x"]);
    r.events[0].event_type = "a".repeat(300);
    assert!(matches!(log.append(r).await, Err(LogError::Invalid(InvalidInput::BadEventType { .. }))));
    let mut r = req(&s, ExpectedVersion::Any, "t", &["x", "y"]);
    r.events[1].traceparent = "t".repeat(10_000);
    assert!(matches!(
        log.append(r).await,
        Err(LogError::Invalid(InvalidInput::MetadataTooLong { index: 1, field: "traceparent", .. }))
    ));
    let mut r = req(&s, ExpectedVersion::Any, "t", &["x"]);
    r.events[0].subjects = vec![SubjectRef { kind: "result".into(), id: "r".into() }; 33];
    assert!(matches!(log.append(r).await, Err(LogError::Invalid(InvalidInput::TooManySubjects { count: 33, .. }))));
    let mut r = req(&s, ExpectedVersion::Any, "t", &[]);
    r.events = (0..17).map(|_| test_event(vec![0u8; MAX_PAYLOAD_BYTES])).collect();
    assert!(matches!(log.append(r).await, Err(LogError::Invalid(InvalidInput::AppendTooLarge { .. }))));
    assert!(matches!(log.read_stream(&s, 0, 10).await, Err(LogError::Invalid(InvalidInput::ZeroPosition))));
    assert!(matches!(log.read_all(0, 10).await, Err(LogError::Invalid(InvalidInput::ZeroPosition))));
    assert!(matches!(log.save_checkpoint("", 1).await, Err(LogError::Invalid(InvalidInput::BadCheckpointName { .. }))));
    assert!(matches!(log.load_checkpoint("a b").await, Err(LogError::Invalid(InvalidInput::BadCheckpointName { .. }))));
    assert!(matches!(StreamId::parse(""), Err(InvalidInput::BadStreamId { .. })));
    assert!(matches!(StreamId::parse("no-dots-a.b"), Err(InvalidInput::BadStreamId { .. })));
    assert!(matches!(CommandId::parse(""), Err(InvalidInput::BadCommandId { .. })));
    assert_eq!(log.head().await.unwrap(), 0, "nothing was written");
    // The log still works after all that.
    append(log.as_ref(), &s, ExpectedVersion::NoStream, "ok", &["fine"]).await;
    assert_eq!(log.head().await.unwrap(), 1);
}

async fn checkpoints_are_durable<H: LogHarness>(h: &H) {
    let log = h.open().await;
    assert_eq!(log.load_checkpoint("search-index").await.unwrap(), None);
    append(log.as_ref(), &sid("test-cp-1"), ExpectedVersion::Any, "c", &["a", "b", "c"]).await;
    log.save_checkpoint("search-index", 2).await.unwrap();
    log.save_checkpoint("timers", 3).await.unwrap();
    log.save_checkpoint("search-index", 3).await.unwrap();
    assert_eq!(log.load_checkpoint("search-index").await.unwrap(), Some(3), "a save overwrites");
    drop(log);
    let log = h.open().await;
    assert_eq!(log.load_checkpoint("search-index").await.unwrap(), Some(3));
    assert_eq!(log.load_checkpoint("timers").await.unwrap(), Some(3));
    assert_eq!(log.load_checkpoint("审计-投影").await.unwrap(), None);
}

async fn reads_page_by_version_and_position<H: LogHarness>(h: &H) {
    let log = h.open().await;
    let s = sid("test-page-1");
    for i in 0..25u64 {
        append(log.as_ref(), &s, ExpectedVersion::Exact(i), &format!("p{i}"), &[&i.to_string()]).await;
        append(log.as_ref(), &sid("test-page-2"), ExpectedVersion::Any, &format!("q{i}"), &["q"]).await;
    }
    let page = log.read_stream(&s, 10, 5).await.unwrap();
    assert_eq!(page.iter().map(RecordedEvent::version).collect::<Vec<_>>(), [10, 11, 12, 13, 14]);
    assert!(log.read_stream(&s, 26, 5).await.unwrap().is_empty());
    assert_eq!(log.read_stream(&s, 24, 100).await.unwrap().len(), 2);
    let page = log.read_all(7, 3).await.unwrap();
    assert_eq!(page.iter().map(RecordedEvent::position).collect::<Vec<_>>(), [7, 8, 9]);
    assert!(log.read_all(51, 10).await.unwrap().is_empty());
    assert_eq!(log.read_stream(&s, 1, 0).await.unwrap().len(), 0, "max 0 reads nothing");
}

async fn tampering_is_found_at_its_position<H: LogHarness>(h: &H) {
    let log = h.open().await;
    for i in 0..30 {
        append(
            log.as_ref(),
            &sid(&format!("test-tamper-{}", i % 3)),
            ExpectedVersion::Any,
            &format!("c{i}"),
            &["payload-bytes"],
        )
        .await;
    }
    assert!(verify_log(log.as_ref()).await.unwrap().is_ok());
    let target = all(log.as_ref()).await[16].clone();
    assert_eq!(target.position(), 17);
    drop(log);
    h.corrupt(17).await;
    let log = h.open().await;
    if h.tampering() == Tampering::FlipByte {
        assert!(
            check_links(log.as_ref()).await.unwrap().is_ok(),
            "the link check trusts stored hashes, so a change in place is for verify_log to find"
        );
    }
    let report = verify_log(log.as_ref()).await.unwrap();
    let failure = report.failure.expect("verify must fail after tampering");
    assert_eq!(failure.position, 17, "the first bad position is named: {failure}");
    assert_eq!(report.events, 16, "everything before it checked out");
    let stream = sid(target.stream_id());
    let report = verify_stream(log.as_ref(), &stream).await.unwrap();
    let failure = report.failure.expect("the stream check fails too");
    match h.tampering() {
        Tampering::FlipByte => assert_eq!(failure.position, 17),
        // The stream no longer holds position 17; its next event is the first out of line.
        Tampering::Delete => assert!(failure.position > 17, "{failure}"),
    }
    let untouched = if target.stream_id() == "test-tamper-0" { "test-tamper-1" } else { "test-tamper-0" };
    assert!(verify_stream(log.as_ref(), &sid(untouched)).await.unwrap().is_ok(), "other streams still verify");
}

async fn tampering_with_a_streams_last_event_is_found<H: LogHarness>(h: &H) {
    let log = h.open().await;
    append(log.as_ref(), &sid("test-last-1"), ExpectedVersion::Any, "a", &["one", "two"]).await;
    append(log.as_ref(), &sid("test-last-2"), ExpectedVersion::Any, "b", &["three"]).await;
    drop(log);
    h.corrupt(2).await;
    let log = h.open().await;
    let report = verify_log(log.as_ref()).await.unwrap();
    assert_eq!(report.failure.expect("a changed last event is found").position, 2);
}

async fn command_handler_decides_retries_and_dedupes<H: LogHarness>(h: &H) {
    let log = h.open().await;
    let handler = Arc::new(
        CommandHandler::new(Counter, log.clone(), Arc::new(SystemClock))
            .with_max_attempts(64)
            .with_rule_version("rules-2026.1"),
    );
    let s = sid("example-counter-1");
    let actor = Actor { user_id: "u".into(), org_id: "o".into(), role: Role::Admin.into(), roles: vec![] };
    let mut tasks = Vec::new();
    for i in 0..16 {
        let (handler, s, actor) = (handler.clone(), s.clone(), actor.clone());
        tasks.push(tokio::spawn(async move {
            let meta = CommandMeta::new(CommandId::parse(format!("inc-{i}")).unwrap(), actor);
            handler.handle(&s, &CounterCommand::Increment { by: 1 }, &meta).await
        }));
    }
    for t in tasks {
        t.await.unwrap().expect("every increment lands after retries");
    }
    let (state, version, recorded) = handler.load(&s).await.unwrap();
    assert_eq!((state.value, version), (16, 16));
    assert_eq!(recorded[0].envelope.rule_version, "rules-2026.1");
    assert_eq!(recorded[0].envelope.actor.as_ref().unwrap().user_id, "u");
    // A command retried with its id returns the original outcome and writes nothing.
    let meta = CommandMeta::new(cid("inc-3"), actor.clone());
    let again = handler.handle(&s, &CounterCommand::Increment { by: 1 }, &meta).await.unwrap();
    assert!(again.duplicate);
    assert_eq!(again.recorded.len(), 1);
    assert_eq!(again.recorded[0].command_id(), "inc-3");
    assert_eq!(handler.load(&s).await.unwrap().1, 16);
    // Rejections are typed and write nothing.
    let close =
        handler.handle(&s, &CounterCommand::Close, &CommandMeta::new(cid("close"), actor.clone())).await.unwrap();
    assert_eq!(close.version, 17);
    let refused =
        handler.handle(&s, &CounterCommand::Increment { by: 1 }, &CommandMeta::new(cid("late"), actor.clone())).await;
    assert_eq!(refused.unwrap_err(), CommandError::Rejected(CounterRejection::Closed));
    // Even after a rejection-causing change, the earlier command's retry still answers with its outcome.
    let retry = handler.handle(&s, &CounterCommand::Increment { by: 1 }, &meta).await.unwrap();
    assert!(retry.duplicate);
    assert_eq!(log.head().await.unwrap(), 17);
    // Another instance's handler writes between two commands of this one, which keeps the stream folded: this one
    // reads what the other wrote before it decides, and knows the other's command ids.
    let other = CommandHandler::new(Counter, log.clone(), Arc::new(SystemClock));
    let t = sid("example-counter-2");
    let by = |n| CounterCommand::Increment { by: n };
    let m = |id: &str| CommandMeta::new(cid(id), actor.clone());
    assert_eq!(handler.handle(&t, &by(1), &m("a1")).await.unwrap().version, 1);
    assert_eq!(other.handle(&t, &by(2), &m("b1")).await.unwrap().version, 2);
    let third = handler.handle(&t, &by(3), &m("a2")).await.unwrap();
    assert_eq!(third.version, 3);
    assert_eq!(handler.load(&t).await.unwrap().0.value, 6);
    let repeated = handler.handle(&t, &by(2), &m("b1")).await.unwrap();
    assert!(repeated.duplicate && repeated.version == 3);
}

async fn groups_are_all_or_nothing<H: LogHarness>(h: &H) {
    let log = h.open().await;
    let s = sid("test-group-1");
    let max = log.max_group();
    assert!(max >= 1);
    if max == 1 {
        // A log without groups takes a group of one, and refuses more.
        let one = log.append_group(vec![req(&s, ExpectedVersion::NoStream, "g1", &["a"])]).await.unwrap();
        assert_eq!(one[0].last_version(), 1);
        let two =
            vec![req(&s, ExpectedVersion::Exact(1), "g2", &["b"]), req(&s, ExpectedVersion::Exact(2), "g3", &["c"])];
        assert_eq!(
            log.append_group(two).await.unwrap_err(),
            LogError::Invalid(InvalidInput::GroupTooLarge { count: 2, max: 1 })
        );
        assert_eq!(log.head().await.unwrap(), 1);
        return;
    }
    // Three commands, chained, written together: each keeps its own command id and versions.
    let group = vec![
        req(&s, ExpectedVersion::NoStream, "g1", &["a"]),
        req(&s, ExpectedVersion::Exact(1), "g2", &["b", "c"]),
        req(&s, ExpectedVersion::Exact(3), "g3", &["d"]),
    ];
    let outcomes = log.append_group(group).await.unwrap();
    let versions: Vec<Vec<u64>> =
        outcomes.iter().map(|o| o.events.iter().map(RecordedEvent::version).collect()).collect();
    assert_eq!(versions, vec![vec![1], vec![2, 3], vec![4]]);
    assert!(outcomes.iter().all(|o| !o.duplicate));
    assert_eq!(outcomes[1].events[1].command_id(), "g2");
    let stored = read_stream_to_end(log.as_ref(), &s, 1).await.unwrap();
    assert_eq!(stored.len(), 4);
    assert!(verify_stream(log.as_ref(), &s).await.unwrap().is_ok(), "a group's events chain like any others");
    // A group whose second append expects a stale version writes nothing, not even its first append.
    let stale =
        vec![req(&s, ExpectedVersion::Exact(4), "g4", &["e"]), req(&s, ExpectedVersion::Exact(4), "g5", &["f"])];
    assert!(matches!(log.append_group(stale).await, Err(LogError::Conflict { .. })));
    // A group with a command already in the stream writes nothing.
    let again =
        vec![req(&s, ExpectedVersion::Exact(4), "g6", &["g"]), req(&s, ExpectedVersion::Exact(5), "g2", &["h"])];
    assert!(matches!(log.append_group(again).await, Err(LogError::Conflict { .. })));
    assert_eq!(log.head().await.unwrap(), 4);
    // Malformed groups are typed errors.
    assert_eq!(log.append_group(Vec::new()).await.unwrap_err(), LogError::Invalid(InvalidInput::EmptyGroup));
    let mixed = vec![
        req(&s, ExpectedVersion::Exact(4), "g7", &["i"]),
        req(&sid("test-group-2"), ExpectedVersion::Any, "g8", &["j"]),
    ];
    assert!(matches!(
        log.append_group(mixed).await,
        Err(LogError::Invalid(InvalidInput::GroupMixesStreams { index: 1, .. }))
    ));
    let repeated =
        vec![req(&s, ExpectedVersion::Exact(4), "g9", &["k"]), req(&s, ExpectedVersion::Exact(5), "g9", &["l"])];
    assert!(matches!(
        log.append_group(repeated).await,
        Err(LogError::Invalid(InvalidInput::GroupRepeatsCommand { index: 1, .. }))
    ));
    let too_many = (0..=max).map(|i| req(&s, ExpectedVersion::Any, &format!("many-{i}"), &["m"])).collect();
    assert!(matches!(log.append_group(too_many).await, Err(LogError::Invalid(InvalidInput::GroupTooLarge { .. }))));
    // The next group lands after all those refusals.
    let next = log.append_group(vec![req(&s, ExpectedVersion::Exact(4), "g10", &["n"])]).await.unwrap();
    assert_eq!(next[0].last_version(), 5);
    assert_eq!(all(log.as_ref()).await.len(), 5);
}

/// Many commands at once on one stream, from two handlers (two processes, as far as the log can tell), with some
/// command ids sent twice and a command the decider refuses: every command gets its own answer, each command id is
/// stored once, and the stream's fold accounts for every accepted command.
async fn command_handler_answers_every_command_of_a_crowd<H: LogHarness>(h: &H) {
    let log = h.open().await;
    let handlers = [
        Arc::new(CommandHandler::new(Counter, log.clone(), Arc::new(SystemClock)).with_max_attempts(64)),
        Arc::new(CommandHandler::new(Counter, log.clone(), Arc::new(SystemClock)).with_max_attempts(64)),
    ];
    let s = sid("example-crowd-1");
    let actor = Actor { user_id: "u".into(), org_id: "o".into(), role: Role::Admin.into(), roles: vec![] };
    let mut tasks = Vec::new();
    for i in 0..120u64 {
        // Ids 0..100, the first 20 of them sent twice (once by each handler).
        let id = if i < 100 { i } else { i - 100 };
        let handler = handlers[usize::try_from(i % 2).unwrap()].clone();
        let (s, actor) = (s.clone(), actor.clone());
        tasks.push(tokio::spawn(async move {
            let meta = CommandMeta::new(CommandId::parse(format!("crowd-{id}")).unwrap(), actor);
            (id, handler.handle(&s, &CounterCommand::Increment { by: id + 1 }, &meta).await)
        }));
    }
    let mut versions: HashMap<u64, HashSet<u64>> = HashMap::new();
    for t in tasks {
        let (id, outcome) = t.await.unwrap();
        let handled = outcome.unwrap_or_else(|e| panic!("crowd-{id}: {e}"));
        assert_eq!(handled.recorded.len(), 1, "crowd-{id} answers with its own event");
        assert_eq!(handled.recorded[0].command_id(), format!("crowd-{id}"));
        versions.entry(id).or_default().insert(handled.recorded[0].version());
    }
    assert!(versions.values().all(|v| v.len() == 1), "a repeated command answers with the first one's event");
    let stored = read_stream_to_end(log.as_ref(), &s, 1).await.unwrap();
    assert_eq!(stored.len(), 100);
    let ids: HashSet<&str> = stored.iter().map(RecordedEvent::command_id).collect();
    assert_eq!(ids.len(), 100);
    let (state, version, _) = handlers[0].load(&s).await.unwrap();
    assert_eq!((state.value, version), ((1..=100).sum::<u64>(), 100));
    // A refusal in a crowd is answered as a refusal, and the others are carried out.
    let close = CommandMeta::new(cid("crowd-close"), actor.clone());
    handlers[0].handle(&s, &CounterCommand::Close, &close).await.unwrap();
    let mut late = Vec::new();
    for i in 0..10 {
        let (handler, s, actor) = (handlers[i % 2].clone(), s.clone(), actor.clone());
        late.push(tokio::spawn(async move {
            let meta = CommandMeta::new(CommandId::parse(format!("crowd-late-{i}")).unwrap(), actor);
            handler.handle(&s, &CounterCommand::Increment { by: 1 }, &meta).await
        }));
    }
    for t in late {
        assert_eq!(t.await.unwrap().unwrap_err(), CommandError::Rejected(CounterRejection::Closed));
    }
    assert_eq!(log.head().await.unwrap(), 101);
}

/// Commands that write many events at once, and one that writes more than any append may: the oversized one fails
/// alone with a typed error, and the others are written, in as many groups as the limits take.
async fn command_handler_keeps_each_append_within_the_limits<H: LogHarness>(h: &H) {
    let log = h.open().await;
    let handler = Arc::new(CommandHandler::new(Counter, log.clone(), Arc::new(SystemClock)).with_max_attempts(64));
    let s = sid("example-bursts-1");
    let actor = Actor { user_id: "u".into(), org_id: "o".into(), role: Role::Admin.into(), roles: vec![] };
    let commands = [
        ("burst-a", CounterCommand::Burst { count: 600 }),
        ("too-many", CounterCommand::Burst { count: (MAX_EVENTS_PER_APPEND + 1) as u32 }),
        ("burst-b", CounterCommand::Burst { count: 600 }),
        ("one-1", CounterCommand::Increment { by: 1 }),
        ("one-2", CounterCommand::Increment { by: 1 }),
        ("one-3", CounterCommand::Increment { by: 1 }),
    ];
    let mut tasks = Vec::new();
    for (id, command) in commands {
        let (handler, s, actor) = (handler.clone(), s.clone(), actor.clone());
        tasks.push(tokio::spawn(
            async move { (id, handler.handle(&s, &command, &CommandMeta::new(cid(id), actor)).await) },
        ));
    }
    for t in tasks {
        let (id, outcome) = t.await.unwrap();
        match (id, outcome) {
            ("too-many", Err(CommandError::Log(LogError::Invalid(InvalidInput::TooManyEvents { .. })))) => {}
            ("too-many", other) => panic!("an append over the limit fails alone with a typed error: {other:?}"),
            (id, outcome) => {
                let handled = outcome.unwrap_or_else(|e| panic!("{id}: {e}"));
                assert!(handled.recorded.iter().all(|r| r.command_id() == id));
            }
        }
    }
    let (state, version, _) = handler.load(&s).await.unwrap();
    assert_eq!((state.value, version), (1203, 1203));
    assert!(verify_stream(log.as_ref(), &s).await.unwrap().is_ok());
}

/// The log under test, with a gate in front of its appends: each append waits at the gate until the test lets one
/// through, so that commands queue behind it in the handler exactly as the test arranges.
struct GatedLog {
    inner: Arc<dyn EventLog>,
    gate: tokio::sync::Semaphore,
    /// Appends waiting at the gate, and the number of commands in each append let through.
    at_gate: std::sync::atomic::AtomicUsize,
    passed: std::sync::Mutex<Vec<usize>>,
}

impl GatedLog {
    fn new(inner: Arc<dyn EventLog>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            gate: tokio::sync::Semaphore::new(0),
            at_gate: Default::default(),
            passed: Default::default(),
        })
    }

    async fn through_gate(&self, commands: usize) {
        /// Counts an append as waiting until it passes or its caller is cancelled.
        struct Waiting<'a>(&'a std::sync::atomic::AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        self.at_gate.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let waiting = Waiting(&self.at_gate);
        if let Ok(permit) = self.gate.acquire().await {
            permit.forget();
        }
        drop(waiting);
        self.passed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(commands);
    }

    /// Waits until `n` appends wait at the gate.
    async fn until_at_gate(&self, n: usize) {
        until(|| self.at_gate.load(std::sync::atomic::Ordering::SeqCst) == n).await;
    }

    fn passed(&self) -> Vec<usize> {
        self.passed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

#[async_trait]
impl EventLog for GatedLog {
    async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, LogError> {
        self.through_gate(1).await;
        self.inner.append(request).await
    }

    fn max_group(&self) -> usize {
        self.inner.max_group()
    }

    async fn append_group(&self, requests: Vec<AppendRequest>) -> Result<Vec<AppendOutcome>, LogError> {
        self.through_gate(requests.len()).await;
        self.inner.append_group(requests).await
    }

    async fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, LogError> {
        self.inner.read_stream(stream, from_version, max).await
    }

    async fn read_all(&self, from_position: u64, max: usize) -> Result<Vec<RecordedEvent>, LogError> {
        self.inner.read_all(from_position, max).await
    }

    async fn head(&self) -> Result<u64, LogError> {
        self.inner.head().await
    }

    fn watch_head(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.watch_head()
    }

    async fn load_checkpoint(&self, name: &str) -> Result<Option<u64>, LogError> {
        self.inner.load_checkpoint(name).await
    }

    async fn save_checkpoint(&self, name: &str, position: u64) -> Result<(), LogError> {
        self.inner.save_checkpoint(name, position).await
    }
}

/// Waits (yielding, at most ten seconds) until `done` holds.
async fn until(done: impl Fn() -> bool) {
    for _ in 0..10_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("the condition never held");
}

/// ADR 0006, on the log under test: commands that wait together are decided lowest first (the decider's order) and
/// written as one group; when the caller carrying out a group is cancelled, every other command of the group is still
/// answered, exactly once; a caller that gave up before the group was taken is left out of it.
async fn command_handler_groups_as_documented<H: LogHarness>(h: &H) {
    let inner = h.open().await;
    if inner.max_group() < 4 {
        return; // A log that appends one command at a time has no groups.
    }
    let actor = Actor { user_id: "u".into(), org_id: "o".into(), role: Role::Admin.into(), roles: vec![] };
    // Each scenario: its own gate in front of the log under test, and a handler over it.
    let scenario = || {
        let gated = GatedLog::new(inner.clone());
        let log: Arc<dyn EventLog> = gated.clone();
        (gated, Arc::new(CommandHandler::new(Counter, log, Arc::new(SystemClock))))
    };
    let send = |handler: &Arc<CommandHandler<Counter>>, s: &StreamId, id: &str, command: CounterCommand| {
        let (handler, s, meta) = (handler.clone(), s.clone(), CommandMeta::new(cid(id), actor.clone()));
        tokio::spawn(async move { handler.handle(&s, &command, &meta).await })
    };
    let stored_ids = async |s: &StreamId| -> Vec<String> {
        let events = read_stream_to_end(inner.as_ref(), s, 1).await.unwrap();
        events.iter().map(|e| e.command_id().to_owned()).collect()
    };

    // Order: a first command holds the turn at the gate; three raises arrive meanwhile, highest first. Decided in
    // arrival order, the two lower ones would be refused; decided lowest first, each stands above the one before.
    let (gated, handler) = scenario();
    let s = sid("example-group-order");
    let first = send(&handler, &s, "g-first", CounterCommand::Increment { by: 1 });
    gated.until_at_gate(1).await;
    let mut raises = Vec::new();
    for (id, to) in [("g-30", 30), ("g-10", 10), ("g-20", 20)] {
        raises.push(send(&handler, &s, id, CounterCommand::Raise { to }));
        until(|| handler.waiting(&s) == raises.len()).await;
    }
    gated.gate.add_permits(2);
    first.await.unwrap().unwrap();
    for task in raises {
        task.await.unwrap().unwrap_or_else(|e| panic!("every raise stands: {e}"));
    }
    assert_eq!(stored_ids(&s).await, ["g-first", "g-10", "g-20", "g-30"], "decided and stored lowest first");
    assert_eq!(gated.passed(), [1, 3], "the three that waited together were written as one group");

    // A cancelled leader: the first in line to carry out the next group is cancelled while its group waits at the
    // gate; the others of the group are still carried out, each once.
    let (gated, handler) = scenario();
    let s = sid("example-group-leader");
    let first = send(&handler, &s, "l-first", CounterCommand::Increment { by: 1 });
    gated.until_at_gate(1).await;
    let leader = send(&handler, &s, "l-leader", CounterCommand::Increment { by: 1 });
    until(|| handler.waiting(&s) == 1).await;
    let mut others = Vec::new();
    for id in ["l-b", "l-c"] {
        others.push(send(&handler, &s, id, CounterCommand::Increment { by: 1 }));
        until(|| handler.waiting(&s) == 1 + others.len()).await;
    }
    gated.gate.add_permits(1);
    first.await.unwrap().unwrap();
    // The turn passes in arrival order: the leader takes it, and its group of three waits at the gate.
    gated.until_at_gate(1).await;
    leader.abort();
    assert!(leader.await.unwrap_err().is_cancelled());
    gated.gate.add_permits(100);
    for (i, task) in others.into_iter().enumerate() {
        let handled = task.await.unwrap().unwrap_or_else(|e| panic!("the other command {i} is answered: {e}"));
        assert!(!handled.duplicate, "carried out once");
    }
    let ids = stored_ids(&s).await;
    for id in ["l-first", "l-b", "l-c"] {
        assert_eq!(ids.iter().filter(|x| *x == id).count(), 1, "{id} stored exactly once: {ids:?}");
    }
    assert!(!gated.passed().contains(&3), "the cancelled group was never written: {:?}", gated.passed());

    // A caller that gave up before the group was taken: its command is left out.
    let (gated, handler) = scenario();
    let s = sid("example-group-gave-up");
    let first = send(&handler, &s, "u-first", CounterCommand::Increment { by: 1 });
    gated.until_at_gate(1).await;
    let quitter = send(&handler, &s, "u-quit", CounterCommand::Increment { by: 1 });
    until(|| handler.waiting(&s) == 1).await;
    quitter.abort();
    assert!(quitter.await.unwrap_err().is_cancelled());
    let stayer = send(&handler, &s, "u-stay", CounterCommand::Increment { by: 1 });
    until(|| handler.waiting(&s) == 2).await;
    gated.gate.add_permits(100);
    first.await.unwrap().unwrap();
    stayer.await.unwrap().unwrap();
    assert_eq!(stored_ids(&s).await, ["u-first", "u-stay"], "the command of a caller that gave up is not written");
}
