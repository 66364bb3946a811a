//! The message bus services talk over: publish/subscribe and request/reply, carrying encoded bytes.
//!
//! Subjects are dot-separated tokens as in NATS; a pattern may use `*` (one token) and `>` (the rest, at the end).
//! [`InProcessBus`] is the all-in-one implementation; it carries the same bytes a NATS bus carries.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use prost::Message as _;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument as _;
pub use ttx_proto::common::v1::{ErrorCode, Reply, ReplyError, reply};

/// Largest message either bus carries (NATS's default `max_payload`), so both deployments refuse the same sizes.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// Why a bus operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    #[error("invalid subject {0:?}")]
    BadSubject(String),
    #[error("no service answers on {0}")]
    NoResponders(String),
    #[error("no reply on {subject} within {timeout:?}")]
    Timeout { subject: String, timeout: Duration },
    #[error("the message to {0} is larger than the bus carries")]
    TooLarge(String),
    #[error("bus unavailable: {0}")]
    Unavailable(String),
}

/// Message headers (NATS headers on the wire): ordered name/value pairs; names are compared without regard to case,
/// because other clients may spell `traceparent` as `Traceparent`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    pub fn new() -> Self {
        Self::default()
    }

    /// The first value named `name`, compared without regard to case.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Sets `name` to `value`, replacing every value of that name.
    pub fn insert(&mut self, name: &str, value: String) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.0.push((name.to_owned(), value));
    }

    /// Appends a value without replacing others of that name (for bus implementations copying wire headers).
    pub fn append(&mut self, name: String, value: String) {
        self.0.push((name, value));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The headers a message sent now carries: the current trace context.
    pub fn outgoing() -> Self {
        let mut headers = Self::new();
        crate::telemetry::inject_current(&mut headers);
        headers
    }
}

/// A published message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    pub headers: Headers,
    pub payload: Bytes,
}

/// Sends a request's reply back the way the request came.
type Replier = Box<dyn FnOnce(Bytes) + Send>;

/// A request waiting for its reply.
pub struct Request {
    pub subject: String,
    pub headers: Headers,
    pub payload: Bytes,
    reply: Option<Replier>,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request").field("subject", &self.subject).field("len", &self.payload.len()).finish()
    }
}

impl Request {
    /// A request whose reply is handed to `reply` (for bus implementations).
    pub fn new(subject: String, headers: Headers, payload: Bytes, reply: impl FnOnce(Bytes) + Send + 'static) -> Self {
        Self { subject, headers, payload, reply: Some(Box::new(reply)) }
    }

    /// Sends the reply. Replying to a requester that gave up is a no-op.
    pub fn respond(mut self, payload: Bytes) {
        if let Some(reply) = self.reply.take() {
            reply(payload);
        }
    }
}

/// Messages matching a subscription, in publish order.
#[derive(Debug)]
pub struct Subscriber(mpsc::UnboundedReceiver<Message>);

impl Subscriber {
    /// A subscriber fed by `rx` (for bus implementations).
    pub fn new(rx: mpsc::UnboundedReceiver<Message>) -> Self {
        Self(rx)
    }

    /// The next message, or `None` once the bus is gone.
    pub async fn next(&mut self) -> Option<Message> {
        self.0.recv().await
    }
}

/// Requests addressed to a served subject; instances serving the same queue group share them.
#[derive(Debug)]
pub struct Requests(mpsc::UnboundedReceiver<Request>);

impl Requests {
    /// Requests fed by `rx` (for bus implementations).
    pub fn new(rx: mpsc::UnboundedReceiver<Request>) -> Self {
        Self(rx)
    }

    pub async fn next(&mut self) -> Option<Request> {
        self.0.recv().await
    }
}

/// Every message sent carries the sender's current trace context in its headers ([`Headers::outgoing`]).
#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Delivers to every matching subscriber (fire and forget).
    async fn publish(&self, subject: &str, payload: Bytes) -> Result<(), BusError>;
    async fn subscribe(&self, pattern: &str) -> Result<Subscriber, BusError>;
    /// Sends a request to one of the instances serving `subject` and waits for its reply.
    async fn request(&self, subject: &str, payload: Bytes, timeout: Duration) -> Result<Bytes, BusError>;
    /// Serves requests matching `pattern`; instances that serve with the same `queue_group` share the load.
    async fn serve(&self, pattern: &str, queue_group: &str) -> Result<Requests, BusError>;
}

