//! Master data kept as managed lists: the regional offices, and what an import checks against
//! (customers by region and name, product serials, user names).

use std::collections::{HashMap, HashSet};

use sqlx::Row;
use uuid::Uuid;

use super::Db;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Region {
    /// Short code, as records and accounts carry it (`wuhan`).
    pub code: String,
    /// The office's name as people say it (武汉办事处).
    pub name: String,
}

impl Db {
    /// Every region, by code.
    pub async fn regions(&self) -> sqlx::Result<Vec<Region>> {
        let rows = sqlx::query("SELECT code, name FROM regions ORDER BY code")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Region {
                    code: r.try_get("code")?,
                    name: r.try_get("name")?,
                })
            })
            .collect()
    }

    /// Whether `code` names a region.
    pub async fn region_exists(&self, code: &str) -> sqlx::Result<bool> {
        Ok(sqlx::query("SELECT 1 FROM regions WHERE code = $1")
            .bind(code)
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    /// Adds a region; `false` when the code is taken.
    pub async fn add_region(&self, region: &Region, at: i64) -> sqlx::Result<bool> {
        let done = sqlx::query(
            "INSERT INTO regions (code, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (code) DO NOTHING",
        )
        .bind(&region.code)
        .bind(&region.name)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Renames a region (its code stays: records carry it); `false` when there is none.
    pub async fn rename_region(&self, code: &str, name: &str) -> sqlx::Result<bool> {
        let done = sqlx::query("UPDATE regions SET name = $1 WHERE code = $2")
            .bind(name)
            .bind(code)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Customers' ids by (region, name, phone), for an import of products.
    pub async fn customer_keys(&self) -> sqlx::Result<Vec<(String, String, String, Uuid)>> {
        let rows = sqlx::query("SELECT region, name, phone, id FROM customers")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                Ok((
                    r.try_get("region")?,
                    r.try_get("name")?,
                    r.try_get("phone")?,
                    Uuid::parse_str(&id).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                ))
            })
            .collect()
    }

    /// Every product serial on record (the empty one aside).
    pub async fn product_serials(&self) -> sqlx::Result<HashSet<String>> {
        let rows = sqlx::query("SELECT serial FROM products WHERE serial <> ''")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| r.try_get("serial")).collect()
    }

    /// Every user name on record.
    pub async fn usernames(&self) -> sqlx::Result<HashSet<String>> {
        let rows = sqlx::query("SELECT username FROM users")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| r.try_get("username")).collect()
    }

    /// Regions by code, with their names.
    pub async fn region_names(&self) -> sqlx::Result<HashMap<String, String>> {
        Ok(self
            .regions()
            .await?
            .into_iter()
            .map(|r| (r.code, r.name))
            .collect())
    }
}
