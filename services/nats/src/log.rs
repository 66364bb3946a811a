//! The event log on NATS JetStream.
//!
//! - One stream, `TTX_EVENTS`, over `ttx.evt.>`; each event stream is one subject `ttx.evt.<context>.<aggregate>.<id>`,
//!   so the stream sequence is the global position.
//! - Optimistic concurrency: every append carries `Nats-Expected-Last-Subject-Sequence`, the sequence of the stream's
//!   last event as read just before (0 for a new stream), so the server refuses a write that lost a race.
//! - A command's events are published as one atomic batch (server 2.12): all stored, contiguous, or none.
//! - Idempotency: `Nats-Msg-Id` is `<stream id>:<command id>:<index>`, so the server drops a retry within its
//!   duplicate window; after a conflict or a duplicate the stream is searched for the command id, so a retried command
//!   gets its original events back.
//! - The stored bytes are the encoded envelope with `global_position` 0 (the sequence is assigned by the server); reads
//!   fill the position in from the sequence. Each message carries `Ttx-Hash`, the SHA-256 of its bytes.
//! - Reads use batched direct gets (server 2.11); while anyone watches the head, it is followed with an ordered
//!   consumer; checkpoints live in the key-value bucket `TTX_CHECKPOINTS`.

use std::sync::Arc;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, kv};
use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::{Notify, watch};
use ttx_kernel::event::Placement;
use ttx_kernel::log::{MAX_EVENTS_PER_APPEND, validate_checkpoint_name, validate_group, validate_read_start};
use ttx_kernel::sha256x::hash_many;
use ttx_kernel::{
    AppendOutcome, AppendRequest, EventLog, Hash, InvalidInput, LogError, RecordedEvent, StreamId, Timestamp,
};

use crate::version::{self, NatsError};

/// Header holding the hex SHA-256 of the message's bytes.
pub const HASH_HEADER: &str = "Ttx-Hash";
const MAX_BATCH_GET: usize = 1000;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Shorter than the append deadline, so a lost acknowledgement leaves time to retry (safely: see the module notes).
const ACK_TIMEOUT: Duration = Duration::from_secs(3);
/// How often the head follower checks whether anyone still watches.
const FOLLOW_CHECK: Duration = Duration::from_millis(500);

/// Where and how the log keeps its events.
#[derive(Debug, Clone)]
pub struct JetStreamOptions {
    pub stream: String,
    pub checkpoints_bucket: String,
    /// Replicas of the stream and the checkpoint bucket (1, or 3 on a cluster).
    pub replicas: usize,
}

impl Default for JetStreamOptions {
    fn default() -> Self {
        Self { stream: "TTX_EVENTS".into(), checkpoints_bucket: "TTX_CHECKPOINTS".into(), replicas: 1 }
    }
}

/// The last event of a stream as this process knows it.
#[derive(Debug, Clone, Default)]
struct Tip {
    sequence: u64,
    version: u64,
    hash: Hash,
    command_id: String,
}

/// Streams whose tip is remembered; past this the memory is emptied.
const MAX_TIPS: usize = 100_000;

struct Inner {
    tips: std::sync::Mutex<std::collections::HashMap<String, Tip>>,
    client: async_nats::Client,
    js: jetstream::Context,
    stream: String,
    stream_handle: jetstream::stream::Stream,
    checkpoints: kv::Store,
    checkpoints_bucket: String,
    checkpoints_stream: jetstream::stream::Stream,
    head: watch::Receiver<u64>,
    head_tx: Arc<watch::Sender<u64>>,
    /// Wakes the head follower when a watcher arrives.
    follow: Arc<Notify>,
    follower: tokio::task::JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.follower.abort();
    }
}

/// The JetStream event log. Cheap to clone.
#[derive(Clone)]
pub struct JetStreamLog {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for JetStreamLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamLog").field("stream", &self.inner.stream).finish_non_exhaustive()
    }
}

fn unavailable(e: impl std::fmt::Display) -> LogError {
    LogError::Unavailable(format!("jetstream: {e}"))
}