/// Checks a subject (`wildcards = false`) or a pattern.
pub fn validate_subject(s: &str, wildcards: bool) -> Result<(), BusError> {
    let bad = || BusError::BadSubject(s.chars().take(128).collect());
    if s.is_empty() || s.len() > 1024 {
        return Err(bad());
    }
    let tokens: Vec<&str> = s.split('.').collect();
    for (i, t) in tokens.iter().enumerate() {
        if t.is_empty() || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let wild = *t == "*" || *t == ">";
        if (t.contains('*') || t.contains('>')) && !wild {
            return Err(bad());
        }
        if wild && !wildcards {
            return Err(bad());
        }
        if *t == ">" && i + 1 != tokens.len() {
            return Err(bad());
        }
    }
    Ok(())
}

/// Checks a subject a message is sent to: a valid subject outside the event log's (`ttx.evt.`) and the server's own
/// (`$…`) namespaces, which only the log and the server may write.
pub fn validate_outgoing(subject: &str) -> Result<(), BusError> {
    validate_subject(subject, false)?;
    if subject.starts_with("ttx.evt.") || subject.starts_with('$') {
        return Err(BusError::BadSubject(subject.chars().take(128).collect()));
    }
    Ok(())
}

/// Checks a queue group name: it is also the service's name in discovery, so `[A-Za-z0-9_-]+`.
pub fn validate_queue_group(name: &str) -> Result<(), BusError> {
    if name.is_empty() || name.len() > 128 || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(BusError::BadSubject(name.chars().take(128).collect()));
    }
    Ok(())
}

