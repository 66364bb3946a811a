//! The behaviour every [`Bus`] must show.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tracing::Instrument as _;

use crate::bus::{Bus, BusError, CallError, ErrorCode, MAX_MESSAGE_BYTES, ReplyError, call_raw as call, serve_calls};

const WAIT: Duration = Duration::from_secs(10);

/// Runs every bus case against buses from `make` (a fresh bus per case; two calls may return handles on one bus).
pub async fn bus_conformance<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Arc<dyn Bus>>,
{
    publish_reaches_every_matching_subscriber(make().await).await;
    request_reply_carries_the_exact_bytes(make().await).await;
    a_queue_group_shares_requests(make().await).await;
    missing_responders_and_timeouts_are_typed(make().await).await;
    invalid_subjects_are_rejected(make().await).await;
    calls_answer_with_typed_errors_and_never_crash(make().await).await;
    oversized_messages_are_refused(make().await).await;
    trace_context_travels_in_headers(make().await).await;
}

async fn publish_reaches_every_matching_subscriber(bus: Arc<dyn Bus>) {
    let mut all = bus.subscribe("ttx.note.>").await.unwrap();
    let mut one = bus.subscribe("ttx.note.listings.*.r1").await.unwrap();
    let mut other = bus.subscribe("ttx.note.contracts.>").await.unwrap();
    bus.publish("ttx.note.listings.result.r1", Bytes::from_static(b"\x00\x01binary\xff")).await.unwrap();
    bus.publish("ttx.note.listings.result.r2", Bytes::from_static(b"second")).await.unwrap();
    let m = tokio::time::timeout(WAIT, all.next()).await.unwrap().unwrap();
    assert_eq!(m.subject, "ttx.note.listings.result.r1");
    assert_eq!(m.payload.as_ref(), b"\x00\x01binary\xff");
    let m = tokio::time::timeout(WAIT, all.next()).await.unwrap().unwrap();
    assert_eq!(m.payload.as_ref(), b"second", "messages arrive in publish order");
    let m = tokio::time::timeout(WAIT, one.next()).await.unwrap().unwrap();
    assert_eq!(m.subject, "ttx.note.listings.result.r1");
    assert!(tokio::time::timeout(Duration::from_millis(200), one.next()).await.is_err(), "r2 does not match");
    assert!(tokio::time::timeout(Duration::from_millis(200), other.next()).await.is_err());
}

async fn request_reply_carries_the_exact_bytes(bus: Arc<dyn Bus>) {
    let mut requests = bus.serve("ttx.echo.qry.*", "echo").await.unwrap();
    tokio::spawn(async move {
        while let Some(r) = requests.next().await {
            let mut reply = r.subject.as_bytes().to_vec();
            reply.push(b'|');
            reply.extend_from_slice(&r.payload);
            r.respond(reply.into());
        }
    });
    let payload: Bytes = (0..=255u8).collect::<Vec<_>>().into();
    let reply = bus.request("ttx.echo.qry.bytes", payload.clone(), WAIT).await.unwrap();
    let mut expected = b"ttx.echo.qry.bytes|".to_vec();
    expected.extend_from_slice(&payload);
    assert_eq!(reply.as_ref(), expected.as_slice());
}

async fn a_queue_group_shares_requests(bus: Arc<dyn Bus>) {
    for name in ["a", "b"] {
        let mut requests = bus.serve("ttx.work.cmd.do", "workers").await.unwrap();
        tokio::spawn(async move {
            while let Some(r) = requests.next().await {
                r.respond(Bytes::from_static(name.as_bytes()));
            }
        });
    }
    let mut counts: HashMap<Vec<u8>, usize> = HashMap::new();
    for _ in 0..40 {
        let reply = bus.request("ttx.work.cmd.do", Bytes::new(), WAIT).await.unwrap();
        *counts.entry(reply.to_vec()).or_default() += 1;
    }
    assert_eq!(counts.values().sum::<usize>(), 40, "each request is answered exactly once");
    assert_eq!(counts.len(), 2, "both members of the group serve: {counts:?}");
}

