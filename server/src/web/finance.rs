//! Finance's desk: the invoice queue (§2.4) and the settlements to post (§4.9.4).

use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use fieldloop_client_core::model::Role;
use uuid::Uuid;

use super::cases::region_filter;
use super::html::{Flash, csrf_field, esc, page};
use super::pages::error_page;
use super::settlements::settlement_table;
use super::{Posted, Session, back_with};
use crate::AppState;
use crate::app::service::{self, InvoiceUpdate};
use crate::error::AppError;

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
                        esc(&super::code_words(&s, &i.method)),
                        esc(&super::code_words(&s, &i.invoice_state)),
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
