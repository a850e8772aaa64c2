//! Returns and allowances in the browser (§4.9): the settlements of a closed case, the forms
//! that open them and the steps each role takes, offered by the pure workflow's own list.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use fieldloop_client_core::model::Role;
use fieldloop_client_core::model::money::yuan_text;
use maud::{Markup, html};
use uuid::Uuid;

use super::html::{Flash, count_input, csrf_field, input, money_input, page};
use super::pages::{error_page, not_found};
use super::{Posted, Session, back_with};
use crate::AppState;
use crate::app::settlements::{self as app, NewAllowance, NewReturn, StepBody};
use crate::error::AppError;
use crate::workflow::settlement::{AllowanceCertificate, ReturnForm};

/// Settlements of a closed case, with the steps the user's role does and the forms that open
/// new ones (marketing).
pub(super) fn settlement_section<'a>(
    s: &Session,
    case: &crate::workflow::complaint::Case,
    rows: impl Iterator<Item = &'a crate::db::complaints::SettlementRow>,
) -> Markup {
    use crate::workflow::complaint::MoneyKind;
    let rows: Vec<_> = rows.collect();
    let marketing = matches!(s.p.role, Role::Salesperson | Role::MarketingHead);
    // A return form per approved return value not yet on a form; an allowance while approved
    // compensation or allowance is left to certify (§4.9).
    let opened_returns: Vec<u32> = rows
        .iter()
        .filter(|r| r.kind == "return")
        .filter_map(|r| serde_json::from_str::<ReturnForm>(&r.body).ok())
        .filter_map(|f| f.decision)
        .collect();
    let returns_left = case.money.iter().any(|m| {
        m.kind == MoneyKind::ReturnValue
            && m.approved_by.is_some()
            && !opened_returns.contains(&m.id)
    });
    let approved: i64 = case
        .money
        .iter()
        .filter(|m| m.approved_by.is_some() && m.kind != MoneyKind::ReturnValue)
        .map(|m| m.amount_fen)
        .sum();
    let certified: i64 = rows
        .iter()
        .filter(|r| r.kind != "return")
        .filter_map(|r| serde_json::from_str::<AllowanceCertificate>(&r.body).ok())
        .map(|c| c.amount_fen)
        .sum();
    let allowance_left = approved - certified;
    let case = case.id;
    html! {
        h2 { (s.t("退货与折让", "Returns and allowances")) }
        (settlement_table(s, rows.into_iter(), &format!("/web/complaints/{case}")))
        @if marketing && !returns_left && allowance_left <= 0 {
            p.meta { (s.t("本案没有待开的退货单或折让证明单。", "Nothing approved on this case is left to put on a form.")) }
        }
        @if marketing && returns_left {
            form.action method="post" action={ "/web/complaints/" (case) "/returns" } {
                (csrf_field(s))
                (count_input("approved_quantity", s.t("退货数量(按批准)", "Quantity (as approved)"), "", false))
                (input("reason", s.t("退货原因", "Reason"), "", true))
                (input("handling", s.t("处理方式", "Handling"), "", true))
                (input("basis", s.t("退回依据", "Basis"), "", true))
                button { (s.t("开退货单", "Open a return form")) }
            }
        }
        @if marketing && allowance_left > 0 {
            form.action method="post" action={ "/web/complaints/" (case) "/allowances" } {
                (csrf_field(s))
                (money_input("amount", s.t("折让金额(元)", "Allowance (yuan)"), &fieldloop_client_core::model::money::fen_to_yuan(allowance_left).to_string(), true))
                button { (s.t("开折让证明单", "Open an allowance certificate")) }
            }
        }
    }
}

/// Steps a role may do on a settlement in its present state: the pure workflow's own list
/// (`Settlement::offered`), as (step, Chinese, English).
pub(super) fn steps_for(
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

pub(super) fn settlement_table<'a>(
    s: &Session,
    rows: impl Iterator<Item = &'a crate::db::complaints::SettlementRow>,
    back: &str,
) -> Markup {
    let rows: Vec<_> = rows.collect();
    html! {
        table #settlements {
            thead { tr {
                th { (s.t("案件", "Case")) } th { (s.t("单据", "Form")) }
                th { (s.t("内容", "Content")) } th { (s.t("状态", "State")) }
                th { (s.t("操作", "Steps")) }
            } }
            tbody {
                @for r in &rows {
                    @let (what, state) = settlement_words(s, r);
                    tr {
                        td { a href={ "/web/complaints/" (r.case_id) } {
                            (r.case_number.as_deref().unwrap_or(s.t("(未编号)", "(no number yet)")))
                        } }
                        td { a href={ "/web/settlements/" (r.id) } {
                            (if r.kind == "return" { s.t("退货单", "Return form") } else { s.t("销货折让证明单", "Allowance certificate") })
                        } }
                        td { (what) }
                        td { (state) }
                        td {
                            @for (step, zh, en) in steps_for(s.p.role, &r.kind, &r.body) {
                                form.inline method="post" action={ "/web/settlements/" (r.id) "/" (step) } {
                                    (csrf_field(s))
                                    input type="hidden" name="back" value=(back);
                                    @if step == "receive" {
                                        (count_input("quantity", s.t("实收数量", "Quantity received"), "", true))
                                        (input("note", s.t("差异说明", "Note on a difference"), "", false))
                                    }
                                    button id={ "settle-" (step) "-" (r.id) } { (s.t(zh, en)) }
                                }
                            }
                        }
                    }
                }
                @if rows.is_empty() {
                    tr { td.empty colspan="5" { "—" } }
                }
            }
        }
    }
}

