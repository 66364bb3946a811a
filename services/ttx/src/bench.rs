//! `ttx bench log`: throughput and latency of the embedded log, and a raw SQLite baseline on the same disk.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use ttx_eventlog_sqlite::SqliteLog;
use ttx_kernel::{
    AppendRequest, CommandId, EventLog, ExpectedVersion, NewEvent, StreamId, Timestamp, check_links, verify_log,
};
use uuid::Uuid;

use crate::cli::BenchLogArgs;

/// Latency summary of one measured operation.
pub(crate) struct Latencies(pub(crate) Vec<Duration>);

impl Latencies {
    pub(crate) fn pct(&self, p: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.0.len() - 1) as f64 * p).round() as usize;
        self.0[i]
    }

    pub(crate) fn sorted(mut v: Vec<Duration>) -> Self {
        v.sort_unstable();
        Self(v)
    }

    pub(crate) fn line(&self) -> String {
        format!(
            "p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            ms(self.pct(0.5)),
            ms(self.pct(0.9)),
            ms(self.pct(0.99)),
            ms(self.pct(1.0))
        )
    }
}

/// CPU time used so far by this process's thread named `name` (Linux only; `None` elsewhere).
fn thread_cpu(name: &str) -> Option<Duration> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        // USER_HZ is 100 on Linux.
        return Some(Duration::from_millis(ticks * 10));
    }
    None
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

fn payload(len: usize, seed: u64) -> Bytes {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x & 0xff) as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

fn event(payload: Bytes) -> NewEvent {
    NewEvent::new(Uuid::now_v7(), "ttx.bench.v1.Appended", Timestamp::now(), payload)
}

