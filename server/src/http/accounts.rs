//! Accounts over HTTP: sign-in, refresh, sign-out, users and devices (`app::accounts`).

use axum::Json;
use std::net::SocketAddr;

use axum::Extension;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use fieldloop_client_core::wire::{
    DeviceInfo, LoginRequest, RefreshRequest, RegisterDevice, TokenPair, UserInfo,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::app::accounts::{self as app, AuditEntry, DeviceView, NewUser, PasswordReset};
use crate::auth::Auth;
use crate::error::AppResult;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(create_user, list_users))
        .routes(routes!(register_device))
        .routes(routes!(reset_password))
        .routes(routes!(disable_user))
        .routes(routes!(enable_user))
        .routes(routes!(user_devices))
        .routes(routes!(revoke_device))
        .routes(routes!(audit_log))
}

/// Signs in with a username and password.
#[utoipa::path(post, path = "/api/auth/login", request_body = LoginRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = fieldloop_client_core::wire::ErrorBody),
              (status = 429, body = fieldloop_client_core::wire::ErrorBody), (status = 503, body = fieldloop_client_core::wire::ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    Json(body): Json<LoginRequest>,
) -> AppResult<Json<TokenPair>> {
    let address = peer.map(|Extension(ConnectInfo(a))| a.ip());
    Ok(Json(app::login(&state, body, address).await?))
}

/// Trades a refresh token for a new pair; each refresh token works once.
#[utoipa::path(post, path = "/api/auth/refresh", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = fieldloop_client_core::wire::ErrorBody)))]
async fn refresh(
    State(state): State<AppState>,
    Json(body): Json<RefreshRequest>,
) -> AppResult<Json<TokenPair>> {
    Ok(Json(app::refresh(&state, body).await?))
}

/// Ends a session: the refresh token and its family stop working.
#[utoipa::path(post, path = "/api/auth/logout", request_body = RefreshRequest, responses((status = 204)))]
async fn logout(
    State(state): State<AppState>,
    Json(body): Json<RefreshRequest>,
) -> AppResult<StatusCode> {
    app::logout(&state, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/me", responses((status = 200, body = UserInfo)), security(("bearer" = [])))]
async fn me(State(state): State<AppState>, Auth(p): Auth) -> AppResult<Json<UserInfo>> {
    Ok(Json(app::me(&state, &p).await?))
}

/// Creates an account (admin only).
#[utoipa::path(post, path = "/api/users", request_body = NewUser,
    responses((status = 201, body = UserInfo), (status = 400, body = fieldloop_client_core::wire::ErrorBody)), security(("bearer" = [])))]
async fn create_user(
    State(state): State<AppState>,
    Auth(p): Auth,
    Json(body): Json<NewUser>,
) -> AppResult<(StatusCode, Json<UserInfo>)> {
    Ok((
        StatusCode::CREATED,
        Json(app::create_user(&state, &p, body).await?),
    ))
}

/// Lists the accounts the caller's work needs: all for an admin, the technicians for a
/// dispatcher, else the caller only.
#[utoipa::path(get, path = "/api/users", responses((status = 200, body = Vec<UserInfo>)), security(("bearer" = [])))]
async fn list_users(
    State(state): State<AppState>,
    Auth(p): Auth,
) -> AppResult<Json<Vec<UserInfo>>> {
    Ok(Json(app::list_users(&state, &p).await?))
}

/// Registers the caller's device and binds its Automerge actor id. Changes signed by any other
/// actor are refused from this device.
#[utoipa::path(post, path = "/api/devices", request_body = RegisterDevice,
    responses((status = 201, body = DeviceInfo), (status = 409, body = fieldloop_client_core::wire::ErrorBody)), security(("bearer" = [])))]
async fn register_device(
    State(state): State<AppState>,
    Auth(p): Auth,
    Json(body): Json<RegisterDevice>,
) -> AppResult<(StatusCode, Json<DeviceInfo>)> {
    Ok((
        StatusCode::CREATED,
        Json(app::register_device(&state, &p, body).await?),
    ))
}

/// Sets a new password for an account (admin only); its sessions end.
#[utoipa::path(post, path = "/api/users/{id}/password", request_body = PasswordReset,
    params(("id" = Uuid, Path, description = "the account")),
    responses((status = 204)), security(("bearer" = [])))]
async fn reset_password(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    Json(body): Json<PasswordReset>,
) -> AppResult<StatusCode> {
    app::reset_password(&state, &p, id, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Disables an account (admin only): refused from its next request, its sessions end.
#[utoipa::path(post, path = "/api/users/{id}/disable",
    params(("id" = Uuid, Path, description = "the account")),
    responses((status = 204)), security(("bearer" = [])))]
async fn disable_user(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<StatusCode> {
    app::set_user_active(&state, &p, id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Enables an account again (admin only).
#[utoipa::path(post, path = "/api/users/{id}/enable",
    params(("id" = Uuid, Path, description = "the account")),
    responses((status = 204)), security(("bearer" = [])))]
async fn enable_user(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<StatusCode> {
    app::set_user_active(&state, &p, id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An account's devices (admin only), newest first.
#[utoipa::path(get, path = "/api/users/{id}/devices",
    params(("id" = Uuid, Path, description = "the account")),
    responses((status = 200, body = Vec<DeviceView>)), security(("bearer" = [])))]
async fn user_devices(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<Json<Vec<DeviceView>>> {
    Ok(Json(app::user_devices(&state, &p, id).await?))
}

/// Revokes a device, a lost phone (admin only): refused from its next sync.
#[utoipa::path(post, path = "/api/devices/{id}/revoke",
    params(("id" = Uuid, Path, description = "the device")),
    responses((status = 204)), security(("bearer" = [])))]
async fn revoke_device(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<StatusCode> {
    app::revoke_device(&state, &p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who did what to which account or device, newest first (admin only).
#[utoipa::path(get, path = "/api/audit", responses((status = 200, body = Vec<AuditEntry>)), security(("bearer" = [])))]
async fn audit_log(
    State(state): State<AppState>,
    Auth(p): Auth,
) -> AppResult<Json<Vec<AuditEntry>>> {
    Ok(Json(app::audit_log(&state, &p).await?))
}
