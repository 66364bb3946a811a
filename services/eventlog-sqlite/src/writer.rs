//! The single writer: one thread owns the write connection and commits many appends per transaction.
//!
//! Appenders queue operations; the writer takes everything queued (up to [`MAX_BATCH`]), applies it in one
//! transaction, commits (one fsync of the WAL for the whole batch), and only then answers each caller. A failed
//! commit fails the whole batch and resets the writer's cached state from the database, so no caller is told
//! "stored" about something that is not.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash as _, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Receiver;

use rusqlite::{Connection, params};
use tokio::sync::{oneshot, watch};
use ttx_kernel::event::Placement;
use ttx_kernel::{AppendOutcome, AppendRequest, Clock, Hash, LogError, RecordedEvent, ZERO_HASH};

use crate::schema::{self, to_i64};

/// Most operations one transaction takes.
pub const MAX_BATCH: usize = 4096;
/// Streams whose state the writer keeps; past this the cache is emptied and refilled on demand.
const MAX_CACHED_STREAMS: usize = 100_000;

pub enum Op {
    Append(AppendRequest, oneshot::Sender<Result<AppendOutcome, LogError>>),
    Checkpoint(String, u64, oneshot::Sender<Result<(), LogError>>),
}

/// The answer to one operation: an append's outcome, or `None` for a checkpoint.
type Reply = Option<Result<AppendOutcome, LogError>>;

struct StreamState {
    no: Option<i64>,
    version: u64,
    last_hash: Hash,
    /// Hashes of the command ids already in the stream; a hit is confirmed against the stored events.
    commands: HashSet<u64>,
}

/// Counters the writer keeps, for operators and benchmarks.
#[derive(Debug, Default)]
pub struct WriterMetrics {
    /// Committed transactions.
    pub commits: AtomicU64,
    /// Operations (appends and checkpoints) answered.
    pub ops: AtomicU64,
    /// Events written.
    pub events: AtomicU64,
}

pub struct Writer {
    metrics: Arc<WriterMetrics>,
    conn: Connection,
    clock: Arc<dyn Clock>,
    next_position: u64,
    indexed_upto: u64,
    index_batch: u64,
    streams: HashMap<String, StreamState>,
    head: watch::Sender<u64>,
}

