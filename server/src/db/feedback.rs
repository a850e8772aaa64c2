//! Survey templates, campaigns and feedback items (§3).

use sqlx::Row;
use uuid::Uuid;

use super::{Db, Tx};

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Campaign {
    pub id: Uuid,
    pub template_id: Uuid,
    pub name: String,
    /// monthly, quarterly or ad_hoc.
    pub period: String,
    pub region: Option<String>,
    pub product_model: Option<String>,
    pub opens_on: String,
    pub closes_on: String,
    pub closed: bool,
}

/// A feedback item as handled by the office.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct FeedbackItem {
    pub id: Uuid,
    pub region: String,
    /// suggestion, complaint or rating.
    pub kind: String,
    /// general or severe.
    pub severity: String,
    pub technician: Option<String>,
    pub visit_id: Option<String>,
    pub campaign_id: Option<String>,
    pub rating: Option<i64>,
    /// open or closed.
    pub state: String,
    pub reported_at: Option<i64>,
    pub answered_at: Option<i64>,
    pub answer_method: Option<String>,
    pub complaint_id: Option<String>,
    pub chase_count: i64,
    pub created_at: i64,
    /// Who visited a complaining customer: the department head, or whom the head sent (§3.5).
    pub head_visit: Option<String>,
}

const ITEM_COLUMNS: &str = "SELECT id, region, kind, severity, technician, visit_id, campaign_id, rating, state, reported_at, answered_at, answer_method, complaint_id, chase_count, created_at, head_visit FROM feedback_items";

fn item(r: &sqlx::any::AnyRow) -> sqlx::Result<FeedbackItem> {
    Ok(FeedbackItem {
        id: Uuid::parse_str(&r.try_get::<String, _>(0)?)
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        region: r.try_get(1)?,
        kind: r.try_get(2)?,
        severity: r.try_get(3)?,
        technician: r.try_get(4)?,
        visit_id: r.try_get(5)?,
        campaign_id: r.try_get(6)?,
        rating: r.try_get(7)?,
        state: r.try_get(8)?,
        reported_at: r.try_get(9)?,
        answered_at: r.try_get(10)?,
        answer_method: r.try_get(11)?,
        complaint_id: r.try_get(12)?,
        chase_count: r.try_get(13)?,
        created_at: r.try_get(14)?,
        head_visit: r.try_get(15)?,
    })
}

/// The facts of a new feedback item, as its document says.
#[derive(Debug, Clone)]
pub struct NewItem {
    pub id: Uuid,
    pub region: String,
    pub kind: String,
    pub severity: String,
    pub technician: Option<String>,
    pub visit_id: Option<String>,
    pub campaign_id: Option<String>,
    pub rating: Option<i64>,
    /// Business time it arrived (unix ms).
    pub at: i64,
}

