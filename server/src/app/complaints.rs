//! Complaints (§3.3-3.5, §4) as the office works them: filing, the register and tracking
//! table, actions on a case, the overdue sweep and notifications, the customer view, returns
//! and allowances after closing (§4.9), and the monthly review (§4.8). Every function takes
//! the acting user and typed input and returns a typed answer or an [`AppError`]; the API and
//! the pages both call these, and the overdue sweeper too.

use chrono::{DateTime, Utc};
use fieldloop_client_core::model::{DocKind, FieldValue, Role};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::access::Principal;
use crate::db::complaints::{insert_case, insert_event, load_case, update_case};
use crate::db::next_counter;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::records::{server_create_in, server_edit_in};
use crate::workflow::complaint::{Action, Actor, Case, CaseState, WorkflowError, apply};
use crate::workflow::numbering::{counter_name, format_number};

fn workflow_error(e: WorkflowError) -> AppError {
    AppError::new(e.code(), e.to_string()).with_zh(e.message_zh())
}

fn may_see_case(p: &Principal, case: &Case) -> bool {
    p.role != Role::Technician && p.sees(&case.region, case.filed_by, None)
}

pub(super) async fn visible_case(
    state: &AppState,
    p: &Principal,
    id: Uuid,
) -> AppResult<(Case, i64)> {
    state
        .db
        .case(id)
        .await?
        .filter(|c| may_see_case(p, &c.case))
        .map(|c| (c.case, c.version))
        .ok_or_else(|| {
            AppError::not_found(format!("no complaint case {id} that you may see"))
                .with_zh(Some("找不到该投诉案件".into()))
        })
}

