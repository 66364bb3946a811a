//! Failed-login throttling, per account and per client address, over a sliding window. Time is passed in.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Limits on failed logins within a window.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub per_account: usize,
    pub per_address: usize,
    pub window_secs: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { per_account: 5, per_address: 20, window_secs: 15 * 60 }
    }
}

/// Past this many tracked keys the oldest windows are dropped, so memory stays bounded under a spray of logins.
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Default)]
pub struct Throttle {
    limits: Limits,
    failures: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl Throttle {
    pub fn new(limits: Limits) -> Self {
        Self { limits, failures: Mutex::default() }
    }

    fn keys(account: &str, address: &str) -> [(String, usize); 2] {
        [(format!("a:{account}"), 0), (format!("ip:{address}"), 1)]
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<i64>>> {
        self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `Err(seconds)` when either the account or the address has used up its failures: try again after that long.
    pub fn check(&self, account: &str, address: &str, now: i64) -> Result<(), i64> {
        let mut map = self.map();
        let mut wait = 0;
        for (key, which) in Self::keys(account, address) {
            let limit = if which == 0 { self.limits.per_account } else { self.limits.per_address };
            if let Some(times) = map.get_mut(&key) {
                while times.front().is_some_and(|t| *t <= now - self.limits.window_secs) {
                    times.pop_front();
                }
                if times.len() >= limit {
                    let oldest = times.front().copied().unwrap_or(now);
                    wait = wait.max(oldest + self.limits.window_secs - now);
                }
            }
        }
        if wait > 0 { Err(wait) } else { Ok(()) }
    }

    /// Records a failed login.
    pub fn failed(&self, account: &str, address: &str, now: i64) {
        let mut map = self.map();
        if map.len() >= MAX_KEYS {
            let cutoff = now - self.limits.window_secs;
            map.retain(|_, times| times.back().is_some_and(|t| *t > cutoff));
        }
        for (key, _) in Self::keys(account, address) {
            map.entry(key).or_default().push_back(now);
        }
    }

    /// Forgets an account's failures after it logged in.
    pub fn succeeded(&self, account: &str) {
        self.map().remove(&format!("a:{account}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_paused_after_its_failures_until_the_window_passes() {
        let t = Throttle::new(Limits { per_account: 3, per_address: 100, window_secs: 60 });
        for i in 0..3 {
            assert!(t.check("li", "1.2.3.4", 100 + i).is_ok());
            t.failed("li", "1.2.3.4", 100 + i);
        }
        assert_eq!(t.check("li", "5.6.7.8", 110), Err(50), "from any address");
        assert!(t.check("han", "1.2.3.4", 110).is_ok(), "other accounts are not affected");
        assert!(t.check("li", "1.2.3.4", 161).is_ok(), "the oldest failure left the window");
    }

    #[test]
    fn an_address_is_paused_after_failures_on_many_accounts() {
        let t = Throttle::new(Limits { per_account: 100, per_address: 3, window_secs: 60 });
        for (i, account) in ["a", "b", "c"].into_iter().enumerate() {
            t.failed(account, "9.9.9.9", 10 + i as i64);
        }
        assert!(t.check("d", "9.9.9.9", 20).is_err());
        assert!(t.check("d", "8.8.8.8", 20).is_ok());
    }

    #[test]
    fn a_success_clears_the_account() {
        let t = Throttle::new(Limits { per_account: 2, per_address: 100, window_secs: 60 });
        t.failed("li", "1.1.1.1", 1);
        t.succeeded("li");
        t.failed("li", "1.1.1.1", 2);
        assert!(t.check("li", "1.1.1.1", 3).is_ok());
    }
}
