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
    let checked = auth::check_credentials(state, &body.username, &body.password, address).await;
    let outcome = match &checked {
        Ok(_) => "ok",
        Err(e) if e.code == ErrorCode::BadCredentials => "bad_credentials",
        Err(e) if e.code == ErrorCode::TooManyAttempts => "throttled",
        Err(e) if e.code == ErrorCode::Busy => "busy",
        Err(_) => "other",
    };
    state
        .metrics
        .counter(crate::metrics::SIGN_INS, &[("outcome", outcome)])
        .increment(1);
    let user = checked?;
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
        return Err(AppError::forbidden("only an admin creates accounts")
            .with_zh(Some("只有管理员可以建立账号".into())));
    }
    let (username, region) = check_new_user(&body).map_err(AppError::invalid)?;
    if let Some(region) = &region {
        crate::app::masters::known_region(state, region).await?;
    }
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
        return Err(
            AppError::invalid("a device's actor id is 16 bytes in hex (32 characters)")
                .with_zh(Some("手机标识须为 32 位十六进制字符".into())),
        );
    }
    let name = body.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(AppError::invalid("a device name is 1 to 100 characters")
            .with_zh(Some("手机名称须为 1 到 100 个字符".into())));
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
    let number = state.db.register_device(&device, state.now_ms()).await?;
    Ok(DeviceInfo {
        id: device.id,
        name: device.name,
        actor_id: actor,
        number,
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
    let user = state.db.user_by_id(p.user_id).await?.ok_or_else(|| {
        AppError::not_found("no such account").with_zh(Some("没有这个账号".into()))
    })?;
    auth::check_new_password(new, &user.username).map_err(|e| {
        let zh = auth::password_refusal_zh(&e);
        AppError::invalid(e).with_zh(Some(zh))
    })?;
    let (current, hash) = (current.to_string(), user.password_hash.clone());
    if !auth::with_hasher(state, move || auth::verify_password(&current, &hash)).await? {
        return Err(AppError::new(
            ErrorCode::BadCredentials,
            "the current password is not right",
        )
        .with_zh(Some("当前密码不对".into())));
    }
    let new = new.to_string();
    let hash = auth::with_hasher(state, move || auth::hash_password(&new)).await??;
    state.db.set_password(user.id, &hash).await?;
    tracing::info!(target: "security", user = %user.username, "password changed");
    Ok(())
}

/// A new password an admin sets for someone who lost theirs.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordReset {
    pub password: String,
}

/// One of an account's devices, as an admin sees it.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct DeviceView {
    pub id: Uuid,
    pub name: String,
    /// When it was registered (RFC 3339, server time).
    pub registered_at: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
}

/// One line of the audit log: who did what to which account or device, when.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct AuditEntry {
    /// RFC 3339, server time.
    pub at: String,
    /// The admin who acted (user name).
    pub actor: String,
    /// `reset_password`, `disable_user`, `enable_user` or `revoke_device`.
    pub action: String,
    /// The account (user name) or device (name and owner) acted on.
    pub target: String,
    pub detail: String,
}

fn admin_only(p: &Principal, what: &str) -> AppResult<()> {
    if p.role == Role::Admin {
        Ok(())
    } else {
        Err(AppError::forbidden(format!("only an admin may {what}"))
            .with_zh(Some("只有管理员可以办理此事".into())))
    }
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339()
}

async fn account(state: &AppState, id: Uuid) -> AppResult<User> {
    state.db.user_by_id(id).await?.ok_or_else(|| {
        AppError::not_found("there is no such account").with_zh(Some("没有这个账号".into()))
    })
}

/// Writes what an admin did to the audit log, and to the security log.
async fn audited(
    state: &AppState,
    p: &Principal,
    at: i64,
    action: &str,
    target: &str,
    detail: &str,
) -> AppResult<()> {
    let actor = account(state, p.user_id).await?.username;
    state.db.audit(at, &actor, action, target, detail).await?;
    tracing::info!(target: "security", %actor, action, %target, "account or device changed");
    Ok(())
}

