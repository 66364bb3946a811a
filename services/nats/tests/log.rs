//! The kernel's log conformance suite against JetStream on a real server.

use std::sync::Arc;

use async_trait::async_trait;
use ttx_kernel::EventLog;
use ttx_kernel::testing::{LogHarness, Tampering};
use ttx_nats::testing::{NatsCluster, NatsServer};
use ttx_nats::{JetStreamLog, JetStreamOptions};

struct Harness {
    server: NatsServer,
}

impl Harness {
    fn new() -> Self {
        Self { server: NatsServer::start() }
    }
}

#[async_trait]
impl LogHarness for Harness {
    async fn open(&self) -> Arc<dyn EventLog> {
        Arc::new(JetStreamLog::connect(&self.server.url(), JetStreamOptions::default()).await.unwrap())
    }

    async fn corrupt(&self, position: u64) {
        let client = async_nats::connect(self.server.url()).await.unwrap();
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
    ttx_kernel::log_conformance_tests!(Harness::new());
}

struct ClusterHarness {
    cluster: NatsCluster,
}

impl ClusterHarness {
    fn new() -> Self {
        Self { cluster: NatsCluster::start() }
    }

    fn options() -> JetStreamOptions {
        JetStreamOptions { replicas: 3, ..JetStreamOptions::default() }
    }
}

#[async_trait]
impl LogHarness for ClusterHarness {
    async fn open(&self) -> Arc<dyn EventLog> {
        Arc::new(JetStreamLog::connect(&self.cluster.nodes[0].url(), Self::options()).await.unwrap())
    }

    async fn corrupt(&self, position: u64) {
        let client = async_nats::connect(self.cluster.nodes[1].url()).await.unwrap();
        let js = async_nats::jetstream::new(client);
        let stream = js.get_stream("TTX_EVENTS").await.unwrap();
        assert!(stream.delete_message(position).await.unwrap());
    }

    fn tampering(&self) -> Tampering {
        Tampering::Delete
    }
}

mod three_node_cluster {
    use super::ClusterHarness;
    ttx_kernel::log_conformance_tests!(ClusterHarness::new());
}
