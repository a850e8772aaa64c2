//! Returns and allowances in the browser (§4.9): the settlements of a closed case, the forms
//! that open them and the steps each role takes, offered by the pure workflow's own list.

use axum::extract::{Path, State};
use axum::response::Response;
use fieldloop_client_core::model::Role;
use fieldloop_client_core::model::money::yuan_text;
use maud::{Markup, html};
use uuid::Uuid;

use super::html::{csrf_field, input};
use super::{Posted, Session, back_with};
use crate::AppState;
use crate::app::settlements::{self as app, NewAllowance, NewReturn, StepBody};
use crate::error::AppError;
use crate::workflow::settlement::{AllowanceCertificate, ReturnForm};

/// Settlements of a closed case, with the steps the user's role does and the forms that open
/// new ones (marketing).
pub(super) fn settlement_section<'a>(
    s: &Session,
    case: Uuid,
    rows: impl Iterator<Item = &'a crate::db::complaints::SettlementRow>,
) -> Markup {
    html! {
        h2 { (s.t("退货与折让", "Returns and allowances")) }
        (settlement_table(s, rows, &format!("/web/complaints/{case}")))
        @if matches!(s.p.role, Role::Salesperson | Role::MarketingHead) {
            form.action method="post" action={ "/web/complaints/" (case) "/returns" } {
                (csrf_field(s))
                (input("approved_quantity", s.t("退货数量(按批准)", "Quantity (as approved)"), "", false))
                (input("reason", s.t("退货原因", "Reason"), "", true))
                (input("handling", s.t("处理方式", "Handling"), "", true))
                (input("basis", s.t("退回依据", "Basis"), "", true))
                button { (s.t("开退货单", "Open a return form")) }
            }
            form.action method="post" action={ "/web/complaints/" (case) "/allowances" } {
                (csrf_field(s))
                (input("amount", s.t("折让金额(元)", "Allowance (yuan)"), "", true))
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
                        td { (if r.kind == "return" { s.t("退货单", "Return form") } else { s.t("折让证明单", "Allowance") }) }
                        td { (what) }
                        td { (state) }
                        td {
                            @for (step, zh, en) in steps_for(s.p.role, &r.kind, &r.body) {
                                form.inline method="post" action={ "/web/settlements/" (r.id) "/" (step) } {
                                    (csrf_field(s))
                                    input type="hidden" name="back" value=(back);
                                    @if step == "receive" {
                                        (input("quantity", s.t("实收数量", "Quantity received"), "", true))
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
