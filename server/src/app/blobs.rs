//! Content-addressed blobs (signature images, photos): stored under their SHA-256, uploaded
//! before the change that refers to them.

use fieldloop_client_core::wire::MAX_BLOB_BYTES;
use fieldloop_client_core::wire::sha256_hex;

use crate::AppState;
use crate::access::Principal;
use crate::error::{AppError, AppResult, ErrorCode};

const MIMES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/webp",
    "image/svg+xml",
    "application/pdf",
];

fn check_sha(sha: &str) -> AppResult<()> {
    if sha.len() == 64
        && sha
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(
            AppError::invalid("a blob is named by its SHA-256 in lowercase hex")
                .with_zh(Some("文件须以小写十六进制 SHA-256 命名".into())),
        )
    }
}

/// Stores `bytes` of type `mime` under `sha`; `true` when it was new. Idempotent; refused if
/// the bytes do not hash to the name, are empty, too large, or of a type not kept.
pub async fn put_blob(
    state: &AppState,
    p: &Principal,
    sha: &str,
    mime: &str,
    bytes: &[u8],
) -> AppResult<bool> {
    check_sha(sha)?;
    if bytes.is_empty() {
        return Err(
            AppError::invalid("an empty blob is not stored").with_zh(Some("空文件不予保存".into()))
        );
    }
    if bytes.len() > MAX_BLOB_BYTES {
        return Err(AppError::new(
            ErrorCode::BodyTooLarge,
            format!("a blob is at most {MAX_BLOB_BYTES} bytes"),
        ));
    }
    if !MIMES.contains(&mime) {
        return Err(AppError::invalid(format!(
            "blobs are one of {}; got '{mime}'",
            MIMES.join(", ")
        ))
        .with_zh(Some("不支持此文件类型".into())));
    }
    let actual = sha256_hex(bytes);
    if actual != sha {
        return Err(AppError::new(
            ErrorCode::HashMismatch,
            format!("the bytes hash to {actual}, not {sha}"),
        ));
    }
    let waiting = state.db.unreferenced_blob_bytes(p.user_id).await?;
    let quota = state.config.blob_quota_bytes;
    if waiting.saturating_add(bytes.len() as i64) > quota && state.db.blob(sha).await?.is_none() {
        return Err(AppError::new(
            ErrorCode::QuotaExceeded,
            format!(
                "your uploads that no record uses yet come to {waiting} bytes; the limit is {quota}: sync the records that use them first"
            ),
        ));
    }
    Ok(state
        .db
        .put_blob(sha, mime, bytes, p.user_id, state.now_ms())
        .await?)
}

/// A stored blob, its type and bytes, for a caller who may see it: its uploader, or someone who
/// may see a record that refers to it. Anyone else is told there is no such blob.
pub async fn get_blob(state: &AppState, p: &Principal, sha: &str) -> AppResult<(String, Vec<u8>)> {
    check_sha(sha)?;
    let missing = || {
        AppError::not_found(format!("no blob {sha} that you may see"))
            .with_zh(Some("找不到该文件".into()))
    };
    if !may_see_blob(state, p, sha).await? {
        return Err(missing());
    }
    state.db.blob(sha).await?.ok_or_else(missing)
}

async fn may_see_blob(state: &AppState, p: &Principal, sha: &str) -> AppResult<bool> {
    if state.db.blob_uploader(sha).await? == Some(p.user_id) {
        return Ok(true);
    }
    for id in state.db.docs_with_blob(sha).await? {
        if let Some(r) = state.db.doc(id).await?
            && p.sees(&r.region, r.created_by, r.assignee)
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Types shown in place (raster images); anything else is sent as an attachment.
pub fn shown_inline(mime: &str) -> bool {
    matches!(mime, "image/png" | "image/jpeg" | "image/webp")
}

/// Deletes the blobs no record refers to that were uploaded more than
/// `Config::blob_keep_days` ago: uploads whose record never came. Returns how many went.
pub async fn sweep_unreferenced(state: &AppState) -> AppResult<u64> {
    let before = state.now() - chrono::Duration::days(state.config.blob_keep_days);
    Ok(state
        .db
        .delete_unreferenced_blobs(before.timestamp_millis())
        .await?)
}
