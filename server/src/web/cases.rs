//! Complaints in the browser: the department inbox, the register, the case page with its step
//! timeline and the actions the user may take, settlements and the finance desk.
//!
//! Which actions a page offers is decided by running the pure workflow on the case as it is
//! (a dry run of [`apply`]); the posted action then goes through the API's own handler, which
//! decides again.

use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use fieldloop_client_core::model::money::{fen_to_yuan, parse_yuan};
use fieldloop_client_core::model::{FieldValue, RecordDoc, Role};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::html::{Flash, csrf_field, esc, input, local, local_ms, page, select};
use super::pages::{error_page, names, not_found};
use super::{Fields, Posted, Session, back_with};
use crate::AppState;
use crate::app::complaints::{self as app, ActRequest, NewAllowance, NewReturn, StepBody};
use crate::app::service::{self, InvoiceUpdate};
use crate::error::AppError;
use crate::workflow::complaint::{
    Action, Actor, Case, CaseState, CauseClass, Department, MoneyKind, StepKind, apply,
    close_blockers,
};
use crate::workflow::settlement::{AllowanceCertificate, ReturnForm};

fn region_filter(s: &Session) -> Option<&str> {
    if s.p.is_head_office() {
        None
    } else {
        s.p.region.as_deref()
    }
}

fn visible(s: &Session, case: &Case) -> bool {
    s.p.role != Role::Technician && s.p.sees(&case.region, case.filed_by, None)
}

fn step_label(s: &Session, k: StepKind) -> String {
    match s.lang {
        crate::export::Lang::Zh => k.label_zh().to_string(),
        crate::export::Lang::En => serde_json::to_value(k)
            .ok()
            .and_then(|v| v.as_str().map(|t| t.replace('_', " ")))
            .unwrap_or_default(),
    }
}

fn dept_label(s: &Session, d: Department) -> String {
    match s.lang {
        crate::export::Lang::Zh => d.label_zh().to_string(),
        crate::export::Lang::En => serde_json::to_value(d)
            .ok()
            .and_then(|v| v.as_str().map(|t| t.replace('_', " ")))
            .unwrap_or_default(),
    }
}

fn case_title(s: &Session, case: &Case) -> String {
    case.number
        .clone()
        .unwrap_or_else(|| s.t("待受理", "awaiting acceptance").to_string())
}

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
    let cases = match state.db.cases(region_filter(&s), None).await {
        Ok(c) => c,
        Err(e) => return error_page(&s, e.into()),
    };
    let now = state.now();
    let rules = state.config.rules();
    let mine = Department::of_role(s.p.role);
    let everyone = s.p.role == Role::Admin;
    let actor = Actor {
        user: s.p.user_id,
        role: s.p.role,
    };
    let mut tasks = Vec::new();
    for case in cases.iter().filter(|c| visible(&s, c)) {
        let title = case_title(&s, case);
        let ours = |d: Department| everyone || mine == Some(d);
        match case.state {
            CaseState::Closed => {}
            CaseState::Submitted => {
                if s.p.role == Role::Quality {
                    tasks.push(Task {
                        due: None,
                        what: s.t("受理并编号", "Accept and number").into(),
                        case: case.id,
                        title,
                    });
                }
            }
            CaseState::Open => {
                for step in case.steps.iter().filter(|st| st.done_at.is_none()) {
                    if ours(step.department) {
                        tasks.push(Task {
                            due: Some(step.due_at),
                            what: step_label(&s, step.kind),
                            case: case.id,
                            title: title.clone(),
                        });
                    }
                }
                if let (Some(due), None) = (case.report_due_at, case.report_at)
                    && ours(Department::Quality)
                {
                    tasks.push(Task {
                        due: Some(due),
                        what: s.t("调查报告", "Investigation report").into(),
                        case: case.id,
                        title: title.clone(),
                    });
                }
                // Amounts waiting for an approval this user's authority covers.
                for m in case.money.iter().filter(|m| m.approved_by.is_none()) {
                    let approve = Action::Approve { decision: m.id };
                    if apply(case, &approve, actor, now, &rules, None).is_ok() {
                        tasks.push(Task {
                            due: case.due_at,
                            what: format!(
                                "{} ¥{}",
                                s.t("审批金额", "Approve amount"),
                                fen_to_yuan(m.amount_fen)
                            ),
                            case: case.id,
                            title: title.clone(),
                        });
                    }
                }
            }
        }
    }
    // Returns and allowances waiting for a step this user's role does.
    let settlements = match state.db.settlements(region_filter(&s)).await {
        Ok(r) => r,
        Err(e) => return error_page(&s, e.into()),
    };
    for r in &settlements {
        let Some(case) = cases.iter().find(|c| c.id == r.case_id && visible(&s, c)) else {
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
                title: case_title(&s, case),
            });
        }
    }
    tasks.sort_by_key(|t| (t.due.is_none(), t.due));
    let tz = state.config.timezone;
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
                t.due.map(|d| local(tz, d)).unwrap_or_else(|| "—".into()),
                format!(
                    r#"<a href="/web/complaints/{}">{}</a>"#,
                    t.case,
                    esc(&t.title)
                ),
                esc(&t.what),
            ]
        })
        .collect();
    let body = s.table(
        "inbox",
        &[
            ("状态", "State"),
            ("期限", "Due"),
            ("投诉", "Case"),
            ("任务", "Task"),
        ],
        &rows,
    );
    Html(page(&s, s.t("我的待办", "My inbox"), &flash, &body)).into_response()
}

