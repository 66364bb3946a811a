//! The embedded, durable default event log of TTX, on one SQLite file.
//!
//! # Layout
//! - [`SqliteLog`]: the [`EventLog`] implementation; `open` for the exchange, `open_read_only` for tools.
//! - `writer`: the single writer thread that group-commits appends.
//! - `schema`: tables and the queries shared by writer and readers.
//!
//! # Durability
//! The database runs in WAL mode with `synchronous = FULL`: a transaction's commit fsyncs the WAL before it returns,
//! so an append acknowledged to its caller survives a process crash and a power cut. Concurrent appends share one
//! transaction and one fsync (group commit). One process at a time may write a data directory; a `LOCK` file held with
//! an exclusive OS lock enforces it.

mod schema;
mod writer;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use tokio::sync::mpsc::Sender;
use tokio::sync::{oneshot, watch};
use ttx_kernel::chain::Failure;
use ttx_kernel::log::{validate_checkpoint_name, validate_group, validate_read_start};
use ttx_kernel::{AppendOutcome, AppendRequest, Clock, EventLog, LogError, RecordedEvent, StreamId, SystemClock};

use crate::schema::{sql_err, to_u64};
pub use crate::writer::WriterMetrics;
use crate::writer::{Op, Writer};

/// The database file inside the data directory.
pub const DB_FILE: &str = "events.sqlite";
/// The lock file inside the data directory.
pub const LOCK_FILE: &str = "LOCK";
/// Most appends one group ([`EventLog::append_group`]) takes.
pub const MAX_GROUP: usize = 1024;

/// Why a log could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{0} is in use by another process (its LOCK file is held)")]
    Locked(PathBuf),
    #[error("no event log at {0}")]
    Missing(PathBuf),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error("{path} has on-disk format {found}; this build reads format {supported}")]
    UnsupportedFormat { path: PathBuf, found: i64, supported: i64 },
}

/// Tuning knobs; the defaults suit the exchange.
#[derive(Debug, Clone)]
pub struct Options {
    pub clock: Arc<dyn Clock>,
    /// Read connections (reads run on blocking threads, one connection each).
    pub readers: usize,
    /// Tail length at which stream-index rows are written in bulk.
    pub index_batch: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self { clock: Arc::new(SystemClock), readers: 4, index_batch: 4096 }
    }
}

/// Size and shape of a log, for `ttx log stats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Events stored, which in a dense log is also the head position.
    pub events: u64,
    pub streams: u64,
    pub indexed_upto: u64,
    pub checkpoints: Vec<(String, u64)>,
    pub db_bytes: u64,
    pub wal_bytes: u64,
}

struct Inner {
    path: PathBuf,
    metrics: Arc<WriterMetrics>,
    ops: Mutex<Option<Sender<Op>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    head: watch::Receiver<u64>,
    /// Keeps the head watch open for read-only logs, which have no writer.
    _head_tx: Option<watch::Sender<u64>>,
    _lock: Option<File>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the queue stops the writer after it has answered everything queued.
        self.ops.lock().map(|mut o| o.take()).ok();
        if let Ok(mut w) = self.writer.lock()
            && let Some(handle) = w.take()
        {
            let _ = handle.join();
        }
    }
}

/// How the writer's connection is set up: write-ahead logging, and `synchronous = FULL`, so that an append answered
/// `Ok` is on disk (the WAL is fsynced at every commit) whatever happens to the process or the machine next.
const WRITER_PRAGMAS: &str = "PRAGMA journal_mode = WAL;
     PRAGMA synchronous = FULL;
     PRAGMA cache_size = -65536;
     PRAGMA temp_store = MEMORY;
     PRAGMA wal_autocheckpoint = 8192;
     PRAGMA journal_size_limit = 67108864;
     PRAGMA busy_timeout = 5000;";

