//! Accounts: sign-in, token refresh and sign-out, users and their devices.

use fieldloop_client_core::model::Role;
use fieldloop_client_core::wire::{
    DeviceInfo, LoginRequest, RefreshRequest, RegisterDevice, TokenPair, UserInfo,
};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::access::Principal;
use crate::auth;
use crate::db::accounts::{Device, User};
use crate::error::{AppError, AppResult, ErrorCode};

/// Signs in with a username and password, from `address` when it is known.
pub async fn login(
    state: &AppState,
    body: LoginRequest,
    address: Option<std::net::IpAddr>,
) -> AppResult<TokenPair> {
    let user = auth::check_credentials(state, &body.username, &body.password, address).await?;
    let family = Uuid::new_v4().to_string();
    auth::issue_pair(state, &user, &family).await
}

/// Trades a refresh token for a new pair; each refresh token works once.
pub async fn refresh(state: &AppState, body: RefreshRequest) -> AppResult<TokenPair> {
    auth::rotate(state, &body.refresh_token).await
}

/// Ends a session: the refresh token and its family stop working.
pub async fn logout(state: &AppState, body: RefreshRequest) -> AppResult<()> {
    auth::logout(state, &body.refresh_token).await?;
    Ok(())
}

/// The signed-in user.
pub async fn me(state: &AppState, p: &Principal) -> AppResult<UserInfo> {
    let user =
        state.db.user_by_id(p.user_id).await?.ok_or_else(|| {
            AppError::new(ErrorCode::InvalidToken, "the account no longer exists")
        })?;
    Ok(auth::user_info(&user))
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
    let username = auth::normalize_username(&body.username)?;
    if body.display_name.trim().is_empty() {
        return Err("a display name is needed".into());
    }
    auth::check_new_password(&body.password, &username)?;
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
pub async fn create_user(state: &AppState, p: &Principal, body: NewUser) -> AppResult<UserInfo> {
    if p.role != Role::Admin {
        return Err(AppError::forbidden("only an admin creates accounts"));
    }
    let (username, region) = check_new_user(&body).map_err(AppError::invalid)?;
    // Unique after normalisation: `Admin` and `admin`, or a name with a zero-width space, are
    // the same name (older accounts are compared as they normalise).
    let taken = state
        .db
        .list_users()
        .await?
        .iter()
        .any(|u| auth::normalize_username(&u.username).as_deref() == Ok(username.as_str()));
    if taken {
        return Err(AppError::new(
            ErrorCode::UsernameTaken,
            format!("the username '{username}' is taken"),
        ));
    }
    let password = body.password.clone();
    let password_hash = auth::with_hasher(state, move || auth::hash_password(&password)).await??;
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
    Ok(auth::user_info(&user))
}

/// The accounts the caller's work needs: an admin all of them; whoever dispatches service work
/// (§2.2) the technicians they may send, with themselves; everyone else only themselves.
pub async fn list_users(state: &AppState, p: &Principal) -> AppResult<Vec<UserInfo>> {
    let users = state.db.list_users().await?;
    let dispatcher = state.config.dispatchers.contains(&p.role);
    let visible = users
        .iter()
        .filter(|u| {
            p.role == Role::Admin
                || u.id == p.user_id
                || (dispatcher
                    && u.role == Role::Technician
                    && u.active
                    && (p.is_head_office() || u.region == p.region))
        })
        .map(auth::user_info)
        .collect();
    Ok(visible)
}

/// Registers the caller's device and binds its Automerge actor id. Changes signed by any other
/// actor are refused from this device.
pub async fn register_device(
    state: &AppState,
    p: &Principal,
    body: RegisterDevice,
) -> AppResult<DeviceInfo> {
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
    Ok(DeviceInfo {
        id: device.id,
        name: device.name,
        actor_id: actor,
    })
}

/// Changes the caller's own password: the current one proves it is them, the new one follows
/// the password rules ([`auth::check_new_password`]).
pub async fn change_password(
    state: &AppState,
    p: &Principal,
    current: &str,
    new: &str,
) -> AppResult<()> {
    let user = state
        .db
        .user_by_id(p.user_id)
        .await?
        .ok_or_else(|| AppError::not_found("no such account"))?;
    auth::check_new_password(new, &user.username).map_err(AppError::invalid)?;
    let (current, hash) = (current.to_string(), user.password_hash.clone());
    if !auth::with_hasher(state, move || auth::verify_password(&current, &hash)).await? {
        return Err(AppError::new(
            ErrorCode::BadCredentials,
            "the current password is not right",
        ));
    }
    let new = new.to_string();
    let hash = auth::with_hasher(state, move || auth::hash_password(&new)).await??;
    state.db.set_password(user.id, &hash).await?;
    tracing::info!(target: "security", user = %user.username, "password changed");
    Ok(())
}
