//! Recently merged documents, kept built in memory so that the next sync of the same record
//! does not load its snapshot again (loading is most of the cost of an edit's merge).
//!
//! An entry is used only while the stored row still has the feed position (`seq`) the entry was
//! made at. Every write of a document, by any server instance or by a back-office edit, gives it
//! a new position, so a stale entry is never used: several instances on one PostgreSQL stay
//! correct without telling each other anything. The least recently used entry goes first.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use automerge::Automerge;
use uuid::Uuid;

/// How many documents are kept by default: a day's edits of recently synced records. A visit
/// with ~1,000 characters of notes takes 25-50 KiB built, so the default holds at most ~50 MiB.
pub const DEFAULT_CAPACITY: usize = 1024;

#[derive(Debug)]
struct Entry {
    seq: i64,
    doc: Arc<Automerge>,
    used: u64,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<Uuid, Entry>,
    /// Last use -> document, oldest first.
    by_use: BTreeMap<u64, Uuid>,
    clock: u64,
}

#[derive(Debug)]
pub struct DocCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

impl DocCache {
    /// A cache of at most `capacity` documents; 0 keeps nothing.
    pub fn new(capacity: usize) -> DocCache {
        DocCache {
            capacity,
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The document `id` as stored at feed position `seq`, if it is kept.
    pub fn get(&self, id: Uuid, seq: i64) -> Option<Arc<Automerge>> {
        let mut inner = self.lock();
        inner.clock += 1;
        let now = inner.clock;
        let entry = inner.entries.get_mut(&id).filter(|e| e.seq == seq)?;
        let (before, doc) = (entry.used, entry.doc.clone());
        entry.used = now;
        inner.by_use.remove(&before);
        inner.by_use.insert(now, id);
        Some(doc)
    }

    /// Keeps `doc` as the document `id` stored at `seq`, dropping the least recently used
    /// documents beyond the capacity.
    pub fn put(&self, id: Uuid, seq: i64, doc: Arc<Automerge>) {
        if self.capacity == 0 {
            return;
        }
        let mut inner = self.lock();
        inner.clock += 1;
        let used = inner.clock;
        if let Some(old) = inner.entries.insert(id, Entry { seq, doc, used }) {
            inner.by_use.remove(&old.used);
        }
        inner.by_use.insert(used, id);
        while inner.entries.len() > self.capacity {
            let Some((_, oldest)) = inner.by_use.pop_first() else {
                break;
            };
            inner.entries.remove(&oldest);
        }
    }

    /// How many documents are kept now.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Arc<Automerge> {
        Arc::new(Automerge::new())
    }

    #[test]
    fn an_entry_is_used_only_at_the_position_it_was_kept_at() {
        let cache = DocCache::new(4);
        let id = Uuid::new_v4();
        cache.put(id, 7, doc());
        assert!(cache.get(id, 7).is_some());
        assert!(cache.get(id, 8).is_none(), "written since: must be loaded");
        assert!(cache.get(Uuid::new_v4(), 7).is_none());
        cache.put(id, 8, doc());
        assert!(cache.get(id, 7).is_none());
        assert!(cache.get(id, 8).is_some());
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn the_least_recently_used_goes_first() {
        let cache = DocCache::new(2);
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        cache.put(a, 1, doc());
        cache.put(b, 2, doc());
        assert!(cache.get(a, 1).is_some(), "a is now the most recent");
        cache.put(c, 3, doc());
        assert_eq!(cache.len(), 2);
        assert!(cache.get(b, 2).is_none(), "b was the least recently used");
        assert!(cache.get(a, 1).is_some());
        assert!(cache.get(c, 3).is_some());
    }

    #[test]
    fn capacity_zero_keeps_nothing() {
        let cache = DocCache::new(0);
        let id = Uuid::new_v4();
        cache.put(id, 1, doc());
        assert!(cache.is_empty());
        assert!(cache.get(id, 1).is_none());
    }
}
