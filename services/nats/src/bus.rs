//! The kernel's bus on a NATS connection.

use std::time::Duration;

use async_nats::client::RequestErrorKind;
use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::mpsc;
use ttx_kernel::bus::{Message, Request, Requests, Subscriber, validate_subject};
use ttx_kernel::{Bus, BusError};

use crate::version::{self, NatsError};

/// A [`Bus`] over NATS: publish/subscribe on subjects, request/reply through queue groups.
#[derive(Clone, Debug)]
pub struct NatsBus {
    client: async_nats::Client,
}

fn unavailable(e: impl std::fmt::Display) -> BusError {
    BusError::Unavailable(e.to_string())
}

impl NatsBus {
    /// Connects to `url` and refuses servers older than [`crate::MIN_SERVER_VERSION`].
    pub async fn connect(url: &str) -> Result<Self, NatsError> {
        let client = async_nats::ConnectOptions::new()
            .name("ttx")
            .connect(url)
            .await
            .map_err(|e| NatsError::Connect { url: url.to_owned(), reason: e.to_string() })?;
        let found = client.server_info().version;
        if !version::is_supported(&found) {
            return Err(NatsError::TooOld { url: url.to_owned(), found });
        }
        Ok(Self { client })
    }

    /// Refuses what the server would refuse, and what the in-process bus refuses too, before sending.
    fn check_size(&self, subject: &str, payload: &Bytes) -> Result<(), BusError> {
        let server_max = self.client.server_info().max_payload;
        if payload.len() > ttx_kernel::bus::MAX_MESSAGE_BYTES.min(server_max) {
            return Err(BusError::TooLarge(subject.to_owned()));
        }
        Ok(())
    }

    /// The underlying connection.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }
}

/// Forwards a NATS subscription into a channel until either side goes away.
fn forward<T: Send + 'static>(
    mut sub: async_nats::Subscriber,
    map: impl Fn(async_nats::Message) -> T + Send + 'static,
) -> mpsc::UnboundedReceiver<T> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = tx.closed() => break,
                next = sub.next() => match next {
                    Some(m) => {
                        if tx.send(map(m)).is_err() {
                            break;
                        }
                    }
                    None => break,
                },
            }
        }
        // Dropping `sub` unsubscribes.
    });
    rx
}

#[async_trait]
impl Bus for NatsBus {
    async fn publish(&self, subject: &str, payload: Bytes) -> Result<(), BusError> {
        validate_subject(subject, false)?;
        self.check_size(subject, &payload)?;
        self.client.publish(subject.to_owned(), payload).await.map_err(unavailable)
    }

    async fn subscribe(&self, pattern: &str) -> Result<Subscriber, BusError> {
        validate_subject(pattern, true)?;
        let sub = self.client.subscribe(pattern.to_owned()).await.map_err(unavailable)?;
        // Make sure the server has the subscription before anything published after this call.
        self.client.flush().await.map_err(unavailable)?;
        Ok(Subscriber::new(forward(sub, |m| Message { subject: m.subject.to_string(), payload: m.payload })))
    }

    async fn request(&self, subject: &str, payload: Bytes, timeout: Duration) -> Result<Bytes, BusError> {
        validate_subject(subject, false)?;
        self.check_size(subject, &payload)?;
        let request = async_nats::Request::new().payload(payload).timeout(Some(timeout));
        match self.client.send_request(subject.to_owned(), request).await {
            Ok(reply) => Ok(reply.payload),
            Err(e) => Err(match e.kind() {
                RequestErrorKind::TimedOut => BusError::Timeout { subject: subject.to_owned(), timeout },
                RequestErrorKind::NoResponders => BusError::NoResponders(subject.to_owned()),
                RequestErrorKind::MaxPayloadExceeded => BusError::TooLarge(subject.to_owned()),
                RequestErrorKind::InvalidSubject => BusError::BadSubject(subject.to_owned()),
                RequestErrorKind::Other => unavailable(e),
            }),
        }
    }

    async fn serve(&self, pattern: &str, queue_group: &str) -> Result<Requests, BusError> {
        validate_subject(pattern, true)?;
        validate_subject(queue_group, false)?;
        let sub = self.client.queue_subscribe(pattern.to_owned(), queue_group.to_owned()).await.map_err(unavailable)?;
        self.client.flush().await.map_err(unavailable)?;
        let client = self.client.clone();
        Ok(Requests::new(forward(sub, move |m| {
            let client = client.clone();
            let reply_to = m.reply.clone();
            Request::new(m.subject.to_string(), m.payload, move |reply| {
                if let Some(reply_to) = reply_to {
                    tokio::spawn(async move {
                        if let Err(e) = client.publish(reply_to, reply).await {
                            tracing::warn!(error = %e, "could not send a reply");
                        }
                    });
                }
            })
        })))
    }
}
