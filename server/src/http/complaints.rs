//! The complaint workflow over HTTP (§3.3-3.5, §4): each handler reads the request, calls
//! `app::complaints` as the signed-in user and answers; statuses come from the error's code.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::app::complaints::{
    self as app, ActRequest, CaseView, CustomerQuery, CustomerView, NewComplaint, Notification,
    OverdueItem, RegisterQuery,
};
use crate::app::review::{self, ReviewView};
use crate::app::settlements::{self, NewAllowance, NewReturn, SettlementView, StepBody};
use crate::auth::Auth;
use crate::error::AppResult;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(file_complaint, register))
        .routes(routes!(overdue))
        .routes(routes!(get_case))
        .routes(routes!(act))
        .routes(routes!(reopen))
        .routes(routes!(customer_view))
        .routes(routes!(new_return))
        .routes(routes!(new_allowance))
        .routes(routes!(settlement_step))
        .routes(routes!(get_review))
        .routes(routes!(confirm_review))
        .routes(routes!(notifications))
}

/// Files a complaint (salesperson). It waits for quality to accept and number it.
#[utoipa::path(post, path = "/api/complaints", request_body = NewComplaint,
    responses((status = 201, body = CaseView), (status = 400, body = fieldloop_client_core::wire::ErrorBody)), security(("bearer" = [])))]
async fn file_complaint(
    State(state): State<AppState>,
    Auth(p): Auth,
    Json(body): Json<NewComplaint>,
) -> AppResult<(StatusCode, Json<CaseView>)> {
    let view = app::file_complaint(&state, &p, body).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// 客户投诉登记追踪表: the complaint register and tracking table.
#[utoipa::path(get, path = "/api/complaints", params(RegisterQuery), responses((status = 200, body = Vec<CaseView>)), security(("bearer" = [])))]
async fn register(
    State(state): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<RegisterQuery>,
) -> AppResult<Json<Vec<CaseView>>> {
    Ok(Json(app::register(&state, &p, q).await?))
}

/// The GM office's overdue list (§4.4.3): overdue steps and cases, most overdue first. Listing
/// also raises a notification, once, to each department concerned.
#[utoipa::path(get, path = "/api/complaints/overdue", responses((status = 200, body = Vec<OverdueItem>)), security(("bearer" = [])))]
async fn overdue(
    State(state): State<AppState>,
    Auth(p): Auth,
) -> AppResult<Json<Vec<OverdueItem>>> {
    Ok(Json(app::overdue(&state, &p).await?))
}

/// One case with its whole internal record.
#[utoipa::path(get, path = "/api/complaints/{id}", params(("id" = Uuid, Path)),
    responses((status = 200, body = CaseView), (status = 404, body = fieldloop_client_core::wire::ErrorBody)), security(("bearer" = [])))]
async fn get_case(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<Json<CaseView>> {
    Ok(Json(app::get_case(&state, &p, id).await?))
}

/// Acts on a case: accept (quality numbers it), investigate, determine, production report,
/// R&D opinion, consolidate, propose an amount, approve, approve a penalty, communicate, head
/// review, record the head's visit, written report to head, involve another company, petition,
/// close. The workflow refuses anything the role or authority does not allow.
#[utoipa::path(post, path = "/api/complaints/{id}/actions", params(("id" = Uuid, Path)), request_body = ActRequest,
    responses((status = 200, body = CaseView), (status = 403, body = fieldloop_client_core::wire::ErrorBody),
              (status = 409, body = fieldloop_client_core::wire::ErrorBody)), security(("bearer" = [])))]
async fn act(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    Json(body): Json<ActRequest>,
) -> AppResult<Json<CaseView>> {
    Ok(Json(app::act(&state, &p, id, body).await?))
}

/// The customer rejects a closed case's conclusion (§4.6.8): a new case is filed, linked to
/// the original, which stays closed.
#[utoipa::path(post, path = "/api/complaints/{id}/reopen", params(("id" = Uuid, Path)),
    responses((status = 201, body = CaseView), (status = 409, body = fieldloop_client_core::wire::ErrorBody)), security(("bearer" = [])))]
