//! Customers and their products (§2.2), reused across jobs.

use super::*;

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
    let region = body.region.clone().or(p.region.clone()).ok_or_else(|| {
        AppError::invalid("name the regional office").with_zh(Some("请选择所属办事处".into()))
    })?;
    if !p.may_create_in(&region) {
        return Err(
            AppError::forbidden("you register customers of your own region")
                .with_zh(Some("只能登记本办事处的客户".into())),
        );
    }
    crate::app::masters::known_region(state, &region).await?;
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

pub(super) async fn visible_customer(
    state: &AppState,
    p: &Principal,
    id: Uuid,
) -> AppResult<Customer> {
    let missing = || {
        AppError::not_found(format!("no customer {id} that you may see"))
            .with_zh(Some("找不到该客户".into()))
    };
    let customer = state
        .db
        .customer(id)
        .await?
        .filter(|c| p.is_head_office() || p.region.as_deref() == Some(c.region.as_str()))
        .ok_or_else(missing)?;
    // A technician's work is the jobs assigned to them: their customers, not the region's.
    if p.role == Role::Technician && !state.db.serves_customer(p.user_id, id).await? {
        return Err(missing());
    }
    Ok(customer)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerSearch {
    /// Part of the customer's name or phone; all customers when absent.
    pub q: Option<String>,
}

/// The office's customers whose name or phone holds the text, by name (at most 100): how the
/// clerk finds a caller (§2.2). A regional office sees its own; head office all.
pub async fn find_customers(
    state: &AppState,
    p: &Principal,
    q: &CustomerSearch,
) -> AppResult<Vec<Customer>> {
    if p.role == Role::Technician {
        return Err(AppError::forbidden("customers are looked up by the office")
            .with_zh(Some("客户由办事处查找".into())));
    }
    let region = if p.is_head_office() {
        None
    } else {
        p.region.as_deref()
    };
    let text = q.q.as_deref().unwrap_or("").trim().to_lowercase();
    Ok(state
        .db
        .customers_in(region)
        .await?
        .into_iter()
        .filter(|c| {
            text.is_empty() || c.name.to_lowercase().contains(&text) || c.phone.contains(&text)
        })
        .take(100)
        .collect())
}

/// A customer's products, for registering a request against one.
pub async fn customer_products(
    state: &AppState,
    p: &Principal,
    id: Uuid,
) -> AppResult<Vec<Product>> {
    let customer = visible_customer(state, p, id).await?;
    Ok(state
        .db
        .product_choices(Some(&customer.region))
        .await?
        .into_iter()
        .filter(|c| c.customer.id == id)
        .map(|c| c.product)
        .collect())
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
        .with_zh(Some("请填写购买日期(年-月-日)".into()))
    })?;
    if !(0..=240).contains(&body.warranty_months) {
        return Err(AppError::invalid("a warranty is 0 to 240 months")
            .with_zh(Some("保修月数应在 0 到 240 之间".into())));
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
    let product = state.db.product(id).await?.ok_or_else(|| {
        AppError::not_found(format!("no product {id}")).with_zh(Some("找不到该产品".into()))
    })?;
    visible_customer(state, p, product.customer_id).await?;
    Ok(product)
}
