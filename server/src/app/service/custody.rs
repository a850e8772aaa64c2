//! Take-back custody (§2.5, §2.6): a product's steps against its receipt, the customer
//! product in/out register, and repairs that will miss their promised date (§2.7).

use super::*;

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
        .ok_or_else(|| {
            AppError::not_found(format!("no receipt {id} that you may see"))
                .with_zh(Some("找不到该收据".into()))
        })
}

pub(super) fn location_of(code: &str) -> AppResult<Location> {
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
    let receipt = load_receipt(&mut tx, id).await?.ok_or_else(|| {
        AppError::not_found(format!("no receipt {id}")).with_zh(Some("找不到该收据".into()))
    })?;
    let visible = p.is_head_office()
        || p.region.as_deref() == Some(receipt.region.as_str())
            && (p.role != Role::Technician || receipt.technician == p.user_id);
    if !visible {
        return Err(
            AppError::not_found(format!("no receipt {id} that you may see"))
                .with_zh(Some("找不到该收据".into())),
        );
    }
    let doc_row = crate::db::docs::load_doc(&mut tx, id)
        .await?
        .ok_or_else(|| {
            AppError::not_found("the receipt document is missing")
                .with_zh(Some("找不到收据单据".into()))
        })?;
    let doc = doc_row.record().map_err(AppError::internal)?;
    let signed = ["handback.signer_name", "handback.blob_sha256"]
        .iter()
        .all(|path| {
            doc.get(path)
                .and_then(|v| v.as_text().map(|t| !t.is_empty()))
                .unwrap_or(false)
        });
    let at = location_of(&receipt.location)?;
    let next = custody_step(at, body.event, p.role, signed)
        .map_err(|e| AppError::new(e.code(), e.to_string()).with_zh(Some(e.message_zh())))?;
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
        return Err(AppError::forbidden("the register is kept by the office")
            .with_zh(Some("登记表由办公室保管".into())));
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