/// Whether `subject` matches `pattern`.
pub fn subject_matches(pattern: &str, subject: &str) -> bool {
    let mut p = pattern.split('.');
    let mut s = subject.split('.');
    loop {
        match (p.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// The members of one queue group, each with the pattern it serves, and a round-robin cursor.
type Group = (Vec<(String, mpsc::UnboundedSender<Request>)>, usize);

#[derive(Default)]
struct Routes {
    subscribers: Vec<(String, mpsc::UnboundedSender<Message>)>,
    /// queue group → (pattern, sender) per member, and a round-robin cursor.
    servers: HashMap<String, Group>,
}

/// The all-in-one bus: routing inside the process, same subjects and bytes as NATS.
#[derive(Clone, Default)]
pub struct InProcessBus {
    routes: Arc<Mutex<Routes>>,
}

impl fmt::Debug for InProcessBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InProcessBus").finish_non_exhaustive()
    }
}

impl InProcessBus {
    pub fn new() -> Self {
        Self::default()
    }

    fn routes(&self) -> std::sync::MutexGuard<'_, Routes> {
        // A panic while holding the lock cannot leave routes half-updated, so a poisoned lock is still usable.
        self.routes.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl Bus for InProcessBus {
    async fn publish(&self, subject: &str, payload: Bytes) -> Result<(), BusError> {
        validate_outgoing(subject)?;
        if payload.len() > MAX_MESSAGE_BYTES {
            return Err(BusError::TooLarge(subject.to_owned()));
        }
        let headers = Headers::outgoing();
        let mut routes = self.routes();
        routes.subscribers.retain(|(pattern, tx)| {
            if !subject_matches(pattern, subject) {
                return !tx.is_closed();
            }
            let message = Message { subject: subject.to_owned(), headers: headers.clone(), payload: payload.clone() };
            tx.send(message).is_ok()
        });
        Ok(())
    }

    async fn subscribe(&self, pattern: &str) -> Result<Subscriber, BusError> {
        validate_subject(pattern, true)?;
        let (tx, rx) = mpsc::unbounded_channel();
        self.routes().subscribers.push((pattern.to_owned(), tx));
        Ok(Subscriber(rx))
    }

    async fn request(&self, subject: &str, payload: Bytes, timeout: Duration) -> Result<Bytes, BusError> {
        validate_outgoing(subject)?;
        if payload.len() > MAX_MESSAGE_BYTES {
            return Err(BusError::TooLarge(subject.to_owned()));
        }
        let (reply_tx, reply_rx) = oneshot::channel();
        let mut pending = Some(Request::new(subject.to_owned(), Headers::outgoing(), payload, move |reply| {
            let _ = reply_tx.send(reply);
        }));
        {
            let mut routes = self.routes();
            'groups: for (members, cursor) in routes.servers.values_mut() {
                members.retain(|(_, tx)| !tx.is_closed());
                let matching: Vec<usize> =
                    (0..members.len()).filter(|&i| subject_matches(&members[i].0, subject)).collect();
                // One member of one group answers; try each matching member once, round robin.
                for k in 0..matching.len() {
                    let Some(request) = pending.take() else { break 'groups };
                    let i = matching[(*cursor + k) % matching.len()];
                    match members[i].1.send(request) {
                        Ok(()) => {
                            *cursor = (*cursor + k + 1) % matching.len();
                            break 'groups;
                        }
                        Err(mpsc::error::SendError(r)) => pending = Some(r),
                    }
                }
            }
            if pending.is_some() {
                return Err(BusError::NoResponders(subject.to_owned()));
            }
        }
        match tokio::time::timeout(timeout, reply_rx).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => Err(BusError::NoResponders(subject.to_owned())),
            Err(_) => Err(BusError::Timeout { subject: subject.to_owned(), timeout }),
        }
    }

    async fn serve(&self, pattern: &str, queue_group: &str) -> Result<Requests, BusError> {
        validate_subject(pattern, true)?;
        validate_queue_group(queue_group)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let mut routes = self.routes();
        routes.servers.entry(queue_group.to_owned()).or_default().0.push((pattern.to_owned(), tx));
        Ok(Requests(rx))
    }
}

/// Why a call was not answered with a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The service refused or failed the request, with a stable code (and, for invalid input, the field at fault).
    #[error("{code}: {message}")]
    Remote { code: String, message: String, field: String, reason: String },
    /// The reply is not a `ttx.common.v1.Reply`.
    #[error("the reply from {0} is not a valid reply envelope")]
    BadReply(String),
    #[error(transparent)]
    Bus(#[from] BusError),
}

/// Items of a list answer unless a page asks for fewer or more.
pub const DEFAULT_PAGE: u32 = 50;
/// The most items one list answer holds, so no answer outgrows the bus.
pub const MAX_PAGE: u32 = 200;

/// The page of `items` a request asks for (the first `DEFAULT_PAGE` without one), and how many there are in all. A
/// limit above [`MAX_PAGE`] is invalid input naming `page.limit`.
pub fn page<T>(
    items: Vec<T>,
    request: Option<&ttx_proto::common::v1::PageRequest>,
) -> Result<(Vec<T>, u32), ReplyError> {
    let (offset, limit) = request.map_or((0, 0), |p| (p.offset, p.limit));
    let limit = match limit {
        0 => DEFAULT_PAGE,
        n if n <= MAX_PAGE => n,
        _ => return Err(ReplyError::invalid("page.limit", format!("1 to {MAX_PAGE}"))),
    };
    let total = u32::try_from(items.len()).unwrap_or(u32::MAX);
    Ok((items.into_iter().skip(offset as usize).take(limit as usize).collect(), total))
}

fn encode_reply(result: Result<Bytes, ReplyError>) -> Bytes {
    let result = match result {
        Ok(bytes) => reply::Result::Ok(bytes),
        Err(e) => reply::Result::Error(e),
    };
    Reply { result: Some(result) }.encode_to_vec().into()
}

/// Sends encoded bytes to `subject` and unwraps the reply envelope: the answer's bytes, or the service's typed error.
/// Services and the gateway use the typed [`crate::rpc::call`]; this is for bus implementations and their tests.
pub async fn call_raw(bus: &dyn Bus, subject: &str, payload: Bytes, timeout: Duration) -> Result<Bytes, CallError> {
    let reply = bus.request(subject, payload, timeout).await?;
    match Reply::decode(reply).map(|r| r.result) {
        Ok(Some(reply::Result::Ok(bytes))) => Ok(bytes),
        Ok(Some(reply::Result::Error(e))) => {
            Err(CallError::Remote { code: e.code, message: e.message, field: e.field, reason: e.reason })
        }
        Ok(None) | Err(_) => Err(CallError::BadReply(subject.to_owned())),
    }
}

/// Serves `pattern` in `queue_group` with `handler`, one task per request, and answers each with a reply envelope.
/// A handler that panics is answered `internal`, and the service goes on serving. Each request runs in a span
/// `bus.request` whose parent is the caller's trace context, when the request carries one.
pub async fn serve_calls<F, Fut>(
    bus: &dyn Bus,
    pattern: &str,
    queue_group: &str,
    handler: F,
) -> Result<tokio::task::JoinHandle<()>, BusError>
where
    F: Fn(String, Bytes) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Bytes, ReplyError>> + Send + 'static,
{
    let mut requests = bus.serve(pattern, queue_group).await?;
    let handler = Arc::new(handler);
    Ok(tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            let handler = handler.clone();
            let span = tracing::info_span!("bus.request", subject = %request.subject);
            if let Some(parent) = crate::telemetry::parent_from(&request.headers) {
                crate::telemetry::set_remote_parent(&span, parent);
            }
            tokio::spawn(async move {
                let work = handler(request.subject.clone(), request.payload.clone()).instrument(span.clone());
                let work = tokio::spawn(work);
                let result = match work.await {
                    Ok(result) => result,
                    Err(e) => {
                        tracing::error!(parent: &span, subject = %request.subject, error = %e, "request handler failed");
                        Err(ReplyError::new(ErrorCode::Internal, "the service failed while handling the request"))
                    }
                };
                let mut reply = encode_reply(result);
                if reply.len() > MAX_MESSAGE_BYTES {
                    tracing::error!(parent: &span, subject = %request.subject, bytes = reply.len(), "an answer is too large for the bus");
                    reply = encode_reply(Err(ReplyError::new(
                        ErrorCode::TooLarge,
                        "the answer is larger than the bus carries; ask for less (a page at a time)",
                    )));
                }
                request.respond(reply);
            });
        }
    }))
}

