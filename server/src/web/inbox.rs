//! Each department's inbox (待办): the steps and cases waiting for the user's department.

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use fieldloop_client_core::model::Role;
use fieldloop_client_core::model::money::yuan_text;
use uuid::Uuid;

use super::Session;
use super::cases::{case_title, region_filter, step_label, visible};
use super::html::{Flash, deadline, esc, page};
use super::pages::error_page;
use super::settlements::steps_for;
use crate::AppState;
use crate::workflow::complaint::{Action, Actor, Case, CaseState, Department, apply};

/// A task in the inbox.
struct Task {
    due: Option<DateTime<Utc>>,
    what: String,
    case: Uuid,
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
    tasks.sort_by_key(|t| (t.due.is_none(), t.due));
    let body = task_table(&s, &tasks, now, state.config.timezone);
    Html(page(&s, s.t("我的待办", "My inbox"), &flash, &body)).into_response()
}

/// What a case waits for from the user: acceptance (quality), the open steps of the user's
/// department, the investigation report, and amounts within the user's authority.
fn case_tasks(
    s: &Session,
    case: &Case,
    now: DateTime<Utc>,
    rules: &crate::workflow::complaint::Rules,
) -> Vec<Task> {
    let mine = Department::of_role(s.p.role);
    let ours = |d: Department| s.p.role == Role::Admin || mine == Some(d);
    let actor = Actor {
        user: s.p.user_id,
        role: s.p.role,
    };
    let task = |due, what| Task {
        due,
        what,
        case: case.id,
        title: case_title(s, case),
    };
    let mut tasks = Vec::new();
    match case.state {
        CaseState::Closed => {}
        CaseState::Submitted => {
            if s.p.role == Role::Quality {
                tasks.push(task(None, s.t("受理并编号", "Accept and number").into()));
            }
        }
        CaseState::Open => {
            for step in case.steps.iter().filter(|st| st.done_at.is_none()) {
                if ours(step.department) {
                    tasks.push(task(Some(step.due_at), step_label(s, step.kind)));
                }
            }
            if let (Some(due), None) = (case.report_due_at, case.report_at)
                && ours(Department::Quality)
            {
                tasks.push(task(
                    Some(due),
                    s.t("调查报告", "Investigation report").into(),
                ));
            }
            // Amounts waiting for an approval this user's authority covers.
            for m in case.money.iter().filter(|m| m.approved_by.is_none()) {
                let approve = Action::Approve { decision: m.id };
                if apply(case, &approve, actor, now, rules, None).is_ok() {
                    tasks.push(task(
                        case.due_at,
                        format!(
                            "{} ¥{}",
                            s.t("审批金额", "Approve amount"),
                            yuan_text(m.amount_fen)
                        ),
                    ));
                }
            }
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
                s.t("折让证明单", "Allowance certificate")
            };
            tasks.push(Task {
                due: None,
                what: format!("{form}: {}", s.t(zh, en)),
                case: case.id,
                title: case_title(s, case),
            });
        }
    }
    tasks
}

/// The tasks as a table, the overdue ones marked.
fn task_table(s: &Session, tasks: &[Task], now: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    let rows: Vec<Vec<String>> = tasks
        .iter()
        .map(|t| {
            let overdue = t.due.is_some_and(|d| d < now);
            vec![
                if overdue {
                    format!(
                        r#"<span class="badge overdue">{}</span>"#,
                        s.t("逾期", "Overdue")
                    )
                } else {
                    String::new()
                },
                t.due
                    .map(|d| deadline(s.lang, tz, d, now, false))
                    .unwrap_or_else(|| "—".into()),
                format!(
                    r#"<a href="/web/complaints/{}">{}</a>"#,
                    t.case,
                    esc(&t.title)
                ),
                esc(&t.what),
            ]
        })
        .collect();
    s.table(
        "inbox",
        &[
            ("状态", "State"),
            ("期限", "Due"),
            ("投诉", "Case"),
            ("任务", "Task"),
        ],
        &rows,
    )
}
