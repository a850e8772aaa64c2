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
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use uuid::Uuid;

/// What to do with one document of a batch.
#[derive(Debug)]
pub enum Plan {
    /// Nothing new arrived (a pull, or a resend of what the server has).
    Unchanged,
    /// The new changes are accepted; `doc` is the merged document.
    Accept {
        doc: Box<RecordDoc>,
        new_changes: Vec<NewChange>,
        is_new: bool,
        /// The document as the device saved it, when it was sent whole and loaded from that:
        /// it is stored as the snapshot as it is.
        saved: Option<Vec<u8>>,
    },
    Reject(Refusal),
}

/// A change the server does not have yet, as the change log records it.
#[derive(Debug, Clone)]
pub struct NewChange {
    pub hash: ChangeHash,
    pub actor: ActorId,
    pub seq: u64,
    /// The writer's clock when it made the change (a claim), seconds.
    pub timestamp: i64,
    pub bytes: Vec<u8>,
}

impl From<&Change> for NewChange {
    fn from(c: &Change) -> Self {
        NewChange {
            hash: c.hash(),
            actor: c.actor_id().clone(),
            seq: c.seq(),
            timestamp: c.timestamp(),
            bytes: c.raw_bytes().to_vec(),
        }
    }
}

/// One Automerge chunk's type and the offset of its body, if `bytes` is exactly one chunk.
/// Chunk: magic (4), checksum (4), type (1: 0 document, 1 change, 2 compressed change),
/// LEB128 body length, body.
fn one_chunk(bytes: &[u8]) -> Option<(u8, usize)> {
    const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
    if bytes.len() < 10 || bytes[..4] != MAGIC {
        return None;
    }
    let (mut len, mut shift, mut at) = (0u64, 0u32, 9usize);
    loop {
        let b = *bytes.get(at)?;
        at += 1;
        if shift > 56 {
            return None;
        }
        len |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    ((bytes.len() - at) as u64 == len).then_some((bytes[8], at))
}

/// The hash of a change read from its chunk header, without decoding its operations. `None`
/// unless `bytes` is exactly one uncompressed change chunk whose checksum matches.
pub fn plain_change_hash(bytes: &[u8]) -> Option<ChangeHash> {
    // The hash is SHA-256 over type, length and body; the checksum is its first four bytes.
    let (1, _) = one_chunk(bytes)? else {
        return None;
    };
    let digest: [u8; 32] = Sha256::digest(&bytes[8..]).into();
    (digest[..4] == bytes[4..8]).then_some(ChangeHash(digest))
}

/// A new document sent whole (its `save()`) beside its changes: loaded from the saved form,
/// which costs Automerge about half of applying every change. Used only when the saved form
/// holds exactly the changes sent, all by `device_actor`; otherwise `None`, and the changes are
/// judged on their own.
fn load_whole(
    whole: &[u8],
    incoming: &[Vec<u8>],
    device_actor: &ActorId,
) -> Option<(Automerge, Vec<NewChange>)> {
    // One document chunk and nothing after it: changes appended to it could wait in the loaded
    // document for a missing dependency, unchecked, and be stored with the snapshot.
    if !matches!(one_chunk(whole), Some((0, _))) {
        return None;
    }
    let mut sent: HashMap<ChangeHash, &[u8]> = HashMap::with_capacity(incoming.len());
    for bytes in incoming {
        sent.insert(plain_change_hash(bytes)?, bytes);
    }
    // Loading checks that the saved heads are the hashes of the saved operations. Damaged
    // bytes can make Automerge 0.12 panic (see `plan`); that is a failed load here.
    let doc = std::panic::catch_unwind(|| Automerge::load(whole))
        .ok()?
        .ok()?;
    let metas = doc.get_changes_meta(&[]);
    if metas.len() != sent.len() {
        return None;
    }
    let mut changes = Vec::with_capacity(metas.len());
    for meta in metas {
        if meta.actor.as_ref() != device_actor {
            return None;
        }
        let bytes = sent.get(&meta.hash)?;
        changes.push(NewChange {
            hash: meta.hash,
            actor: meta.actor.into_owned(),
            seq: meta.seq,
            timestamp: meta.timestamp,
            bytes: bytes.to_vec(),
        });
    }
    Some((doc, changes))
}

fn refuse(code: RefusalCode, path: &str, message: impl Into<String>) -> Plan {
    Plan::Reject(Refusal::new(code, path, message))
}

/// Decides on `incoming` raw changes for document `id`, sent by a device whose bound actor is
/// `device_actor`, written as `author`.
pub fn plan(
    id: Uuid,
    existing: Option<&Automerge>,
    incoming: &[Vec<u8>],
    device_actor: &ActorId,
    author: Author,
    zone: chrono_tz::Tz,
) -> Plan {
    plan_sent(id, existing, incoming, None, device_actor, author, zone)
}

/// [`plan`], for a device that may also have sent the document whole (`whole`, its `save()`).
/// The whole form is only a faster way to build a document the server does not have: the
/// verdict is the one the changes alone get.
pub fn plan_sent(
    id: Uuid,
    existing: Option<&Automerge>,
    incoming: &[Vec<u8>],
    whole: Option<&[u8]>,
    device_actor: &ActorId,
    author: Author,
    zone: chrono_tz::Tz,
) -> Plan {
    if existing.is_none()
        && let Some(whole) = whole
        && let Some((doc, new_changes)) = load_whole(whole, incoming, device_actor)
    {
        return judge(
            id,
            &Automerge::new(),
            doc,
            new_changes,
            Some(whole.to_vec()),
            author,
            zone,
        );
    }
    let mut changes = Vec::with_capacity(incoming.len());
    for (i, bytes) in incoming.iter().enumerate() {
        match Change::from_bytes(bytes.clone()) {
            Ok(c) => changes.push(c),
            Err(e) => {
                return refuse(
                    RefusalCode::Malformed,
                    "",
                    format!("change {i} cannot be read: {e}"),
                );
            }
        }
    }
    let empty = Automerge::new();
    let base = existing.unwrap_or(&empty);
    let mut seen: Vec<ChangeHash> = Vec::new();
    let new_changes: Vec<Change> = changes
        .into_iter()
        .filter(|c| {
            let hash = c.hash();
            let fresh = !has_change(base, &hash) && !seen.contains(&hash);
            seen.push(hash);
            fresh
        })
        .collect();
    if new_changes.is_empty() {
        return Plan::Unchanged;
    }
    if let Some(foreign) = new_changes.iter().find(|c| c.actor_id() != device_actor) {
        return refuse(
            RefusalCode::ForeignActor,
            "",
            format!(
                "a change was made by actor {}, which is not this device's actor",
                foreign.actor_id().to_hex_string()
            ),
        );
    }
    // Automerge 0.12 can panic on a change whose bytes were damaged after its checksum was
    // made (found by the fuzz test below); a panic here refuses the batch, it never takes the
    // server down or turns into a 500.
    let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut merged = base.clone();
        merged.apply_changes(new_changes.clone()).map(|()| merged)
    }));
    let merged = match applied {
        Ok(Ok(merged)) => merged,
        Ok(Err(e)) => {
            return refuse(
                RefusalCode::Malformed,
                "",
                format!("the changes cannot be applied: {e}"),
            );
        }
        Err(_) => return refuse(RefusalCode::Malformed, "", "the change bytes are damaged"),
    };
    let missing = merged.get_missing_deps(&[]);
    if !missing.is_empty() {
        return refuse(
            RefusalCode::Malformed,
            "",
            format!(
                "the changes depend on {} change(s) the server does not have; send the whole history",
                missing.len()
            ),
        );
    }
    let new_changes = new_changes.iter().map(NewChange::from).collect();
    judge(id, base, merged, new_changes, None, author, zone)
}

