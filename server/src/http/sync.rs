//! `POST /api/sync` (a batch of changes both ways) and `GET /api/feed` (what changed).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use fieldloop_client_core::wire::heads_from_text;
use fieldloop_client_core::wire::{FeedItem, FeedPage, SyncRequest, SyncResponse};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body_error;
use crate::AppState;
use crate::auth::Auth;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::records::sync_batch;

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
    Auth(p): Auth,
    body: Result<Bytes, BytesRejection>,
) -> AppResult<Json<SyncResponse>> {
    let body = body.map_err(body_error)?;
    let request: SyncRequest = serde_json::from_slice(&body).map_err(|e| {
        AppError::new(
            ErrorCode::MalformedBody,
            format!("the sync request cannot be read: {e}"),
        )
    })?;
    let device = state
        .device(request.device_id)
        .await?
        .filter(|d| d.user_id == p.user_id)
        .ok_or_else(|| AppError::forbidden("this device is not registered to you"))?;
    if device.revoked {
        return Err(AppError::new(
            ErrorCode::DeviceRevoked,
            "this device has been revoked",
        ));
    }
    Ok(Json(sync_batch(&state, &p, &device, request).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct FeedQuery {
    /// The cursor from the previous page; 0 for the beginning.
    #[serde(default)]
    pub after: i64,
    /// Items per page, 1 to 5000 (default 1000).
    pub limit: Option<i64>,
}

/// The documents visible to the caller that changed after `after`, in the order they changed.
#[utoipa::path(get, path = "/api/feed", params(FeedQuery), responses((status = 200, body = FeedPage)), security(("bearer" = [])))]
async fn feed(
    State(state): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<FeedQuery>,
) -> AppResult<Json<FeedPage>> {
    let limit = q.limit.unwrap_or(1000);
    if !(1..=5000).contains(&limit) || q.after < 0 {
        return Err(AppError::invalid(
            "limit is 1 to 5000 and after is 0 or more",
        ));
    }
    let mut rows = state.db.feed(&p.scope(), q.after, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let cursor = rows.last().map(|r| r.seq).unwrap_or(q.after);
    Ok(Json(FeedPage {
        items: rows
            .into_iter()
            .map(|r| FeedItem {
                id: r.id,
                kind: r.kind,
                seq: r.seq,
                heads: heads_from_text(&r.heads)
                    .iter()
                    .map(|h| h.to_string())
                    .collect(),
            })
            .collect(),
        cursor,
        more,
    }))
}
