//! Returns and allowances in the browser (§4.9): the settlements of a closed case, the forms
//! that open them and the steps each role takes, offered by the pure workflow's own list.

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::response::Response;
use fieldloop_client_core::model::Role;
use fieldloop_client_core::model::money::yuan_text;
use uuid::Uuid;

use super::html::{csrf_field, esc, input};
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
                        yuan_text(f.amount_fen)
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
                    format!("¥{}", yuan_text(c.amount_fen)),
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
                esc(r
                    .case_number
                    .as_deref()
                    .unwrap_or(s.t("(未编号)", "(no number yet)")))
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
