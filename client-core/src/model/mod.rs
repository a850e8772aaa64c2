//! The record documents and their rules. Pure: no IO, no clock, no randomness; time and ids come
//! in as arguments. Both the device and the server use this module, so a device never writes what
//! the server would refuse.

pub mod doc;
pub mod fields;
pub mod money;
pub mod ownership;
pub mod roles;
pub mod rules;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

pub use doc::{FieldValue, NoteEntry, PhotoEntry, RecordDoc};
pub use fields::{FieldSpec, FieldType, Writer};
pub use ownership::{Refusal, RefusalCode};
pub use roles::Role;

/// The schema version this build writes and understands. A document whose root says a higher
/// number was made by a newer app and is refused rather than half-understood. Schema 2 keeps
/// free text as strings and growing notes as lists of entries; schema 1 kept both as Automerge
/// `Text`, and is still read and written.
pub const SCHEMA_VERSION: i64 = 2;

/// The kinds of record, one Automerge document each.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    /// 售后服务信息反馈表: a service visit from request to archived form.
    Visit,
    /// 收据: a product taken back for repair.
    Receipt,
    /// 客户投诉处理单: a complaint form.
    Complaint,
    /// 客户意见: a survey answer or a rating of the technician.
    Feedback,
}

pub const ALL_KINDS: &[DocKind] = &[
    DocKind::Visit,
    DocKind::Receipt,
    DocKind::Complaint,
    DocKind::Feedback,
];

impl DocKind {
    pub fn code(self) -> &'static str {
        match self {
            DocKind::Visit => "visit",
            DocKind::Receipt => "receipt",
            DocKind::Complaint => "complaint",
            DocKind::Feedback => "feedback",
        }
    }
}

impl fmt::Display for DocKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for DocKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL_KINDS
            .iter()
            .copied()
            .find(|k| k.code() == s)
            .ok_or_else(|| format!("unknown document type '{s}'"))
    }
}

/// Errors of the pure model: each says what is wrong with a value or a write.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModelError {
    #[error("{0}")]
    Refused(Refusal),
    #[error("field '{path}': {reason}")]
    InvalidValue { path: String, reason: String },
    #[error("the document is damaged: {0}")]
    Damaged(String),
}

impl From<Refusal> for ModelError {
    fn from(r: Refusal) -> Self {
        ModelError::Refused(r)
    }
}

pub type Result<T, E = ModelError> = std::result::Result<T, E>;
