//! The per-stream hash chain and its verification.
//!
//! Every stored event carries `prev_hash`, the SHA-256 of the exact stored bytes of the previous event of its stream
//! (32 zero bytes for a stream's first event), and the log stores each event's own hash beside it. [`verify_log`]
//! walks the global log and [`verify_stream`] one stream, and each names the first position where the stored bytes, the
//! stored hash, the chain, the version sequence or the position sequence disagree.
//!
//! What the chain cannot see on its own: the hashes use no secret, so whoever can write the store can rewrite any event
//! together with every later event of its stream and recompute all their hashes; likewise events cut from the end of
//! the log, or a stream's tail cut with its index rows, leave a consistent chain. Signed checkpoints of the whole log,
//! kept outside the operator's reach, close those gaps (see docs/audit-verification.md).

use std::collections::HashMap;
use std::fmt;

use crate::error::LogError;
use crate::event::RecordedEvent;
use crate::ids::StreamId;
use crate::log::{EventLog, READ_PAGE};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// The `prev_hash` of a stream's first event.
pub const ZERO_HASH: Hash = [0; 32];

/// SHA-256 of `bytes`.
pub fn hash_bytes(bytes: &[u8]) -> Hash {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = [0; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Where and why verification failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub position: u64,
    pub stream: String,
    pub reason: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "position {} (stream {}): {}", self.position, self.stream, self.reason)
    }
}

/// The result of a verification walk.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VerifyReport {
    /// Events checked before the walk ended (all of them when it succeeded).
    pub events: u64,
    /// Distinct streams seen.
    pub streams: u64,
    /// The last position checked.
    pub head: u64,
    /// The first bad position, if any.
    pub failure: Option<Failure>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.failure.is_none()
    }
}

#[derive(Debug, Clone)]
struct StreamTip {
    version: u64,
    hash: Hash,
}

/// Checks events one at a time, in log order. Feed it the global log (or one stream) from the start.
#[derive(Debug, Default)]
pub struct ChainChecker {
    tips: HashMap<String, StreamTip, foldhash::fast::RandomState>,
    last_position: u64,
    events: u64,
}

impl ChainChecker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks one event whose hash of its bytes was already computed as `computed`.
    /// `dense_positions` requires positions to follow each other without gap (true for the global log).
    pub fn check(&mut self, e: &RecordedEvent, computed: &Hash, dense_positions: bool) -> Result<(), Failure> {
        let env = &e.envelope;
        let fail = |reason: String| Failure { position: env.global_position, stream: env.stream_id.clone(), reason };
        if computed != &e.hash {
            return Err(fail(format!(
                "stored bytes hash to {} but the stored hash is {}",
                hex::encode(computed),
                hex::encode(e.hash)
            )));
        }
        if dense_positions && env.global_position > self.last_position + 1 {
            return Err(Failure {
                position: self.last_position + 1,
                stream: "?".into(),
                reason: format!("missing: the next stored event is at position {}", env.global_position),
            });
        }
        if dense_positions && env.global_position != self.last_position + 1 {
            return Err(fail(format!("position {} follows position {}", env.global_position, self.last_position)));
        }
        if !dense_positions && env.global_position <= self.last_position {
            return Err(fail(format!("position {} is not after {}", env.global_position, self.last_position)));
        }
        let tip = self.tips.get_mut(env.stream_id.as_str());
        let (expected_version, expected_prev) = match &tip {
            Some(tip) => (tip.version + 1, tip.hash),
            None => {
                if let Err(e) = StreamId::parse(env.stream_id.clone()) {
                    return Err(fail(format!("bad stream id: {e}")));
                }
                (1, crate::chain::ZERO_HASH)
            }
        };
        if env.stream_version != expected_version {
            return Err(fail(format!("stream version {} where {expected_version} was due", env.stream_version)));
        }
        if env.prev_hash.as_ref() != expected_prev {
            return Err(fail(format!(
                "prev_hash {} does not match the previous event's hash {}",
                hex::encode(&env.prev_hash),
                hex::encode(expected_prev)
            )));
        }
        let new_tip = StreamTip { version: env.stream_version, hash: *computed };
        match tip {
            Some(tip) => *tip = new_tip,
            None => {
                self.tips.insert(env.stream_id.clone(), new_tip);
            }
        }
        self.last_position = env.global_position;
        self.events += 1;
        Ok(())
    }

    fn report(&self, failure: Option<Failure>) -> VerifyReport {
        VerifyReport { events: self.events, streams: self.tips.len() as u64, head: self.last_position, failure }
    }
}

fn hash_page(page: &[RecordedEvent]) -> Vec<Hash> {
    let messages: Vec<&[u8]> = page.iter().map(|e| e.bytes.as_ref()).collect();
    crate::sha256x::hash_many(&messages)
}

