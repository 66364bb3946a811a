//! Request counts and durations per route, in the Prometheus text format at `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// (method, route template, status).
type Key = (String, String, u16);

/// Requests answered and the seconds spent, per key.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<Key, (u64, f64)>>,
    /// Requests the gateway sent over the bus, by subject.
    bus: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    /// Counts one request sent over the bus to `subject`.
    pub fn bus_request(&self, subject: &'static str) {
        *self.bus.lock().unwrap_or_else(std::sync::PoisonError::into_inner).entry(subject).or_default() += 1;
    }

    /// Requests sent over the bus to `subject` so far.
    pub fn bus_requests_to(&self, subject: &str) -> u64 {
        self.bus.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(subject).copied().unwrap_or(0)
    }

    /// Requests sent over the bus so far, in all.
    pub fn bus_requests(&self) -> u64 {
        self.bus.lock().unwrap_or_else(std::sync::PoisonError::into_inner).values().sum()
    }

    pub fn record(&self, method: &str, route: &str, status: u16, took: Duration) {
        let mut map = self.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = map.entry((method.to_owned(), route.to_owned(), status)).or_default();
        entry.0 += 1;
        entry.1 += took.as_secs_f64();
    }

    /// The Prometheus exposition text.
    pub fn render(&self) -> String {
        let map = self.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = String::new();
        out.push_str("# HELP ttx_http_requests_total HTTP requests answered, by method, route and status.\n");
        out.push_str("# TYPE ttx_http_requests_total counter\n");
        for ((method, route, status), (count, _)) in map.iter() {
            let _ = writeln!(
                out,
                "ttx_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {count}"
            );
        }
        out.push_str("# HELP ttx_http_request_duration_seconds Time spent answering, by method and route.\n");
        out.push_str("# TYPE ttx_http_request_duration_seconds summary\n");
        let mut per_route: BTreeMap<(&str, &str), (u64, f64)> = BTreeMap::new();
        for ((method, route, _), (count, secs)) in map.iter() {
            let e = per_route.entry((method, route)).or_default();
            e.0 += count;
            e.1 += secs;
        }
        for ((method, route), (count, secs)) in per_route {
            let labels = format!("method=\"{method}\",route=\"{route}\"");
            let _ = writeln!(out, "ttx_http_request_duration_seconds_sum{{{labels}}} {secs:.6}");
            let _ = writeln!(out, "ttx_http_request_duration_seconds_count{{{labels}}} {count}");
        }
        out.push_str(
            "# HELP ttx_bus_requests_total Requests the gateway sent to the services over the bus, by subject.\n",
        );
        out.push_str("# TYPE ttx_bus_requests_total counter\n");
        for (subject, count) in self.bus.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter() {
            let _ = writeln!(out, "ttx_bus_requests_total{{subject=\"{subject}\"}} {count}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_per_route_and_status() {
        let m = Metrics::default();
        m.record("GET", "/api/v1/me", 200, Duration::from_millis(2));
        m.record("GET", "/api/v1/me", 200, Duration::from_millis(4));
        m.record("GET", "/api/v1/me", 401, Duration::from_millis(1));
        let text = m.render();
        assert!(
            text.contains("ttx_http_requests_total{method=\"GET\",route=\"/api/v1/me\",status=\"200\"} 2"),
            "{text}"
        );
        assert!(text.contains("ttx_http_requests_total{method=\"GET\",route=\"/api/v1/me\",status=\"401\"} 1"));
        assert!(text.contains("ttx_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/me\"} 3"));
        assert!(text.contains("ttx_http_request_duration_seconds_sum{method=\"GET\",route=\"/api/v1/me\"} 0.007000"));
    }
}
