//! Complaints in the browser: the register and the case page with its step timeline and the
//! actions the user may take.
//!
//! Which actions a page offers is decided by running the pure workflow on the case as it is
//! (a dry run of [`apply`]); the posted action then goes through the same application function
//! as the API, which decides again.

use std::collections::HashMap;
use std::str::FromStr as _;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use fieldloop_client_core::model::money::yuan_text;
use fieldloop_client_core::model::{FieldValue, RecordDoc, Role};
use serde_json::{Map, Value};
use uuid::Uuid;

use maud::Markup;

use super::html::{
    Flash, count_input, csrf_field, date_input, deadline, input, local, local_ms, money_input,
    page, select, url_encode,
};
use super::pages::{error_page, names, not_found};
use super::settlements::settlement_section;
use super::{Fields, Posted, Session, back_with};
use crate::AppState;
use crate::app::complaints::{self as app, ActRequest};
use crate::error::AppError;
use crate::workflow::complaint::{
    Action, Actor, Case, CaseState, CauseClass, Department, MoneyKind, StepKind, apply,
    close_blockers_in,
};

pub(super) fn region_filter(s: &Session) -> Option<&str> {
    if s.p.is_head_office() {
        None
    } else {
        s.p.region.as_deref()
    }
}

pub(super) fn visible(s: &Session, case: &Case) -> bool {
    s.p.role != Role::Technician && s.p.sees(&case.region, case.filed_by, None)
}

pub(super) fn step_label(s: &Session, k: StepKind) -> String {
    s.t(k.label_zh(), k.label_en()).to_string()
}

pub(super) fn dept_label(s: &Session, d: Department) -> String {
    s.t(d.label_zh(), d.label_en()).to_string()
}

