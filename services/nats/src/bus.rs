//! The kernel's bus on a NATS connection.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::client::RequestErrorKind;
use async_nats::service::{Service, ServiceExt};
use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::mpsc;
use ttx_kernel::bus::{
    Headers, Message, Request, Requests, Subscriber, validate_outgoing, validate_queue_group, validate_subject,
};
use ttx_kernel::{Bus, BusError};

use crate::version::{self, NatsError};

/// A [`Bus`] over NATS: publish/subscribe on subjects, request/reply through queue groups.
///
/// Every queue group served is also a NATS micro service of the same name (`$SRV.PING`, `$SRV.INFO.<name>`,
/// `$SRV.STATS.<name>`), with one endpoint per served subject, so operators can discover the instances of each
/// service and their request counts with standard NATS tooling.
#[derive(Clone)]
pub struct NatsBus {
    client: async_nats::Client,
    services: Arc<tokio::sync::Mutex<HashMap<String, Arc<Service>>>>,
}

impl std::fmt::Debug for NatsBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsBus").finish_non_exhaustive()
    }
}

/// A micro-service endpoint name for a subject pattern (`ttx.math.qry.*` → `ttx-math-qry-any`).
fn endpoint_name(pattern: &str) -> String {
    pattern.replace('.', "-").replace('*', "any").replace('>', "rest")
}

fn unavailable(e: impl std::fmt::Display) -> BusError {
    BusError::Unavailable(e.to_string())
}

impl NatsBus {
    /// Connects to `url` and refuses servers older than [`crate::MIN_SERVER_VERSION`].
    pub async fn connect(url: &str) -> Result<Self, NatsError> {
        let client = async_nats::ConnectOptions::new()
            .name("ttx")
            .connect(crate::server_list(url))
            .await
            .map_err(|e| NatsError::Connect { url: url.to_owned(), reason: e.to_string() })?;
        let found = client.server_info().version;
        if !version::is_supported(&found) {
            return Err(NatsError::TooOld { url: url.to_owned(), found });
        }
        Ok(Self { client, services: Arc::default() })
    }

    /// This connection's micro service for `name`, started on first use.
    async fn service(&self, name: &str) -> Result<Arc<Service>, BusError> {
        let mut services = self.services.lock().await;
        if let Some(service) = services.get(name) {
            return Ok(service.clone());
        }
        let service = self
            .client
            .service_builder()
            .description(format!("TTX {name}"))
            .queue_group(name)
            .start(name, env!("CARGO_PKG_VERSION"))
            .await
            .map(Arc::new)
            .map_err(unavailable)?;
        services.insert(name.to_owned(), service.clone());
        Ok(service)
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

/// The current trace context as NATS headers.
fn outgoing_headers() -> async_nats::HeaderMap {
    let mut map = async_nats::HeaderMap::new();
    for (name, value) in Headers::outgoing().iter() {
        map.insert(name, value);
    }
    map
}

/// A received message's headers (values that are not text are skipped).
fn incoming_headers(map: Option<&async_nats::HeaderMap>) -> Headers {
    let mut headers = Headers::new();
    for (name, values) in map.into_iter().flat_map(|m| m.iter()) {
        for value in values {
            headers.append(name.to_string(), value.as_str().to_owned());
        }
    }
    headers
}

/// Forwards a NATS subscription (or service endpoint) into a channel until either side goes away.
fn forward<S, T>(mut sub: S, map: impl Fn(S::Item) -> T + Send + 'static) -> mpsc::UnboundedReceiver<T>
where
    S: futures::Stream + Unpin + Send + 'static,
    S::Item: Send,
    T: Send + 'static,
{
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
        validate_outgoing(subject)?;
        self.check_size(subject, &payload)?;
        self.client.publish_with_headers(subject.to_owned(), outgoing_headers(), payload).await.map_err(unavailable)
    }

    async fn subscribe(&self, pattern: &str) -> Result<Subscriber, BusError> {
        validate_subject(pattern, true)?;
        let sub = self.client.subscribe(pattern.to_owned()).await.map_err(unavailable)?;
        // Make sure the server has the subscription before anything published after this call.
        self.client.flush().await.map_err(unavailable)?;
        Ok(Subscriber::new(forward(sub, |m| Message {
            subject: m.subject.to_string(),
            headers: incoming_headers(m.headers.as_ref()),
            payload: m.payload,
        })))
    }

    async fn request(&self, subject: &str, payload: Bytes, timeout: Duration) -> Result<Bytes, BusError> {
        validate_outgoing(subject)?;
        self.check_size(subject, &payload)?;
        let request = async_nats::Request::new().headers(outgoing_headers()).payload(payload).timeout(Some(timeout));
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
        validate_queue_group(queue_group)?;
        let service = self.service(queue_group).await?;
        let endpoint = service
            .endpoint_builder()
            .name(endpoint_name(pattern))
            .queue_group(queue_group)
            .add(pattern)
            .await
            .map_err(unavailable)?;
        self.client.flush().await.map_err(unavailable)?;
        Ok(Requests::new(forward(endpoint, |request: async_nats::service::Request| {
            let subject = request.message.subject.to_string();
            let payload = request.message.payload.clone();
            let headers = incoming_headers(request.message.headers.as_ref());
            Request::new(subject, headers, payload, move |reply| {
                tokio::spawn(async move {
                    if let Err(e) = request.respond(Ok(reply)).await {
                        tracing::warn!(error = %e, "could not send a reply");
                    }
                });
            })
        })))
    }
}
