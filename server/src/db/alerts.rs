//! Deadline alerts in the database: ladders, channels, the outbox and the bell.
//!
//! The outbox is keyed by (alert, channel), so writing an alert twice (a second sweep, a second
//! server instance) stores it once. Rows are claimed before they are sent: on PostgreSQL with
//! `FOR UPDATE SKIP LOCKED`, so two instances never claim one row; on SQLite under the
//! database's write lock. A claim lasts [`CLAIM_MS`]: a server that dies between claiming and
//! sending leaves rows that another claims once it has passed (sent at least once; the message
//! carries its key so a receiver can tell a repeat).

use sqlx::Row;
use uuid::Uuid;

use super::{Db, Engine};

/// How long a claim holds rows for their sender.
pub const CLAIM_MS: i64 = 60_000;
/// Messages a channel is sent per minute at most, by all instances together (the robots'
/// limit is 20).
pub const PER_MINUTE: i64 = 20;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Channel {
    pub id: Uuid,
    /// The department whose alerts it carries (`marketing`, `quality`, ..., `gm_office`).
    pub department: String,
    /// `staff` (the department's group) or `head` (its head).
    pub audience: String,
    /// `wecom`, `dingtalk` or `email`.
    pub kind: String,
    /// The robot's webhook URL, or the mail addresses (comma separated).
    pub target: String,
    /// DingTalk's signing secret (`SEC...`); never shown back.
    #[serde(skip_serializing)]
    pub secret: Option<String>,
    /// Unix ms until which the robot is left alone (it said "too fast").
    pub paused_until: i64,
}

/// One outbox row as its sender needs it.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub alert_key: String,
    pub channel_id: Uuid,
    pub title: String,
    pub body: String,
    pub attempts: i64,
}

/// One outbox row as the admin sees it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct OutboxRow {
    pub alert_key: String,
    pub channel_id: Uuid,
    pub title: String,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// Unix ms.
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct BellItem {
    pub alert_key: String,
    pub title: String,
    pub body: String,
    /// The same in English ("" for alerts written before English was kept).
    pub title_en: String,
    pub body_en: String,
    pub link: String,
    /// Unix ms.
    pub created_at: i64,
    pub read: bool,
}

/// One alert for one person's bell, in both languages.
#[derive(Debug, Clone)]
pub struct BellRow {
    pub key: String,
    pub user: Uuid,
    pub title: String,
    pub body: String,
    pub title_en: String,
    pub body_en: String,
    pub link: String,
}