pub(super) fn case_title(s: &Session, case: &Case) -> String {
    case.number
        .clone()
        .unwrap_or_else(|| s.t("待受理", "awaiting acceptance").to_string())
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct ComplaintsQuery {
    q: Option<String>,
    state: Option<String>,
    region: Option<String>,
    step: Option<String>,
    overdue: Option<String>,
    /// Filed from and to (company days, both included), `YYYY-MM-DD`.
    from: Option<String>,
    to: Option<String>,
    page: Option<usize>,
    #[serde(flatten)]
    flash: Flash,
}

/// Cases on one page of the complaints list.
const CASES_PER_PAGE: usize = 50;

/// The complaint register (客户投诉登记追踪表) as a list of cases: the customer, the defect,
/// the amount claimed, the step the case is at and who acts, the deadline; search by number,
/// customer or defect, filters by state, region, step and overdue, pages of fifty.
pub async fn complaints(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<ComplaintsQuery>,
) -> Response {
    let (cases, forms, regions) = match (
        state.db.cases(region_filter(&s), None).await,
        state.db.case_forms().await,
        state.db.region_names().await,
    ) {
        (Ok(c), Ok(f), Ok(r)) => (c, f, r),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return error_page(&s, e.into()),
    };
    let now = state.now();
    let tz = state.config.timezone;
    let text = q.q.as_deref().unwrap_or("").trim().to_lowercase();
    let want_state = q.state.as_deref().filter(|v| !v.is_empty());
    let want_region = q.region.as_deref().filter(|v| !v.is_empty());
    let want_step = q.step.as_deref().filter(|v| !v.is_empty());
    let only_overdue = q.overdue.as_deref() == Some("1");
    let from = q.from.as_deref().map(str::trim).filter(|d| !d.is_empty());
    let to = q.to.as_deref().map(str::trim).filter(|d| !d.is_empty());
    let (filed_from, filed_to) = match super::records::day_range(tz, from, to) {
        Ok(range) => range,
        Err(e) => return error_page(&s, e),
    };
    let blank = (String::new(), String::new());
    let current = |c: &Case| c.steps.iter().find(|st| st.done_at.is_none()).cloned();
    let matching: Vec<&Case> = cases
        .iter()
        .filter(|c| visible(&s, c))
        .filter(|c| want_state.is_none_or(|w| state_code(c.state) == w))
        .filter(|c| want_region.is_none_or(|w| c.region == w))
        .filter(|c| want_step.is_none_or(|w| current(c).is_some_and(|st| step_code(st.kind) == w)))
        .filter(|c| !only_overdue || !c.overdue(now).is_empty())
        .filter(|c| (filed_from..filed_to).contains(&c.submitted_at.timestamp_millis()))
        .filter(|c| {
            let (customer, defect) = forms.get(&c.id).unwrap_or(&blank);
            text.is_empty()
                || c.number
                    .as_deref()
                    .is_some_and(|n| n.to_lowercase().contains(&text))
                || customer.to_lowercase().contains(&text)
                || defect.to_lowercase().contains(&text)
        })
        .collect();
    let total = matching.len();
    let pages = total.div_ceil(CASES_PER_PAGE).max(1);
    let page_no = q.page.unwrap_or(1).clamp(1, pages);
    let shown = matching
        .iter()
        .skip((page_no - 1) * CASES_PER_PAGE)
        .take(CASES_PER_PAGE);
    let link = |p: usize| {
        format!(
            "/web/complaints?q={}&state={}&region={}&step={}&overdue={}&from={}&to={}&page={p}",
            url_encode(q.q.as_deref().unwrap_or("")),
            url_encode(want_state.unwrap_or("")),
            url_encode(want_region.unwrap_or("")),
            url_encode(want_step.unwrap_or("")),
            if only_overdue { "1" } else { "" },
            url_encode(from.unwrap_or("")),
            url_encode(to.unwrap_or("")),
        )
    };
    let steps = [
        StepKind::Investigation,
        StepKind::Responsibility,
        StepKind::Countermeasure,
        StepKind::RndOpinion,
        StepKind::Consolidation,
        StepKind::CustomerCommunication,
        StepKind::HeadReview,
    ];
    let may_file = fieldloop_client_core::model::roles::may_create(
        s.p.role,
        fieldloop_client_core::model::DocKind::Complaint,
    );
    let body = maud::html! {
        @if may_file {
            p { a.button #new-complaint href="/web/complaints/new" { (s.t("填写客户投诉处理单", "File a complaint form")) } }
        }
        form.filters #complaints-filter method="get" action="/web/complaints" {
            label { (s.t("查找", "Search")) " "
                input type="search" name="q" value=(q.q.as_deref().unwrap_or(""))
                    placeholder=(s.t("投诉编号、客户、不良原因", "case number, customer, defect"));
            }
            " "
            label { (s.t("状态", "State")) " "
                select name="state" {
                    option value="" { (s.t("全部", "All")) }
                    @for st in [CaseState::Submitted, CaseState::Open, CaseState::Closed] {
                        option value=(state_code(st)) selected[want_state == Some(state_code(st))] { (state_label(&s, st)) }
                    }
                }
            }
            " "
            @if s.p.is_head_office() {
                label { (s.t("区域", "Region")) " "
                    select name="region" {
                        option value="" { (s.t("全部", "All")) }
                        @for (code, name) in super::records::sorted(&regions) {
                            option value=(code) selected[want_region == Some(code.as_str())] { (name) }
                        }
                    }
                }
                " "
            }
            label { (s.t("当前步骤", "Current step")) " "
                select name="step" {
                    option value="" { (s.t("全部", "All")) }
                    @for k in steps {
                        option value=(step_code(k)) selected[want_step == Some(step_code(k))] { (step_label(&s, k)) }
                    }
                }
            }
            " "
            label { input type="checkbox" name="overdue" value="1" checked[only_overdue]; " " (s.t("只看逾期", "Overdue only")) }
            " "
            (super::html::day_range_inputs(&s, ("提交日期从", "Filed from"), from.unwrap_or(""), to.unwrap_or("")))
            " "
            button type="submit" { (s.t("查找", "Search")) }
        }
        p.meta #complaints-count {
            (s.t("共 ", "")) (total) (s.t(" 件", " cases"))
            @if pages > 1 { " · " (s.t("第", "page ")) (page_no) " / " (pages) (s.t(" 页", "")) }
        }
        table #complaints {
            thead { tr {
                th { (s.t("编号", "Number")) }
                th { (s.t("客户", "Customer")) }
                th { (s.t("不良原因", "Defect")) }
                th.num { (s.t("索赔金额", "Claimed")) }
                th { (s.t("状态", "State")) }
                th { (s.t("当前步骤", "Current step")) }
                th { (s.t("区域", "Region")) }
                th { (s.t("提交", "Filed")) }
                th { (s.t("结案期限", "Due")) }
            } }
            tbody {
                @for c in shown {
                    @let (customer, defect) = forms.get(&c.id).unwrap_or(&blank);
                    tr {
                        // The state has its own column: an unnumbered case says only that.
                        td { a href={ "/web/complaints/" (c.id) } { (c.number.as_deref().unwrap_or(s.t("未编号", "not numbered"))) } }
                        td { (customer) }
                        td.desc { (defect) }
                        td.num { "¥" (yuan_text(c.claimed_fen)) }
                        td {
                            (state_label(&s, c.state))
                            @if !c.overdue(now).is_empty() { " " span.badge.overdue { (s.t("逾期", "Overdue")) } }
                        }
                        td {
                            @match current(c) {
                                Some(st) => { (step_label(&s, st.kind)) " · " (dept_label(&s, st.department)) }
                                None => { @if c.state == CaseState::Submitted { (s.t("品质部受理", "Quality to accept")) } @else { "—" } }
                            }
                        }
                        td { (regions.get(&c.region).unwrap_or(&c.region)) }
                        td { (received_with_claim(&s, tz, c)) }
                        td {
                            @match c.due_at {
                                Some(d) => (deadline(s.lang, tz, d, now, c.state != CaseState::Open)),
                                None => "—",
                            }
                        }
                    }
                }
                @if total == 0 {
                    tr { td.empty colspan="9" { (s.t("没有符合条件的投诉", "No case matches")) } }
                }
            }
        }
        @if pages > 1 {
            nav.pager {
                @if page_no > 1 { a #page-prev href=(link(page_no - 1)) { (s.t("上一页", "Previous")) } " " }
                @if page_no < pages { a #page-next href=(link(page_no + 1)) { (s.t("下一页", "Next")) } }
            }
        }
        p { a href="/web/registers/complaint-register" { (s.t("登记追踪表(可下载)", "Register and tracking table (download)")) } }
    };
    page(&s, s.t("客户投诉", "Complaints"), &q.flash, body).into_response()
}

/// A case state's code, as filters carry it.
fn state_code(st: CaseState) -> &'static str {
    match st {
        CaseState::Submitted => "submitted",
        CaseState::Open => "open",
        CaseState::Closed => "closed",
    }
}

/// A step kind's code, as filters carry it.
fn step_code(k: StepKind) -> &'static str {
    match k {
        StepKind::Investigation => "investigation",
        StepKind::Responsibility => "responsibility",
        StepKind::Countermeasure => "countermeasure",
        StepKind::RndOpinion => "rnd_opinion",
        StepKind::Consolidation => "consolidation",
        StepKind::CustomerCommunication => "customer_communication",
        StepKind::HeadReview => "head_review",
    }
}

