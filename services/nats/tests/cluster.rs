//! The JetStream log on a 3-node cluster under races and node loss.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ttx_kernel::testing::test_event;
use ttx_kernel::{AppendRequest, CommandId, EventLog, ExpectedVersion, LogError, StreamId, verify_log};
use ttx_nats::testing::NatsCluster;
use ttx_nats::{JetStreamLog, JetStreamOptions};

fn r3() -> JetStreamOptions {
    JetStreamOptions { replicas: 3, ..JetStreamOptions::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_rounds_of_six_racing_writers_have_one_winner_each() {
    let cluster = NatsCluster::start();
    // Writers on different nodes, as separate processes of one service would be.
    let mut logs = Vec::new();
    for node in &cluster.nodes {
        logs.push(Arc::new(JetStreamLog::connect(&node.url(), r3()).await.unwrap()));
    }
    let stream = StreamId::parse("test-race-r3").unwrap();
    for round in 0..200u64 {
        let mut tasks = Vec::new();
        for w in 0..6 {
            let (log, stream) = (logs[w % logs.len()].clone(), stream.clone());
            tasks.push(tokio::spawn(async move {
                let request = AppendRequest {
                    stream,
                    expected: ExpectedVersion::Exact(round),
                    command_id: CommandId::parse(format!("r{round}-w{w}")).unwrap(),
                    events: vec![test_event(format!("{round}/{w}").into_bytes())],
                };
                log.append(request).await
            }));
        }
        let mut winners = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(o) => {
                    winners += 1;
                    assert_eq!(o.last_version(), round + 1);
                }
                Err(LogError::Conflict { .. }) => {}
                Err(e) => panic!("round {round}: unexpected error {e}"),
            }
        }
        assert_eq!(winners, 1, "round {round} had {winners} winners");
    }
    let events = logs[0].read_stream(&stream, 1, 1000).await.unwrap();
    assert_eq!(events.len(), 200);
    assert!(verify_log(logs[1].as_ref()).await.unwrap().is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_a_node_under_load_loses_no_acknowledged_event() {
    let mut cluster = NatsCluster::start();
    let log = Arc::new(JetStreamLog::connect(&cluster.urls(), r3()).await.unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    // Acknowledged appends so far, per writer: the test moves on when the writers have written, not after a pause.
    let acks: Arc<[std::sync::atomic::AtomicUsize; 4]> = Arc::new(Default::default());
    let mut writers = Vec::new();
    for w in 0..4 {
        let (log, stop, acks) = (log.clone(), stop.clone(), acks.clone());
        writers.push(tokio::spawn(async move {
            let stream = StreamId::parse(format!("test-loss-{w}")).unwrap();
            let mut acked = Vec::new();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let request = AppendRequest {
                    stream: stream.clone(),
                    expected: ExpectedVersion::Any,
                    command_id: CommandId::parse(format!("w{w}-c{i}")).unwrap(),
                    events: vec![test_event(format!("w{w}/{i}").into_bytes())],
                };
                // A write in flight during the loss may fail; the same command is retried, so it lands once.
                match log.append(request).await {
                    Ok(o) => {
                        acked.push((format!("w{w}/{i}"), o.last_version()));
                        acks[w].fetch_add(1, Ordering::SeqCst);
                        i += 1;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
            (stream, acked)
        }));
    }
    // Every writer has written before the node is lost, and writes at least as much again after.
    let written = || acks.iter().map(|a| a.load(Ordering::SeqCst)).collect::<Vec<_>>();
    let until_each_has = async |at_least: &[usize], what: &str| {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while written().iter().zip(at_least).any(|(n, min)| n < min) {
            assert!(tokio::time::Instant::now() < deadline, "{what}: {:?}", written());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    until_each_has(&[10; 4], "every writer writes before the loss").await;
    cluster.nodes[2].kill();
    let at_kill = written();
    let after: Vec<usize> = at_kill.iter().map(|n| n + 10).collect();
    until_each_has(&after, "every writer goes on writing after the loss").await;
    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    let mut expected: HashMap<StreamId, Vec<(String, u64)>> = HashMap::new();
    for w in writers {
        let (stream, acked) = w.await.unwrap();
        assert!(acked.len() > 5, "writes went on ({} acknowledged)", acked.len());
        total += acked.len();
        expected.insert(stream, acked);
    }
    let mut stored_total = 0;
    for (stream, acked) in &expected {
        let stored = log.read_stream(stream, 1, 100_000).await.unwrap();
        for (payload, version) in acked {
            let e = &stored[usize::try_from(*version).unwrap() - 1];
            assert_eq!(e.payload().as_ref(), payload.as_bytes(), "acknowledged event {payload} is intact");
        }
        // Each command landed at most once. A writer stopped right after a failed (unacknowledged) attempt may have
        // left that one command stored: it is the next command in order, once.
        let payloads: Vec<&[u8]> = stored.iter().map(|e| e.payload().as_ref()).collect();
        let distinct: std::collections::HashSet<&[u8]> = payloads.iter().copied().collect();
        assert_eq!(distinct.len(), payloads.len(), "a command landed twice in {stream}");
        assert!(stored.len() <= acked.len() + 1, "{stream}: {} stored, {} acknowledged", stored.len(), acked.len());
        stored_total += stored.len();
    }
    let report = verify_log(log.as_ref()).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.failure);
    assert_eq!(report.events as usize, stored_total);
    assert!(stored_total >= total);
    // The lost node comes back and catches up with the others; writes go on meanwhile.
    cluster.nodes[2].restart();
    let stream = StreamId::parse("test-loss-after").unwrap();
    for i in 0..10 {
        let request = AppendRequest {
            stream: stream.clone(),
            expected: ExpectedVersion::Any,
            command_id: CommandId::parse(format!("after-{i}")).unwrap(),
            events: vec![test_event(&b"after"[..])],
        };
        log.append(request).await.unwrap();
    }
    let node = cluster.nodes[2].name.clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let mut events = log.context().get_stream("TTX_EVENTS").await.unwrap();
        let info = events.info().await.unwrap();
        let replicas = info.cluster.as_ref().map(|c| c.replicas.clone()).unwrap_or_default();
        let leader = info.cluster.as_ref().and_then(|c| c.leader.clone()).unwrap_or_default();
        let caught_up =
            leader == node || replicas.iter().any(|r| r.name == node && r.current && r.lag.unwrap_or(0) == 0);
        if caught_up {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the restarted node did not catch up: {replicas:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(verify_log(log.as_ref()).await.unwrap().is_ok());
}