/// Registers a feedback item when its document first arrives, and keeps it in step with later
/// edits of the document: feedback raised to severe after its first sync must reach the head
/// (§3.3). Ratings need no handling and are closed at once; suggestions and complaints stay
/// open until answered (§3.4), and a rating edited into a complaint opens.
pub async fn insert_item(tx: &mut Tx, n: &NewItem) -> sqlx::Result<()> {
    let state = if n.kind == "rating" { "closed" } else { "open" };
    sqlx::query(
        "INSERT INTO feedback_items (id, region, kind, severity, technician, visit_id, campaign_id, rating, state, chase_count, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10)
         ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, severity = excluded.severity,
         technician = excluded.technician, visit_id = excluded.visit_id, rating = excluded.rating,
         state = CASE WHEN feedback_items.kind = 'rating' AND excluded.kind <> 'rating' THEN 'open'
                      ELSE feedback_items.state END",
    )
    .bind(n.id.to_string())
    .bind(&n.region)
    .bind(&n.kind)
    .bind(&n.severity)
    .bind(n.technician.clone())
    .bind(n.visit_id.clone())
    .bind(n.campaign_id.clone())
    .bind(n.rating)
    .bind(state)
    .bind(n.at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Is a campaign open for answers?
pub async fn campaign_open(tx: &mut Tx, id: &str) -> sqlx::Result<bool> {
    Ok(
        sqlx::query("SELECT 1 FROM campaigns WHERE id = $1 AND closed_at IS NULL")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
            .is_some(),
    )
}

impl Db {
    pub async fn create_template(
        &self,
        id: Uuid,
        name: &str,
        questions: &str,
        at: i64,
    ) -> sqlx::Result<()> {
        sqlx::query("INSERT INTO survey_templates (id, name, questions, created_at) VALUES ($1, $2, $3, $4)")
            .bind(id.to_string())
            .bind(name)
            .bind(questions)
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn template_questions(&self, id: Uuid) -> sqlx::Result<Option<String>> {
        let row = sqlx::query("SELECT questions FROM survey_templates WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.try_get(0)).transpose()
    }

    pub async fn create_campaign(&self, c: &Campaign, at: i64) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO campaigns (id, template_id, name, period, region, product_model, opens_on, closes_on, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(c.id.to_string())
        .bind(c.template_id.to_string())
        .bind(&c.name)
        .bind(&c.period)
        .bind(c.region.clone())
        .bind(c.product_model.clone())
        .bind(&c.opens_on)
        .bind(&c.closes_on)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn campaign(&self, id: Uuid) -> sqlx::Result<Option<Campaign>> {
        let row = sqlx::query(
            "SELECT id, template_id, name, period, region, product_model, opens_on, closes_on, closed_at FROM campaigns WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let uuid = |i: usize| -> sqlx::Result<Uuid> {
                Uuid::parse_str(&r.try_get::<String, _>(i)?)
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))
            };
            Ok(Campaign {
                id: uuid(0)?,
                template_id: uuid(1)?,
                name: r.try_get(2)?,
                period: r.try_get(3)?,
                region: r.try_get(4)?,
                product_model: r.try_get(5)?,
                opens_on: r.try_get(6)?,
                closes_on: r.try_get(7)?,
                closed: r.try_get::<Option<i64>, _>(8)?.is_some(),
            })
        })
        .transpose()
    }

    /// The campaigns still taking answers, newest first.
    pub async fn open_campaigns(&self) -> sqlx::Result<Vec<Campaign>> {
        let rows = sqlx::query(
            "SELECT id FROM campaigns WHERE closed_at IS NULL ORDER BY opens_on DESC, id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let id = Uuid::parse_str(&r.try_get::<String, _>(0)?)
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            if let Some(c) = self.campaign(id).await? {
                out.push(c);
            }
        }
        Ok(out)
    }

    pub async fn close_campaign(&self, id: Uuid, at: i64) -> sqlx::Result<bool> {
        let n =
            sqlx::query("UPDATE campaigns SET closed_at = $2 WHERE id = $1 AND closed_at IS NULL")
                .bind(id.to_string())
                .bind(at)
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(n == 1)
    }

    pub async fn feedback_item(&self, id: Uuid) -> sqlx::Result<Option<FeedbackItem>> {
        let sql = sqlx::AssertSqlSafe(format!("{ITEM_COLUMNS} WHERE id = $1"));
        let row = sqlx::query(sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(item).transpose()
    }

    pub async fn feedback_items(
        &self,
        region: Option<&str>,
        state: Option<&str>,
    ) -> sqlx::Result<Vec<FeedbackItem>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{ITEM_COLUMNS} WHERE ($1 = '' OR region = $1) AND ($2 = '' OR state = $2) ORDER BY created_at, id"
        ));
        let rows = sqlx::query(sql)
            .bind(region.unwrap_or(""))
            .bind(state.unwrap_or(""))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(item).collect()
    }

    /// Records a step of handling: `reported`, `answered` (with method and text), `chased`,
    /// `closed`, or the complaint case it became.
    pub async fn feedback_step(
        &self,
        id: Uuid,
        step: &str,
        method: Option<&str>,
        text: Option<&str>,
        at: i64,
    ) -> sqlx::Result<bool> {
        let now = at;
        let id = id.to_string();
        let query = match step {
            "reported" => sqlx::query("UPDATE feedback_items SET reported_at = $2 WHERE id = $1 AND state = 'open'")
                .bind(id)
                .bind(now),
            "answered" => sqlx::query(
                "UPDATE feedback_items SET answered_at = $2, answer_method = $3, answer_text = $4 WHERE id = $1 AND state = 'open'",
            )
            .bind(id)
            .bind(now)
            .bind(method.map(str::to_string))
            .bind(text.map(str::to_string)),
            "chased" => sqlx::query("UPDATE feedback_items SET last_chased_at = $2, chase_count = chase_count + 1 WHERE id = $1 AND state = 'open'")
                .bind(id)
                .bind(now),
            "closed" => sqlx::query("UPDATE feedback_items SET state = 'closed' WHERE id = $1 AND state = 'open'").bind(id),
            "visited" => sqlx::query(
                "UPDATE feedback_items SET head_visit = $2, head_visit_at = $3 WHERE id = $1 AND state = 'open'",
            )
            .bind(id)
            .bind(text.map(str::to_string))
            .bind(now),
            _ => sqlx::query(
                "UPDATE feedback_items SET complaint_id = $2 WHERE id = $1 AND complaint_id IS NULL",
            )
                .bind(id)
                .bind(text.map(str::to_string)),
        };
        // Each step holds only while the item is as it was read (open; not yet linked), so two
        // clerks acting at once cannot both link it, or close it under the other's step.
        Ok(query.execute(&self.pool).await?.rows_affected() == 1)
    }
}
