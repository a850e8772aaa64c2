//! Loading, merging and storing record documents: runs a sync batch or a back-office edit in one
//! transaction (changes, snapshot, projection and feed position together), using the pure
//! planner in [`crate::merge`] for every decision.

use automerge::{Automerge, Change, ReadDoc};
use fieldloop_client_core::model::ownership::Author;
use fieldloop_client_core::model::{FieldValue, RecordDoc, Refusal, RefusalCode};
use fieldloop_client_core::wire::heads_to_text;
use fieldloop_client_core::wire::{Bytes, DocReply, SyncRequest, SyncResponse, Verdict};
use uuid::Uuid;

use crate::AppState;
use crate::access::Principal;
use crate::auth::server_actor;
use crate::db::accounts::Device;
use crate::db::docs::{ChangeRow, DocRow, DocWrite, FieldRow, blob_exists, load_doc, write_doc};
use crate::db::{Tx, next_counter};
use crate::error::{ApiError, ApiResult};
use crate::merge::{Plan, plan};

fn load_automerge(row: &DocRow) -> ApiResult<Automerge> {
    Automerge::load(&row.snapshot)
        .map_err(|e| ApiError::internal(format!("stored document {} is damaged: {e}", row.id)))
}

fn projection(doc: &RecordDoc) -> Vec<FieldRow> {
    doc.values()
        .into_iter()
        .map(|(path, v)| match v {
            FieldValue::Int(n) => FieldRow {
                path: path.to_string(),
                value: n.to_string(),
                value_int: Some(n),
            },
            FieldValue::Text(t) => FieldRow {
                path: path.to_string(),
                value: t,
                value_int: None,
            },
        })
        .collect()
}

fn change_rows(changes: &[Change], user: Uuid, device: Option<Uuid>) -> Vec<ChangeRow> {
    changes
        .iter()
        .map(|c| ChangeRow {
            hash: c.hash().to_string(),
            actor: c.actor_id().to_hex_string(),
            actor_seq: c.seq() as i64,
            bytes: c.raw_bytes().to_vec(),
            user_id: user,
            device_id: device,
            device_time: c.timestamp().saturating_mul(1000),
        })
        .collect()
}

fn assignee_of(doc: &RecordDoc) -> Option<Uuid> {
    doc.get("dispatch.technician")
        .and_then(|v| v.as_text().and_then(|t| Uuid::parse_str(t).ok()))
}

/// Blobs a document refers to that changed in this merge must already be on the server.
async fn check_blobs(
    tx: &mut Tx,
    before: Option<&RecordDoc>,
    after: &RecordDoc,
) -> ApiResult<Option<Refusal>> {
    let path = "signature.blob_sha256";
    let Some(FieldValue::Text(sha)) = after.get(path) else {
        return Ok(None);
    };
    if sha.is_empty() || before.and_then(|b| b.get(path)) == Some(FieldValue::Text(sha.clone())) {
        return Ok(None);
    }
    if blob_exists(tx, &sha).await? {
        Ok(None)
    } else {
        Ok(Some(Refusal::new(
            RefusalCode::MissingBlob,
            path,
            format!(
                "blob {sha} has not been uploaded; upload it before the change that refers to it"
            ),
        )))
    }
}

/// Stores an accepted merge.
#[allow(clippy::too_many_arguments)]
async fn store(
    tx: &mut Tx,
    existing: Option<&DocRow>,
    doc: &RecordDoc,
    new_changes: &[Change],
    user: Uuid,
    device: Option<Uuid>,
    seq: i64,
) -> ApiResult<()> {
    let created_by = existing.map(|r| r.created_by).unwrap_or(user);
    write_doc(
        tx,
        DocWrite {
            id: doc.id(),
            kind: doc.kind(),
            region: doc.region(),
            created_by,
            assignee: assignee_of(doc),
            snapshot: doc.automerge().save(),
            heads: heads_to_text(&doc.heads()),
            seq,
            is_new: existing.is_none(),
            changes: change_rows(new_changes, user, device),
            fields: projection(doc),
        },
    )
    .await?;
    Ok(())
}

fn reply(id: Uuid, verdict: Verdict, doc: Option<&Automerge>, client_heads: &[String]) -> DocReply {
    let Some(doc) = doc else {
        return DocReply {
            id,
            verdict,
            heads: Vec::new(),
            changes: Vec::new(),
        };
    };
    // Changes the device lacks: everything after the heads it has that the server knows.
    let known: Vec<_> = client_heads
        .iter()
        .filter_map(|h| h.parse().ok())
        .filter(|h| doc.get_change_by_hash(h).is_some())
        .collect();
    DocReply {
        id,
        verdict,
        heads: doc.get_heads().iter().map(|h| h.to_string()).collect(),
        changes: doc
            .get_changes(&known)
            .iter()
            .map(|c| Bytes(c.raw_bytes().to_vec()))
            .collect(),
    }
}

/// Checks a sync request's shape before anything is stored.
pub fn validate_request(request: &SyncRequest) -> ApiResult<()> {
    use fieldloop_client_core::wire::MAX_DOCS_PER_SYNC;
    if request.docs.len() > MAX_DOCS_PER_SYNC {
        return Err(ApiError::invalid(format!(
            "a sync request carries at most {MAX_DOCS_PER_SYNC} documents, this one {}",
            request.docs.len()
        )));
    }
    let mut ids: Vec<Uuid> = request.docs.iter().map(|d| d.id).collect();
    ids.sort();
    if ids.windows(2).any(|w| w[0] == w[1]) {
        return Err(ApiError::invalid(
            "a document appears twice in one sync request",
        ));
    }
    for doc in &request.docs {
        for head in &doc.heads {
            if head.parse::<automerge::ChangeHash>().is_err() {
                return Err(ApiError::invalid(format!("'{head}' is not a change hash")));
            }
        }
    }
    Ok(())
}

