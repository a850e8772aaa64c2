//! Content-addressed blobs: `PUT /api/blobs/{sha256}` and `GET /api/blobs/{sha256}`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use fieldloop_client_core::wire::MAX_BLOB_BYTES;
use fieldloop_client_core::wire::sha256_hex;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body_error;
use crate::AppState;
use crate::auth::Auth;
use crate::error::{AppError, AppResult, ErrorCode};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(put_blob, get_blob))
}

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

/// Uploads a blob under its SHA-256. Idempotent; refused if the bytes do not hash to the name.
#[utoipa::path(put, path = "/api/blobs/{sha256}", params(("sha256" = String, Path, description = "lowercase hex SHA-256 of the body")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201), (status = 200), (status = 400, body = fieldloop_client_core::wire::ErrorBody)), security(("bearer" = [])))]
async fn put_blob(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(sha): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> AppResult<StatusCode> {
    check_sha(&sha)?;
    let body = body.map_err(body_error)?;
    if body.is_empty() {
        return Err(AppError::invalid("an empty blob is not stored"));
    }
    if body.len() > MAX_BLOB_BYTES {
        return Err(AppError::new(
            ErrorCode::BodyTooLarge,
            format!("a blob is at most {MAX_BLOB_BYTES} bytes"),
        ));
    }
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream");
    if !MIMES.contains(&mime) {
        return Err(AppError::invalid(format!(
            "blobs are one of {}; got '{mime}'",
            MIMES.join(", ")
        )));
    }
    let actual = sha256_hex(&body);
    if actual != sha {
        return Err(AppError::new(
            ErrorCode::HashMismatch,
            format!("the bytes hash to {actual}, not {sha}"),
        ));
    }
    let created = state
        .db
        .put_blob(&sha, mime, &body, p.user_id, state.now_ms())
        .await?;
    Ok(if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    })
}

/// Downloads a blob.
#[utoipa::path(get, path = "/api/blobs/{sha256}", params(("sha256" = String, Path)),
    responses((status = 200, content_type = "application/octet-stream"), (status = 404, body = fieldloop_client_core::wire::ErrorBody)), security(("bearer" = [])))]
async fn get_blob(
    State(state): State<AppState>,
    Auth(_p): Auth,
    Path(sha): Path<String>,
) -> AppResult<impl IntoResponse> {
    check_sha(&sha)?;
    let (mime, bytes) = state
        .db
        .blob(&sha)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no blob {sha}")))?;
    Ok(([(header::CONTENT_TYPE, mime)], bytes))
}