/// The complaint register (客户投诉登记追踪表) as a list of cases.
pub async fn complaints(
    State(state): State<AppState>,
    s: Session,
    Query(flash): Query<Flash>,
) -> Response {
    let cases = match state.db.cases(region_filter(&s), None).await {
        Ok(c) => c,
        Err(e) => return error_page(&s, e.into()),
    };
    let now = state.now();
    let tz = state.config.timezone;
    let rows: Vec<Vec<String>> = cases
        .iter()
        .filter(|c| visible(&s, c))
        .map(|c| {
            let overdue = !c.overdue(now).is_empty();
            vec![
                format!(
                    r#"<a href="/web/complaints/{}">{}</a>"#,
                    c.id,
                    esc(&case_title(&s, c))
                ),
                state_label(&s, c.state).to_string(),
                esc(&c.region),
                local(tz, c.submitted_at),
                c.due_at.map(|d| local(tz, d)).unwrap_or_default(),
                if overdue {
                    format!(
                        r#"<span class="badge overdue">{}</span>"#,
                        s.t("逾期", "Overdue")
                    )
                } else {
                    String::new()
                },
            ]
        })
        .collect();
    let body = s.table(
        "complaints",
        &[
            ("编号", "Number"),
            ("状态", "State"),
            ("区域", "Region"),
            ("提交", "Filed"),
            ("结案期限", "Due"),
            ("", ""),
        ],
        &rows,
    ) + &format!(
        r#"<p><a href="/web/registers/complaint-register">{}</a></p>"#,
        s.t(
            "登记追踪表(可下载)",
            "Register and tracking table (download)"
        )
    );
    Html(page(&s, s.t("客户投诉", "Complaints"), &flash, &body)).into_response()
}

fn state_label(s: &Session, st: CaseState) -> &'static str {
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
    inputs: String,
    /// For approvals: which decision.
    decision: Option<u32>,
}

