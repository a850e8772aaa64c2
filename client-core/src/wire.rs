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

/// The one JSON shape of every error the server sends.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `invalid_input`, `unauthorized`, `token_expired`, ...
    pub code: String,
    /// For people.
    pub message: String,
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
