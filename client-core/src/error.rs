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
    /// The phone's space for photos waiting for upload is full: sync, then try again.
    #[error("photo space full: {0}")]
    QuotaFull(String),
    /// The local store failed (disk full, file damaged).
    #[error("local storage: {0}")]
    Storage(String),
    /// A fault in the app's own library (a task that panicked, a client that could not be
    /// built): not the phone's storage, and not helped by trying again.
    #[error("internal fault: {0}")]
    Internal(String),
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
        } else if let Some(tls) = tls_failure(&e) {
            // Trying again will not make an untrusted certificate trusted.
            Error::Refused {
                code: "server_not_trusted".into(),
                message: format!(
                    "the server's identity could not be verified ({tls}); check the server address, or the company's certificate authority"
                ),
            }
        } else {
            Error::Offline(e.to_string())
        }
    }
}

/// The certificate failure under a request error, if that is what it was: the server's
/// certificate is not one this device trusts. Other TLS failures (an alert, a broken record
/// from a restarting load balancer) stay `Offline`, since a retry may get through. rustls'
/// error sits inside `io::Error`s (one in another), whose `source()` skips the error each
/// wraps, so an `io::Error` is looked into instead.
fn tls_failure(e: &reqwest::Error) -> Option<String> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return matches!(
                tls,
                rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
            )
            .then(|| tls.to_string());
        }
        next = match err.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
