//! Service requests (§2.2): registering one, the factory director's dispatch queue (§2.8),
//! and the returned form logged in the service record and archived (§2.3, §2.6).

use super::*;

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
    let product = state.db.product(body.product_id).await?.ok_or_else(|| {
        AppError::invalid(format!("no product {}", body.product_id))
            .with_zh(Some("找不到该产品".into()))
    })?;
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
        )
        .with_zh(Some(format!(
            "该产品的免费保修已于 {warranty_until} 到期;按免费服务(C 类)处理须填写理由(§2.1.3)"
        ))));
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
    /// What the customer asked for (§2.2).
    pub description: String,
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
                description: v.text("request.description").to_string(),
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
            return Err(AppError::invalid("only service visits have feedback forms")
                .with_zh(Some("只有售后服务单有反馈表".into())));
        }
        if text("form.outcome").is_empty() {
            return Err(AppError::new(
                ErrorCode::NotReady,
                "the technician has not completed the feedback form",
            )
            .with_zh(Some("技术员尚未填好反馈表".into())));
        }
        if !text("status.logged_at").is_empty() {
            return Err(
                AppError::new(ErrorCode::AlreadyLogged, "the form is already logged")
                    .with_zh(Some("反馈表已登记过".into())),
            );
        }
        if text("request.category").is_empty() {
            return Err(AppError::new(
                ErrorCode::MissingCategory,
                "every job has a category (A, B, C, D) before it is logged (§2.1)",
            )
            .with_zh(Some("登记前每项服务须有类别(A、B、C、D)(§2.1)".into())));
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
            ).with_zh(Some("文员尚未登记此反馈表".into())));
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
                ).with_zh(Some("产品已取回,但其收据尚未到达(§2.5)".into())));
            }
            if !taken_back.iter().all(back) {
                return Err(AppError::new(ErrorCode::NotReady,
                    "the product taken back is not back with the customer yet: the form is archived after it is returned and signed for (§2.6)",
                ).with_zh(Some("取回的产品尚未交还客户:交还并签收后才能归档(§2.6)".into())));
            }
        }
        if !text("status.archived_at").is_empty() {
            return Err(AppError::new(ErrorCode::AlreadyArchived,
                "the form is already archived",
            ).with_zh(Some("反馈表已归档".into())));
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
