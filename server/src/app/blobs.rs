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
        Err(AppError::invalid(
            "a blob is named by its SHA-256 in lowercase hex",
        ))
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
        return Err(AppError::invalid("an empty blob is not stored"));
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
        )));
    }
    let actual = sha256_hex(bytes);
    if actual != sha {
        return Err(AppError::new(
            ErrorCode::HashMismatch,
            format!("the bytes hash to {actual}, not {sha}"),
        ));
    }
    Ok(state
        .db
        .put_blob(sha, mime, bytes, p.user_id, state.now_ms())
        .await?)
}

/// A stored blob: its type and bytes.
pub async fn get_blob(state: &AppState, _p: &Principal, sha: &str) -> AppResult<(String, Vec<u8>)> {
    check_sha(sha)?;
    state
        .db
        .blob(sha)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no blob {sha}")))
}
