//! What travels between a device and the server. Every type here is part of the sync protocol:
//! change it only together with both sides, and keep old fields readable.

use automerge::ChangeHash;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::str::FromStr;
use uuid::Uuid;

use crate::model::{DocKind, Refusal};

/// The largest sync request body the server takes, before decompression (bytes).
pub const MAX_SYNC_BODY: usize = 16 * 1024 * 1024;
/// The largest blob (signature image, photo) the server takes (bytes).
pub const MAX_BLOB_BYTES: usize = 8 * 1024 * 1024;
/// How many documents one sync request may carry.
pub const MAX_DOCS_PER_SYNC: usize = 500;

/// Bytes carried as base64 in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        B64.decode(text.as_bytes())
            .map(Bytes)
            .map_err(|_| serde::de::Error::custom("not valid base64"))
    }
}

/// `POST /api/sync`: one batch from one device.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncRequest {
    pub device_id: Uuid,
    pub docs: Vec<DocPush>,
}

/// One document in a batch: the device's heads and the changes the server may lack. A pull is a
/// push with no changes.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocPush {
    pub id: Uuid,
    /// The device's heads, hex.
    pub heads: Vec<String>,
    /// Raw Automerge changes.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub changes: Vec<Bytes>,
}

/// The server's answer: a verdict per document, in request order.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncResponse {
    pub docs: Vec<DocReply>,
    /// Server time (RFC 3339) when the batch was stored.
    pub server_time: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocReply {
    pub id: Uuid,
    pub verdict: Verdict,
    /// The server's heads after the batch, hex.
    pub heads: Vec<String>,
    /// Changes the device lacks.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub changes: Vec<Bytes>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Verdict {
    Accepted,
    Rejected { refusal: Refusal },
}

/// `GET /api/feed?after=cursor`: documents visible to the user that changed on the server.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeedPage {
    pub items: Vec<FeedItem>,
    /// Pass back as `after` for the next page.
    pub cursor: i64,
    /// True when more items wait after this page.
    pub more: bool,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeedItem {
    pub id: Uuid,
    pub kind: DocKind,
    pub seq: i64,
    pub heads: Vec<String>,
}

