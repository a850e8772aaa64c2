//! `POST /api/sync` (a batch of changes both ways) and `GET /api/feed` (what changed) over
//! HTTP: the body is read here, the work is `app::sync`'s.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use fieldloop_client_core::wire::{FeedPage, SyncRequest, SyncResponse};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body_error;
use crate::AppState;
use crate::app::sync::{self as app, FeedQuery};
use crate::auth::{Auth, VerifiedAuth, principal_and_device};
use crate::error::{AppError, AppResult, ErrorCode};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sync))
        .routes(routes!(feed))
}

/// Exchanges changes for many documents at once. The body may be gzip-compressed
/// (`Content-Encoding: gzip`). Each document gets its own verdict; a refused document does not
/// stop the others. Sending the same batch again is harmless.
#[utoipa::path(post, path = "/api/sync", request_body = SyncRequest,
    responses((status = 200, body = SyncResponse), (status = 400, body = fieldloop_client_core::wire::ErrorBody),
              (status = 413, body = fieldloop_client_core::wire::ErrorBody)), security(("bearer" = [])))]
async fn sync(
    State(state): State<AppState>,
    VerifiedAuth(token): VerifiedAuth,
    body: Result<Bytes, BytesRejection>,
) -> AppResult<Json<SyncResponse>> {
    let body = body.map_err(body_error)?;
    let request: SyncRequest = serde_json::from_slice(&body).map_err(|e| {
        AppError::new(
            ErrorCode::MalformedBody,
            format!("the sync request cannot be read: {e}"),
        )
    })?;
    // The account, the session and the device in one read: an idle phone's sync is that read.
    let (p, device) = principal_and_device(&state, &token, request.device_id).await?;
    Ok(Json(app::sync(&state, &p, device, request).await?))
}

/// The documents visible to the caller that changed after `after`, in the order they changed.
#[utoipa::path(get, path = "/api/feed", params(FeedQuery), responses((status = 200, body = FeedPage)), security(("bearer" = [])))]
async fn feed(
    State(state): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<FeedQuery>,
) -> AppResult<Json<FeedPage>> {
    Ok(Json(app::feed(&state, &p, q).await?))
}
