//! The server's one clock. Everything the server stamps or reckons with (deadlines, numbers,
//! history, token and session expiry, `updated_at`) reads the time through a [`Clock`], so a
//! test moves all of it at once. `clippy.toml` bans `Utc::now`, `SystemTime::now` and
//! `Instant::now` everywhere else; this module is the one place allowed to call them.

use chrono::{DateTime, Utc};

/// Where the server reads the time: the system clock in production, a settable one in tests
/// (deadlines and numbering follow server time, never a device's clock).
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

/// The machine's wall clock.
#[derive(Debug)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until moved: for tests of deadlines, expiry and month boundaries.
#[derive(Debug)]
pub struct ManualClock(std::sync::Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        ManualClock(std::sync::Mutex::new(at))
    }
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }
    /// Moves the clock on by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        let mut at = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *at += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A monotonic instant for measuring how long work took (merge time, cache age). It never
/// stamps a record: business time comes from a [`Clock`].
#[allow(clippy::disallowed_methods)]
pub fn monotonic() -> std::time::Instant {
    std::time::Instant::now()
}
