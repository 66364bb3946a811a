//! The kernel's conformance suite against the SQLite log, plus what is specific to it.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use ttx_eventlog_sqlite::{DB_FILE, OpenError, Options, SqliteLog};
use ttx_kernel::EventLog;
use ttx_kernel::testing::LogHarness;

struct Harness {
    dir: tempfile::TempDir,
    index_batch: u64,
}

impl Harness {
    fn new() -> Self {
        Self::with_index_batch(4096)
    }

    /// A tiny index batch makes every case exercise both the bulk index and the tail.
    fn with_index_batch(index_batch: u64) -> Self {
        Self { dir: tempfile::tempdir().unwrap(), index_batch }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().to_owned()
    }
}

#[async_trait]
impl LogHarness for Harness {
    async fn open(&self) -> Arc<dyn EventLog> {
        let options = Options { index_batch: self.index_batch, ..Options::default() };
        Arc::new(SqliteLog::open_with(self.path(), options).unwrap())
    }

    async fn corrupt(&self, position: u64) {
        let conn = rusqlite::Connection::open(self.path().join(DB_FILE)).unwrap();
        let mut record: Vec<u8> =
            conn.query_row("SELECT record FROM records WHERE position = ?1", [position as i64], |r| r.get(0)).unwrap();
        let i = record.len() - 3;
        record[i] ^= 0x01;
        conn.execute("UPDATE records SET record = ?1 WHERE position = ?2", rusqlite::params![record, position as i64])
            .unwrap();
    }
}

mod default_index {
    use super::Harness;
    ttx_kernel::log_conformance_tests!(Harness::new());
}

mod small_index_batches {
    use super::Harness;
    ttx_kernel::log_conformance_tests!(Harness::with_index_batch(7));
}

#[tokio::test]
async fn a_second_writer_on_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let first = SqliteLog::open(dir.path()).unwrap();
    assert!(matches!(SqliteLog::open(dir.path()), Err(OpenError::Locked(_))));
    drop(first);
    SqliteLog::open(dir.path()).expect("the lock is released when the log is dropped");
}

#[tokio::test]
async fn a_read_only_log_reads_beside_the_writer_and_refuses_writes() {
    use ttx_kernel::testing::test_event;
    use ttx_kernel::{AppendRequest, CommandId, ExpectedVersion, LogError, StreamId};
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(SqliteLog::open_read_only(dir.path()), Err(OpenError::Missing(_))));
    let log = SqliteLog::open(dir.path()).unwrap();
    let stream = StreamId::parse("test-ro-1").unwrap();
    let request = AppendRequest {
        stream: stream.clone(),
        expected: ExpectedVersion::NoStream,
        command_id: CommandId::parse("c1").unwrap(),
        events: vec![test_event(&b"x"[..])],
    };
    log.append(request.clone()).await.unwrap();
    let ro = SqliteLog::open_read_only(dir.path()).unwrap();
    assert_eq!(ro.read_stream(&stream, 1, 10).await.unwrap().len(), 1);
    assert_eq!(ro.append(request).await.unwrap_err(), LogError::ReadOnly);
    assert_eq!(ro.save_checkpoint("x", 1).await.unwrap_err(), LogError::ReadOnly);
    let stats = ro.stats().await.unwrap();
    assert_eq!((stats.events, stats.streams), (1, 1));
}

#[tokio::test]
async fn a_newer_on_disk_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteLog::open(dir.path()).unwrap());
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    conn.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(conn);
    assert!(matches!(SqliteLog::open(dir.path()), Err(OpenError::UnsupportedFormat { found: 99, .. })));
}
