//! One instance of a test service: serves `ttx.test.cmd.append` in the queue group `test-appender`, appending one
//! event per request to the JetStream log, with the request's command id. Prints `ready` once serving; runs until
//! killed. `tests/queue.rs` runs two and kills one.

use std::sync::Arc;

use bytes::Bytes;
use ttx_kernel::bus::{ErrorCode, ReplyError, serve_calls};
use ttx_kernel::{AppendRequest, CommandId, EventLog, ExpectedVersion, NewEvent, StreamId, Timestamp};
use ttx_nats::{JetStreamLog, JetStreamOptions, NatsBus};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let url = std::env::args().nth(1).ok_or_else(|| anyhow::anyhow!("usage: queue-worker NATS_URL NAME"))?;
    let name: &'static str = Box::leak(std::env::args().nth(2).unwrap_or_else(|| "worker".into()).into_boxed_str());
    let bus = NatsBus::connect(&url).await?;
    let log = Arc::new(JetStreamLog::connect(&url, JetStreamOptions::default()).await?);
    let service = serve_calls(&bus, "ttx.test.cmd.append", "test-appender", move |_, payload: Bytes| {
        let log = log.clone();
        async move {
            let text =
                std::str::from_utf8(&payload).map_err(|_| ReplyError::new(ErrorCode::BadRequest, "not UTF-8"))?;
            let (stream, command) = text
                .split_once(' ')
                .ok_or_else(|| ReplyError::new(ErrorCode::BadRequest, "expected 'STREAM COMMAND'"))?;
            let request = AppendRequest {
                stream: StreamId::parse(stream).map_err(|e| ReplyError::new(ErrorCode::BadRequest, e.to_string()))?,
                expected: ExpectedVersion::Any,
                command_id: CommandId::parse(command)
                    .map_err(|e| ReplyError::new(ErrorCode::BadRequest, e.to_string()))?,
                events: vec![NewEvent::new(
                    uuid::Uuid::now_v7(),
                    "ttx.test.v1.Worked",
                    Timestamp::now(),
                    payload.clone(),
                )],
            };
            let outcome =
                log.append(request).await.map_err(|e| ReplyError::new(ErrorCode::Unavailable, e.to_string()))?;
            Ok(Bytes::from(format!("{name} {}", outcome.first_position())))
        }
    })
    .await?;
    println!("ready");
    service.await?;
    Ok(())
}
