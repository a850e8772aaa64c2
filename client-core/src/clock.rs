//! The device's one clock. What a phone stamps (when a form was signed, a change was made) is
//! the phone's claim; the server keeps its own receive time beside it. `clippy.toml` bans
//! reading the time anywhere else, so the pure model never does.

/// The phone's wall clock.
#[allow(clippy::disallowed_methods)]
pub fn device_now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}
