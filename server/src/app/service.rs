//! Service work (§2): customers and products, registering requests, the dispatch queue,
//! logging and archiving returned forms, finance's invoice queue, take-back custody, overdue
//! repairs, daily reconciliation and the service cost ledger.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use fieldloop_client_core::model::money::fen_to_yuan;
use fieldloop_client_core::model::{DocKind, FieldValue, RecordDoc, Role};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::records::{FieldView, field_views};
use super::{parse_month, role_in};
use crate::AppState;
use crate::access::Principal;
use crate::db::service::{
    CustodyRow, Customer, Product, VisitRow, custody_event, load_receipt, move_receipt,
    visit_receipt_locations,
};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::records::{server_create_in, server_edit, server_edit_in};
use crate::workflow::calendar::{local_date, month_bounds};
use crate::workflow::service::{
    Billing, CustodyEvent, Location, custody_step, in_warranty, is_priority, warranty_last_day,
};

fn region_filter(p: &Principal) -> Option<&str> {
    if p.is_head_office() {
        None
    } else {
        p.region.as_deref()
    }
}

fn trimmed(v: &str, what: &str) -> AppResult<String> {
    let t = v.trim();
    if t.is_empty() {
        Err(AppError::invalid(format!("the {what} is needed")))
    } else if t.chars().count() > 500 || t.contains(['\n', '\r']) {
        Err(AppError::invalid(format!(
            "the {what} must be one line of at most 500 characters"
        )))
    } else {
        Ok(t.to_string())
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewCustomer {
    pub name: String,
    pub address: String,
    pub phone: String,
    /// The regional office; defaults to the caller's.
    pub region: Option<String>,
}

/// Registers a customer, reused across jobs (§2.2).
pub async fn create_customer(
    state: &AppState,
    p: &Principal,
    body: NewCustomer,
) -> AppResult<Customer> {
    role_in(
        p,
        &[Role::Clerk, Role::MarketingHead, Role::Salesperson],
        "registering customers",
    )?;
    let region = body
        .region
        .clone()
        .or(p.region.clone())
        .ok_or_else(|| AppError::invalid("name the regional office"))?;
    if !p.may_create_in(&region) {
        return Err(AppError::forbidden(
            "you register customers of your own region",
        ));
    }
    let customer = Customer {
        id: Uuid::now_v7(),
        region,
        name: trimmed(&body.name, "customer name")?,
        address: trimmed(&body.address, "address")?,
        phone: trimmed(&body.phone, "phone")?,
    };
    state.db.create_customer(&customer, state.now_ms()).await?;
    Ok(customer)
}

async fn visible_customer(state: &AppState, p: &Principal, id: Uuid) -> AppResult<Customer> {
    state
        .db
        .customer(id)
        .await?
        .filter(|c| p.is_head_office() || p.region.as_deref() == Some(c.region.as_str()))
        .ok_or_else(|| AppError::not_found(format!("no customer {id} that you may see")))
}

/// A customer record.
pub async fn get_customer(state: &AppState, p: &Principal, id: Uuid) -> AppResult<Customer> {
    visible_customer(state, p, id).await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewProduct {
    pub customer_id: Uuid,
    pub name: String,
    pub model: String,
    #[serde(default)]
    pub spec: String,
    #[serde(default)]
    pub serial: String,
    /// YYYY-MM-DD
    pub purchase_date: String,
    #[serde(default)]
    pub purchase_place: String,
    /// Length of the free warranty, months (0 = none).
    pub warranty_months: i64,
}

/// Registers a customer's product with its purchase date and warranty (§2.1, §2.2).
pub async fn create_product(
    state: &AppState,
    p: &Principal,
    body: NewProduct,
) -> AppResult<Product> {
    role_in(
        p,
        &[Role::Clerk, Role::MarketingHead, Role::Salesperson],
        "registering products",
    )?;
    visible_customer(state, p, body.customer_id).await?;
    NaiveDate::parse_from_str(body.purchase_date.trim(), "%Y-%m-%d").map_err(|_| {
        AppError::invalid(format!(
            "'{}' is not a date (YYYY-MM-DD)",
            body.purchase_date
        ))
    })?;
    if !(0..=240).contains(&body.warranty_months) {
        return Err(AppError::invalid("a warranty is 0 to 240 months"));
    }
    let product = Product {
        id: Uuid::now_v7(),
        customer_id: body.customer_id,
        name: trimmed(&body.name, "product name")?,
        model: trimmed(&body.model, "model")?,
        spec: body.spec.trim().to_string(),
        serial: body.serial.trim().to_string(),
        purchase_date: body.purchase_date.trim().to_string(),
        purchase_place: body.purchase_place.trim().to_string(),
        warranty_months: body.warranty_months,
    };
    state.db.create_product(&product, state.now_ms()).await?;
    Ok(product)
}

/// A product record.
pub async fn get_product(state: &AppState, p: &Principal, id: Uuid) -> AppResult<Product> {
    let product = state
        .db
        .product(id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no product {id}")))?;
    visible_customer(state, p, product.customer_id).await?;
    Ok(product)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewRequest {
    pub product_id: Uuid,
    /// A (paid), B (contract), C (free), D (other).
    pub category: String,
    #[serde(default)]
    pub contract_ref: String,
    /// Why a free (C) job is done for a product out of warranty.
    #[serde(default)]
    pub warranty_reason: String,
    /// phone, letter or on_site.
    pub channel: String,
    #[serde(default)]
    pub description: String,
}

/// A field of a record as text ("" when unset).
fn text_of(doc: &RecordDoc, path: &str) -> String {
    doc.get(path)
        .and_then(|v| v.as_text().map(str::to_string))
        .unwrap_or_default()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VisitView {
    pub id: Uuid,
    pub fields: Vec<FieldView>,
}

/// Registers a customer's request in the after-sales service record (售后服务记录) and sends the
/// service notice (售后服务通知单) to the dispatch queue (§2.2).
pub async fn register_request(
    state: &AppState,
    p: &Principal,
    body: NewRequest,
) -> AppResult<VisitView> {
    role_in(
        p,
        &[Role::Clerk, Role::MarketingHead],
        "registering requests",
    )?;
    let product = state
        .db
        .product(body.product_id)
        .await?
        .ok_or_else(|| AppError::invalid(format!("no product {}", body.product_id)))?;
    let customer = visible_customer(state, p, product.customer_id).await?;
    let now = state.now();
    let tz = state.config.timezone;
    let purchase = NaiveDate::parse_from_str(&product.purchase_date, "%Y-%m-%d")
        .map_err(AppError::internal)?;
    let months = u32::try_from(product.warranty_months).unwrap_or(0);
    // Without a free warranty the last day is the day before the purchase, so the device's
    // rule (a free job after the last day needs a reason) reads the same.
    let warranty_until = warranty_last_day(purchase, months)
        .or_else(|| purchase.pred_opt())
        .unwrap_or(purchase);
    let category = body.category.trim().to_uppercase();
    if category == "C"
        && !in_warranty(purchase, months, local_date(tz, now))
        && body.warranty_reason.trim().is_empty()
    {
        return Err(AppError::new(
            ErrorCode::OutOfWarranty,
            format!(
                "the product's free warranty ended on {warranty_until}; a free (C) job needs a recorded reason (§2.1.3)"
            ),
        ));
    }
    let writes: Vec<(&'static str, FieldValue)> = vec![
        ("request.customer_id", customer.id.to_string().into()),
        ("request.customer_name", customer.name.clone().into()),
        ("request.customer_address", customer.address.clone().into()),
        ("request.customer_phone", customer.phone.clone().into()),
        ("request.product_id", product.id.to_string().into()),
        ("request.product_name", product.name.clone().into()),
        ("request.product_model", product.model.clone().into()),
        ("request.product_spec", product.spec.clone().into()),
        ("request.product_serial", product.serial.clone().into()),
        (
            "request.purchase_date",
            product.purchase_date.clone().into(),
        ),
        (
            "request.purchase_place",
            product.purchase_place.clone().into(),
        ),
        ("request.warranty_until", warranty_until.to_string().into()),
        ("request.category", category.into()),
        ("request.contract_ref", body.contract_ref.trim().into()),
        (
            "request.warranty_reason",
            body.warranty_reason.trim().into(),
        ),
        ("request.channel", body.channel.trim().into()),
        (
            "request.received_at",
            now.with_timezone(&tz).to_rfc3339().into(),
        ),
        ("request.description", body.description.trim().into()),
        ("status.state", "registered".into()),
    ];
    let mut tx = state.db.begin_write().await?;
    let doc = server_create_in(
        &mut tx,
        p,
        DocKind::Visit,
        &customer.region,
        &writes,
        state.now(),
        state.config.timezone,
    )
    .await?;
    tx.commit().await?;
    Ok(VisitView {
        id: doc.id(),
        fields: field_views(&doc),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueItem {
    pub id: Uuid,
    pub region: String,
    pub customer_name: String,
    pub product_model: String,
    pub category: String,
    /// The company day it was registered.
    pub registered_on: NaiveDate,
    /// Carried over from an earlier day: dispatch first (§2.8).
    pub priority: bool,
}

/// The factory director's dispatch queue: requests not yet dispatched, yesterday's and older
/// first and marked priority (§2.2, §2.8). Days are the company's.
pub async fn dispatch_queue(state: &AppState, p: &Principal) -> AppResult<Vec<QueueItem>> {
    role_in(
        p,
        &[Role::FactoryDirector, Role::Clerk, Role::MarketingHead],
        "the dispatch queue",
    )?;
    let tz = state.config.timezone;
    let today = local_date(tz, state.now());
    let mut items: Vec<QueueItem> = state
        .db
        .visits(region_filter(p))
        .await?
        .into_iter()
        .filter(|v| v.assignee.is_none() && !v.text("request.customer_name").is_empty())
        .map(|v| {
            let on = local_date(tz, v.registered_at());
            QueueItem {
                id: v.id,
                region: v.region.clone(),
                customer_name: v.text("request.customer_name").to_string(),
                product_model: v.text("request.product_model").to_string(),
                category: v.text("request.category").to_string(),
                registered_on: on,
                priority: is_priority(on, today),
            }
        })
        .collect();
    items.sort_by_key(|i| (!i.priority, i.registered_on));
    Ok(items)
}

/// The clerk logs the returned feedback form in the service record (§2.3).
pub async fn log_form(state: &AppState, p: &Principal, id: Uuid) -> AppResult<VisitView> {
    role_in(
        p,
        &[Role::Clerk, Role::MarketingHead],
        "logging returned forms",
    )?;
    let now = state.now().to_rfc3339();
    let doc = server_edit(state, p, id, |doc| {
        let text = |path: &str| text_of(doc, path);
        if doc.kind() != DocKind::Visit {
            return Err(AppError::invalid("only service visits have feedback forms"));
        }
        if text("form.outcome").is_empty() {
            return Err(AppError::new(
                ErrorCode::NotReady,
                "the technician has not completed the feedback form",
            ));
        }
        if !text("status.logged_at").is_empty() {
            return Err(AppError::new(
                ErrorCode::AlreadyLogged,
                "the form is already logged",
            ));
        }
        if text("request.category").is_empty() {
            return Err(AppError::new(
                ErrorCode::MissingCategory,
                "every job has a category (A, B, C, D) before it is logged (§2.1)",
            ));
        }
        Ok(vec![
            ("status.state", "form_logged".into()),
            ("status.logged_at", now.into()),
        ])
    })
    .await?;
    Ok(VisitView {
        id,
        fields: field_views(&doc),
    })
}

/// Quality processes and archives the logged form (§2.3, §2.6).
pub async fn archive_form(state: &AppState, p: &Principal, id: Uuid) -> AppResult<VisitView> {
    role_in(p, &[Role::Quality], "archiving forms")?;
    let now = state.now().to_rfc3339();
    let mut tx = state.db.begin_write().await?;
    // §2.6: a product taken back is repaired, returned and signed for, and only then is the
    // form brought back and archived.
    let taken_back = visit_receipt_locations(&mut tx, id).await?;
    let doc = server_edit_in(&mut tx, p, id, state.now(), |doc| {
        let text = |path: &str| text_of(doc, path);
        if text("status.logged_at").is_empty() {
            return Err(AppError::new(ErrorCode::NotReady,
                "the clerk has not logged the form yet",
            ));
        }
        if text("form.outcome") == "taken_back" {
            let back = |code: &String| {
                location_of(code).is_ok_and(|l| {
                    matches!(l, Location::ReturnedToCustomer | Location::Voided)
                })
            };
            if taken_back.is_empty() {
                return Err(AppError::new(ErrorCode::NotReady,
                    "the product was taken back, but no receipt for it has arrived yet (§2.5)",
                ));
            }
            if !taken_back.iter().all(back) {
                return Err(AppError::new(ErrorCode::NotReady,
                    "the product taken back is not back with the customer yet: the form is archived after it is returned and signed for (§2.6)",
                ));
            }
        }
        if !text("status.archived_at").is_empty() {
            return Err(AppError::new(ErrorCode::AlreadyArchived,
                "the form is already archived",
            ));
        }
        Ok(vec![
            ("status.state", "archived".into()),
            ("status.archived_at", now.into()),
        ])
    })
    .await?;
    tx.commit().await?;
    Ok(VisitView {
        id,
        fields: field_views(&doc),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceItem {
    pub id: Uuid,
    pub customer_name: String,
    pub fee: String,
    /// cash_on_site or invoice_later.
    pub method: String,
    /// requested, or the step finance recorded last: issued or collected.
    pub invoice_state: String,
    pub issued: bool,
    pub collected: bool,
}

/// Finance's queue (§2.4): paid jobs whose invoice is not yet issued or whose money is not yet
/// collected (cash taken on site may be handed in before its invoice is mailed).
pub async fn invoice_queue(state: &AppState, p: &Principal) -> AppResult<Vec<InvoiceItem>> {
    role_in(p, &[Role::Finance], "the invoice queue")?;
    let items = state
        .db
        .visits(region_filter(p))
        .await?
        .into_iter()
        .filter(|v| v.int("fee.amount_fen") > 0 && !billing_of(v).settled())
        .map(|v| InvoiceItem {
            id: v.id,
            customer_name: v.text("request.customer_name").into(),
            fee: fen_to_yuan(v.int("fee.amount_fen")).to_string(),
            method: v.text("fee.method").into(),
            invoice_state: match v.text("billing.invoice_state") {
                "" => "requested".into(),
                s => s.into(),
            },
            issued: billing_of(&v).issued,
            collected: billing_of(&v).collected,
        })
        .collect();
    Ok(items)
}

/// How far finance has gone with a visit's fee.
fn billing_of(v: &VisitRow) -> Billing {
    Billing {
        issued: !v.text("billing.issued_at").is_empty(),
        collected: !v.text("billing.collected_at").is_empty(),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct InvoiceUpdate {
    /// `issued` or `collected`.
    pub state: String,
}

/// Finance records an invoice issued or the money collected (§2.4).
pub async fn set_invoice(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    body: InvoiceUpdate,
) -> AppResult<VisitView> {
    role_in(p, &[Role::Finance], "invoices")?;
    let now = state.now().to_rfc3339();
    let target = body.state.trim().to_string();
    let doc = server_edit(state, p, id, |doc| {
        let fee = doc
            .get("fee.amount_fen")
            .and_then(|v| v.as_int())
            .unwrap_or(0);
        if fee <= 0 {
            return Err(AppError::new(
                ErrorCode::NoFee,
                "this job has no fee to invoice",
            ));
        }
        let set = |path: &str| {
            doc.get(path)
                .and_then(|v| v.as_text().map(|t| !t.is_empty()))
                .unwrap_or(false)
        };
        let billing = Billing {
            issued: set("billing.issued_at"),
            collected: set("billing.collected_at"),
        };
        let method = doc
            .get("fee.method")
            .and_then(|v| v.as_text().map(str::to_string))
            .unwrap_or_default();
        if !matches!(target.as_str(), "issued" | "collected") {
            return Err(AppError::invalid("state is issued or collected"));
        }
        billing
            .record(&method, &target)
            .map_err(|why| AppError::new(ErrorCode::WrongState, why))?;
        let at = if target == "issued" {
            "billing.issued_at"
        } else {
            "billing.collected_at"
        };
        Ok(vec![
            ("billing.invoice_state", target.clone().into()),
            (at, now.into()),
        ])
    })
    .await?;
    Ok(VisitView {
        id,
        fields: field_views(&doc),
    })
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CustodyRequest {
    /// to_production, repair_done, qc_accept, qc_reject, return_to_customer, void.
    pub event: CustodyEvent,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterEntry {
    pub receipt_id: Uuid,
    pub number: String,
    pub region: String,
    pub location: String,
    pub location_zh: String,
    pub promised_date: Option<String>,
    pub history: Vec<CustodyRow>,
}

/// A receipt the caller may see: head office all, an office its region's, a technician their own.
async fn visible_receipt(
    state: &AppState,
    p: &Principal,
    id: Uuid,
) -> AppResult<crate::db::service::ReceiptRow> {
    state
        .db
        .receipt(id)
        .await?
        .filter(|r| {
            p.is_head_office()
                || p.region.as_deref() == Some(r.region.as_str())
                    && (p.role != Role::Technician || r.technician == p.user_id)
        })
        .ok_or_else(|| AppError::not_found(format!("no receipt {id} that you may see")))
}

fn location_of(code: &str) -> AppResult<Location> {
    serde_json::from_value(serde_json::Value::String(code.to_string())).map_err(AppError::internal)
}

fn code_of(location: Location) -> String {
    serde_json::to_value(location)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Moves a taken-back product one step (§2.5-2.6): to production with a material return form,
/// repaired, QC accepted (to stock) or rejected (back to repair), returned to the customer (who
/// signed for it on the receipt), receipt voided (once).
pub async fn custody(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    body: CustodyRequest,
) -> AppResult<RegisterEntry> {
    // Two steps on one receipt at once (two technicians voiding it): on PostgreSQL the one that
    // loses the update runs again on the receipt as it now is, and is told what SQLite's
    // waiting writer is told (already voided), not a bare "stale".
    for _ in 0..3 {
        if let Some(entry) = custody_once(state, p, id, &body).await? {
            return Ok(entry);
        }
    }
    Err(AppError::new(
        ErrorCode::Stale,
        "the receipt keeps moving meanwhile; reload it",
    ))
}

/// One attempt at a custody step; `None` when another step moved the receipt after it was read.
async fn custody_once(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    body: &CustodyRequest,
) -> AppResult<Option<RegisterEntry>> {
    let mut tx = state.db.begin_write().await?;
    let receipt = load_receipt(&mut tx, id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no receipt {id}")))?;
    let visible = p.is_head_office()
        || p.region.as_deref() == Some(receipt.region.as_str())
            && (p.role != Role::Technician || receipt.technician == p.user_id);
    if !visible {
        return Err(AppError::not_found(format!(
            "no receipt {id} that you may see"
        )));
    }
    let doc_row = crate::db::docs::load_doc(&mut tx, id)
        .await?
        .ok_or_else(|| AppError::not_found("the receipt document is missing"))?;
    let doc = RecordDoc::load(&doc_row.snapshot).map_err(AppError::internal)?;
    let signed = ["handback.signer_name", "handback.blob_sha256"]
        .iter()
        .all(|path| {
            doc.get(path)
                .and_then(|v| v.as_text().map(|t| !t.is_empty()))
                .unwrap_or(false)
        });
    let at = location_of(&receipt.location)?;
    let next = custody_step(at, body.event, p.role, signed)
        .map_err(|e| AppError::new(e.code(), e.to_string()))?;
    let code = code_of(next);
    if !move_receipt(&mut tx, id, &code, receipt.version).await? {
        return Ok(None);
    }
    custody_event(
        &mut tx,
        id,
        body.event.code(),
        &code,
        p.user_id,
        body.note.trim(),
        state.now().timestamp_millis(),
    )
    .await?;
    let now = state.now().to_rfc3339();
    // The receipt document shows where the product is, and when it was voided.
    let head_office = Principal {
        region: None,
        ..p.clone()
    };
    server_edit_in(&mut tx, &head_office, id, state.now(), |_| {
        let mut w: Vec<(&'static str, FieldValue)> =
            vec![("custody.location", code.clone().into())];
        if next == Location::Voided {
            w.push(("custody.voided_at", now.into()));
        }
        Ok(w)
    })
    .await?;
    tx.commit().await?;
    let history = state.db.custody_history(id).await?;
    Ok(Some(RegisterEntry {
        receipt_id: id,
        number: receipt.number,
        region: receipt.region,
        location: code_of(next),
        location_zh: next.label_zh().into(),
        promised_date: receipt.promised_date,
        history,
    }))
}

/// A repair will miss its promised date (§2.7): marketing is alerted at once.
pub async fn will_miss(state: &AppState, p: &Principal, id: Uuid) -> AppResult<()> {
    role_in(
        p,
        &[Role::Technician, Role::Production, Role::Clerk],
        "reporting a late repair",
    )?;
    visible_receipt(state, p, id).await?;
    state.db.mark_receipt(id, true, state.now_ms()).await?;
    Ok(())
}

/// Marketing told the customer about the late repair (§2.7); it leaves the alert list.
pub async fn customer_told(state: &AppState, p: &Principal, id: Uuid) -> AppResult<()> {
    role_in(
        p,
        &[Role::Clerk, Role::Salesperson, Role::MarketingHead],
        "telling the customer",
    )?;
    visible_receipt(state, p, id).await?;
    state.db.mark_receipt(id, false, state.now_ms()).await?;
    Ok(())
}

/// 客户产品进出登记簿: where every product taken back is, with its history.
pub async fn product_register(state: &AppState, p: &Principal) -> AppResult<Vec<RegisterEntry>> {
    if p.role == Role::Technician {
        return Err(AppError::forbidden("the register is kept by the office"));
    }
    let mut out = Vec::new();
    for r in state.db.receipts(region_filter(p)).await? {
        let location = location_of(&r.location)?;
        out.push(RegisterEntry {
            receipt_id: r.id,
            history: state.db.custody_history(r.id).await?,
            number: r.number,
            region: r.region,
            location: r.location,
            location_zh: location.label_zh().into(),
            promised_date: r.promised_date,
        });
    }
    Ok(out)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OverdueRepair {
    pub receipt_id: Uuid,
    pub number: String,
    pub promised_date: Option<String>,
    pub location_zh: String,
    /// `past_promised_date` or `reported_late`.
    pub reason: String,
}

/// Marketing's list of repairs past their promised date or reported late, until the product is
/// repaired and accepted by QC or the customer has been told (§2.7). Days are the company's.
pub async fn overdue_repairs(state: &AppState, p: &Principal) -> AppResult<Vec<OverdueRepair>> {
    role_in(
        p,
        &[
            Role::Clerk,
            Role::Salesperson,
            Role::MarketingHead,
            Role::GmOffice,
        ],
        "the late repair list",
    )?;
    let today = local_date(state.config.timezone, state.now());
    let mut out = Vec::new();
    for r in state.db.receipts(region_filter(p)).await? {
        let location = location_of(&r.location)?;
        // §2.7 is about repairs not done in time (不能按原定时间修妥): a product QC accepted
        // into stock is repaired, whether or not it is back with the customer yet.
        if r.customer_told_at.is_some()
            || matches!(
                location,
                Location::InStock | Location::ReturnedToCustomer | Location::Voided
            )
        {
            continue;
        }
        let past = r
            .promised_date
            .as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .is_some_and(|d| today > d);
        let reported = r.will_miss_at.is_some()
            || state
                .db
                .doc_fields(r.id)
                .await?
                .iter()
                .any(|f| f.path == "receipt.will_miss" && f.value == "yes");
        if past || reported {
            out.push(OverdueRepair {
                receipt_id: r.id,
                number: r.number,
                promised_date: r.promised_date,
                location_zh: location.label_zh().into(),
                reason: if past {
                    "past_promised_date"
                } else {
                    "reported_late"
                }
                .into(),
            });
        }
    }
    Ok(out)
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DayQuery {
    /// YYYY-MM-DD, company time; default today.
    pub date: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Reconciliation {
    pub date: NaiveDate,
    pub offices: Vec<OfficeDay>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OfficeDay {
    pub region: String,
    /// Requests registered in the service record that day.
    pub registered: usize,
    /// Of those, forms returned and logged.
    pub forms_logged: usize,
    /// Registered that day, no logged form yet.
    pub missing_forms: Vec<Uuid>,
    /// Registered that day, not dispatched: tomorrow's priority work (§2.8).
    pub not_dispatched: Vec<Uuid>,
}

/// Daily reconciliation per office (§2.8): the service record against the returned forms.
pub async fn reconciliation(
    state: &AppState,
    p: &Principal,
    q: DayQuery,
) -> AppResult<Reconciliation> {
    role_in(
        p,
        &[
            Role::Clerk,
            Role::MarketingHead,
            Role::Salesperson,
            Role::FactoryDirector,
            Role::Quality,
        ],
        "reconciliation",
    )?;
    let tz = state.config.timezone;
    let date = match q.date.as_deref() {
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| AppError::invalid(format!("'{d}' is not a date")))?,
        None => local_date(tz, state.now()),
    };
    let mut offices: BTreeMap<String, OfficeDay> = BTreeMap::new();
    for v in state.db.visits(region_filter(p)).await? {
        if v.text("request.customer_name").is_empty() || local_date(tz, v.registered_at()) != date {
            continue;
        }
        let day = offices
            .entry(v.region.clone())
            .or_insert_with(|| OfficeDay {
                region: v.region.clone(),
                registered: 0,
                forms_logged: 0,
                missing_forms: Vec::new(),
                not_dispatched: Vec::new(),
            });
        day.registered += 1;
        if v.text("status.logged_at").is_empty() {
            day.missing_forms.push(v.id);
        } else {
            day.forms_logged += 1;
        }
        if v.assignee.is_none() {
            day.not_dispatched.push(v.id);
        }
    }
    Ok(Reconciliation {
        date,
        offices: offices.into_values().collect(),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct MonthQuery {
    /// YYYY-MM, company time.
    pub month: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CostLine {
    pub visit_id: Uuid,
    pub product_model: String,
    pub category: String,
    pub travel_fen: i64,
    pub allowance_fen: i64,
    pub parts_fen: i64,
    pub repair_fen: i64,
    pub total_fen: i64,
    /// What the customer paid (fee), beside the cost.
    pub paid_fen: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CostTotals {
    pub key: String,
    pub jobs: usize,
    pub cost_fen: i64,
    pub paid_fen: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CostLedger {
    pub month: String,
    pub lines: Vec<CostLine>,
    pub by_model: Vec<CostTotals>,
    pub by_category: Vec<CostTotals>,
    pub total_cost_fen: i64,
    pub total_paid_fen: i64,
}

/// The product service cost ledger (§2.9): travel, allowance, parts and repair per job, with totals by
/// product model and category for a month; paid amounts beside cost. Exact to the fen.
pub async fn cost_ledger(state: &AppState, p: &Principal, q: MonthQuery) -> AppResult<CostLedger> {
    if p.role == Role::Technician {
        return Err(AppError::forbidden("the cost ledger is kept by the office"));
    }
    let tz = state.config.timezone;
    let (y, m) = parse_month(&q.month)?;
    let (from, to) = month_bounds(tz, y, m).ok_or_else(|| AppError::invalid("no such month"))?;
    let mut lines = Vec::new();
    for v in state.db.visits(region_filter(p)).await? {
        let at = v.registered_at();
        if at < from || at >= to || v.text("form.outcome").is_empty() {
            continue;
        }
        let cost = v.costs();
        lines.push(CostLine {
            visit_id: v.id,
            product_model: v.text("request.product_model").into(),
            category: v.text("request.category").into(),
            travel_fen: cost.travel,
            allowance_fen: cost.allowance,
            parts_fen: cost.parts,
            repair_fen: cost.repair,
            total_fen: cost.total(),
            paid_fen: v.int("fee.amount_fen"),
        });
    }
    let totals = |key: fn(&CostLine) -> String| {
        let mut map: BTreeMap<String, CostTotals> = BTreeMap::new();
        for l in &lines {
            let k = key(l);
            let t = map.entry(k.clone()).or_insert(CostTotals {
                key: k,
                jobs: 0,
                cost_fen: 0,
                paid_fen: 0,
            });
            t.jobs += 1;
            t.cost_fen += l.total_fen;
            t.paid_fen += l.paid_fen;
        }
        map.into_values().collect::<Vec<_>>()
    };
    let by_model = totals(|l| l.product_model.clone());
    let by_category = totals(|l| l.category.clone());
    Ok(CostLedger {
        month: format!("{y:04}-{m:02}"),
        total_cost_fen: lines.iter().map(|l| l.total_fen).sum(),
        total_paid_fen: lines.iter().map(|l| l.paid_fen).sum(),
        lines,
        by_model,
        by_category,
    })
}
