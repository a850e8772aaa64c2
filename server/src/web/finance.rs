//! Finance's desk: the invoice queue (§2.4) and the settlements to post (§4.9.4).

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use fieldloop_client_core::model::Role;
use fieldloop_client_core::model::money::yuan_text;
use maud::html;
use uuid::Uuid;

use super::cases::region_filter;
use super::html::{Flash, page};
use super::pages::error_page;
use super::settlements::settlement_table;
use super::{Posted, Session, back_with};
use crate::AppState;
use crate::app::service::{self, InvoiceItem, InvoiceUpdate};
use crate::error::AppError;

/// What finance does next with a fee: cash taken on site is handed in first and the invoice
/// mailed after (§2.4); an invoiced fee is collected against its invoice.
fn next_step(i: &InvoiceItem) -> Option<&'static str> {
    let cash = i.method == "cash_on_site";
    if !i.collected && (cash || i.issued) {
        Some("collected")
    } else if !i.issued {
        Some("issued")
    } else {
        None
    }
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
            AppError::forbidden("the finance desk is for finance and the management")
                .with_zh(Some("财务页面只供财务部与管理层使用".into())),
        );
    }
    let queue = service::invoice_queue(&state, &s.p).await;
    let settlements = match state.db.settlements(region_filter(&s)).await {
        Ok(r) => r,
        Err(e) => return error_page(&s, e.into()),
    };
    let body = html! {
        h2 { (s.t("发票队列", "Invoice queue")) }
        @match &queue {
            Ok(items) if items.is_empty() => {
                p.meta { (s.t("没有待开票或待收款的费用。", "No fee waits for an invoice or its money.")) }
            }
            Ok(items) => {
                table #invoices {
                    thead { tr {
                        th { (s.t("客户", "Customer")) }
                        th { (s.t("费用", "Fee")) }
                        th { (s.t("方式", "Method")) }
                        th { (s.t("状态", "State")) }
                        th { (s.t("发票号码", "Invoice number")) }
                        th { (s.t("操作", "Action")) }
                    } }
                    tbody {
                        @for i in items {
                            tr {
                                td { a href={ "/web/records/" (i.id) } { (i.customer_name) } }
                                td.num { "¥" (yuan_text(i.fee_fen)) }
                                td { (super::code_words(&s, &i.method)) }
                                td { (super::code_words(&s, &i.invoice_state)) }
                                td { (i.invoice_no) }
                                td {
                                    @match next_step(i) {
                                        Some("issued") => {
                                            form.inline method="post" action={ "/web/visits/" (i.id) "/invoice" } {
                                                input type="hidden" name="csrf" value=(s.csrf);
                                                input type="hidden" name="state" value="issued";
                                                label { (s.t("发票号码", "Invoice number")) " "
                                                    input type="text" name="invoice_no" required maxlength="40" size="14";
                                                }
                                                " "
                                                button { (s.t("已开票", "Invoice issued")) }
                                            }
                                        }
                                        Some(step) => {
                                            form.inline method="post" action={ "/web/visits/" (i.id) "/invoice" } {
                                                input type="hidden" name="csrf" value=(s.csrf);
                                                input type="hidden" name="state" value=(step);
                                                button { (s.t("已收款", "Money collected")) }
                                            }
                                        }
                                        None => {}
                                    }
                                }
                            }
                        }
                    }
                }
            }
            Err(_) => { p.meta #invoices-finance { (s.t("发票由财务部开具和收款,这里只列出退货与折让。", "Invoices are issued and collected by finance; listed here are returns and allowances.")) } }
        }
        h2 { (s.t("退货与折让过账", "Return and allowance postings")) }
        (settlement_table(&s, settlements.iter(), "/web/finance"))
    };
    page(&s, s.t("财务", "Finance"), &flash, body).into_response()
}

pub async fn set_invoice(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Posted { s, form }: Posted,
) -> Response {
    let body = InvoiceUpdate {
        state: form.get("state").into(),
        invoice_no: Some(form.get("invoice_no").to_string()).filter(|n| !n.trim().is_empty()),
    };
    let result = service::set_invoice(&state, &s.p, id, body)
        .await
        .map(|_| s.t("已更新", "Updated").to_string());
    back_with(&s, "/web/finance", result)
}
