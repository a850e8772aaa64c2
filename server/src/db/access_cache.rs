//! The access read of every request, remembered on SQLite.
//!
//! Every request is judged on its caller's account, session and device as the database has
//! them now (see [`Db::access`]). On PostgreSQL, which several server instances share, that
//! stays one read per request: a change made through one instance must hold on the next
//! request to any other. On SQLite exactly one server owns the data folder (its lock file), so
//! every change made through the product (disabling an account, signing out, revoking a phone)
//! passes through this process: each such write moves the cache's epoch after it commits, and
//! an answer read under an older epoch is not used again. A change written behind the server's
//! back (an operator's SQL on the file) is seen within [`FOREIGN_WRITES_SEEN_WITHIN`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::accounts::Access;
use crate::clock::monotonic;

/// How long a remembered answer is used at most, whatever this process wrote meanwhile.
pub const FOREIGN_WRITES_SEEN_WITHIN: Duration = Duration::from_secs(1);

/// More callers than this at once and the cache starts again empty.
const MAX_ENTRIES: usize = 20_000;

type Key = (Uuid, Option<String>, Option<Uuid>);

#[derive(Debug, Default)]
pub struct AccessCache {
    epoch: AtomicU64,
    entries: Mutex<HashMap<Key, (u64, Instant, Access)>>,
}

impl AccessCache {
    /// The epoch to tag an answer with, taken before the database is read: a write that
    /// commits after this reading moves the epoch on, so the answer is never used again.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Forgets every answer; called after each committed write that can change one.
    pub fn changed(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    pub fn get(&self, user: Uuid, family: Option<&str>, device: Option<Uuid>) -> Option<Access> {
        let now_epoch = self.epoch();
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let key = (user, family.map(str::to_owned), device);
        let (epoch, read_at, access) = entries.get(&key)?;
        (*epoch == now_epoch && monotonic().duration_since(*read_at) < FOREIGN_WRITES_SEEN_WITHIN)
            .then(|| access.clone())
    }

    pub fn put(
        &self,
        epoch: u64,
        user: Uuid,
        family: Option<&str>,
        device: Option<Uuid>,
        access: &Access,
    ) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            (user, family.map(str::to_owned), device),
            (epoch, monotonic(), access.clone()),
        );
    }
}

#[cfg(test)]
mod tests {
    use fieldloop_client_core::model::Role;

    use super::*;

    fn access(active: bool) -> Access {
        Access {
            role: Role::Technician,
            region: Some("wuhan".into()),
            active,
            family_revoked: false,
            device: None,
        }
    }

    #[test]
    fn an_answer_read_before_a_write_is_never_used_after_it() {
        let cache = AccessCache::default();
        let user = Uuid::now_v7();
        let device = Some(Uuid::now_v7());
        // Read, remembered, used.
        let epoch = cache.epoch();
        cache.put(epoch, user, Some("f"), device, &access(true));
        assert!(cache.get(user, Some("f"), device).is_some_and(|a| a.active));
        // Another session or device of the same user is not that answer.
        assert!(cache.get(user, Some("g"), device).is_none());
        assert!(cache.get(user, Some("f"), None).is_none());
        // A write commits: the answer is gone.
        cache.changed();
        assert!(cache.get(user, Some("f"), device).is_none());
        // A read that started before the write and ends after it is not kept.
        let before = cache.epoch();
        cache.changed();
        cache.put(before, user, Some("f"), device, &access(true));
        assert!(cache.get(user, Some("f"), device).is_none());
        // A read after it is.
        cache.put(cache.epoch(), user, Some("f"), device, &access(false));
        assert!(
            cache
                .get(user, Some("f"), device)
                .is_some_and(|a| !a.active)
        );
    }
}