fn offers(s: &Session, case: &Case) -> Vec<Offer> {
    let t = |zh: &str, en: &str| s.t(zh, en).to_string();
    let text = |name: &str, label: &str| input(name, label, "", true);
    let tick = |name: &str, label: &str| {
        format!(
            r#"<label class="tick"><input type="checkbox" name="{name}" id="f-{name}"> {}</label>"#,
            esc(label)
        )
    };
    let opts = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(v, l)| (v.to_string(), l.to_string()))
            .collect::<Vec<_>>()
    };
    let x = || "x".to_string();
    let mut out = vec![
        Offer {
            sample: Action::Accept,
            label: t("受理", "Accept"),
            inputs: String::new(),
            decision: None,
        },
        Offer {
            sample: Action::Investigate {
                findings: x(),
                joint_visit: false,
            },
            label: t("提交调查结果", "Record investigation"),
            inputs: text("findings", s.t("调查结果", "Findings"))
                + &tick(
                    "joint_visit",
                    s.t("会同品质部现场调查", "Joint visit with quality"),
                ),
            decision: None,
        },
        Offer {
            sample: Action::SubmitReport { text: x() },
            label: t("提交调查报告", "Submit investigation report"),
            inputs: text("text", s.t("报告", "Report")),
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
            inputs: select(
                "cause_class",
                s.t("原因类别", "Cause class"),
                &opts(&[
                    ("quality", s.t("质量异常", "Quality")),
                    ("non_quality", s.t("非质量异常", "Non-quality")),
                ]),
            ) + &tick("valid", s.t("投诉成立", "Complaint valid"))
                + &tick("fault_ours", s.t("我方责任", "Our fault"))
                + &select(
                    "responsible_department",
                    s.t("责任部门", "Responsible department"),
                    &opts(&[
                        ("", "—"),
                        ("production", "生产部"),
                        ("quality", "品质部"),
                        ("rnd", "研发部"),
                        ("marketing", "市场部"),
                        ("warehouse", "货仓"),
                    ]),
                )
                + &input("note", s.t("说明", "Note"), "", false),
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
            inputs: text("workshop", s.t("车间", "Workshop"))
                + &text("shift", s.t("班组", "Shift"))
                + &text("operators", s.t("作业人员", "Operators"))
                + &text(
                    "production_date",
                    s.t("生产日期 (YYYY-MM-DD)", "Production date (YYYY-MM-DD)"),
                )
                + &text("countermeasure", s.t("对策", "Countermeasure")),
            decision: None,
        },
        Offer {
            sample: Action::RndOpinion { text: x() },
            label: t("提交研发意见", "Submit R&D opinion"),
            inputs: text("text", s.t("意见", "Opinion")),
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
            inputs: text("text", s.t("综合意见", "Opinion"))
                + &input("remedy", s.t("补救措施", "Remedy"), "", false)
                + &tick("track_improvement", s.t("跟踪改善", "Track improvement"))
                + &tick("human_error", s.t("人为失误", "Human error"))
                + &input(
                    "loss",
                    s.t("责任部门损失(元)", "Department's loss (yuan)"),
                    "0",
                    false,
                )
                + &input("penalty", s.t("个人处分", "Personal penalty"), "", false),
            decision: None,
        },
        Offer {
            sample: Action::ProposeAmount {
                kind: MoneyKind::Compensation,
                amount_fen: 1,
                quantity: None,
            },
            label: t("提出金额", "Propose an amount"),
            inputs: select(
                "kind",
                s.t("类型", "Kind"),
                &opts(&[
                    ("compensation", s.t("赔款", "Compensation")),
                    ("allowance", s.t("折让", "Allowance")),
                    ("return_value", s.t("退货金额", "Return value")),
                ]),
            ) + &text("amount", s.t("金额(元)", "Amount (yuan)"))
                + &input(
                    "quantity",
                    s.t("退货数量(退货金额时)", "Pieces (with a return value)"),
                    "",
                    false,
                ),
            decision: None,
        },
    ];
    for m in case.money.iter().filter(|m| m.approved_by.is_none()) {
        out.push(Offer {
            sample: Action::Approve { decision: m.id },
            label: format!(
                "{} #{} ¥{}",
                s.t("批准", "Approve"),
                m.id,
                fen_to_yuan(m.amount_fen)
            ),
            inputs: String::new(),
            decision: Some(m.id),
        });
    }
    out.extend([
        Offer {
            sample: Action::ApprovePenalty,
            label: t("厂长批示损失与处分", "Approve loss and penalty"),
            inputs: String::new(),
            decision: None,
        },
        Offer {
            sample: Action::Communicate {
                result: x(),
                promised_fen: None,
            },
            label: t("记录向客户说明", "Record customer communication"),
            inputs: text("result", s.t("客户答复", "Customer's answer"))
                + &input(
                    "promised",
                    s.t("承诺金额(元)", "Promised (yuan)"),
                    "",
                    false,
                ),
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
            inputs: text("visitor", s.t("拜访人", "Visitor")),
            decision: None,
        },
        Offer {
            sample: Action::WrittenReportToHead,
            label: t("已书面报告部长", "Written report to head"),
            inputs: String::new(),
            decision: None,
        },
        Offer {
            sample: Action::InvolveExternal { party: x() },
            label: t("涉及其他公司", "Involve another company"),
            inputs: text("party", s.t("公司", "Company")),
            decision: None,
        },
        Offer {
            sample: Action::Petition { text: x() },
            label: t("申诉", "Petition"),
            inputs: text("text", s.t("申诉理由", "Grounds")),
            decision: None,
        },
        Offer {
            sample: Action::Close,
            label: t("结案", "Close the case"),
            inputs: String::new(),
            decision: None,
        },
    ]);
    out
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
    apply(case, action, actor, now, rules, number).is_ok()
}

