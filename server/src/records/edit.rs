//! Back-office edits and records created in the office, written as the acting user's server
//! actor in the caller's transaction.

use super::*;

/// A back-office edit: writes server fields of a record as the acting user's server actor, in
/// one transaction with its projection and feed position. `decide` sees the current document and
/// returns the writes, or refuses.
pub async fn server_edit(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    decide: impl FnOnce(&RecordDoc) -> AppResult<Vec<(&'static str, FieldValue)>>,
) -> AppResult<RecordDoc> {
    let mut tx = state.db.begin_write().await?;
    let doc = server_edit_in(&mut tx, principal, id, state.now(), decide).await?;
    tx.commit().await?;
    Ok(doc)
}

/// [`server_edit`] inside the caller's write transaction, so a workflow step and the document
/// it mirrors into commit together. `at` is the server's time of the edit.
pub async fn server_edit_in(
    tx: &mut Tx,
    principal: &Principal,
    id: Uuid,
    at: chrono::DateTime<chrono::Utc>,
    decide: impl FnOnce(&RecordDoc) -> AppResult<Vec<(&'static str, FieldValue)>>,
) -> AppResult<RecordDoc> {
    let seq = next_counter(tx, "feed").await?;
    let row = load_doc(tx, id)
        .await?
        .filter(|r| principal.sees(&r.region, r.created_by, r.assignee))
        .ok_or_else(|| AppError::not_found(format!("no record {id} that you may see")))?;
    let mut doc = RecordDoc::from_automerge(load_automerge(&row)?).map_err(AppError::internal)?;
    let writes = decide(&doc)?;
    doc.set_actor(server_actor(principal.user_id));
    let before = doc.heads();
    doc.set_many(Author::Server, &writes, at.timestamp())
        .map_err(|e| AppError::invalid(e.to_string()))?;
    let new_changes: Vec<Change> = doc.automerge().get_changes(&before);
    let write = prepare(Some(&row), &doc, &new_changes, principal.user_id, None, seq);
    write_docs(tx, vec![write], at.timestamp_millis()).await?;
    Ok(doc)
}

/// Creates a record on the server (a complaint filed in the office), as the acting user's
/// server actor, inside the caller's transaction. `at` is when it was received; `zone` is the
/// company's, in which its dates are read.
pub async fn server_create_in(
    tx: &mut Tx,
    principal: &Principal,
    kind: fieldloop_client_core::model::DocKind,
    region: &str,
    writes: &[(&'static str, FieldValue)],
    at: chrono::DateTime<chrono::Utc>,
    zone: chrono_tz::Tz,
) -> AppResult<RecordDoc> {
    let seq = next_counter(tx, "feed").await?;
    let now = at.timestamp();
    let mut doc = RecordDoc::create(
        kind,
        Uuid::now_v7(),
        region,
        server_actor(principal.user_id),
        now,
    )
    .map_err(AppError::internal)?;
    doc.set_many(Author::Server, writes, now)
        .map_err(|e| AppError::invalid(e.to_string()))?;
    // The rules read dates in the server's own zone, as for records a device sends.
    fieldloop_client_core::model::rules::check_in(&doc, zone)
        .map_err(|r| AppError::invalid(r.to_string()))?;
    let changes = doc.automerge().get_changes(&[]);
    let write = prepare(None, &doc, &changes, principal.user_id, None, seq);
    let item = feedback_item(&write, at);
    write_docs(tx, vec![write], at.timestamp_millis()).await?;
    if let Some(item) = item {
        crate::db::feedback::insert_item(tx, &item).await?;
    }
    Ok(doc)
}
