//! Service work: customers, products, receipts and their custody, and visits read from the
//! field projection for queues, reconciliation and the cost ledger.

use std::collections::BTreeMap;

use sqlx::Row;
use uuid::Uuid;

use super::{Db, Tx};

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Customer {
    pub id: Uuid,
    pub region: String,
    pub name: String,
    pub address: String,
    pub phone: String,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Product {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub name: String,
    pub model: String,
    pub spec: String,
    pub serial: String,
    /// YYYY-MM-DD
    pub purchase_date: String,
    pub purchase_place: String,
    pub warranty_months: i64,
}

/// A receipt's custody row.
#[derive(Debug, Clone)]
pub struct ReceiptRow {
    pub id: Uuid,
    pub number: String,
    pub region: String,
    pub technician: Uuid,
    pub location: String,
    pub promised_date: Option<String>,
    pub will_miss_at: Option<i64>,
    pub customer_told_at: Option<i64>,
    pub version: i64,
}

/// One custody event of the register.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CustodyRow {
    pub event: String,
    pub location: String,
    pub user_id: String,
    pub note: String,
    pub at: i64,
}

/// A visit as the projection holds it: its row and its fields by path.
#[derive(Debug, Clone)]
pub struct VisitRow {
    pub id: Uuid,
    pub region: String,
    pub assignee: Option<Uuid>,
    pub created_at: i64,
    pub fields: BTreeMap<String, (String, Option<i64>)>,
}

impl VisitRow {
    /// When the server received the request: the office's time, whatever a device's clock said.
    pub fn office_received_at(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_millis(self.created_at).unwrap_or_default()
    }
    /// When the registering clerk's device says the request came in (a claim), if it says.
    pub fn claimed_received_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        chrono::DateTime::parse_from_rfc3339(self.text("request.received_at"))
            .ok()
            .map(|t| t.to_utc())
    }
    /// When the request was registered, for the day's reconciliation and dispatch priority
    /// (§2.8): the clerk's own record of it, else when the server received it.
    pub fn registered_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.claimed_received_at()
            .unwrap_or_else(|| self.office_received_at())
    }
    pub fn text(&self, path: &str) -> &str {
        self.fields.get(path).map(|(v, _)| v.as_str()).unwrap_or("")
    }
    pub fn int(&self, path: &str) -> i64 {
        self.fields.get(path).and_then(|(_, n)| *n).unwrap_or(0)
    }
    /// The job's product service cost (§2.9), in fen: travel, allowance, replaced parts and
    /// repair.
    pub fn costs(&self) -> ServiceCosts {
        ServiceCosts {
            travel: self.int("form.travel_fen"),
            allowance: self.int("form.allowance_fen"),
            parts: self.int("form.parts_fen"),
            repair: self.int("form.repair_fen"),
        }
    }
}

/// One job's service cost by kind (§2.9), in fen.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServiceCosts {
    pub travel: i64,
    pub allowance: i64,
    pub parts: i64,
    pub repair: i64,
}

impl ServiceCosts {
    pub fn total(&self) -> i64 {
        self.travel + self.allowance + self.parts + self.repair
    }
}

