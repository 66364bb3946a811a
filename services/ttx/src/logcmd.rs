//! `ttx log stats` and `ttx log verify`: read-only, safe beside a running exchange.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use ttx_eventlog_sqlite::SqliteLog;
use ttx_kernel::{EventLog, verify_log};
use ttx_nats::{JetStreamLog, JetStreamOptions};

/// Which log a command looks at.
#[derive(Debug, Clone)]
pub enum Store {
    Embedded(PathBuf),
    Nats { url: String, replicas: usize },
}

fn open(dir: &Path) -> anyhow::Result<SqliteLog> {
    SqliteLog::open_read_only(dir).with_context(|| format!("cannot open the event log in {}", dir.display()))
}

async fn open_nats(url: &str, replicas: usize) -> anyhow::Result<JetStreamLog> {
    let options = JetStreamOptions { replicas, ..JetStreamOptions::default() };
    Ok(JetStreamLog::connect(url, options).await?)
}

pub async fn stats(store: &Store) -> anyhow::Result<ExitCode> {
    let dir = match store {
        Store::Embedded(dir) => dir,
        Store::Nats { url, replicas } => {
            let log = open_nats(url, *replicas).await?;
            println!("log:           JetStream stream TTX_EVENTS at {url}");
            println!("head position: {}", log.head().await?);
            return Ok(ExitCode::SUCCESS);
        }
    };
    let s = open(dir)?.stats().await?;
    println!("events:        {}", s.events);
    println!("streams:       {}", s.streams);
    println!("head position: {}", s.events);
    println!("indexed up to: {}", s.indexed_upto);
    println!("database:      {} bytes (+ {} bytes of WAL)", s.db_bytes, s.wal_bytes);
    if s.checkpoints.is_empty() {
        println!("checkpoints:   none");
    }
    for (name, position) in s.checkpoints {
        println!("checkpoint:    {name} at {position}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Exit 0 when every event checks out, 1 naming the first bad position and stream.
pub async fn verify(store: &Store) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let (report, index_failure) = match store {
        Store::Embedded(dir) => {
            let log = open(dir)?;
            let report = verify_log(&log).await?;
            let index_failure = if report.failure.is_none() { log.verify_index().await? } else { None };
            (report, index_failure)
        }
        Store::Nats { url, replicas } => (verify_log(&open_nats(url, *replicas).await?).await?, None),
    };
    let secs = started.elapsed().as_secs_f64();
    if let Some(f) = index_failure {
        println!("FAILED at position {} in stream {}: store index: {}", f.position, f.stream, f.reason);
        println!("{} events verified; the store's index disagrees with them", report.events);
        return Ok(ExitCode::from(1));
    }
    match report.failure {
        None => {
            println!(
                "ok: {} events in {} streams verified up to position {} ({secs:.2} s)",
                report.events, report.streams, report.head
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(f) => {
            println!("FAILED at position {} in stream {}: {}", f.position, f.stream, f.reason);
            println!("{} events before it verified", report.events);
            Ok(ExitCode::from(1))
        }
    }
}
