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
