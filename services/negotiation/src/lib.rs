//! The negotiation context: how an enterprise acquires a result by one of the legal pricing routes, and the evidence
//! of it. Four aggregates, each a pure decider:
//!
//! - [`deal`]: a negotiated deal (协议定价), stream `negotiation-deal-<id>`: versioned term sheets, accepted by the
//!   other side only while the result's public notice allows a deal at that price.
//! - [`listed`]: a listed-price sale (挂牌), stream `negotiation-listing-<id>`: a disclosure period, registered
//!   intents, then a deal (one registrant), a bidding session under rules nobody chooses (several) or nothing.
//! - [`session`]: a bidding session (竞价), stream `negotiation-session-<id>`: registration, deposits, bids on the
//!   increment grid, anti-sniping, a hidden reserve, close by timer; or sealed bids by commit–reveal ([`seal`]);
//!   cancelled, every deposit due back, when the holder withdraws the result.
//! - [`market`]: one result's market, stream `negotiation-market-<result_id>`: every process opens and ends there and
//!   every deal's right is granted or voided there, so a result is in at most one exclusive sale (ADR 0008), and an
//!   exclusive sale of a jointly held result opens only with every co-holder's consent.
//!
//! Events are the `ttx.negotiation.v1` messages themselves ([`events`]); a deal on any route is `DealAgreed`, with
//! the full terms and the contract due in 5 PRC working days ([`deadline`]: counted with the calendar in the decision's
//! context; pending, never guessed, when its year has no schedule, until `DeadlinesFixed`). [`rules`] holds the
//! versioned rules the deciders look up by their context's rule version (the money ceiling, deposits, refunds, the
//! disclosure period's bounds, the offer and bid limits); [`terms`] checks the
//! terms every sale declares (mode and exclusivity, a structured schedule that adds up); [`facts`] is negotiation's
//! view of listings' results; [`service`] is the shell: one handler per request type and their router (its `sales`
//! part opens each process in its result's market), one timer loop over its pure `due` part (what the exchange owes at
//! a moment: closes, ends, the auction a listed sale turns into under [`listed::auction_rules`], contract deadlines,
//! pending deadlines counted, markets kept true to their processes), and the notice it publishes on
//! `ttx.negotiation.chg.session.<id>` whenever a session changes, which live pages wait on.

pub mod deadline;
pub mod deal;
pub mod events;
pub mod facts;
pub mod listed;
pub mod market;
pub mod rules;
pub mod seal;
pub mod service;
pub mod session;
pub mod terms;

use std::future::Future;
use std::sync::Arc;

use ttx_kernel::{Bus, BusError, Clock, EventLog};
pub use ttx_proto::negotiation::v1 as pb;

pub use service::Service;

/// What the negotiation service needs.
#[derive(Clone)]
pub struct Deps {
    pub log: Arc<dyn EventLog>,
    pub bus: Arc<dyn Bus>,
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Deps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("negotiation::Deps").finish_non_exhaustive()
    }
}

/// Serves negotiation commands and queries, and runs its timers, until `shutdown` resolves.
pub async fn run(deps: Deps, shutdown: impl Future<Output = ()>) -> Result<(), BusError> {
    let service = Arc::new(Service::new(deps.log.clone(), deps.clock.clone()));
    let projection = tokio::spawn(service.clone().project());
    let timers = tokio::spawn(service.clone().timers());
    let notices = tokio::spawn(announce_session_changes(service.session_changes(), deps.bus.clone()));
    let [commands, queries] = service.router().serve(deps.bus.as_ref()).await?;
    tracing::info!("negotiation service serving");
    shutdown.await;
    for task in [commands, queries, projection, timers, notices] {
        task.abort();
    }
    Ok(())
}

/// Publishes a notice for each session event folded: `ttx.negotiation.chg.session.<id>` with the session's version (8
/// bytes, big-endian). Every instance folds every event, so a change may be announced once per instance; listeners
/// act on a version they have not seen yet.
async fn announce_session_changes(mut changes: tokio::sync::mpsc::UnboundedReceiver<(String, u64)>, bus: Arc<dyn Bus>) {
    while let Some((id, version)) = changes.recv().await {
        let subject = format!("{}.{id}", crate::pb::subjects::SESSION_CHANGED_PREFIX);
        let payload = bytes::Bytes::copy_from_slice(&version.to_be_bytes());
        if let Err(e) = bus.publish(&subject, payload).await {
            tracing::debug!(%subject, error = %e, "a session change was not announced");
        }
    }
}