fn uuid_of(text: &str) -> sqlx::Result<Uuid> {
    Uuid::parse_str(text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

impl Db {
    /// The saved ladders, by kind code (JSON text each).
    pub async fn alert_ladders(&self) -> sqlx::Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT kind, rungs FROM alert_ladders")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("kind")?, r.try_get("rungs")?)))
            .collect()
    }

    pub async fn set_alert_ladder(&self, kind: &str, rungs: &str, at: i64) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO alert_ladders (kind, rungs, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (kind) DO UPDATE SET rungs = excluded.rungs, updated_at = excluded.updated_at",
        )
        .bind(kind)
        .bind(rungs)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn alert_channels(&self) -> sqlx::Result<Vec<Channel>> {
        let rows = sqlx::query(
            "SELECT id, department, audience, kind, target, secret, paused_until FROM alert_channels ORDER BY department, kind, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                Ok(Channel {
                    id: uuid_of(&id)?,
                    department: r.try_get("department")?,
                    audience: r.try_get("audience")?,
                    kind: r.try_get("kind")?,
                    target: r.try_get("target")?,
                    secret: r.try_get("secret")?,
                    paused_until: r.try_get("paused_until")?,
                })
            })
            .collect()
    }

    pub async fn add_alert_channel(&self, c: &Channel, at: i64) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO alert_channels (id, department, audience, kind, target, secret, paused_until, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7)",
        )
        .bind(c.id.to_string())
        .bind(&c.department)
        .bind(&c.audience)
        .bind(&c.kind)
        .bind(&c.target)
        .bind(c.secret.clone())
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes a channel and what it had still to send; `false` when there is none.
    pub async fn delete_alert_channel(&self, id: Uuid) -> sqlx::Result<bool> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM alert_outbox WHERE channel_id = $1 AND state <> 'sent'")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM alert_channels WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Leaves a channel alone until `until` (unix ms).
    pub async fn pause_alert_channel(&self, id: Uuid, until: i64) -> sqlx::Result<()> {
        sqlx::query("UPDATE alert_channels SET paused_until = $1 WHERE id = $2")
            .bind(until)
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Writes alerts to the outbox and the bell in one transaction; rows already there stay
    /// as they are. Returns how many outbox rows are new.
    pub async fn enqueue_alerts(
        &self,
        outbox: &[(String, Uuid, String, String)],
        bell: &[BellRow],
        at: i64,
    ) -> sqlx::Result<u64> {
        let mut tx = self.begin_write().await?;
        let mut new = 0;
        for (key, channel, title, body) in outbox {
            new += sqlx::query(
                "INSERT INTO alert_outbox (alert_key, channel_id, title, body, state, attempts, next_at, claimed_until, created_at)
                 VALUES ($1, $2, $3, $4, 'queued', 0, $5, 0, $5) ON CONFLICT (alert_key, channel_id) DO NOTHING",
            )
            .bind(key)
            .bind(channel.to_string())
            .bind(title)
            .bind(body)
            .bind(at)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        }
        for row in bell {
            sqlx::query(
                "INSERT INTO alert_bell (alert_key, user_id, title, body, title_en, body_en, link, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (alert_key, user_id) DO NOTHING",
            )
            .bind(&row.key)
            .bind(row.user.to_string())
            .bind(&row.title)
            .bind(&row.body)
            .bind(&row.title_en)
            .bind(&row.body_en)
            .bind(&row.link)
            .bind(at)
            .execute(&mut **tx)
            .await?;
        }
        tx.commit().await?;
        Ok(new)
    }

    /// Claims up to `limit` queued rows of `channel` that are due at `now` and not claimed by
    /// a live claim, for one message; they are the caller's until `now + CLAIM_MS`. Nothing
    /// is claimed once the channel has had [`PER_MINUTE`] messages in its current minute.
    pub async fn claim_alerts(
        &self,
        channel: Uuid,
        now: i64,
        limit: i64,
    ) -> sqlx::Result<Vec<Outgoing>> {
        let mut tx = self.begin_write().await?;
        let lock = match self.engine {
            Engine::Postgres => " FOR UPDATE SKIP LOCKED",
            Engine::Sqlite => "",
        };
        // The channel's minute: one message is one claim; past the limit, nothing is claimed
        // until the minute is over. The channel's row is locked while this is decided.
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT window_start, window_count FROM alert_channels WHERE id = $1{}",
            if self.engine == Engine::Postgres {
                " FOR UPDATE"
            } else {
                ""
            }
        ));
        let Some(window) = sqlx::query(sql)
            .bind(channel.to_string())
            .fetch_optional(&mut **tx)
            .await?
        else {
            return Ok(Vec::new());
        };
        let (start, count): (i64, i64) = (window.try_get(0)?, window.try_get(1)?);
        let (start, count) = if now - start >= 60_000 {
            (now, 0)
        } else {
            (start, count)
        };
        if count >= PER_MINUTE {
            tx.rollback().await?;
            return Ok(Vec::new());
        }
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT alert_key, title, body, attempts FROM alert_outbox
             WHERE channel_id = $1 AND state = 'queued' AND next_at <= $2 AND claimed_until <= $2
             ORDER BY created_at, alert_key LIMIT $3{lock}"
        ));
        let rows = sqlx::query(sql)
            .bind(channel.to_string())
            .bind(now)
            .bind(limit)
            .fetch_all(&mut **tx)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let key: String = r.try_get("alert_key")?;
            sqlx::query(
                "UPDATE alert_outbox SET claimed_until = $1, attempts = attempts + 1
                 WHERE alert_key = $2 AND channel_id = $3",
            )
            .bind(now + CLAIM_MS)
            .bind(&key)
            .bind(channel.to_string())
            .execute(&mut **tx)
            .await?;
            out.push(Outgoing {
                alert_key: key,
                channel_id: channel,
                title: r.try_get("title")?,
                body: r.try_get("body")?,
                attempts: r.try_get::<i64, _>("attempts")? + 1,
            });
        }
        if !out.is_empty() {
            sqlx::query(
                "UPDATE alert_channels SET window_start = $1, window_count = $2 WHERE id = $3",
            )
            .bind(start)
            .bind(count + 1)
            .bind(channel.to_string())
            .execute(&mut **tx)
            .await?;
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Marks claimed rows sent.
    pub async fn alerts_sent(&self, rows: &[Outgoing], at: i64) -> sqlx::Result<()> {
        let mut tx = self.pool.begin().await?;
        for r in rows {
            sqlx::query(
                "UPDATE alert_outbox SET state = 'sent', sent_at = $1, last_error = NULL
                 WHERE alert_key = $2 AND channel_id = $3",
            )
            .bind(at)
            .bind(&r.alert_key)
            .bind(r.channel_id.to_string())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    /// Puts claimed rows back for another try at `next_at`, or gives them up (`failed`) when
    /// `give_up`; `error` says why.
    pub async fn alerts_retry(
        &self,
        rows: &[Outgoing],
        next_at: i64,
        error: &str,
        give_up: bool,
    ) -> sqlx::Result<()> {
        let mut tx = self.pool.begin().await?;
        for r in rows {
            sqlx::query(
                "UPDATE alert_outbox SET state = $1, next_at = $2, claimed_until = 0, last_error = $3
                 WHERE alert_key = $4 AND channel_id = $5",
            )
            .bind(if give_up { "failed" } else { "queued" })
            .bind(next_at)
            .bind(error)
            .bind(&r.alert_key)
            .bind(r.channel_id.to_string())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    /// Outbox rows in `state` (`queued`, `sent`, `failed`), newest first.
    pub async fn alert_outbox(&self, state: &str, limit: i64) -> sqlx::Result<Vec<OutboxRow>> {
        let rows = sqlx::query(
            "SELECT alert_key, channel_id, title, state, attempts, last_error, created_at, sent_at
             FROM alert_outbox WHERE state = $1 ORDER BY created_at DESC, alert_key LIMIT $2",
        )
        .bind(state)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let channel: String = r.try_get("channel_id")?;
                Ok(OutboxRow {
                    alert_key: r.try_get("alert_key")?,
                    channel_id: uuid_of(&channel)?,
                    title: r.try_get("title")?,
                    state: r.try_get("state")?,
                    attempts: r.try_get("attempts")?,
                    last_error: r.try_get("last_error")?,
                    created_at: r.try_get("created_at")?,
                    sent_at: r.try_get("sent_at")?,
                })
            })
            .collect()
    }

    /// Outbox rows by channel kind and state, for the metrics.
    pub async fn alert_counts(&self) -> sqlx::Result<Vec<(String, String, i64)>> {
        let rows = sqlx::query(
            "SELECT c.kind AS kind, o.state AS state, COUNT(*) AS n FROM alert_outbox o
             JOIN alert_channels c ON c.id = o.channel_id GROUP BY c.kind, o.state",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("kind")?, r.try_get("state")?, r.try_get("n")?)))
            .collect()
    }

    /// A person's bell: the newest alerts, unread first.
    pub async fn bell(&self, user: Uuid, limit: i64) -> sqlx::Result<Vec<BellItem>> {
        let rows = sqlx::query(
            "SELECT alert_key, title, body, title_en, body_en, link, created_at, read_at FROM alert_bell
             WHERE user_id = $1 ORDER BY (read_at IS NULL) DESC, created_at DESC, alert_key LIMIT $2",
        )
        .bind(user.to_string())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(BellItem {
                    alert_key: r.try_get("alert_key")?,
                    title: r.try_get("title")?,
                    body: r.try_get("body")?,
                    title_en: r.try_get("title_en")?,
                    body_en: r.try_get("body_en")?,
                    link: r.try_get("link")?,
                    created_at: r.try_get("created_at")?,
                    read: r.try_get::<Option<i64>, _>("read_at")?.is_some(),
                })
            })
            .collect()
    }

    pub async fn bell_unread(&self, user: Uuid) -> sqlx::Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM alert_bell WHERE user_id = $1 AND read_at IS NULL",
        )
        .bind(user.to_string())
        .fetch_one(&self.pool)
        .await?;
        row.try_get("n")
    }

    /// Marks a person's alerts read (all of them, or the one `key`).
    pub async fn bell_read(&self, user: Uuid, key: Option<&str>, at: i64) -> sqlx::Result<u64> {
        let done = match key {
            Some(key) => sqlx::query(
                "UPDATE alert_bell SET read_at = $1 WHERE user_id = $2 AND alert_key = $3 AND read_at IS NULL",
            )
            .bind(at)
            .bind(user.to_string())
            .bind(key)
            .execute(&self.pool)
            .await?,
            None => sqlx::query(
                "UPDATE alert_bell SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL",
            )
            .bind(at)
            .bind(user.to_string())
            .execute(&self.pool)
            .await?,
        };
        Ok(done.rows_affected())
    }
}
