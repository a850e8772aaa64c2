//! Each department's inbox (待办): the steps and cases waiting for the user's department.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use fieldloop_client_core::model::Role;
use fieldloop_client_core::model::money::yuan_text;
use maud::{Markup, html};

use super::Session;
use super::cases::{case_title, dept_label, offered_now, region_filter, step_label, visible};
use super::html::{Flash, deadline, page};
use super::pages::error_page;
use super::settlements::steps_for;
use crate::AppState;
use crate::error::AppError;
use crate::workflow::complaint::{Action, Actor, Case, CaseState, apply};

/// A task in the inbox: what to do, on which case or record (its page), by when.
struct Task {
    due: Option<DateTime<Utc>>,
    what: String,
    href: String,
    title: String,
}

/// My department's open tasks with their deadlines, overdue ones marked, most urgent first.
pub async fn inbox(
    State(state): State<AppState>,
    s: Session,
    Query(flash): Query<Flash>,
) -> Response {
    let (cases, settlements) = match (
        state.db.cases(region_filter(&s), None).await,
        state.db.settlements(region_filter(&s)).await,
    ) {
        (Ok(c), Ok(r)) => (c, r),
        (Err(e), _) | (_, Err(e)) => return error_page(&s, e.into()),
    };
    let now = state.now();
    let cases: Vec<Case> = cases.into_iter().filter(|c| visible(&s, c)).collect();
    let mut tasks: Vec<Task> = cases
        .iter()
        .flat_map(|case| case_tasks(&s, case, now, &state.config.rules()))
        .collect();
    tasks.extend(settlement_tasks(&s, &cases, &settlements));
    match service_tasks(&state, &s).await {
        Ok(more) => tasks.extend(more),
        Err(e) => return error_page(&s, e),
    }
    tasks.sort_by_key(|t| (t.due.is_none(), t.due));
    let tz = state.config.timezone;
    // Quality and the GM office track every open case's deadlines (§4.2), not only their own
    // steps; so do the GM and the admin.
    let tracks = matches!(
        s.p.role,
        Role::Quality | Role::GmOffice | Role::GeneralManager | Role::Admin
    );
    let body = html! {
        (task_table(&s, &tasks, now, tz))
        @if tracks { (tracker(&s, &cases, now, tz)) }
    };
    page(&s, s.t("我的待办", "My inbox"), &flash, body).into_response()
}

/// What a case waits for from the user: whatever the workflow lets them do on it now
/// (acceptance, their step, the report, the penalty approval, the head's visit, closing), and
/// amounts within their authority.
fn case_tasks(
    s: &Session,
    case: &Case,
    now: DateTime<Utc>,
    rules: &crate::workflow::complaint::Rules,
) -> Vec<Task> {
    let actor = Actor {
        user: s.p.user_id,
        role: s.p.role,
    };
    let task = |due, what| Task {
        due,
        what,
        href: format!("/web/complaints/{}", case.id),
        title: case_title(s, case),
    };
    let mut tasks = Vec::new();
    if case.state == CaseState::Closed {
        return tasks;
    }
    // What this user may do on the case now, by the workflow's own dry run: a step of their
    // department that their role does, the report, the director's penalty approval, the head's
    // visit, closing. Optional actions (a petition, another company) are not work to chase;
    // the written report to the head is, on a severe case (§3.3).
    let step_due = case
        .steps
        .iter()
        .find(|st| st.done_at.is_none())
        .map(|st| st.due_at)
        .or(case.due_at);
    for (name, label) in offered_now(s, case, now, rules) {
        let due = match name {
            "accept" => None,
            "submit_report" => case.report_due_at,
            "petition" | "involve_external" => continue,
            "written_report_to_head" if !case.severe => continue,
            "close" | "record_head_visit" | "written_report_to_head" | "approve_penalty" => {
                case.due_at
            }
            _ => step_due,
        };
        tasks.push(task(due, label));
    }
    // Amounts waiting for an approval this user's authority covers.
    for m in case.money.iter().filter(|m| m.approved_by.is_none()) {
        let approve = Action::Approve { decision: m.id };
        if apply(case, &approve, actor, now, rules, None).is_ok() {
            tasks.push(task(
                case.due_at,
                format!(
                    "{}{} ¥{}",
                    s.t("审批", "Approve "),
                    money_kind_words(s, m.kind),
                    yuan_text(m.amount_fen)
                ),
            ));
        }
    }
    tasks
}

/// Returns and allowances waiting for a step this user's role does.
fn settlement_tasks(
    s: &Session,
    cases: &[Case],
    settlements: &[crate::db::complaints::SettlementRow],
) -> Vec<Task> {
    let mut tasks = Vec::new();
    for r in settlements {
        let Some(case) = cases.iter().find(|c| c.id == r.case_id) else {
            continue;
        };
        for (_, zh, en) in steps_for(s.p.role, &r.kind, &r.body) {
            let form = if r.kind == "return" {
                s.t("退货单", "Return form")
            } else {
                s.t("销货折让证明单", "Allowance certificate")
            };
            tasks.push(Task {
                due: None,
                what: format!("{form}: {}", s.t(zh, en)),
                href: format!("/web/settlements/{}", r.id),
                title: case_title(s, case),
            });
        }
    }
    tasks
}