/// When the office received a case, and beside it, when it differs, what the filer's device
/// said.
fn received_with_claim(s: &Session, tz: chrono_tz::Tz, c: &Case) -> Markup {
    maud::html! {
        (local(tz, c.submitted_at))
        @if let Some(claim) = c.device_submitted_at.filter(|claim| (*claim - c.submitted_at).num_minutes().abs() >= 1) {
            " " span.meta { "(" (s.t("设备记为", "device says")) " " (local(tz, claim)) ")" }
        }
    }
}

pub(super) fn state_label(s: &Session, st: CaseState) -> &'static str {
    match st {
        CaseState::Submitted => s.t("待受理", "Submitted"),
        CaseState::Open => s.t("处理中", "Open"),
        CaseState::Closed => s.t("已结案", "Closed"),
    }
}

/// An action the page may offer: a sample to dry-run, its label and its inputs.
struct Offer {
    sample: Action,
    label: String,
    inputs: Markup,
    /// For approvals: which decision.
    decision: Option<u32>,
}

/// Every action a case page may offer, with a valid sample to dry-run and its inputs.
fn offers(s: &Session, case: &Case) -> Vec<Offer> {
    let mut out = step_offers(s);
    out.extend(approval_offers(s, case));
    out.extend(later_offers(s));
    out
}

/// A required text input.
fn text_field(name: &str, label: &str) -> Markup {
    input(name, label, "", true)
}

/// A checkbox.
fn tick(name: &str, label: &str) -> Markup {
    maud::html! {
        label.tick { input type="checkbox" name=(name) id={ "f-" (name) }; " " (label) }
    }
}

/// Several form parts one after another.
fn parts<const N: usize>(list: [Markup; N]) -> Markup {
    maud::html! { @for p in list { (p) } }
}

/// Choices of a select, as (value, label).
fn options(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(v, l)| (v.to_string(), l.to_string()))
        .collect()
}

/// The steps of §4.6 from acceptance to the proposed amounts.
fn step_offers(s: &Session) -> Vec<Offer> {
    let t = |zh: &str, en: &str| s.t(zh, en).to_string();
    let x = || "x".to_string();
    vec![
        Offer {
            sample: Action::Accept,
            label: t("受理", "Accept"),
            inputs: Markup::default(),
            decision: None,
        },
        Offer {
            sample: Action::Investigate {
                findings: x(),
                joint_visit: false,
            },
            label: t("提交调查结果", "Record investigation"),
            inputs: parts([
                text_field("findings", s.t("调查结果", "Findings")),
                tick(
                    "joint_visit",
                    s.t("会同品质部现场调查", "Joint visit with quality"),
                ),
            ]),
            decision: None,
        },
        Offer {
            sample: Action::SubmitReport { text: x() },
            label: t("提交调查报告", "Submit investigation report"),
            inputs: text_field("text", s.t("报告", "Report")),
            decision: None,
        },
        Offer {
            sample: Action::Determine {
                cause_class: CauseClass::Quality,
                valid: true,
                fault_ours: true,
                responsible_department: Some(Department::Production),
                note: String::new(),
            },
            label: t("判定原因与责任", "Determine cause and responsibility"),
            inputs: parts([
                select(
                    "cause_class",
                    s.t("原因类别", "Cause class"),
                    &options(&[
                        ("quality", s.t("质量异常", "Quality")),
                        ("non_quality", s.t("非质量异常", "Non-quality")),
                    ]),
                ),
                tick("valid", s.t("投诉成立", "Complaint valid")),
                tick("fault_ours", s.t("我方责任", "Our fault")),
                select(
                    "responsible_department",
                    s.t("责任部门", "Responsible department"),
                    &options(&[
                        ("", "—"),
                        ("production", s.t("生产部", "Production")),
                        ("quality", s.t("品质部", "Quality")),
                        ("rnd", s.t("研发部", "R&D")),
                        ("marketing", s.t("市场部", "Marketing")),
                        ("warehouse", s.t("货仓", "Warehouse")),
                    ]),
                ),
                input("note", s.t("说明", "Note"), "", false),
            ]),
            decision: None,
        },
        Offer {
            sample: Action::ProductionReport {
                workshop: x(),
                shift: x(),
                operators: x(),
                production_date: chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default(),
                countermeasure: x(),
            },
            label: t("提交处理对策", "Submit countermeasure"),
            inputs: parts([
                text_field("workshop", s.t("车间", "Workshop")),
                text_field("shift", s.t("班组", "Shift")),
                text_field("operators", s.t("作业人员", "Operators")),
                date_input("production_date", s.t("生产日期", "Production date"), true),
                text_field("countermeasure", s.t("对策", "Countermeasure")),
            ]),
            decision: None,
        },
        Offer {
            sample: Action::RndOpinion { text: x() },
            label: t("提交研发意见", "Submit R&D opinion"),
            inputs: text_field("text", s.t("意见", "Opinion")),
            decision: None,
        },
        Offer {
            sample: Action::Consolidate {
                text: x(),
                remedy: x(),
                track_improvement: false,
                human_error: false,
                loss_fen: 0,
                penalty: None,
            },
            label: t("综合意见", "Consolidate"),
            inputs: parts([
                text_field("text", s.t("综合意见", "Opinion")),
                input("remedy", s.t("补救措施", "Remedy"), "", false),
                tick("track_improvement", s.t("跟踪改善", "Track improvement")),
                tick("human_error", s.t("人为失误", "Human error")),
                money_input(
                    "loss",
                    s.t("责任部门损失(元)", "Department's loss (yuan)"),
                    "0",
                    false,
                ),
                input("penalty", s.t("个人处分", "Personal penalty"), "", false),
            ]),
            decision: None,
        },
        Offer {
            sample: Action::ProposeAmount {
                kind: MoneyKind::Compensation,
                amount_fen: 1,
                quantity: None,
            },
            label: t("提出金额", "Propose an amount"),
            inputs: parts([
                select(
                    "kind",
                    s.t("类型", "Kind"),
                    &options(&[
                        ("compensation", s.t("赔款", "Compensation")),
                        ("allowance", s.t("折让", "Allowance")),
                        ("return_value", s.t("退货金额", "Return value")),
                    ]),
                ),
                money_input("amount", s.t("金额(元)", "Amount (yuan)"), "", true),
                count_input(
                    "quantity",
                    s.t("退货数量(退货金额时)", "Pieces (with a return value)"),
                    "",
                    false,
                ),
            ]),
            decision: None,
        },
    ]
}

