//! Complaint cases, their events, notifications, settlements and monthly reviews.

use sqlx::Row;
use uuid::Uuid;

use super::{Db, Tx};
use crate::workflow::complaint::{Case, CaseState};

/// A stored case with its optimistic-lock version.
#[derive(Debug, Clone)]
pub struct StoredCase {
    pub case: Case,
    pub version: i64,
}

fn state_code(state: CaseState) -> &'static str {
    match state {
        CaseState::Submitted => "submitted",
        CaseState::Open => "open",
        CaseState::Closed => "closed",
    }
}

fn decode(body: &str, version: i64) -> sqlx::Result<StoredCase> {
    let case: Case = serde_json::from_str(body).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(StoredCase { case, version })
}

fn encode(case: &Case) -> sqlx::Result<String> {
    serde_json::to_string(case).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

fn ms(t: Option<chrono::DateTime<chrono::Utc>>) -> Option<i64> {
    t.map(|t| t.timestamp_millis())
}

pub async fn insert_case(tx: &mut Tx, case: &Case, at: i64) -> sqlx::Result<bool> {
    let now = at;
    let inserted = sqlx::query(
        "INSERT INTO complaint_cases (id, region, number, state, filed_by, due_at, closed_at, original, body, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $10) ON CONFLICT (id) DO NOTHING",
    )
    .bind(case.id.to_string())
    .bind(&case.region)
    .bind(case.number.clone())
    .bind(state_code(case.state))
    .bind(case.filed_by.to_string())
    .bind(ms(case.due_at))
    .bind(ms(case.closed_at))
    .bind(case.original.map(|o| o.to_string()))
    .bind(encode(case)?)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

pub async fn load_case(tx: &mut Tx, id: Uuid) -> sqlx::Result<Option<StoredCase>> {
    let row = sqlx::query("SELECT body, version FROM complaint_cases WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| decode(&r.try_get::<String, _>(0)?, r.try_get(1)?))
        .transpose()
}

/// Stores a case if nobody changed it since `version`; false when somebody did (stale).
pub async fn update_case(tx: &mut Tx, case: &Case, version: i64, at: i64) -> sqlx::Result<bool> {
    let updated = sqlx::query(
        "UPDATE complaint_cases SET number = $2, state = $3, due_at = $4, closed_at = $5, body = $6,
         version = version + 1, updated_at = $7 WHERE id = $1 AND version = $8",
    )
    .bind(case.id.to_string())
    .bind(case.number.clone())
    .bind(state_code(case.state))
    .bind(ms(case.due_at))
    .bind(ms(case.closed_at))
    .bind(encode(case)?)
    .bind(at)
    .bind(version)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(updated == 1)
}

pub async fn insert_settlement(
    tx: &mut Tx,
    id: Uuid,
    case: Uuid,
    kind: &str,
    body: &str,
    at: i64,
) -> sqlx::Result<()> {
    let now = at;
    sqlx::query(
        "INSERT INTO settlements (id, case_id, kind, body, version, created_at, updated_at) VALUES ($1, $2, $3, $4, 1, $5, $5)",
    )
    .bind(id.to_string())
    .bind(case.to_string())
    .bind(kind)
    .bind(body)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Stores a settlement if unchanged since `version`, in the caller's transaction.
pub async fn update_settlement(
    tx: &mut Tx,
    id: Uuid,
    body: &str,
    version: i64,
    at: i64,
) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "UPDATE settlements SET body = $2, version = version + 1, updated_at = $3 WHERE id = $1 AND version = $4",
    )
    .bind(id.to_string())
    .bind(body)
    .bind(at)
    .bind(version)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// The settlements of one kind (`allowance` or `return`) opened against a case, read with the
/// case's row locked until the transaction ends: two opened at once on PostgreSQL see each
/// other, so together they cannot go past what was approved (SQLite writers already take turns).
pub async fn settlement_bodies(tx: &mut Tx, case: Uuid, kind: &str) -> sqlx::Result<Vec<String>> {
    sqlx::query("UPDATE complaint_cases SET updated_at = updated_at WHERE id = $1")
        .bind(case.to_string())
        .execute(&mut **tx)
        .await?;
    let rows = sqlx::query("SELECT body FROM settlements WHERE case_id = $1 AND kind = $2")
        .bind(case.to_string())
        .bind(kind)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(|r| r.try_get(0)).collect()
}

pub async fn insert_event(
    tx: &mut Tx,
    case: Uuid,
    user: Uuid,
    role: &str,
    action: &str,
    payload: &str,
    at: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO complaint_events (id, case_id, user_id, role, action, payload, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(case.to_string())
    .bind(user.to_string())
    .bind(role)
    .bind(action)
    .bind(payload)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// One row of a case's history.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub user_id: String,
    pub role: String,
    pub action: String,
    pub payload: String,
    pub at: i64,
}

/// A settlement row (return form or allowance certificate) as JSON with its version.
#[derive(Debug, Clone)]
pub struct SettlementRow {
    pub id: Uuid,
    pub case_id: Uuid,
    pub kind: String,
    pub body: String,
    pub version: i64,
    /// The case's number (投诉编号), where the query read it.
    pub case_number: Option<String>,
}

impl Db {
    pub async fn case(&self, id: Uuid) -> sqlx::Result<Option<StoredCase>> {
        let row = sqlx::query("SELECT body, version FROM complaint_cases WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| decode(&r.try_get::<String, _>(0)?, r.try_get(1)?))
            .transpose()
    }

    pub async fn case_by_number(&self, number: &str) -> sqlx::Result<Option<StoredCase>> {
        let row = sqlx::query("SELECT body, version FROM complaint_cases WHERE number = $1")
            .bind(number)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| decode(&r.try_get::<String, _>(0)?, r.try_get(1)?))
            .transpose()
    }

    /// Cases of a region (or all), newest first.
    pub async fn cases(
        &self,
        region: Option<&str>,
        state: Option<&str>,
    ) -> sqlx::Result<Vec<Case>> {
        let rows = sqlx::query(
            "SELECT body, version FROM complaint_cases
             WHERE ($1 = '' OR region = $1) AND ($2 = '' OR state = $2) ORDER BY created_at DESC",
        )
        .bind(region.unwrap_or(""))
        .bind(state.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok(decode(&r.try_get::<String, _>(0)?, r.try_get(1)?)?.case))
            .collect()
    }

    /// Each complaint's customer and defect as its form says them, for the complaints list.
    pub async fn case_forms(
        &self,
    ) -> sqlx::Result<std::collections::HashMap<Uuid, (String, String)>> {
        let rows = sqlx::query(
            "SELECT f.doc_id, f.path, f.value FROM doc_fields f JOIN complaint_cases c ON c.id = f.doc_id
             WHERE f.path IN ('form.customer_name', 'form.defect')",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out: std::collections::HashMap<Uuid, (String, String)> = Default::default();
        for r in &rows {
            let Ok(id) = Uuid::parse_str(&r.try_get::<String, _>(0)?) else {
                continue;
            };
            let path: String = r.try_get(1)?;
            let value: String = r.try_get(2)?;
            let entry = out.entry(id).or_default();
            if path == "form.customer_name" {
                entry.0 = value;
            } else {
                entry.1 = value;
            }
        }
        Ok(out)
    }

    /// Cases closed in [from, to) (unix ms).
    pub async fn cases_closed_between(&self, from: i64, to: i64) -> sqlx::Result<Vec<Case>> {
        let rows = sqlx::query(
            "SELECT body, version FROM complaint_cases WHERE closed_at >= $1 AND closed_at < $2 ORDER BY number",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok(decode(&r.try_get::<String, _>(0)?, r.try_get(1)?)?.case))
            .collect()
    }

    pub async fn case_events(&self, id: Uuid) -> sqlx::Result<Vec<EventRow>> {
        let rows = sqlx::query(
            "SELECT user_id, role, action, payload, at FROM complaint_events WHERE case_id = $1 ORDER BY at, id",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(EventRow {
                    user_id: r.try_get(0)?,
                    role: r.try_get(1)?,
                    action: r.try_get(2)?,
                    payload: r.try_get(3)?,
                    at: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Raises a notification once per key; returns whether it was new.
    pub async fn notify(
        &self,
        key: &str,
        department: &str,
        case: Uuid,
        message: &str,
        at: i64,
    ) -> sqlx::Result<bool> {
        let n = sqlx::query(
            "INSERT INTO notifications (key, department, case_id, message, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(department)
        .bind(case.to_string())
        .bind(message)
        .bind(at)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    pub async fn notifications(
        &self,
        department: &str,
    ) -> sqlx::Result<Vec<(String, String, i64)>> {
        let rows = sqlx::query(
            "SELECT case_id, message, created_at FROM notifications WHERE department = $1 ORDER BY created_at DESC LIMIT 500",
        )
        .bind(department)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    pub async fn settlement(&self, id: Uuid) -> sqlx::Result<Option<SettlementRow>> {
        let row =
            sqlx::query("SELECT id, case_id, kind, body, version FROM settlements WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| {
            Ok(SettlementRow {
                id: Uuid::parse_str(&r.try_get::<String, _>(0)?)
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                case_id: Uuid::parse_str(&r.try_get::<String, _>(1)?)
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                kind: r.try_get(2)?,
                body: r.try_get(3)?,
                version: r.try_get(4)?,
                case_number: None,
            })
        })
        .transpose()
    }

    pub async fn review(&self, month: &str) -> sqlx::Result<Option<(String, i64, String)>> {
        let row = sqlx::query(
            "SELECT confirmed_by, confirmed_at, notice FROM monthly_reviews WHERE month = $1",
        )
        .bind(month)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .transpose()
    }

    /// Stores a confirmed review once; false if the month was already confirmed.
    pub async fn confirm_review(
        &self,
        month: &str,
        by: Uuid,
        at: chrono::DateTime<chrono::Utc>,
        notice: &str,
    ) -> sqlx::Result<bool> {
        let n = sqlx::query(
            "INSERT INTO monthly_reviews (month, confirmed_by, confirmed_at, notice) VALUES ($1, $2, $3, $4)
             ON CONFLICT (month) DO NOTHING",
        )
        .bind(month)
        .bind(by.to_string())
        .bind(at.timestamp_millis())
        .bind(notice)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }
}
