//! Deadline alerts over HTTP (`app::alerts`): ladders and channels (admin), the outbox as the
//! admin watches it, and each person's bell.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::app::alerts::{self as app, Ladder, NewChannel};
use crate::auth::Auth;
use crate::db::alerts::{BellItem, Channel, OutboxRow};
use crate::error::AppResult;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_ladders, set_ladder))
        .routes(routes!(list_channels, add_channel))
        .routes(routes!(delete_channel))
        .routes(routes!(outbox))
        .routes(routes!(my_alerts))
        .routes(routes!(read_alerts))
}

/// The escalation ladder of each kind of deadline (admin only).
#[utoipa::path(get, path = "/api/alerts/ladders", responses((status = 200, body = Vec<Ladder>)), security(("bearer" = [])))]
async fn list_ladders(
    State(state): State<AppState>,
    Auth(p): Auth,
) -> AppResult<Json<Vec<Ladder>>> {
    Ok(Json(app::list_ladders(&state, &p).await?))
}

/// Saves one kind's ladder (admin only).
#[utoipa::path(put, path = "/api/alerts/ladders", request_body = Ladder, responses((status = 200, body = Ladder)), security(("bearer" = [])))]
async fn set_ladder(
    State(state): State<AppState>,
    Auth(p): Auth,
    Json(body): Json<Ladder>,
) -> AppResult<Json<Ladder>> {
    Ok(Json(app::set_ladder(&state, &p, body).await?))
}

/// The channels alerts go to (admin only; secrets are not shown).
#[utoipa::path(get, path = "/api/alerts/channels", responses((status = 200, body = Vec<Channel>)), security(("bearer" = [])))]
async fn list_channels(
    State(state): State<AppState>,
    Auth(p): Auth,
) -> AppResult<Json<Vec<Channel>>> {
    Ok(Json(app::list_channels(&state, &p).await?))
}

/// Adds a WeCom or DingTalk robot or mail addresses for a department (admin only).
#[utoipa::path(post, path = "/api/alerts/channels", request_body = NewChannel, responses((status = 201, body = Channel)), security(("bearer" = [])))]
async fn add_channel(
    State(state): State<AppState>,
    Auth(p): Auth,
    Json(body): Json<NewChannel>,
) -> AppResult<(StatusCode, Json<Channel>)> {
    Ok((
        StatusCode::CREATED,
        Json(app::add_channel(&state, &p, body).await?),
    ))
}

/// Removes a channel and what it still had to send (admin only).
#[utoipa::path(delete, path = "/api/alerts/channels/{id}", params(("id" = Uuid, Path)), responses((status = 204)), security(("bearer" = [])))]
async fn delete_channel(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<StatusCode> {
    app::delete_channel(&state, &p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct OutboxQuery {
    /// `queued`, `sent` or `failed` (default: failed, what could not be delivered).
    state: Option<String>,
}

/// Alert messages by state, newest first (admin only): what could not be delivered after the
/// retries is under `failed`.
#[utoipa::path(get, path = "/api/alerts/outbox", params(OutboxQuery), responses((status = 200, body = Vec<OutboxRow>)), security(("bearer" = [])))]
async fn outbox(
    State(state): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<OutboxQuery>,
) -> AppResult<Json<Vec<OutboxRow>>> {
    let which = q.state.unwrap_or_else(|| "failed".into());
    Ok(Json(app::outbox(&state, &p, &which).await?))
}

/// The caller's alerts, unread first.
#[utoipa::path(get, path = "/api/alerts/mine", responses((status = 200, body = Vec<BellItem>)), security(("bearer" = [])))]
async fn my_alerts(State(state): State<AppState>, Auth(p): Auth) -> AppResult<Json<Vec<BellItem>>> {
    Ok(Json(app::my_alerts(&state, &p).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReadAlerts {
    /// One alert's key; all of the caller's when left out.
    pub key: Option<String>,
}

/// Marks the caller's alerts read.
#[utoipa::path(post, path = "/api/alerts/mine/read", request_body = ReadAlerts, responses((status = 204)), security(("bearer" = [])))]
async fn read_alerts(
    State(state): State<AppState>,
    Auth(p): Auth,
    Json(body): Json<ReadAlerts>,
) -> AppResult<StatusCode> {
    app::read_alerts(&state, &p, body.key.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}