/// The case page: the form, the step timeline against its deadlines, amounts and their
/// approvals, history, settlements, and the actions this user may take.
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
    let now = state.now();
    let tz = state.config.timezone;
    let rules = state.config.rules();
    let name_of = |u: Uuid| esc(names.get(&u).map(String::as_str).unwrap_or("?"));
    let mut body = String::new();
    let _ = write!(
        body,
        r#"<dl class="facts"><dt>{}</dt><dd id="case-number">{}</dd><dt>{}</dt><dd id="case-state">{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>¥{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd></dl>"#,
        s.t("编号", "Number"),
        esc(case.number.as_deref().unwrap_or("—")),
        s.t("状态", "State"),
        state_label(&s, case.state),
        s.t("区域", "Region"),
        esc(&case.region),
        s.t("客户索赔", "Claimed"),
        fen_to_yuan(case.claimed_fen),
        s.t("受理时间", "Accepted"),
        case.accepted_at
            .map(|t| local(tz, t))
            .unwrap_or_else(|| "—".into()),
        s.t("结案期限", "Case due"),
        case.due_at
            .map(|t| local(tz, t))
            .unwrap_or_else(|| "—".into()),
    );
    // The complaint form as filed.
    if let Some(row) = form
        && let Ok(doc) = RecordDoc::load(&row.snapshot)
    {
        let text = |p: &str| match doc.get(p) {
            Some(FieldValue::Text(t)) => esc(&t),
            Some(FieldValue::Int(n)) => n.to_string(),
            None => String::new(),
        };
        let _ = write!(
            body,
            r#"<p class="meta">{} · {} · {} · {} — {} <a href="/web/records/{id}">{}</a></p>"#,
            text("form.customer_name"),
            text("form.order_number"),
            text("form.product_model"),
            text("form.defect"),
            text("form.customer_demand"),
            s.t("表单与历史", "form and history"),
        );
    }
    // Step timeline.
    let mut rows = Vec::new();
    for st in &case.steps {
        let status = match st.done_at {
            Some(done) if done <= st.due_at => format!(
                r#"<span class="badge ok">{}</span>"#,
                s.t("按时完成", "done on time")
            ),
            Some(_) => format!(
                r#"<span class="badge overdue">{}</span>"#,
                s.t("逾期完成", "done late")
            ),
            None if now > st.due_at => format!(
                r#"<span class="badge overdue">{}</span>"#,
                s.t("逾期", "overdue")
            ),
            None => format!(r#"<span class="badge">{}</span>"#, s.t("进行中", "open")),
        };
        rows.push(vec![
            esc(&step_label(&s, st.kind)),
            esc(&dept_label(&s, st.department)),
            local(tz, st.started_at),
            local(tz, st.due_at),
            st.done_at.map(|t| local(tz, t)).unwrap_or_default(),
            status,
            esc(&st.note),
        ]);
    }
    let _ = write!(
        body,
        "<h2>{}</h2>",
        s.t("步骤与期限", "Steps and deadlines")
    );
    body.push_str(&s.table(
        "timeline",
        &[
            ("步骤", "Step"),
            ("部门", "Department"),
            ("开始", "Started"),
            ("期限", "Due"),
            ("完成", "Done"),
            ("状态", "Status"),
            ("说明", "Note"),
        ],
        &rows,
    ));
    // Money and approvals.
    if !case.money.is_empty() {
        let rows: Vec<Vec<String>> = case
            .money
            .iter()
            .map(|m| {
                vec![
                    format!("#{}", m.id),
                    esc(&format!("{:?}", m.kind)),
                    format!("¥{}", fen_to_yuan(m.amount_fen)),
                    m.required.code().to_string(),
                    match (m.approved_by, m.approved_level) {
                        (Some(u), Some(l)) => format!("{} ({})", name_of(u), l.code()),
                        _ => s.t("待批", "waiting").to_string(),
                    },
                ]
            })
            .collect();
        let _ = write!(
            body,
            "<h2>{}</h2>",
            s.t("金额与审批", "Amounts and approvals")
        );
        body.push_str(&s.table(
            "money",
            &[
                ("编号", "No."),
                ("类型", "Kind"),
                ("金额", "Amount"),
                ("审批权限", "Needs"),
                ("批准", "Approved"),
            ],
            &rows,
        ));
    }
    if case.state == CaseState::Open {
        let blockers = close_blockers(case);
        if !blockers.is_empty() {
            let _ = write!(body, "<h2>{}</h2><ul>", s.t("结案前还需", "Before closing"));
            for b in blockers {
                let _ = write!(body, "<li>{}</li>", esc(&b));
            }
            body.push_str("</ul>");
        }
    }
    // The actions this user may take now.
    let actor = Actor {
        user: s.p.user_id,
        role: s.p.role,
    };
    let mut forms = String::new();
    for offer in offers(&s, case)
        .into_iter()
        .filter(|o| allowed(case, &o.sample, actor, now, &rules))
    {
        let name = offer.sample.name();
        let id_attr = match offer.decision {
            Some(d) => format!("act-{name}-{d}"),
            None => format!("act-{name}"),
        };
        let _ = write!(
            forms,
            r#"<form method="post" action="/web/complaints/{id}/act" class="action">{csrf}<input type="hidden" name="action" value="{name}"><input type="hidden" name="version" value="{version}">{decision}{inputs}<button type="submit" id="{id_attr}">{label}</button></form>"#,
            csrf = csrf_field(&s),
            version = stored.version,
            decision = offer
                .decision
                .map(|d| format!(r#"<input type="hidden" name="decision" value="{d}">"#))
                .unwrap_or_default(),
            inputs = offer.inputs,
            label = esc(&offer.label),
        );
    }
    let _ = write!(
        body,
        r#"<h2>{}</h2><div id="actions">{}</div>"#,
        s.t("可执行的操作", "What you can do"),
        if forms.is_empty() {
            format!(
                "<p>{}</p>",
                s.t(
                    "此案目前没有您可执行的操作。",
                    "Nothing for you to do on this case now."
                )
            )
        } else {
            forms
        }
    );
    // Returns and allowances after closing.
    if case.state == CaseState::Closed {
        body.push_str(&settlement_section(
            &s,
            id,
            settlements.iter().filter(|r| r.case_id == id),
        ));
    }
    // History.
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            vec![
                local_ms(tz, e.at),
                Uuid::parse_str(&e.user_id).map(name_of).unwrap_or_default(),
                esc(&e.role),
                esc(&e.action),
            ]
        })
        .collect();
    let _ = write!(body, "<h2>{}</h2>", s.t("处理记录", "History"));
    body.push_str(&s.table(
        "events",
        &[
            ("时间", "When"),
            ("用户", "User"),
            ("角色", "Role"),
            ("操作", "Action"),
        ],
        &rows,
    ));
    let title = format!("{} {}", s.t("投诉案件", "Complaint"), case_title(&s, case));
    Html(page(&s, &title, &flash, &body)).into_response()
}