/// `listings-result-7` → `ttx.evt.listings.result.7`.
pub fn subject_of(stream: &StreamId) -> String {
    format!("ttx.evt.{}.{}.{}", stream.context(), stream.aggregate(), stream.id())
}

/// A message read back: its sequence and bytes, and the hash stored with it.
struct Stored {
    sequence: u64,
    subject: String,
    payload: Bytes,
    hash: Option<Hash>,
}

fn parse_hash(headers: Option<&HeaderMap>) -> Option<Hash> {
    let hex = headers?.get(HASH_HEADER)?.as_str().to_owned();
    let bytes = hex::decode(hex).ok()?;
    bytes.try_into().ok()
}

fn decode(stored: Stored) -> Result<RecordedEvent, LogError> {
    let corrupt = |reason: String| LogError::Corrupt {
        position: stored.sequence,
        stream: stored.subject.strip_prefix("ttx.evt.").unwrap_or(&stored.subject).replacen('.', "-", 2),
        reason,
    };
    let hash = stored.hash.ok_or_else(|| corrupt(format!("no valid {HASH_HEADER} header")))?;
    let mut event = RecordedEvent::decode(stored.payload.clone(), hash)
        .map_err(|e| corrupt(format!("stored bytes do not decode as an envelope: {e}")))?;
    if event.envelope.global_position != 0 {
        return Err(corrupt("a stored envelope must not carry a position".into()));
    }
    event.envelope.global_position = stored.sequence;
    Ok(event)
}

