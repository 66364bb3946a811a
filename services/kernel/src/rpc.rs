//! Typed request/reply over the bus: every request type names its subject and its reply type ([`Rpc`], implemented
//! in `ttx-proto` next to the messages), so a caller cannot send a request to the wrong subject or decode the wrong
//! answer, and a service cannot answer a request with the wrong type: either mistake does not build.
//!
//! - [`call`] sends a request and decodes its typed reply.
//! - [`Router`] serves a context's requests, one handler per request type, and answers in the process
//!   ([`Router::call`]) with the same bytes the bus would carry. Every router also answers its context's ping
//!   ([`ttx_proto::services::ping_subject`]), which readiness checks ask.
//!
//! ```
//! use std::sync::Arc;
//! use ttx_kernel::rpc::Router;
//! use ttx_proto::audit::v1::{StatusReply, StatusRequest};
//! use ttx_proto::common::v1::ReplyError;
//!
//! struct Audit;
//! let router = Router::new("audit", Arc::new(Audit))
//!     .route(|_audit: Arc<Audit>, _q: StatusRequest| async { Ok::<_, ReplyError>(StatusReply::default()) });
//! assert_eq!(router.subjects().collect::<Vec<_>>(), ["ttx.audit.qry.status"]);
//! ```

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use prost::Message as _;
pub use ttx_proto::Rpc;
use ttx_proto::common::v1::{ErrorCode, ReplyError};

use crate::bus::{Bus, BusError, CallError, call_raw, serve_calls};

/// How long a call waits for its answer unless told otherwise.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends `request` to the subject its type names and decodes the reply its type names.
pub async fn call<R: Rpc>(bus: &dyn Bus, request: &R) -> Result<R::Reply, CallError> {
    call_within(bus, request, CALL_TIMEOUT).await
}

/// [`call`] with its own timeout.
pub async fn call_within<R: Rpc>(bus: &dyn Bus, request: &R, timeout: Duration) -> Result<R::Reply, CallError> {
    let bytes = call_raw(bus, R::SUBJECT, request.encode_to_vec().into(), timeout).await?;
    R::Reply::decode(bytes).map_err(|_| CallError::BadReply(R::SUBJECT.to_owned()))
}

type Handler<S> = Arc<dyn Fn(Arc<S>, Bytes) -> BoxFuture<'static, Result<Bytes, ReplyError>> + Send + Sync>;

/// A context's requests, each served by the handler registered for its type.
pub struct Router<S: ?Sized> {
    context: &'static str,
    /// `ttx.<context>.qry.ping`, answered with an empty reply while the router serves.
    ping: String,
    service: Arc<S>,
    handlers: BTreeMap<&'static str, Handler<S>>,
}

impl<S: ?Sized> std::fmt::Debug for Router<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router").field("context", &self.context).field("subjects", &self.handlers.keys()).finish()
    }
}

impl<S: ?Sized + Send + Sync + 'static> Router<S> {
    /// A router for the context `context` (`ttx.<context>.cmd.*` and `ttx.<context>.qry.*`) over `service`.
    pub fn new(context: &'static str, service: Arc<S>) -> Self {
        Self { context, ping: ttx_proto::services::ping_subject(context), service, handlers: BTreeMap::new() }
    }

    /// Serves requests of type `R` with `handler`, which must answer `R`'s reply type.
    ///
    /// # Panics
    /// When `R` is routed twice or belongs to another context: both are mistakes in the code that builds the router,
    /// found by any test that builds it.
    #[must_use]
    pub fn route<R, F, Fut>(mut self, handler: F) -> Self
    where
        R: Rpc,
        F: Fn(Arc<S>, R) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R::Reply, ReplyError>> + Send + 'static,
    {
        let own = [format!("ttx.{}.cmd.", self.context), format!("ttx.{}.qry.", self.context)];
        assert!(own.iter().any(|p| R::SUBJECT.starts_with(p.as_str())), "{} is not of {}", R::SUBJECT, self.context);
        let handler = Arc::new(handler);
        let serve: Handler<S> = Arc::new(move |service, payload| {
            let handler = handler.clone();
            Box::pin(async move {
                let request = R::decode(payload).map_err(|_| {
                    let name = std::any::type_name::<R>().rsplit("::").next().unwrap_or_default();
                    ReplyError::new(ErrorCode::BadRequest, format!("the request is not a valid {name}"))
                })?;
                let reply = handler(service, request).await?;
                Ok(reply.encode_to_vec().into())
            })
        });
        assert!(self.handlers.insert(R::SUBJECT, serve).is_none(), "{} is routed twice", R::SUBJECT);
        self
    }

    /// The subjects served, in order.
    pub fn subjects(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.handlers.keys().copied()
    }

    /// Answers one request as the bus delivers it: its subject and encoded bytes.
    pub async fn dispatch(&self, subject: &str, payload: Bytes) -> Result<Bytes, ReplyError> {
        if subject == self.ping {
            return Ok(Bytes::new());
        }
        match self.handlers.get(subject) {
            Some(handler) => handler(self.service.clone(), payload).await,
            None => Err(ReplyError::new(
                ErrorCode::BadRequest,
                format!("the {} service answers nothing on {subject}", self.context),
            )),
        }
    }

    /// Carries out a request in this process, through the same encoding the bus carries.
    pub async fn call<R: Rpc>(&self, request: &R) -> Result<R::Reply, ReplyError> {
        let bytes = self.dispatch(R::SUBJECT, request.encode_to_vec().into()).await?;
        R::Reply::decode(bytes).map_err(|_| ReplyError::new(ErrorCode::Internal, "the reply does not decode"))
    }

    /// Serves the context's commands and queries in the queue group `<context>`, which is also its name in discovery.
    /// Abort the returned tasks to stop serving.
    pub async fn serve(self, bus: &dyn Bus) -> Result<[tokio::task::JoinHandle<()>; 2], BusError> {
        let router = Arc::new(self);
        Ok([serve_kind(router.clone(), bus, "cmd").await?, serve_kind(router, bus, "qry").await?])
    }
}

