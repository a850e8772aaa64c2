//! Customer opinion (§3) and the registers and reports: surveys and campaigns, feedback
//! handling and chasing, technician performance, complaint statistics, and every register as
//! JSON, CSV or XLSX (Chinese headers; `lang=en` for English), dates in company time.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use fieldloop_client_core::model::{DocKind, FieldValue, Role};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::{parse_month, role_in};
use crate::AppState;
use crate::access::Principal;
use crate::auth::Auth;
use crate::db::feedback::{Campaign, FeedbackItem};
use crate::db::service::VisitRow;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::export::{Cell, Lang, Table};
use crate::records::server_create_in;
use crate::workflow::calendar::{local_date, month_bounds, year_month};
use crate::workflow::complaint::{CaseState, CauseClass, Department, StepKind};
use crate::workflow::service::Location;

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

const OFFICE: &[Role] = &[
    Role::Clerk,
    Role::Salesperson,
    Role::MarketingHead,
    Role::GmOffice,
];

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct Question {
    pub text_zh: String,
    pub text_en: String,
    /// Answers run 1..=scale.
    pub scale: u8,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewTemplate {
    pub name: String,
    pub questions: Vec<Question>,
}

/// A survey template (§3.1): questions and their scales.
#[utoipa::path(post, path = "/api/surveys/templates", request_body = NewTemplate, responses((status = 201, description = "template id")), security(("bearer" = [])))]
async fn create_template(
    State(state): State<AppState>,
    Auth(p): Auth,
    Json(body): Json<NewTemplate>,
) -> AppResult<(StatusCode, Json<serde_json::Value>)> {
    role_in(
        &p,
        &[Role::MarketingHead, Role::Clerk, Role::GmOffice],
        "survey templates",
    )?;
    if body.name.trim().is_empty() || body.questions.is_empty() {
        return Err(AppError::invalid(
            "a template has a name and at least one question",
        ));
    }
    if body
        .questions
        .iter()
        .any(|q| !(2..=10).contains(&q.scale) || q.text_zh.trim().is_empty())
    {
        return Err(AppError::invalid(
            "each question has text and a scale of 2 to 10",
        ));
    }
    let id = Uuid::now_v7();
    let questions = serde_json::to_string(&body.questions).map_err(AppError::internal)?;
    state
        .db
        .create_template(id, body.name.trim(), &questions, state.now_ms())
        .await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({"id": id}))))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewCampaign {
    pub template_id: Uuid,
    pub name: String,
    /// monthly, quarterly or ad_hoc.
    pub period: String,
    pub region: Option<String>,
    pub product_model: Option<String>,
    pub opens_on: NaiveDate,
    pub closes_on: NaiveDate,
}

/// A survey campaign, periodic or ad hoc, by region or product (§3.1).
#[utoipa::path(post, path = "/api/surveys/campaigns", request_body = NewCampaign, responses((status = 201, body = Campaign)), security(("bearer" = [])))]
async fn create_campaign(
    State(state): State<AppState>,
    Auth(p): Auth,
    Json(body): Json<NewCampaign>,
) -> AppResult<(StatusCode, Json<Campaign>)> {
    role_in(
        &p,
        &[Role::MarketingHead, Role::Clerk, Role::GmOffice],
        "survey campaigns",
    )?;
    if !["monthly", "quarterly", "ad_hoc"].contains(&body.period.as_str()) {
        return Err(AppError::invalid("period is monthly, quarterly or ad_hoc"));
    }
    if body.closes_on < body.opens_on {
        return Err(AppError::invalid("a campaign closes after it opens"));
    }
    state
        .db
        .template_questions(body.template_id)
        .await?
        .ok_or_else(|| AppError::invalid(format!("no survey template {}", body.template_id)))?;
    let c = Campaign {
        id: Uuid::now_v7(),
        template_id: body.template_id,
        name: body.name.trim().to_string(),
        period: body.period,
        region: body.region.filter(|r| !r.trim().is_empty()),
        product_model: body.product_model.filter(|m| !m.trim().is_empty()),
        opens_on: body.opens_on.to_string(),
        closes_on: body.closes_on.to_string(),
        closed: false,
    };
    state.db.create_campaign(&c, state.now_ms()).await?;
    Ok((StatusCode::CREATED, Json(c)))
}