/// One approval offer per amount still waiting (§4.7.3).
fn approval_offers(s: &Session, case: &Case) -> Vec<Offer> {
    let mut out = Vec::new();
    for m in case.money.iter().filter(|m| m.approved_by.is_none()) {
        out.push(Offer {
            sample: Action::Approve { decision: m.id },
            label: format!(
                "{} #{} ¥{}",
                s.t("批准", "Approve"),
                m.id,
                yuan_text(m.amount_fen)
            ),
            inputs: Markup::default(),
            decision: Some(m.id),
        });
    }
    out
}

/// The steps after the amounts: penalty, communication, review, visits, petitions, closing.
fn later_offers(s: &Session) -> Vec<Offer> {
    let t = |zh: &str, en: &str| s.t(zh, en).to_string();
    let x = || "x".to_string();
    vec![
        Offer {
            sample: Action::ApprovePenalty,
            label: t("厂长批示损失与处分", "Approve loss and penalty"),
            inputs: Markup::default(),
            decision: None,
        },
        Offer {
            sample: Action::Communicate {
                result: x(),
                promised_fen: None,
            },
            label: t("记录向客户说明", "Record customer communication"),
            inputs: parts([
                text_field("result", s.t("客户答复", "Customer's answer")),
                money_input(
                    "promised",
                    s.t("承诺金额(元)", "Promised (yuan)"),
                    "",
                    false,
                ),
            ]),
            decision: None,
        },
        Offer {
            sample: Action::HeadReview {
                note: String::new(),
            },
            label: t("部长核阅", "Head review"),
            inputs: input("note", s.t("说明", "Note"), "", false),
            decision: None,
        },
        Offer {
            sample: Action::RecordHeadVisit { visitor: x() },
            label: t("记录部长拜访", "Record head's visit"),
            inputs: text_field("visitor", s.t("拜访人", "Visitor")),
            decision: None,
        },
        Offer {
            sample: Action::WrittenReportToHead,
            label: t("已书面报告部长", "Written report to head"),
            inputs: Markup::default(),
            decision: None,
        },
        Offer {
            sample: Action::InvolveExternal { party: x() },
            label: t("涉及其他公司", "Involve another company"),
            inputs: text_field("party", s.t("公司", "Company")),
            decision: None,
        },
        Offer {
            sample: Action::Petition { text: x() },
            label: t("申诉", "Petition"),
            inputs: text_field("text", s.t("申诉理由", "Grounds")),
            decision: None,
        },
        Offer {
            sample: Action::Close,
            label: t("结案", "Close the case"),
            inputs: Markup::default(),
            decision: None,
        },
    ]
}

/// The actions (by name, with their labels) this user may take on the case now, approvals of
/// amounts left out: what the inbox lists as the user's work on the case.
pub(super) fn offered_now(
    s: &Session,
    case: &Case,
    now: DateTime<Utc>,
    rules: &crate::workflow::complaint::Rules,
) -> Vec<(&'static str, String)> {
    let actor = Actor {
        user: s.p.user_id,
        role: s.p.role,
    };
    step_offers(s)
        .into_iter()
        .chain(later_offers(s))
        .filter(|o| allowed(case, &o.sample, actor, now, rules))
        .map(|o| (o.sample.name(), o.label))
        .collect()
}

/// Is this action open to the user now? A dry run of the workflow with valid sample values.
fn allowed(
    case: &Case,
    action: &Action,
    actor: Actor,
    now: DateTime<Utc>,
    rules: &crate::workflow::complaint::Rules,
) -> bool {
    // The API hands out a number to quality only; the samples' values are all valid, so any
    // refusal is the case's state, the step or the user's role and authority.
    let number = (actor.role == Role::Quality).then_some("0000-00-0000");
    // §3.3: the written report to the head is for severe feedback; a general case is not
    // offered one (the API still takes it for a case reclassified by hand).
    if matches!(action, Action::WrittenReportToHead) && !case.severe {
        return false;
    }
    apply(case, action, actor, now, rules, number).is_ok()
}