/// Settlements of a closed case, with the steps the user's role does and the forms that open
/// new ones (marketing).
fn settlement_section<'a>(
    s: &Session,
    case: Uuid,
    rows: impl Iterator<Item = &'a crate::db::complaints::SettlementRow>,
) -> String {
    let mut out = format!("<h2>{}</h2>", s.t("退货与折让", "Returns and allowances"));
    out.push_str(&settlement_table(
        s,
        rows,
        &format!("/web/complaints/{case}"),
    ));
    if matches!(s.p.role, Role::Salesperson | Role::MarketingHead) {
        let csrf = csrf_field(s);
        let _ = write!(
            out,
            r#"<form method="post" action="/web/complaints/{case}/returns" class="action">{csrf}{q}{r}{h}{b}<button>{l1}</button></form>
<form method="post" action="/web/complaints/{case}/allowances" class="action">{csrf}{a}<button>{l2}</button></form>"#,
            q = input(
                "approved_quantity",
                s.t("退货数量(按批准)", "Quantity (as approved)"),
                "",
                false
            ),
            r = input("reason", s.t("退货原因", "Reason"), "", true),
            h = input("handling", s.t("处理方式", "Handling"), "", true),
            b = input("basis", s.t("退回依据", "Basis"), "", true),
            l1 = s.t("开退货单", "Open a return form"),
            a = input("amount", s.t("折让金额(元)", "Allowance (yuan)"), "", true),
            l2 = s.t("开折让证明单", "Open an allowance certificate"),
        );
    }
    out
}

