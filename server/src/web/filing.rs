//! 客户投诉处理单 filed in the browser (§4.6.1): a salesperson who takes a complaint by phone
//! or in person records the order, model, delivery date, defect and the customer's demand, and
//! the form goes to quality through the same function as the API and the phone.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use fieldloop_client_core::model::DocKind;
use fieldloop_client_core::model::roles::may_create;
use maud::html;

use super::html::{Fields, Flash, count_input, csrf_field, input, money_input, page};
use super::pages::error_page;
use super::{Posted, Session, back_with};
use crate::AppState;
use crate::app::complaints::{self as app, NewComplaint};
use crate::error::AppError;

/// The empty form; customers of the office are offered as the name is typed.
pub async fn complaint_form(
    State(state): State<AppState>,
    s: Session,
    Query(flash): Query<Flash>,
) -> Response {
    form_page(&state, &s, &Fields(Vec::new()), &flash).await
}

/// The form with `values` in it: empty at first, as typed after a refusal (nothing typed is
/// lost to a mistake in one field).
async fn form_page(state: &AppState, s: &Session, values: &Fields, flash: &Flash) -> Response {
    if !may_create(s.p.role, DocKind::Complaint) {
        let refused = AppError::forbidden("complaints are filed by salespeople (§4.6.1)")
            .with_zh(Some("投诉处理单由业务人员填写(§4.6.1)".into()));
        return error_page(s, refused);
    }
    let region = if s.p.is_head_office() {
        None
    } else {
        s.p.region.as_deref()
    };
    let (customers, regions) = match (
        state.db.customers_in(region).await,
        state.db.region_names().await,
    ) {
        (Ok(c), Ok(r)) => (c, r),
        (Err(e), _) | (_, Err(e)) => return error_page(s, e.into()),
    };
    let v = |name: &str| values.get(name).to_string();
    let or = |name: &str, default: &str| {
        Some(values.get(name))
            .filter(|x| !x.is_empty())
            .unwrap_or(default)
            .to_string()
    };
    let body = html! {
        p.meta { (s.t(
            "填写后送品质部受理编号(§4.6.1、§4.6.4)。内部处理记录不给客户看(§4.6.9)。",
            "Once filed, the form goes to quality to be accepted and numbered (§4.6.1, §4.6.4). The internal record is never shown to the customer (§4.6.9)."
        )) }
        form.grid #complaint-form method="post" action="/web/complaints" {
            (csrf_field(s))
            label { (s.t("客户名称", "Customer"))
                input name="customer_name" id="f-customer_name" list="customers" value=(v("customer_name")) required;
            }
            datalist #customers {
                @for c in &customers { option value=(c.name) {} }
            }
            @if s.p.is_head_office() {
                label { (s.t("所属办事处", "Regional office"))
                    select name="region" id="f-region" required {
                        option value="" { (s.t("选择办事处", "Choose the office")) }
                        @for (code, name) in super::records::sorted(&regions) {
                            option value=(code) selected[values.get("region") == code] { (name) }
                        }
                    }
                }
            }
            (input("order_number", s.t("订单号", "Order number"), &v("order_number"), true))
            (input("product_model", s.t("产品型号", "Model"), &v("product_model"), true))
            (input("product_spec", s.t("规格", "Specification"), &v("product_spec"), false))
            (count_input("quantity", s.t("数量", "Quantity"), &or("quantity", "1"), true))
            label { (s.t("交货日期", "Delivered on"))
                input type="date" name="delivery_date" id="f-delivery_date" value=(v("delivery_date")) required;
            }
            label.wide { (s.t("不良情况", "Defect"))
                textarea name="defect" id="f-defect" rows="3" required { (v("defect")) }
            }
            label.wide { (s.t("客户要求", "Customer's demand"))
                textarea name="customer_demand" id="f-customer_demand" rows="3" required { (v("customer_demand")) }
            }
            (money_input("claimed", s.t("客户索赔金额(元)", "Claimed (yuan)"), &or("claimed", "0"), false))
            label.tick {
                input type="checkbox" name="severe" id="f-severe" value="1" checked[values.ticked("severe")];
                " " (s.t("严重意见(须书面报告部长,§3.3)", "Severe (reported to the head in writing, §3.3)"))
            }
            div.wide { button #file-complaint type="submit" { (s.t("提交品质部", "File with quality")) } }
        }
    };
    page(s, s.t("客户投诉处理单", "Complaint form"), flash, body).into_response()
}

/// Files the form; the new case's page follows, or the form again, as typed, with the refusal.
pub async fn file(State(state): State<AppState>, Posted { s, form }: Posted) -> Response {
    let refused = |e: AppError| Flash {
        ok: None,
        err: Some(super::refusal_text(&s, &e)),
    };
    let quantity = match form.get("quantity").trim().parse::<i64>() {
        Ok(n) => n,
        Err(_) => {
            let e = AppError::invalid("the quantity is a whole number of pieces")
                .with_zh(Some("数量须为整数件数".into()));
            return form_page(&state, &s, &form, &refused(e)).await;
        }
    };
    let region = Some(form.get("region").trim())
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    let body = NewComplaint {
        customer_name: form.get("customer_name").into(),
        order_number: form.get("order_number").into(),
        product_model: form.get("product_model").into(),
        product_spec: form.get("product_spec").into(),
        quantity,
        delivery_date: form.get("delivery_date").into(),
        defect: form.get("defect").into(),
        customer_demand: form.get("customer_demand").into(),
        claimed: Some(form.get("claimed").trim().to_string()),
        severe: form.ticked("severe"),
        region,
        original_case: None,
    };
    match app::file_complaint(&state, &s.p, body).await {
        Ok(view) => back_with(
            &s,
            &format!("/web/complaints/{}", view.id),
            Ok(s.t(
                "已提交,等待品质部受理",
                "Filed: waiting for quality to accept it",
            )
            .into()),
        ),
        Err(e) => form_page(&state, &s, &form, &refused(e)).await,
    }
}
