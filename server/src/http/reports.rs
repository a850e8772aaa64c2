//! Customer opinion (§3) and the registers over HTTP: surveys and campaigns, feedback handling
//! and chasing (`app::surveys`), and every register as JSON, CSV or XLSX (`app::reports`;
//! Chinese headers, `lang=en` for English).

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::app::reports::{ReportQuery, report_table};
use crate::app::surveys::{
    self, ChaseItem, FeedbackStepBody, NewCampaign, NewTemplate, PhoneAnswer,
};
use crate::auth::Auth;
use crate::db::feedback::Campaign;
use crate::error::{AppError, AppResult};
use crate::export::Lang;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_template))
        .routes(routes!(create_campaign))
        .routes(routes!(close_campaign))
        .routes(routes!(answer_campaign))
        .routes(routes!(chase_list))
        .routes(routes!(feedback_step))
        .routes(routes!(report))
}

/// A survey template (§3.1): questions and their scales.
#[utoipa::path(post, path = "/api/surveys/templates", request_body = NewTemplate, responses((status = 201, description = "template id")), security(("bearer" = [])))]
async fn create_template(
    State(state): State<AppState>,
    Auth(p): Auth,
    Json(body): Json<NewTemplate>,
) -> AppResult<(StatusCode, Json<serde_json::Value>)> {
    Ok((
        StatusCode::CREATED,
        Json(surveys::create_template(&state, &p, body).await?),
    ))
}

/// A survey campaign, periodic or ad hoc, by region or product (§3.1).
#[utoipa::path(post, path = "/api/surveys/campaigns", request_body = NewCampaign, responses((status = 201, body = Campaign)), security(("bearer" = [])))]
async fn create_campaign(
    State(state): State<AppState>,
    Auth(p): Auth,
    Json(body): Json<NewCampaign>,
) -> AppResult<(StatusCode, Json<Campaign>)> {
    Ok((
        StatusCode::CREATED,
        Json(surveys::create_campaign(&state, &p, body).await?),
    ))
}

/// Closes a campaign: no more answers.
#[utoipa::path(post, path = "/api/surveys/campaigns/{id}/close", params(("id" = Uuid, Path)), responses((status = 204)), security(("bearer" = [])))]
async fn close_campaign(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<StatusCode> {
    surveys::close_campaign(&state, &p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A clerk enters a survey answer taken by phone (§3.1); answers from the technician's phone
/// arrive by sync instead.
#[utoipa::path(post, path = "/api/surveys/campaigns/{id}/answers", params(("id" = Uuid, Path)), request_body = PhoneAnswer,
    responses((status = 201, description = "feedback id"), (status = 409, body = fieldloop_client_core::wire::ErrorBody)), security(("bearer" = [])))]
async fn answer_campaign(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    Json(body): Json<PhoneAnswer>,
) -> AppResult<(StatusCode, Json<serde_json::Value>)> {
    Ok((
        StatusCode::CREATED,
        Json(surveys::answer_campaign(&state, &p, id, body).await?),
    ))
}

/// Open feedback to chase (催办, §3.4): severe items first, as §3.3 has them handled early
/// (提前加以处理), then oldest first, with what each still needs.
#[utoipa::path(get, path = "/api/feedback/chase", responses((status = 200, body = Vec<ChaseItem>)), security(("bearer" = [])))]
async fn chase_list(
    State(state): State<AppState>,
    Auth(p): Auth,
) -> AppResult<Json<Vec<ChaseItem>>> {
    Ok(Json(surveys::chase_list(&state, &p).await?))
}

/// Handles a feedback item: `report` (written report to the head), `answer` (how the customer
/// was answered), `chase` (a reminder), `visit` (who visited a complaining customer, §3.5),
/// `close` (refused while something is missing),
/// `to-complaint` (a complaint item becomes a complaint case, keeping the link).
#[utoipa::path(post, path = "/api/feedback/{id}/{step}", params(("id" = Uuid, Path), ("step" = String, Path)), request_body = FeedbackStepBody,
    responses((status = 200, body = ChaseItem), (status = 409, body = fieldloop_client_core::wire::ErrorBody)), security(("bearer" = [])))]
async fn feedback_step(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path((id, step)): Path<(Uuid, String)>,
    body: Option<Json<FeedbackStepBody>>,
) -> AppResult<Json<ChaseItem>> {
    Ok(Json(
        surveys::feedback_step(&state, &p, id, step, body.map(|b| b.0).unwrap_or_default()).await?,
    ))
}

/// One register or report, as JSON, CSV or XLSX: `service-record` (售后服务记录),
/// `complaint-register` (客户投诉登记追踪表), `product-register` (客户产品进出登记簿), `overdue`,
/// `complaint-stats` (by cause class, model, department, and a Pareto of causes),
/// `service-cost` (by product model), `technicians` (monthly performance, ranked),
/// `feedback` (customer opinion), `personnel-notice` (人事公布单 of a confirmed monthly review).
#[utoipa::path(get, path = "/api/reports/{name}", params(("name" = String, Path), ReportQuery),
    responses((status = 200, description = "the report as JSON, CSV or XLSX"), (status = 400, body = fieldloop_client_core::wire::ErrorBody),
              (status = 403, body = fieldloop_client_core::wire::ErrorBody)), security(("bearer" = [])))]
async fn report(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(name): Path<String>,
    Query(q): Query<ReportQuery>,
) -> AppResult<Response> {
    let (table, month) =
        report_table(&state, &p, &name, q.month.as_deref(), q.region.as_deref()).await?;
    let lang = match q.lang.as_deref() {
        None | Some("zh") => Lang::Zh,
        Some("en") => Lang::En,
        Some(other) => {
            return Err(AppError::invalid(format!(
                "lang is zh or en, not '{other}'"
            )));
        }
    };
    let file = format!("{name}-{month}");
    match q.format.as_deref() {
        None | Some("json") => Ok(Json(table).into_response()),
        Some("csv") => Ok(download(
            table.to_csv(lang),
            "text/csv; charset=utf-8",
            &format!("{file}.csv"),
        )),
        Some("xlsx") => Ok(download(
            table.to_xlsx(lang).map_err(AppError::internal)?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            &format!("{file}.xlsx"),
        )),
        Some(other) => Err(AppError::invalid(format!(
            "format is json, csv or xlsx, not '{other}'"
        ))),
    }
}

pub fn download(bytes: Vec<u8>, mime: &str, file: &str) -> Response {
    // An ASCII name for old clients, and the real one (Chinese too) as RFC 6266 `filename*`.
    let ascii: String = file
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = file
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    (
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"),
            ),
        ],
        Body::from(bytes),
    )
        .into_response()
}