/// Steps a role may do on a settlement in its present state: the pure workflow's own list
/// (`Settlement::offered`), as (step, Chinese, English).
fn steps_for(
    role: Role,
    kind: &str,
    body: &str,
) -> Vec<(&'static str, &'static str, &'static str)> {
    let Ok(settlement) = app::stored_settlement(kind, body) else {
        return Vec::new();
    };
    settlement
        .offered(role)
        .into_iter()
        .map(|step| {
            let (zh, en) = step.label();
            (step.code(), zh, en)
        })
        .collect()
}

fn settlement_table<'a>(
    s: &Session,
    rows: impl Iterator<Item = &'a crate::db::complaints::SettlementRow>,
    back: &str,
) -> String {
    let mut out = Vec::new();
    for r in rows {
        let (what, state) = match r.kind.as_str() {
            "return" => match serde_json::from_str::<ReturnForm>(&r.body) {
                Ok(f) => (
                    format!(
                        "{} {} / {} {} / ¥{}",
                        s.t("批准数量", "approved qty"),
                        f.approved_quantity,
                        s.t("实收数量", "received qty"),
                        f.received_quantity
                            .map(|q| q.to_string())
                            .unwrap_or_else(|| "—".into()),
                        fen_to_yuan(f.amount_fen)
                    ),
                    if f.posted {
                        s.t("已过账", "posted")
                    } else if f.manager_approved {
                        s.t("已批准", "approved")
                    } else {
                        s.t("待批准", "waiting approval")
                    },
                ),
                Err(_) => (String::new(), ""),
            },
            _ => match serde_json::from_str::<AllowanceCertificate>(&r.body) {
                Ok(c) => (
                    format!("¥{}", fen_to_yuan(c.amount_fen)),
                    if c.posted {
                        s.t("已过账", "posted")
                    } else if c.gm_countersigned && c.customer_signed {
                        s.t("待过账", "ready to post")
                    } else {
                        s.t("待签", "waiting signatures")
                    },
                ),
                Err(_) => (String::new(), ""),
            },
        };
        let mut forms = String::new();
        for (step, zh, en) in steps_for(s.p.role, &r.kind, &r.body) {
            let extra = if step == "receive" {
                input("quantity", s.t("实收数量", "Quantity received"), "", true)
                    + &input("note", s.t("差异说明", "Note on a difference"), "", false)
            } else {
                String::new()
            };
            let _ = write!(
                forms,
                r#"<form method="post" action="/web/settlements/{id}/{step}" class="inline">{csrf}<input type="hidden" name="back" value="{back}">{extra}<button id="settle-{step}-{id}">{label}</button></form>"#,
                id = r.id,
                csrf = csrf_field(s),
                back = esc(back),
                label = s.t(zh, en),
            );
        }
        out.push(vec![
            format!(
                r#"<a href="/web/complaints/{}">{}</a>"#,
                r.case_id,
                &r.case_id.to_string()[..8]
            ),
            if r.kind == "return" {
                s.t("退货单", "Return form")
            } else {
                s.t("折让证明单", "Allowance")
            }
            .to_string(),
            esc(&what),
            state.to_string(),
            forms,
        ]);
    }
    s.table(
        "settlements",
        &[
            ("案件", "Case"),
            ("单据", "Form"),
            ("内容", "Content"),
            ("状态", "State"),
            ("操作", "Steps"),
        ],
        &out,
    )
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
                let fen = parse_yuan(v).map_err(AppError::invalid)?;
                let field = match key.as_str() {
                    "amount" => "amount_fen",
                    "loss" => "loss_fen",
                    _ => "promised_fen",
                };
                obj.insert(field.into(), Value::from(fen));
            }
            "decision" => {
                let n: u32 = v
                    .parse()
                    .map_err(|_| AppError::invalid("not a decision number"))?;
                obj.insert("decision".into(), Value::from(n));
            }
            "quantity" if v.is_empty() => {}
            "quantity" => {
                let n: i64 = v
                    .parse()
                    .map_err(|_| AppError::invalid("the quantity is a whole number"))?;
                obj.insert("quantity".into(), Value::from(n));
            }
            "responsible_department" | "penalty" if v.is_empty() => {}
            _ => {
                obj.insert(key.clone(), Value::String(v.to_string()));
            }
        }
    }
    serde_json::from_value(Value::Object(obj))
        .map_err(|e| AppError::invalid(format!("the form is incomplete: {e}")))
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

