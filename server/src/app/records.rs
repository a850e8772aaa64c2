//! How a merged record reads to the office: its fields with their labels and any concurrent
//! values.

use fieldloop_client_core::model::{FieldValue, RecordDoc, fields};
use serde::Serialize;
use utoipa::ToSchema;

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
