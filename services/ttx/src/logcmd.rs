//! `ttx log stats` and `ttx log verify`: read-only, safe beside a running exchange.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use ttx_eventlog_sqlite::SqliteLog;
use ttx_kernel::verify_log;

fn open(dir: &Path) -> anyhow::Result<SqliteLog> {
    SqliteLog::open_read_only(dir).with_context(|| format!("cannot open the event log in {}", dir.display()))
}

pub async fn stats(dir: &Path) -> anyhow::Result<ExitCode> {
    let s = open(dir)?.stats().await?;
    println!("events:        {}", s.events);
    println!("streams:       {}", s.streams);
    println!("head position: {}", s.head);
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
pub async fn verify(dir: &Path) -> anyhow::Result<ExitCode> {
    let log = open(dir)?;
    let started = Instant::now();
    let report = verify_log(&log).await?;
    let index_failure = if report.failure.is_none() { log.verify_index().await? } else { None };
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