pub async fn new_return(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Posted { s, form }: Posted,
) -> Response {
    let result = async {
        let quantity = form.get("approved_quantity").trim();
        let approved_quantity = if quantity.is_empty() {
            None
        } else {
            Some(
                quantity
                    .parse()
                    .map_err(|_| AppError::invalid("the quantity is a whole number"))?,
            )
        };
        let form = NewReturn {
            decision: None,
            approved_quantity,
            amount: None,
            reason: form.get("reason").to_string(),
            handling: form.get("handling").to_string(),
            basis: form.get("basis").to_string(),
        };
        app::new_return(&state, &s.p, id, form).await?;
        Ok(s.t("已开退货单", "Return form opened").to_string())
    }
    .await;
    back_with(&s, &format!("/web/complaints/{id}"), result)
}

pub async fn new_allowance(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Posted { s, form }: Posted,
) -> Response {
    let body = NewAllowance {
        amount: form.get("amount").trim().into(),
    };
    let result = app::new_allowance(&state, &s.p, id, body).await.map(|_| {
        s.t("已开折让证明单", "Allowance certificate opened")
            .to_string()
    });
    back_with(&s, &format!("/web/complaints/{id}"), result)
}

pub async fn settlement_step(
    State(state): State<AppState>,
    Path((id, step)): Path<(Uuid, String)>,
    Posted { s, form }: Posted,
) -> Response {
    let back = Some(form.get("back"))
        .filter(|b| b.starts_with("/web/") && !b.starts_with("//"))
        .unwrap_or("/web/finance")
        .to_string();
    let result = async {
        let quantity = match form.get("quantity").trim() {
            "" => None,
            q => Some(
                q.parse()
                    .map_err(|_| AppError::invalid("the quantity is a whole number"))?,
            ),
        };
        let body = StepBody {
            quantity,
            note: form.get("note").into(),
        };
        app::settlement_step(&state, &s.p, id, step, body).await?;
        Ok(s.t("已完成", "Done").to_string())
    }
    .await;
    back_with(&s, &back, result)
}