fn command_hash(id: &str) -> u64 {
    let mut h = DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

impl Writer {
    pub fn new(
        conn: Connection,
        clock: Arc<dyn Clock>,
        index_batch: u64,
        head: watch::Sender<u64>,
        metrics: Arc<WriterMetrics>,
    ) -> rusqlite::Result<Self> {
        let next_position = schema::last_position(&conn)? + 1;
        let indexed_upto = schema::indexed_upto(&conn)?;
        Ok(Self { metrics, conn, clock, next_position, indexed_upto, index_batch, streams: HashMap::new(), head })
    }

    /// Serves operations until every sender is gone.
    pub fn run(mut self, ops: Receiver<Op>) {
        while let Ok(first) = ops.recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match ops.try_recv() {
                    Ok(op) => batch.push(op),
                    Err(_) => break,
                }
            }
            self.process(batch);
        }
    }

    fn process(&mut self, batch: Vec<Op>) {
        match self.apply(&batch) {
            Ok(replies) => {
                let written = self.next_position - 1 - self.head.borrow().to_owned();
                self.head.send_replace(self.next_position - 1);
                self.metrics.commits.fetch_add(1, Ordering::Relaxed);
                self.metrics.ops.fetch_add(batch.len() as u64, Ordering::Relaxed);
                self.metrics.events.fetch_add(written, Ordering::Relaxed);
                for (op, reply) in batch.into_iter().zip(replies) {
                    match (op, reply) {
                        (Op::Append(_, tx), Some(r)) => {
                            let _ = tx.send(r);
                        }
                        (Op::Append(_, tx), None) => {
                            let _ = tx.send(Err(LogError::Unavailable("no reply was produced".into())));
                        }
                        (Op::Checkpoint(_, _, tx), _) => {
                            let _ = tx.send(Ok(()));
                        }
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, ops = batch.len(), "event log batch failed; rolled back");
                let _ = self.conn.execute_batch("ROLLBACK");
                self.reset();
                let err = schema::sql_err(e);
                for op in batch {
                    match op {
                        Op::Append(_, tx) => {
                            let _ = tx.send(Err(err.clone()));
                        }
                        Op::Checkpoint(_, _, tx) => {
                            let _ = tx.send(Err(err.clone()));
                        }
                    }
                }
            }
        }
    }

    /// Forgets cached state after a failed transaction and re-reads what the database holds.
    fn reset(&mut self) {
        self.streams.clear();
        if let (Ok(last), Ok(upto)) = (schema::last_position(&self.conn), schema::indexed_upto(&self.conn)) {
            self.next_position = last + 1;
            self.indexed_upto = upto;
        }
    }

    fn apply(&mut self, batch: &[Op]) -> rusqlite::Result<Vec<Reply>> {
        if self.streams.len() > MAX_CACHED_STREAMS {
            self.streams.clear();
        }
        let start = self.next_position;
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let now = self.clock.now();
        let mut replies = Vec::with_capacity(batch.len());
        for op in batch {
            replies.push(match op {
                Op::Append(req, _) => Some(self.append(req, now)?),
                Op::Checkpoint(name, position, _) => {
                    self.conn
                        .prepare_cached(
                            "INSERT INTO checkpoints(name, position, updated_at) VALUES (?1, ?2, ?3)
                             ON CONFLICT(name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at",
                        )?
                        .execute(params![name, to_i64(*position), now.unix_micros()])?;
                    None
                }
            });
        }
        if self.next_position - 1 - self.indexed_upto >= self.index_batch {
            self.flush_index()?;
        }
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            self.next_position = start;
            return Err(e);
        }
        Ok(replies)
    }

    /// Moves the tail into the stream index, sorted by stream so each stream's rows land together.
    fn flush_index(&mut self) -> rusqlite::Result<()> {
        let upto = self.next_position - 1;
        self.conn
            .prepare_cached(
                "INSERT INTO stream_index(stream_no, version, position)
                 SELECT stream_no, version, position FROM events WHERE position > ?1 ORDER BY stream_no, version",
            )?
            .execute([to_i64(self.indexed_upto)])?;
        self.conn.prepare_cached("UPDATE meta SET value = ?1 WHERE key = 'indexed_upto'")?.execute([to_i64(upto)])?;
        self.indexed_upto = upto;
        Ok(())
    }

    fn load_stream(&self, stream_id: &str) -> rusqlite::Result<StreamState> {
        let Some(no) = schema::stream_no(&self.conn, stream_id)? else {
            return Ok(StreamState { no: None, version: 0, last_hash: ZERO_HASH, commands: HashSet::new() });
        };
        let rows = schema::stream_rows(&self.conn, no, 1, usize::MAX)?;
        let events = schema::decode_rows(&self.conn, rows)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Blob, Box::new(e)))?;
        Ok(StreamState {
            no: Some(no),
            version: events.last().map_or(0, RecordedEvent::version),
            last_hash: events.last().map_or(ZERO_HASH, |e| e.hash),
            commands: events.iter().map(|e| command_hash(e.command_id())).collect(),
        })
    }

    /// The events a command already wrote to a stream, if any.
    fn earlier_outcome(&self, no: i64, command_id: &str) -> rusqlite::Result<Vec<RecordedEvent>> {
        let rows = schema::stream_rows(&self.conn, no, 1, usize::MAX)?;
        let events = schema::decode_rows(&self.conn, rows)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Blob, Box::new(e)))?;
        Ok(events.into_iter().filter(|e| e.command_id() == command_id).collect())
    }

    fn append(
        &mut self,
        req: &AppendRequest,
        now: ttx_kernel::Timestamp,
    ) -> rusqlite::Result<Result<AppendOutcome, LogError>> {
        let key = req.stream.as_str();
        if !self.streams.contains_key(key) {
            let state = self.load_stream(key)?;
            self.streams.insert(key.to_owned(), state);
        }
        let cmd_hash = command_hash(req.command_id.as_str());
        let (no, version, mut prev) = {
            let state = &self.streams[key];
            if let (true, Some(no)) = (state.commands.contains(&cmd_hash), state.no) {
                let earlier = self.earlier_outcome(no, req.command_id.as_str())?;
                if !earlier.is_empty() {
                    return Ok(Ok(AppendOutcome { events: earlier, duplicate: true }));
                }
            }
            if !req.expected.admits(state.version) {
                return Ok(Err(LogError::Conflict {
                    stream: key.to_owned(),
                    expected: req.expected,
                    actual: state.version,
                }));
            }
            (state.no, state.version, state.last_hash)
        };
        let no = match no {
            Some(no) => no,
            None => {
                self.conn.prepare_cached("INSERT INTO streams(stream_id) VALUES (?1)")?.execute([key])?;
                self.conn.last_insert_rowid()
            }
        };
        let mut insert_event =
            self.conn.prepare_cached("INSERT INTO events(position, stream_no, version) VALUES (?1, ?2, ?3)")?;
        let mut insert_record =
            self.conn.prepare_cached("INSERT INTO records(position, record, hash) VALUES (?1, ?2, ?3)")?;
        let mut recorded = Vec::with_capacity(req.events.len());
        for (i, event) in req.events.iter().enumerate() {
            let position = self.next_position + i as u64;
            let stream_version = version + 1 + i as u64;
            let sealed = RecordedEvent::seal(
                event,
                Placement {
                    stream: &req.stream,
                    stream_version,
                    global_position: position,
                    command_id: &req.command_id,
                    command_index: u32::try_from(i).unwrap_or(u32::MAX),
                    recorded_at: now,
                    prev_hash: &prev,
                },
            );
            insert_event.execute(params![to_i64(position), no, to_i64(stream_version)])?;
            insert_record.execute(params![to_i64(position), sealed.bytes.as_ref(), sealed.hash.as_slice()])?;
            prev = sealed.hash;
            recorded.push(sealed);
        }
        drop((insert_event, insert_record));
        self.next_position += req.events.len() as u64;
        if let Some(state) = self.streams.get_mut(key) {
            state.no = Some(no);
            state.version = version + req.events.len() as u64;
            state.last_hash = prev;
            state.commands.insert(cmd_hash);
        }
        Ok(Ok(AppendOutcome { events: recorded, duplicate: false }))
    }
}