/// What a settlement holds and how far it has gone, in words.
fn settlement_words(s: &Session, r: &crate::db::complaints::SettlementRow) -> (String, String) {
    let t = |zh: &str, en: &str| s.t(zh, en).to_string();
    match r.kind.as_str() {
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
                    yuan_text(f.amount_fen)
                ),
                if f.posted {
                    t("已过账", "posted")
                } else if f.manager_approved {
                    t("已批准", "approved")
                } else {
                    t("待批准", "waiting approval")
                },
            ),
            Err(_) => (String::new(), String::new()),
        },
        _ => match serde_json::from_str::<AllowanceCertificate>(&r.body) {
            Ok(c) => (
                format!("¥{}", yuan_text(c.amount_fen)),
                if c.posted {
                    t("已过账", "posted")
                } else if c.gm_countersigned && c.customer_signed {
                    t("待过账", "ready to post")
                } else {
                    t("待签", "waiting signatures")
                },
            ),
            Err(_) => (String::new(), String::new()),
        },
    }
}

/// One return form (退货单) or allowance certificate (销货折让证明单) laid out as the form: the
/// case it settles, the customer, what was approved, received and posted, and the step the
/// user's role may take on it now.
pub async fn settlement_page(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<Uuid>,
    Query(flash): Query<Flash>,
) -> Response {
    let loaded = async {
        let Some(row) = state.db.settlement(id).await? else {
            return Ok(None);
        };
        let Some(stored) = state.db.case(row.case_id).await? else {
            return Ok(None);
        };
        let forms = state.db.case_forms().await?;
        Ok::<_, AppError>(Some((row, stored.case, forms)))
    }
    .await;
    let (row, case, forms) = match loaded {
        Ok(Some((row, case, forms))) if super::cases::visible(&s, &case) => (row, case, forms),
        Ok(_) => return not_found(&s),
        Err(e) => return error_page(&s, e),
    };
    let (customer, defect) = forms.get(&case.id).cloned().unwrap_or_default();
    let yes_no = |b: bool| {
        if b {
            s.t("是", "Yes")
        } else {
            s.t("否", "No")
        }
    };
    let back = format!("/web/settlements/{id}");
    let body = html! {
        section.sheet #settlement-form {
            h2 { (if row.kind == "return" { s.t("退货单(§4.9.3)", "Return form (§4.9.3)") } else { s.t("销货折让证明单(§4.9.2)", "Sales allowance certificate (§4.9.2)") }) }
            dl.form-grid {
                dt { (s.t("投诉编号", "Case number")) }
                dd { a href={ "/web/complaints/" (case.id) } { (case.number.as_deref().unwrap_or(s.t("(未编号)", "(no number yet)"))) } }
                dt { (s.t("客户", "Customer")) } dd { (customer) }
                dt { (s.t("不良原因", "Defect")) } dd { (defect) }
                @match app::stored_settlement(&row.kind, &row.body) {
                    Ok(crate::workflow::settlement::Settlement::Return(f)) => {
                        dt { (s.t("批准退货数量", "Approved quantity")) } dd { (f.approved_quantity) }
                        dt { (s.t("退货金额", "Value")) } dd { "¥" (yuan_text(f.amount_fen)) }
                        dt { (s.t("退货原因", "Reason")) } dd { (f.reason) }
                        dt { (s.t("处理方式", "Handling")) } dd { (f.handling) }
                        dt { (s.t("退回依据", "Basis")) } dd { (f.basis) }
                        dt { (s.t("经(副)理核示", "Approved by the manager")) } dd { (yes_no(f.manager_approved)) }
                        dt { (s.t("货仓实收数量", "Received by the warehouse")) }
                        dd { (f.received_quantity.map(|q| q.to_string()).unwrap_or_else(|| "—".into())) }
                        dt { (s.t("差异说明", "Note on a difference")) } dd { (f.receipt_note) }
                        dt { (s.t("财务过账", "Posted by finance")) } dd { (yes_no(f.posted)) }
                    }
                    Ok(crate::workflow::settlement::Settlement::Allowance(c)) => {
                        dt { (s.t("折让金额", "Allowance")) } dd { "¥" (yuan_text(c.amount_fen)) }
                        dt { (s.t("总经理会签", "Countersigned by the GM")) } dd { (yes_no(c.gm_countersigned)) }
                        dt { (s.t("客户签认", "Signed by the customer")) } dd { (yes_no(c.customer_signed)) }
                        dt { (s.t("财务过账", "Posted by finance")) } dd { (yes_no(c.posted)) }
                    }
                    Err(_) => {}
                }
            }
        }
        h2 { (s.t("可执行的操作", "What you can do")) }
        @let steps = steps_for(s.p.role, &row.kind, &row.body);
        @for (step, zh, en) in &steps {
            form.action method="post" action={ "/web/settlements/" (row.id) "/" (step) } {
                (csrf_field(&s))
                input type="hidden" name="back" value=(back);
                @if *step == "receive" {
                    (count_input("quantity", s.t("实收数量", "Quantity received"), "", true))
                    (input("note", s.t("差异说明", "Note on a difference"), "", false))
                }
                button id={ "settle-" (step) "-" (row.id) } { (s.t(zh, en)) }
            }
        }
        @if steps.is_empty() {
            p.meta { (s.t("此单据目前没有您可执行的操作。", "Nothing for you to do on this form now.")) }
        }
    };
    let title = if row.kind == "return" {
        s.t("退货单", "Return form")
    } else {
        s.t("销货折让证明单", "Sales allowance certificate")
    };
    page(&s, title, &flash, body).into_response()
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
            Some(quantity.parse().map_err(|_| {
                AppError::invalid("the quantity is a whole number")
                    .with_zh(Some("数量应为整数".into()))
            })?)
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
            q => Some(q.parse().map_err(|_| {
                AppError::invalid("the quantity is a whole number")
                    .with_zh(Some("数量应为整数".into()))
            })?),
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
}