/// The tasks as a table, the overdue ones marked.
fn task_table(s: &Session, tasks: &[Task], now: DateTime<Utc>, tz: chrono_tz::Tz) -> Markup {
    html! {
        table #inbox {
            thead { tr {
                th { (s.t("期限", "Due")) }
                th { (s.t("案件或记录", "Case or record")) } th { (s.t("任务", "Task")) }
            } }
            tbody {
                @for t in tasks {
                    tr {
                        td { @match t.due { Some(d) => (deadline(s.lang, tz, d, now, false)), None => "—" } }
                        td { a href=(t.href) { (t.title) } }
                        td { (t.what) }
                    }
                }
                @if tasks.is_empty() {
                    tr { td.empty colspan="3" { (s.t("没有待办事项", "Nothing waits for you")) } }
                }
            }
        }
    }
}

/// The service work waiting for the user's role: forms to log (clerk) or archive (quality),
/// requests to dispatch (factory director), invoices to issue (finance), the monthly review
/// (GM office, due before the 10th).
async fn service_tasks(state: &AppState, s: &Session) -> Result<Vec<Task>, AppError> {
    let role = s.p.role;
    let mut tasks = Vec::new();
    let region = region_filter(s);
    let wants_visits = matches!(
        role,
        Role::Clerk | Role::MarketingHead | Role::Quality | Role::Admin
    );
    if wants_visits {
        for v in state.db.visits(region).await? {
            let customer = v.text("request.customer_name").to_string();
            let href = format!("/web/records/{}", v.id);
            let completed = !v.text("form.outcome").is_empty();
            let logged = !v.text("status.logged_at").is_empty();
            let archived = !v.text("status.archived_at").is_empty();
            if completed
                && !logged
                && matches!(role, Role::Clerk | Role::MarketingHead | Role::Admin)
            {
                tasks.push(Task {
                    due: None,
                    what: s
                        .t("反馈表登记入服务记录(§2.3)", "Log the feedback form (§2.3)")
                        .into(),
                    href,
                    title: customer,
                });
            } else if logged && !archived && matches!(role, Role::Quality | Role::Admin) {
                // A product taken back is archived once it is back with the customer (§2.6).
                let back = v.text("form.outcome") != "taken_back" || {
                    let receipts = state.db.receipts_of_visit(v.id).await?;
                    !receipts.is_empty()
                        && receipts
                            .iter()
                            .all(|(_, _, l)| l == "returned_to_customer" || l == "voided")
                };
                if back {
                    tasks.push(Task {
                        due: None,
                        what: s
                            .t("反馈表处理归档(§2.3)", "Archive the feedback form (§2.3)")
                            .into(),
                        href,
                        title: customer,
                    });
                }
            }
        }
    }
    // Products taken back (§2.6): the custody step this role takes next on each, and the
    // late repairs marketing tells customers about (§2.7).
    {
        use crate::workflow::service::{CustodyEvent, Location, custody_step};
        for r in state.db.receipts(region).await? {
            let Some(at) = Location::from_code(&r.location) else {
                continue;
            };
            for event in [
                CustodyEvent::ToProduction,
                CustodyEvent::RepairDone,
                CustodyEvent::QcAccept,
            ] {
                if role != Role::Admin && custody_step(at, event, role, false).is_ok() {
                    let (zh, en) = event.labels();
                    tasks.push(Task {
                        due: None,
                        what: format!("{} (§2.6)", s.t(zh, en)),
                        href: format!("/web/records/{}", r.id),
                        title: format!("{} {}", s.t("收据", "Receipt"), r.number),
                    });
                }
            }
        }
        if matches!(role, Role::Clerk | Role::Salesperson | Role::MarketingHead) {
            for late in crate::app::service::overdue_repairs(state, &s.p).await? {
                tasks.push(Task {
                    due: None,
                    what: s
                        .t(
                            "修复延期,告知客户(§2.7)",
                            "Late repair: tell the customer (§2.7)",
                        )
                        .into(),
                    href: format!("/web/records/{}", late.receipt_id),
                    title: format!("{} {}", s.t("收据", "Receipt"), late.number),
                });
            }
        }
    }
    // Customer feedback to handle (§3.3–§3.5), severe first, with what it still needs.
    if matches!(role, Role::Clerk | Role::Salesperson | Role::MarketingHead) {
        for chase in crate::app::surveys::chase_list(state, &s.p).await? {
            let needs = crate::app::surveys::needs_zh(&chase.item);
            let what = if s.lang == crate::export::Lang::Zh {
                format!(
                    "客户意见:{}",
                    if needs.is_empty() {
                        "可以办结".to_string()
                    } else {
                        needs.join(";")
                    }
                )
            } else {
                format!(
                    "Feedback: {}",
                    if chase.needs.is_empty() {
                        "ready to close".to_string()
                    } else {
                        chase.needs.join("; ")
                    }
                )
            };
            tasks.push(Task {
                due: None,
                what,
                href: "/web/feedback".into(),
                title: format!(
                    "{}{}",
                    if chase.item.severity == "severe" {
                        s.t("严重", "Severe ")
                    } else {
                        ""
                    },
                    super::code_words(s, &chase.item.kind)
                ),
            });
        }
    }
    if matches!(role, Role::FactoryDirector | Role::Admin) {
        let waiting = crate::app::service::dispatch_queue(state, &s.p)
            .await
            .map(|q| q.len())
            .unwrap_or(0);
        if waiting > 0 {
            tasks.push(Task {
                due: None,
                what: format!(
                    "{} {waiting}",
                    s.t("服务请求待派工:", "Requests to dispatch:")
                ),
                href: "/web/dispatch".into(),
                title: s.t("派工看板", "Dispatch board").into(),
            });
        }
    }
    if role == Role::Finance {
        for item in crate::app::service::invoice_queue(state, &s.p).await? {
            let what = if item.issued {
                s.t("确认收款(§2.4)", "Record the payment (§2.4)")
            } else {
                s.t("开具发票(§2.4)", "Issue the invoice (§2.4)")
            };
            tasks.push(Task {
                due: None,
                what: format!("{what} ¥{}", yuan_text(item.fee_fen)),
                href: "/web/finance".into(),
                title: item.customer_name,
            });
        }
    }
    // The GM office confirms the review (§4.8); no one else is offered it.
    if role == Role::GmOffice {
        let (y, m) = crate::workflow::calendar::year_month(state.config.timezone, state.now());
        let (py, pm) = crate::workflow::calendar::previous_month(y, m);
        let month = format!("{py:04}-{pm:02}");
        let review = crate::app::review::get_review(state, &s.p, month.clone()).await?;
        if !review.confirmed {
            tasks.push(Task {
                due: Some(review.due_before),
                what: s
                    .t(
                        "确认月度评审(§4.8.1)",
                        "Confirm the monthly review (§4.8.1)",
                    )
                    .into(),
                href: format!("/web/reviews?month={month}"),
                title: format!("{} {month}", s.t("月度评审", "Monthly review")),
            });
        }
    }
    Ok(tasks)
}

