//! The registers and reports: the service record, the complaint register and tracking table,
//! the product in/out register, overdue steps, complaint statistics, service cost, technician
//! performance, customer feedback and the personnel notice, as tables with Chinese and English
//! headers, dates in company time.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use fieldloop_client_core::model::Role;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::parse_month;
use crate::AppState;
use crate::access::Principal;
use crate::db::feedback::FeedbackItem;
use crate::db::service::VisitRow;
use crate::error::{AppError, AppResult};
use crate::export::{Cell, Table};
use crate::workflow::calendar::{local_date, month_bounds, year_month};
use crate::workflow::complaint::{CaseState, CauseClass, Department, StepKind};
use crate::workflow::service::Location;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
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
    /// Every regional office's name, by code.
    regions: HashMap<String, String>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    month: String,
}

impl Ctx<'_> {
    /// A regional office as people name it.
    fn region_name(&self, code: &str) -> String {
        self.regions
            .get(code)
            .cloned()
            .unwrap_or_else(|| code.to_string())
    }
}

/// A step's name in both languages.
fn step_words(k: StepKind) -> Cell {
    Cell::Words(k.label_zh().into(), english_of(k))
}

/// A department's name in both languages.
fn dept_words(d: Department) -> Cell {
    Cell::Words(d.label_zh().into(), english_of(d))
}

/// The English of a workflow code: its serde name in words (`rnd_opinion` → "rnd opinion").
fn english_of<T: serde::Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(|t| t.replace('_', " ")))
        .unwrap_or_default()
}

