//! The single writer: one thread owns the write connection and commits many appends per transaction.
//!
//! Appenders queue operations; the writer takes everything queued (up to [`MAX_BATCH`]), applies it in one
//! transaction, commits (one fsync of the WAL for the whole batch), and only then answers each caller. A failed
//! commit fails the whole batch and resets the writer's cached state from the database, so no caller is told
//! "stored" about something that is not.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::{Connection, params};
use tokio::sync::mpsc::Receiver;
use tokio::sync::{oneshot, watch};
use ttx_kernel::event::Placement;
use ttx_kernel::sha256x::hash_many;
use ttx_kernel::{AppendOutcome, AppendRequest, Clock, Hash, LogError, RecordedEvent, Timestamp, ZERO_HASH};

use crate::schema::{self, to_i64};

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
type FastSet<T> = HashSet<T, foldhash::fast::RandomState>;

/// Rows per multi-row INSERT statement (3 parameters each, well under SQLite's limit).
const ROWS_PER_INSERT: usize = 32;

/// `INSERT INTO <table>(a, b, c) VALUES (?, ?, ?), …` for [`ROWS_PER_INSERT`] rows.
fn multi_insert(table: &str) -> String {
    let values = vec!["(?, ?, ?)"; ROWS_PER_INSERT].join(", ");
    format!("INSERT INTO {table} VALUES {values}")
}

/// Most operations one transaction takes.
pub const MAX_BATCH: usize = 4096;
/// Most events one transaction takes (an operation larger than this goes alone).
const MAX_BATCH_EVENTS: usize = 16_384;
/// Most payload bytes one transaction takes (an operation larger than this goes alone).
const MAX_BATCH_BYTES: usize = 32 << 20;
/// Operations that may wait for the writer; appenders wait for room beyond this.
pub const QUEUE_DEPTH: usize = 16_384;
/// Streams whose state the writer keeps; past this the cache is emptied and refilled on demand.
const MAX_CACHED_STREAMS: usize = 100_000;

pub enum Op {
    Append(AppendRequest, oneshot::Sender<Result<AppendOutcome, LogError>>),
    /// Appends to one stream, all or nothing (already validated as a group).
    Group(Vec<AppendRequest>, oneshot::Sender<Result<Vec<AppendOutcome>, LogError>>),
    Checkpoint(String, u64, oneshot::Sender<Result<(), LogError>>),
}

impl Op {
    /// Events and payload bytes the operation writes, to keep one transaction's size bounded.
    fn weight(&self) -> (usize, usize) {
        match self {
            Op::Append(req, _) => weight(req),
            Op::Group(reqs, _) => reqs.iter().map(weight).fold((0, 0), |(e, b), (e2, b2)| (e + e2, b + b2)),
            Op::Checkpoint(..) => (0, 0),
        }
    }
}

fn weight(req: &AppendRequest) -> (usize, usize) {
    (req.events.len(), req.events.iter().map(|e| e.payload.len()).sum())
}

/// The answer to one operation.
enum Reply {
    One(Result<AppendOutcome, LogError>),
    Many(Result<Vec<AppendOutcome>, LogError>),
    Checkpoint,
}

/// What the writer decided for one operation of a batch.
enum Decision {
    /// Answered without writing: a conflict, or a command already in the stream.
    Done(Result<AppendOutcome, LogError>),
    /// Accepted; its events are the accepted append at this index.
    Accepted(usize),
    /// The same command as an append accepted earlier in this batch.
    SameAs(usize),
    /// A group, accepted whole: its appends are the accepted appends at these indexes.
    Group(Vec<usize>),
    /// A group refused whole.
    GroupRefused(LogError),
    Checkpoint,
}

/// An append that passed its checks, with its reserved positions and versions.
struct Accepted<'a> {
    req: &'a AppendRequest,
    no: i64,
    first_position: u64,
    first_version: u64,
}

struct StreamState {
    no: Option<i64>,
    version: u64,
    last_hash: Hash,
    /// Hashes of the command ids already in the stream; a hit is confirmed against the stored events.
    commands: FastSet<u64>,
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
    streams: FastMap<String, StreamState>,
    head: watch::Sender<u64>,
}