/// Every open case with its current step, who acts and the deadlines: the trackers' view.
fn tracker(s: &Session, cases: &[Case], now: DateTime<Utc>, tz: chrono_tz::Tz) -> Markup {
    let mut open: Vec<&Case> = cases
        .iter()
        .filter(|c| c.state != CaseState::Closed)
        .collect();
    open.sort_by_key(|c| (c.due_at.is_none(), c.due_at));
    maud::html! {
        h2 { (s.t("跟踪:所有未结案投诉", "Tracking: every case not yet closed")) }
        table #tracker {
            thead { tr {
                th { (s.t("投诉", "Case")) }
                th { (s.t("当前步骤", "Current step")) }
                th { (s.t("步骤期限", "Step due")) }
                th { (s.t("结案期限", "Case due")) }
            } }
            tbody {
                @for c in &open {
                    @let step = c.steps.iter().find(|st| st.done_at.is_none());
                    tr {
                        td { a href={ "/web/complaints/" (c.id) } { (case_title(s, c)) } }
                        td {
                            @match step {
                                Some(st) => { (step_label(s, st.kind)) " · " (dept_label(s, st.department)) }
                                None => { @if c.state == CaseState::Submitted { (s.t("品质部受理", "Quality to accept")) } @else { "—" } }
                            }
                        }
                        td { @match step { Some(st) => (deadline(s.lang, tz, st.due_at, now, false)), None => "—" } }
                        td { @match c.due_at { Some(d) => (deadline(s.lang, tz, d, now, false)), None => "—" } }
                    }
                }
                @if open.is_empty() {
                    tr { td.empty colspan="4" { (s.t("没有未结案的投诉", "No case is open")) } }
                }
            }
        }
    }
}

/// A kind of money on a case, as the office says it (lower case in English, inside a sentence).
fn money_kind_words(s: &Session, kind: crate::workflow::complaint::MoneyKind) -> &'static str {
    use crate::workflow::complaint::MoneyKind;
    match kind {
        MoneyKind::Compensation => s.t("赔款", "compensation"),
        MoneyKind::Allowance => s.t("折让", "allowance"),
        MoneyKind::ReturnValue => s.t("退货金额", "return value"),
    }
}