/// Serves one kind of a router's requests (`cmd` or `qry`).
async fn serve_kind<S: ?Sized + Send + Sync + 'static>(
    router: Arc<Router<S>>,
    bus: &dyn Bus,
    kind: &str,
) -> Result<tokio::task::JoinHandle<()>, BusError> {
    let context = router.context;
    serve_calls(bus, &format!("ttx.{context}.{kind}.*"), context, move |subject, payload| {
        let router = router.clone();
        async move { router.dispatch(&subject, payload).await }
    })
    .await
}

#[cfg(test)]
mod tests {
    use ttx_proto::audit::v1::{StatusReply, StatusRequest, VerifyStreamReply, VerifyStreamRequest};

    use super::*;
    use crate::InProcessBus;

    struct Audit;

    fn router() -> Router<Audit> {
        Router::new("audit", Arc::new(Audit))
            .route(|_: Arc<Audit>, _: StatusRequest| async {
                Ok(StatusReply { log_head: 7, service_version: "test".into() })
            })
            .route(|_: Arc<Audit>, q: VerifyStreamRequest| async move {
                Err::<VerifyStreamReply, _>(ReplyError::invalid("stream_id", q.stream_id))
            })
    }

    #[tokio::test]
    async fn a_router_answers_each_request_in_its_own_types_over_the_bus_and_in_the_process() {
        let bus = InProcessBus::new();
        let tasks = router().serve(&bus).await.unwrap();
        assert_eq!(call(&bus, &StatusRequest {}).await.unwrap().log_head, 7);
        assert_eq!(router().call(&StatusRequest {}).await.unwrap().log_head, 7);
        let refused = call(&bus, &VerifyStreamRequest { stream_id: "x".into() }).await.unwrap_err();
        assert!(
            matches!(&refused, CallError::Remote { code, field, .. } if code == "invalid_input" && field == "stream_id"),
            "{refused:?}"
        );
        let ping = call_raw(&bus, &ttx_proto::services::ping_subject("audit"), Bytes::new(), CALL_TIMEOUT).await;
        assert!(ping.unwrap().is_empty(), "a serving router answers its ping");
        for (subject, payload) in
            [("ttx.audit.qry.nothing", Bytes::new()), ("ttx.audit.qry.status", Bytes::from_static(&[0xff, 0xff]))]
        {
            let e = call_raw(&bus, subject, payload, CALL_TIMEOUT).await.unwrap_err();
            assert!(matches!(&e, CallError::Remote { code, .. } if code == "bad_request"), "{subject}: {e:?}");
        }
        for task in tasks {
            task.abort();
        }
    }

    #[test]
    #[should_panic(expected = "routed twice")]
    fn a_request_routed_twice_is_found_when_the_router_is_built() {
        let _ = router().route(|_: Arc<Audit>, _: StatusRequest| async { Ok(StatusReply::default()) });
    }

    #[test]
    #[should_panic(expected = "is not of")]
    fn a_request_of_another_context_is_found_when_the_router_is_built() {
        let _ = Router::new("listings", Arc::new(Audit))
            .route(|_: Arc<Audit>, _: StatusRequest| async { Ok(StatusReply::default()) });
    }
}