/// Reads up to `max` events from `from`; if one does not decode, returns the good events before it and the failure.
async fn read_page<L: EventLog + ?Sized>(
    log: &L,
    from: u64,
    max: usize,
) -> Result<(Vec<RecordedEvent>, Option<Failure>), LogError> {
    match log.read_all(from, max).await {
        Ok(page) => Ok((page, None)),
        Err(LogError::Corrupt { position, stream, reason }) => {
            // Re-read what lies before it one event at a time: a gap or an earlier bad record may sit in between.
            let mut failure = Failure { position, stream, reason };
            let mut before = Vec::new();
            let mut next = from;
            while next < failure.position {
                match log.read_all(next, 1).await {
                    Ok(mut one) => match one.pop() {
                        Some(e) if e.position() < failure.position => {
                            next = e.position() + 1;
                            before.push(e);
                        }
                        _ => break,
                    },
                    Err(LogError::Corrupt { position, stream, reason }) => {
                        failure = Failure { position, stream, reason };
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok((before, Some(failure)))
        }
        Err(e) => Err(e),
    }
}

/// A page of events with the hashes of their stored bytes, and the decoding failure that ended it early, if any.
type HashedPage = (Vec<RecordedEvent>, Vec<Hash>, Option<Failure>);

async fn read_and_hash<L: EventLog + ?Sized>(
    log: &L,
    from: u64,
    max: usize,
    recompute: bool,
) -> Result<HashedPage, LogError> {
    let (events, failure) = read_page(log, from, max).await?;
    if !recompute {
        let stored = events.iter().map(|e| e.hash).collect();
        return Ok((events, stored, failure));
    }
    let (events, hashes) = tokio::task::spawn_blocking(move || {
        let hashes = hash_page(&events);
        (events, hashes)
    })
    .await
    .map_err(|e| LogError::Unavailable(format!("hashing task failed: {e}")))?;
    Ok((events, hashes, failure))
}

/// Walks the global log up to its head (as it was when the walk began) and checks every event's hash, chain link,
/// version and position: the full check behind `ttx log verify`.
///
/// Pages are read, decoded and hashed a few at a time on blocking threads, so every core works; the checks, which
/// need log order, run here in order.
pub async fn verify_log<L: EventLog + ?Sized>(log: &L) -> Result<VerifyReport, LogError> {
    walk(log, true).await
}

/// Reads and decodes the whole log and checks positions, versions and chain links against the stored hashes,
/// without recomputing them: the consistency check a replay (a projection rebuilt from scratch) can afford. It
/// finds events missing, reordered or relinked, but not bytes changed in place with their stored hash; that takes
/// [`verify_log`].
pub async fn check_links<L: EventLog + ?Sized>(log: &L) -> Result<VerifyReport, LogError> {
    walk(log, false).await
}

async fn walk<L: EventLog + ?Sized>(log: &L, recompute: bool) -> Result<VerifyReport, LogError> {
    use futures::StreamExt;

    let head = log.head().await?;
    let page = READ_PAGE as u64;
    let starts = (0..).map(|k| 1 + k * page).take_while(|from| *from <= head);
    let mut pages = futures::stream::iter(starts.map(|from| {
        let max = usize::try_from((head - from + 1).min(page)).unwrap_or(READ_PAGE);
        read_and_hash(log, from, max, recompute)
    }))
    .buffered(8);
    let mut checker = ChainChecker::new();
    while let Some(result) = pages.next().await {
        let (events, hashes, failure) = result?;
        if hashes.len() != events.len() {
            return Err(LogError::Unavailable("hashing returned a wrong number of digests".into()));
        }
        for (e, h) in events.iter().zip(&hashes) {
            if let Err(f) = checker.check(e, h, true) {
                return Ok(checker.report(Some(f)));
            }
        }
        if failure.is_some() {
            return Ok(checker.report(failure));
        }
    }
    if checker.last_position < head {
        let f = Failure {
            position: checker.last_position + 1,
            stream: "?".into(),
            reason: format!("the log's head is {head} but position {} is missing", checker.last_position + 1),
        };
        return Ok(checker.report(Some(f)));
    }
    Ok(checker.report(None))
}

/// Walks one stream and checks its hashes, chain links and versions.
pub async fn verify_stream<L: EventLog + ?Sized>(log: &L, stream: &StreamId) -> Result<VerifyReport, LogError> {
    let mut checker = ChainChecker::new();
    let mut next = 1;
    // After a record that does not decode, the rest is read one event at a time, so the events before it are
    // checked first and the failure named is the first one.
    let mut page_size = READ_PAGE;
    loop {
        let page = match log.read_stream(stream, next, page_size).await {
            Ok(p) => p,
            Err(LogError::Corrupt { .. }) if page_size > 1 => {
                page_size = 1;
                continue;
            }
            Err(LogError::Corrupt { position, stream, reason }) => {
                return Ok(checker.report(Some(Failure { position, stream, reason })));
            }
            Err(e) => return Err(e),
        };
        let full = page.len() == page_size;
        for e in &page {
            if e.stream_id() != stream.as_str() {
                let f = Failure {
                    position: e.position(),
                    stream: stream.to_string(),
                    reason: format!("event of stream {} returned for this stream", e.stream_id()),
                };
                return Ok(checker.report(Some(f)));
            }
            if let Err(f) = checker.check(e, &hash_bytes(&e.bytes), false) {
                return Ok(checker.report(Some(f)));
            }
            next = e.version() + 1;
        }
        if !full {
            return Ok(checker.report(None));
        }
    }
}