/// The case page: the form, the step timeline against its deadlines, amounts and their
/// approvals, history, settlements, and the actions this user may take.
/// §4.6.8: the case this one reopens, and the cases that reopen it, each a link with its number.
async fn linked_section(state: &AppState, s: &Session, case: &Case) -> Markup {
    let mut links = Vec::new();
    for (id, original) in case
        .original
        .iter()
        .map(|id| (*id, true))
        .chain(case.followups.iter().map(|id| (*id, false)))
    {
        let number = match state.db.case(id).await {
            Ok(Some(c)) => c
                .case
                .number
                .unwrap_or_else(|| s.t("未编号", "not numbered").to_string()),
            _ => continue,
        };
        links.push((id, number, original));
    }
    if links.is_empty() {
        return Markup::default();
    }
    maud::html! {
        section #linked-cases {
            @for (id, number, original) in &links {
                p {
                    @if *original {
                        (s.t("客户不接受原投诉的结论,本案为重新提出的投诉(§4.6.8):原案 ", "The customer rejected the conclusion of the original case; this case reopens it (§4.6.8): original "))
                    } @else {
                        (s.t("客户不接受本案结论,已重新立案(§4.6.8):", "The customer rejected this case's conclusion; reopened as (§4.6.8): "))
                    }
                    a href={ "/web/complaints/" (id) } { (number) }
                }
            }
        }
    }
}

pub async fn case_page(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<Uuid>,
    Query(flash): Query<Flash>,
) -> Response {
    let stored = match state.db.case(id).await {
        Ok(Some(c)) if visible(&s, &c.case) => c,
        Ok(_) => return not_found(&s),
        Err(e) => return error_page(&s, e.into()),
    };
    let case = &stored.case;
    let (events, names, settlements, form) = match (
        state.db.case_events(id).await,
        names(&state).await,
        state.db.settlements(Some(&stored.case.region)).await,
        state.db.doc(id).await,
    ) {
        (Ok(e), Ok(n), Ok(st), Ok(f)) => (e, n, st, f),
        (Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => return error_page(&s, e.into()),
        (_, Err(e), ..) => return error_page(&s, e),
    };
    let tz = state.config.timezone;
    let name_of = |u: Uuid| names.get(&u).cloned().unwrap_or_else(|| "?".into());
    let region_name = match state.db.region_names().await {
        Ok(mut r) => r
            .remove(&case.region)
            .unwrap_or_else(|| case.region.clone()),
        Err(e) => return error_page(&s, e.into()),
    };
    let now = state.now();
    let linked = linked_section(&state, &s, case).await;
    let body = maud::html! {
        (facts_section(&s, case, &region_name, tz, now))
        (linked)
        @if let Some(doc) = form.as_ref().and_then(|row| row.record().ok()) {
            (form_summary(&s, id, &doc))
        }
        (timeline_section(&s, case, tz, now))
        (handling_section(&s, case, tz, &name_of))
        (money_section(&s, case, &name_of))
        (blockers_section(&s, case))
        (actions_section(&s, id, stored.version, case, now, &state.config.rules()))
        // §4.6.8: the customer does not accept the conclusion; offered once, to marketing.
        @if case.state == CaseState::Closed && case.followups.is_empty()
            && fieldloop_client_core::model::roles::may_create(s.p.role, fieldloop_client_core::model::DocKind::Complaint)
        {
            form.action #reopen-form method="post" action={ "/web/complaints/" (id) "/reopen" } {
                (csrf_field(&s))
                p.meta { (s.t(
                    "客户不接受处理结论时,另立一张关联本案的新投诉处理单(§4.6.8),只做一次。",
                    "When the customer does not accept the conclusion, a new complaint form linked to this case is filed (§4.6.8), once."
                )) }
                button #reopen type="submit" { (s.t("客户不接受结论,重新立案", "Customer rejects the conclusion: reopen")) }
            }
        }
        // Returns and allowances after closing.
        @if case.state == CaseState::Closed {
            (settlement_section(&s, case, settlements.iter().filter(|r| r.case_id == id)))
        }
        (history_section(&s, &events, tz, &name_of))
    };
    let title = format!("{} {}", s.t("投诉案件", "Complaint"), case_title(&s, case));
    page(&s, &title, &flash, body).into_response()
}

/// The case's number, state, region, claim, acceptance and deadline.
fn facts_section(
    s: &Session,
    case: &Case,
    region_name: &str,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> Markup {
    maud::html! {
        dl.facts {
            dt { (s.t("编号", "Number")) } dd #case-number { (case.number.as_deref().unwrap_or("—")) }
            dt { (s.t("状态", "State")) } dd #case-state { (state_label(s, case.state)) }
            dt { (s.t("区域", "Region")) } dd { (region_name) }
            dt { (s.t("客户索赔", "Claimed")) } dd { "¥" (yuan_text(case.claimed_fen)) }
            dt { (s.t("受理时间", "Accepted")) } dd { (case.accepted_at.map(|t| local(tz, t)).unwrap_or_else(|| "—".into())) }
            dt { (s.t("结案期限", "Case due")) }
            dd { @match case.due_at { Some(t) => (deadline(s.lang, tz, t, now, case.state != CaseState::Open)), None => "—" } }
        }
    }
}

/// One line of the complaint form as filed, with a link to the whole record.
fn form_summary(s: &Session, id: Uuid, doc: &RecordDoc) -> Markup {
    let text = |p: &str| match doc.get(p) {
        Some(FieldValue::Text(t)) => t,
        Some(FieldValue::Int(n)) => n.to_string(),
        None => String::new(),
    };
    maud::html! {
        p.meta {
            (text("form.customer_name")) " · " (text("form.order_number")) " · "
            (text("form.product_model")) " · " (text("form.defect")) " — " (text("form.customer_demand")) " "
            a href={ "/web/records/" (id) } { (s.t("客户投诉处理单", "the complaint form")) }
        }
    }
}

/// The step timeline against its deadlines.
fn timeline_section(s: &Session, case: &Case, tz: chrono_tz::Tz, now: DateTime<Utc>) -> Markup {
    maud::html! {
        h2 { (s.t("步骤与期限", "Steps and deadlines")) }
        table #timeline {
            thead { tr {
                th { (s.t("步骤", "Step")) } th { (s.t("部门", "Department")) }
                th { (s.t("开始", "Started")) } th { (s.t("期限", "Due")) }
                th { (s.t("完成", "Done")) } th { (s.t("状态", "Status")) } th { (s.t("说明", "Note")) }
            } }
            tbody {
                @for st in &case.steps {
                    tr {
                        td { (step_label(s, st.kind)) }
                        td { (dept_label(s, st.department)) }
                        td { (local(tz, st.started_at)) }
                        td { (deadline(s.lang, tz, st.due_at, now, st.done_at.is_some())) }
                        td { (st.done_at.map(|t| local(tz, t)).unwrap_or_default()) }
                        td {
                            @match st.done_at {
                                Some(done) if done <= st.due_at => span.badge.ok { (s.t("按时完成", "done on time")) },
                                Some(_) => span.badge.overdue { (s.t("逾期完成", "done late")) },
                                None if now > st.due_at => span.badge.overdue { (s.t("逾期", "overdue")) },
                                None => span.badge { (s.t("进行中", "open")) },
                            }
                        }
                        td { (st.note) }
                    }
                }
                @if case.steps.is_empty() {
                    tr { td.empty colspan="7" { (s.t("受理后开始", "Steps start once the case is accepted")) } }
                }
            }
        }
    }
}