/// Closes a campaign: no more answers.
#[utoipa::path(post, path = "/api/surveys/campaigns/{id}/close", params(("id" = Uuid, Path)), responses((status = 204)), security(("bearer" = [])))]
async fn close_campaign(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<StatusCode> {
    role_in(
        &p,
        &[Role::MarketingHead, Role::Clerk, Role::GmOffice],
        "survey campaigns",
    )?;
    if !state.db.close_campaign(id, state.now_ms()).await? {
        return Err(AppError::new(
            ErrorCode::CampaignClosed,
            "no such open campaign",
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PhoneAnswer {
    pub visit_id: Option<Uuid>,
    pub technician: Option<Uuid>,
    pub customer_name: String,
    /// 1 to 5: the customer's rating of the technician.
    pub rating: i64,
    /// Answers to the template's questions, by question number (1-based).
    #[serde(default)]
    pub responses: BTreeMap<String, i64>,
    #[serde(default)]
    pub comment: String,
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
    role_in(&p, OFFICE, "entering survey answers")?;
    let campaign = state
        .db
        .campaign(id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no campaign {id}")))?;
    if campaign.closed {
        return Err(AppError::new(
            ErrorCode::CampaignClosed,
            "this campaign is closed; it takes no more answers",
        ));
    }
    if !(1..=5).contains(&body.rating) {
        return Err(AppError::invalid(format!(
            "a rating is 1 to 5, not {}",
            body.rating
        )));
    }
    let questions: Vec<Question> = serde_json::from_str(
        &state
            .db
            .template_questions(campaign.template_id)
            .await?
            .unwrap_or_default(),
    )
    .map_err(AppError::internal)?;
    for (k, v) in &body.responses {
        let q = k
            .parse::<usize>()
            .ok()
            .and_then(|n| questions.get(n.wrapping_sub(1)))
            .ok_or_else(|| AppError::invalid(format!("the template has no question {k}")))?;
        if *v < 1 || *v > i64::from(q.scale) {
            return Err(AppError::invalid(format!(
                "question {k} is answered 1 to {}, not {v}",
                q.scale
            )));
        }
    }
    let region = campaign
        .region
        .clone()
        .or(p.region.clone())
        .ok_or_else(|| {
            AppError::invalid("the campaign has no region; answer from a regional office")
        })?;
    let mut writes: Vec<(&'static str, FieldValue)> = vec![
        ("answer.kind", "rating".into()),
        ("answer.campaign_id", id.to_string().into()),
        ("answer.customer_name", body.customer_name.trim().into()),
        ("answer.rating", body.rating.to_string().into()),
        ("answer.comment", body.comment.trim().into()),
        ("answer.answered_at", state.now().to_rfc3339().into()),
        (
            "answer.responses",
            serde_json::to_string(&body.responses)
                .map_err(AppError::internal)?
                .into(),
        ),
    ];
    if let Some(v) = body.visit_id {
        writes.push(("answer.visit_id", v.to_string().into()));
    }
    if let Some(t) = body.technician {
        writes.push(("answer.technician", t.to_string().into()));
    }
    let mut tx = state.db.begin_write().await?;
    let doc = server_create_in(
        &mut tx,
        &p,
        DocKind::Feedback,
        &region,
        &writes,
        state.now(),
        state.config.timezone,
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"id": doc.id()})),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChaseItem {
    #[serde(flatten)]
    pub item: FeedbackItem,
    pub age_days: i64,
    /// What is still missing before it can close.
    pub needs: Vec<String>,
}

fn needs(item: &FeedbackItem) -> Vec<String> {
    let mut out = Vec::new();
    if item.severity == "severe" && item.reported_at.is_none() {
        out.push("written report to the department head (§3.3)".into());
    }
    match (item.severity.as_str(), item.answer_method.as_deref()) {
        (_, None) => out.push("an answer to the customer".into()),
        ("severe", Some(m)) if m != "letter" => {
            out.push("a written answer to the customer (§3.3)".into())
        }
        _ => {}
    }
    // §3.5: a complaining customer is visited by the head or a delegate. A complaint that
    // became a case is visited under the case, which will not close without it.
    if item.kind == "complaint" && item.complaint_id.is_none() && item.head_visit.is_none() {
        out.push(
            "a visit to the customer by the department head or a person the head sends (§3.5)"
                .into(),
        );
    }
    out
}

/// Open feedback to chase (催办, §3.4): severe items first, as §3.3 has them handled early
/// (提前加以处理), then oldest first, with what each still needs.
#[utoipa::path(get, path = "/api/feedback/chase", responses((status = 200, body = Vec<ChaseItem>)), security(("bearer" = [])))]
async fn chase_list(
    State(state): State<AppState>,
    Auth(p): Auth,
) -> AppResult<Json<Vec<ChaseItem>>> {
    role_in(&p, OFFICE, "the feedback chase list")?;
    let now = state.now().timestamp_millis();
    let region = if p.is_head_office() {
        None
    } else {
        p.region.as_deref()
    };
    let mut items = state.db.feedback_items(region, Some("open")).await?;
    // A stable sort keeps the oldest first within each severity.
    items.sort_by_key(|item| item.severity != "severe");
    Ok(Json(
        items
            .into_iter()
            .map(|item| ChaseItem {
                age_days: (now - item.created_at) / 86_400_000,
                needs: needs(&item),
                item,
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema, Default)]
pub struct FeedbackStepBody {
    /// For `answer`: letter or phone.
    pub method: Option<String>,
    pub text: Option<String>,
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
    role_in(&p, OFFICE, "handling feedback")?;
    let body = body.map(|b| b.0).unwrap_or_default();
    let item = state
        .db
        .feedback_item(id)
        .await?
        .filter(|i| p.is_head_office() || p.region.as_deref() == Some(i.region.as_str()))
        .ok_or_else(|| AppError::not_found(format!("no feedback {id} that you may see")))?;
    if item.state == "closed" && step != "to-complaint" {
        return Err(AppError::new(
            ErrorCode::FeedbackClosed,
            "this feedback is closed",
        ));
    }
    let applied = match step.as_str() {
        "report" => {
            state
                .db
                .feedback_step(id, "reported", None, None, state.now_ms())
                .await?
        }
        "answer" => {
            let method = body.method.as_deref().unwrap_or_default();
            if !["letter", "phone"].contains(&method) {
                return Err(AppError::invalid(
                    "the customer is answered by letter or phone",
                ));
            }
            let text = body
                .text
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty());
            let text = text.ok_or_else(|| AppError::invalid("say what the customer was told"))?;
            state
                .db
                .feedback_step(id, "answered", Some(method), Some(text), state.now_ms())
                .await?
        }
        "chase" => {
            state
                .db
                .feedback_step(id, "chased", None, None, state.now_ms())
                .await?
        }
        "visit" => {
            let who = body
                .text
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    AppError::invalid("say who visited: the department head, or whom the head sent")
                })?;
            state
                .db
                .feedback_step(id, "visited", None, Some(who), state.now_ms())
                .await?
        }
        "close" => {
            let missing = needs(&item);
            if !missing.is_empty() {
                return Err(AppError::new(
                    ErrorCode::NotReady,
                    format!("still needed: {}", missing.join("; ")),
                ));
            }
            state
                .db
                .feedback_step(id, "closed", None, None, state.now_ms())
                .await?
        }
        "to-complaint" => {
            if item.kind != "complaint" {
                return Err(AppError::invalid(
                    "only a complaint can become a complaint case",
                ));
            }
            if item.complaint_id.is_some() {
                return Err(AppError::new(
                    ErrorCode::AlreadyLinked,
                    "this feedback already has a complaint case",
                ));
            }
            let text = body.text.as_deref().unwrap_or_default().trim().to_string();
            if text.is_empty() {
                return Err(AppError::invalid("give the complaint case id to link"));
            }
            let case =
                Uuid::parse_str(&text).map_err(|_| AppError::invalid("not a complaint case id"))?;
            state
                .db
                .case(case)
                .await?
                .ok_or_else(|| AppError::not_found(format!("no complaint case {case}")))?;
            state
                .db
                .feedback_step(id, "complaint", None, Some(&text), state.now_ms())
                .await?
        }
        other => return Err(AppError::invalid(format!("no feedback step '{other}'"))),
    };
    if !applied {
        return Err(AppError::new(
            ErrorCode::ChangedMeanwhile,
            "someone closed or linked this feedback meanwhile; reload it",
        ));
    }
    let item = state
        .db
        .feedback_item(id)
        .await?
        .ok_or_else(|| AppError::not_found("gone"))?;
    Ok(Json(ChaseItem {
        age_days: (state.now().timestamp_millis() - item.created_at) / 86_400_000,
        needs: needs(&item),
        item,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ReportQuery {
    /// YYYY-MM, company time (the reports that cover a month).
    pub month: Option<String>,
    /// A regional office; head office may choose any, an office only its own.
    pub region: Option<String>,
    /// json (default), csv or xlsx.
    pub format: Option<String>,
    /// zh (default) or en.
    pub lang: Option<String>,
}

struct Ctx<'a> {
    state: &'a AppState,
    region: Option<String>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    month: String,
}

fn ymd(state: &AppState, ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| {
            t.with_timezone(&state.config.timezone)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

/// The last day a deadline allows, in company time: a deadline is kept as the instant it
/// passes (00:00 on the day after), so the day shown is the one before it (§4.7: due by 24:00).
fn due_day(state: &AppState, due: DateTime<Utc>) -> String {
    (due - chrono::Duration::milliseconds(1))
        .with_timezone(&state.config.timezone)
        .format("%Y-%m-%d")
        .to_string()
}

/// Every user's display name by id.
async fn display_names(ctx: &Ctx<'_>) -> AppResult<HashMap<String, String>> {
    Ok(ctx
        .state
        .db
        .list_users()
        .await?
        .into_iter()
        .map(|u| (u.id.to_string(), u.display_name))
        .collect())
}

/// A record's projected fields by path.
async fn fields_of(ctx: &Ctx<'_>, id: Uuid) -> AppResult<HashMap<String, String>> {
    Ok(ctx
        .state
        .db
        .doc_fields(id)
        .await?
        .into_iter()
        .map(|f| (f.path, f.value))
        .collect())
}

/// A custody event of the product register, as the register writes it.
fn custody_label(code: &str) -> &str {
    match code {
        "issued" => "开具收据带回",
        "to_production" => "退料单送生产部",
        "repair_done" => "修复待检",
        "qc_accept" => "质检合格入库",
        "qc_reject" => "质检不合格返修",
        "return_to_customer" => "交还客户签收",
        "void" => "收据收回作废",
        other => other,
    }
}

fn registered_at(v: &VisitRow) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.text("request.received_at"))
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| DateTime::from_timestamp_millis(v.created_at).unwrap_or_default())
}

fn in_month(ctx: &Ctx, at: DateTime<Utc>) -> bool {
    at >= ctx.from && at < ctx.to
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

pub(crate) fn download(bytes: Vec<u8>, mime: &str, file: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        Body::from(bytes),
    )
        .into_response()
}

/// The names of the registers and reports, with their titles (zh, en).
pub(crate) const REPORTS: &[(&str, &str, &str)] = &[
    (
        "service-record",
        "售后服务记录",
        "After-sales service record",
    ),
    (
        "complaint-register",
        "客户投诉登记追踪表",
        "Complaint register and tracking table",
    ),
    (
        "product-register",
        "客户产品进出登记簿",
        "Customer product in/out register",
    ),
    ("overdue", "逾期清单", "Overdue list"),
    ("complaint-stats", "投诉统计", "Complaint statistics"),
    ("service-cost", "售后服务费用", "Service cost"),
    ("technicians", "技术人员考核", "Technician performance"),
    ("feedback", "客户意见", "Customer feedback"),
    ("personnel-notice", "人事公布单", "Personnel notice"),
];

/// Builds one register or report for a principal: the table and the month it covers
/// (`YYYY-MM`). Offices see their own region; head office any.
pub(crate) async fn report_table(
    state: &AppState,
    p: &Principal,
    name: &str,
    month: Option<&str>,
    region: Option<&str>,
) -> AppResult<(Table, String)> {
    if p.role == Role::Technician {
        return Err(AppError::forbidden("reports are for the office"));
    }
    let region = match (region, &p.region) {
        (Some(r), Some(mine)) if r != mine => {
            return Err(AppError::forbidden(format!(
                "you may see reports of '{mine}' only, not '{r}'"
            )));
        }
        (Some(r), _) => Some(r.to_string()),
        (None, Some(mine)) => Some(mine.clone()),
        (None, None) => None,
    };
    let tz = state.config.timezone;
    let now = state.now();
    let (y, m) = match month {
        Some(text) => {
            let parsed = parse_month(text)?;
            if parsed > year_month(tz, now) {
                return Err(AppError::invalid(format!("{text} is in the future")));
            }
            parsed
        }
        None => year_month(tz, now),
    };
    let (from, to) = month_bounds(tz, y, m).ok_or_else(|| AppError::invalid("no such month"))?;
    let ctx = Ctx {
        state,
        region,
        from,
        to,
        month: format!("{y:04}-{m:02}"),
    };
    let table = match name {
        "service-record" => service_record(&ctx).await?,
        "complaint-register" => complaint_register(&ctx).await?,
        "product-register" => product_register(&ctx).await?,
        "overdue" => overdue(&ctx).await?,
        "complaint-stats" => complaint_stats(&ctx).await?,
        "service-cost" => service_cost(&ctx).await?,
        "technicians" => technicians(&ctx).await?,
        "feedback" => feedback(&ctx).await?,
        "personnel-notice" => personnel_notice(&ctx).await?,
        other => return Err(AppError::not_found(format!("no report '{other}'"))),
    };
    Ok((table, ctx.month))
}

async fn service_record(ctx: &Ctx<'_>) -> AppResult<Table> {
    let mut t = Table::new(
        "售后服务记录",
        "After-sales service record",
        &[
            ("受理时间", "Received"),
            ("办事处", "Office"),
            ("客户名称", "Customer"),
            ("地址", "Address"),
            ("电话", "Phone"),
            ("产品名称", "Product"),
            ("型号", "Model"),
            ("规格", "Specification"),
            ("购买日期", "Purchased"),
            ("购买地点", "Purchase place"),
            ("服务类别", "Category"),
            ("保修期外免费理由", "Free out of warranty because"),
            ("处理结果", "Outcome"),
            ("状态", "State"),
            ("收费", "Fee"),
        ],
    );
    for v in ctx.state.db.visits(ctx.region.as_deref()).await? {
        let at = registered_at(&v);
        if !in_month(ctx, at) || v.text("request.customer_name").is_empty() {
            continue;
        }
        t.push(vec![
            ymd(ctx.state, at.timestamp_millis()).into(),
            v.region.clone().into(),
            v.text("request.customer_name").into(),
            v.text("request.customer_address").into(),
            v.text("request.customer_phone").into(),
            v.text("request.product_name").into(),
            v.text("request.product_model").into(),
            v.text("request.product_spec").into(),
            v.text("request.purchase_date").into(),
            v.text("request.purchase_place").into(),
            v.text("request.category").into(),
            v.text("request.warranty_reason").into(),
            v.text("form.outcome").into(),
            v.text("status.state").into(),
            Cell::Fen(v.int("fee.amount_fen")),
        ]);
    }
    Ok(t)
}

async fn complaint_register(ctx: &Ctx<'_>) -> AppResult<Table> {
    let mut t = Table::new(
        "客户投诉登记追踪表",
        "Complaint register and tracking table",
        &[
            ("投诉编号", "Number"),
            ("受理时间", "Accepted"),
            ("客户", "Customer"),
            ("型号", "Model"),
            ("不良现象", "Defect"),
            ("状态", "State"),
            ("当前步骤", "Current step"),
            ("步骤期限(含当日)", "Step due (last day)"),
            ("结案期限(含当日)", "Case due (last day)"),
            ("原因类别", "Cause class"),
            ("责任部门", "Responsible department"),
            ("改善追踪", "Improvement tracked"),
            ("结案时间", "Closed"),
        ],
    );
    // The tracking table of a month holds every case open at some time in it: accepted before
    // the month ends and not closed before it began (§4.6.4 登记追踪), in the order accepted.
    let mut cases: Vec<_> = ctx
        .state
        .db
        .cases(ctx.region.as_deref(), None)
        .await?
        .into_iter()
        .filter_map(|c| Some((c.accepted_at?, c)))
        .filter(|(accepted, c)| {
            *accepted < ctx.to && c.closed_at.is_none_or(|closed| closed >= ctx.from)
        })
        .collect();
    cases.sort_by(|a, b| (a.0, &a.1.number).cmp(&(b.0, &b.1.number)));
    for (accepted, c) in cases {
        let form = fields_of(ctx, c.id).await?;
        let field = |path: &str| Cell::from(form.get(path).map(String::as_str).unwrap_or(""));
        let step = c.current_step();
        t.push(vec![
            c.number.clone().unwrap_or_default().into(),
            ymd(ctx.state, accepted.timestamp_millis()).into(),
            field("form.customer_name"),
            field("form.product_model"),
            field("form.defect"),
            match c.state {
                CaseState::Submitted => "待受理",
                CaseState::Open => "处理中",
                CaseState::Closed => "已结案",
            }
            .into(),
            step.map(|s| s.kind.label_zh()).unwrap_or("").into(),
            step.map(|s| due_day(ctx.state, s.due_at))
                .unwrap_or_default()
                .into(),
            c.due_at
                .map(|d| due_day(ctx.state, d))
                .unwrap_or_default()
                .into(),
            match c.cause_class {
                Some(CauseClass::Quality) => "质量异常",
                Some(CauseClass::NonQuality) => "非质量异常",
                None => "",
            }
            .into(),
            c.responsibility
                .as_ref()
                .and_then(|r| r.department)
                .map(|d| d.label_zh())
                .unwrap_or("")
                .into(),
            match c.decision.as_ref().map(|d| d.track_improvement) {
                Some(true) => "是",
                Some(false) => "否",
                None => "",
            }
            .into(),
            c.closed_at
                .map(|d| ymd(ctx.state, d.timestamp_millis()))
                .unwrap_or_default()
                .into(),
        ]);
    }
    Ok(t)
}

async fn product_register(ctx: &Ctx<'_>) -> AppResult<Table> {
    let mut t = Table::new(
        "客户产品进出登记簿",
        "Customer product in/out register",
        &[
            ("收据编号", "Receipt"),
            ("办事处", "Office"),
            ("客户", "Customer"),
            ("产品名称", "Product"),
            ("型号", "Model"),
            ("出厂编号", "Serial"),
            ("所在位置", "Location"),
            ("承诺修复日期", "Promised"),
            ("经过", "History"),
        ],
    );
    let names = display_names(ctx).await?;
    // The month's register: every product that came in or went out in it (a custody step).
    for r in ctx.state.db.receipts(ctx.region.as_deref()).await? {
        let history = ctx.state.db.custody_history(r.id).await?;
        let moved = history
            .iter()
            .any(|h| DateTime::from_timestamp_millis(h.at).is_some_and(|at| in_month(ctx, at)));
        if !moved {
            continue;
        }
        let steps: Vec<String> = history
            .iter()
            .map(|h| {
                let who = names.get(&h.user_id).map(String::as_str).unwrap_or("");
                let note = if h.note.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", h.note)
                };
                format!(
                    "{} {} {who}{note}",
                    ymd(ctx.state, h.at),
                    custody_label(&h.event)
                )
            })
            .collect();
        let form = fields_of(ctx, r.id).await?;
        let field = |path: &str| Cell::from(form.get(path).map(String::as_str).unwrap_or(""));
        let location =
            serde_json::from_value::<Location>(serde_json::Value::String(r.location.clone()))
                .map(|l| l.label_zh().to_string())
                .unwrap_or_else(|_| r.location.clone());
        t.push(vec![
            r.number.into(),
            r.region.into(),
            field("receipt.customer_name"),
            field("receipt.product_name"),
            field("receipt.product_model"),
            field("receipt.product_serial"),
            location.into(),
            r.promised_date.unwrap_or_default().into(),
            steps.join("; ").into(),
        ]);
    }
    Ok(t)
}

async fn overdue(ctx: &Ctx<'_>) -> AppResult<Table> {
    let mut t = Table::new(
        "逾期清单",
        "Overdue list",
        &[
            ("投诉编号", "Number"),
            ("事项", "What"),
            ("部门", "Department"),
            ("期限(含当日)", "Due (last day)"),
        ],
    );
    let items =
        crate::app::complaints::sweep_overdue(ctx.state, ctx.region.as_deref(), ctx.state.now())
            .await?;
    // The API's codes, as the Chinese table writes them.
    fn parse<T: serde::de::DeserializeOwned>(code: &str) -> Option<T> {
        serde_json::from_value(serde_json::Value::String(code.to_string())).ok()
    }
    for i in items {
        let what = match i.what.as_str() {
            "case" => "结案".to_string(),
            "investigation_report" => "调查报告(§4.6.3)".to_string(),
            step => parse::<StepKind>(step)
                .map(|k| k.label_zh().to_string())
                .unwrap_or_else(|| step.to_string()),
        };
        let department = parse::<Department>(&i.department)
            .map(|d| d.label_zh().to_string())
            .unwrap_or(i.department);
        t.push(vec![
            i.number.unwrap_or_default().into(),
            what.into(),
            department.into(),
            due_day(ctx.state, i.due_at).into(),
        ]);
    }
    Ok(t)
}

async fn complaint_stats(ctx: &Ctx<'_>) -> AppResult<Table> {
    let mut t = Table::new(
        "月度投诉统计",
        "Monthly complaint statistics",
        &[
            ("维度", "Dimension"),
            ("项目", "Item"),
            ("件数", "Cases"),
            ("累计占比", "Cumulative share"),
        ],
    );
    let mut by_class: BTreeMap<String, i64> = BTreeMap::new();
    let mut by_model: BTreeMap<String, i64> = BTreeMap::new();
    let mut by_dept: BTreeMap<String, i64> = BTreeMap::new();
    let mut causes: BTreeMap<String, i64> = BTreeMap::new();
    for c in ctx.state.db.cases(ctx.region.as_deref(), None).await? {
        let Some(accepted) = c.accepted_at else {
            continue;
        };
        if !in_month(ctx, accepted) {
            continue;
        }
        let class = match c.cause_class {
            Some(CauseClass::Quality) => "质量异常",
            Some(CauseClass::NonQuality) => "非质量异常",
            None => "未判定",
        };
        let dept = c
            .responsibility
            .as_ref()
            .and_then(|r| r.department)
            .map(|d| d.label_zh())
            .unwrap_or("未判定");
        let model = ctx
            .state
            .db
            .doc_fields(c.id)
            .await?
            .into_iter()
            .find(|f| f.path == "form.product_model")
            .map(|f| f.value)
            .unwrap_or_default();
        *by_class.entry(class.into()).or_default() += 1;
        *by_model.entry(model).or_default() += 1;
        *by_dept.entry(dept.into()).or_default() += 1;
        *causes.entry(format!("{class}/{dept}")).or_default() += 1;
    }
    for (dim, map) in [
        ("原因类别", &by_class),
        ("产品型号", &by_model),
        ("责任部门", &by_dept),
    ] {
        for (k, n) in map {
            t.push(vec![dim.into(), k.clone().into(), Cell::Int(*n), "".into()]);
        }
    }
    // Pareto: causes by count, largest first, with the cumulative share.
    let mut pareto: Vec<(String, i64)> = causes.into_iter().collect();
    pareto.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let total: i64 = pareto.iter().map(|(_, n)| n).sum();
    let mut running = 0;
    for (k, n) in pareto {
        running += n;
        t.push(vec![
            "帕累托".into(),
            k.into(),
            Cell::Int(n),
            Cell::Ratio(running as f64 / total as f64),
        ]);
    }
    Ok(t)
}

async fn service_cost(ctx: &Ctx<'_>) -> AppResult<Table> {
    let mut t = Table::new(
        "产品服务成本",
        "Service cost by product",
        &[
            ("型号", "Model"),
            ("服务次数", "Jobs"),
            ("差旅费", "Travel"),
            ("补贴费", "Allowance"),
            ("零件费", "Parts"),
            ("维修费", "Repair"),
            ("成本合计", "Cost"),
            ("收费", "Paid"),
        ],
    );
    let mut rows: BTreeMap<String, [i64; 7]> = BTreeMap::new();
    for v in ctx.state.db.visits(ctx.region.as_deref()).await? {
        if !in_month(ctx, registered_at(&v)) || v.text("form.outcome").is_empty() {
            continue;
        }
        let r = rows
            .entry(v.text("request.product_model").to_string())
            .or_default();
        let cost = v.costs();
        r[0] += 1;
        r[1] += cost.travel;
        r[2] += cost.allowance;
        r[3] += cost.parts;
        r[4] += cost.repair;
        r[5] += cost.total();
        r[6] += v.int("fee.amount_fen");
    }
    for (model, r) in rows {
        t.push(vec![
            model.into(),
            Cell::Int(r[0]),
            Cell::Fen(r[1]),
            Cell::Fen(r[2]),
            Cell::Fen(r[3]),
            Cell::Fen(r[4]),
            Cell::Fen(r[5]),
            Cell::Fen(r[6]),
        ]);
    }
    Ok(t)
}

/// Monthly technician performance (§3.2). A job counts in the month it was registered; it is
/// on time when the technician left the site no later than the company day after dispatch.
async fn technicians(ctx: &Ctx<'_>) -> AppResult<Table> {
    let tz = ctx.state.config.timezone;
    #[derive(Default)]
    struct Row {
        jobs: i64,
        fixed: i64,
        taken_back: i64,
        timed: i64,
        on_time: i64,
        rating_sum: i64,
        ratings: i64,
        complaints: i64,
        cost: i64,
    }
    let mut rows: HashMap<String, Row> = HashMap::new();
    let visits = ctx.state.db.visits(ctx.region.as_deref()).await?;
    // A rating names its visit; the technician it rates is the one the visit was dispatched to
    // (§3.2). The technician an answer names counts only for an answer without a known visit.
    let dispatched_to: HashMap<String, String> = visits
        .iter()
        .filter_map(|v| Some((v.id.to_string(), v.assignee?.to_string())))
        .collect();
    for v in visits {
        let Some(tech) = v.assignee else { continue };
        if !in_month(ctx, registered_at(&v)) || v.text("form.outcome").is_empty() {
            continue;
        }
        let r = rows.entry(tech.to_string()).or_default();
        r.jobs += 1;
        match v.text("form.outcome") {
            "fixed_on_site" => r.fixed += 1,
            "taken_back" => r.taken_back += 1,
            _ => {}
        }
        let day = |path: &str| {
            DateTime::parse_from_rfc3339(v.text(path))
                .ok()
                .map(|t| local_date(tz, t.with_timezone(&Utc)))
        };
        if let (Some(d), Some(left)) = (day("dispatch.dispatched_at"), day("form.departed_at")) {
            r.timed += 1;
            if left <= d + chrono::Days::new(1) {
                r.on_time += 1;
            }
        }
        r.cost += v.costs().total();
    }
    for f in ctx
        .state
        .db
        .feedback_items(ctx.region.as_deref(), None)
        .await?
    {
        let from_visit = f.visit_id.as_ref().and_then(|v| dispatched_to.get(v));
        let Some(tech) = from_visit.or(f.technician.as_ref()) else {
            continue;
        };
        let at = DateTime::from_timestamp_millis(f.created_at).unwrap_or_default();
        if !in_month(ctx, at) {
            continue;
        }
        let r = rows.entry(tech.clone()).or_default();
        if let Some(score) = f.rating.filter(|_| f.kind == "rating") {
            r.rating_sum += score;
            r.ratings += 1;
        }
        if f.kind == "complaint" {
            r.complaints += 1;
        }
    }
    let names = display_names(ctx).await?;
    let mut ranked: Vec<(String, Row)> = rows.into_iter().collect();
    let avg = |r: &Row| {
        if r.ratings > 0 {
            r.rating_sum as f64 / r.ratings as f64
        } else {
            0.0
        }
    };
    ranked.sort_by(|a, b| {
        avg(&b.1)
            .partial_cmp(&avg(&a.1))
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(b.1.jobs.cmp(&a.1.jobs))
            .then(a.0.cmp(&b.0))
    });
    let mut t = Table::new(
        "技术员月度绩效",
        "Technician monthly performance",
        &[
            ("排名", "Rank"),
            ("技术员", "Technician"),
            ("服务次数", "Jobs"),
            ("现场修复", "Fixed on site"),
            ("带回维修", "Taken back"),
            ("及时率", "On-time rate"),
            ("平均评分", "Average rating"),
            ("评分次数", "Ratings"),
            ("被投诉", "Complaints"),
            ("服务成本", "Service cost"),
        ],
    );
    for (i, (tech, r)) in ranked.iter().enumerate() {
        t.push(vec![
            Cell::Int(i as i64 + 1),
            names
                .get(tech)
                .cloned()
                .unwrap_or_else(|| tech.clone())
                .into(),
            Cell::Int(r.jobs),
            Cell::Int(r.fixed),
            Cell::Int(r.taken_back),
            Cell::Ratio(if r.timed > 0 {
                r.on_time as f64 / r.timed as f64
            } else {
                0.0
            }),
            Cell::Ratio(avg(r)),
            Cell::Int(r.ratings),
            Cell::Int(r.complaints),
            Cell::Fen(r.cost),
        ]);
    }
    Ok(t)
}

async fn feedback(ctx: &Ctx<'_>) -> AppResult<Table> {
    let mut t = Table::new(
        "客户意见",
        "Customer feedback",
        &[
            ("日期", "Date"),
            ("类别", "Kind"),
            ("严重程度", "Severity"),
            ("评分", "Rating"),
            ("状态", "State"),
            ("答复方式", "Answered by"),
            ("催办次数", "Reminders"),
        ],
    );
    for f in ctx
        .state
        .db
        .feedback_items(ctx.region.as_deref(), None)
        .await?
    {
        if !in_month(
            ctx,
            DateTime::from_timestamp_millis(f.created_at).unwrap_or_default(),
        ) {
            continue;
        }
        t.push(vec![
            ymd(ctx.state, f.created_at).into(),
            f.kind.into(),
            f.severity.into(),
            f.rating.map(Cell::Int).unwrap_or_else(|| "".into()),
            f.state.into(),
            f.answer_method.unwrap_or_default().into(),
            Cell::Int(f.chase_count),
        ]);
    }
    Ok(t)
}

/// The personnel notice a confirmed monthly review produced (§4.8), one penalty a row.
async fn personnel_notice(ctx: &Ctx<'_>) -> AppResult<Table> {
    let mut t = Table::new(
        "人事公布单",
        "Personnel notice",
        &[
            ("投诉编号", "Complaint"),
            ("责任部门", "Department"),
            ("处分", "Penalty"),
        ],
    );
    let (_, _, notice) = ctx.state.db.review(&ctx.month).await?.ok_or_else(|| {
        AppError::not_found(format!("the review of {} is not confirmed", ctx.month))
    })?;
    for row in notice.lines().skip(1) {
        let cells: Vec<Cell> = row.split('\t').map(Cell::from).collect();
        if cells.len() == 3 {
            t.push(cells);
        }
    }
    Ok(t)
}