/// Yes or no, or nothing when undecided.
fn yes_no(value: Option<bool>) -> Cell {
    match value {
        Some(true) => Cell::Words("是".into(), "yes".into()),
        Some(false) => Cell::Words("否".into(), "no".into()),
        None => "".into(),
    }
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

/// A moment in company time, to the minute.
fn local_minute(state: &AppState, at: DateTime<Utc>) -> String {
    at.with_timezone(&state.config.timezone)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

fn in_month(ctx: &Ctx, at: DateTime<Utc>) -> bool {
    at >= ctx.from && at < ctx.to
}

/// The names of the registers and reports, with their titles (zh, en).
pub const REPORTS: &[(&str, &str, &str)] = &[
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
pub async fn report_table(
    state: &AppState,
    p: &Principal,
    name: &str,
    month: Option<&str>,
    region: Option<&str>,
) -> AppResult<(Table, String)> {
    if p.role == Role::Technician {
        return Err(AppError::forbidden("reports are for the office")
            .with_zh(Some("报表供办公室使用".into())));
    }
    let region = match (region, &p.region) {
        (Some(r), Some(mine)) if r != mine => {
            return Err(AppError::forbidden(format!(
                "you may see reports of '{mine}' only, not '{r}'"
            ))
            .with_zh(Some("只能查看本办事处的报表".into())));
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
                return Err(AppError::invalid(format!("{text} is in the future"))
                    .with_zh(Some(format!("{text} 是将来的日期"))));
            }
            parsed
        }
        None => year_month(tz, now),
    };
    let (from, to) = month_bounds(tz, y, m)
        .ok_or_else(|| AppError::invalid("no such month").with_zh(Some("没有这个月份".into())))?;
    let ctx = Ctx {
        state,
        regions: state.db.region_names().await?,
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
        other => {
            return Err(AppError::not_found(format!("no report '{other}'"))
                .with_zh(Some("没有这个报表".into())));
        }
    };
    Ok((table, ctx.month))
}

async fn service_record(ctx: &Ctx<'_>) -> AppResult<Table> {
    let mut t = Table::new(
        "售后服务记录",
        "After-sales service record",
        &[
            ("受理时间", "Received"),
            ("设备记录时间", "Device's time"),
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
        // The register holds what the office received in the month, when it received it; a
        // device's own clock is shown beside it, never in its place.
        let at = v.office_received_at();
        if !in_month(ctx, at) || v.text("request.customer_name").is_empty() {
            continue;
        }
        t.push(vec![
            local_minute(ctx.state, at).into(),
            v.claimed_received_at()
                .filter(|claim| (*claim - at).num_minutes().abs() >= 1)
                .map(|claim| local_minute(ctx.state, claim))
                .unwrap_or_default()
                .into(),
            ctx.region_name(&v.region).into(),
            v.text("request.customer_name").into(),
            v.text("request.customer_address").into(),
            v.text("request.customer_phone").into(),
            v.text("request.product_name").into(),
            v.text("request.product_model").into(),
            v.text("request.product_spec").into(),
            v.text("request.purchase_date").into(),
            v.text("request.purchase_place").into(),
            Cell::Code(v.text("request.category").into()),
            v.text("request.warranty_reason").into(),
            Cell::Code(v.text("form.outcome").into()),
            Cell::Code(v.text("status.state").into()),
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
                CaseState::Submitted => Cell::Words("待受理".into(), "submitted".into()),
                CaseState::Open => Cell::Words("处理中".into(), "open".into()),
                CaseState::Closed => Cell::Words("已结案".into(), "closed".into()),
            },
            step.map(|s| step_words(s.kind))
                .unwrap_or_else(|| "".into()),
            step.map(|s| due_day(ctx.state, s.due_at))
                .unwrap_or_default()
                .into(),
            c.due_at
                .map(|d| due_day(ctx.state, d))
                .unwrap_or_default()
                .into(),
            match c.cause_class {
                Some(CauseClass::Quality) => Cell::Words("质量异常".into(), "quality".into()),
                Some(CauseClass::NonQuality) => {
                    Cell::Words("非质量异常".into(), "non-quality".into())
                }
                None => "".into(),
            },
            c.responsibility
                .as_ref()
                .and_then(|r| r.department)
                .map(dept_words)
                .unwrap_or_else(|| "".into()),
            yes_no(c.decision.as_ref().map(|d| d.track_improvement)),
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
        // What the technician left blank on the receipt is read from the visit it was written
        // on (the registered request names the customer and the product).
        let visit = match form
            .get("receipt.visit_id")
            .and_then(|v| Uuid::parse_str(v).ok())
        {
            Some(id) => fields_of(ctx, id).await?,
            None => HashMap::new(),
        };
        let field = |path: &str| {
            let own = form.get(path).map(String::as_str).unwrap_or("");
            let from_visit = path.strip_prefix("receipt.").and_then(|key| {
                let visit_path = match key {
                    "customer_name" => "request.customer_name",
                    "product_name" => "request.product_name",
                    "product_model" => "request.product_model",
                    "product_serial" => "request.product_serial",
                    _ => return None,
                };
                visit.get(visit_path).map(String::as_str)
            });
            Cell::from(if own.is_empty() {
                from_visit.unwrap_or("")
            } else {
                own
            })
        };
        let location =
            serde_json::from_value::<Location>(serde_json::Value::String(r.location.clone()))
                .map(|l| Cell::Words(l.label_zh().into(), l.label_en().into()))
                .unwrap_or_else(|_| r.location.clone().into());
        t.push(vec![
            r.number.into(),
            ctx.region_name(&r.region).into(),
            field("receipt.customer_name"),
            field("receipt.product_name"),
            field("receipt.product_model"),
            field("receipt.product_serial"),
            location,
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
            "case" => Cell::Words("结案".into(), "closing the case".into()),
            "investigation_report" => Cell::Words(
                "调查报告(§4.6.3)".into(),
                "investigation report (§4.6.3)".into(),
            ),
            step => parse::<StepKind>(step)
                .map(step_words)
                .unwrap_or_else(|| step.into()),
        };
        let department = parse::<Department>(&i.department)
            .map(dept_words)
            .unwrap_or_else(|| i.department.into());
        t.push(vec![
            i.number.unwrap_or_default().into(),
            what,
            department,
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
            Cell::Ratio(ratio(running, total)),
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
        if !in_month(ctx, v.registered_at()) || v.text("form.outcome").is_empty() {
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

/// One technician's month for the performance review (§3.2): jobs and their outcomes, how
/// often they left on time, ratings, complaints and the cost of their work.
#[derive(Debug, Default)]
struct TechnicianMonth {
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

impl TechnicianMonth {
    /// Counts a visit whose form came back. It left on time when the technician set out by the
    /// day after the dispatch (company days).
    fn add_visit(&mut self, v: &VisitRow, tz: chrono_tz::Tz) {
        self.jobs += 1;
        match v.text("form.outcome") {
            "fixed_on_site" => self.fixed += 1,
            "taken_back" => self.taken_back += 1,
            _ => {}
        }
        let day = |path: &str| {
            DateTime::parse_from_rfc3339(v.text(path))
                .ok()
                .map(|t| local_date(tz, t.with_timezone(&Utc)))
        };
        if let (Some(d), Some(left)) = (day("dispatch.dispatched_at"), day("form.departed_at")) {
            self.timed += 1;
            if left <= d + chrono::Days::new(1) {
                self.on_time += 1;
            }
        }
        self.cost += v.costs().total();
    }

    /// Counts a customer's rating or complaint about the technician.
    fn add_feedback(&mut self, f: &FeedbackItem) {
        if let Some(score) = f.rating.filter(|_| f.kind == "rating") {
            self.rating_sum += score;
            self.ratings += 1;
        }
        if f.kind == "complaint" {
            self.complaints += 1;
        }
    }

    fn average_rating(&self) -> Option<f64> {
        ratio(self.rating_sum, self.ratings)
    }

    fn on_time_rate(&self) -> Option<f64> {
        ratio(self.on_time, self.timed)
    }
}

/// A share, or nothing when there is nothing to divide by.
fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Each technician's month, by technician id: the visits whose forms came back in the month,
/// and the feedback given in it.
async fn technician_months(ctx: &Ctx<'_>) -> AppResult<HashMap<String, TechnicianMonth>> {
    let tz = ctx.state.config.timezone;
    let mut rows: HashMap<String, TechnicianMonth> = HashMap::new();
    let visits = ctx.state.db.visits(ctx.region.as_deref()).await?;
    // A rating names its visit; the technician it rates is the one the visit was dispatched to
    // (§3.2). The technician an answer names counts only for an answer without a known visit.
    let dispatched_to: HashMap<String, String> = visits
        .iter()
        .filter_map(|v| Some((v.id.to_string(), v.assignee?.to_string())))
        .collect();
    for v in &visits {
        let Some(tech) = v.assignee else { continue };
        if in_month(ctx, v.registered_at()) && !v.text("form.outcome").is_empty() {
            rows.entry(tech.to_string()).or_default().add_visit(v, tz);
        }
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
        if in_month(ctx, at) {
            rows.entry(tech.clone()).or_default().add_feedback(&f);
        }
    }
    Ok(rows)
}

/// 技术员月度绩效 (§3.2): technicians ranked by average rating, then by jobs. A job counts in
/// the month it was registered; it is on time when the technician set out no later than the
/// company day after dispatch.
async fn technicians(ctx: &Ctx<'_>) -> AppResult<Table> {
    let names = display_names(ctx).await?;
    let mut ranked: Vec<(String, TechnicianMonth)> =
        technician_months(ctx).await?.into_iter().collect();
    ranked.sort_by(|a, b| {
        b.1.average_rating()
            .partial_cmp(&a.1.average_rating())
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
            Cell::Ratio(r.on_time_rate()),
            Cell::Mean(r.average_rating()),
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
            Cell::Code(f.kind),
            Cell::Code(f.severity),
            f.rating.map(Cell::Int).unwrap_or_else(|| "".into()),
            Cell::Code(f.state),
            Cell::Code(f.answer_method.unwrap_or_default()),
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
            .with_zh(Some("该月的月度检讨尚未确认(§4.8)".into()))
    })?;
    for row in notice.lines().skip(1) {
        let cells: Vec<Cell> = row.split('\t').map(Cell::from).collect();
        if cells.len() == 3 {
            t.push(cells);
        }
    }
    Ok(t)
}
