//! What is specific to the SQLite store: its derived tables, damage to them and to records, batching.

use std::path::Path;
use std::sync::Arc;

use ttx_eventlog_sqlite::{DB_FILE, Options, SqliteLog};
use ttx_kernel::testing::test_event;
use ttx_kernel::{
    AppendRequest, CommandId, EventLog, ExpectedVersion, LogError, StreamId, check_links, verify_log, verify_stream,
};

fn request(stream: &str, command: &str, events: usize) -> AppendRequest {
    AppendRequest {
        stream: StreamId::parse(stream).unwrap(),
        expected: ExpectedVersion::Any,
        command_id: CommandId::parse(command).unwrap(),
        events: (0..events).map(|i| test_event(format!("{command}/{i}").into_bytes())).collect(),
    }
}

/// Six events on two streams: positions 1..=6 alternate a (odd) and b (even).
async fn six_events(dir: &Path) {
    let log = SqliteLog::open_with(dir, Options { index_batch: 4, ..Options::default() }).unwrap();
    for i in 0..6 {
        let stream = if i % 2 == 0 { "test-store-a" } else { "test-store-b" };
        log.append(request(stream, &format!("c{i}"), 1)).await.unwrap();
    }
}

fn sql(dir: &Path, statement: &str) {
    rusqlite::Connection::open(dir.join(DB_FILE)).unwrap().execute_batch(statement).unwrap();
}

#[tokio::test]
async fn a_healthy_store_index_agrees_with_the_records() {
    let dir = tempfile::tempdir().unwrap();
    six_events(dir.path()).await;
    let log = SqliteLog::open_read_only(dir.path()).unwrap();
    assert_eq!(log.verify_index().await.unwrap(), None);
    assert!(verify_log(&log).await.unwrap().is_ok());
}

#[tokio::test]
async fn a_missing_event_row_is_named_by_its_position() {
    let dir = tempfile::tempdir().unwrap();
    six_events(dir.path()).await;
    sql(dir.path(), "DELETE FROM events WHERE position = 5");
    let log = SqliteLog::open_read_only(dir.path()).unwrap();
    assert_eq!(log.verify_index().await.unwrap().expect("found").position, 5);
}

#[tokio::test]
async fn a_stream_index_row_pointing_elsewhere_is_found() {
    let dir = tempfile::tempdir().unwrap();
    six_events(dir.path()).await;
    sql(dir.path(), "UPDATE stream_index SET version = 7 WHERE position = 3");
    let log = SqliteLog::open_read_only(dir.path()).unwrap();
    assert_eq!(log.verify_index().await.unwrap().expect("found").position, 3);
}

#[tokio::test]
async fn an_undecodable_record_fails_only_the_appends_to_its_stream() {
    let dir = tempfile::tempdir().unwrap();
    six_events(dir.path()).await;
    sql(dir.path(), "UPDATE records SET record = x'ffffffffff' WHERE position = 3");
    let log = Arc::new(SqliteLog::open(dir.path()).unwrap());
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (log, stream) = (log.clone(), if i % 4 == 0 { "test-store-a" } else { "test-store-c" });
        tasks.push(tokio::spawn(async move { (stream, log.append(request(stream, &format!("n{i}"), 1)).await) }));
    }
    for t in tasks {
        match t.await.unwrap() {
            ("test-store-a", Err(LogError::Corrupt { position: 3, .. })) => {}
            ("test-store-c", Ok(_)) => {}
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(log.read_stream(&StreamId::parse("test-store-c").unwrap(), 1, 100).await.unwrap().len(), 30);
}

#[tokio::test]
async fn verification_names_the_first_bad_position_before_an_undecodable_one() {
    let dir = tempfile::tempdir().unwrap();
    six_events(dir.path()).await;
    // Position 1 changed but decodable, position 5 (same stream) not decodable at all.
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    let mut record: Vec<u8> =
        conn.query_row("SELECT record FROM records WHERE position = 1", [], |r| r.get(0)).unwrap();
    let last = record.len() - 1;
    record[last] ^= 0x01;
    conn.execute("UPDATE records SET record = ?1 WHERE position = 1", [record]).unwrap();
    conn.execute_batch("UPDATE records SET record = x'ffffffff' WHERE position = 5").unwrap();
    drop(conn);
    let log = SqliteLog::open_read_only(dir.path()).unwrap();
    assert_eq!(verify_log(&log).await.unwrap().failure.unwrap().position, 1);
    let stream = StreamId::parse("test-store-a").unwrap();
    assert_eq!(verify_stream(&log, &stream).await.unwrap().failure.unwrap().position, 1);
}

#[tokio::test]
async fn a_gap_before_an_undecodable_record_is_a_failed_check_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    six_events(dir.path()).await;
    sql(dir.path(), "DELETE FROM records WHERE position = 2; UPDATE records SET record = x'ffff' WHERE position = 4;");
    let log = SqliteLog::open_read_only(dir.path()).unwrap();
    let report = verify_log(&log).await.expect("a report, not an error");
    let failure = report.failure.expect("a failure");
    assert_eq!(failure.position, 2, "{failure}");
    assert!(failure.reason.contains("missing"), "{failure}");
    assert!(check_links(&log).await.unwrap().failure.is_some());
}