async fn missing_responders_and_timeouts_are_typed(bus: Arc<dyn Bus>) {
    let err = bus.request("ttx.nobody.qry.here", Bytes::new(), Duration::from_secs(2)).await.unwrap_err();
    assert!(matches!(err, BusError::NoResponders(_)), "{err:?}");
    let mut requests = bus.serve("ttx.slow.qry.x", "slow").await.unwrap();
    let held = tokio::spawn(async move {
        let r = requests.next().await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        drop(r);
    });
    let err = bus.request("ttx.slow.qry.x", Bytes::new(), Duration::from_millis(300)).await.unwrap_err();
    assert!(matches!(err, BusError::Timeout { .. }), "{err:?}");
    held.abort();
}

async fn invalid_subjects_are_rejected(bus: Arc<dyn Bus>) {
    assert!(matches!(bus.publish("", Bytes::new()).await, Err(BusError::BadSubject(_))));
    assert!(matches!(bus.publish("a.*", Bytes::new()).await, Err(BusError::BadSubject(_))));
    assert!(matches!(bus.subscribe("a.>.b").await, Err(BusError::BadSubject(_))));
    assert!(matches!(bus.request("a b", Bytes::new(), WAIT).await, Err(BusError::BadSubject(_))));
    assert!(matches!(bus.serve("ttx.a.qry.b", "not a name").await, Err(BusError::BadSubject(_))));
    assert!(matches!(bus.serve("ttx.a.qry.b", "").await, Err(BusError::BadSubject(_))));
    // Only the log writes events, and only the server its own subjects.
    assert!(matches!(bus.publish("ttx.evt.listings.result.1", Bytes::new()).await, Err(BusError::BadSubject(_))));
    assert!(matches!(bus.request("$JS.API.INFO", Bytes::new(), WAIT).await, Err(BusError::BadSubject(_))));
}

/// A service that adds two little-endian u64s; anything else is a bad request; 0xdead makes it panic.
async fn adder(_subject: String, payload: Bytes) -> Result<Bytes, ReplyError> {
    if payload.as_ref() == [0xde, 0xad] {
        panic!("a handler bug");
    }
    let bytes: [u8; 16] =
        payload.as_ref().try_into().map_err(|_| ReplyError::new(ErrorCode::BadRequest, "expected two u64 values"))?;
    let (a, b) = bytes.split_at(8);
    let sum = u64::from_le_bytes(a.try_into().unwrap_or_default())
        .checked_add(u64::from_le_bytes(b.try_into().unwrap_or_default()))
        .ok_or_else(|| ReplyError::new(ErrorCode::Rejected, "the sum does not fit in a u64").with_reason("overflow"))?;
    Ok(Bytes::copy_from_slice(&sum.to_le_bytes()))
}

async fn calls_answer_with_typed_errors_and_never_crash(bus: Arc<dyn Bus>) {
    let service = serve_calls(bus.as_ref(), "ttx.math.qry.add", "math", adder).await.unwrap();
    let mut input = 40u64.to_le_bytes().to_vec();
    input.extend_from_slice(&2u64.to_le_bytes());
    let sum = call(bus.as_ref(), "ttx.math.qry.add", input.into(), WAIT).await.unwrap();
    assert_eq!(sum.as_ref(), 42u64.to_le_bytes());
    for garbage in [&b""[..], b"\xff\xfe garbage", &[0u8; 17]] {
        let err = call(bus.as_ref(), "ttx.math.qry.add", Bytes::copy_from_slice(garbage), WAIT).await.unwrap_err();
        assert!(matches!(&err, CallError::Remote { code, .. } if code == "bad_request"), "{err:?}");
    }
    let err = call(bus.as_ref(), "ttx.math.qry.add", Bytes::from_static(&[0xde, 0xad]), WAIT).await.unwrap_err();
    assert!(matches!(&err, CallError::Remote { code, .. } if code == "internal"), "{err:?}");
    // The service survived the panic.
    let mut input = u64::MAX.to_le_bytes().to_vec();
    input.extend_from_slice(&1u64.to_le_bytes());
    let err = call(bus.as_ref(), "ttx.math.qry.add", input.into(), WAIT).await.unwrap_err();
    assert!(
        matches!(&err, CallError::Remote { code, reason, .. } if code == "rejected" && reason == "overflow"),
        "{err:?}"
    );
    let err = call(bus.as_ref(), "ttx.math.qry.unknown", Bytes::new(), Duration::from_secs(2)).await.unwrap_err();
    assert!(matches!(err, CallError::Bus(BusError::NoResponders(_))), "{err:?}");
    // A raw reply that is not an envelope is reported as such.
    let mut raw = bus.serve("ttx.raw.qry.x", "raw").await.unwrap();
    tokio::spawn(async move {
        while let Some(r) = raw.next().await {
            r.respond(Bytes::from_static(b"\xff\xff\xff"));
        }
    });
    let err = call(bus.as_ref(), "ttx.raw.qry.x", Bytes::new(), WAIT).await.unwrap_err();
    assert!(matches!(err, CallError::BadReply(_)), "{err:?}");
    service.abort();
}

