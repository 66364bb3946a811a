//! Appends 3-event commands from several tasks until killed: half the tasks one command at a time, half in groups of
//! commands appended all or nothing (`append_group`). For every acknowledged command it prints
//! `ack <stream> <command_id> <first_position> <last_version> end` and flushes stdout.

use std::io::Write;
use std::sync::Arc;

use ttx_eventlog_sqlite::SqliteLog;
use ttx_kernel::{AppendRequest, CommandId, EventLog, ExpectedVersion, NewEvent, StreamId, Timestamp};
use ttx_tests::{CRASH_EVENTS_PER_COMMAND, CRASH_GROUP, crash_payload};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::args().nth(1).ok_or_else(|| anyhow::anyhow!("usage: crash-writer DATA_DIR ROUND"))?;
    let round = std::env::args().nth(2).unwrap_or_else(|| "0".into());
    let log = Arc::new(SqliteLog::open(&dir)?);
    let mut tasks = Vec::new();
    for t in 0..8 {
        let (log, round) = (log.clone(), round.clone());
        tasks.push(tokio::spawn(async move {
            // Even tasks append one command at a time; odd ones append groups of commands (all or nothing).
            let grouped = t % 2 == 1;
            for i in 0u64.. {
                let stream = StreamId::parse(format!("crash-stream-{}", (t + i) % 5))?;
                let ids: Vec<String> = if grouped {
                    (0..CRASH_GROUP).map(|j| format!("r{round}-t{t}-g{i}-{j}")).collect()
                } else {
                    vec![format!("r{round}-t{t}-c{i}")]
                };
                let requests = ids
                    .iter()
                    .map(|command_id| {
                        let events = (0..CRASH_EVENTS_PER_COMMAND)
                            .map(|k| {
                                NewEvent::new(
                                    uuid::Uuid::now_v7(),
                                    "ttx.test.v1.Crashed",
                                    Timestamp::now(),
                                    crash_payload(command_id, k),
                                )
                            })
                            .collect();
                        Ok(AppendRequest {
                            stream: stream.clone(),
                            expected: ExpectedVersion::Any,
                            command_id: CommandId::parse(command_id.clone())?,
                            events,
                        })
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let outcomes = if grouped {
                    log.append_group(requests).await?
                } else {
                    let mut requests = requests;
                    vec![log.append(requests.remove(0)).await?]
                };
                let mut out = std::io::stdout().lock();
                for (command_id, outcome) in ids.iter().zip(&outcomes) {
                    let (first, last) = (outcome.first_position(), outcome.last_version());
                    writeln!(out, "ack {stream} {command_id} {first} {last} end")?;
                }
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
