//! Service work over HTTP (§2): each handler reads the request, calls `app::service` as the
//! signed-in user and answers.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::app::service::{
    self as app, CostLedger, CustodyRequest, CustomerSearch, DayQuery, InvoiceItem, InvoiceUpdate,
    MonthQuery, NewCustomer, NewProduct, NewRequest, OverdueRepair, QueueItem, Reconciliation,
    RegisterEntry, VisitView,
};
use crate::auth::Auth;
use crate::db::service::{Customer, Product};
use crate::error::AppResult;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_customer, find_customers))
        .routes(routes!(get_customer))
        .routes(routes!(customer_products))
        .routes(routes!(create_product))
        .routes(routes!(get_product))
        .routes(routes!(register_request))
        .routes(routes!(dispatch_queue))
        .routes(routes!(log_form))
        .routes(routes!(archive_form))
        .routes(routes!(invoice_queue))
        .routes(routes!(set_invoice))
        .routes(routes!(custody))
        .routes(routes!(will_miss))
        .routes(routes!(customer_told))
        .routes(routes!(product_register))
        .routes(routes!(overdue_repairs))
        .routes(routes!(reconciliation))
        .routes(routes!(cost_ledger))
}

/// Registers a customer, reused across jobs (§2.2).
#[utoipa::path(post, path = "/api/customers", request_body = NewCustomer, responses((status = 201, body = Customer)), security(("bearer" = [])))]
async fn create_customer(
    State(state): State<AppState>,
    Auth(p): Auth,
    Json(body): Json<NewCustomer>,
) -> AppResult<(StatusCode, Json<Customer>)> {
    Ok((
        StatusCode::CREATED,
        Json(app::create_customer(&state, &p, body).await?),
    ))
}

/// Finds the office's customers by part of a name or phone (§2.2).
#[utoipa::path(get, path = "/api/customers", params(CustomerSearch), responses((status = 200, body = Vec<Customer>)), security(("bearer" = [])))]
async fn find_customers(
    State(state): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<CustomerSearch>,
) -> AppResult<Json<Vec<Customer>>> {
    Ok(Json(app::find_customers(&state, &p, &q).await?))
}

/// A customer's products.
#[utoipa::path(get, path = "/api/customers/{id}/products", params(("id" = Uuid, Path)), responses((status = 200, body = Vec<Product>)), security(("bearer" = [])))]
async fn customer_products(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<Json<Vec<Product>>> {
    Ok(Json(app::customer_products(&state, &p, id).await?))
}

/// A customer record.
#[utoipa::path(get, path = "/api/customers/{id}", params(("id" = Uuid, Path)), responses((status = 200, body = Customer)), security(("bearer" = [])))]
async fn get_customer(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<Json<Customer>> {
    Ok(Json(app::get_customer(&state, &p, id).await?))
}

/// Registers a customer's product with its purchase date and warranty (§2.1, §2.2).
#[utoipa::path(post, path = "/api/products", request_body = NewProduct, responses((status = 201, body = Product)), security(("bearer" = [])))]
async fn create_product(
    State(state): State<AppState>,
    Auth(p): Auth,
    Json(body): Json<NewProduct>,
) -> AppResult<(StatusCode, Json<Product>)> {
    Ok((
        StatusCode::CREATED,
        Json(app::create_product(&state, &p, body).await?),
    ))
}

/// A product record.
#[utoipa::path(get, path = "/api/products/{id}", params(("id" = Uuid, Path)), responses((status = 200, body = Product)), security(("bearer" = [])))]
async fn get_product(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<Json<Product>> {
    Ok(Json(app::get_product(&state, &p, id).await?))
}

/// Registers a customer's request in the after-sales service record (售后服务记录) and sends the
/// service notice (售后服务通知单) to the dispatch queue (§2.2).
#[utoipa::path(post, path = "/api/visits", request_body = NewRequest,
    responses((status = 201, body = VisitView), (status = 400, body = fieldloop_client_core::wire::ErrorBody)), security(("bearer" = [])))]
async fn register_request(
    State(state): State<AppState>,
    Auth(p): Auth,
    Json(body): Json<NewRequest>,
) -> AppResult<(StatusCode, Json<VisitView>)> {
    Ok((
        StatusCode::CREATED,
        Json(app::register_request(&state, &p, body).await?),
    ))
}

/// The factory director's dispatch queue: requests not yet dispatched, yesterday's and older
/// first and marked priority (§2.2, §2.8). Days are the company's.
#[utoipa::path(get, path = "/api/dispatch/queue", responses((status = 200, body = Vec<QueueItem>)), security(("bearer" = [])))]
async fn dispatch_queue(
    State(state): State<AppState>,
    Auth(p): Auth,
) -> AppResult<Json<Vec<QueueItem>>> {
    Ok(Json(app::dispatch_queue(&state, &p).await?))
}

/// The clerk logs the returned feedback form in the service record (§2.3).
#[utoipa::path(post, path = "/api/visits/{id}/log-form", params(("id" = Uuid, Path)),
    responses((status = 200, body = VisitView), (status = 409, body = fieldloop_client_core::wire::ErrorBody)), security(("bearer" = [])))]