fn uuid(text: &str) -> sqlx::Result<Uuid> {
    Uuid::parse_str(text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn receipt_row(r: &sqlx::any::AnyRow) -> sqlx::Result<ReceiptRow> {
    Ok(ReceiptRow {
        id: uuid(&r.try_get::<String, _>(0)?)?,
        number: r.try_get(1)?,
        region: r.try_get(2)?,
        technician: uuid(&r.try_get::<String, _>(3)?)?,
        location: r.try_get(4)?,
        promised_date: r.try_get(5)?,
        will_miss_at: r.try_get(6)?,
        customer_told_at: r.try_get(7)?,
        version: r.try_get(8)?,
    })
}

const RECEIPT_COLUMNS: &str = "SELECT id, number, region, technician, location, promised_date, will_miss_at, customer_told_at, version FROM receipts";

/// Is a receipt number already used by another receipt?
pub async fn receipt_number_taken(tx: &mut Tx, number: &str, id: Uuid) -> sqlx::Result<bool> {
    Ok(
        sqlx::query("SELECT 1 FROM receipts WHERE number = $1 AND id <> $2")
            .bind(number)
            .bind(id.to_string())
            .fetch_optional(&mut **tx)
            .await?
            .is_some(),
    )
}

/// A take-back receipt's projection as a synced document gives it.
#[derive(Debug, Clone)]
pub struct SyncedReceipt {
    pub id: Uuid,
    pub number: String,
    pub region: String,
    pub technician: Uuid,
    pub promised_date: Option<String>,
    pub visit_id: Option<String>,
}

/// Registers a receipt the first time it arrives; later syncs update its promised date.
pub async fn upsert_receipt(tx: &mut Tx, r: &SyncedReceipt, at: i64) -> sqlx::Result<bool> {
    let SyncedReceipt {
        id,
        number,
        region,
        technician,
        promised_date,
        visit_id,
    } = r;
    let existed = sqlx::query("SELECT 1 FROM receipts WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut **tx)
        .await?
        .is_some();
    sqlx::query(
        "INSERT INTO receipts (id, number, region, technician, location, promised_date, version, created_at, visit_id)
         VALUES ($1, $2, $3, $4, 'with_technician', $5, 1, $6, $7) ON CONFLICT (id) DO UPDATE SET number = excluded.number,
         promised_date = excluded.promised_date, visit_id = excluded.visit_id",
    )
    .bind(id.to_string())
    .bind(number)
    .bind(region)
    .bind(technician.to_string())
    .bind(promised_date.clone())
    .bind(at)
    .bind(visit_id.clone())
    .execute(&mut **tx)
    .await?;
    Ok(!existed)
}

/// Where the products taken back on a visit are (location codes), one per receipt issued on it.
pub async fn visit_receipt_locations(tx: &mut Tx, visit: Uuid) -> sqlx::Result<Vec<String>> {
    let rows = sqlx::query("SELECT location FROM receipts WHERE visit_id = $1")
        .bind(visit.to_string())
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(|r| r.try_get(0)).collect()
}

pub async fn load_receipt(tx: &mut Tx, id: Uuid) -> sqlx::Result<Option<ReceiptRow>> {
    let sql = sqlx::AssertSqlSafe(format!("{RECEIPT_COLUMNS} WHERE id = $1"));
    let row = sqlx::query(sql)
        .bind(id.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(receipt_row).transpose()
}

/// Moves a receipt if unchanged since `version`.
pub async fn move_receipt(
    tx: &mut Tx,
    id: Uuid,
    location: &str,
    version: i64,
) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "UPDATE receipts SET location = $2, version = version + 1 WHERE id = $1 AND version = $3",
    )
    .bind(id.to_string())
    .bind(location)
    .bind(version)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Records a custody step at `at` (business time, unix ms: the server's clock).
pub async fn custody_event(
    tx: &mut Tx,
    receipt: Uuid,
    event: &str,
    location: &str,
    user: Uuid,
    note: &str,
    at: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO custody_events (id, receipt_id, event, location, user_id, note, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(receipt.to_string())
    .bind(event)
    .bind(location)
    .bind(user.to_string())
    .bind(note)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Db {
    pub async fn create_customer(&self, c: &Customer, at: i64) -> sqlx::Result<()> {
        insert_customer(&mut *self.pool.acquire().await?, c, at).await
    }

    /// Whether `technician` has a visit for customer `customer` assigned to them.
    pub async fn serves_customer(&self, technician: Uuid, customer: Uuid) -> sqlx::Result<bool> {
        Ok(sqlx::query(
            "SELECT 1 FROM doc_fields f JOIN documents d ON d.id = f.doc_id
             WHERE f.path = 'request.customer_id' AND f.value = $1 AND d.assignee = $2 LIMIT 1",
        )
        .bind(customer.to_string())
        .bind(technician.to_string())
        .fetch_optional(&self.pool)
        .await?
        .is_some())
    }

    /// The customers of a region (all of them for head office), by name: those without a
    /// product yet included, so a new caller can be given one.
    pub async fn customers_in(&self, region: Option<&str>) -> sqlx::Result<Vec<Customer>> {
        let rows = sqlx::query(
            "SELECT id, region, name, address, phone FROM customers
             WHERE ($1 = '' OR region = $1) ORDER BY name, phone, id",
        )
        .bind(region.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Customer {
                    id: uuid(&r.try_get::<String, _>(0)?)?,
                    region: r.try_get(1)?,
                    name: r.try_get(2)?,
                    address: r.try_get(3)?,
                    phone: r.try_get(4)?,
                })
            })
            .collect()
    }

    pub async fn customer(&self, id: Uuid) -> sqlx::Result<Option<Customer>> {
        let row =
            sqlx::query("SELECT id, region, name, address, phone FROM customers WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| {
            Ok(Customer {
                id: uuid(&r.try_get::<String, _>(0)?)?,
                region: r.try_get(1)?,
                name: r.try_get(2)?,
                address: r.try_get(3)?,
                phone: r.try_get(4)?,
            })
        })
        .transpose()
    }

    pub async fn create_product(&self, p: &Product, at: i64) -> sqlx::Result<()> {
        insert_product(&mut *self.pool.acquire().await?, p, at).await
    }

    pub async fn product(&self, id: Uuid) -> sqlx::Result<Option<Product>> {
        let row = sqlx::query(
            "SELECT id, customer_id, name, model, spec, serial, purchase_date, purchase_place, warranty_months FROM products WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Product {
                id: uuid(&r.try_get::<String, _>(0)?)?,
                customer_id: uuid(&r.try_get::<String, _>(1)?)?,
                name: r.try_get(2)?,
                model: r.try_get(3)?,
                spec: r.try_get(4)?,
                serial: r.try_get(5)?,
                purchase_date: r.try_get(6)?,
                purchase_place: r.try_get(7)?,
                warranty_months: r.try_get(8)?,
            })
        })
        .transpose()
    }

    /// Visits of a region (or all), with their projected fields.
    pub async fn visits(&self, region: Option<&str>) -> sqlx::Result<Vec<VisitRow>> {
        let rows = sqlx::query(
            "SELECT d.id, d.region, d.assignee, d.created_at, f.path, f.value, f.value_int
             FROM documents d LEFT JOIN doc_fields f ON f.doc_id = d.id
             WHERE d.kind = 'visit' AND ($1 = '' OR d.region = $1) ORDER BY d.created_at, d.id",
        )
        .bind(region.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<VisitRow> = Vec::new();
        for r in rows {
            let id = uuid(&r.try_get::<String, _>(0)?)?;
            if out.last().map(|v| v.id) != Some(id) {
                out.push(VisitRow {
                    id,
                    region: r.try_get(1)?,
                    assignee: r
                        .try_get::<Option<String>, _>(2)?
                        .map(|s| uuid(&s))
                        .transpose()?,
                    created_at: r.try_get(3)?,
                    fields: BTreeMap::new(),
                });
            }
            if let Some(path) = r.try_get::<Option<String>, _>(4)? {
                let value: String = r.try_get(5)?;
                let int: Option<i64> = r.try_get(6)?;
                if let Some(v) = out.last_mut() {
                    v.fields.insert(path, (value, int));
                }
            }
        }
        Ok(out)
    }

    pub async fn receipts(&self, region: Option<&str>) -> sqlx::Result<Vec<ReceiptRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{RECEIPT_COLUMNS} WHERE ($1 = '' OR region = $1) ORDER BY number"
        ));
        let rows = sqlx::query(sql)
            .bind(region.unwrap_or(""))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(receipt_row).collect()
    }

    /// The receipts written for a visit's product: number and where each is now.
    pub async fn receipts_of_visit(
        &self,
        visit: Uuid,
    ) -> sqlx::Result<Vec<(Uuid, String, String)>> {
        let rows = sqlx::query(
            "SELECT id, number, location FROM receipts WHERE visit_id = $1 ORDER BY number",
        )
        .bind(visit.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get(0)?;
                Ok((
                    Uuid::parse_str(&id).map_err(|e| sqlx::Error::Decode(e.into()))?,
                    r.try_get(1)?,
                    r.try_get(2)?,
                ))
            })
            .collect()
    }

    pub async fn receipt(&self, id: Uuid) -> sqlx::Result<Option<ReceiptRow>> {
        let sql = sqlx::AssertSqlSafe(format!("{RECEIPT_COLUMNS} WHERE id = $1"));
        let row = sqlx::query(sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(receipt_row).transpose()
    }

    pub async fn custody_history(&self, id: Uuid) -> sqlx::Result<Vec<CustodyRow>> {
        let rows = sqlx::query(
            "SELECT event, location, user_id, note, at FROM custody_events WHERE receipt_id = $1 ORDER BY at, id",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CustodyRow {
                    event: r.try_get(0)?,
                    location: r.try_get(1)?,
                    user_id: r.try_get(2)?,
                    note: r.try_get(3)?,
                    at: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Marks a receipt's repair as going to miss its date, or the customer as told.
    pub async fn mark_receipt(&self, id: Uuid, will_miss: bool, at: i64) -> sqlx::Result<bool> {
        let sql = if will_miss {
            "UPDATE receipts SET will_miss_at = $2 WHERE id = $1 AND will_miss_at IS NULL"
        } else {
            "UPDATE receipts SET customer_told_at = $2 WHERE id = $1"
        };
        let n = sqlx::query(sql)
            .bind(id.to_string())
            .bind(at)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }
}

/// A customer written on `conn` (alone, or as one row of an import's transaction).
pub async fn insert_customer(
    conn: &mut sqlx::AnyConnection,
    c: &Customer,
    at: i64,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO customers (id, region, name, address, phone, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(c.id.to_string())
        .bind(&c.region)
        .bind(&c.name)
        .bind(&c.address)
        .bind(&c.phone)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

/// A product written on `conn` (alone, or as one row of an import's transaction).
pub async fn insert_product(
    conn: &mut sqlx::AnyConnection,
    p: &Product,
    at: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO products (id, customer_id, name, model, spec, serial, purchase_date, purchase_place, warranty_months, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(p.id.to_string())
    .bind(p.customer_id.to_string())
    .bind(&p.name)
    .bind(&p.model)
    .bind(&p.spec)
    .bind(&p.serial)
    .bind(&p.purchase_date)
    .bind(&p.purchase_place)
    .bind(p.warranty_months)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}