/// Every error code the server sends, as one list clients can switch on. The wire carries the
/// snake_case name (`ErrorDetail::code`); a code this build does not know reads as
/// [`ErrorCode::Unknown`], so an older app keeps working when the server learns a new one.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// What was sent does not fit: a missing or malformed field, an unknown value.
    InvalidInput,
    /// The request body cannot be read as the endpoint's JSON.
    MalformedBody,
    /// The request body is larger than the server takes.
    BodyTooLarge,
    /// There is no such endpoint.
    NoRoute,
    /// No bearer token was sent: sign in.
    MissingToken,
    /// The access token is not one this server signed.
    InvalidToken,
    /// The access token has expired: refresh it.
    TokenExpired,
    /// Wrong username or password.
    BadCredentials,
    /// The account is disabled.
    AccountDisabled,
    /// The refresh token is not known.
    InvalidRefreshToken,
    /// The session has expired: sign in again.
    RefreshTokenExpired,
    /// The refresh token was used twice; its session is revoked.
    RefreshTokenReplayed,
    /// The session was revoked: sign in again.
    RefreshTokenRevoked,
    /// The session behind the access token was signed out or revoked: sign in again.
    SessionRevoked,
    /// This device has been revoked.
    DeviceRevoked,
    /// The caller's role or region may not do this.
    Forbidden,
    /// No such record that the caller may see.
    NotFound,
    /// The username is taken.
    UsernameTaken,
    /// The device's actor id is bound to another device.
    ActorTaken,
    /// The record changed since it was read: reload it.
    Stale,
    /// A blob's bytes do not have the hash it was sent under.
    HashMismatch,
    /// The caller's uploads that no record uses yet are over the quota: sync the records first.
    QuotaExceeded,
    /// Internal complaint records are never shown to customers (§4.6.9).
    InternalRecord,
    /// The complaint case is closed.
    CaseClosed,
    /// The complaint case was already accepted and numbered.
    AlreadyNumbered,
    /// The complaint case has not been accepted yet.
    NotAccepted,
    /// This step belongs to another department.
    WrongDepartment,
    /// The case is not at that step.
    WrongStep,
    /// The amount is above the caller's approval authority (§4.7.3).
    AboveAuthority,
    /// Something the step needs is still missing.
    NotReady,
    /// The complaint case is not closed yet.
    NotClosed,
    /// The complaint was found not valid (§4.6.12).
    ComplaintNotValid,
    /// No return was approved on the case (§4.9.1).
    NoApprovedReturn,
    /// A form is already opened for that approval.
    AlreadyOpened,
    /// The step was already done.
    AlreadyDone,
    /// The monthly review is already confirmed.
    AlreadyConfirmed,
    /// The quantities differ from what was approved (§4.9.4).
    QuantityMismatch,
    /// The amounts differ from what was approved (§4.9.4).
    AmountMismatch,
    /// The job is already dispatched.
    AlreadyDispatched,
    /// The product is out of its free warranty (§2.1.3).
    OutOfWarranty,
    /// The job has no service category yet (§2.1).
    MissingCategory,
    /// The job has no fee to settle.
    NoFee,
    /// The form is already logged in the service record.
    AlreadyLogged,
    /// The form is already archived.
    AlreadyArchived,
    /// This custody step is done by another role.
    WrongRole,
    /// The record is not in a state where this can happen.
    WrongState,
    /// The receipt is already voided.
    AlreadyVoided,
    /// The survey campaign is closed.
    CampaignClosed,
    /// The feedback item is closed.
    #[serde(rename = "closed")]
    FeedbackClosed,
    /// The feedback item is already linked to a complaint.
    AlreadyLinked,
    /// The item changed meanwhile: reload it.
    ChangedMeanwhile,
    /// Too many failed sign-ins for this account or address: wait, then try again.
    TooManyAttempts,
    /// Too many sign-ins at once: try again in a moment.
    Busy,
    /// The server failed: try again later.
    Internal,
    /// A code newer than this build.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// Every code, in the order of the list above.
    pub const ALL: &[ErrorCode] = &[
        ErrorCode::InvalidInput,
        ErrorCode::MalformedBody,
        ErrorCode::BodyTooLarge,
        ErrorCode::NoRoute,
        ErrorCode::MissingToken,
        ErrorCode::InvalidToken,
        ErrorCode::TokenExpired,
        ErrorCode::BadCredentials,
        ErrorCode::AccountDisabled,
        ErrorCode::InvalidRefreshToken,
        ErrorCode::RefreshTokenExpired,
        ErrorCode::RefreshTokenReplayed,
        ErrorCode::RefreshTokenRevoked,
        ErrorCode::SessionRevoked,
        ErrorCode::DeviceRevoked,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::UsernameTaken,
        ErrorCode::ActorTaken,
        ErrorCode::Stale,
        ErrorCode::HashMismatch,
        ErrorCode::QuotaExceeded,
        ErrorCode::InternalRecord,
        ErrorCode::CaseClosed,
        ErrorCode::AlreadyNumbered,
        ErrorCode::NotAccepted,
        ErrorCode::WrongDepartment,
        ErrorCode::WrongStep,
        ErrorCode::AboveAuthority,
        ErrorCode::NotReady,
        ErrorCode::NotClosed,
        ErrorCode::ComplaintNotValid,
        ErrorCode::NoApprovedReturn,
        ErrorCode::AlreadyOpened,
        ErrorCode::AlreadyDone,
        ErrorCode::AlreadyConfirmed,
        ErrorCode::QuantityMismatch,
        ErrorCode::AmountMismatch,
        ErrorCode::AlreadyDispatched,
        ErrorCode::OutOfWarranty,
        ErrorCode::MissingCategory,
        ErrorCode::NoFee,
        ErrorCode::AlreadyLogged,
        ErrorCode::AlreadyArchived,
        ErrorCode::WrongRole,
        ErrorCode::WrongState,
        ErrorCode::AlreadyVoided,
        ErrorCode::CampaignClosed,
        ErrorCode::FeedbackClosed,
        ErrorCode::AlreadyLinked,
        ErrorCode::ChangedMeanwhile,
        ErrorCode::TooManyAttempts,
        ErrorCode::Busy,
        ErrorCode::Internal,
    ];

    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::MalformedBody => "malformed_body",
            ErrorCode::BodyTooLarge => "body_too_large",
            ErrorCode::NoRoute => "no_route",
            ErrorCode::MissingToken => "missing_token",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::BadCredentials => "bad_credentials",
            ErrorCode::AccountDisabled => "account_disabled",
            ErrorCode::InvalidRefreshToken => "invalid_refresh_token",
            ErrorCode::RefreshTokenExpired => "refresh_token_expired",
            ErrorCode::RefreshTokenReplayed => "refresh_token_replayed",
            ErrorCode::RefreshTokenRevoked => "refresh_token_revoked",
            ErrorCode::SessionRevoked => "session_revoked",
            ErrorCode::DeviceRevoked => "device_revoked",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::UsernameTaken => "username_taken",
            ErrorCode::ActorTaken => "actor_taken",
            ErrorCode::Stale => "stale",
            ErrorCode::HashMismatch => "hash_mismatch",
            ErrorCode::QuotaExceeded => "quota_exceeded",
            ErrorCode::InternalRecord => "internal_record",
            ErrorCode::CaseClosed => "case_closed",
            ErrorCode::AlreadyNumbered => "already_numbered",
            ErrorCode::NotAccepted => "not_accepted",
            ErrorCode::WrongDepartment => "wrong_department",
            ErrorCode::WrongStep => "wrong_step",
            ErrorCode::AboveAuthority => "above_authority",
            ErrorCode::NotReady => "not_ready",
            ErrorCode::NotClosed => "not_closed",
            ErrorCode::ComplaintNotValid => "complaint_not_valid",
            ErrorCode::NoApprovedReturn => "no_approved_return",
            ErrorCode::AlreadyOpened => "already_opened",
            ErrorCode::AlreadyDone => "already_done",
            ErrorCode::AlreadyConfirmed => "already_confirmed",
            ErrorCode::QuantityMismatch => "quantity_mismatch",
            ErrorCode::AmountMismatch => "amount_mismatch",
            ErrorCode::AlreadyDispatched => "already_dispatched",
            ErrorCode::OutOfWarranty => "out_of_warranty",
            ErrorCode::MissingCategory => "missing_category",
            ErrorCode::NoFee => "no_fee",
            ErrorCode::AlreadyLogged => "already_logged",
            ErrorCode::AlreadyArchived => "already_archived",
            ErrorCode::WrongRole => "wrong_role",
            ErrorCode::WrongState => "wrong_state",
            ErrorCode::AlreadyVoided => "already_voided",
            ErrorCode::CampaignClosed => "campaign_closed",
            ErrorCode::FeedbackClosed => "closed",
            ErrorCode::AlreadyLinked => "already_linked",
            ErrorCode::ChangedMeanwhile => "changed_meanwhile",
            ErrorCode::TooManyAttempts => "too_many_attempts",
            ErrorCode::Busy => "busy",
            ErrorCode::Internal => "internal",
            ErrorCode::Unknown => "unknown",
        }
    }

    /// Reads a code from the wire; `Unknown` for one this build does not know.
    pub fn parse(text: &str) -> ErrorCode {
        ErrorCode::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == text)
            .unwrap_or(ErrorCode::Unknown)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The one JSON shape of every error the server sends.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable and machine-readable: one of [`ErrorCode`].
    pub code: ErrorCode,
    /// For people.
    pub message: String,
    /// The same in Chinese, for the refusals of rules that have their Chinese words (amounts in
    /// yuan, the regulation's section).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_zh: Option<String>,
    /// True when the same request may succeed later unchanged.
    pub retryable: bool,
}

/// `POST /api/auth/login`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// `POST /api/auth/refresh` and `/api/auth/logout`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// The answer to a login or a refresh.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds the access token stays valid.
    pub expires_in: i64,
    pub user: UserInfo,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserInfo {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub role: crate::model::Role,
    /// The regional office; `None` for head office.
    pub region: Option<String>,
}

/// `POST /api/devices`: binds an Automerge actor to the user's new device.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisterDevice {
    pub name: String,
    /// Hex Automerge actor id the device will sign its changes with.
    pub actor_id: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub id: Uuid,
    pub name: String,
    pub actor_id: String,
    /// The device's short number (1, 2, ...), which its receipt numbers carry (`R007-00012`);
    /// 0 from a server that does not number devices.
    #[serde(default)]
    pub number: i64,
}

/// Lowercase hex SHA-256: the name of a blob.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Heads as stored: hex hashes joined by commas.
pub fn heads_to_text(heads: &[ChangeHash]) -> String {
    heads
        .iter()
        .map(|h| h.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The inverse of [`heads_to_text`]; unreadable entries are skipped.
pub fn heads_from_text(text: &str) -> Vec<ChangeHash> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .filter_map(|s| ChangeHash::from_str(s).ok())
        .collect()
}