async fn reopen(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<(StatusCode, Json<CaseView>)> {
    let view = app::reopen(&state, &p, id).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// The customer-facing view of a case, by its number and access code.
#[utoipa::path(get, path = "/api/customer/complaints/{number}", params(("number" = String, Path), CustomerQuery),
    responses((status = 200, body = CustomerView), (status = 403, body = fieldloop_client_core::wire::ErrorBody)))]
async fn customer_view(
    State(state): State<AppState>,
    Path(number): Path<String>,
    Query(q): Query<CustomerQuery>,
) -> AppResult<Json<CustomerView>> {
    Ok(Json(app::customer_view(&state, number, q).await?))
}

/// Opens a return/rework form (退货单) for a closed case (§4.9.3).
#[utoipa::path(post, path = "/api/complaints/{id}/returns", params(("id" = Uuid, Path)), request_body = NewReturn,
    responses((status = 201, body = SettlementView)), security(("bearer" = [])))]
async fn new_return(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    Json(body): Json<NewReturn>,
) -> AppResult<(StatusCode, Json<SettlementView>)> {
    let view = settlements::new_return(&state, &p, id, body).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Opens a sales allowance certificate (销货折让证明单) for a closed case (§4.9.2).
#[utoipa::path(post, path = "/api/complaints/{id}/allowances", params(("id" = Uuid, Path)), request_body = NewAllowance,
    responses((status = 201, body = SettlementView)), security(("bearer" = [])))]
async fn new_allowance(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    Json(body): Json<NewAllowance>,
) -> AppResult<(StatusCode, Json<SettlementView>)> {
    let view = settlements::new_allowance(&state, &p, id, body).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// A step on a settlement: `approve` (manager, return), `receive` (warehouse, return),
/// `countersign` (general manager, allowance), `customer-signed` (salesperson, allowance),
/// `post` (finance, both; a return whose quantities differ is refused with both numbers).
#[utoipa::path(post, path = "/api/settlements/{id}/{step}", params(("id" = Uuid, Path), ("step" = String, Path)), request_body = StepBody,
    responses((status = 200, body = SettlementView), (status = 409, body = fieldloop_client_core::wire::ErrorBody)), security(("bearer" = [])))]
async fn settlement_step(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path((id, step)): Path<(Uuid, String)>,
    body: Option<Json<StepBody>>,
) -> AppResult<Json<SettlementView>> {
    let body = body.map(|b| b.0).unwrap_or_default();
    Ok(Json(
        settlements::settlement_step(&state, &p, id, step, body).await?,
    ))
}

/// The GM office's monthly review of last month's closed cases (§4.8).
#[utoipa::path(get, path = "/api/reviews/{month}", params(("month" = String, Path, description = "YYYY-MM")),
    responses((status = 200, body = ReviewView), (status = 400, body = fieldloop_client_core::wire::ErrorBody)), security(("bearer" = [])))]
async fn get_review(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(month): Path<String>,
) -> AppResult<Json<ReviewView>> {
    Ok(Json(review::get_review(&state, &p, month).await?))
}

/// Confirms the review; the administrative penalties go into the personnel notice (人事公布单).
#[utoipa::path(post, path = "/api/reviews/{month}/confirm", params(("month" = String, Path)),
    responses((status = 200, body = ReviewView), (status = 409, body = fieldloop_client_core::wire::ErrorBody)), security(("bearer" = [])))]
async fn confirm_review(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(month): Path<String>,
) -> AppResult<Json<ReviewView>> {
    Ok(Json(review::confirm_review(&state, &p, month).await?))
}

/// Notifications to the caller's department (overdue steps and cases).
#[utoipa::path(get, path = "/api/notifications", responses((status = 200, body = Vec<Notification>)), security(("bearer" = [])))]
async fn notifications(
    State(state): State<AppState>,
    Auth(p): Auth,
) -> AppResult<Json<Vec<Notification>>> {
    Ok(Json(app::notifications(&state, &p).await?))
}