/// 客户投诉处理表: what each department recorded on the case, in the form's order (report,
/// cause and responsibility, decision, what the customer was told, the head's visit, the
/// written report, another company, petitions, copies). Only what has been recorded is shown.
fn handling_section(
    s: &Session,
    case: &Case,
    tz: chrono_tz::Tz,
    name_of: &dyn Fn(Uuid) -> String,
) -> Markup {
    let yes_no = |b: bool| s.t(if b { "是" } else { "否" }, if b { "yes" } else { "no" });
    let mut rows: Vec<(&str, String)> = Vec::new();
    if let Some(at) = case.report_at {
        let label = s.t("调查报告(§4.6.3)", "Investigation report (§4.6.3)");
        rows.push((label, format!("{} ({})", case.report_text, local(tz, at))));
    }
    if case
        .steps
        .iter()
        .any(|st| st.kind == StepKind::Investigation && st.done_at.is_some())
    {
        rows.push((
            s.t("联合现场调查", "Joint site visit"),
            yes_no(case.joint_visit).into(),
        ));
    }
    if let Some(cause) = case.cause_class {
        let words = match cause {
            CauseClass::Quality => s.t("质量异常", "Quality"),
            CauseClass::NonQuality => s.t("非质量异常", "Non-quality"),
        };
        rows.push((s.t("原因类别(§4.3)", "Cause class (§4.3)"), words.into()));
    }
    if let Some(valid) = case.valid {
        rows.push((s.t("投诉成立", "Complaint valid"), yes_no(valid).into()));
    }
    if let Some(ours) = case.fault_ours {
        rows.push((s.t("责任在我方", "Our fault"), yes_no(ours).into()));
    }
    if let Some(r) = &case.responsibility {
        if let Some(d) = r.department {
            rows.push((s.t("责任部门", "Responsible department"), dept_label(s, d)));
        }
        let who = [&r.workshop, &r.shift, &r.operators]
            .into_iter()
            .filter(|t| !t.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join(" / ");
        if !who.is_empty() {
            rows.push((
                s.t("车间 / 班组 / 作业人员", "Workshop / shift / operators"),
                who,
            ));
        }
        if let Some(d) = r.production_date {
            rows.push((s.t("生产日期", "Production date"), d.to_string()));
        }
    }
    if let Some(d) = &case.decision {
        rows.push((s.t("处理决定", "Decision"), d.text.clone()));
        if !d.remedy.is_empty() {
            rows.push((s.t("补救方式", "Remedy"), d.remedy.clone()));
        }
        rows.push((
            s.t("追踪改善", "Improvement tracked"),
            yes_no(d.track_improvement).into(),
        ));
        if d.human_error {
            rows.push((
                s.t("人为失误(免追踪)", "Human error (exempt)"),
                yes_no(true).into(),
            ));
        }
        if d.loss_fen > 0 {
            rows.push((
                s.t("责任部门损失金额", "Department's loss"),
                format!("¥{}", yuan_text(d.loss_fen)),
            ));
        }
        if let Some(p) = &d.penalty {
            rows.push((s.t("个人处分", "Personal penalty"), p.clone()));
        }
        if d.needs_director() {
            let approved = match d.penalty_approved_by {
                Some(u) => name_of(u),
                None => s.t("待厂长批示", "waiting for the factory director").into(),
            };
            rows.push((
                s.t("厂长批示(§4.6.6)", "Director's approval (§4.6.6)"),
                approved,
            ));
        }
    }
    if !case.customer_result.is_empty() {
        let mut told = case.customer_result.clone();
        if let Some(fen) = case.promised_fen {
            told.push_str(&format!(
                " ({} ¥{})",
                s.t("承诺", "promised"),
                yuan_text(fen)
            ));
        }
        rows.push((
            s.t("向客户说明结果(§4.6.5)", "Customer told (§4.6.5)"),
            told,
        ));
    }
    if let Some((by, visitor)) = &case.head_visit {
        let label = s.t("部长拜访客户(§3.5)", "Head's visit (§3.5)");
        rows.push((
            label,
            format!(
                "{visitor} ({} {})",
                s.t("记录人", "recorded by"),
                name_of(*by)
            ),
        ));
    }
    if case.severe {
        let label = s.t(
            "严重意见书面报告部长(§3.3)",
            "Written report to the head (§3.3)",
        );
        rows.push((label, yes_no(case.written_report_to_head).into()));
    }
    if let Some(party) = &case.external_party {
        rows.push((
            s.t("涉及其他公司(§4.6.11)", "Other company (§4.6.11)"),
            party.clone(),
        ));
    }
    for p in &case.petitions {
        let label = s.t("申诉(§4.6.10)", "Petition (§4.6.10)");
        let text = format!(
            "{} — {} {}, {}",
            p.text,
            dept_label(s, p.department),
            name_of(p.by),
            local(tz, p.at)
        );
        rows.push((label, text));
    }
    if !case.distribution.is_empty() {
        let to = case
            .distribution
            .iter()
            .map(|d| dept_label(s, *d))
            .collect::<Vec<_>>()
            .join("、");
        rows.push((s.t("结案分送(§4.6.7)", "Copies sent (§4.6.7)"), to));
    }
    if rows.is_empty() {
        return Markup::default();
    }
    maud::html! {
        h2 { (s.t("客户投诉处理表", "Complaint handling form")) }
        dl.facts #handling {
            @for (label, value) in &rows {
                dt { (label) } dd { (value) }
            }
        }
    }
}