/// Sets a new password for an account (admin only), ends its sessions (a phone or browser
/// signed in with the old one must sign in again) and writes the audit log.
pub async fn reset_password(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    body: PasswordReset,
) -> AppResult<()> {
    admin_only(p, "reset another account's password")?;
    if id == p.user_id {
        return Err(AppError::invalid(
            "change your own password with your current one (the password page), not by a reset",
        )
        .with_zh(Some(
            "请在修改密码页面用当前密码修改自己的密码,不要用重置".into(),
        )));
    }
    let user = account(state, id).await?;
    auth::check_new_password(&body.password, &user.username).map_err(|e| {
        let zh = auth::password_refusal_zh(&e);
        AppError::invalid(e).with_zh(Some(zh))
    })?;
    let password = body.password;
    let hash = auth::with_hasher(state, move || auth::hash_password(&password)).await??;
    let at = state.now_ms();
    state.db.set_password(user.id, &hash).await?;
    state.db.revoke_user_sessions(user.id, at).await?;
    audited(
        state,
        p,
        at,
        "reset_password",
        &user.username,
        "sessions ended",
    )
    .await
}

/// Disables or enables an account (admin only). A disabled account is refused from its next
/// request and its sessions end; an admin cannot disable their own account.
pub async fn set_user_active(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    active: bool,
) -> AppResult<()> {
    admin_only(p, "disable or enable accounts")?;
    if id == p.user_id && !active {
        return Err(AppError::invalid(
            "an admin cannot disable their own account; ask another admin",
        )
        .with_zh(Some("管理员不能停用自己的账号,请另一位管理员办理".into())));
    }
    let user = account(state, id).await?;
    let at = state.now_ms();
    state.db.set_active(user.id, active).await?;
    if !active {
        state.db.revoke_user_sessions(user.id, at).await?;
    }
    let action = if active {
        "enable_user"
    } else {
        "disable_user"
    };
    audited(state, p, at, action, &user.username, "").await
}

/// An account's devices (admin only), newest first.
pub async fn user_devices(state: &AppState, p: &Principal, id: Uuid) -> AppResult<Vec<DeviceView>> {
    admin_only(p, "list another account's devices")?;
    let user = account(state, id).await?;
    Ok(state
        .db
        .user_devices(user.id)
        .await?
        .into_iter()
        .map(|(d, registered, revoked)| DeviceView {
            id: d.id,
            name: d.name,
            registered_at: rfc3339(registered),
            revoked_at: revoked.map(rfc3339),
        })
        .collect())
}

/// Revokes a device (admin only): a lost phone is refused from its next sync; its owner
/// signs in on a new phone. Revoking one twice is refused.
pub async fn revoke_device(state: &AppState, p: &Principal, id: Uuid) -> AppResult<()> {
    admin_only(p, "revoke devices")?;
    let device = state.db.device(id).await?.ok_or_else(|| {
        AppError::not_found("there is no such device").with_zh(Some("没有这台手机".into()))
    })?;
    let at = state.now_ms();
    if !state.db.revoke_device(device.id, at).await? {
        return Err(AppError::new(
            ErrorCode::AlreadyDone,
            format!("the device '{}' is revoked already", device.name),
        ));
    }
    let owner = account(state, device.user_id).await?;
    let target = format!("{} ({})", device.name, owner.username);
    audited(state, p, at, "revoke_device", &target, "").await
}

/// The newest lines of the audit log (admin only).
pub async fn audit_log(state: &AppState, p: &Principal) -> AppResult<Vec<AuditEntry>> {
    admin_only(p, "read the audit log")?;
    Ok(state
        .db
        .audit_log(500)
        .await?
        .into_iter()
        .map(|(at, actor, action, target, detail)| AuditEntry {
            at: rfc3339(at),
            actor,
            action,
            target,
            detail,
        })
        .collect())
}