/// The checks every merged document passes: its root, field ownership, and the rules.
fn judge(
    id: Uuid,
    base: &Automerge,
    merged: Automerge,
    new_changes: Vec<NewChange>,
    saved: Option<Vec<u8>>,
    author: Author,
    zone: chrono_tz::Tz,
) -> Plan {
    let is_new = base.get_heads().is_empty();
    let root = match read_root(&merged) {
        Ok(root) => root,
        Err(refusal) => return Plan::Reject(refusal),
    };
    if root.id != id {
        return refuse(
            RefusalCode::BadRoot,
            "id",
            format!("the document says id {}, but was sent as {id}", root.id),
        );
    }
    // A new document is checked by walking its keys; an edit by the diff of what it changed.
    let checked = if is_new {
        check_new_document(root.kind, author, &merged)
    } else {
        let patches = merged.diff(&base.get_heads(), &merged.get_heads());
        check_patches(root.kind, author, false, &patches)
    };
    if let Err(refusal) = checked {
        return Plan::Reject(refusal);
    }
    let doc = match RecordDoc::from_automerge(merged) {
        Ok(doc) => doc,
        Err(e) => return refuse(RefusalCode::BadRoot, "", e.to_string()),
    };
    if let Err(refusal) = rules::check_in(&doc, zone) {
        return Plan::Reject(refusal);
    }
    Plan::Accept {
        doc: Box::new(doc),
        new_changes,
        is_new,
        saved,
    }
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
        // An object nested in a notes text is refused both ways (the diff names the position
        // inside the text as well).
        let mut am = honest();
        let form = section(&am, "form");
        let notes = am.get(&form, "diagnosis").unwrap().unwrap().1;
        let mut tx = am.transaction();
        tx.split_block(&notes, 3).unwrap();
        tx.commit();
        let (walked, diffed) = verdicts(&am);
        assert_eq!(walked.map(|w| w.0), Some(RefusalCode::UnknownPath));
        assert!(diffed.is_some(), "the diff refuses a nested object too");
    }

    /// What a plan decided, comparable across the two ways of sending a new document.
    fn outcome(p: &Plan) -> (String, Vec<ChangeHash>, Vec<ChangeHash>) {
        match p {
            Plan::Unchanged => ("unchanged".into(), vec![], vec![]),
            Plan::Reject(r) => (format!("{:?} {}", r.code, r.path), vec![], vec![]),
            Plan::Accept {
                doc, new_changes, ..
            } => {
                let mut hashes: Vec<ChangeHash> = new_changes.iter().map(|c| c.hash).collect();
                hashes.sort();
                ("accept".into(), doc.heads(), hashes)
            }
        }
    }

    fn sent_whole(p: &Plan) -> bool {
        matches!(p, Plan::Accept { saved: Some(_), .. })
    }

    /// A new document sent whole beside its changes gets the verdict its changes alone get,
    /// honest or tampered; the whole form is used only when it holds exactly those changes.
    #[test]
    fn a_new_document_sent_whole_is_judged_as_its_changes() {
        use automerge::transaction::Transactable;
        let tech = Author::Device(Role::Technician);
        let id = Uuid::from_u128(30);
        let visit = |id: Uuid, n: u8| {
            let mut doc = RecordDoc::create(DocKind::Visit, id, "wuhan", actor(n), 0).unwrap();
            doc.set(tech, "form.work_done", "seal replaced, pump tested", 0)
                .unwrap();
            doc.set(tech, "form.travel_fen", FieldValue::Int(12_000), 0)
                .unwrap();
            doc.into_automerge()
        };
        let both = |am: &Automerge, whole: &[u8], by: u8| {
            let changes = raw(am, &[]);
            (
                plan(id, None, &changes, &actor(by), tech, ZONE),
                plan_sent(id, None, &changes, Some(whole), &actor(by), tech, ZONE),
            )
        };

        let honest = visit(id, 1);
        let (alone, whole) = both(&honest, &honest.save(), 1);
        assert_eq!(outcome(&alone).0, "accept");
        assert_eq!(outcome(&alone), outcome(&whole));
        assert!(
            sent_whole(&whole),
            "the whole form is used for an honest new record"
        );

        // Tampered: a server field, an unknown field, a negative amount, another id.
        let tampers: [fn(&mut automerge::transaction::Transaction<'_>); 4] = [
            |tx| {
                let dispatch = tx.get(automerge::ROOT, "dispatch").unwrap().unwrap().1;
                tx.put(&dispatch, "technician", "x").unwrap();
            },
            |tx| {
                let form = tx.get(automerge::ROOT, "form").unwrap().unwrap().1;
                tx.put(&form, "nope", "x").unwrap();
            },
            |tx| {
                let form = tx.get(automerge::ROOT, "form").unwrap().unwrap().1;
                tx.put(&form, "travel_fen", -5).unwrap();
            },
            |tx| {
                tx.put(automerge::ROOT, "id", Uuid::from_u128(99).to_string())
                    .unwrap();
            },
        ];
        for tamper in tampers {
            let mut am = visit(id, 1);
            let mut tx = am.transaction();
            tamper(&mut tx);
            tx.commit();
            let (alone, whole) = both(&am, &am.save(), 1);
            assert!(matches!(alone, Plan::Reject(_)));
            assert_eq!(outcome(&alone), outcome(&whole));
        }

        // Another device's actor: refused as the changes are, whichever way it was sent.
        let (alone, whole) = both(&honest, &honest.save(), 2);
        assert_eq!(outcome(&alone), outcome(&whole));
        assert!(outcome(&alone).0.starts_with("ForeignActor"));

        // A whole form that is not these changes is ignored: another record, one change more,
        // one change fewer, damaged bytes, a change appended, random bytes.
        let other = visit(Uuid::from_u128(31), 1);
        let mut more = honest.clone();
        more.set_actor(actor(1));
        let mut tx = more.transaction();
        let form = tx.get(automerge::ROOT, "form").unwrap().unwrap().1;
        tx.put(&form, "arrived_at", "2026-11-27T09:00:00+08:00")
            .unwrap();
        tx.commit();
        let fewer = RecordDoc::create(DocKind::Visit, id, "wuhan", actor(1), 0)
            .unwrap()
            .into_automerge();
        let mut damaged = honest.save();
        let n = damaged.len();
        damaged[n / 2] ^= 0x40;
        // The saved record followed by a change whose dependency it lacks: loading keeps that
        // change waiting, unchecked, and the changes sent would still match.
        let mut further = more.clone();
        let mut tx = further.transaction();
        tx.put(&form, "travel_fen", 9_000).unwrap();
        tx.commit();
        let mut trailing = honest.save();
        trailing.extend_from_slice(further.get_changes(&more.get_heads())[0].raw_bytes());
        for wrong in [
            other.save(),
            more.save(),
            fewer.save(),
            damaged,
            trailing,
            vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3],
        ] {
            let (alone, whole) = both(&honest, &wrong, 1);
            assert_eq!(outcome(&alone), outcome(&whole));
            assert!(
                !sent_whole(&whole),
                "a whole form that does not match is not used"
            );
        }

        // A document the server already has is never rebuilt from a whole form.
        let Plan::Accept { doc: stored, .. } = both(&fewer, &fewer.save(), 1).0 else {
            panic!("the bare record is accepted");
        };
        let changes = raw(&honest, &[]);
        let again = plan_sent(
            id,
            Some(stored.automerge()),
            &changes,
            Some(&honest.save()),
            &actor(1),
            tech,
            ZONE,
        );
        assert_eq!(outcome(&again).0, "accept");
        assert!(!sent_whole(&again));
    }

    /// A change's hash read from its header is the hash Automerge computes; anything but one
    /// plain change chunk with a matching checksum gives none.
    #[test]
    fn change_hash_from_the_header() {
        let doc =
            RecordDoc::create(DocKind::Visit, Uuid::from_u128(40), "wuhan", actor(1), 0).unwrap();
        let mut change = doc.automerge().get_changes(&[])[0].clone();
        let bytes = change.raw_bytes().to_vec();
        assert_eq!(plain_change_hash(&bytes), Some(change.hash()));
        let compressed = change.bytes().to_vec();
        if compressed != bytes {
            assert_eq!(plain_change_hash(&compressed), None, "a compressed chunk");
        }
        let mut flipped = bytes.clone();
        let n = flipped.len();
        flipped[n - 1] ^= 1;
        assert_eq!(plain_change_hash(&flipped), None, "checksum mismatch");
        assert_eq!(plain_change_hash(&bytes[..n - 1]), None, "truncated");
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(plain_change_hash(&longer), None, "trailing bytes");
        assert_eq!(plain_change_hash(&[]), None);
        assert_eq!(
            plain_change_hash(&doc.automerge().save()),
            None,
            "a document chunk"
        );
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
            // The same bytes sent as a whole document beside them.
            for b in &blobs {
                match plan_sent(id, None, &blobs, Some(b), &actor(1), tech, ZONE) {
                    Plan::Accept { .. } => proptest::prop_assert!(false, "random bytes accepted"),
                    Plan::Unchanged | Plan::Reject(_) => {}
                }
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
