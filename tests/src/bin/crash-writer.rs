//! Appends 3-event commands from several tasks until killed. For every acknowledged append it prints
//! `ack <stream> <command_id> <first_position> <last_version> end` and flushes stdout.

use std::io::Write;
use std::sync::Arc;

use ttx_eventlog_sqlite::SqliteLog;
use ttx_kernel::{AppendRequest, CommandId, EventLog, ExpectedVersion, NewEvent, StreamId, Timestamp};
use ttx_tests::{CRASH_EVENTS_PER_COMMAND, crash_payload};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::args().nth(1).ok_or_else(|| anyhow::anyhow!("usage: crash-writer DATA_DIR ROUND"))?;
    let round = std::env::args().nth(2).unwrap_or_else(|| "0".into());
    let log = Arc::new(SqliteLog::open(&dir)?);
    let mut tasks = Vec::new();
    for t in 0..8 {
        let (log, round) = (log.clone(), round.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0u64.. {
                let stream = StreamId::parse(format!("crash-stream-{}", (t + i) % 5))?;
                let command_id = format!("r{round}-t{t}-c{i}");
                let events = (0..CRASH_EVENTS_PER_COMMAND)
                    .map(|k| {
                        NewEvent::new(
                            uuid::Uuid::now_v7(),
                            "ttx.test.v1.Crashed",
                            Timestamp::now(),
                            crash_payload(&command_id, k),
                        )
                    })
                    .collect();
                let request = AppendRequest {
                    stream: stream.clone(),
                    expected: ExpectedVersion::Any,
                    command_id: CommandId::parse(command_id.clone())?,
                    events,
                };
                let outcome = log.append(request).await?;
                let mut out = std::io::stdout().lock();
                writeln!(out, "ack {stream} {command_id} {} {} end", outcome.first_position(), outcome.last_version())?;
                out.flush()?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}
