//! Merged records as the office reads them: the list, one record with its labelled fields,
//! concurrent values, signature state and history.

use fieldloop_client_core::model::{DocKind, FieldValue, RecordDoc, fields};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::access::Principal;
use crate::error::{AppError, AppResult};

/// One field of a record, labelled.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldView {
    pub path: String,
    pub label_zh: String,
    pub label_en: String,
    pub value: FieldValue,
    /// Every concurrent value when devices wrote the field at the same time (winner first);
    /// empty when there is no conflict.
    pub conflicts: Vec<FieldValue>,
}

/// The fields of `doc`, labelled from the field table, with their conflicts.
pub fn field_views(doc: &RecordDoc) -> Vec<FieldView> {
    doc.values()
        .into_iter()
        .map(|(path, value)| {
            let spec = fields::spec(doc.kind(), path);
            let all = doc.get_all(path);
            FieldView {
                path: path.to_string(),
                label_zh: spec.map(|s| s.label_zh).unwrap_or_default().to_string(),
                label_en: spec.map(|s| s.label_en).unwrap_or_default().to_string(),
                value,
                conflicts: if all.len() > 1 { all } else { Vec::new() },
            }
        })
        .collect()
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `visit`, `receipt`, `complaint` or `feedback`; all kinds if left out.
    pub kind: Option<String>,
    /// At most this many, 1 to 1000 (default 100).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocListItem {
    pub id: Uuid,
    pub kind: DocKind,
    pub region: String,
    pub assignee: Option<Uuid>,
    /// Server time of the last change, RFC 3339.
    pub updated_at: String,
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default()
}

/// The records the caller may see, most recently changed first.
pub async fn list_docs(
    state: &AppState,
    p: &Principal,
    q: ListQuery,
) -> AppResult<Vec<DocListItem>> {
    let kind = q
        .kind
        .as_deref()
        .map(str::parse::<DocKind>)
        .transpose()
        .map_err(AppError::invalid)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(
            AppError::invalid("limit is 1 to 1000").with_zh(Some("limit 须为 1 到 1000".into()))
        );
    }
    let rows = state.db.list_docs(&p.scope(), kind, limit).await?;
    Ok(rows
        .into_iter()
        .map(|r| DocListItem {
            id: r.id,
            kind: r.kind,
            region: r.region,
            assignee: r.assignee,
            updated_at: rfc3339(r.updated_at),
        })
        .collect())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeView {
    pub hash: String,
    pub actor: String,
    pub user_id: Uuid,
    /// `None` for back-office changes made on the server.
    pub device_id: Option<Uuid>,
    /// What the device's clock said (a claim).
    pub device_time: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordView {
    pub id: Uuid,
    pub kind: DocKind,
    pub region: String,
    pub heads: Vec<String>,
    pub fields: Vec<FieldView>,
    /// A signed field was edited after the customer signed.
    pub changed_after_signing: bool,
    pub history: Vec<ChangeView>,
}

/// One merged record with its fields, conflicts and history.
pub async fn get_doc(state: &AppState, p: &Principal, id: Uuid) -> AppResult<RecordView> {
    let row = state
        .db
        .doc(id)
        .await?
        .filter(|r| p.sees(&r.region, r.created_by, r.assignee))
        .ok_or_else(|| {
            AppError::not_found(format!("no record {id} that you may see"))
                .with_zh(Some("找不到该记录".into()))
        })?;
    let doc = row.record().map_err(AppError::internal)?;
    let history = state
        .db
        .doc_changes(id)
        .await?
        .into_iter()
        .map(|(c, _)| ChangeView {
            hash: c.hash.to_string(),
            actor: c.actor.to_hex_string(),
            user_id: c.user_id,
            device_id: c.device_id,
            device_time: rfc3339(c.device_time),
        })
        .collect();
    Ok(RecordView {
        id,
        kind: doc.kind(),
        region: doc.region().to_string(),
        heads: doc.heads().iter().map(|h| h.to_string()).collect(),
        fields: field_views(&doc),
        changed_after_signing: doc.changed_after_signing(),
        history,
    })
}
