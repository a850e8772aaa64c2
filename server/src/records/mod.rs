//! Loading, merging and storing record documents: runs a sync batch or a back-office edit in one
//! transaction (changes, snapshot, projection and feed position together), using the pure
//! planner in [`crate::merge`] for every decision.

use std::collections::HashMap;
use std::sync::Arc;

use automerge::{ActorId, Automerge, Change, ReadDoc};
use fieldloop_client_core::model::ownership::Author;
use fieldloop_client_core::model::{FieldValue, RecordDoc, Refusal, RefusalCode};
use fieldloop_client_core::wire::heads_to_text;
use fieldloop_client_core::wire::{Bytes, DocPush, DocReply, SyncRequest, SyncResponse, Verdict};
use uuid::Uuid;

use crate::AppState;
use crate::access::Principal;
use crate::auth::server_actor;
use crate::db::accounts::Device;
use crate::db::docs::{
    ChangeRow, DocRow, DocWrite, FieldRow, Stored, blob_exists, doc_seqs, load_doc, load_docs,
    write_docs,
};
use crate::db::service::receipt_number_taken;
use crate::db::{Tx, next_counter};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::merge::{Plan, plan};

use crate::db::service::SyncedReceipt;

mod batch;
mod decide;
mod edit;

pub use batch::{sync_batch, validate_request};
pub use edit::{server_create_in, server_edit, server_edit_in};

fn load_automerge(row: &DocRow) -> AppResult<Automerge> {
    row.automerge().map_err(AppError::internal)
}

/// The projected field rows of a document, as a merge writes them: what lists, filters and
/// reports query (`fields::projected`). Growing notes and most free text are read from the
/// document instead.
pub fn projection(doc: &RecordDoc) -> Vec<FieldRow> {
    use fieldloop_client_core::model::fields;
    let kind = doc.kind();
    let mut rows: Vec<FieldRow> = doc
        .values()
        .into_iter()
        .filter(|(path, _)| fields::spec(kind, path).is_some_and(fields::projected))
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
        .collect();
    // Each photo as the blob it refers to (`form.photos.0.blob_sha256`), so that who may see
    // the record may see the photo, and the blob is never swept as unused.
    for spec in photo_fields(kind) {
        for (i, photo) in doc.photos(spec.path).into_iter().enumerate() {
            rows.push(FieldRow {
                path: format!("{}.{i}.blob_sha256", spec.path),
                value: photo.sha256,
                value_int: None,
            });
        }
    }
    rows
}

fn photo_fields(
    kind: fieldloop_client_core::model::DocKind,
) -> impl Iterator<Item = &'static fieldloop_client_core::model::FieldSpec> {
    fieldloop_client_core::model::fields::fields(kind)
        .iter()
        .filter(|spec| spec.ty == fieldloop_client_core::model::FieldType::Photos)
}

