//! The back office in the browser: sessions, and the lists its pages need that the API reads
//! one at a time (products to register a request for, settlements waiting for a step).

use sqlx::Row;
use uuid::Uuid;

use super::Db;
use super::complaints::SettlementRow;
use super::service::{Customer, Product};

fn uuid(text: &str) -> sqlx::Result<Uuid> {
    Uuid::parse_str(text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// A product with its owner, for the clerk's registration form.
#[derive(Debug, Clone)]
pub struct ProductChoice {
    pub product: Product,
    pub customer: Customer,
}

impl Db {
    pub async fn create_web_session(
        &self,
        token_hash: &str,
        user_id: Uuid,
        csrf: &str,
        expires_at: i64,
        at: i64,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO web_sessions (token_hash, user_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user_id.to_string())
        .bind(csrf)
        .bind(at)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The user and CSRF token of a live session.
    pub async fn web_session(
        &self,
        token_hash: &str,
        at: i64,
    ) -> sqlx::Result<Option<(Uuid, String)>> {
        let row = sqlx::query(
            "SELECT user_id, csrf FROM web_sessions WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(at)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((uuid(&r.try_get::<String, _>(0)?)?, r.try_get(1)?)))
            .transpose()
    }

    pub async fn end_web_session(&self, token_hash: &str, at: i64) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM web_sessions WHERE token_hash = $1 OR expires_at <= $2")
            .bind(token_hash)
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Products of a region's customers (or all), by customer name.
    pub async fn product_choices(&self, region: Option<&str>) -> sqlx::Result<Vec<ProductChoice>> {
        let rows = sqlx::query(
            "SELECT p.id, p.customer_id, p.name, p.model, p.spec, p.serial, p.purchase_date, p.purchase_place,
                    p.warranty_months, c.region, c.name, c.address, c.phone
             FROM products p JOIN customers c ON c.id = p.customer_id
             WHERE ($1 = '' OR c.region = $1) ORDER BY c.name, p.model, p.serial",
        )
        .bind(region.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let customer_id = uuid(&r.try_get::<String, _>(1)?)?;
                Ok(ProductChoice {
                    product: Product {
                        id: uuid(&r.try_get::<String, _>(0)?)?,
                        customer_id,
                        name: r.try_get(2)?,
                        model: r.try_get(3)?,
                        spec: r.try_get(4)?,
                        serial: r.try_get(5)?,
                        purchase_date: r.try_get(6)?,
                        purchase_place: r.try_get(7)?,
                        warranty_months: r.try_get(8)?,
                    },
                    customer: Customer {
                        id: customer_id,
                        region: r.try_get(9)?,
                        name: r.try_get(10)?,
                        address: r.try_get(11)?,
                        phone: r.try_get(12)?,
                    },
                })
            })
            .collect()
    }

    /// Settlements (returns and allowances) of a region's cases (or all), newest first.
    pub async fn settlements(&self, region: Option<&str>) -> sqlx::Result<Vec<SettlementRow>> {
        let rows = sqlx::query(
            "SELECT s.id, s.case_id, s.kind, s.body, s.version, c.number FROM settlements s
             JOIN complaint_cases c ON c.id = s.case_id
             WHERE ($1 = '' OR c.region = $1) ORDER BY s.created_at DESC, s.id",
        )
        .bind(region.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SettlementRow {
                    id: uuid(&r.try_get::<String, _>(0)?)?,
                    case_id: uuid(&r.try_get::<String, _>(1)?)?,
                    kind: r.try_get(2)?,
                    body: r.try_get(3)?,
                    version: r.try_get(4)?,
                    case_number: r.try_get(5)?,
                })
            })
            .collect()
    }
}

impl Db {
    /// Documents that reference a blob by its SHA-256 (the records a signature belongs to).
    pub async fn docs_with_blob(&self, value: &str) -> sqlx::Result<Vec<Uuid>> {
        let rows = sqlx::query(
            "SELECT DISTINCT doc_id FROM doc_fields WHERE value = $1 AND path LIKE '%blob_sha256'",
        )
        .bind(value)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| uuid(&r.try_get::<String, _>(0)?))
            .collect()
    }
}
