//! Read models folded from the log: follow it from the start, then live, and let queries wait until the model has
//! caught up with what the log held when they arrived (read-your-writes across commands and queries).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use ttx_proto::common::v1::{ErrorCode, ReplyError};

use crate::event::RecordedEvent;
use crate::log::{EventLog, Subscription};

/// A read model: folds each event of the log into itself.
pub trait ReadModel: Send + Sync {
    /// Applies one event (events of other streams included: the model picks what it needs).
    fn apply(&self, event: &RecordedEvent) -> impl std::future::Future<Output = ()> + Send;
}

/// How far a read model has applied the log.
#[derive(Debug)]
pub struct Progress(watch::Sender<u64>);

impl Default for Progress {
    fn default() -> Self {
        Self(watch::Sender::new(0))
    }
}

impl Progress {
    /// Hands every event of the log, from position 1, to `model`, then every new one, until the task is dropped.
    /// After a read failure it waits and goes on from where it stopped.
    pub async fn follow(&self, log: Arc<dyn EventLog>, model: &impl ReadModel) {
        let mut subscription = Subscription::new(log.clone(), 1);
        loop {
            match subscription.next().await {
                Ok(event) => {
                    model.apply(&event).await;
                    self.0.send_replace(event.position());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "a read model cannot read the log; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    subscription = Subscription::new(log.clone(), subscription.next_position());
                }
            }
        }
    }

    /// Waits until the model has applied everything the log holds now, for at most `limit`.
    pub async fn caught_up(&self, log: &dyn EventLog, limit: Duration) -> Result<(), ReplyError> {
        let head =
            log.head().await.map_err(|_| ReplyError::new(ErrorCode::Unavailable, "the event log is unavailable"))?;
        let mut applied = self.0.subscribe();
        match tokio::time::timeout(limit, applied.wait_for(|p| *p >= head)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(ReplyError::new(ErrorCode::Unavailable, "a read model is behind the log")),
        }
    }
}
