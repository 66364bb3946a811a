//! Test kits: given/when/then for deciders, and one conformance suite for every log and bus implementation.
//!
//! # Layout
//! - [`Scenario`]: `Scenario::new(decider).given(events).when(command).then(events)` / `.then_rejected(why)`.
//! - [`log_conformance`]: the cases every [`EventLog`](crate::EventLog) must pass, run through a [`LogHarness`];
//!   [`log_conformance_tests!`](crate::log_conformance_tests) turns them into one `#[tokio::test]` each.
//! - [`bus_conformance`]: the same for a [`Bus`](crate::Bus).
//! - [`example`]: a small counter decider used by the suites and as a worked example.

mod bus_conformance;
pub mod example;
mod log_conformance;
mod scenario;

pub use bus_conformance::*;
pub use log_conformance::*;
pub use scenario::*;

/// A `tracing` subscriber with the OpenTelemetry layer and no exporter, for tests about trace context. Keep the
/// provider alive while the subscriber is in use.
pub fn otel_subscriber() -> (impl tracing::Subscriber + Send + Sync, opentelemetry_sdk::trace::SdkTracerProvider) {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
    (tracing_subscriber::registry().with(layer), provider)
}
