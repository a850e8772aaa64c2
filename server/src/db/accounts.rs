//! Users, devices and refresh tokens.

use std::str::FromStr;

use fieldloop_client_core::model::Role;
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::Db;

/// A user account as stored.
#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: Role,
    pub region: Option<String>,
    pub active: bool,
}

#[derive(Debug, Clone)]
pub struct Device {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub actor_id: String,
    pub revoked: bool,
}

/// What a request's access is judged on (see [`Db::access`]).
#[derive(Debug, Clone)]
pub struct Access {
    pub role: Role,
    pub region: Option<String>,
    pub active: bool,
    pub family_revoked: bool,
    pub device: Option<Device>,
}

/// A refresh token row.
#[derive(Debug, Clone)]
pub struct RefreshRow {
    pub user_id: Uuid,
    pub family: String,
    pub expires_at: i64,
    pub used: bool,
    pub revoked: bool,
}

fn uuid_of(row: &AnyRow, i: usize) -> sqlx::Result<Uuid> {
    let text: String = row.try_get(i)?;
    Uuid::parse_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn user_of(row: &AnyRow) -> sqlx::Result<User> {
    let role: String = row.try_get(4)?;
    Ok(User {
        id: uuid_of(row, 0)?,
        username: row.try_get(1)?,
        display_name: row.try_get(2)?,
        password_hash: row.try_get(3)?,
        role: Role::from_str(&role).map_err(|e| sqlx::Error::Decode(e.into()))?,
        region: row.try_get(5)?,
        active: row.try_get::<i64, _>(6)? != 0,
    })
}

const USER_COLUMNS: &str = "id, username, display_name, password_hash, role, region, active";

impl Db {
    pub async fn create_user(&self, user: &User, at: i64) -> sqlx::Result<()> {
        insert_user(&mut *self.pool.acquire().await?, user, at).await
    }

    pub async fn user_by_username(&self, username: &str) -> sqlx::Result<Option<User>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE username = $1"
        ));
        let row = sqlx::query(sql)
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_of).transpose()
    }

    pub async fn user_by_id(&self, id: Uuid) -> sqlx::Result<Option<User>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"));
        let row = sqlx::query(sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_of).transpose()
    }

    pub async fn list_users(&self) -> sqlx::Result<Vec<User>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY username"
        ));
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        rows.iter().map(user_of).collect()
    }

    /// Registers a device; its short number (1, 2, ...) in registration order.
    pub async fn register_device(&self, device: &Device, at: i64) -> sqlx::Result<i64> {
        let mut tx = self.begin_write().await?;
        let number = super::next_counter(&mut tx, "device_number").await?;
        sqlx::query("INSERT INTO devices (id, user_id, name, actor_id, registered_at, number) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(device.id.to_string())
            .bind(device.user_id.to_string())
            .bind(&device.name)
            .bind(&device.actor_id)
            .bind(at)
            .bind(number)
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        self.access_changed();
        Ok(number)
    }

    pub async fn device(&self, id: Uuid) -> sqlx::Result<Option<Device>> {
        let row = sqlx::query(
            "SELECT id, user_id, name, actor_id, revoked_at FROM devices WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Device {
                id: uuid_of(&r, 0)?,
                user_id: uuid_of(&r, 1)?,
                name: r.try_get(2)?,
                actor_id: r.try_get(3)?,
                revoked: r.try_get::<Option<i64>, _>(4)?.is_some(),
            })
        })
        .transpose()
    }

    pub async fn device_by_actor(&self, actor_id: &str) -> sqlx::Result<Option<Uuid>> {
        let row = sqlx::query("SELECT id FROM devices WHERE actor_id = $1")
            .bind(actor_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| uuid_of(&r, 0)).transpose()
    }

    pub async fn insert_refresh(
        &self,
        token_hash: &str,
        user_id: Uuid,
        family: &str,
        expires_at: i64,
        at: i64,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, user_id, family, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user_id.to_string())
        .bind(family)
        .bind(at)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Marks a refresh token used, if it was not already. Returns the row as it was before, and
    /// whether this call was the one that used it (two concurrent refreshes: one wins).
    pub async fn use_refresh(
        &self,
        token_hash: &str,
        at: i64,
    ) -> sqlx::Result<Option<(RefreshRow, bool)>> {
        let row = sqlx::query(
            "SELECT user_id, family, expires_at, used_at, revoked_at FROM refresh_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let found = RefreshRow {
            user_id: uuid_of(&r, 0)?,
            family: r.try_get(1)?,
            expires_at: r.try_get(2)?,
            used: r.try_get::<Option<i64>, _>(3)?.is_some(),
            revoked: r.try_get::<Option<i64>, _>(4)?.is_some(),
        };
        let won = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
        )
        .bind(at)
        .bind(token_hash)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1;
        Ok(Some((found, won)))
    }

    /// Replaces a user's password hash.
    pub async fn set_password(&self, user: Uuid, hash: &str) -> sqlx::Result<bool> {
        Ok(
            sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
                .bind(user.to_string())
                .bind(hash)
                .execute(&self.pool)
                .await?
                .rows_affected()
                == 1,
        )
    }

    /// Everything a request's access is judged on, read in one statement: the account (role,
    /// region, active), whether the token's session was revoked, and the device it names.
    /// On SQLite the answer is remembered until this server writes a change that could alter
    /// it (see [`super::access_cache`]).
    pub async fn access(
        &self,
        user: Uuid,
        family: Option<&str>,
        device: Option<Uuid>,
    ) -> sqlx::Result<Option<Access>> {
        let Some(cache) = &self.access_cache else {
            return self.read_access(user, family, device).await;
        };
        if let Some(found) = cache.get(user, family, device) {
            return Ok(Some(found));
        }
        let epoch = cache.epoch();
        let found = self.read_access(user, family, device).await?;
        if let Some(access) = &found {
            cache.put(epoch, user, family, device, access);
        }
        Ok(found)
    }

    /// After a committed write to accounts, sessions or devices: no remembered access read
    /// is used again.
    pub fn access_changed(&self) {
        if let Some(cache) = &self.access_cache {
            cache.changed();
        }
    }

    async fn read_access(
        &self,
        user: Uuid,
        family: Option<&str>,
        device: Option<Uuid>,
    ) -> sqlx::Result<Option<Access>> {
        let row = sqlx::query(
            "SELECT u.role, u.region, u.active,
                CAST(CASE WHEN EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family = $2 AND t.revoked_at IS NOT NULL)
                     THEN 1 ELSE 0 END AS BIGINT),
                d.id, d.user_id, d.name, d.actor_id, d.revoked_at
             FROM users u LEFT JOIN devices d ON d.id = $3 WHERE u.id = $1",
        )
        .bind(user.to_string())
        .bind(family.unwrap_or(""))
        .bind(device.map(|d| d.to_string()).unwrap_or_default())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let role: String = r.try_get(0)?;
            let device = match r.try_get::<Option<String>, _>(4)? {
                Some(_) => Some(Device {
                    id: uuid_of(&r, 4)?,
                    user_id: uuid_of(&r, 5)?,
                    name: r.try_get(6)?,
                    actor_id: r.try_get(7)?,
                    revoked: r.try_get::<Option<i64>, _>(8)?.is_some(),
                }),
                None => None,
            };
            Ok(Access {
                role: Role::from_str(&role).map_err(|e| sqlx::Error::Decode(e.into()))?,
                region: r.try_get(1)?,
                active: r.try_get::<i64, _>(2)? != 0,
                family_revoked: r.try_get::<i64, _>(3)? != 0,
                device,
            })
        })
        .transpose()
    }

    /// Whether a session (refresh-token family) was revoked: signed out, replayed, or its
    /// account's sessions ended.
    pub async fn family_revoked(&self, family: &str) -> sqlx::Result<bool> {
        Ok(sqlx::query(
            "SELECT 1 FROM refresh_tokens WHERE family = $1 AND revoked_at IS NOT NULL LIMIT 1",
        )
        .bind(family)
        .fetch_optional(&self.pool)
        .await?
        .is_some())
    }

    /// Revokes every token of a family (a replayed token means the family leaked).
    pub async fn revoke_family(&self, family: &str, at: i64) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(family)
        .execute(&self.pool)
        .await?;
        self.access_changed();
        Ok(())
    }

    /// Enables or disables an account; whether it existed.
    pub async fn set_active(&self, user: Uuid, active: bool) -> sqlx::Result<bool> {
        let done = sqlx::query("UPDATE users SET active = $2 WHERE id = $1")
            .bind(user.to_string())
            .bind(i64::from(active))
            .execute(&self.pool)
            .await?;
        self.access_changed();
        Ok(done.rows_affected() == 1)
    }

    /// Ends every session of an account: its refresh tokens, the access tokens issued with
    /// them, and its back-office browser sessions are refused from the next request on.
    pub async fn revoke_user_sessions(&self, user: Uuid, at: i64) -> sqlx::Result<()> {
        // The phone's and the API's sessions (their refresh tokens, and with them the access
        // tokens of the family) and the browser's, together.
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(user.to_string())
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM web_sessions WHERE user_id = $1")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.access_changed();
        Ok(())
    }

    /// An account's devices, newest first, each with when it was registered and revoked.
    pub async fn user_devices(&self, user: Uuid) -> sqlx::Result<Vec<(Device, i64, Option<i64>)>> {
        let rows = sqlx::query(
            "SELECT id, user_id, name, actor_id, revoked_at, registered_at FROM devices
             WHERE user_id = $1 ORDER BY registered_at DESC, id",
        )
        .bind(user.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let revoked_at: Option<i64> = r.try_get(4)?;
                Ok((
                    Device {
                        id: uuid_of(r, 0)?,
                        user_id: uuid_of(r, 1)?,
                        name: r.try_get(2)?,
                        actor_id: r.try_get(3)?,
                        revoked: revoked_at.is_some(),
                    },
                    r.try_get(5)?,
                    revoked_at,
                ))
            })
            .collect()
    }

    /// Revokes a device (a lost or replaced phone): its next request is refused. Whether it
    /// was active until now.
    pub async fn revoke_device(&self, device: Uuid, at: i64) -> sqlx::Result<bool> {
        let done =
            sqlx::query("UPDATE devices SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(at)
                .bind(device.to_string())
                .execute(&self.pool)
                .await?;
        self.access_changed();
        Ok(done.rows_affected() == 1)
    }

    /// Writes one line of the audit log.
    pub async fn audit(
        &self,
        at: i64,
        actor: &str,
        action: &str,
        target: &str,
        detail: &str,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(at)
        .bind(actor)
        .bind(action)
        .bind(target)
        .bind(detail)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The newest `limit` lines of the audit log: (at, actor, action, target, detail).
    pub async fn audit_log(
        &self,
        limit: i64,
    ) -> sqlx::Result<Vec<(i64, String, String, String, String)>> {
        let rows = sqlx::query(
            "SELECT at, actor, action, target, detail FROM audit_log ORDER BY at DESC, id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    r.try_get(1)?,
                    r.try_get(2)?,
                    r.try_get(3)?,
                    r.try_get(4)?,
                ))
            })
            .collect()
    }
}

/// An account written on `conn` (alone, or as one row of an import's transaction).
pub async fn insert_user(conn: &mut sqlx::AnyConnection, user: &User, at: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO users (id, username, display_name, password_hash, role, region, active, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(user.id.to_string())
    .bind(&user.username)
    .bind(&user.display_name)
    .bind(&user.password_hash)
    .bind(user.role.code())
    .bind(user.region.clone())
    .bind(i64::from(user.active))
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}