/// Runs one sync batch from `device` (already checked to belong to `principal`). All accepted
/// documents are stored in one transaction, which is also the feed's order.
pub async fn sync_batch(
    state: &AppState,
    principal: &Principal,
    device: &Device,
    request: SyncRequest,
) -> ApiResult<SyncResponse> {
    validate_request(&request)?;
    let actor: automerge::ActorId = device
        .actor_id
        .parse()
        .map_err(|_| ApiError::internal("a device's stored actor id is damaged"))?;
    let author = Author::Device(principal.role);
    // A batch that only pulls reads without taking the write lock.
    let writes = request.docs.iter().any(|d| !d.changes.is_empty());
    let mut tx = if writes {
        state.db.begin_write().await?
    } else {
        state.db.pool.begin().await?
    };
    // Taking the feed position first serialises merges: each sees the one before it.
    let seq = if writes {
        next_counter(&mut tx, "feed").await?
    } else {
        0
    };
    let mut replies = Vec::with_capacity(request.docs.len());
    let mut stored_any = false;
    for push in request.docs {
        let row = load_doc(&mut tx, push.id).await?;
        let hidden = row
            .as_ref()
            .is_some_and(|r| !principal.sees(&r.region, r.created_by, r.assignee));
        if hidden {
            let refusal = Refusal::new(
                RefusalCode::NotVisible,
                "",
                "this record is not yours to see or change",
            );
            replies.push(reply(push.id, Verdict::Rejected { refusal }, None, &[]));
            continue;
        }
        let existing = row.as_ref().map(load_automerge).transpose()?;
        let raw: Vec<Vec<u8>> = push.changes.into_iter().map(|b| b.0).collect();
        let verdict = match plan(push.id, existing.as_ref(), &raw, &actor, author) {
            Plan::Unchanged if existing.is_none() => {
                let refusal = Refusal::new(RefusalCode::NotVisible, "", "no such record");
                replies.push(reply(push.id, Verdict::Rejected { refusal }, None, &[]));
                continue;
            }
            Plan::Unchanged => {
                replies.push(reply(
                    push.id,
                    Verdict::Accepted,
                    existing.as_ref(),
                    &push.heads,
                ));
                continue;
            }
            Plan::Reject(refusal) => Err(refusal),
            Plan::Accept {
                doc,
                new_changes,
                is_new,
            } => {
                let before = existing
                    .clone()
                    .map(RecordDoc::from_automerge)
                    .transpose()
                    .ok()
                    .flatten();
                if is_new && !principal.may_create_in(doc.region()) {
                    Err(Refusal::new(
                        RefusalCode::NotVisible,
                        "region",
                        format!(
                            "you may create records in your own region only, not in '{}'",
                            doc.region()
                        ),
                    ))
                } else if let Some(refusal) = check_blobs(&mut tx, before.as_ref(), &doc).await? {
                    Err(refusal)
                } else {
                    store(
                        &mut tx,
                        row.as_ref(),
                        &doc,
                        &new_changes,
                        principal.user_id,
                        Some(device.id),
                        seq,
                    )
                    .await?;
                    stored_any = true;
                    Ok(doc)
                }
            }
        };
        match verdict {
            Ok(doc) => replies.push(reply(
                push.id,
                Verdict::Accepted,
                Some(doc.automerge()),
                &push.heads,
            )),
            Err(refusal) => {
                tracing::info!(doc = %push.id, %refusal, "document refused");
                replies.push(reply(
                    push.id,
                    Verdict::Rejected { refusal },
                    existing.as_ref(),
                    &push.heads,
                ));
            }
        }
    }
    if stored_any {
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    Ok(SyncResponse {
        docs: replies,
        server_time: chrono::Utc::now().to_rfc3339(),
    })
}

/// A back-office edit: writes server fields of a record as the acting user's server actor, in
/// one transaction with its projection and feed position. `decide` sees the current document and
/// returns the writes, or refuses.
pub async fn server_edit(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    decide: impl FnOnce(&RecordDoc) -> ApiResult<Vec<(&'static str, FieldValue)>>,
) -> ApiResult<RecordDoc> {
    let mut tx = state.db.begin_write().await?;
    let seq = next_counter(&mut tx, "feed").await?;
    let row = load_doc(&mut tx, id)
        .await?
        .filter(|r| principal.sees(&r.region, r.created_by, r.assignee))
        .ok_or_else(|| ApiError::not_found(format!("no record {id} that you may see")))?;
    let mut doc = RecordDoc::from_automerge(load_automerge(&row)?).map_err(ApiError::internal)?;
    let writes = decide(&doc)?;
    doc.set_actor(server_actor(principal.user_id));
    let before = doc.heads();
    doc.set_many(Author::Server, &writes, chrono::Utc::now().timestamp())
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    let new_changes: Vec<Change> = doc.automerge().get_changes(&before);
    store(
        &mut tx,
        Some(&row),
        &doc,
        &new_changes,
        principal.user_id,
        None,
        seq,
    )
    .await?;
    tx.commit().await?;
    Ok(doc)
}
