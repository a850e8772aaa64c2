//! Sign-in, token refresh, sign-out, users and devices.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use fieldloop_client_core::model::Role;
use fieldloop_client_core::wire::{
    DeviceInfo, LoginRequest, RefreshRequest, RegisterDevice, TokenPair, UserInfo,
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::auth::{self, Auth};
use crate::db::accounts::{Device, User};
use crate::error::{AppError, AppResult, ErrorCode};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(create_user, list_users))
        .routes(routes!(register_device))
}

/// Signs in with a username and password.
#[utoipa::path(post, path = "/api/auth/login", request_body = LoginRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = fieldloop_client_core::wire::ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    Json(body): Json<LoginRequest>,
) -> AppResult<Json<TokenPair>> {
    let user = auth::check_credentials(&state, &body.username, &body.password).await?;
    let family = Uuid::new_v4().to_string();
    Ok(Json(auth::issue_pair(&state, &user, &family).await?))
}

/// Trades a refresh token for a new pair; each refresh token works once.
#[utoipa::path(post, path = "/api/auth/refresh", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair), (status = 401, body = fieldloop_client_core::wire::ErrorBody)))]
async fn refresh(
    State(state): State<AppState>,
    Json(body): Json<RefreshRequest>,
) -> AppResult<Json<TokenPair>> {
    Ok(Json(auth::rotate(&state, &body.refresh_token).await?))
}

/// Ends a session: the refresh token and its family stop working.
#[utoipa::path(post, path = "/api/auth/logout", request_body = RefreshRequest, responses((status = 204)))]
async fn logout(
    State(state): State<AppState>,
    Json(body): Json<RefreshRequest>,
) -> AppResult<StatusCode> {
    auth::logout(&state, &body.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/me", responses((status = 200, body = UserInfo)), security(("bearer" = [])))]
async fn me(State(state): State<AppState>, Auth(p): Auth) -> AppResult<Json<UserInfo>> {
    let user =
        state.db.user_by_id(p.user_id).await?.ok_or_else(|| {
            AppError::new(ErrorCode::InvalidToken, "the account no longer exists")
        })?;
    Ok(Json(auth::user_info(&user)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub password: String,
    pub role: Role,
    /// The regional office; leave out for head office.
    pub region: Option<String>,
}

/// Checks a new account's fields; returns them cleaned.
pub fn check_new_user(body: &NewUser) -> Result<(String, Option<String>), String> {
    let username = body.username.trim().to_string();
    if username.is_empty() || username.len() > 64 || username.chars().any(char::is_whitespace) {
        return Err("a username is 1 to 64 characters without spaces".into());
    }
    if body.display_name.trim().is_empty() {
        return Err("a display name is needed".into());
    }
    auth::check_new_password(&body.password)?;
    let region = body
        .region
        .as_ref()
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if body.role == Role::Technician && region.is_none() {
        return Err("a technician belongs to a regional office: give a region".into());
    }
    Ok((username, region))
}

/// Creates an account (admin only).
#[utoipa::path(post, path = "/api/users", request_body = NewUser,
    responses((status = 201, body = UserInfo), (status = 400, body = fieldloop_client_core::wire::ErrorBody)), security(("bearer" = [])))]
async fn create_user(
    State(state): State<AppState>,
    Auth(p): Auth,
    Json(body): Json<NewUser>,
) -> AppResult<(StatusCode, Json<UserInfo>)> {
    if p.role != Role::Admin {
        return Err(AppError::forbidden("only an admin creates accounts"));
    }
    let (username, region) = check_new_user(&body).map_err(AppError::invalid)?;
    if state.db.user_by_username(&username).await?.is_some() {
        return Err(AppError::new(
            ErrorCode::UsernameTaken,
            format!("the username '{username}' is taken"),
        ));
    }
    let password = body.password.clone();
    let password_hash = tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(AppError::internal)??;
    let user = User {
        id: Uuid::now_v7(),
        username,
        display_name: body.display_name.trim().to_string(),
        password_hash,
        role: body.role,
        region,
        active: true,
    };
    state.db.create_user(&user, state.now_ms()).await?;
    Ok((StatusCode::CREATED, Json(auth::user_info(&user))))
}

/// Lists accounts (admin, and head office roles that assign work).
#[utoipa::path(get, path = "/api/users", responses((status = 200, body = Vec<UserInfo>)), security(("bearer" = [])))]
async fn list_users(
    State(state): State<AppState>,
    Auth(p): Auth,
) -> AppResult<Json<Vec<UserInfo>>> {
    let users = state.db.list_users().await?;
    let visible = users
        .iter()
        .filter(|u| p.is_head_office() || u.region == p.region)
        .map(auth::user_info)
        .collect();
    Ok(Json(visible))
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
    let actor = body.actor_id.trim().to_ascii_lowercase();
    if actor.len() != 32 || !actor.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::invalid(
            "a device's actor id is 16 bytes in hex (32 characters)",
        ));
    }
    let name = body.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(AppError::invalid("a device name is 1 to 100 characters"));
    }
    if state.db.device_by_actor(&actor).await?.is_some() {
        return Err(AppError::new(
            ErrorCode::ActorTaken,
            "this actor id is already bound to a device",
        ));
    }
    let device = Device {
        id: Uuid::now_v7(),
        user_id: p.user_id,
        name: name.to_string(),
        actor_id: actor.clone(),
        revoked: false,
    };
    state.db.register_device(&device, state.now_ms()).await?;
    Ok((
        StatusCode::CREATED,
        Json(DeviceInfo {
            id: device.id,
            name: device.name,
            actor_id: actor,
        }),
    ))
}
