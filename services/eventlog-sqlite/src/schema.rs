//! Tables, pragmas and the queries shared by the writer and the readers.
//!
//! - `events(position, stream_no, version)`: one narrow row per event, in log order.
//! - `records(position, record, hash)`: the exact stored bytes of each event and their SHA-256.
//! - `streams(stream_no, stream_id)`: stream ids, interned.
//! - `stream_index(stream_no, version, position)`: the stream index, filled in bulk for every position up to
//!   `meta.indexed_upto`; events after it (the tail, at most a few thousand) are found by scanning `events`.
//! - `checkpoints(name, position, updated_at)`.

use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, params};
use ttx_kernel::chain::Failure;
use ttx_kernel::ttx_proto::envelope::v1::Envelope;
use ttx_kernel::ttx_proto::prost::Message;
use ttx_kernel::{Hash, LogError, RecordedEvent};

/// The on-disk format version this code reads and writes.
pub const SCHEMA_VERSION: i64 = 1;

pub const CREATE: &str = "
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS streams(stream_no INTEGER PRIMARY KEY, stream_id TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS events(
    position INTEGER PRIMARY KEY,
    stream_no INTEGER NOT NULL,
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS records(position INTEGER PRIMARY KEY, record BLOB NOT NULL, hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS stream_index(
    stream_no INTEGER NOT NULL,
    version INTEGER NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY(stream_no, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints(
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO meta(key, value) VALUES ('indexed_upto', 0);
";

pub fn sql_err(e: rusqlite::Error) -> LogError {
    LogError::Unavailable(format!("sqlite: {e}"))
}

pub fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub fn indexed_upto(conn: &Connection) -> rusqlite::Result<u64> {
    conn.prepare_cached("SELECT value FROM meta WHERE key = 'indexed_upto'")?
        .query_row([], |r| r.get::<_, i64>(0))
        .map(to_u64)
}

pub fn last_position(conn: &Connection) -> rusqlite::Result<u64> {
    conn.prepare_cached("SELECT COALESCE(MAX(position), 0) FROM events")?
        .query_row([], |r| r.get::<_, i64>(0))
        .map(to_u64)
}

pub fn stream_no(conn: &Connection, stream_id: &str) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT stream_no FROM streams WHERE stream_id = ?1")?
        .query_row([stream_id], |r| r.get(0))
        .optional()
}

/// A stored row, not yet decoded. `hash` is `None` when the stored hash is not 32 bytes.
pub struct Row {
    pub position: u64,
    pub record: Vec<u8>,
    pub hash: Option<Hash>,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    let hash = r.get_ref(2)?.as_blob()?.try_into().ok();
    Ok(Row { position: to_u64(r.get(0)?), record: r.get(1)?, hash })
}

/// Up to `max` rows of one stream from `from_version` on: first from the bulk index, then from the tail.
/// Run it inside one transaction so both parts see the same snapshot.
pub fn stream_rows(conn: &Connection, stream_no: i64, from_version: u64, max: usize) -> rusqlite::Result<Vec<Row>> {
    let max = i64::try_from(max).unwrap_or(i64::MAX);
    let upto = indexed_upto(conn)?;
    let mut rows: Vec<Row> = conn
        .prepare_cached(
            "SELECT i.position, r.record, r.hash FROM stream_index i JOIN records r ON r.position = i.position
             WHERE i.stream_no = ?1 AND i.version >= ?2 ORDER BY i.version LIMIT ?3",
        )?
        .query_map(params![stream_no, to_i64(from_version), max], row)?
        .collect::<rusqlite::Result<_>>()?;
    let rest = max - i64::try_from(rows.len()).unwrap_or(max);
    if rest > 0 {
        let mut stmt = conn.prepare_cached(
            "SELECT e.position, r.record, r.hash FROM events e JOIN records r ON r.position = e.position
             WHERE e.position > ?1 AND e.stream_no = ?2 AND e.version >= ?3 ORDER BY e.position LIMIT ?4",
        )?;
        let tail = stmt.query_map(params![to_i64(upto), stream_no, to_i64(from_version), rest], row)?;
        for r in tail {
            rows.push(r?);
        }
    }
    Ok(rows)
}

/// Up to `max` rows of the global log from `from_position` on.
pub fn all_rows(conn: &Connection, from_position: u64, max: usize) -> rusqlite::Result<Vec<Row>> {
    let mut rows = Vec::with_capacity(max.min(4096));
    let max = i64::try_from(max).unwrap_or(i64::MAX);
    let mut stmt = conn
        .prepare_cached("SELECT position, record, hash FROM records WHERE position >= ?1 ORDER BY position LIMIT ?2")?;
    for r in stmt.query_map(params![to_i64(from_position), max], row)? {
        rows.push(r?);
    }
    Ok(rows)
}

/// The stream id of the event at `position`, for error messages.
pub fn stream_of(conn: &Connection, position: u64) -> String {
    conn.prepare_cached(
        "SELECT s.stream_id FROM events e JOIN streams s ON s.stream_no = e.stream_no WHERE e.position = ?1",
    )
    .and_then(|mut s| s.query_row([to_i64(position)], |r| r.get(0)).optional())
    .ok()
    .flatten()
    .unwrap_or_else(|| "?".into())
}

/// Decodes stored rows; the first that does not decode is reported as `Corrupt` at its position.
pub fn decode_rows(conn: &Connection, rows: Vec<Row>) -> Result<Vec<RecordedEvent>, LogError> {
    let mut events = Vec::with_capacity(rows.len());
    for event in rows.into_iter().map(|r| {
        let corrupt =
            |reason: String| LogError::Corrupt { position: r.position, stream: stream_of(conn, r.position), reason };
        let hash = r.hash.ok_or_else(|| corrupt("the stored hash is not 32 bytes".into()))?;
        RecordedEvent::decode(Bytes::from(r.record), hash)
            .map_err(|e| corrupt(format!("stored bytes do not decode as an envelope: {e}")))
    }) {
        events.push(event?);
    }
    Ok(events)
}

/// See `SqliteLog::verify_index`. Run inside one read transaction.
pub fn verify_index(conn: &Connection) -> rusqlite::Result<Option<Failure>> {
    let fail = |position: u64, stream: String, reason: String| Ok(Some(Failure { position, stream, reason }));
    // Every record has an event row.
    let orphan: Option<i64> = conn
        .query_row(
            "SELECT r.position FROM records r LEFT JOIN events e ON e.position = r.position
             WHERE e.position IS NULL ORDER BY r.position LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    // Walk the event rows in order: dense, each with its record and a known stream, agreeing with the record.
    let streams: std::collections::HashMap<i64, String> = conn
        .prepare("SELECT stream_no, stream_id FROM streams")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut stmt = conn.prepare(
        "SELECT e.position, e.version, e.stream_no, r.record FROM events e
         LEFT JOIN records r ON r.position = e.position ORDER BY e.position",
    )?;
    let mut rows = stmt.query([])?;
    let mut expected = 1u64;
    while let Some(row) = rows.next()? {
        let position = to_u64(row.get(0)?);
        let version = to_u64(row.get(1)?);
        let stream: Option<String> = streams.get(&row.get::<_, i64>(2)?).cloned();
        if let Some(o) = orphan.map(to_u64).filter(|o| *o < position.min(expected)) {
            return fail(o, "?".into(), "a record without an event row".into());
        }
        if position != expected {
            return fail(expected, "?".into(), format!("no event row; the next one is at position {position}"));
        }
        let Some(stream) = stream else {
            return fail(position, "?".into(), "the event row names an unknown stream".into());
        };
        let Some(record) = row.get_ref(3)?.as_blob_or_null()? else {
            return fail(position, stream, "the event row has no record".into());
        };
        match Envelope::decode(record) {
            Err(e) => return fail(position, stream, format!("the record does not decode: {e}")),
            Ok(env) if env.stream_id != stream || env.stream_version != version || env.global_position != position => {
                return fail(
                    position,
                    stream.clone(),
                    format!(
                        "the event row says {stream} version {version}, the record says {} version {} at position {}",
                        env.stream_id, env.stream_version, env.global_position
                    ),
                );
            }
            Ok(_) => {}
        }
        expected += 1;
    }
    if let Some(o) = orphan {
        return fail(to_u64(o), "?".into(), "a record without an event row".into());
    }
    // The stream index: every row matches its event, and every event up to `indexed_upto` has its row.
    let upto = indexed_upto(conn)?;
    let wrong: Option<(i64, i64, i64)> = conn
        .query_row(
            "SELECT i.position, i.stream_no, i.version FROM stream_index i LEFT JOIN events e ON e.position = i.position
             WHERE e.position IS NULL OR e.stream_no != i.stream_no OR e.version != i.version
             ORDER BY i.position LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    if let Some((position, _, version)) = wrong {
        let reason = format!("the stream index puts version {version} at this position, which holds another event");
        return fail(to_u64(position), stream_of(conn, to_u64(position)), reason);
    }
    // Index rows are unique by (stream, version) and each matches an event, so equal counts mean every event up to
    // `indexed_upto` has its row; only otherwise is the first missing one looked for.
    let (rows_in_index, last_indexed): (i64, Option<i64>) =
        conn.query_row("SELECT COUNT(*), MAX(position) FROM stream_index", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if let Some(last) = last_indexed.map(to_u64).filter(|last| *last > upto) {
        let reason = format!("the stream index reaches past indexed_upto ({upto})");
        return fail(last, stream_of(conn, last), reason);
    }
    if to_u64(rows_in_index) == upto {
        return Ok(None);
    }
    let unindexed: Option<i64> = conn
        .query_row(
            "SELECT e.position FROM events e LEFT JOIN stream_index i ON i.stream_no = e.stream_no AND i.version = e.version
             WHERE e.position <= ?1 AND i.position IS NULL ORDER BY e.position LIMIT 1",
            [to_i64(upto)],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(position) = unindexed {
        let reason = format!("missing from the stream index, which claims every position up to {upto}");
        return fail(to_u64(position), stream_of(conn, to_u64(position)), reason);
    }
    fail(upto, "?".into(), format!("the stream index holds {rows_in_index} rows for {upto} indexed events"))
}