async fn log_form(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<Json<VisitView>> {
    Ok(Json(app::log_form(&state, &p, id).await?))
}

/// Quality processes and archives the logged form (§2.3, §2.6).
#[utoipa::path(post, path = "/api/visits/{id}/archive", params(("id" = Uuid, Path)),
    responses((status = 200, body = VisitView), (status = 409, body = fieldloop_client_core::wire::ErrorBody)), security(("bearer" = [])))]
async fn archive_form(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<Json<VisitView>> {
    Ok(Json(app::archive_form(&state, &p, id).await?))
}

/// Finance's queue (§2.4): paid jobs whose invoice is not yet issued or whose money is not yet
/// collected (cash taken on site may be handed in before its invoice is mailed).
#[utoipa::path(get, path = "/api/finance/invoices", responses((status = 200, body = Vec<InvoiceItem>)), security(("bearer" = [])))]
async fn invoice_queue(
    State(state): State<AppState>,
    Auth(p): Auth,
) -> AppResult<Json<Vec<InvoiceItem>>> {
    Ok(Json(app::invoice_queue(&state, &p).await?))
}

/// Finance records an invoice issued or the money collected (§2.4).
#[utoipa::path(post, path = "/api/visits/{id}/invoice", params(("id" = Uuid, Path)), request_body = InvoiceUpdate,
    responses((status = 200, body = VisitView)), security(("bearer" = [])))]
async fn set_invoice(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    Json(body): Json<InvoiceUpdate>,
) -> AppResult<Json<VisitView>> {
    Ok(Json(app::set_invoice(&state, &p, id, body).await?))
}

/// Moves a taken-back product one step (§2.5-2.6): to production with a material return form,
/// repaired, QC accepted (to stock) or rejected (back to repair), returned to the customer (who
/// signed for it on the receipt), receipt voided (once).
#[utoipa::path(post, path = "/api/receipts/{id}/custody", params(("id" = Uuid, Path)), request_body = CustodyRequest,
    responses((status = 200, body = RegisterEntry), (status = 409, body = fieldloop_client_core::wire::ErrorBody)), security(("bearer" = [])))]
async fn custody(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    Json(body): Json<CustodyRequest>,
) -> AppResult<Json<RegisterEntry>> {
    Ok(Json(app::custody(&state, &p, id, body).await?))
}

/// A repair will miss its promised date (§2.7): marketing is alerted at once.
#[utoipa::path(post, path = "/api/receipts/{id}/will-miss", params(("id" = Uuid, Path)), responses((status = 204)), security(("bearer" = [])))]
async fn will_miss(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<StatusCode> {
    app::will_miss(&state, &p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Marketing told the customer about the late repair (§2.7); it leaves the alert list.
#[utoipa::path(post, path = "/api/receipts/{id}/customer-told", params(("id" = Uuid, Path)), responses((status = 204)), security(("bearer" = [])))]
async fn customer_told(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<StatusCode> {
    app::customer_told(&state, &p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// 客户产品进出登记簿: where every product taken back is, with its history.
#[utoipa::path(get, path = "/api/register/products", responses((status = 200, body = Vec<RegisterEntry>)), security(("bearer" = [])))]
async fn product_register(
    State(state): State<AppState>,
    Auth(p): Auth,
) -> AppResult<Json<Vec<RegisterEntry>>> {
    Ok(Json(app::product_register(&state, &p).await?))
}

/// Marketing's list of repairs past their promised date or reported late, until the product is
/// repaired and accepted by QC or the customer has been told (§2.7). Days are the company's.
#[utoipa::path(get, path = "/api/repairs/overdue", responses((status = 200, body = Vec<OverdueRepair>)), security(("bearer" = [])))]
async fn overdue_repairs(
    State(state): State<AppState>,
    Auth(p): Auth,
) -> AppResult<Json<Vec<OverdueRepair>>> {
    Ok(Json(app::overdue_repairs(&state, &p).await?))
}

/// Daily reconciliation per office (§2.8): the service record against the returned forms.
#[utoipa::path(get, path = "/api/reconciliation", params(DayQuery), responses((status = 200, body = Reconciliation)), security(("bearer" = [])))]
async fn reconciliation(
    State(state): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<DayQuery>,
) -> AppResult<Json<Reconciliation>> {
    Ok(Json(app::reconciliation(&state, &p, q).await?))
}

/// The product service cost ledger (§2.9): travel, allowance, parts and repair per job, with totals by
/// product model and category for a month; paid amounts beside cost. Exact to the fen.
#[utoipa::path(get, path = "/api/ledger/service-cost", params(MonthQuery), responses((status = 200, body = CostLedger)), security(("bearer" = [])))]
async fn cost_ledger(
    State(state): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<MonthQuery>,
) -> AppResult<Json<CostLedger>> {
    Ok(Json(app::cost_ledger(&state, &p, q).await?))
}