async fn oversized_messages_are_refused(bus: Arc<dyn Bus>) {
    let mut requests = bus.serve("ttx.big.cmd.x", "big").await.unwrap();
    tokio::spawn(async move {
        while let Some(r) = requests.next().await {
            let n = r.payload.len().to_le_bytes();
            r.respond(Bytes::copy_from_slice(&n));
        }
    });
    let fits = Bytes::from(vec![7u8; MAX_MESSAGE_BYTES - 64 * 1024]);
    let reply = bus.request("ttx.big.cmd.x", fits.clone(), WAIT).await.unwrap();
    assert_eq!(reply.as_ref(), fits.len().to_le_bytes());
    let too_big = Bytes::from(vec![7u8; MAX_MESSAGE_BYTES + 1]);
    assert!(matches!(bus.request("ttx.big.cmd.x", too_big.clone(), WAIT).await, Err(BusError::TooLarge(_))));
    assert!(matches!(bus.publish("ttx.big.evt.x", too_big).await, Err(BusError::TooLarge(_))));
    // An answer too large to carry comes back at once as a typed error, not as a timeout.
    let huge = serve_calls(bus.as_ref(), "ttx.big.qry.huge", "big", |_, _| async {
        Ok(Bytes::from(vec![1u8; MAX_MESSAGE_BYTES + 1]))
    })
    .await
    .unwrap();
    let started = std::time::Instant::now();
    match call(bus.as_ref(), "ttx.big.qry.huge", Bytes::new(), WAIT).await {
        Err(CallError::Remote { code, .. }) => assert_eq!(code, "too_large"),
        other => panic!("an oversized answer is a typed error, got {other:?}"),
    }
    assert!(started.elapsed() < WAIT, "answered, not timed out");
    huge.abort();
}

async fn trace_context_travels_in_headers(bus: Arc<dyn Bus>) {
    // The subscriber is this thread's default: everything below runs in this task.
    let (subscriber, _provider) = super::otel_subscriber();
    let _default = tracing::subscriber::set_default(subscriber);
    let mut requests = bus.serve("ttx.trace.qry.x", "trace").await.unwrap();
    let mut notes = bus.subscribe("ttx.trace.note.>").await.unwrap();
    let span = tracing::info_span!("caller");
    let expected = span.in_scope(crate::telemetry::current_traceparent).expect("the span has a trace context");

    let request = bus.request("ttx.trace.qry.x", Bytes::new(), WAIT).instrument(span.clone());
    let serve = async {
        let r = tokio::time::timeout(WAIT, requests.next()).await.unwrap().unwrap();
        assert_eq!(r.headers.get("traceparent"), Some(expected.as_str()));
        assert_eq!(r.headers.get("TRACEPARENT"), Some(expected.as_str()), "names are compared without case");
        r.respond(Bytes::from_static(b"ok"));
    };
    let (reply, ()) = tokio::join!(request, serve);
    assert_eq!(reply.unwrap().as_ref(), b"ok");

    bus.publish("ttx.trace.note.x", Bytes::new()).instrument(span.clone()).await.unwrap();
    let m = tokio::time::timeout(WAIT, notes.next()).await.unwrap().unwrap();
    assert_eq!(m.headers.get("traceparent"), Some(expected.as_str()));

    // Outside any span nothing is sent.
    bus.publish("ttx.trace.note.y", Bytes::new()).await.unwrap();
    let m = tokio::time::timeout(WAIT, notes.next()).await.unwrap().unwrap();
    assert_eq!(m.headers.get("traceparent"), None);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::InProcessBus;

    #[tokio::test]
    async fn the_in_process_bus_conforms() {
        bus_conformance(|| async { Arc::new(InProcessBus::new()) as Arc<dyn Bus> }).await;
    }
}