fn command_hash(id: &str) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(0x7478_2d63_6d64).hash_one(id)
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
        Ok(Self { metrics, conn, clock, next_position, indexed_upto, index_batch, streams: HashMap::default(), head })
    }

    /// Serves operations until every sender is gone.
    pub fn run(mut self, mut ops: Receiver<Op>) {
        let mut carried: Option<Op> = None;
        loop {
            let Some(first) = carried.take().or_else(|| ops.blocking_recv()) else { return };
            let (mut events, mut bytes) = first.weight();
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                let Ok(op) = ops.try_recv() else { break };
                let (e, b) = op.weight();
                if events + e > MAX_BATCH_EVENTS || bytes + b > MAX_BATCH_BYTES {
                    carried = Some(op);
                    break;
                }
                events += e;
                bytes += b;
                batch.push(op);
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
                    let missing = || LogError::Unavailable("no reply was produced".into());
                    match (op, reply) {
                        (Op::Append(_, tx), Reply::One(r)) => {
                            let _ = tx.send(r);
                        }
                        (Op::Append(_, tx), _) => {
                            let _ = tx.send(Err(missing()));
                        }
                        (Op::Group(_, tx), Reply::Many(r)) => {
                            let _ = tx.send(r);
                        }
                        (Op::Group(_, tx), _) => {
                            let _ = tx.send(Err(missing()));
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
                        Op::Group(_, tx) => {
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
        let mut decisions = Vec::with_capacity(batch.len());
        let mut accepted: Vec<Accepted<'_>> = Vec::new();
        let mut in_batch: FastMap<(&str, &str), usize> = FastMap::default();
        for op in batch {
            decisions.push(match op {
                Op::Append(req, _) => self.admit(req, &mut accepted, &mut in_batch)?,
                Op::Group(reqs, _) => match self.refuse_group(reqs, &in_batch)? {
                    Some(e) => Decision::GroupRefused(e),
                    None => {
                        let mut indexes = Vec::with_capacity(reqs.len());
                        for req in reqs {
                            match self.admit(req, &mut accepted, &mut in_batch)? {
                                Decision::Accepted(i) => indexes.push(i),
                                // `refuse_group` checked every append; nothing else can happen.
                                _ => return Err(rusqlite::Error::InvalidQuery),
                            }
                        }
                        Decision::Group(indexes)
                    }
                },
                Op::Checkpoint(name, position, _) => {
                    self.conn
                        .prepare_cached(
                            "INSERT INTO checkpoints(name, position, updated_at) VALUES (?1, ?2, ?3)
                             ON CONFLICT(name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at",
                        )?
                        .execute(params![name, to_i64(*position), now.unix_micros()])?;
                    Decision::Checkpoint
                }
            });
        }
        let sealed = self.seal(&accepted, now);
        self.insert(&accepted, &sealed)?;
        if self.next_position - 1 - self.indexed_upto >= self.index_batch {
            self.flush_index()?;
        }
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            self.next_position = start;
            return Err(e);
        }
        // Duplicates within the batch get copies; each accepted append then takes its own events.
        let mut replies: Vec<Reply> = decisions
            .iter()
            .map(|d| match d {
                Decision::SameAs(i) => Reply::One(Ok(AppendOutcome { events: sealed[*i].clone(), duplicate: true })),
                _ => Reply::Checkpoint,
            })
            .collect();
        let mut sealed = sealed;
        let mut take = |i: usize| AppendOutcome { events: std::mem::take(&mut sealed[i]), duplicate: false };
        for (reply, d) in replies.iter_mut().zip(decisions) {
            match d {
                Decision::Done(r) => *reply = Reply::One(r),
                Decision::Accepted(i) => *reply = Reply::One(Ok(take(i))),
                Decision::Group(indexes) => *reply = Reply::Many(Ok(indexes.into_iter().map(&mut take).collect())),
                Decision::GroupRefused(e) => *reply = Reply::Many(Err(e)),
                Decision::SameAs(_) | Decision::Checkpoint => {}
            }
        }
        Ok(replies)
    }

    /// Why a group cannot be written whole, if it cannot: an append that is not at its expected version (counting
    /// the group's earlier appends), or whose command is already in the stream or earlier in this batch.
    fn refuse_group(
        &mut self,
        reqs: &[AppendRequest],
        in_batch: &FastMap<(&str, &str), usize>,
    ) -> rusqlite::Result<Option<LogError>> {
        let Some(key) = reqs.first().map(|r| r.stream.as_str()) else {
            return Ok(Some(LogError::Invalid(ttx_kernel::InvalidInput::EmptyGroup)));
        };
        if !self.streams.contains_key(key) {
            match self.load_stream(key)? {
                Ok(state) => self.streams.insert(key.to_owned(), state),
                Err(e) => return Ok(Some(e)),
            };
        }
        let Some(state) = self.streams.get(key) else {
            return Ok(Some(LogError::Unavailable("stream state missing".into())));
        };
        let (no, mut version) = (state.no, state.version);
        let conflict = |expected, actual| Some(LogError::Conflict { stream: key.to_owned(), expected, actual });
        for req in reqs {
            let known = state.commands.contains(&command_hash(req.command_id.as_str()));
            let written = match (known, no) {
                (true, Some(no)) => match self.earlier_outcome(no, req.command_id.as_str())? {
                    Ok(earlier) => !earlier.is_empty(),
                    Err(e) => return Ok(Some(e)),
                },
                _ => false,
            };
            if written || in_batch.contains_key(&(key, req.command_id.as_str())) || !req.expected.admits(version) {
                return Ok(conflict(req.expected, version));
            }
            version += req.events.len() as u64;
        }
        Ok(None)
    }

    /// Checks one append against the stream's state and, if it passes, reserves its positions and versions.
    fn admit<'a>(
        &mut self,
        req: &'a AppendRequest,
        accepted: &mut Vec<Accepted<'a>>,
        in_batch: &mut FastMap<(&'a str, &'a str), usize>,
    ) -> rusqlite::Result<Decision> {
        let key = req.stream.as_str();
        if let Some(&i) = in_batch.get(&(key, req.command_id.as_str())) {
            return Ok(Decision::SameAs(i));
        }
        if !self.streams.contains_key(key) {
            match self.load_stream(key)? {
                Ok(state) => self.streams.insert(key.to_owned(), state),
                Err(e) => return Ok(Decision::Done(Err(e))),
            };
        }
        let cmd_hash = command_hash(req.command_id.as_str());
        let Some(state) = self.streams.get(key) else {
            return Ok(Decision::Done(Err(LogError::Unavailable("stream state missing".into()))));
        };
        if let (true, Some(no)) = (state.commands.contains(&cmd_hash), state.no) {
            let earlier = match self.earlier_outcome(no, req.command_id.as_str())? {
                Ok(earlier) => earlier,
                Err(e) => return Ok(Decision::Done(Err(e))),
            };
            if !earlier.is_empty() {
                return Ok(Decision::Done(Ok(AppendOutcome { events: earlier, duplicate: true })));
            }
        }
        if !req.expected.admits(state.version) {
            let conflict = LogError::Conflict { stream: key.to_owned(), expected: req.expected, actual: state.version };
            return Ok(Decision::Done(Err(conflict)));
        }
        let no = match state.no {
            Some(no) => no,
            None => {
                self.conn.prepare_cached("INSERT INTO streams(stream_id) VALUES (?1)")?.execute([key])?;
                self.conn.last_insert_rowid()
            }
        };
        let n = req.events.len() as u64;
        let Some(state) = self.streams.get_mut(key) else {
            return Ok(Decision::Done(Err(LogError::Unavailable("stream state missing".into()))));
        };
        accepted.push(Accepted { req, no, first_position: self.next_position, first_version: state.version + 1 });
        self.next_position += n;
        state.no = Some(no);
        state.version += n;
        state.commands.insert(cmd_hash);
        in_batch.insert((key, req.command_id.as_str()), accepted.len() - 1);
        Ok(Decision::Accepted(accepted.len() - 1))
    }

    /// Encodes and hashes every accepted event. Events of different streams are independent, so they are hashed
    /// together in waves ([`hash_many`]); within a stream each event needs its predecessor's hash, so a stream's k-th
    /// event of the batch goes in wave k. Updates each stream's last hash.
    fn seal(&mut self, accepted: &[Accepted<'_>], now: Timestamp) -> Vec<Vec<RecordedEvent>> {
        let mut running: FastMap<&str, Hash> = FastMap::default();
        for a in accepted {
            let key = a.req.stream.as_str();
            let last = self.streams.get(key).map_or(ZERO_HASH, |s| s.last_hash);
            running.entry(key).or_insert(last);
        }
        let mut sealed: Vec<Vec<RecordedEvent>> =
            accepted.iter().map(|a| Vec::with_capacity(a.req.events.len())).collect();
        // Each stream's jobs, (accepted index, event index), in position order; wave k takes every stream's k-th job.
        let mut per_stream: Vec<Vec<(usize, usize)>> = Vec::new();
        let mut slot: FastMap<&str, usize> = FastMap::default();
        for (i, a) in accepted.iter().enumerate() {
            let s = *slot.entry(a.req.stream.as_str()).or_insert_with(|| {
                per_stream.push(Vec::new());
                per_stream.len() - 1
            });
            per_stream[s].extend((0..a.req.events.len()).map(|k| (i, k)));
        }
        let waves = per_stream.iter().map(Vec::len).max().unwrap_or(0);
        for wave_no in 0..waves {
            let wave: Vec<(usize, usize)> = per_stream.iter().filter_map(|jobs| jobs.get(wave_no).copied()).collect();
            let encoded: Vec<_> = wave
                .iter()
                .map(|&(i, k)| {
                    let a = &accepted[i];
                    let prev = running[a.req.stream.as_str()];
                    RecordedEvent::encode_at(
                        &a.req.events[k],
                        Placement {
                            stream: &a.req.stream,
                            stream_version: a.first_version + k as u64,
                            global_position: a.first_position + k as u64,
                            command_id: &a.req.command_id,
                            command_index: u32::try_from(k).unwrap_or(u32::MAX),
                            recorded_at: now,
                            prev_hash: &prev,
                        },
                    )
                })
                .collect();
            let messages: Vec<&[u8]> = encoded.iter().map(|(_, bytes)| bytes.as_ref()).collect();
            let hashes = hash_many(&messages);
            for ((&(i, _), (envelope, bytes)), hash) in wave.iter().zip(encoded).zip(hashes) {
                running.insert(accepted[i].req.stream.as_str(), hash);
                sealed[i].push(RecordedEvent { envelope, bytes, hash });
            }
        }
        for (key, hash) in running {
            if let Some(state) = self.streams.get_mut(key) {
                state.last_hash = hash;
            }
        }
        sealed
    }

    /// Inserts the sealed events' rows, [`ROWS_PER_INSERT`] per statement where there are that many.
    fn insert(&self, accepted: &[Accepted<'_>], sealed: &[Vec<RecordedEvent>]) -> rusqlite::Result<()> {
        let rows: Vec<(i64, &RecordedEvent)> =
            accepted.iter().zip(sealed).flat_map(|(a, events)| events.iter().map(move |e| (a.no, e))).collect();
        let mut chunks = rows.chunks_exact(ROWS_PER_INSERT);
        if chunks.len() > 0 {
            let mut events = self.conn.prepare_cached(&multi_insert("events(position, stream_no, version)"))?;
            let mut records = self.conn.prepare_cached(&multi_insert("records(position, record, hash)"))?;
            for chunk in chunks.by_ref() {
                for (i, (no, e)) in chunk.iter().enumerate() {
                    let position = to_i64(e.position());
                    events.raw_bind_parameter(3 * i + 1, position)?;
                    events.raw_bind_parameter(3 * i + 2, *no)?;
                    events.raw_bind_parameter(3 * i + 3, to_i64(e.version()))?;
                    records.raw_bind_parameter(3 * i + 1, position)?;
                    records.raw_bind_parameter(3 * i + 2, e.bytes.as_ref())?;
                    records.raw_bind_parameter(3 * i + 3, e.hash.as_slice())?;
                }
                events.raw_execute()?;
                records.raw_execute()?;
            }
        }
        let mut events =
            self.conn.prepare_cached("INSERT INTO events(position, stream_no, version) VALUES (?1, ?2, ?3)")?;
        let mut records =
            self.conn.prepare_cached("INSERT INTO records(position, record, hash) VALUES (?1, ?2, ?3)")?;
        for (no, e) in chunks.remainder() {
            let position = to_i64(e.position());
            events.execute(params![position, no, to_i64(e.version())])?;
            records.execute(params![position, e.bytes.as_ref(), e.hash.as_slice()])?;
        }
        Ok(())
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

    /// Every stored event of a stream, decoded. The inner error is a stored event that does not decode: it concerns
    /// this stream only, so it fails the one operation, not the batch.
    fn stream_events(&self, no: i64) -> rusqlite::Result<Result<Vec<RecordedEvent>, LogError>> {
        let rows = schema::stream_rows(&self.conn, no, 1, usize::MAX)?;
        Ok(schema::decode_rows(&self.conn, rows))
    }

    fn load_stream(&self, stream_id: &str) -> rusqlite::Result<Result<StreamState, LogError>> {
        let Some(no) = schema::stream_no(&self.conn, stream_id)? else {
            return Ok(Ok(StreamState { no: None, version: 0, last_hash: ZERO_HASH, commands: FastSet::default() }));
        };
        Ok(self.stream_events(no)?.map(|events| StreamState {
            no: Some(no),
            version: events.last().map_or(0, RecordedEvent::version),
            last_hash: events.last().map_or(ZERO_HASH, |e| e.hash),
            commands: events.iter().map(|e| command_hash(e.command_id())).collect(),
        }))
    }

    /// The events a command already wrote to a stream, if any.
    fn earlier_outcome(&self, no: i64, command_id: &str) -> rusqlite::Result<Result<Vec<RecordedEvent>, LogError>> {
        Ok(self.stream_events(no)?.map(|events| events.into_iter().filter(|e| e.command_id() == command_id).collect()))
    }
}
