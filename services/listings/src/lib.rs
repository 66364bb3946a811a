//! The listings context: research results (科技成果), technology demands and open challenges; the public notice (公示)
//! that negotiated pricing requires; search and matching.
//!
//! It owns the streams `listings-result-<id>`, `listings-demand-<id>` and `listings-match-<demand id>` and emits the
//! `ttx.listings.v1` events (docs/events.md). Commands arrive on `ttx.listings.cmd.*`, queries on
//! `ttx.listings.qry.*` (queue group `listings`), each request type to its handler through [`Service::router`]. A
//! timer ends each public notice and closes each demand when its time comes; with several instances, command ids
//! derived from what fires let one ending through.
//!
//! # Layout
//! - [`domain`]: the `Results` decider: lifecycle, review, secrecy, notice, objections (whether a negotiated deal may
//!   close is negotiation's rule, read from these events).
//! - [`demand`]: the `Demands` decider: technology demands and open challenges (揭榜挂帅), whose applications from the
//!   poster's declared related parties are refused.
//! - [`matching`]: the `Matches` decider: a demand's recorded matches, and the notices they send.
//! - [`search`]: the in-memory full-text index (tantivy, jieba for Chinese) with facets (ADR 0004).
//! - [`values`]: checks a listing as it arrives, naming the field at fault.
//! - [`codec`]: result events ↔ `ttx.listings.v1` messages.
//! - [`calendar`]: the kernel's working-day calendar (periods, and the view folded from identity's schedules).
//! - [`reactions`]: what negotiation's published events ask of a result (a deal puts it under contract, a voided right
//!   releases it), as pure functions.
//! - [`service`]: one handler per request type and their router, the directory (results, demands, organisations'
//!   names and regions, related parties), the timer loop over its pure `due` part (notices and demands that reached
//!   their end) and the reaction task; its `discovery` part answers search, matches, notifications and a result's
//!   page.
//! - [`run`]: serves the subjects until shutdown.

pub use ttx_kernel::calendar;
pub mod codec;
pub mod demand;
pub mod domain;
pub mod matching;
pub mod reactions;
pub mod search;
pub mod service;
pub mod values;

use std::future::Future;
use std::sync::Arc;

use ttx_kernel::{Bus, BusError, Clock, EventLog};

pub use service::Service;

/// What the listings service needs.
#[derive(Clone)]
pub struct Deps {
    pub log: Arc<dyn EventLog>,
    pub bus: Arc<dyn Bus>,
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Deps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("listings::Deps").finish_non_exhaustive()
    }
}

/// Serves listings commands and queries, and runs the notice timer, until `shutdown` resolves.
pub async fn run(deps: Deps, shutdown: impl Future<Output = ()>) -> Result<(), BusError> {
    let service = Arc::new(Service::new(deps.log.clone(), deps.clock.clone()));
    let projection = tokio::spawn(service.clone().project());
    let timers = tokio::spawn(service.clone().timers());
    let reactions = tokio::spawn(service.clone().react());
    let indexer = tokio::spawn(service.clone().index());
    let [commands, queries] = service.router().serve(deps.bus.as_ref()).await?;
    tracing::info!("listings service serving");
    shutdown.await;
    for task in [commands, queries, projection, timers, reactions, indexer] {
        task.abort();
    }
    Ok(())
}
