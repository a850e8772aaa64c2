//! The device side's one error type. Each variant says whether trying again can help.

use crate::model::{ModelError, Refusal};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server could not be reached, or the connection broke: try again later.
    #[error("offline or the connection broke: {0}")]
    Offline(String),
    /// The server is overloaded or failed: try again later.
    #[error("the server is busy or failing ({status}): {message}")]
    ServerBusy { status: u16, message: String },
    /// The credentials are wrong, expired or revoked: log in again.
    #[error("not signed in: {code}: {message}")]
    Unauthorized { code: String, message: String },
    /// The server refused the request; sending it again will not help.
    #[error("refused by the server: {code}: {message}")]
    Refused { code: String, message: String },
    /// A document's changes were refused; the local copy is kept and quarantined.
    #[error("document refused: {0}")]
    DocumentRefused(Refusal),
    /// What the user typed does not fit the field.
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("no such record: {0}")]
    NotFound(String),
    /// The local store failed (disk full, file damaged).
    #[error("local storage: {0}")]
    Storage(String),
}

impl Error {
    /// Can the same call succeed later without any change?
    pub fn retryable(&self) -> bool {
        matches!(self, Error::Offline(_) | Error::ServerBusy { .. })
    }
}

impl From<ModelError> for Error {
    fn from(e: ModelError) -> Self {
        match e {
            ModelError::Refused(r) => Error::Invalid(r.to_string()),
            ModelError::InvalidValue { path, reason } => {
                Error::Invalid(format!("{path}: {reason}"))
            }
            ModelError::Damaged(m) => Error::Storage(m),
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Storage(e.to_string())
    }
}

impl From<reqwest::Error> for Error {
    fn from(e: reqwest::Error) -> Self {
        if e.is_decode() {
            Error::ServerBusy {
                status: 0,
                message: format!("unreadable answer: {e}"),
            }
        } else {
            Error::Offline(e.to_string())
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
