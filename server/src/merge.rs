//! Planning a merge: given the server's copy of a document and a device's incoming changes,
//! decide to accept or refuse them, without IO. The caller loads and stores.
//!
//! Changes are applied to a fork first and the fork is diffed against the stored heads, so a
//! refused batch leaves nothing behind: either every new change of a document is accepted or
//! none is.

use automerge::{ActorId, Automerge, Change, ChangeHash, ReadDoc};
use fieldloop_client_core::model::doc::{has_change, read_root};
use fieldloop_client_core::model::ownership::{Author, check_new_document, check_patches};
use fieldloop_client_core::model::{RecordDoc, Refusal, RefusalCode, rules};
use uuid::Uuid;

/// What to do with one document of a batch.
#[derive(Debug)]
pub enum Plan {
    /// Nothing new arrived (a pull, or a resend of what the server has).
    Unchanged,
    /// The new changes are accepted; `doc` is the merged document.
    Accept {
        doc: Box<RecordDoc>,
        new_changes: Vec<Change>,
        is_new: bool,
    },
    Reject(Refusal),
}

/// Decides on `incoming` raw changes for document `id`, sent by a device whose bound actor is
/// `device_actor`, written as `author`. The steps: read the changes, keep those the server
/// lacks, check they are the device's own, apply them to a fork, and check the merged
/// document: its root, who may write what it changed, and the record's own rules.
pub fn plan(
    id: Uuid,
    existing: Option<&Automerge>,
    incoming: &[Vec<u8>],
    device_actor: &ActorId,
    author: Author,
    zone: chrono_tz::Tz,
) -> Plan {
    let empty = Automerge::new();
    let base = existing.unwrap_or(&empty);
    let decided = read_changes(incoming).and_then(|changes| {
        let new_changes = fresh_changes(base, changes);
        if new_changes.is_empty() {
            return Ok(None);
        }
        check_actor(&new_changes, device_actor)?;
        let merged = apply_to_fork(base, &new_changes)?;
        let is_new = base.get_heads().is_empty();
        let doc = check_merged(id, base, merged, is_new, author, zone)?;
        Ok(Some((doc, new_changes, is_new)))
    });
    match decided {
        Ok(None) => Plan::Unchanged,
        Ok(Some((doc, new_changes, is_new))) => Plan::Accept {
            doc: Box::new(doc),
            new_changes,
            is_new,
        },
        Err(refusal) => Plan::Reject(refusal),
    }
}

fn malformed(message: impl Into<String>) -> Refusal {
    Refusal::new(RefusalCode::Malformed, "", message)
}

/// The changes as sent, each readable.
fn read_changes(incoming: &[Vec<u8>]) -> Result<Vec<Change>, Refusal> {
    incoming
        .iter()
        .enumerate()
        .map(|(i, bytes)| {
            Change::from_bytes(bytes.clone())
                .map_err(|e| malformed(format!("change {i} cannot be read: {e}")))
        })
        .collect()
}

/// The changes `base` lacks, each once (a resent batch brings nothing new).
fn fresh_changes(base: &Automerge, changes: Vec<Change>) -> Vec<Change> {
    let mut seen: Vec<ChangeHash> = Vec::new();
    changes
        .into_iter()
        .filter(|c| {
            let hash = c.hash();
            let fresh = !has_change(base, &hash) && !seen.contains(&hash);
            seen.push(hash);
            fresh
        })
        .collect()
}

/// Every new change was made by the device's bound actor.
fn check_actor(changes: &[Change], device_actor: &ActorId) -> Result<(), Refusal> {
    match changes.iter().find(|c| c.actor_id() != device_actor) {
        Some(foreign) => Err(Refusal::new(
            RefusalCode::ForeignActor,
            "",
            format!(
                "a change was made by actor {}, which is not this device's actor",
                foreign.actor_id().to_hex_string()
            ),
        )),
        None => Ok(()),
    }
}

/// `base` with the new changes applied, on a fork: `base` is untouched whatever happens, and
/// every change the new ones depend on must be there.
fn apply_to_fork(base: &Automerge, new_changes: &[Change]) -> Result<Automerge, Refusal> {
    // Automerge 0.12 can panic on a change whose bytes were damaged after its checksum was
    // made (found by the fuzz test below); a panic here refuses the batch, it never takes the
    // server down or turns into a 500.
    let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut merged = base.clone();
        merged.apply_changes(new_changes.to_vec()).map(|()| merged)
    }));
    let merged = match applied {
        Ok(Ok(merged)) => merged,
        Ok(Err(e)) => return Err(malformed(format!("the changes cannot be applied: {e}"))),
        Err(_) => return Err(malformed("the change bytes are damaged")),
    };
    let missing = merged.get_missing_deps(&[]);
    if !missing.is_empty() {
        return Err(malformed(format!(
            "the changes depend on {} change(s) the server does not have; send the whole history",
            missing.len()
        )));
    }
    Ok(merged)
}