#[cfg(test)]
mod paging_tests {
    use super::*;
    use ttx_proto::common::v1::PageRequest;

    #[test]
    fn a_list_answers_a_bounded_page_and_its_total() {
        let items: Vec<u32> = (0..500).collect();
        let (first, total) = page(items.clone(), None).unwrap();
        assert_eq!((first.len(), first[0], total), (DEFAULT_PAGE as usize, 0, 500));
        let (p, _) = page(items.clone(), Some(&PageRequest { offset: 490, limit: 20 })).unwrap();
        assert_eq!(p, (490..500).collect::<Vec<_>>());
        let (p, _) = page(items.clone(), Some(&PageRequest { offset: u32::MAX, limit: MAX_PAGE })).unwrap();
        assert!(p.is_empty());
        let e = page(items, Some(&PageRequest { offset: 0, limit: MAX_PAGE + 1 })).unwrap_err();
        assert_eq!(e.field, "page.limit");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_nats() {
        assert!(subject_matches("ttx.evt.>", "ttx.evt.listings.result.1"));
        assert!(!subject_matches("ttx.evt.>", "ttx.evt"));
        assert!(subject_matches("ttx.*.cmd.x", "ttx.listings.cmd.x"));
        assert!(!subject_matches("ttx.*.cmd.x", "ttx.listings.cmd.y"));
        assert!(!subject_matches("a.b", "a.b.c"));
        assert!(validate_subject("a.>.b", true).is_err());
        assert!(validate_subject("a.*", false).is_err());
        assert!(validate_subject("a..b", false).is_err());
        assert!(validate_subject("a.b*", true).is_err());
    }
}