/// The SQLite event log. Cheap to clone; all clones share one writer.
#[derive(Clone)]
pub struct SqliteLog {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SqliteLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteLog").field("path", &self.inner.path).finish_non_exhaustive()
    }
}

/// Copies committed WAL frames into the database file, off the writer's thread, while the log is written; a
/// last pass when the writer stops. PASSIVE checkpoints never block the writer or the readers.
fn checkpoint_loop(conn: &Connection, mut head: watch::Receiver<u64>) {
    let checkpoint = |conn: &Connection| {
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "WAL checkpoint failed; will retry");
        }
    };
    loop {
        match head.has_changed() {
            Ok(true) => {
                head.mark_unchanged();
                checkpoint(conn);
            }
            Ok(false) => {}
            Err(_) => {
                checkpoint(conn);
                return;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn sqlite(path: &Path) -> impl Fn(rusqlite::Error) -> OpenError + '_ {
    move |source| OpenError::Sqlite { path: path.to_owned(), source }
}

fn open_reader(path: &Path) -> Result<Connection, OpenError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(sqlite(path))?;
    conn.execute_batch("PRAGMA mmap_size = 1073741824; PRAGMA cache_size = -16384; PRAGMA busy_timeout = 5000;")
        .map_err(sqlite(path))?;
    Ok(conn)
}

impl SqliteLog {
    /// Opens (creating if needed) the log in `dir` for reading and writing.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, OpenError> {
        Self::open_with(dir, Options::default())
    }

    pub fn open_with(dir: impl AsRef<Path>, options: Options) -> Result<Self, OpenError> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|source| OpenError::Io { path: dir.to_owned(), source })?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| OpenError::Io { path: lock_path.clone(), source })?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(OpenError::Locked(dir.to_owned())),
            Err(std::fs::TryLockError::Error(source)) => return Err(OpenError::Io { path: lock_path, source }),
        }
        let path = dir.join(DB_FILE);
        let conn = Connection::open(&path).map_err(sqlite(&path))?;
        conn.execute_batch(WRITER_PRAGMAS).map_err(sqlite(&path))?;
        let format: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(sqlite(&path))?;
        if format > schema::SCHEMA_VERSION {
            return Err(OpenError::UnsupportedFormat { path, found: format, supported: schema::SCHEMA_VERSION });
        }
        conn.execute_batch(schema::CREATE).map_err(sqlite(&path))?;
        conn.execute_batch(&format!("PRAGMA user_version = {}", schema::SCHEMA_VERSION)).map_err(sqlite(&path))?;
        let head_now = schema::last_position(&conn).map_err(sqlite(&path))?;
        let (head_tx, head_rx) = watch::channel(head_now);
        let metrics = Arc::new(WriterMetrics::default());
        let writer = Writer::new(conn, options.clock.clone(), options.index_batch.max(1), head_tx, metrics.clone())
            .map_err(sqlite(&path))?;
        let readers =
            (0..options.readers.max(1)).map(|_| open_reader(&path).map(Mutex::new)).collect::<Result<Vec<_>, _>>()?;
        let (ops_tx, ops_rx) = tokio::sync::mpsc::channel(writer::QUEUE_DEPTH);
        let checkpointer_conn = Connection::open(&path).map_err(sqlite(&path))?;
        // FULL: the database file is fsynced before the WAL may be reused.
        checkpointer_conn
            .execute_batch("PRAGMA busy_timeout = 5000; PRAGMA synchronous = FULL;")
            .map_err(sqlite(&path))?;
        let checkpointer_head = head_rx.clone();
        let checkpointer = std::thread::Builder::new()
            .name("ttx-log-checkpoint".into())
            .spawn(move || checkpoint_loop(&checkpointer_conn, checkpointer_head))
            .map_err(|source| OpenError::Io { path: path.clone(), source })?;
        let handle = std::thread::Builder::new()
            .name("ttx-log-writer".into())
            .spawn(move || {
                writer.run(ops_rx);
                // The writer is gone, so the head watch is closed and the checkpointer finishes its last pass.
                let _ = checkpointer.join();
            })
            .map_err(|source| OpenError::Io { path: path.clone(), source })?;
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                metrics,
                ops: Mutex::new(Some(ops_tx)),
                writer: Mutex::new(Some(handle)),
                readers,
                next_reader: AtomicUsize::new(0),
                head: head_rx,
                _head_tx: None,
                _lock: Some(lock),
            }),
        })
    }

    /// Opens an existing log for reading only, without taking the lock: safe beside a running exchange.
    pub fn open_read_only(dir: impl AsRef<Path>) -> Result<Self, OpenError> {
        let path = dir.as_ref().join(DB_FILE);
        if !path.exists() {
            return Err(OpenError::Missing(path));
        }
        let readers = (0..4).map(|_| open_reader(&path).map(Mutex::new)).collect::<Result<Vec<_>, _>>()?;
        let head_now = {
            let conn = readers[0].lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let format: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(sqlite(&path))?;
            if format > schema::SCHEMA_VERSION {
                return Err(OpenError::UnsupportedFormat { path, found: format, supported: schema::SCHEMA_VERSION });
            }
            schema::last_position(&conn).map_err(sqlite(&path))?
        };
        let (head_tx, head_rx) = watch::channel(head_now);
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                metrics: Arc::default(),
                ops: Mutex::new(None),
                writer: Mutex::new(None),
                readers,
                next_reader: AtomicUsize::new(0),
                head: head_rx,
                _head_tx: Some(head_tx),
                _lock: None,
            }),
        })
    }

    /// The writer's counters since this log was opened.
    pub fn metrics(&self) -> &WriterMetrics {
        &self.inner.metrics
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` with a read connection on a blocking thread.
    async fn read<T, F>(&self, f: F) -> Result<T, LogError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, LogError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let i = inner.next_reader.fetch_add(1, Ordering::Relaxed) % inner.readers.len();
            let mut conn = inner.readers[i].lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut conn)
        })
        .await
        .map_err(|e| LogError::Unavailable(format!("read task failed: {e}")))?
    }

    /// Queues an operation for the writer, waiting for room when the queue is full.
    async fn send(&self, op: Op) -> Result<(), LogError> {
        let tx = {
            let ops = self.inner.ops.lock().map_err(|_| LogError::Unavailable("writer queue poisoned".into()))?;
            ops.clone().ok_or(LogError::ReadOnly)?
        };
        tx.send(op).await.map_err(|_| LogError::Unavailable("the log writer has stopped".into()))
    }

    /// Checks the derived tables (`events`, `streams`, `stream_index`) against the records: one event row and one
    /// record per position from 1 to the head, each event row's stream and version equal to those in its record, and
    /// every stream-index row pointing at the event with its stream and version. Returns the first disagreement.
    /// The records themselves are checked by [`ttx_kernel::verify_log`].
    pub async fn verify_index(&self) -> Result<Option<Failure>, LogError> {
        self.read(|conn| {
            let tx = conn.transaction().map_err(sql_err)?;
            schema::verify_index(&tx).map_err(sql_err)
        })
        .await
    }

    /// Counts and sizes, for operators.
    pub async fn stats(&self) -> Result<Stats, LogError> {
        let path = self.inner.path.clone();
        self.read(move |conn| {
            let tx = conn.transaction().map_err(sql_err)?;
            let head = schema::last_position(&tx).map_err(sql_err)?;
            let streams: i64 = tx.query_row("SELECT COUNT(*) FROM streams", [], |r| r.get(0)).map_err(sql_err)?;
            let indexed_upto = schema::indexed_upto(&tx).map_err(sql_err)?;
            let checkpoints = tx
                .prepare("SELECT name, position FROM checkpoints ORDER BY name")
                .and_then(|mut s| {
                    s.query_map([], |r| Ok((r.get::<_, String>(0)?, to_u64(r.get(1)?))))?.collect::<Result<Vec<_>, _>>()
                })
                .map_err(sql_err)?;
            let size = |p: PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            let mut wal = path.clone().into_os_string();
            wal.push("-wal");
            Ok(Stats {
                events: head,
                streams: to_u64(streams),
                indexed_upto,
                checkpoints,
                db_bytes: size(path.clone()),
                wal_bytes: size(PathBuf::from(wal)),
            })
        })
        .await
    }
}

#[async_trait]
impl EventLog for SqliteLog {
    async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, LogError> {
        request.validate()?;
        let (tx, rx) = oneshot::channel();
        self.send(Op::Append(request, tx)).await?;
        rx.await.map_err(|_| LogError::Unavailable("the log writer stopped before answering".into()))?
    }

    fn max_group(&self) -> usize {
        MAX_GROUP
    }

    async fn append_group(&self, requests: Vec<AppendRequest>) -> Result<Vec<AppendOutcome>, LogError> {
        validate_group(&requests, MAX_GROUP)?;
        let (tx, rx) = oneshot::channel();
        self.send(Op::Group(requests, tx)).await?;
        rx.await.map_err(|_| LogError::Unavailable("the log writer stopped before answering".into()))?
    }

    async fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, LogError> {
        validate_read_start(from_version)?;
        if max == 0 {
            return Ok(Vec::new());
        }
        let stream = stream.as_str().to_owned();
        self.read(move |conn| {
            let tx = conn.transaction().map_err(sql_err)?;
            let Some(no) = schema::stream_no(&tx, &stream).map_err(sql_err)? else {
                return Ok(Vec::new());
            };
            let rows = schema::stream_rows(&tx, no, from_version, max).map_err(sql_err)?;
            schema::decode_rows(&tx, rows)
        })
        .await
    }

    async fn read_all(&self, from_position: u64, max: usize) -> Result<Vec<RecordedEvent>, LogError> {
        validate_read_start(from_position)?;
        self.read(move |conn| {
            let rows = schema::all_rows(conn, from_position, max).map_err(sql_err)?;
            schema::decode_rows(conn, rows)
        })
        .await
    }

    async fn head(&self) -> Result<u64, LogError> {
        self.read(|conn| schema::last_position(conn).map_err(sql_err)).await
    }

    fn watch_head(&self) -> watch::Receiver<u64> {
        self.inner.head.clone()
    }

    async fn load_checkpoint(&self, name: &str) -> Result<Option<u64>, LogError> {
        validate_checkpoint_name(name)?;
        let name = name.to_owned();
        self.read(move |conn| {
            conn.prepare_cached("SELECT position FROM checkpoints WHERE name = ?1")
                .and_then(|mut s| s.query_row([&name], |r| r.get::<_, i64>(0)).optional())
                .map(|p| p.map(to_u64))
                .map_err(sql_err)
        })
        .await
    }

    async fn save_checkpoint(&self, name: &str, position: u64) -> Result<(), LogError> {
        validate_checkpoint_name(name)?;
        let (tx, rx) = oneshot::channel();
        self.send(Op::Checkpoint(name.to_owned(), position, tx)).await?;
        rx.await.map_err(|_| LogError::Unavailable("the log writer stopped before answering".into()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writer_logs_ahead_and_syncs_every_commit() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.execute_batch(WRITER_PRAGMAS).unwrap();
        let journal: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        let synchronous: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
        assert_eq!((journal.as_str(), synchronous), ("wal", 2), "WAL, and synchronous = FULL (2)");
        // The log a process opens is in WAL mode, as the file itself records.
        drop(conn);
        let other = tempfile::tempdir().unwrap();
        let log = SqliteLog::open(other.path()).unwrap();
        let check = Connection::open(other.path().join(DB_FILE)).unwrap();
        let journal: String = check.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(journal, "wal");
        drop(log);
    }
}