/// The merged document, checked: its root names document `id`; the author may write every
/// path it changed (a new document by walking its keys, an edit by its diff); the record's
/// own rules hold.
fn check_merged(
    id: Uuid,
    base: &Automerge,
    merged: Automerge,
    is_new: bool,
    author: Author,
    zone: chrono_tz::Tz,
) -> Result<RecordDoc, Refusal> {
    let root = read_root(&merged)?;
    if root.id != id {
        return Err(Refusal::new(
            RefusalCode::BadRoot,
            "id",
            format!("the document says id {}, but was sent as {id}", root.id),
        ));
    }
    if is_new {
        check_new_document(root.kind, author, &merged)?;
    } else {
        let patches = merged.diff(&base.get_heads(), &merged.get_heads());
        check_patches(root.kind, author, false, &patches)?;
    }
    let doc = RecordDoc::from_automerge(merged)
        .map_err(|e| Refusal::new(RefusalCode::BadRoot, "", e.to_string()))?;
    rules::check_in(&doc, zone)?;
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldloop_client_core::model::{DocKind, FieldValue, Role};

    const ZONE: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

    fn actor(n: u8) -> ActorId {
        ActorId::from([n; 16])
    }

    fn raw(doc: &Automerge, since: &[ChangeHash]) -> Vec<Vec<u8>> {
        doc.get_changes(since)
            .iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect()
    }

    #[test]
    fn a_new_document_is_accepted_and_a_resend_changes_nothing() {
        let id = Uuid::from_u128(5);
        let doc = RecordDoc::create(DocKind::Visit, id, "wuhan", actor(1), 0).unwrap();
        let tech = Author::Device(Role::Technician);
        let incoming = raw(doc.automerge(), &[]);
        let Plan::Accept {
            doc: merged,
            is_new,
            ..
        } = plan(id, None, &incoming, &actor(1), tech, ZONE)
        else {
            panic!("a fresh visit should be accepted");
        };
        assert!(is_new);
        assert!(matches!(
            plan(
                id,
                Some(merged.automerge()),
                &incoming,
                &actor(1),
                tech,
                ZONE
            ),
            Plan::Unchanged
        ));
    }

    #[test]
    fn refusals_name_their_reason() {
        let id = Uuid::from_u128(6);
        let tech = Author::Device(Role::Technician);
        let doc = RecordDoc::create(DocKind::Visit, id, "wuhan", actor(1), 0).unwrap();
        let incoming = raw(doc.automerge(), &[]);
        // Another device's actor.
        let Plan::Reject(r) = plan(id, None, &incoming, &actor(2), tech, ZONE) else {
            panic!()
        };
        assert_eq!(r.code, RefusalCode::ForeignActor);
        // Sent under another id.
        let Plan::Reject(r) = plan(Uuid::from_u128(7), None, &incoming, &actor(1), tech, ZONE)
        else {
            panic!()
        };
        assert_eq!(r.code, RefusalCode::BadRoot);
        // Garbage bytes.
        let Plan::Reject(r) = plan(id, None, &[vec![1, 2, 3]], &actor(1), tech, ZONE) else {
            panic!()
        };
        assert_eq!(r.code, RefusalCode::Malformed);
        // A change whose parent was never sent.
        let mut later = doc.clone();
        let before = later.heads();
        later.set(tech, "form.diagnosis", "noise", 0).unwrap();
        let Plan::Reject(r) = plan(
            id,
            None,
            &raw(later.automerge(), &before),
            &actor(1),
            tech,
            ZONE,
        ) else {
            panic!()
        };
        assert_eq!(r.code, RefusalCode::Malformed);
    }

    #[test]
    fn a_server_path_written_by_a_device_is_refused_with_its_path() {
        let id = Uuid::from_u128(8);
        let tech = Author::Device(Role::Technician);
        let doc = RecordDoc::create(DocKind::Visit, id, "wuhan", actor(1), 0).unwrap();
        let stored = doc.automerge().clone();
        // A tampering app writes straight into Automerge, past the model's checks.
        let mut am = doc.into_automerge();
        let before = am.get_heads();
        let dispatch = match am.get(automerge::ROOT, "dispatch").unwrap() {
            Some((_, obj)) => obj,
            None => panic!(),
        };
        use automerge::transaction::Transactable;
        let mut tx = am.transaction();
        tx.put(&dispatch, "technician", Uuid::from_u128(9).to_string())
            .unwrap();
        tx.commit();
        let Plan::Reject(r) = plan(id, Some(&stored), &raw(&am, &before), &actor(1), tech, ZONE)
        else {
            panic!()
        };
        assert_eq!(r.code, RefusalCode::ForbiddenPath);
        assert_eq!(r.path, "dispatch.technician");
    }

    /// Checking a new document by walking its keys gives the verdict the diff from nothing
    /// gives, for an honest visit and for each way of tampering with one.
    #[test]
    fn a_new_document_walked_is_judged_as_its_diff() {
        use automerge::transaction::Transactable;
        use automerge::{ObjType, ROOT};
        let tech = Author::Device(Role::Technician);
        let verdicts = |am: &Automerge| {
            let walked = check_new_document(DocKind::Visit, tech, am)
                .err()
                .map(|r| (r.code, r.path));
            let diffed = check_patches(DocKind::Visit, tech, true, &am.diff(&[], &am.get_heads()))
                .err()
                .map(|r| (r.code, r.path));
            (walked, diffed)
        };
        let honest = || {
            let mut doc =
                RecordDoc::create(DocKind::Visit, Uuid::from_u128(20), "wuhan", actor(1), 0)
                    .unwrap();
            doc.set(tech, "form.diagnosis", "bearing noise", 0).unwrap();
            doc.set(tech, "form.travel_fen", FieldValue::Int(8_000), 0)
                .unwrap();
            doc.into_automerge()
        };
        let section = |am: &Automerge, name: &str| am.get(ROOT, name).unwrap().unwrap().1;
        let (walked, diffed) = verdicts(&honest());
        assert_eq!(
            (walked, diffed),
            (None, None),
            "an honest visit passes both ways"
        );
        type Tamper = fn(&mut automerge::transaction::Transaction<'_>, &automerge::ObjId);
        let tampers: [(&str, Tamper, RefusalCode); 8] = [
            (
                "a server field",
                |tx, form| {
                    let _ = form;
                    let dispatch = tx.get(ROOT, "dispatch").unwrap().unwrap().1;
                    tx.put(&dispatch, "technician", "x").unwrap();
                },
                RefusalCode::ForbiddenPath,
            ),
            (
                "an unknown root key",
                |tx, _| {
                    tx.put(ROOT, "extra", "x").unwrap();
                },
                RefusalCode::UnknownPath,
            ),
            (
                "an unknown field",
                |tx, form| {
                    tx.put(form, "nope", "x").unwrap();
                },
                RefusalCode::UnknownPath,
            ),
            (
                "a map in a field",
                |tx, form| {
                    tx.put_object(form, "arrived_at", ObjType::Map).unwrap();
                },
                RefusalCode::InvalidValue,
            ),
            (
                "a text in a one-line field",
                |tx, form| {
                    tx.put_object(form, "arrived_at", ObjType::Text).unwrap();
                },
                RefusalCode::InvalidValue,
            ),
            (
                "notes as one value",
                |tx, form| {
                    tx.put(form, "work_done", "x").unwrap();
                },
                RefusalCode::InvalidValue,
            ),
            (
                "a negative amount",
                |tx, form| {
                    tx.put(form, "travel_fen", -5).unwrap();
                },
                RefusalCode::InvalidValue,
            ),
            (
                "a section as a value",
                |tx, _| {
                    tx.put(ROOT, "form", "x").unwrap();
                },
                RefusalCode::BadRoot,
            ),
        ];
        for (what, tamper, code) in tampers {
            let mut am = honest();
            let form = section(&am, "form");
            let mut tx = am.transaction();
            tamper(&mut tx, &form);
            tx.commit();
            let (walked, diffed) = verdicts(&am);
            assert_eq!(walked, diffed, "{what}: walked and diffed disagree");
            assert_eq!(walked.map(|w| w.0), Some(code), "{what}");
        }
        // Inside a note's entries: only maps of text, by and at, nothing deeper.
        type EntryTamper = fn(&mut automerge::transaction::Transaction<'_>, &automerge::ObjId);
        let entry_tampers: [(&str, EntryTamper, RefusalCode); 4] = [
            (
                "an entry that is a value",
                |tx, list| {
                    tx.insert(list, 0, "x").unwrap();
                },
                RefusalCode::InvalidValue,
            ),
            (
                "an unknown key in an entry",
                |tx, list| {
                    let entry = tx.get(list, 0).unwrap().unwrap().1;
                    tx.put(&entry, "colour", "red").unwrap();
                },
                RefusalCode::InvalidValue,
            ),
            (
                "a map inside an entry",
                |tx, list| {
                    let entry = tx.get(list, 0).unwrap().unwrap().1;
                    tx.put_object(&entry, "text", ObjType::Map).unwrap();
                },
                RefusalCode::UnknownPath,
            ),
            (
                "a time that is text",
                |tx, list| {
                    let entry = tx.get(list, 0).unwrap().unwrap().1;
                    tx.put(&entry, "at", "yesterday").unwrap();
                },
                RefusalCode::InvalidValue,
            ),
        ];
        for (what, tamper, code) in entry_tampers {
            let mut am = honest();
            let form = section(&am, "form");
            let list = am.get(&form, "diagnosis").unwrap().unwrap().1;
            let mut tx = am.transaction();
            tamper(&mut tx, &list);
            tx.commit();
            let (walked, diffed) = verdicts(&am);
            assert_eq!(walked.map(|w| w.0), Some(code), "{what}: walked");
            assert!(diffed.is_some(), "{what}: the diff refuses it too");
        }
        // A clerk's new visit may carry the notes' empty lists, not entries in them.
        let clerk = Author::Device(Role::Clerk);
        assert_eq!(
            check_new_document(DocKind::Visit, clerk, &honest()).map_err(|r| r.code),
            Err(RefusalCode::ForbiddenPath)
        );
        // An object nested in a schema 1 text is refused both ways (the diff names the
        // position inside the text as well).
        let mut am = honest();
        let form = section(&am, "form");
        let mut tx = am.transaction();
        let notes = tx.put_object(&form, "parts_used", ObjType::Text).unwrap();
        tx.splice_text(&notes, 0, 0, "belt and seal").unwrap();
        tx.split_block(&notes, 3).unwrap();
        tx.commit();
        let (walked, diffed) = verdicts(&am);
        assert_eq!(walked.map(|w| w.0), Some(RefusalCode::UnknownPath));
        assert!(diffed.is_some(), "the diff refuses a nested object too");
    }

    /// A damaged change that once made Automerge panic inside `apply_changes` (kept as a fixture).
    #[test]
    fn damaged_change_fixture_is_refused() {
        let id = Uuid::from_u128(12);
        let tech = Author::Device(Role::Technician);
        let doc = RecordDoc::create(DocKind::Visit, id, "wuhan", actor(1), 0).unwrap();
        let mut bytes = raw(doc.automerge(), &[]);
        let n = bytes[0].len();
        bytes[0][327 % n] ^= 1;
        assert!(matches!(
            plan(id, None, &bytes, &actor(1), tech, ZONE),
            Plan::Reject(_)
        ));
    }

    proptest::proptest! {
        /// Malformed input never panics: random change bytes are refused, random document bytes
        /// fail to load with an error.
        #[test]
        fn random_bytes_are_refused_never_a_panic(
            blobs in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300), 0..4),
        ) {
            let id = Uuid::from_u128(11);
            let tech = Author::Device(Role::Technician);
            match plan(id, None, &blobs, &actor(1), tech, ZONE) {
                Plan::Accept { .. } => proptest::prop_assert!(false, "random bytes accepted"),
                Plan::Unchanged | Plan::Reject(_) => {}
            }
            // Loading random bytes as a stored document returns an error; a panic fails the test.
            for b in &blobs {
                let _ = RecordDoc::load(b);
            }
        }

        /// A real change with bytes flipped is refused or, if it still parses, judged like any other.
        #[test]
        fn corrupted_changes_never_panic(flip in 0usize..400, bit in 0u8..8) {
            let id = Uuid::from_u128(12);
            let tech = Author::Device(Role::Technician);
            let doc = RecordDoc::create(DocKind::Visit, id, "wuhan", actor(1), 0).unwrap();
            let mut bytes = raw(doc.automerge(), &[]);
            let n = bytes[0].len();
            bytes[0][flip % n] ^= 1 << bit;
            let _ = plan(id, None, &bytes, &actor(1), tech, ZONE);
        }
    }
}
