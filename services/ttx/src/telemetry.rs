//! Logs and traces of the `ttx` process.
//!
//! Logs go to stderr (filter with `RUST_LOG`, default `info`). Every span also gets an OpenTelemetry span context, so
//! trace context travels in bus headers and event envelopes whether or not anything is exported; with
//! `telemetry.otlp_endpoint` set, spans are exported there with OTLP over HTTP (protobuf), in batches, from a
//! background thread.

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Flushes exported spans when dropped.
#[derive(Debug)]
pub struct Guard {
    provider: SdkTracerProvider,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("warning: could not flush traces: {e}");
        }
    }
}

/// The OTLP/HTTP traces URL for a configured endpoint: the collector's base URL (`http://host:4318`), or the full
/// traces URL ending in `/v1/traces`.
pub fn traces_url(endpoint: &str) -> String {
    let base = endpoint.trim_end_matches('/');
    if base.ends_with("/v1/traces") { base.to_owned() } else { format!("{base}/v1/traces") }
}

/// Installs the process's subscriber: stderr logs, and OpenTelemetry spans named `service_name`, exported to
/// `otlp_endpoint` unless it is empty.
pub fn init(service_name: &str, otlp_endpoint: &str) -> anyhow::Result<Guard> {
    let resource = Resource::builder()
        .with_service_name(service_name.to_owned())
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .with_attribute(KeyValue::new("service.instance.id", uuid::Uuid::now_v7().to_string()))
        .build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    if !otlp_endpoint.is_empty() {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(traces_url(otlp_endpoint))
            .build()
            .map_err(|e| anyhow::anyhow!("cannot export traces to {otlp_endpoint}: {e}"))?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,async_nats=warn"));
    // Spans of our own code at info and above; the exporter's HTTP client must not trace its own exports.
    let spans = tracing_subscriber::filter::Targets::new().with_default(tracing::Level::INFO);
    let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer("ttx")).with_filter(spans);
    let _ = tracing_subscriber::registry()
        .with(otel)
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(filter))
        .try_init();
    Ok(Guard { provider })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_traces_url_is_derived_from_the_collector_address() {
        assert_eq!(traces_url("http://127.0.0.1:4318"), "http://127.0.0.1:4318/v1/traces");
        assert_eq!(traces_url("http://127.0.0.1:4318/"), "http://127.0.0.1:4318/v1/traces");
        assert_eq!(traces_url("https://otel.example/v1/traces"), "https://otel.example/v1/traces");
    }
}