/// The amounts proposed on the case and their approvals (§4.7.3).
fn money_section(s: &Session, case: &Case, name_of: &dyn Fn(Uuid) -> String) -> Markup {
    if case.money.is_empty() {
        return Markup::default();
    }
    maud::html! {
        h2 { (s.t("金额与审批", "Amounts and approvals")) }
        table #money {
            thead { tr {
                th { (s.t("编号", "No.")) } th { (s.t("类型", "Kind")) } th.num { (s.t("金额", "Amount")) }
                th { (s.t("审批权限", "Needs")) } th { (s.t("批准", "Approved")) }
            } }
            tbody {
                @for m in &case.money {
                    tr {
                        td { "#" (m.id) }
                        td { (match m.kind {
                            MoneyKind::Compensation => s.t("赔款", "Compensation"),
                            MoneyKind::Allowance => s.t("折让", "Allowance"),
                            MoneyKind::ReturnValue => s.t("退货金额", "Return value"),
                        }) }
                        td.num { "¥" (yuan_text(m.amount_fen)) }
                        td { (s.t(m.required.label_zh(), m.required.label_en())) }
                        td {
                            @match (m.approved_by, m.approved_level) {
                                (Some(u), Some(l)) => { (name_of(u)) " (" (s.t(l.label_zh(), l.label_en())) ")" }
                                _ => (s.t("待批", "waiting")),
                            }
                        }
                    }
                }
            }
        }
    }
}

/// What still keeps an open case from closing, in the user's language.
fn blockers_section(s: &Session, case: &Case) -> Markup {
    let blockers = if case.state == CaseState::Open {
        close_blockers_in(case)
    } else {
        Vec::new()
    };
    if blockers.is_empty() {
        return Markup::default();
    }
    maud::html! {
        h2 { (s.t("结案前还需", "Before closing")) }
        ul #close-blockers {
            @for (zh, en) in &blockers { li { (s.t(zh, en)) } }
        }
    }
}

/// The actions this user may take now: each offer the workflow's dry run allows, as a form.
fn actions_section(
    s: &Session,
    id: Uuid,
    version: i64,
    case: &Case,
    now: DateTime<Utc>,
    rules: &crate::workflow::complaint::Rules,
) -> Markup {
    let actor = Actor {
        user: s.p.user_id,
        role: s.p.role,
    };
    let open: Vec<Offer> = offers(s, case)
        .into_iter()
        .filter(|o| allowed(case, &o.sample, actor, now, rules))
        .collect();
    maud::html! {
        h2 { (s.t("可执行的操作", "What you can do")) }
        div #actions {
            @for offer in &open {
                @let name = offer.sample.name();
                form.action method="post" action={ "/web/complaints/" (id) "/act" } {
                    (csrf_field(s))
                    input type="hidden" name="action" value=(name);
                    input type="hidden" name="version" value=(version);
                    @if let Some(d) = offer.decision { input type="hidden" name="decision" value=(d); }
                    (offer.inputs)
                    button type="submit" id={
                        "act-" (name) @if let Some(d) = offer.decision { "-" (d) }
                    } { (offer.label) }
                }
            }
            @if open.is_empty() {
                p { (s.t("此案目前没有您可执行的操作。", "Nothing for you to do on this case now.")) }
                // What the case waits for, and from whom.
                @match (case.state, case.steps.iter().find(|st| st.done_at.is_none())) {
                    (CaseState::Submitted, _) => p.flash.warn #case-waiting { (s.t("等待品质部受理并编号", "Waiting for quality to accept and number it")) },
                    (CaseState::Open, Some(st)) => p.flash.warn #case-waiting {
                        (s.t("等待", "Waiting for ")) (dept_label(s, st.department)) (s.t(":", ": ")) (step_label(s, st.kind))
                    },
                    _ => {}
                }
            }
        }
    }
}