/// The change log rows of `changes`, written by `user` from `device`.
pub fn change_rows(changes: &[Change], user: Uuid, device: Option<Uuid>) -> Vec<ChangeRow> {
    changes
        .iter()
        .map(|c| ChangeRow {
            hash: c.hash(),
            actor: c.actor_id().clone(),
            actor_seq: c.seq() as i64,
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

/// The rows an accepted merge writes.
fn prepare(
    existing: Option<&DocRow>,
    doc: &RecordDoc,
    new_changes: &[Change],
    user: Uuid,
    device: Option<Uuid>,
    seq: i64,
) -> DocWrite {
    DocWrite {
        id: doc.id(),
        kind: doc.kind(),
        region: doc.region().to_string(),
        created_by: existing.map(|r| r.created_by).unwrap_or(user),
        assignee: assignee_of(doc),
        stored: Stored::after(
            existing,
            &new_changes
                .iter()
                .map(|c| c.raw_bytes())
                .collect::<Vec<_>>(),
            || doc.automerge().save(),
        ),
        heads: heads_to_text(&doc.heads()),
        seq,
        changes: change_rows(new_changes, user, device),
        fields: projection(doc),
    }
}

/// What was decided for one document of a batch, before blobs are checked and rows written.
// Short-lived, one per document of a batch: boxing the large variant buys nothing.
/// A text field of a stored document, read in place (a blob reference is a plain string).
fn scalar_text(doc: &Automerge, path: &str) -> Option<String> {
    let (section, key) = path.split_once('.')?;
    let (_, obj) = doc.get(automerge::ROOT, section).ok().flatten()?;
    match doc.get(&obj, key).ok().flatten()? {
        (automerge::Value::Scalar(v), _) => match v.as_ref() {
            automerge::ScalarValue::Str(t) => Some(t.to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// A blob reference the merge adds or changes: a blob field, or a photo.
fn new_blob_ref(before: Option<&Automerge>, after: &RecordDoc) -> Vec<(&'static str, String)> {
    let mut refs: Vec<(&'static str, String)> =
        fieldloop_client_core::model::fields::fields(after.kind())
            .iter()
            .filter(|spec| spec.path.ends_with("blob_sha256"))
            .filter_map(|spec| {
                let Some(FieldValue::Text(sha)) = after.get(spec.path) else {
                    return None;
                };
                let unchanged =
                    before.and_then(|b| scalar_text(b, spec.path)).as_ref() == Some(&sha);
                (!sha.is_empty() && !unchanged).then_some((spec.path, sha))
            })
            .collect();
    for spec in photo_fields(after.kind()) {
        let photos = after.photos(spec.path);
        if photos.is_empty() {
            continue;
        }
        // The earlier document is read only for a record with photos.
        let had: std::collections::HashSet<String> = before
            .and_then(|b| RecordDoc::from_automerge(b.clone()).ok())
            .map(|d| d.photos(spec.path).into_iter().map(|p| p.sha256).collect())
            .unwrap_or_default();
        for photo in photos {
            if !had.contains(&photo.sha256) {
                refs.push((spec.path, photo.sha256));
            }
        }
    }
    refs
}

/// A field of a merged document's projection, if set.
fn field_of(write: &DocWrite, path: &str) -> Option<String> {
    write
        .fields
        .iter()
        .find(|f| f.path == path)
        .map(|f| f.value.clone())
        .filter(|v| !v.is_empty())
}

/// The feedback item a merged feedback document stands for (§3.2).
pub fn feedback_item(
    write: &DocWrite,
    at: chrono::DateTime<chrono::Utc>,
) -> Option<crate::db::feedback::NewItem> {
    if write.kind != fieldloop_client_core::model::DocKind::Feedback {
        return None;
    }
    Some(crate::db::feedback::NewItem {
        id: write.id,
        region: write.region.clone(),
        kind: field_of(write, "answer.kind")?,
        severity: field_of(write, "answer.severity").unwrap_or_else(|| "general".into()),
        technician: field_of(write, "answer.technician"),
        visit_id: field_of(write, "answer.visit_id"),
        campaign_id: field_of(write, "answer.campaign_id"),
        rating: field_of(write, "answer.rating").and_then(|r| r.parse().ok()),
        at: at.timestamp_millis(),
    })
}

/// The receipt number a merged take-back receipt carries, if any.
fn receipt_number(write: &DocWrite) -> Option<String> {
    (write.kind == fieldloop_client_core::model::DocKind::Receipt)
        .then(|| {
            write
                .fields
                .iter()
                .find(|f| f.path == "receipt.number")
                .map(|f| f.value.clone())
        })
        .flatten()
        .filter(|n| !n.trim().is_empty())
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
    // Changes the device lacks: everything after the heads it has that the server knows
    // (nothing, without asking the document, when the device has the server's heads).
    let heads = doc.get_heads();
    let mut known: Vec<automerge::ChangeHash> = client_heads
        .iter()
        .filter_map(|h| h.parse().ok())
        .filter(|h| fieldloop_client_core::model::doc::has_change(doc, h))
        .collect();
    known.sort();
    let mut sorted = heads.clone();
    sorted.sort();
    let changes = if known == sorted {
        Vec::new()
    } else {
        doc.get_changes(&known)
            .iter()
            .map(|c| Bytes(c.raw_bytes().to_vec()))
            .collect()
    };
    DocReply {
        id,
        verdict,
        heads: heads.iter().map(|h| h.to_string()).collect(),
        changes,
    }
}
