//! The oldest NATS server TTX runs against.
//!
//! JetStream features the event log relies on (atomic batch publish, batched direct gets) arrive in 2.11 and 2.12, and
//! older servers ignore unknown stream settings silently; Debian's 2.9 package also carries a known concurrency bug in
//! replicated streams. So a connection to anything older than 2.12 is refused with a message saying so.

/// Minimum server version, as (major, minor, patch).
pub const MIN_SERVER_VERSION: (u64, u64, u64) = (2, 12, 0);

/// Why TTX cannot use a NATS server.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error("cannot connect to NATS at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error(
        "the NATS server at {url} is version {found}; TTX needs {}.{}.{} or newer (JetStream atomic batches and \
         batched direct gets; older servers ignore these settings silently)",
        MIN_SERVER_VERSION.0, MIN_SERVER_VERSION.1, MIN_SERVER_VERSION.2
    )]
    TooOld { url: String, found: String },
}

/// Parses `major.minor.patch`, ignoring any `-suffix` or `+build`.
pub fn parse(version: &str) -> Option<(u64, u64, u64)> {
    let core = version.trim().trim_start_matches('v').split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    Some((parts.next()??, parts.next()??, parts.next().flatten().unwrap_or(0)))
}

/// Whether a server reporting `version` is new enough. An unparsable version is refused.
pub fn is_supported(version: &str) -> bool {
    parse(version).is_some_and(|v| v >= MIN_SERVER_VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_2_12_on_are_accepted() {
        assert!(is_supported("2.12.0"));
        assert!(is_supported("2.15.1"));
        assert!(is_supported("3.0.0"));
        assert!(is_supported("2.12.1-RC.2"));
    }

    #[test]
    fn older_and_unparsable_versions_are_refused() {
        assert!(!is_supported("2.9.10"));
        assert!(!is_supported("2.11.9"));
        assert!(!is_supported(""));
        assert!(!is_supported("banana"));
        assert_eq!(parse("v2.10.3+build7"), Some((2, 10, 3)));
    }
}
