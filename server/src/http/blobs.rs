//! Content-addressed blobs over HTTP: `PUT /api/blobs/{sha256}` and `GET /api/blobs/{sha256}`
//! (`app::blobs`).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body_error;
use crate::AppState;
use crate::app::blobs as app;
use crate::auth::Auth;
use crate::error::AppResult;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(put_blob, get_blob))
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
    let body = body.map_err(body_error)?;
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream");
    let created = app::put_blob(&state, &p, &sha, mime, &body).await?;
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
    Auth(p): Auth,
    Path(sha): Path<String>,
) -> AppResult<impl IntoResponse> {
    let (mime, bytes) = app::get_blob(&state, &p, &sha).await?;
    Ok((blob_headers(&sha, mime), bytes))
}

/// A blob is served as what it is and nothing more: never sniffed, never run (a sandboxing
/// CSP, so an SVG's script does nothing), and saved rather than shown unless it is a raster
/// image.
pub fn blob_headers(sha: &str, mime: String) -> [(header::HeaderName, String); 4] {
    let disposition = if app::shown_inline(&mime) {
        "inline".to_string()
    } else {
        format!("attachment; filename=\"{sha}\"")
    };
    [
        (header::CONTENT_TYPE, mime),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".into()),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox".into(),
        ),
        (header::CONTENT_DISPOSITION, disposition),
    ]
}