#[tokio::test]
async fn many_large_commands_on_one_stream_are_sealed_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(SqliteLog::open(dir.path()).unwrap());
    let mut tasks = Vec::new();
    for i in 0..20 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move { log.append(request("test-store-hot", &format!("big{i}"), 500)).await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let stream = StreamId::parse("test-store-hot").unwrap();
    let report = verify_stream(log.as_ref(), &stream).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.failure);
    assert_eq!(report.events, 10_000);
    assert!(verify_log(log.as_ref()).await.unwrap().is_ok());
}

/// A failure inside the writer's transaction (here SQLite itself refusing a record, through a trigger added behind
/// the log's back) fails the whole batch it was in and nothing of it is stored; the appends outside that batch are
/// stored whole; and the next appends get the next versions and positions, with no gap and a valid chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_failure_fails_its_batch_and_the_next_appends_continue_where_the_log_is() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(SqliteLog::open(dir.path()).unwrap());
    log.append(request("test-store-fail", "before", 2)).await.unwrap();
    sql(
        dir.path(),
        "CREATE TRIGGER poison BEFORE INSERT ON records WHEN instr(NEW.record, CAST('poison-pill' AS BLOB)) > 0 \
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
    );
    // Many appends at once, so the writer batches them; one of them carries the poison.
    let mut tasks = Vec::new();
    for i in 0..64 {
        let log = log.clone();
        let command = if i == 32 { "poison-pill".to_owned() } else { format!("c{i}") };
        tasks.push(tokio::spawn(async move {
            let outcome = log.append(request("test-store-fail", &command, 2)).await;
            (command, outcome)
        }));
    }
    let mut stored_ok = Vec::new();
    let mut failed = Vec::new();
    for t in tasks {
        let (command, outcome) = t.await.unwrap();
        match outcome {
            Ok(o) => stored_ok.push((command, o.last_version())),
            Err(e) => failed.push((command, e)),
        }
    }
    assert!(failed.iter().any(|(c, _)| c == "poison-pill"), "the poisoned append fails");
    assert!(failed.iter().all(|(_, e)| matches!(e, LogError::Unavailable(_))), "typed, retryable: {failed:?}");
    // Exactly what was acknowledged is stored, whole, at dense versions.
    let stream = StreamId::parse("test-store-fail").unwrap();
    let stored = ttx_kernel::log::read_stream_to_end(log.as_ref(), &stream, 1).await.unwrap();
    assert_eq!(stored.len(), 2 + 2 * stored_ok.len(), "{} acknowledged, {} failed", stored_ok.len(), failed.len());
    for (i, e) in stored.iter().enumerate() {
        assert_eq!(e.version(), i as u64 + 1);
    }
    for (command, last_version) in &stored_ok {
        let at = usize::try_from(*last_version).unwrap() - 1;
        assert_eq!(stored[at].command_id(), command.as_str());
    }
    for (command, _) in &failed {
        assert!(stored.iter().all(|e| e.command_id() != command), "{command} failed but is stored");
    }
    // The next appends continue where the log is.
    let next = log.append(request("test-store-fail", "after", 1)).await.unwrap();
    assert_eq!(next.last_version(), stored.len() as u64 + 1);
    assert_eq!(next.first_position(), log.head().await.unwrap());
    let exact = AppendRequest {
        expected: ExpectedVersion::Exact(next.last_version()),
        ..request("test-store-fail", "exact", 1)
    };
    assert_eq!(log.append(exact).await.unwrap().last_version(), next.last_version() + 1);
    let report = verify_log(log.as_ref()).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.failure);
    assert_eq!(report.events, log.head().await.unwrap());
}