/// 客户投诉处理单 as filed by a salesperson (§4.6.1).
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewComplaint {
    pub customer_name: String,
    pub order_number: String,
    pub product_model: String,
    #[serde(default)]
    pub product_spec: String,
    pub quantity: i64,
    /// YYYY-MM-DD
    pub delivery_date: String,
    pub defect: String,
    pub customer_demand: String,
    /// Amount the customer claims, in yuan ("1234.50"); "0" if none.
    #[serde(default)]
    pub claimed: Option<String>,
    #[serde(default)]
    pub severe: bool,
    /// The regional office; defaults to the salesperson's own.
    pub region: Option<String>,
    /// The closed case whose conclusion the customer rejected (§4.6.8).
    pub original_case: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaseView {
    pub id: Uuid,
    pub number: Option<String>,
    pub state: String,
    pub version: i64,
    /// The whole case as the workflow keeps it (internal: never shown to customers).
    #[schema(value_type = Object)]
    pub case: serde_json::Value,
    /// Steps and the case itself that are overdue now.
    pub overdue: Vec<OverdueItem>,
    /// What still keeps the case from closing.
    pub close_blockers: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OverdueItem {
    pub case_id: Uuid,
    pub number: Option<String>,
    /// The step, or `case` / `investigation_report`.
    pub what: String,
    pub department: String,
    pub due_at: DateTime<Utc>,
}

fn state_code(s: CaseState) -> &'static str {
    match s {
        CaseState::Submitted => "submitted",
        CaseState::Open => "open",
        CaseState::Closed => "closed",
    }
}

fn overdue_items(case: &Case, now: DateTime<Utc>) -> Vec<OverdueItem> {
    case.overdue(now)
        .into_iter()
        .map(|(step, department, due_at)| OverdueItem {
            case_id: case.id,
            number: case.number.clone(),
            what: match step {
                Some(s) => serde_json::to_value(s)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                None if department == crate::workflow::complaint::Department::Quality => {
                    "investigation_report".into()
                }
                None => "case".into(),
            },
            department: serde_json::to_value(department)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            due_at,
        })
        .collect()
}

fn view(case: &Case, version: i64, now: DateTime<Utc>) -> AppResult<CaseView> {
    Ok(CaseView {
        id: case.id,
        number: case.number.clone(),
        state: state_code(case.state).into(),
        version,
        case: serde_json::to_value(case).map_err(AppError::internal)?,
        overdue: overdue_items(case, now),
        close_blockers: if case.state == CaseState::Open {
            crate::workflow::complaint::close_blockers(case)
        } else {
            Vec::new()
        },
    })
}

/// Files a complaint (salesperson). It waits for quality to accept and number it.
pub async fn file_complaint(
    state: &AppState,
    p: &Principal,
    body: NewComplaint,
) -> AppResult<CaseView> {
    let (region, claimed_fen) = check_new_complaint(p, &body)?;
    let mut tx = state.db.begin_write().await?;
    if let Some(original) = body.original_case {
        let orig = load_case(&mut tx, original)
            .await?
            .filter(|c| may_see_case(p, &c.case))
            .ok_or_else(|| {
                AppError::not_found(format!("no complaint case {original}"))
                    .with_zh(Some("找不到该投诉案件".into()))
            })?;
        if orig.case.state != CaseState::Closed {
            return Err(AppError::new(
                ErrorCode::NotClosed,
                "only a closed case's conclusion can be rejected (§4.6.8)",
            )
            .with_zh(Some("只有已结案投诉的结论可由客户拒绝(§4.6.8)".into())));
        }
        already_rejected(&orig.case)?;
    }
    let now = state.now();
    let writes = complaint_form(&body, claimed_fen, now);
    let doc = server_create_in(
        &mut tx,
        p,
        DocKind::Complaint,
        &region,
        &writes,
        state.now(),
        state.config.timezone,
    )
    .await?;
    let mut case = Case::filed(
        doc.id(),
        &region,
        p.user_id,
        now,
        claimed_fen,
        body.severe,
        body.original_case,
    );
    case.access_code = hex::encode(rand::random::<[u8; 12]>());
    let at = now.timestamp_millis();
    insert_case(&mut tx, &case, at).await?;
    // Read again now that this transaction holds the write turn (taken when the form was
    // stored): a rejection filed meanwhile is seen here, and this one refused.
    if let Some(original) = body.original_case
        && let Some(mut orig) = load_case(&mut tx, original).await?
    {
        already_rejected(&orig.case)?;
        orig.case.followups.push(case.id);
        if !update_case(&mut tx, &orig.case, orig.version, at).await? {
            return Err(AppError::new(
                ErrorCode::Stale,
                "the original case changed meanwhile; try again",
            ));
        }
    }
    insert_event(&mut tx, case.id, p.user_id, p.role.code(), "file", "{}", at).await?;
    tx.commit().await?;
    view(&case, 1, now)
}

/// A closed case's conclusion is rejected once (§4.6.8): the new form filed for it is where the
/// complaint goes on.
fn already_rejected(original: &Case) -> AppResult<()> {
    if original.followups.is_empty() {
        return Ok(());
    }
    let number = original.number.as_deref().unwrap_or("(not numbered)");
    Err(AppError::new(
        ErrorCode::AlreadyDone,
        format!(
            "the customer's rejection of case {number} is already filed as a new complaint form; continue there (§4.6.8)"
        ),
    )
    .with_zh(Some(format!(
        "客户对 {number} 号投诉结论的异议已另立新案,请在新案中继续(§4.6.8)"
    ))))
}

/// Checks a complaint form before anything is stored (§4.6.1): filed by marketing for its own
/// region, with the customer, order, model, defect and demand, a quantity that is not negative
/// and a claim in yuan. Returns the region and the claim in fen.
fn check_new_complaint(p: &Principal, body: &NewComplaint) -> AppResult<(String, i64)> {
    // The same rule decides for forms that arrive by sync (records::decide).
    if !fieldloop_client_core::model::roles::may_create(p.role, DocKind::Complaint) {
        return Err(
            AppError::forbidden("complaints are filed by salespeople (§4.6.1)")
                .with_zh(Some("投诉处理单由业务人员填写(§4.6.1)".into())),
        );
    }
    let region = body
        .region
        .clone()
        .or_else(|| p.region.clone())
        .ok_or_else(|| {
            AppError::invalid("name the regional office of the complaint")
                .with_zh(Some("请选择投诉所属的办事处".into()))
        })?;
    if !p.may_create_in(&region) {
        return Err(AppError::forbidden(format!(
            "you file complaints for your own region, not '{region}'"
        ))
        .with_zh(Some("只能登记本办事处的投诉".into())));
    }
    if body.quantity < 0 {
        return Err(AppError::invalid("a quantity cannot be negative")
            .with_zh(Some("数量不能为负数".into())));
    }
    let delivered = body.delivery_date.trim();
    if !delivered.is_empty() && chrono::NaiveDate::parse_from_str(delivered, "%Y-%m-%d").is_err() {
        return Err(AppError::invalid(format!(
            "'{delivered}' is not a delivery date (YYYY-MM-DD)"
        ))
        .with_zh(Some(format!("「{delivered}」不是交货日期,应为 年-月-日"))));
    }
    let claimed_fen = match body.claimed.as_deref() {
        None | Some("") => 0,
        Some(text) => super::yuan(text)?,
    };
    for (what, zh, v) in [
        ("customer name", "客户名称", &body.customer_name),
        ("order number", "订单号", &body.order_number),
        ("product model", "产品型号", &body.product_model),
        ("defect", "不良情况", &body.defect),
        ("customer's demand", "客户要求", &body.customer_demand),
    ] {
        if v.trim().is_empty() {
            return Err(AppError::invalid(format!("the {what} is needed"))
                .with_zh(Some(format!("请填写{zh}"))));
        }
    }
    Ok((region, claimed_fen))
}

/// The fields of a complaint form (客户投诉处理单) as the office files it, received `now`.
fn complaint_form(
    body: &NewComplaint,
    claimed_fen: i64,
    now: DateTime<Utc>,
) -> Vec<(&'static str, FieldValue)> {
    let mut writes: Vec<(&'static str, FieldValue)> = vec![
        ("form.customer_name", body.customer_name.trim().into()),
        ("form.order_number", body.order_number.trim().into()),
        ("form.product_model", body.product_model.trim().into()),
        ("form.product_spec", body.product_spec.trim().into()),
        ("form.quantity", FieldValue::Int(body.quantity)),
        ("form.delivery_date", body.delivery_date.trim().into()),
        ("form.defect", body.defect.trim().into()),
        ("form.customer_demand", body.customer_demand.trim().into()),
        ("form.claimed_fen", FieldValue::Int(claimed_fen)),
        ("form.submitted_at", now.to_rfc3339().into()),
        (
            "form.severity",
            if body.severe { "severe" } else { "general" }.into(),
        ),
        ("case.state", "submitted".into()),
    ];
    if let Some(o) = body.original_case {
        writes.push(("form.original_case", o.to_string().into()));
    }
    writes
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegisterQuery {
    /// `submitted`, `open` or `closed`.
    pub state: Option<String>,
}

/// 客户投诉登记追踪表: the complaint register and tracking table.
pub async fn register(
    state: &AppState,
    p: &Principal,
    q: RegisterQuery,
) -> AppResult<Vec<CaseView>> {
    if p.role == Role::Technician {
        return Err(
            AppError::forbidden("technicians do not see the complaint register")
                .with_zh(Some("技术员不查看投诉登记表".into())),
        );
    }
    if let Some(s) = &q.state
        && !["submitted", "open", "closed"].contains(&s.as_str())
    {
        return Err(AppError::invalid("state is submitted, open or closed")
            .with_zh(Some("状态须为已提交、处理中或已结案".into())));
    }
    let region = if p.is_head_office() {
        None
    } else {
        p.region.as_deref()
    };
    let cases = state.db.cases(region, q.state.as_deref()).await?;
    let now = state.now();
    let views = cases
        .iter()
        .map(|c| view(c, 0, now))
        .collect::<AppResult<Vec<_>>>()?;
    Ok(views)
}

/// The GM office's overdue list (§4.4.3): overdue steps and cases, most overdue first. Listing
/// also raises a notification, once, to each department concerned.
pub async fn overdue(state: &AppState, p: &Principal) -> AppResult<Vec<OverdueItem>> {
    if p.role == Role::Technician {
        return Err(
            AppError::forbidden("technicians do not see the complaint register")
                .with_zh(Some("技术员不查看投诉登记表".into())),
        );
    }
    let region = if p.is_head_office() {
        None
    } else {
        p.region.as_deref()
    };
    let items = sweep_overdue(state, region, state.now()).await?;
    Ok(items)
}

/// Finds overdue steps and cases and raises their notifications (idempotent).
pub async fn sweep_overdue(
    state: &AppState,
    region: Option<&str>,
    now: DateTime<Utc>,
) -> AppResult<Vec<OverdueItem>> {
    let cases = state.db.cases(region, Some("open")).await?;
    let mut items: Vec<OverdueItem> = cases.iter().flat_map(|c| overdue_items(c, now)).collect();
    items.sort_by_key(|i| i.due_at);
    for item in &items {
        let key = format!("{}:{}:{}", item.case_id, item.what, item.due_at.timestamp());
        let message = format!(
            "{} {} overdue since {}",
            item.number.clone().unwrap_or_default(),
            item.what,
            item.due_at
                .with_timezone(&state.config.timezone)
                .format("%Y-%m-%d %H:%M")
        );
        state
            .db
            .notify(
                &key,
                &item.department,
                item.case_id,
                &message,
                now.timestamp_millis(),
            )
            .await?;
        if item.department != "gm_office" {
            state
                .db
                .notify(
                    &format!("{key}:gm"),
                    "gm_office",
                    item.case_id,
                    &message,
                    now.timestamp_millis(),
                )
                .await?;
        }
    }
    Ok(items)
}

/// One case with its whole internal record.
pub async fn get_case(state: &AppState, p: &Principal, id: Uuid) -> AppResult<CaseView> {
    let (case, version) = visible_case(state, p, id).await?;
    view(&case, version, state.now())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ActRequest {
    /// The version the user saw; a stale action is refused with `stale`.
    pub version: Option<i64>,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub action: Action,
}

/// Acts on a case: accept (quality numbers it), investigate, determine, production report,
/// R&D opinion, consolidate, propose an amount, approve, approve a penalty, communicate, head
/// review, record the head's visit, written report to head, involve another company, petition,
/// close. The workflow refuses anything the role or authority does not allow.
pub async fn act(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    body: ActRequest,
) -> AppResult<CaseView> {
    // Two actions on one case at once: on SQLite the second writer waits and then reads the
    // first one's result; on PostgreSQL both may read the same version, and the one that loses
    // the update is run again on the case as it now is, so both engines answer the same (two
    // acceptances: one number, and `already_numbered` for the other).
    for _ in 0..3 {
        if let Some(view) = act_once(state, p, id, &body).await? {
            return Ok(view);
        }
    }
    Err(AppError::new(
        ErrorCode::Stale,
        "the case keeps changing meanwhile; reload it",
    )
    .with_zh(Some("案件正被他人更新,请刷新页面后再操作".into())))
}

/// One attempt at an action; `None` when another writer changed the case after it was read.
async fn act_once(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    body: &ActRequest,
) -> AppResult<Option<CaseView>> {
    let rules = state.config.rules();
    let mut tx = state.db.begin_write().await?;
    let stored = load_case(&mut tx, id)
        .await?
        .filter(|c| may_see_case(p, &c.case))
        .ok_or_else(|| {
            AppError::not_found(format!("no complaint case {id} that you may see"))
                .with_zh(Some("找不到该投诉案件".into()))
        })?;
    if let Some(v) = body.version
        && v != stored.version
    {
        return Err(AppError::new(
            ErrorCode::Stale,
            format!(
                "the case changed since you read it (version {v}, now {}); reload it",
                stored.version
            ),
        )
        .with_zh(Some("案件已被他人更新,请刷新页面后再操作".into())));
    }
    let now = state.now();
    // Acceptance takes the month's next serial in this transaction: a rollback returns it.
    let number = if matches!(body.action, Action::Accept)
        && stored.case.number.is_none()
        && p.role == Role::Quality
    {
        let serial = next_counter(&mut tx, &counter_name(rules.tz, now)).await?;
        Some(format_number(rules.tz, now, serial))
    } else {
        None
    };
    let actor = Actor {
        user: p.user_id,
        role: p.role,
    };
    let next = apply(
        &stored.case,
        &body.action,
        actor,
        now,
        &rules,
        number.as_deref(),
    )
    .map_err(workflow_error)?;
    let at = now.timestamp_millis();
    if !update_case(&mut tx, &next, stored.version, at).await? {
        return Ok(None);
    }
    let payload = serde_json::to_string(&body.action).map_err(AppError::internal)?;
    insert_event(
        &mut tx,
        id,
        p.user_id,
        p.role.code(),
        body.action.name(),
        &payload,
        at,
    )
    .await?;
    // Mirror what devices show (number, state) into the complaint document.
    if next.number != stored.case.number || next.state != stored.case.state {
        let number = next.number.clone().unwrap_or_default();
        let accepted = next.accepted_at.map(|t| t.to_rfc3339()).unwrap_or_default();
        let state_text = state_code(next.state);
        server_edit_in(&mut tx, p, id, now, |_| {
            let mut w: Vec<(&'static str, FieldValue)> = vec![("case.state", state_text.into())];
            if !number.is_empty() {
                w.push(("case.number", number.into()));
                w.push(("case.accepted_at", accepted.into()));
            }
            Ok(w)
        })
        .await?;
    }
    tx.commit().await?;
    Ok(Some(view(&next, stored.version + 1, now)?))
}

/// The customer rejects a closed case's conclusion (§4.6.8): a new case is filed, linked to
/// the original, which stays closed.
pub async fn reopen(state: &AppState, p: &Principal, id: Uuid) -> AppResult<CaseView> {
    let (original, _) = visible_case(state, p, id).await?;
    let row = state.db.doc(id).await?.ok_or_else(|| {
        AppError::not_found("the complaint form is missing")
            .with_zh(Some("找不到投诉处理单".into()))
    })?;
    let form = row.record().map_err(AppError::internal)?;
    let text = |path: &str| {
        form.get(path)
            .and_then(|v| v.as_text().map(str::to_string))
            .unwrap_or_default()
    };
    let int = |path: &str| form.get(path).and_then(|v| v.as_int()).unwrap_or(0);
    let body = NewComplaint {
        customer_name: text("form.customer_name"),
        order_number: text("form.order_number"),
        product_model: text("form.product_model"),
        product_spec: text("form.product_spec"),
        quantity: int("form.quantity"),
        delivery_date: text("form.delivery_date"),
        defect: format!(
            "客户不接受 {} 号投诉的处理结论。原不良原因:{}",
            original.number.clone().unwrap_or_default(),
            text("form.defect")
        ),
        customer_demand: text("form.customer_demand"),
        claimed: Some(
            fieldloop_client_core::model::money::fen_to_yuan(int("form.claimed_fen")).to_string(),
        ),
        severe: original.severe,
        region: Some(original.region.clone()),
        original_case: Some(id),
    };
    file_complaint(state, p, body).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerQuery {
    /// The access code given to the customer with the case number.
    pub code: String,
    /// Anything here asks for internal records, which customers never get (§4.6.9).
    pub include: Option<String>,
}

/// What a customer may be told (§4.6.9): no internal field ever.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerView {
    pub number: String,
    /// 受理中 / 处理中 / 已结案, with English.
    pub status_zh: String,
    pub status_en: String,
    pub accepted_on: Option<String>,
    /// The answer given to the customer (letter text), once the case reached that step.
    pub answer: Option<String>,
}

/// The customer-facing view of a case, by its number and access code.
pub async fn customer_view(
    state: &AppState,
    number: String,
    q: CustomerQuery,
) -> AppResult<CustomerView> {
    if q.include.is_some() {
        return Err(AppError::new(
            ErrorCode::InternalRecord,
            "internal complaint records are never shown or copied to customers (§4.6.9)",
        ));
    }
    let case = state
        .db
        .case_by_number(&number)
        .await?
        .map(|c| c.case)
        .filter(|c| !c.access_code.is_empty() && c.access_code == q.code)
        .ok_or_else(|| {
            AppError::not_found("no case with that number and code")
                .with_zh(Some("编号与查询码不符".into()))
        })?;
    let (zh, en) = match case.state {
        CaseState::Submitted => ("已受理", "received"),
        CaseState::Open => ("处理中", "being handled"),
        CaseState::Closed => ("已结案", "closed"),
    };
    let tz = state.config.timezone;
    Ok(CustomerView {
        number,
        status_zh: zh.into(),
        status_en: en.into(),
        accepted_on: case
            .accepted_at
            .map(|t| t.with_timezone(&tz).format("%Y-%m-%d").to_string()),
        answer: Some(case.customer_result.clone()).filter(|s| !s.is_empty()),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Notification {
    pub case_id: String,
    pub message: String,
    pub created_at: DateTime<Utc>,
}

/// Notifications to the caller's department (overdue steps and cases).
pub async fn notifications(state: &AppState, p: &Principal) -> AppResult<Vec<Notification>> {
    let Some(dept) = crate::workflow::complaint::Department::of_role(p.role) else {
        return Ok(Vec::new());
    };
    let code = serde_json::to_value(dept)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let rows = state.db.notifications(&code).await?;
    Ok(rows
        .into_iter()
        .map(|(case_id, message, at)| Notification {
            case_id,
            message,
            created_at: DateTime::from_timestamp_millis(at).unwrap_or_default(),
        })
        .collect())
}