/// `appenders` tasks, each on its own stream, append one event per call until `total` events are stored.
async fn append_phase<L: EventLog>(
    log: &Arc<L>,
    appenders: u64,
    total: u64,
    payloads: &Arc<Vec<Bytes>>,
) -> anyhow::Result<(u64, Duration, Latencies)> {
    let per_task = (total / appenders).max(1);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..appenders {
        let (log, payloads) = (log.clone(), payloads.clone());
        tasks.push(tokio::spawn(async move {
            let stream = StreamId::parse(format!("bench-stream-{appenders}x{t}"))?;
            let mut latencies = Vec::with_capacity(per_task as usize);
            for v in 0..per_task {
                let request = AppendRequest {
                    stream: stream.clone(),
                    expected: ExpectedVersion::Exact(v),
                    command_id: CommandId::parse(format!("b{appenders}-{t}-{v}"))?,
                    events: vec![event(payloads[((t + v) % payloads.len() as u64) as usize].clone())],
                };
                let at = Instant::now();
                log.append(request).await?;
                latencies.push(at.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut all = Vec::with_capacity((per_task * appenders) as usize);
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = started.elapsed();
    Ok((all.len() as u64, elapsed, Latencies::sorted(all)))
}

const BASELINE_DDL: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
PRAGMA cache_size = -65536;
CREATE TABLE events(position INTEGER PRIMARY KEY, stream_no INTEGER NOT NULL, version INTEGER NOT NULL);
CREATE TABLE records(position INTEGER PRIMARY KEY, record BLOB NOT NULL, hash BLOB NOT NULL);
CREATE TABLE stream_index(stream_no INTEGER NOT NULL, version INTEGER NOT NULL, position INTEGER NOT NULL,
    PRIMARY KEY(stream_no, version)) WITHOUT ROWID;
";

/// Raw rusqlite: the same rows the log stores, pre-built, inserted 1,000 per transaction. With `full_rows`, each
/// event also gets its `events` and `stream_index` rows, as the log stores them; without, only `records`.
fn baseline(path: &Path, rows: u64, record_len: usize, streams: u64, full_rows: bool) -> anyhow::Result<f64> {
    let mut conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(BASELINE_DDL)?;
    let record = payload(record_len, 7).to_vec();
    let hash = [0x5au8; 32];
    let started = Instant::now();
    let mut position = 0i64;
    while (position as u64) < rows {
        let tx = conn.transaction()?;
        {
            let mut ins_event = tx.prepare_cached("INSERT INTO events VALUES (?1, ?2, ?3)")?;
            let mut ins_record = tx.prepare_cached("INSERT INTO records VALUES (?1, ?2, ?3)")?;
            let mut ins_index = tx.prepare_cached("INSERT INTO stream_index VALUES (?1, ?2, ?3)")?;
            for _ in 0..1000 {
                position += 1;
                let stream = position % streams as i64;
                let version = position / streams as i64 + 1;
                ins_record.execute(rusqlite::params![position, record, hash])?;
                if full_rows {
                    ins_event.execute(rusqlite::params![position, stream, version])?;
                    ins_index.execute(rusqlite::params![stream, version, position])?;
                }
            }
        }
        tx.commit()?;
    }
    Ok(rate(position as u64, started.elapsed()))
}

pub(crate) fn bench_root(dir: Option<PathBuf>) -> anyhow::Result<(Option<tempfile::TempDir>, PathBuf)> {
    match dir {
        Some(d) => {
            if d.exists() && std::fs::read_dir(&d)?.next().is_some() {
                bail!("{} is not empty; the benchmark needs an empty or absent directory", d.display());
            }
            std::fs::create_dir_all(&d)?;
            Ok((None, d))
        }
        None => {
            let t = tempfile::Builder::new().prefix("ttx-bench-").tempdir()?;
            let p = t.path().to_owned();
            Ok((Some(t), p))
        }
    }
}

pub async fn bench_log(args: BenchLogArgs) -> anyhow::Result<()> {
    if let Some(url) = args.nats.clone() {
        return bench_nats(&url, args).await;
    }
    let (_tmp, root) = bench_root(args.data_dir)?;
    let n = args.events.max(2_000);
    let log = Arc::new(SqliteLog::open(root.join("log")).context("cannot open the benchmark log")?);
    println!("ttx bench log: {n} events of {} payload bytes in {}", args.payload, root.display());
    println!();
    println!("append (one event per append, each appender on its own stream, durable on return)");
    let n1 = (n / 100).clamp(500, 10_000);
    let n16 = (n / 10).clamp(1_000, 100_000);
    let read_stream_len = 100;
    let n256 = n.saturating_sub(n1 + n16 + read_stream_len).max(256);
    let mut rate256 = 0.0;
    // The writer thread names itself when it starts; wait for that so its CPU use can be read from the first phase.
    for _ in 0..100 {
        if thread_cpu("ttx-log-writer").is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Payloads are made up front so the appenders measure the log, not the payload generator.
    let payloads: Arc<Vec<Bytes>> = Arc::new((0..64).map(|i| payload(args.payload, i)).collect());
    for (appenders, total) in [(1, n1), (16, n16), (256, n256)] {
        if appenders == 256 {
            // The stream read below, written before the big phase so its events end up in the bulk index.
            let stream = StreamId::parse("bench-read-1")?;
            for v in 0..read_stream_len {
                let request = AppendRequest {
                    stream: stream.clone(),
                    expected: ExpectedVersion::Exact(v),
                    command_id: CommandId::parse(format!("read-{v}"))?,
                    events: vec![event(payload(args.payload, v))],
                };
                log.append(request).await?;
            }
        }
        let cpu_before = thread_cpu("ttx-log-writer");
        let commits_before = log.metrics().commits.load(Ordering::Relaxed);
        let (events, elapsed, lat) = append_phase(&log, appenders, total, &payloads).await?;
        let busy = match (cpu_before, thread_cpu("ttx-log-writer")) {
            (Some(a), Some(b)) => {
                format!("; writer thread busy {:.0}%", 100.0 * (b - a).as_secs_f64() / elapsed.as_secs_f64())
            }
            _ => String::new(),
        };
        let commits = log.metrics().commits.load(Ordering::Relaxed) - commits_before;
        let busy = format!("{busy}; {:.0} events per commit", events as f64 / commits.max(1) as f64);
        let r = rate(events, elapsed);
        if appenders == 256 {
            rate256 = r;
        }
        println!(
            "  {appenders:>3} appenders: {r:>10.0} events/s  ({events} events in {:.2} s; {}{busy})",
            elapsed.as_secs_f64(),
            lat.line()
        );
    }

    let stats = log.stats().await?;
    let sample = log.read_all(1, 1000).await?;
    let record_len = sample.iter().map(|e| e.bytes.len()).sum::<usize>() / sample.len().max(1);
    println!();
    for (label, recompute) in [
        ("replay (read and decode every event, check positions, versions and chain links)", false),
        ("verify (the same, and recompute every event's SHA-256: `ttx log verify`)", true),
    ] {
        println!("{label}");
        let started = Instant::now();
        let report = if recompute { verify_log(log.as_ref()).await? } else { check_links(log.as_ref()).await? };
        let elapsed = started.elapsed();
        if let Some(f) = report.failure {
            bail!("the benchmark log does not verify: {f}");
        }
        println!(
            "  {:>14.0} events/s  ({} events in {:.2} s)",
            rate(report.events, elapsed),
            report.events,
            elapsed.as_secs_f64()
        );
        println!();
    }
    println!("read one stream of {read_stream_len} events");
    let stream = StreamId::parse("bench-read-1")?;
    let mut lat = Vec::new();
    for _ in 0..2_000 {
        let at = Instant::now();
        let events = log.read_stream(&stream, 1, 1000).await?;
        lat.push(at.elapsed());
        if events.len() as u64 != read_stream_len {
            bail!("read {} events, expected {read_stream_len}", events.len());
        }
    }
    println!("  {}", Latencies::sorted(lat).line());

    println!();
    let rows = n.min(200_000);
    println!(
        "raw rusqlite baseline ({rows} pre-built rows of {record_len} bytes, 1,000 per transaction, same pragmas)"
    );
    let full = baseline(&root.join("baseline-full.sqlite"), rows, record_len, 256, true)?;
    let bare = baseline(&root.join("baseline-records.sqlite"), rows, record_len, 256, false)?;
    println!("  same rows as the log (events + records + stream index): {full:>10.0} events/s");
    println!("  records table only:                                     {bare:>10.0} events/s");
    println!();
    println!("ratio, 256 appenders / baseline with the same rows: {:.2}x", rate256 / full);
    println!("ratio, 256 appenders / records-only baseline:       {:.2}x", rate256 / bare);
    println!(
        "log on disk: {} MiB database + {} MiB WAL, {} streams",
        stats.db_bytes >> 20,
        stats.wal_bytes >> 20,
        stats.streams
    );
    Ok(())
}

/// `ttx bench log --nats URL`: the JetStream log against raw pipelined JetStream publishing of the same bytes.
async fn bench_nats(url: &str, args: BenchLogArgs) -> anyhow::Result<()> {
    use futures::StreamExt;

    let n = args.events.clamp(2_000, 200_000);
    let replicas = usize::from(args.replicas);
    let options = ttx_nats::JetStreamOptions { replicas, ..ttx_nats::JetStreamOptions::default() };
    let log = Arc::new(ttx_nats::JetStreamLog::connect(url, options).await?);
    if log.head().await? > 0 {
        bail!("the stream TTX_EVENTS at {url} already holds events; run the benchmark against a server of its own");
    }
    println!("ttx bench log --nats {url}: {n} events of {} payload bytes, stream replicas {replicas}", args.payload);
    let payloads: Arc<Vec<Bytes>> = Arc::new((0..64).map(|i| payload(args.payload, i)).collect());
    let (events, elapsed, lat) = append_phase(&log, 256, n, &payloads).await?;
    let ours = rate(events, elapsed);
    println!(
        "  ttx log, 256 appenders:      {ours:>10.0} events/s  ({events} events in {:.2} s; {})",
        elapsed.as_secs_f64(),
        lat.line()
    );
    // The same bytes published raw: JetStream acks awaited, 256 in flight, no expectations, no ids.
    let sample = log.read_all(1, 1).await?;
    let record = sample.first().map(|e| e.bytes.clone()).unwrap_or_else(|| payload(args.payload + 140, 1));
    let client = async_nats::connect(ttx_nats::server_list(url)).await?;
    let js = async_nats::jetstream::new(client);
    let started = Instant::now();
    let acks = futures::stream::iter(0..n)
        .map(|i| {
            let (js, record) = (js.clone(), record.clone());
            async move {
                let ack = js.publish(format!("ttx.evt.bench.raw.s{}", i % 256), record).await?;
                ack.await.map(|_| ())
            }
        })
        .buffer_unordered(256);
    let failures = acks.filter(|r| std::future::ready(r.is_err())).count().await;
    let raw_elapsed = started.elapsed();
    if failures > 0 {
        bail!("{failures} raw publishes failed");
    }
    let raw = rate(n, raw_elapsed);
    println!("  raw JetStream publish:       {raw:>10.0} events/s  ({n} messages of {} bytes)", record.len());
    // The same again, shaped like the log's appends: 256 writers, one subject each, each waiting for its ack, with a
    // message id and the expected last subject sequence. The gap to the line above is what the server's checks and
    // per-stream ordering cost; the gap from here to the log is the log's own client-side work.
    let per_writer = n / 256;
    let started = Instant::now();
    let mut writers = Vec::new();
    for w in 0..256u64 {
        let (js, record) = (js.clone(), record.clone());
        writers.push(tokio::spawn(async move {
            let subject = format!("ttx.evt.bench.shaped.s{w}");
            let mut last = 0u64;
            let mut i = 0;
            while i < per_writer {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert("Nats-Msg-Id", format!("shaped-{w}-{i}").as_str());
                headers.insert("Nats-Expected-Last-Subject-Sequence", last.to_string().as_str());
                match js.publish_with_headers(subject.clone(), headers, record.clone()).await?.await {
                    Ok(ack) => {
                        last = ack.sequence;
                        i += 1;
                    }
                    // A replicated stream may refuse an expectation while an earlier write is still being proposed;
                    // the log rereads the tip then, and so does this.
                    Err(_) => {
                        let stream = js.get_stream("TTX_EVENTS").await?;
                        last = stream.get_last_raw_message_by_subject(&subject).await.map_or(0, |m| m.sequence);
                    }
                }
            }
            anyhow::Ok(())
        }));
    }
    for w in writers {
        w.await??;
    }
    let shaped = rate(per_writer * 256, started.elapsed());
    println!(
        "  raw, shaped like appends:    {shaped:>10.0} events/s  (ids, expected sequences, one writer per subject)"
    );
    println!("  ratio, ttx log / raw publish: {:.2}x", ours / raw);
    let stream = StreamId::parse("bench-read-1")?;
    for v in 0..100 {
        let request = AppendRequest {
            stream: stream.clone(),
            expected: ExpectedVersion::Exact(v),
            command_id: CommandId::parse(format!("read-{v}"))?,
            events: vec![event(payloads[(v % 64) as usize].clone())],
        };
        log.append(request).await?;
    }
    let mut lat = Vec::new();
    for _ in 0..200 {
        let at = Instant::now();
        let events = log.read_stream(&stream, 1, 1000).await?;
        lat.push(at.elapsed());
        if events.len() != 100 {
            bail!("read {} events, expected 100", events.len());
        }
    }
    let total = log.head().await?;
    println!("  read one 100-event stream among {total}: {}", Latencies::sorted(lat).line());
    Ok(())
}
