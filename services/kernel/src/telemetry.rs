//! W3C trace context (`traceparent`, `tracestate`) across process boundaries.
//!
//! Spans are `tracing` spans; when the process installs the OpenTelemetry layer (the `ttx` binary always does), each
//! span also has an OpenTelemetry span context. The buses write the current context into every message's headers
//! ([`inject_current`]); a served request runs in a span whose parent is read back from those headers ([`parent_from`]),
//! and the command handler writes the context into each event's envelope, so one trace follows a request from HTTP
//! through the services and into the log. Without the layer nothing is written and extraction is harmless.

pub use opentelemetry::trace::SpanContext;
use opentelemetry::trace::{SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::bus::Headers;

/// Header (and envelope field) carrying the trace id, parent span id and flags.
pub const TRACEPARENT: &str = "traceparent";
/// Header carrying vendor-specific trace state, passed along unchanged.
pub const TRACESTATE: &str = "tracestate";

/// Formats a span context as a version-00 `traceparent`; `None` for an invalid (absent) context.
pub fn format_traceparent(cx: &SpanContext) -> Option<String> {
    if !cx.is_valid() {
        return None;
    }
    Some(format!("00-{}-{}-{:02x}", cx.trace_id(), cx.span_id(), cx.trace_flags().to_u8()))
}

/// Parses a `traceparent` as the W3C recommendation says: version 00 has exactly four fields; a later version may
/// append fields, which are ignored. All-zero ids and version `ff` are invalid. Lower-case hex only.
pub fn parse_traceparent(value: &str, tracestate: Option<&str>) -> Option<SpanContext> {
    let value = value.trim();
    let mut parts = value.split('-');
    let (version, trace_id, span_id, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let lower_hex =
        |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !lower_hex(version, 2)
        || version == "ff"
        || !lower_hex(trace_id, 32)
        || !lower_hex(span_id, 16)
        || !lower_hex(flags, 2)
    {
        return None;
    }
    if version == "00" && parts.next().is_some() {
        return None;
    }
    let trace_id = TraceId::from_hex(trace_id).ok()?;
    let span_id = SpanId::from_hex(span_id).ok()?;
    if trace_id == TraceId::INVALID || span_id == SpanId::INVALID {
        return None;
    }
    let flags = TraceFlags::new(u8::from_str_radix(flags, 16).ok()? & TraceFlags::SAMPLED.to_u8());
    let state = tracestate.and_then(|s| s.parse::<TraceState>().ok()).unwrap_or_default();
    Some(SpanContext::new(trace_id, span_id, flags, true, state))
}

/// The current span's trace context as a `traceparent`, if there is one.
pub fn current_traceparent() -> Option<String> {
    let cx = tracing::Span::current().context();
    format_traceparent(cx.span().span_context())
}

/// Writes the current span's trace context into `headers` (replacing any there).
pub fn inject_current(headers: &mut Headers) {
    let cx = tracing::Span::current().context();
    let span = cx.span();
    let sc = span.span_context();
    if let Some(tp) = format_traceparent(sc) {
        headers.insert(TRACEPARENT, tp);
        let state = sc.trace_state().header();
        if !state.is_empty() {
            headers.insert(TRACESTATE, state);
        }
    }
}

/// The remote parent named by `headers` (names compared without regard to case), if any.
pub fn parent_from(headers: &Headers) -> Option<SpanContext> {
    parse_traceparent(headers.get(TRACEPARENT)?, headers.get(TRACESTATE))
}

/// Makes `span` a child of the remote context `parent`. Returns whether the span took it (it cannot without the
/// OpenTelemetry layer).
pub fn set_remote_parent(span: &tracing::Span, parent: SpanContext) -> bool {
    let cx = opentelemetry::Context::new().with_remote_span_context(parent);
    span.set_parent(cx).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_traceparent_round_trips() {
        let cx = parse_traceparent(SAMPLE, Some("congo=t61rcWkgMzE")).unwrap();
        assert!(cx.is_remote() && cx.is_sampled());
        assert_eq!(cx.trace_state().header(), "congo=t61rcWkgMzE");
        assert_eq!(format_traceparent(&cx).unwrap(), SAMPLE);
    }

    #[test]
    fn malformed_traceparents_are_ignored() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-01",
        ] {
            assert!(parse_traceparent(bad, None).is_none(), "{bad:?} was accepted");
        }
        // A later version may carry more fields.
        assert!(parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more", None).is_some());
    }

    #[test]
    fn header_names_are_found_whatever_their_case() {
        let mut headers = Headers::new();
        headers.insert("TraceParent", SAMPLE.to_owned());
        assert_eq!(format_traceparent(&parent_from(&headers).unwrap()).unwrap(), SAMPLE);
    }

    #[test]
    fn a_span_with_a_remote_parent_continues_its_trace_and_commands_record_it() {
        let (subscriber, _provider) = crate::testing::otel_subscriber();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("child");
            assert!(set_remote_parent(&span, parse_traceparent(SAMPLE, None).unwrap()));
            let tp = span.in_scope(current_traceparent).unwrap();
            let cx = parse_traceparent(&tp, None).unwrap();
            assert_eq!(cx.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
            assert_ne!(cx.span_id().to_string(), "00f067aa0ba902b7", "the child has its own span id");
            let meta =
                span.in_scope(|| crate::CommandMeta::new(crate::CommandId::parse("c-1").unwrap(), Default::default()));
            assert_eq!(meta.traceparent, tp, "a command's events record the trace they were decided in");
        });
    }

    #[test]
    fn without_the_opentelemetry_layer_nothing_is_injected() {
        let span = tracing::info_span!("no layer");
        let _entered = span.enter();
        let mut headers = Headers::new();
        inject_current(&mut headers);
        assert!(headers.is_empty());
        assert!(current_traceparent().is_none());
    }
}