/// The case's history: who did what, when.
fn history_section(
    s: &Session,
    events: &[crate::db::complaints::EventRow],
    tz: chrono_tz::Tz,
    name_of: &dyn Fn(Uuid) -> String,
) -> Markup {
    // Each action named as its button says it; filing and approving have no button of one name.
    let mut actions: HashMap<&'static str, String> = step_offers(s)
        .into_iter()
        .chain(later_offers(s))
        .map(|o| (o.sample.name(), o.label))
        .collect();
    actions.insert("file", s.t("填写投诉处理单", "Filed").to_string());
    actions.insert("approve", s.t("核决金额", "Approved an amount").to_string());
    actions.insert(
        "reopen",
        s.t(
            "客户不接受结论,重新立案",
            "Customer rejected the conclusion",
        )
        .to_string(),
    );
    maud::html! {
        h2 { (s.t("处理记录", "History")) }
        table #events {
            thead { tr {
                th { (s.t("时间", "When")) } th { (s.t("用户", "User")) }
                th { (s.t("角色", "Role")) } th { (s.t("操作", "Action")) }
            } }
            tbody {
                @for e in events {
                    tr {
                        td { (local_ms(tz, e.at)) }
                        td { (Uuid::parse_str(&e.user_id).map(name_of).unwrap_or_default()) }
                        td { (Role::from_str(&e.role).map(|r| s.t(r.label_zh(), r.label_en()).to_string()).unwrap_or_else(|_| e.role.clone())) }
                        td { (actions.get(e.action.as_str()).cloned().unwrap_or_else(|| s.t("其他操作", "Other action").to_string())) }
                    }
                }
            }
        }
    }
}

/// Turns a posted action form into the workflow's action. Money is entered in yuan.
fn action_from(form: &Fields) -> Result<Action, AppError> {
    let mut obj = Map::new();
    obj.insert("action".into(), Value::String(form.get("action").into()));
    for name in [
        "joint_visit",
        "valid",
        "fault_ours",
        "track_improvement",
        "human_error",
    ] {
        obj.insert(name.into(), Value::Bool(form.ticked(name)));
    }
    for (key, value) in &form.0 {
        let v = value.trim();
        match key.as_str() {
            "csrf" | "version" | "action" | "joint_visit" | "valid" | "fault_ours"
            | "track_improvement" | "human_error" => {}
            "amount" | "loss" | "promised" => {
                if v.is_empty() {
                    continue;
                }
                let fen = crate::app::yuan(v)?;
                let field = match key.as_str() {
                    "amount" => "amount_fen",
                    "loss" => "loss_fen",
                    _ => "promised_fen",
                };
                obj.insert(field.into(), Value::from(fen));
            }
            "decision" => {
                let n: u32 = v.parse().map_err(|_| {
                    AppError::invalid("not a decision number")
                        .with_zh(Some("没有这一笔金额".into()))
                })?;
                obj.insert("decision".into(), Value::from(n));
            }
            "quantity" if v.is_empty() => {}
            "quantity" => {
                let n: i64 = v.parse().map_err(|_| {
                    AppError::invalid("the quantity is a whole number")
                        .with_zh(Some("数量应为整数".into()))
                })?;
                obj.insert("quantity".into(), Value::from(n));
            }
            "responsible_department" | "penalty" if v.is_empty() => {}
            _ => {
                obj.insert(key.clone(), Value::String(v.to_string()));
            }
        }
    }
    serde_json::from_value(Value::Object(obj)).map_err(|e| {
        AppError::invalid(format!("the form is incomplete: {e}")).with_zh(Some(
            "表单未填完整或有一项格式不对(日期请用 年-月-日)".into(),
        ))
    })
}

/// §4.6.8: the customer rejects a closed case's conclusion; a new linked case is filed.
pub async fn reopen(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Posted { s, .. }: Posted,
) -> Response {
    match app::reopen(&state, &s.p, id).await {
        Ok(view) => back_with(
            &s,
            &format!("/web/complaints/{}", view.id),
            Ok(s.t(
                "已重新立案,等待品质部受理",
                "Reopened: the new case waits for quality to accept it",
            )
            .to_string()),
        ),
        Err(e) => back_with(&s, &format!("/web/complaints/{id}"), Err(e)),
    }
}

pub async fn act(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Posted { s, form }: Posted,
) -> Response {
    let back = format!("/web/complaints/{id}");
    let result = async {
        let action = action_from(&form)?;
        let version = form.get("version").parse().ok();
        let view = app::act(&state, &s.p, id, ActRequest { version, action }).await?;
        Ok(match view.number {
            Some(n) => format!("{} {n}", s.t("已保存。案件编号", "Saved. Case number")),
            None => s.t("已保存", "Saved").to_string(),
        })
    }
    .await;
    back_with(&s, &back, result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::Fields;

    #[test]
    fn forms_become_actions() {
        let f = Fields(vec![
            ("csrf".into(), "t".into()),
            ("action".into(), "propose_amount".into()),
            ("kind".into(), "compensation".into()),
            ("amount".into(), "1234.50".into()),
        ]);
        assert_eq!(
            action_from(&f).unwrap(),
            Action::ProposeAmount {
                kind: MoneyKind::Compensation,
                amount_fen: 123_450,
                quantity: None,
            }
        );
        let f = Fields(vec![
            ("action".into(), "determine".into()),
            ("cause_class".into(), "quality".into()),
            ("valid".into(), "on".into()),
            ("responsible_department".into(), "".into()),
        ]);
        assert_eq!(
            action_from(&f).unwrap(),
            Action::Determine {
                cause_class: CauseClass::Quality,
                valid: true,
                fault_ours: false,
                responsible_department: None,
                note: String::new()
            }
        );
        // Bad input: money that is not money, an unknown action, a missing field.
        let bad = |pairs: &[(&str, &str)]| {
            action_from(&Fields(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ))
            .is_err()
        };
        assert!(bad(&[
            ("action", "propose_amount"),
            ("kind", "compensation"),
            ("amount", "12.345")
        ]));
        assert!(bad(&[("action", "launch_rocket")]));
        assert!(bad(&[("action", "investigate")]));
    }
}