/// Finance's desk: the invoice queue and the settlements to post.
pub async fn finance(
    State(state): State<AppState>,
    s: Session,
    Query(flash): Query<Flash>,
) -> Response {
    if !matches!(
        s.p.role,
        Role::Finance | Role::GeneralManager | Role::Chairman | Role::Admin
    ) {
        return error_page(
            &s,
            AppError::forbidden("the finance desk is for finance and the management"),
        );
    }
    let mut body = format!("<h2>{}</h2>", s.t("发票队列", "Invoice queue"));
    match service::invoice_queue(&state, &s.p).await {
        Ok(items) => {
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|i| {
                    // Cash taken on site is handed in first and the invoice mailed after
                    // (§2.4); an invoiced fee is collected against its invoice.
                    let cash = i.method == "cash_on_site";
                    let next = if !i.collected && (cash || i.issued) {
                        Some(("collected", s.t("已收款", "Money collected")))
                    } else if !i.issued {
                        Some(("issued", s.t("已开票", "Invoice issued")))
                    } else {
                        None
                    };
                    vec![
                        format!(r#"<a href="/web/records/{}">{}</a>"#, i.id, esc(&i.customer_name)),
                        format!("¥{}", esc(&i.fee)),
                        esc(&i.method),
                        esc(&i.invoice_state),
                        next.map(|(st, label)| {
                            format!(
                                r#"<form method="post" action="/web/visits/{}/invoice" class="inline">{}<input type="hidden" name="state" value="{st}"><button>{label}</button></form>"#,
                                i.id,
                                csrf_field(&s)
                            )
                        })
                        .unwrap_or_default(),
                    ]
                })
                .collect();
            body.push_str(&s.table(
                "invoices",
                &[
                    ("客户", "Customer"),
                    ("费用", "Fee"),
                    ("方式", "Method"),
                    ("状态", "State"),
                    ("", ""),
                ],
                &rows,
            ));
        }
        Err(e) => {
            let _ = write!(body, r#"<p class="meta">{}</p>"#, esc(&e.message));
        }
    }
    let settlements = match state.db.settlements(region_filter(&s)).await {
        Ok(r) => r,
        Err(e) => return error_page(&s, e.into()),
    };
    let _ = write!(
        body,
        "<h2>{}</h2>",
        s.t("退货与折让过账", "Return and allowance postings")
    );
    body.push_str(&settlement_table(&s, settlements.iter(), "/web/finance"));
    Html(page(&s, s.t("财务", "Finance"), &flash, &body)).into_response()
}

pub async fn set_invoice(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Posted { s, form }: Posted,
) -> Response {
    let body = InvoiceUpdate {
        state: form.get("state").into(),
    };
    let result = service::set_invoice(&state, &s.p, id, body)
        .await
        .map(|_| s.t("已更新", "Updated").to_string());
    back_with(&s, "/web/finance", result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settlement_steps_follow_their_state() {
        let form = |approved: bool, received: Option<i64>, posted: bool| {
            serde_json::to_string(&ReturnForm {
                decision: Some(1),
                approved_quantity: 5,
                amount_fen: 50_000,
                reason: String::new(),
                handling: String::new(),
                basis: String::new(),
                manager_approved: approved,
                received_quantity: received,
                receipt_note: String::new(),
                posted,
            })
            .unwrap()
        };
        let names = |role, body: &str| {
            steps_for(role, "return", body)
                .into_iter()
                .map(|(n, ..)| n)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(Role::GeneralManager, &form(false, None, false)),
            ["approve"]
        );
        assert!(names(Role::GeneralManager, &form(true, None, false)).is_empty());
        assert!(names(Role::Warehouse, &form(false, None, false)).is_empty());
        assert_eq!(
            names(Role::Warehouse, &form(true, None, false)),
            ["receive"]
        );
        assert!(names(Role::Finance, &form(true, None, false)).is_empty());
        assert_eq!(names(Role::Finance, &form(true, Some(4), false)), ["post"]);
        assert!(names(Role::Finance, &form(true, Some(5), true)).is_empty());
        assert!(names(Role::Technician, &form(true, Some(5), false)).is_empty());
    }

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
