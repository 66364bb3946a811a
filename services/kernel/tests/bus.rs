//! The in-process bus (the embedded deployment's) against the same cases as the NATS bus.

use std::sync::Arc;

use ttx_kernel::testing::bus_conformance;
use ttx_kernel::{Bus, InProcessBus};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_process_bus_conforms() {
    bus_conformance(|| async { Arc::new(InProcessBus::new()) as Arc<dyn Bus> }).await;
}
