//! The kernel's log conformance suite against JetStream on a real server.

use std::sync::Arc;

use async_trait::async_trait;
use ttx_kernel::EventLog;
use ttx_kernel::testing::{LogHarness, Tampering};
use ttx_nats::testing::{NatsCluster, NatsServer};
use ttx_nats::{JetStreamLog, JetStreamOptions};

/// A JetStream log on one server or on a 3-node cluster (stream replicas 3), tampered with by deletion.
struct Harness {
    servers: Vec<NatsServer>,
    replicas: usize,
}

impl Harness {
    fn single() -> Self {
        Self { servers: vec![NatsServer::start()], replicas: 1 }
    }

    fn cluster() -> Self {
        let NatsCluster { nodes } = NatsCluster::start();
        Self { servers: nodes, replicas: 3 }
    }

    fn url(&self, node: usize) -> String {
        self.servers[node % self.servers.len()].url()
    }
}

#[async_trait]
impl LogHarness for Harness {
    async fn open(&self) -> Arc<dyn EventLog> {
        let options = JetStreamOptions { replicas: self.replicas, ..JetStreamOptions::default() };
        Arc::new(JetStreamLog::connect(&self.url(0), options).await.unwrap())
    }

    /// Deletes through another node than the log's, on a cluster.
    async fn corrupt(&self, position: u64) {
        let client = async_nats::connect(self.url(1)).await.unwrap();
        let js = async_nats::jetstream::new(client);
        let stream = js.get_stream("TTX_EVENTS").await.unwrap();
        assert!(stream.delete_message(position).await.unwrap());
    }

    fn tampering(&self) -> Tampering {
        Tampering::Delete
    }
}

mod single_server {
    use super::Harness;
    ttx_kernel::log_conformance_tests!(Harness::single());
}

mod three_node_cluster {
    use super::Harness;
    ttx_kernel::log_conformance_tests!(Harness::cluster());
}

/// The head of another process's appends reaches a watcher through the follower, which runs only while watched.
#[tokio::test]
async fn the_head_follower_runs_only_while_someone_watches() {
    use std::time::Duration;
    use ttx_kernel::testing::test_event;
    use ttx_kernel::{AppendRequest, CommandId, ExpectedVersion, StreamId};

    let server = NatsServer::start();
    let watcher = JetStreamLog::connect(&server.url(), JetStreamOptions::default()).await.unwrap();
    let writer = JetStreamLog::connect(&server.url(), JetStreamOptions::default()).await.unwrap();
    let js = async_nats::jetstream::new(async_nats::connect(server.url()).await.unwrap());
    let consumers = || {
        let js = js.clone();
        async move { js.get_stream("TTX_EVENTS").await.unwrap().info().await.unwrap().state.consumer_count }
    };
    let append = |i: u64| AppendRequest {
        stream: StreamId::parse("test-head-1").unwrap(),
        expected: ExpectedVersion::Any,
        command_id: CommandId::parse(format!("c{i}")).unwrap(),
        events: vec![test_event(b"x".to_vec())],
    };
    writer.append(append(1)).await.unwrap();
    assert_eq!(consumers().await, 0, "nobody watches: no consumer");

    let mut head = watcher.watch_head();
    writer.append(append(2)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), head.wait_for(|h| *h >= 2)).await.unwrap().unwrap();
    // The follower may read the head before its consumer exists (it starts from the log's tip): wait for the consumer.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while consumers().await != 1 {
        assert!(tokio::time::Instant::now() < deadline, "a watched head has no follower's consumer");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    writer.append(append(3)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), head.wait_for(|h| *h >= 3)).await.unwrap().unwrap();

    drop(head);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while consumers().await > 0 {
        assert!(tokio::time::Instant::now() < deadline, "the follower's consumer outlived its watchers");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Watching again picks up where the log is now.
    let mut head = watcher.watch_head();
    writer.append(append(4)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), head.wait_for(|h| *h >= 4)).await.unwrap().unwrap();
}
