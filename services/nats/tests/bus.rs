//! The NATS bus against real servers.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ttx_kernel::testing::bus_conformance;
use ttx_kernel::{Bus, BusError};
use ttx_nats::testing::{NatsCluster, NatsServer};
use ttx_nats::{NatsBus, NatsError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nats_bus_conforms() {
    let server = NatsServer::start();
    let url = server.url();
    bus_conformance(|| {
        let url = url.clone();
        async move { Arc::new(NatsBus::connect(&url).await.unwrap()) as Arc<dyn Bus> }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_connections_in_one_queue_group_share_requests_and_one_can_leave() {
    let server = NatsServer::start();
    let caller = NatsBus::connect(&server.url()).await.unwrap();
    let mut workers = Vec::new();
    for name in ["a", "b"] {
        let bus = NatsBus::connect(&server.url()).await.unwrap();
        let client = bus.client().clone();
        let mut requests = bus.serve("ttx.test.cmd.work", "test-workers").await.unwrap();
        let task = tokio::spawn(async move {
            let _keep = bus;
            while let Some(r) = requests.next().await {
                r.respond(Bytes::from_static(name.as_bytes()));
            }
        });
        workers.push((task, client));
    }
    let mut seen = std::collections::HashSet::new();
    for _ in 0..40 {
        seen.insert(caller.request("ttx.test.cmd.work", Bytes::new(), Duration::from_secs(5)).await.unwrap());
    }
    assert_eq!(seen.len(), 2, "both connections served");
    // One instance goes away: it drains its connection, and its requests end once the server has acknowledged the
    // unsubscription. Every later request is answered by the other.
    let (leaving, client) = workers.remove(0);
    client.drain().await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), leaving).await.expect("the drained worker stops").unwrap();
    for _ in 0..20 {
        let reply = caller.request("ttx.test.cmd.work", Bytes::new(), Duration::from_secs(5)).await.unwrap();
        assert_eq!(reply.as_ref(), b"b");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_nobody_serves_fails_fast_with_no_responders() {
    let server = NatsServer::start();
    let bus = NatsBus::connect(&server.url()).await.unwrap();
    let started = std::time::Instant::now();
    let err = bus.request("ttx.none.qry.x", Bytes::new(), Duration::from_secs(30)).await.unwrap_err();
    assert!(matches!(err, BusError::NoResponders(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "no-responders is reported, not waited out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_older_than_2_12_is_refused_with_a_reason() {
    // Debian's package (2.9) is what `tests/run` and `.ci/run` keep at /usr/sbin/nats-server for this test.
    let old = Path::new("/usr/sbin/nats-server");
    assert!(old.exists(), "the distribution's nats-server 2.9 is needed here; tests/run installs it");
    let server = NatsServer::start_with(old);
    match NatsBus::connect(&server.url()).await {
        Err(e @ NatsError::TooOld { .. }) => {
            let message = e.to_string();
            assert!(message.contains("2.9") && message.contains("2.12.0"), "{message}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_node_cluster_starts_and_carries_requests_across_nodes() {
    let cluster = NatsCluster::start();
    let server_side = NatsBus::connect(&cluster.nodes[0].url()).await.unwrap();
    let client_side = NatsBus::connect(&cluster.nodes[2].url()).await.unwrap();
    let mut requests = server_side.serve("ttx.test.qry.ping", "pingers").await.unwrap();
    tokio::spawn(async move {
        while let Some(r) = requests.next().await {
            r.respond(Bytes::from_static(b"pong"));
        }
    });
    // Interest crosses the routes shortly after the subscription is made.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match client_side.request("ttx.test.qry.ping", Bytes::new(), Duration::from_secs(2)).await {
            Ok(reply) => {
                assert_eq!(reply.as_ref(), b"pong");
                break;
            }
            Err(e) => {
                assert!(std::time::Instant::now() < deadline, "no reply across the cluster: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_queue_groups_are_discoverable_micro_services() {
    let server = NatsServer::start();
    let bus = NatsBus::connect(&server.url()).await.unwrap();
    let service =
        ttx_kernel::bus::serve_calls(&bus, "ttx.math.qry.echo", "math", |_, payload| async move { Ok(payload) })
            .await
            .unwrap();
    ttx_kernel::bus::call_raw(&bus, "ttx.math.qry.echo", Bytes::from_static(b"hi"), Duration::from_secs(5))
        .await
        .unwrap();
    let client = bus.client();
    let json = |m: async_nats::Message| serde_json::from_slice::<serde_json::Value>(&m.payload).unwrap();
    let ping = json(client.request("$SRV.PING.math", Bytes::new()).await.unwrap());
    assert_eq!(ping["name"], "math");
    let info = json(client.request("$SRV.INFO.math", Bytes::new()).await.unwrap());
    let endpoints = info["endpoints"].as_array().unwrap();
    assert!(endpoints.iter().any(|e| e["subject"] == "ttx.math.qry.echo"), "{info}");
    let stats = json(client.request("$SRV.STATS.math", Bytes::new()).await.unwrap());
    let served: u64 = stats["endpoints"].as_array().unwrap().iter().filter_map(|e| e["num_requests"].as_u64()).sum();
    assert!(served >= 1, "{stats}");
    service.abort();
}
