//! The audit service on a real SQLite log, asked over the in-process bus exactly as over NATS.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use prost::Message as _;
use ttx_audit::{Deps, run};
use ttx_eventlog_sqlite::SqliteLog;
use ttx_kernel::bus::{CallError, call_raw};
use ttx_kernel::{
    AppendRequest, Bus, CommandId, EventLog, ExpectedVersion, InProcessBus, NewEvent, StreamId, Timestamp,
};
use ttx_proto::audit::v1::{StatusReply, StatusRequest, VerifyStreamReply, VerifyStreamRequest, subjects};

const WAIT: Duration = Duration::from_secs(10);

struct Running {
    bus: Arc<dyn Bus>,
    log: Arc<SqliteLog>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

async fn start() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(SqliteLog::open(dir.path()).unwrap());
    let bus: Arc<dyn Bus> = Arc::new(InProcessBus::new());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let deps = Deps { log: log.clone(), bus: bus.clone() };
    let task = tokio::spawn(async move {
        run(deps, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    // Serving starts inside the task; wait until it answers.
    let mut ready = false;
    for _ in 0..500 {
        if call_raw(bus.as_ref(), subjects::STATUS, Bytes::new(), WAIT).await.is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(ready, "the audit service never answered");
    Running { bus, log, stop: Some(stop), task, _dir: dir }
}

async fn append(log: &SqliteLog, stream: &str, n: usize) {
    let stream = StreamId::parse(stream).unwrap();
    let events = (0..n)
        .map(|i| {
            NewEvent::new(uuid::Uuid::now_v7(), "ttx.test.v1.Noted", Timestamp::from_unix_micros(1), vec![i as u8])
        })
        .collect();
    let request = AppendRequest {
        stream,
        expected: ExpectedVersion::Any,
        command_id: CommandId::parse(uuid::Uuid::now_v7().to_string()).unwrap(),
        events,
    };
    log.append(request).await.unwrap();
}

async fn ask(bus: &dyn Bus, subject: &str, payload: impl prost::Message) -> Result<Bytes, CallError> {
    call_raw(bus, subject, payload.encode_to_vec().into(), WAIT).await
}

#[tokio::test]
async fn status_reports_the_head_of_the_log() {
    let audit = start().await;
    let reply =
        StatusReply::decode(ask(audit.bus.as_ref(), subjects::STATUS, StatusRequest {}).await.unwrap()).unwrap();
    assert_eq!(reply.log_head, 0);
    append(&audit.log, "listings-result-r1", 3).await;
    append(&audit.log, "listings-result-r2", 2).await;
    let reply =
        StatusReply::decode(ask(audit.bus.as_ref(), subjects::STATUS, StatusRequest {}).await.unwrap()).unwrap();
    assert_eq!(reply.log_head, 5);
    assert_eq!(reply.service_version, env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn a_stream_is_verified_from_its_first_event() {
    let audit = start().await;
    append(&audit.log, "listings-result-r1", 3).await;
    append(&audit.log, "listings-result-r2", 1).await;
    append(&audit.log, "listings-result-r1", 2).await;
    let request = VerifyStreamRequest { stream_id: "listings-result-r1".into() };
    let reply = VerifyStreamReply::decode(ask(audit.bus.as_ref(), subjects::VERIFY_STREAM, request).await.unwrap());
    assert_eq!(reply.unwrap(), VerifyStreamReply { events: 5, ok: true, failed_position: 0, reason: String::new() });
}

#[tokio::test]
async fn bad_queries_get_typed_errors() {
    let audit = start().await;
    let code = |r: Result<Bytes, CallError>| match r {
        Err(CallError::Remote { code, .. }) => code,
        other => panic!("expected a typed error, got {other:?}"),
    };
    let bus = audit.bus.as_ref();
    let missing = VerifyStreamRequest { stream_id: "listings-result-none".into() };
    assert_eq!(code(ask(bus, subjects::VERIFY_STREAM, missing).await), "not_found");
    let bad = VerifyStreamRequest { stream_id: "no dots. or spaces".into() };
    assert_eq!(code(ask(bus, subjects::VERIFY_STREAM, bad).await), "invalid_input");
    let garbage = Bytes::from_static(&[0xff, 0xff, 0xff]);
    assert_eq!(code(call_raw(bus, subjects::VERIFY_STREAM, garbage.clone(), WAIT).await), "bad_request");
    assert_eq!(code(call_raw(bus, subjects::STATUS, garbage, WAIT).await), "bad_request");
    assert_eq!(code(call_raw(bus, "ttx.audit.qry.nothing", Bytes::new(), WAIT).await), "bad_request");
}

#[tokio::test]
async fn after_shutdown_nobody_answers() {
    let mut audit = start().await;
    audit.stop.take().unwrap().send(()).unwrap();
    (&mut audit.task).await.unwrap();
    let err = call_raw(audit.bus.as_ref(), subjects::STATUS, Bytes::new(), Duration::from_secs(2)).await.unwrap_err();
    assert!(matches!(err, CallError::Bus(ttx_kernel::BusError::NoResponders(_))), "{err:?}");
}
