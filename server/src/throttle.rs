//! Failed sign-ins are throttled per account and per client address. governor's keyed GCRA
//! limiters count the failures; the delays grow in two steps (a few quick retries, then one a
//! minute-ish, then one every few minutes), and every block ends by itself, so nobody can lock
//! an account out for good by guessing at it. Successful sign-ins cost nothing.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// A quota of `burst` failures, then one more every `every`.
fn quota(burst: u32, every: Duration) -> Quota {
    Quota::with_period(every)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN))
}

/// The sign-in brake of one server instance.
pub struct SignInLimits {
    /// Per account: 5 failures at once, then one each 12 s.
    account_quick: DefaultKeyedRateLimiter<String>,
    /// Per account over longer: 20 failures, then one each 3 minutes.
    account_slow: DefaultKeyedRateLimiter<String>,
    /// Per client address: 30 failures, then one each 2 s.
    address: DefaultKeyedRateLimiter<IpAddr>,
    /// Keys refused until an instant, from the limiters' own answers.
    blocked: Mutex<HashMap<String, Instant>>,
}

impl std::fmt::Debug for SignInLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignInLimits(..)")
    }
}

impl Default for SignInLimits {
    fn default() -> Self {
        SignInLimits {
            account_quick: RateLimiter::keyed(quota(5, Duration::from_secs(12))),
            account_slow: RateLimiter::keyed(quota(20, Duration::from_secs(180))),
            address: RateLimiter::keyed(quota(30, Duration::from_secs(2))),
            blocked: Mutex::default(),
        }
    }
}

fn account_key(username: &str) -> String {
    let name = crate::auth::normalize_username(username)
        .unwrap_or_else(|_| username.trim().to_lowercase());
    format!("user:{name}")
}

fn address_key(address: IpAddr) -> String {
    format!("addr:{address}")
}

impl SignInLimits {
    /// How long a sign-in for `username` from `address` must still wait, if it must.
    pub fn wait(&self, username: &str, address: Option<IpAddr>) -> Option<Duration> {
        let now = crate::clock::monotonic();
        let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        blocked.retain(|_, until| *until > now);
        let mut keys = vec![account_key(username)];
        keys.extend(address.map(address_key));
        keys.iter()
            .filter_map(|k| blocked.get(k))
            .max()
            .map(|until| until.duration_since(now))
    }

    /// Counts a failed sign-in; returns how long further attempts must wait, if the failure
    /// went over a limit.
    pub fn failed(&self, username: &str, address: Option<IpAddr>) -> Option<Duration> {
        let clock = DefaultClock::default();
        let account = account_key(username);
        let mut waits: Vec<(String, Duration)> = Vec::new();
        for limiter in [&self.account_quick, &self.account_slow] {
            if let Err(until) = limiter.check_key(&account) {
                waits.push((account.clone(), until.wait_time_from(clock.now())));
            }
        }
        if let Some(address) = address
            && let Err(until) = self.address.check_key(&address)
        {
            waits.push((address_key(address), until.wait_time_from(clock.now())));
        }
        let now = crate::clock::monotonic();
        let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        let mut longest = None;
        for (key, wait) in waits {
            let until = now + wait;
            let entry = blocked.entry(key).or_insert(until);
            *entry = (*entry).max(until);
            longest = longest.max(Some(wait));
        }
        longest
    }

    /// Forgets limiter state that has fully recovered (keeps memory flat under a flood of
    /// different names).
    pub fn forget_recovered(&self) {
        self.account_quick.retain_recent();
        self.account_slow.retain_recent();
        self.address.retain_recent();
    }
}
