//! The identity service: organisations, users, roles, the technology-manager registry and declared related parties.
//!
//! It owns three kinds of stream: `identity-calendar-prc` (the working-day calendar), `identity-org-<org id>` (the id
//! is the organisation's unified social credit code in lower case, so a code is registered once) and
//! `identity-user-<login>` (the login is the user's id, so a login is taken once). It emits the `ttx.identity.v1` events (docs/events.md) and consumes nothing. Commands arrive on
//! `ttx.identity.cmd.*` and queries on `ttx.identity.qry.*` (queue group `identity`); passwords are hashed here with
//! argon2id and never leave the service, not even hashed.
//!
//! # Layout
//! - [`values`]: validated values (credit code with its check character, login, names, password).
//! - [`domain`]: the pure deciders `Organisations` and `Users`, one rule per rejection.
//! - [`calendar`]: the PRC holiday schedules as events (stream `identity-calendar-prc`), seeded and loaded, and the
//!   fold every period-counting service applies.
//! - [`codec`]: domain events ↔ `ttx.identity.v1` messages.
//! - [`password`]: argon2id hashing and verification, off the async threads.
//! - [`service`]: one handler per request type and their router, and the directory read model for lists.
//! - [`run`]: serves the subjects until shutdown.

pub mod calendar;
pub mod codec;
pub mod domain;
pub mod password;
pub mod service;
pub mod values;

use std::future::Future;
use std::sync::Arc;

use ttx_kernel::{Bus, BusError, Clock, EventLog};

pub use service::Service;

/// What the identity service needs.
#[derive(Clone)]
pub struct Deps {
    pub log: Arc<dyn EventLog>,
    pub bus: Arc<dyn Bus>,
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Deps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("identity::Deps").finish_non_exhaustive()
    }
}

/// Serves identity commands and queries until `shutdown` resolves.
pub async fn run(deps: Deps, shutdown: impl Future<Output = ()>) -> Result<(), BusError> {
    let service = Arc::new(Service::new(deps.log.clone(), deps.clock.clone()));
    let projection = tokio::spawn(service.clone().project());
    let mut shutdown = std::pin::pin!(shutdown);
    // The published holiday schedules are in the log before identity answers (and so before it counts as ready); a
    // stop asked for meanwhile is honoured.
    let seeded = async {
        while let Err(e) = service.seed_calendar().await {
            tracing::warn!(code = %e.code, message = %e.message, "the published holiday schedules are not seeded yet");
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    };
    tokio::select! {
        () = seeded => {}
        () = &mut shutdown => {
            projection.abort();
            return Ok(());
        }
    }
    let [commands, queries] = service.router().serve(deps.bus.as_ref()).await?;
    tracing::info!("identity service serving");
    shutdown.await;
    for task in [commands, queries, projection] {
        task.abort();
    }
    Ok(())
}