impl JetStreamLog {
    /// Connects, refuses servers older than 2.12, and creates the stream and the checkpoint bucket if needed.
    pub async fn connect(url: &str, options: JetStreamOptions) -> Result<Self, NatsError> {
        let fail = |reason: String| NatsError::Connect { url: url.to_owned(), reason };
        let client = async_nats::ConnectOptions::new()
            .name("ttx-log")
            .connect(crate::server_list(url))
            .await
            .map_err(|e| fail(e.to_string()))?;
        let found = client.server_info().version;
        if !version::is_supported(&found) {
            return Err(NatsError::TooOld { url: url.to_owned(), found });
        }
        let js = jetstream::new(client.clone());
        let config = jetstream::stream::Config {
            name: options.stream.clone(),
            subjects: vec!["ttx.evt.>".into()],
            storage: jetstream::stream::StorageType::File,
            num_replicas: options.replicas,
            allow_direct: true,
            allow_atomic_publish: true,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        };
        let kv_config = kv::Config {
            bucket: options.checkpoints_bucket.clone(),
            history: 1,
            num_replicas: options.replicas,
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        };
        // A cluster that has just started may still be electing leaders: retry for a while before giving up.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let (stream, checkpoints) = loop {
            let attempt = async {
                let stream = js
                    .get_or_create_stream(config.clone())
                    .await
                    .map_err(|e| format!("cannot create stream {}: {e}", options.stream))?;
                let checkpoints = match js.get_key_value(&options.checkpoints_bucket).await {
                    Ok(kv) => kv,
                    Err(_) => js
                        .create_key_value(kv_config.clone())
                        .await
                        .map_err(|e| format!("cannot create bucket {}: {e}", options.checkpoints_bucket))?,
                };
                Ok::<_, String>((stream, checkpoints))
            };
            match attempt.await {
                Ok(done) => break done,
                Err(reason) if tokio::time::Instant::now() >= deadline => return Err(fail(reason)),
                Err(reason) => {
                    tracing::info!(%reason, "JetStream not ready yet; retrying");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        };
        let mut stream = stream;
        let info = stream.info().await.map_err(|e| fail(e.to_string()))?;
        if !info.config.allow_atomic_publish || !info.config.allow_direct {
            return Err(fail(format!(
                "stream {} exists without allow_atomic and allow_direct; update its configuration",
                options.stream
            )));
        }
        let head_now = info.state.last_sequence;
        let checkpoints_stream = js
            .get_stream(format!("KV_{}", options.checkpoints_bucket))
            .await
            .map_err(|e| fail(format!("cannot open bucket {}: {e}", options.checkpoints_bucket)))?;
        let (tx, rx) = watch::channel(head_now);
        let tx = Arc::new(tx);
        let follow = Arc::new(Notify::new());
        let follower = tokio::spawn(follow_head(stream.clone(), tx.clone(), follow.clone()));
        Ok(Self {
            inner: Arc::new(Inner {
                tips: std::sync::Mutex::default(),
                client,
                js,
                stream: options.stream,
                stream_handle: stream,
                checkpoints,
                checkpoints_bucket: options.checkpoints_bucket.clone(),
                checkpoints_stream,
                head: rx,
                head_tx: tx,
                follow,
                follower,
            }),
        })
    }

    /// Up to `max` stored messages from `from` on, optionally of one subject only (a batched direct get), and the
    /// last sequence of the stream as the answering server knew it (0 when it did not say).
    async fn batch_get(&self, from: u64, max: usize, subject: Option<&str>) -> Result<(Vec<Stored>, u64), LogError> {
        let mut out = Vec::new();
        let mut responder_last = 0;
        let mut next = from;
        while out.len() < max {
            let want = (max - out.len()).min(MAX_BATCH_GET);
            // `next_by_subj` makes the server skip deleted sequences instead of answering 404 for them.
            let request =
                serde_json::json!({ "seq": next, "batch": want, "next_by_subj": subject.unwrap_or("ttx.evt.>") });
            let inbox = self.inner.client.new_inbox();
            let mut replies = self.inner.client.subscribe(inbox.clone()).await.map_err(unavailable)?;
            let api = format!("$JS.API.DIRECT.GET.{}", self.inner.stream);
            self.inner.client.publish_with_reply(api, inbox, request.to_string().into()).await.map_err(unavailable)?;
            let mut got = 0;
            let mut pending = 0;
            loop {
                let message = tokio::time::timeout(REQUEST_TIMEOUT, replies.next())
                    .await
                    .map_err(|_| unavailable("a direct get timed out"))?
                    .ok_or_else(|| unavailable("the connection closed during a direct get"))?;
                match message.status.map(u16::from) {
                    Some(404) => break,
                    Some(204) => {
                        let header = |name: &str| {
                            message
                                .headers
                                .as_ref()
                                .and_then(|h| h.get(name))
                                .and_then(|v| v.as_str().parse::<u64>().ok())
                        };
                        pending = header("Nats-Num-Pending").unwrap_or(0);
                        responder_last = header("Nats-Last-Sequence").unwrap_or(0);
                        break;
                    }
                    Some(code) => {
                        return Err(unavailable(format!("direct get answered {code}: {:?}", message.description)));
                    }
                    None => {}
                }
                let headers = message.headers.as_ref();
                let sequence = headers
                    .and_then(|h| h.get("Nats-Sequence"))
                    .and_then(|v| v.as_str().parse::<u64>().ok())
                    .ok_or_else(|| unavailable("a direct get reply without Nats-Sequence"))?;
                let subject =
                    headers.and_then(|h| h.get("Nats-Subject")).map(|v| v.as_str().to_owned()).unwrap_or_default();
                out.push(Stored { sequence, subject, hash: parse_hash(headers), payload: message.payload });
                next = sequence.saturating_add(1);
                got += 1;
            }
            if got == 0 || pending == 0 {
                break;
            }
        }
        Ok((out, responder_last))
    }

    /// The last stored event of a stream, asked of the stream leader, so a write just acknowledged is always seen.
    async fn last_of(&self, subject: &str) -> Result<Option<RecordedEvent>, LogError> {
        use jetstream::stream::LastRawMessageErrorKind;
        let message = match self.inner.stream_handle.get_last_raw_message_by_subject(subject).await {
            Ok(message) => message,
            Err(e) if matches!(e.kind(), LastRawMessageErrorKind::NoMessageFound) => return Ok(None),
            Err(e) => return Err(unavailable(e)),
        };
        let hash = parse_hash(Some(&message.headers));
        decode(Stored { sequence: message.sequence, subject: subject.to_owned(), payload: message.payload, hash })
            .map(Some)
    }

    /// Whether the stream leader holds an event at a sequence in `from..=head`.
    async fn leader_has_from(&self, from: u64, head: u64) -> Result<bool, LogError> {
        use jetstream::stream::LastRawMessageErrorKind;
        let found =
            self.inner.stream_handle.raw_message_builder().sequence(from).next_by_subject("ttx.evt.>").send().await;
        match found {
            Ok(message) => Ok(message.sequence <= head),
            Err(e) if matches!(e.kind(), LastRawMessageErrorKind::NoMessageFound) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    /// Repeats `read` until `done` accepts its result: direct gets may be answered by a replica that has not applied
    /// the latest writes yet, and a reader must see what was acknowledged before it asked.
    async fn caught_up<T, F, Fut>(&self, done: impl Fn(&T) -> bool, read: F) -> Result<T, LogError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, LogError>>,
    {
        let deadline = tokio::time::Instant::now() + REQUEST_TIMEOUT;
        loop {
            let items = read().await?;
            if done(&items) {
                return Ok(items);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(unavailable("a replica stayed behind the stream leader"));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Every event of a stream, in order.
    async fn whole_stream(&self, subject: &str) -> Result<Vec<RecordedEvent>, LogError> {
        let target = self.last_of(subject).await?.map_or(0, |e| e.version());
        let done = |events: &Vec<RecordedEvent>| events.last().map_or(target == 0, |e| e.version() >= target);
        self.caught_up(done, || self.read_stream_once(subject, 1, usize::MAX)).await
    }

    /// The events an earlier attempt of this command stored in the stream, if any.
    async fn earlier(&self, subject: &str, command_id: &str) -> Result<Vec<RecordedEvent>, LogError> {
        Ok(self.whole_stream(subject).await?.into_iter().filter(|e| e.command_id() == command_id).collect())
    }

    /// Publishes a command's events; `Ok(None)` means the expectation failed (someone else wrote first).
    /// Publishes `messages` (bytes, hash, message id) as one atomic batch if the subject's last sequence is
    /// `expected_last_sequence`. `None`: the sequence was wrong; otherwise the first sequence and whether the server
    /// took it for a duplicate.
    async fn publish(
        &self,
        subject: &str,
        messages: &[(Bytes, Hash, String)],
        expected_last_sequence: u64,
    ) -> Result<Option<(u64, bool)>, LogError> {
        let n = messages.len();
        let batch_id = uuid::Uuid::new_v4().simple().to_string();
        for (i, (bytes, hash, id)) in messages.iter().enumerate() {
            let mut headers = HeaderMap::new();
            headers.insert(HASH_HEADER, hex::encode(hash).as_str());
            headers.insert("Nats-Msg-Id", id.as_str());
            if i == 0 {
                headers.insert("Nats-Expected-Last-Subject-Sequence", expected_last_sequence.to_string().as_str());
            }
            if n > 1 {
                headers.insert("Nats-Batch-Id", batch_id.as_str());
                headers.insert("Nats-Batch-Sequence", (i + 1).to_string().as_str());
            }
            if i + 1 < n {
                self.inner
                    .client
                    .publish_with_headers(subject.to_owned(), headers, bytes.clone())
                    .await
                    .map_err(unavailable)?;
                continue;
            }
            if n > 1 {
                headers.insert("Nats-Batch-Commit", "1");
            }
            let reply = tokio::time::timeout(
                ACK_TIMEOUT,
                self.inner.client.request_with_headers(subject.to_owned(), headers, bytes.clone()),
            )
            .await
            .map_err(|_| unavailable("no acknowledgement from the server"))?
            .map_err(unavailable)?;
            let ack: serde_json::Value = serde_json::from_slice(&reply.payload)
                .map_err(|e| unavailable(format!("unreadable acknowledgement: {e}")))?;
            if let Some(error) = ack.get("error") {
                let code = error["err_code"].as_u64().unwrap_or(0);
                let description = error["description"].as_str().unwrap_or_default().to_owned();
                // 10071: wrong last sequence (10164 on some replicated paths).
                if code == 10071 || code == 10164 || description.contains("wrong last sequence") {
                    return Ok(None);
                }
                if description.contains("duplicate") {
                    return Ok(Some((0, true)));
                }
                return Err(unavailable(format!("append refused: {description} ({code})")));
            }
            let last = ack["seq"].as_u64().ok_or_else(|| unavailable("an acknowledgement without a sequence"))?;
            let duplicate = ack["duplicate"].as_bool().unwrap_or(false);
            if n > 1 && !duplicate && ack["count"].as_u64() != Some(n as u64) {
                return Err(unavailable(format!("a batch of {n} was acknowledged as {}", ack["count"])));
            }
            let first = (last + 1).checked_sub(n as u64).filter(|f| *f > 0);
            let first = first.ok_or_else(|| unavailable(format!("acknowledged at an impossible sequence {last}")))?;
            return Ok(Some((first, duplicate)));
        }
        Err(LogError::Invalid(InvalidInput::NoEvents))
    }
}

/// Raises `head` to `sequence` when that is newer (watchers wake only on a change).
fn advance(head: &watch::Sender<u64>, sequence: u64) {
    head.send_if_modified(|h| {
        let newer = sequence > *h;
        if newer {
            *h = sequence;
        }
        newer
    });
}

/// Follows the stream's last sequence with an ordered, headers-only consumer and publishes it on `head`, but only
/// while someone watches (`head` has receivers besides the log's own): the consumer costs the server one delivery per
/// event, which appenders that never watch should not pay for. `wanted` wakes it when a watcher arrives.
async fn follow_head(mut stream: jetstream::stream::Stream, head: Arc<watch::Sender<u64>>, wanted: Arc<Notify>) {
    use jetstream::consumer::DeliverPolicy;
    use jetstream::consumer::pull::OrderedConfig;
    let watched = || head.receiver_count() > 1;
    loop {
        while !watched() {
            let _ = tokio::time::timeout(FOLLOW_CHECK, wanted.notified()).await;
        }
        // Start from the leader's head, so nothing before it is delivered and nothing after it is missed.
        let start = match stream.info().await {
            Ok(info) => {
                advance(&head, info.state.last_sequence);
                info.state.last_sequence + 1
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the log's head; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let config = OrderedConfig {
            filter_subject: "ttx.evt.>".into(),
            deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: start },
            headers_only: true,
            ..Default::default()
        };
        let consumer = match stream.create_consumer(config).await {
            Ok(consumer) => consumer,
            Err(e) => {
                tracing::warn!(error = %e, "cannot follow the log's head; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let name = consumer.cached_info().name.clone();
        let mut messages = match consumer.messages().await {
            Ok(messages) => messages,
            Err(e) => {
                tracing::warn!(error = %e, "cannot follow the log's head; retrying");
                let _ = stream.delete_consumer(&name).await;
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        while watched() {
            match tokio::time::timeout(FOLLOW_CHECK, messages.next()).await {
                Ok(Some(Ok(message))) => {
                    if let Ok(info) = message.info() {
                        advance(&head, info.stream_sequence);
                    }
                }
                Ok(Some(Err(_)) | None) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    break;
                }
                Err(_) => {} // quiet: check for watchers again
            }
        }
        // The server would drop the idle consumer after 30 s; delete it now. (Should the ordered consumer have been
        // recreated under another name meanwhile, that one expires by itself.)
        drop(messages);
        if let Err(e) = stream.delete_consumer(&name).await {
            tracing::debug!(error = %e, consumer = %name, "could not delete the head follower's consumer");
        }
    }
}

/// The key of a command's messages' ids. Stream ids and command ids may both contain ':'; a digest of the pair cannot
/// collide.
fn command_key(req: &AppendRequest) -> String {
    let mut pair = req.stream.as_str().as_bytes().to_vec();
    pair.push(0);
    pair.extend_from_slice(req.command_id.as_str().as_bytes());
    hex::encode(ttx_kernel::hash_bytes(&pair))
}

/// One command's events as stored after a stream's event at `version` whose hash is `prev`: encoded, placed and
/// chained (global positions are set once the server has acknowledged them).
fn seal(req: &AppendRequest, version: u64, prev: Hash, now: Timestamp) -> Vec<RecordedEvent> {
    let mut prev_hash = prev;
    let mut sealed = Vec::with_capacity(req.events.len());
    for (i, event) in req.events.iter().enumerate() {
        let (envelope, bytes) = RecordedEvent::encode_at(
            event,
            Placement {
                stream: &req.stream,
                stream_version: version + 1 + i as u64,
                global_position: 0,
                command_id: &req.command_id,
                command_index: u32::try_from(i).unwrap_or(u32::MAX),
                recorded_at: now,
                prev_hash: &prev_hash,
            },
        );
        prev_hash = hash_many(&[bytes.as_ref()])[0];
        sealed.push(RecordedEvent { envelope, bytes, hash: prev_hash });
    }
    sealed
}

/// A command's sealed events as messages: bytes, hash and a message id the server deduplicates on.
fn messages_of(req: &AppendRequest, sealed: &[RecordedEvent]) -> Vec<(Bytes, Hash, String)> {
    let key = command_key(req);
    sealed.iter().enumerate().map(|(i, e)| (e.bytes.clone(), e.hash, format!("{key}:{i}"))).collect()
}

/// Most appends one group takes; all of a group's events go in one atomic batch, which the server caps at 1,000
/// messages.
pub const MAX_GROUP: usize = 256;

#[async_trait]
impl EventLog for JetStreamLog {
    fn max_group(&self) -> usize {
        MAX_GROUP
    }

    async fn append_group(&self, requests: Vec<AppendRequest>) -> Result<Vec<AppendOutcome>, LogError> {
        validate_group(&requests, MAX_GROUP)?;
        let count: usize = requests.iter().map(|r| r.events.len()).sum();
        if count > MAX_EVENTS_PER_APPEND {
            return Err(InvalidInput::TooManyEvents { count, max: MAX_EVENTS_PER_APPEND }.into());
        }
        let deadline = tokio::time::Instant::now() + REQUEST_TIMEOUT;
        loop {
            match self.append_group_once(&requests).await {
                Err(LogError::Unavailable(reason)) if tokio::time::Instant::now() < deadline => {
                    tracing::debug!(%reason, "group append unavailable; retrying");
                    if let Some(first) = requests.first() {
                        self.forget(&subject_of(&first.stream));
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                other => return other,
            }
        }
    }

    async fn append(&self, req: AppendRequest) -> Result<AppendOutcome, LogError> {
        req.validate()?;
        // A stream without a leader (just created, or during an election) answers "no responders" or times out; the
        // attempt is repeated for a while. Repeating is safe: the command id makes a second landing impossible.
        let deadline = tokio::time::Instant::now() + REQUEST_TIMEOUT;
        loop {
            match self.append_once(&req).await {
                Err(LogError::Unavailable(reason)) if tokio::time::Instant::now() < deadline => {
                    tracing::debug!(%reason, "append unavailable; retrying");
                    self.forget(&subject_of(&req.stream));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                other => return other,
            }
        }
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
        let subject = subject_of(stream);
        let target = self.last_of(&subject).await?.map_or(0, |e| e.version());
        if target < from_version {
            return Ok(Vec::new());
        }
        let done =
            |events: &Vec<RecordedEvent>| events.len() >= max || events.last().is_some_and(|e| e.version() >= target);
        self.caught_up(done, || self.read_stream_once(&subject, from_version, max)).await
    }

    async fn read_all(&self, from_position: u64, max: usize) -> Result<Vec<RecordedEvent>, LogError> {
        validate_read_start(from_position)?;
        let head = self.head().await?;
        if head < from_position || max == 0 {
            return Ok(Vec::new());
        }
        let deadline = tokio::time::Instant::now() + REQUEST_TIMEOUT;
        loop {
            let (stored, _) = self.batch_get(from_position, max, None).await?;
            let next = stored.last().map_or(from_position, |s| s.sequence.saturating_add(1));
            // Short of the head: either the answering replica lags, or the rest was deleted. The leader knows which.
            if stored.len() >= max || next > head || !self.leader_has_from(next, head).await? {
                return stored.into_iter().map(decode).collect();
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(unavailable("a replica stayed behind the stream leader"));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn head(&self) -> Result<u64, LogError> {
        let api = format!("$JS.API.STREAM.INFO.{}", self.inner.stream);
        let reply = self.inner.client.request(api, Bytes::new()).await.map_err(unavailable)?;
        let info: serde_json::Value = serde_json::from_slice(&reply.payload).map_err(unavailable)?;
        info["state"]["last_seq"].as_u64().ok_or_else(|| unavailable("stream info without last_seq"))
    }

    fn watch_head(&self) -> watch::Receiver<u64> {
        let watcher = self.inner.head.clone();
        self.inner.follow.notify_one();
        watcher
    }

    async fn load_checkpoint(&self, name: &str) -> Result<Option<u64>, LogError> {
        use jetstream::stream::LastRawMessageErrorKind;
        validate_checkpoint_name(name)?;
        // Read from the bucket's leader: a replica that lags would hand back an older position than the last save.
        let subject = format!("$KV.{}.{}", self.inner.checkpoints_bucket, hex::encode(name));
        let message = match self.inner.checkpoints_stream.get_last_raw_message_by_subject(&subject).await {
            Ok(message) => message,
            Err(e) if matches!(e.kind(), LastRawMessageErrorKind::NoMessageFound) => return Ok(None),
            Err(e) => return Err(unavailable(e)),
        };
        std::str::from_utf8(&message.payload)
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Some)
            .ok_or_else(|| unavailable(format!("checkpoint {name} holds no position")))
    }

    async fn save_checkpoint(&self, name: &str, position: u64) -> Result<(), LogError> {
        validate_checkpoint_name(name)?;
        self.inner
            .checkpoints
            .put(hex::encode(name), position.to_string().into())
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}

impl JetStreamLog {
    async fn append_once(&self, req: &AppendRequest) -> Result<AppendOutcome, LogError> {
        let subject = subject_of(&req.stream);
        for attempt in 0..64u64 {
            // What this process last wrote to the stream saves a read when it is still the stream's tip; when it is
            // not, the server refuses the append (wrong last sequence) and the tip is read from the leader.
            let cached = self.tip(&subject).filter(|t| req.expected.admits(t.version));
            let tip = match cached {
                Some(tip) => tip,
                None => {
                    let last = self.last_of(&subject).await?;
                    last.as_ref().map_or(Tip::default(), |e| Tip {
                        sequence: e.position(),
                        version: e.version(),
                        hash: e.hash,
                        command_id: e.command_id().to_owned(),
                    })
                }
            };
            let (version, last_sequence, prev) = (tip.version, tip.sequence, tip.hash);
            if tip.version > 0 && tip.command_id == req.command_id.as_str() {
                let events = self.earlier(&subject, req.command_id.as_str()).await?;
                if !events.is_empty() {
                    return Ok(AppendOutcome { events, duplicate: true });
                }
            }
            if !req.expected.admits(version) {
                let events = self.earlier(&subject, req.command_id.as_str()).await?;
                if !events.is_empty() {
                    return Ok(AppendOutcome { events, duplicate: true });
                }
                return Err(LogError::Conflict {
                    stream: req.stream.to_string(),
                    expected: req.expected,
                    actual: version,
                });
            }
            let mut sealed = seal(req, version, prev, Timestamp::now());
            let messages = messages_of(req, &sealed);
            match self.publish(&subject, &messages, last_sequence).await? {
                Some((_, true)) => {
                    self.forget(&subject);
                    let events = self.earlier(&subject, req.command_id.as_str()).await?;
                    if !events.is_empty() {
                        return Ok(AppendOutcome { events, duplicate: true });
                    }
                }
                Some((first, false)) => {
                    for (i, e) in sealed.iter_mut().enumerate() {
                        e.envelope.global_position = first + i as u64;
                    }
                    if let Some(last) = sealed.last() {
                        advance(&self.inner.head_tx, last.position());
                        self.remember(
                            &subject,
                            Tip {
                                sequence: last.position(),
                                version: last.version(),
                                hash: last.hash,
                                command_id: req.command_id.to_string(),
                            },
                        );
                    }
                    return Ok(AppendOutcome { events: sealed, duplicate: false });
                }
                // Lost a race: forget the tip and read again; the next round reports the conflict, the duplicate,
                // or retries `Any`.
                None => {
                    self.forget(&subject);
                    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % 4;
                    tokio::time::sleep(Duration::from_millis(attempt.min(8) + jitter)).await;
                }
            }
        }
        Err(unavailable("the stream kept changing while appending"))
    }

    /// One attempt at a group: every append's events sealed in order, published as one atomic batch that expects the
    /// stream's tip.
    async fn append_group_once(&self, reqs: &[AppendRequest]) -> Result<Vec<AppendOutcome>, LogError> {
        let Some(first) = reqs.first() else { return Err(InvalidInput::EmptyGroup.into()) };
        let subject = subject_of(&first.stream);
        let tip = match self.tip(&subject).filter(|t| first.expected.admits(t.version)) {
            Some(tip) => tip,
            None => self.last_of(&subject).await?.map_or(Tip::default(), |e| Tip {
                sequence: e.position(),
                version: e.version(),
                hash: e.hash,
                command_id: e.command_id().to_owned(),
            }),
        };
        let now = Timestamp::now();
        let (mut version, mut prev_hash) = (tip.version, tip.hash);
        let mut sealed: Vec<Vec<RecordedEvent>> = Vec::with_capacity(reqs.len());
        let mut messages = Vec::new();
        for req in reqs {
            if !req.expected.admits(version) {
                self.forget(&subject);
                return Err(LogError::Conflict {
                    stream: req.stream.to_string(),
                    expected: req.expected,
                    actual: version,
                });
            }
            let events = seal(req, version, prev_hash, now);
            if let Some(last) = events.last() {
                (version, prev_hash) = (last.version(), last.hash);
            }
            messages.extend(messages_of(req, &events));
            sealed.push(events);
        }
        let conflict =
            || LogError::Conflict { stream: first.stream.to_string(), expected: first.expected, actual: tip.version };
        match self.publish(&subject, &messages, tip.sequence).await? {
            Some((first_sequence, false)) => {
                for (position, e) in (first_sequence..).zip(sealed.iter_mut().flatten()) {
                    e.envelope.global_position = position;
                }
                if let (Some(last), Some(req)) = (sealed.last().and_then(|s| s.last()), reqs.last()) {
                    advance(&self.inner.head_tx, last.position());
                    let command_id = req.command_id.to_string();
                    self.remember(
                        &subject,
                        Tip { sequence: last.position(), version: last.version(), hash: last.hash, command_id },
                    );
                }
                Ok(sealed.into_iter().map(|events| AppendOutcome { events, duplicate: false }).collect())
            }
            // The tip moved, or the server already had one of these messages: nothing of the group was written.
            Some((_, true)) | None => {
                self.forget(&subject);
                Err(conflict())
            }
        }
    }

    fn tips(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Tip>> {
        self.inner.tips.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn tip(&self, subject: &str) -> Option<Tip> {
        self.tips().get(subject).cloned()
    }

    fn remember(&self, subject: &str, tip: Tip) {
        let mut tips = self.tips();
        if tips.len() >= MAX_TIPS {
            tips.clear();
        }
        tips.insert(subject.to_owned(), tip);
    }

    fn forget(&self, subject: &str) {
        self.tips().remove(subject);
    }

    async fn read_stream_once(
        &self,
        subject: &str,
        from_version: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, LogError> {
        let mut out = Vec::new();
        let mut next = 1;
        while out.len() < max {
            let (page, _) = self.batch_get(next, MAX_BATCH_GET, Some(subject)).await?;
            let Some(last) = page.last() else { break };
            next = last.sequence + 1;
            let full = page.len() == MAX_BATCH_GET;
            for stored in page {
                let event = decode(stored)?;
                if event.version() >= from_version && out.len() < max {
                    out.push(event);
                }
            }
            if !full {
                break;
            }
        }
        Ok(out)
    }

    /// The JetStream context, for operators' tools.
    pub fn context(&self) -> &jetstream::Context {
        &self.inner.js
    }
}
