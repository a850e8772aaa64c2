//! Sign-in, start pages, service work (registering requests, the dispatch board) and record
//! pages with their merged history.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use fieldloop_client_core::model::{RecordDoc, Role};
use uuid::Uuid;

use maud::html;

use super::html::{
    Flash, csrf_field, date_input, input, local, local_ms, page, select, url_encode,
};
use super::{Fields, Posted, Session, back_with};
use crate::AppState;
use crate::app::{service, visits};
use crate::error::AppError;
use crate::export::Lang;

/// Where each role starts.
pub fn start_page(role: Role) -> &'static str {
    match role {
        Role::Clerk => "/web/requests/new",
        Role::FactoryDirector => "/web/dispatch",
        Role::Finance => "/web/finance",
        Role::Chairman => "/web/reports",
        Role::Technician => "/web/records",
        _ => "/web/inbox",
    }
}

pub async fn start(s: Session) -> Redirect {
    Redirect::to(start_page(s.p.role))
}

#[derive(Debug, serde::Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    err: Option<String>,
}

/// The form to change one's own password; shown after sign-in when the password in use does
/// not meet the password rules.
pub async fn password_form(s: Session, Query(flash): Query<Flash>) -> Response {
    let body = html! {
        p { (s.t(
            "请设置新密码:至少 15 个字符,可用空格和中文,几个词组成的短句最好记。",
            "Please choose a new password: at least 15 characters; spaces and any language are fine, and a few words are easiest to remember."
        )) }
        form.action #password-form method="post" action="/web/password" {
            (csrf_field(&s))
            label { (s.t("当前密码", "Current password")) input name="current" type="password" autocomplete="current-password" required; }
            label { (s.t("新密码", "New password")) input name="new" type="password" autocomplete="new-password" minlength="15" required; }
            label { (s.t("再次输入新密码", "New password again")) input name="repeat" type="password" autocomplete="new-password" minlength="15" required; }
            button #change-password type="submit" { (s.t("保存新密码", "Save the new password")) }
        }
    };
    page(&s, s.t("修改密码", "Change password"), &flash, body).into_response()
}

/// Saves a new password for the signed-in user.
pub async fn change_password(
    State(state): State<AppState>,
    Posted { s, form }: Posted,
) -> Response {
    let result = async {
        if form.get("new") != form.get("repeat") {
            return Err(AppError::invalid(
                s.t("两次输入的新密码不一致", "the two new passwords differ"),
            ));
        }
        crate::app::accounts::change_password(&state, &s.p, form.get("current"), form.get("new"))
            .await?;
        Ok(s.t("密码已更新", "Password changed").to_string())
    }
    .await;
    match result {
        Ok(message) => back_with(&s, start_page(s.p.role), Ok(message)),
        Err(e) => back_with(&s, "/web/password", Err(e)),
    }
}

/// Only local back-office paths are followed after sign-in: no other host, no backslash, and
/// no control character or white space (a header cannot carry them, and a CR/LF would split it).
fn safe_next(next: Option<&str>) -> Option<&str> {
    next.filter(|n| {
        n.starts_with("/web")
            && !n.starts_with("//")
            && !n.contains('\\')
            && !n.chars().any(|c| c.is_control() || c.is_whitespace())
    })
}

pub async fn login_form(
    headers: HeaderMap,
    State(state): State<AppState>,
    Query(q): Query<LoginQuery>,
) -> Response {
    let lang = super::lang_of(&headers);
    let t = |zh: &'static str, en: &'static str| if lang == Lang::Zh { zh } else { en };
    let csrf = super::random_token();
    let next = safe_next(q.next.as_deref()).unwrap_or("/web");
    let title = t("登录", "Sign in");
    let body = html! {
        (maud::DOCTYPE)
        html lang=(if lang == Lang::Zh { "zh-CN" } else { "en" }) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Fieldloop" }
                link rel="stylesheet" href="/web/static/app.css";
            }
            body { main.narrow {
                h1 { "Fieldloop · " (title) }
                @if let Some(e) = &q.err { p.flash.err role="alert" { (e) } }
                form #login method="post" action="/web/login" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="next" value=(next);
                    label { (t("用户名", "Username")) input #username name="username" autocomplete="username" required autofocus; }
                    label { (t("密码", "Password")) input #password name="password" type="password" autocomplete="current-password" required; }
                    button #sign-in type="submit" { (title) }
                }
                p { a href={ "/web/lang?to=" (if lang == Lang::Zh { "en" } else { "zh" }) } {
                    (if lang == Lang::Zh { "English" } else { "中文" })
                } }
            } }
        }
    };
    (
        [(
            header::SET_COOKIE,
            super::set_cookie(&state, super::LOGIN_CSRF_COOKIE, &csrf, 3600),
        )],
        Html(body.into_string()),
    )
        .into_response()
}

/// Signs in. The form's token must match the cookie set with the form (login CSRF).
pub async fn login(
    headers: HeaderMap,
    State(state): State<AppState>,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let address = peer.map(|axum::Extension(axum::extract::ConnectInfo(a))| a.ip());
    let form = Fields(form);
    let expected = super::cookie(&headers, super::LOGIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !super::same_token(form.get("csrf"), &expected) {
        return super::csrf_refused(super::lang_of(&headers));
    }
    let next = safe_next(Some(form.get("next")))
        .unwrap_or("/web")
        .to_string();
    match crate::auth::check_credentials(
        &state,
        form.get("username"),
        form.get("password"),
        address,
    )
    .await
    {
        Ok(user) => match super::open_session(&state, &user).await {
            Ok(cookie) => {
                // An account whose password predates the password rules is asked for a new
                // one now (NIST SP 800-63B: at sign-in, not by expiry).
                let weak =
                    crate::auth::check_new_password(form.get("password"), &user.username).is_err();
                let to = if weak {
                    "/web/password".to_string()
                } else if next == "/web" {
                    start_page(user.role).to_string()
                } else {
                    next
                };
                ([(header::SET_COOKIE, cookie)], Redirect::to(&to)).into_response()
            }
            Err(e) => e.into_response(),
        },
        Err(e) => {
            // In the language of the sign-in page: the refusal's own Chinese words, else the
            // gist of its code.
            let message = match (super::lang_of(&headers), &e.message_zh) {
                (Lang::Zh, Some(zh)) => zh.clone(),
                (Lang::Zh, None) => super::gist_zh(e.code.as_str())
                    .map(str::to_string)
                    .unwrap_or_else(|| e.message.clone()),
                (Lang::En, _) => e.message.clone(),
            };
            Redirect::to(&format!(
                "/web/login?next={}&err={}",
                url_encode(&next),
                url_encode(&message)
            ))
            .into_response()
        }
    }
}

pub async fn logout(State(state): State<AppState>, Posted { s, .. }: Posted) -> Response {
    if let Err(e) = super::close_session(&state, &s).await {
        return e.into_response();
    }
    (
        [(
            header::SET_COOKIE,
            super::set_cookie(&state, super::SESSION_COOKIE, "", 0),
        )],
        Redirect::to("/web/login"),
    )
        .into_response()
}

#[derive(Debug, serde::Deserialize)]
pub struct LangQuery {
    to: String,
}

/// Switches the language and goes back where the user was (same site only).
pub async fn switch_lang(
    headers: HeaderMap,
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = if q.to == "en" { "en" } else { "zh" };
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.find("/web").map(|i| r[i..].to_string()))
        .filter(|p| safe_next(Some(p)).is_some() && !p.starts_with("/web/lang"))
        .unwrap_or_else(|| "/web".into());
    (
        [(
            header::SET_COOKIE,
            super::set_cookie(&state, super::LANG_COOKIE, lang, 365 * 86_400),
        )],
        Redirect::to(&back),
    )
        .into_response()
}

pub async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("app.css"),
    )
        .into_response()
}

pub async fn js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("app.js"),
    )
        .into_response()
}

/// Display names of every user, for history and boards.
pub async fn names(state: &AppState) -> Result<HashMap<Uuid, String>, AppError> {
    Ok(state
        .db
        .list_users()
        .await?
        .into_iter()
        .map(|u| (u.id, u.display_name))
        .collect())
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct BoardQuery {
    region: Option<String>,
    #[serde(flatten)]
    flash: Flash,
}

/// The factory director's dispatch board: today's queue, yesterday's carry-overs first and
/// marked priority; one step to assign a technician of the job's region, chosen on purpose (no
/// technician is preselected). Head office can narrow it to one region.
pub async fn dispatch_board(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<BoardQuery>,
) -> Response {
    let queue = match service::dispatch_queue(&state, &s.p).await {
        Ok(q) => q,
        Err(e) => return error_page(&s, e),
    };
    let (users, regions) = match (state.db.list_users().await, state.db.region_names().await) {
        (Ok(u), Ok(r)) => (u, r),
        (Err(e), _) | (_, Err(e)) => return error_page(&s, e.into()),
    };
    let region = q.region.as_deref().filter(|r| !r.is_empty());
    let queue: Vec<_> = queue
        .iter()
        .filter(|i| region.is_none_or(|r| i.region == r))
        .collect();
    let may_dispatch = state.config.dispatchers.contains(&s.p.role) || s.p.role == Role::Admin;
    let body = maud::html! {
        @if s.p.is_head_office() {
            form.filters method="get" action="/web/dispatch" {
                label { (s.t("区域", "Region")) " "
                    select name="region" {
                        option value="" { (s.t("全部", "All")) }
                        @for (code, name) in super::records::sorted(&regions) {
                            option value=(code) selected[region == Some(code.as_str())] { (name) }
                        }
                    }
                }
                " " button type="submit" { (s.t("筛选", "Filter")) }
            }
        }
        p.meta #queue-count { (s.t("待派工", "Waiting")) ": " (queue.len()) }
        table #dispatch-queue {
            thead { tr {
                th { (s.t("优先", "Priority")) }
                th { (s.t("登记日", "Registered")) }
                th { (s.t("客户", "Customer")) }
                th { (s.t("型号", "Model")) }
                th { (s.t("类别", "Category")) }
                th { (s.t("客户要求", "Request")) }
                th { (s.t("区域", "Region")) }
                th { (s.t("派工", "Dispatch")) }
            } }
            tbody {
                @for item in &queue {
                    @let techs: Vec<_> = users.iter().filter(|u| {
                        u.role == Role::Technician && u.active && u.region.as_deref() == Some(&item.region)
                    }).collect();
                    tr {
                        td { @if item.priority { span.badge.prio { (s.t("优先(昨日遗留)", "Priority (carried over)")) } } }
                        td { (item.registered_on) }
                        td { a href={ "/web/records/" (item.id) } { (item.customer_name) } }
                        td { (item.product_model) }
                        td { (super::code_words(&s, &item.category)) }
                        td.desc { (item.description) }
                        td { (regions.get(&item.region).unwrap_or(&item.region)) }
                        td {
                            @if !may_dispatch {
                                span.meta { (s.t("由厂长派工", "The factory director dispatches")) }
                            } @else if techs.is_empty() {
                                (s.t("本区域没有技术人员", "no technician in this region"))
                            } @else {
                                form.inline.dispatch method="post" action={ "/web/visits/" (item.id) "/dispatch" } {
                                    input type="hidden" name="csrf" value=(s.csrf);
                                    input type="hidden" name="priority" value=(item.priority);
                                    select name="technician_id" id={ "tech-" (item.id) } required
                                        aria-label=(s.t("技术人员", "Technician")) {
                                        option value="" { (s.t("选择技术人员", "Choose a technician")) }
                                        @for u in &techs { option value=(u.id) { (u.display_name) } }
                                    }
                                    " " button { (s.t("派工", "Dispatch")) }
                                }
                            }
                        }
                    }
                }
                @if queue.is_empty() {
                    tr { td.empty colspan="8" { (s.t("没有待派工的服务请求", "Nothing waits for dispatch")) } }
                }
            }
        }
    };
    page(&s, s.t("派工看板", "Dispatch board"), &q.flash, body).into_response()
}

pub async fn dispatch(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Posted { s, form }: Posted,
) -> Response {
    let result = async {
        let technician_id = Uuid::parse_str(form.get("technician_id")).map_err(|_| {
            AppError::invalid("choose a technician").with_zh(Some("请选择技术人员".into()))
        })?;
        let body = visits::DispatchRequest {
            technician_id,
            priority: form.get("priority") == "true",
            // The board lists undispatched visits only; a visit another director dispatched
            // meanwhile is refused, not taken over.
            reassign: false,
        };
        visits::dispatch(&state, &s.p, id, body).await?;
        Ok(s.t(
            "已派工,技术人员下次同步时收到任务",
            "Dispatched: the technician's phone gets the job at its next sync",
        )
        .to_string())
    }
    .await;
    back_with(&s, "/web/dispatch", result)
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct RequestQuery {
    /// Part of a customer's name or phone.
    q: Option<String>,
    /// The customer chosen: the product picker lists their products only.
    customer: Option<Uuid>,
    #[serde(flatten)]
    flash: Flash,
}

/// The clerk's form: find the caller (name or phone), register their request (§2.2) against
/// one of their products; add a customer or a product when the caller is new.
pub async fn request_form(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<RequestQuery>,
) -> Response {
    let region = if s.p.is_head_office() {
        None
    } else {
        s.p.region.as_deref()
    };
    let (choices, customers, regions) = match (
        state.db.product_choices(region).await,
        state.db.customers_in(region).await,
        state.db.region_names().await,
    ) {
        (Ok(c), Ok(list), Ok(r)) => (c, list, r),
        (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => return error_page(&s, e.into()),
    };
    let text = q.q.as_deref().unwrap_or("").trim().to_lowercase();
    let found: Vec<_> = customers
        .iter()
        .filter(|c| {
            !text.is_empty()
                && (c.name.to_lowercase().contains(&text) || c.phone.contains(text.as_str()))
        })
        .take(20)
        .collect();
    let chosen = q
        .customer
        .and_then(|id| customers.iter().find(|c| c.id == id));
    let products: Vec<(String, String)> = choices
        .iter()
        .filter(|c| chosen.is_none_or(|k| k.id == c.customer.id))
        .map(|c| {
            (
                c.product.id.to_string(),
                format!(
                    "{} · {} {} · {} ({})",
                    c.customer.name,
                    c.product.name,
                    c.product.model,
                    c.product.serial,
                    c.product.purchase_date
                ),
            )
        })
        .collect();
    let categories = [
        ("A", s.t("A 有偿服务", "A paid")),
        ("B", s.t("B 合同服务", "B contract")),
        ("C", s.t("C 免费保修", "C free warranty")),
        ("D", s.t("D 其他", "D other")),
    ]
    .map(|(v, l)| (v.to_string(), l.to_string()));
    let channels = [
        ("phone", s.t("电话", "Phone")),
        ("letter", s.t("信函", "Letter")),
        ("on_site", s.t("上门", "In person")),
    ]
    .map(|(v, l)| (v.to_string(), l.to_string()));
    let body = html! {
        section #customer-search {
            h2 { (s.t("查找来电客户", "Find the caller")) }
            form.filters method="get" action="/web/requests/new" {
                label { (s.t("客户名称或电话", "Customer name or phone")) " "
                    input type="search" name="q" id="f-q" value=(q.q.as_deref().unwrap_or(""));
                }
                " " button type="submit" #find-customer { (s.t("查找", "Find")) }
            }
            @if !text.is_empty() {
                @if found.is_empty() {
                    p.meta #no-customer { (s.t("没有找到该客户,请在下方添加新客户。", "No such customer: add them below.")) }
                } @else {
                    ul #customers-found {
                        @for c in &found {
                            li { a href={ "/web/requests/new?customer=" (c.id) } { (c.name) " · " (c.phone) " · " (c.address) } }
                        }
                    }
                }
            }
            @if let Some(c) = chosen {
                p #chosen-customer {
                    (s.t("客户:", "Customer: ")) strong { (c.name) } " · " (c.phone) " "
                    a href="/web/requests/new" { (s.t("换一个", "choose another")) }
                }
            }
        }
        section {
            h2 { (s.t("登记服务请求(售后服务通知单)", "Register a service request")) }
            @if products.is_empty() {
                p.meta #no-products { (s.t("该客户还没有登记产品,请先在下方添加产品。", "This customer has no product yet: add it below first.")) }
            }
            form.grid #request-form method="post" action="/web/requests" {
                (csrf_field(&s))
                label { (s.t("客户产品", "Customer's product"))
                    select name="product_id" id="f-product_id" required {
                        @if products.len() != 1 {
                            option value="" { (s.t("选择客户的产品", "Choose the customer's product")) }
                        }
                        @for (v, l) in &products { option value=(v) { (l) } }
                    }
                }
                (select("category", s.t("服务类别", "Category"), &categories))
                (select("channel", s.t("来源", "Channel"), &channels))
                (input("contract_ref", s.t("合同号(B 类)", "Contract (B)"), "", false))
                (input("warranty_reason", s.t("过保仍免费的理由(C 类)", "Reason for free work out of warranty (C)"), "", false))
                (input("description", s.t("故障描述", "Problem"), "", false))
                button #register type="submit" { (s.t("登记", "Register")) }
            }
        }
        section.cols {
            div {
                h2 { (s.t("新客户", "New customer")) }
                form.grid #customer-form method="post" action="/web/customers" {
                    (csrf_field(&s))
                    (input("name", s.t("客户名称", "Name"), "", true))
                    (input("address", s.t("地址", "Address"), "", true))
                    (input("phone", s.t("电话", "Phone"), "", true))
                    @if s.p.is_head_office() {
                        label { (s.t("所属办事处", "Regional office"))
                            select name="region" id="f-region" required {
                                option value="" { (s.t("选择办事处", "Choose the office")) }
                                @for (code, name) in super::records::sorted(&regions) {
                                    option value=(code) { (name) }
                                }
                            }
                        }
                    } @else {
                        input type="hidden" name="region" value=(s.p.region.as_deref().unwrap_or(""));
                    }
                    button type="submit" { (s.t("添加", "Add")) }
                }
            }
            div {
                h2 { (s.t("新产品", "New product")) }
                form.grid #product-form method="post" action="/web/products" {
                    (csrf_field(&s))
                    label { (s.t("客户", "Customer"))
                        select name="customer_id" id="f-customer_id" required {
                            option value="" { (s.t("选择客户", "Choose the customer")) }
                            @for c in &customers {
                                option value=(c.id) selected[chosen.is_some_and(|k| k.id == c.id)] { (c.name) " · " (c.phone) }
                            }
                        }
                    }
                    (input("name", s.t("产品名称", "Product"), "", true))
                    (input("model", s.t("型号", "Model"), "", true))
                    (input("spec", s.t("规格", "Spec"), "", false))
                    (input("serial", s.t("出厂编号", "Serial"), "", false))
                    (date_input("purchase_date", s.t("购买日期", "Purchased"), true))
                    (input("purchase_place", s.t("购买地点", "Where bought"), "", false))
                    (input("warranty_months", s.t("保修月数", "Warranty months"), "12", true))
                    button type="submit" { (s.t("添加", "Add")) }
                }
            }
        }
    };
    page(&s, s.t("服务请求", "Service requests"), &q.flash, body).into_response()
}

pub async fn register_request(
    State(state): State<AppState>,
    Posted { s, form }: Posted,
) -> Response {
    let parsed = Uuid::parse_str(form.get("product_id")).map_err(|_| {
        AppError::invalid("choose the customer's product").with_zh(Some("请选择客户的产品".into()))
    });
    let result = match parsed {
        Ok(product_id) => {
            let body = service::NewRequest {
                product_id,
                category: form.get("category").into(),
                contract_ref: form.get("contract_ref").into(),
                warranty_reason: form.get("warranty_reason").into(),
                channel: form.get("channel").into(),
                description: form.get("description").into(),
            };
            service::register_request(&state, &s.p, body).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(view) => back_with(
            &s,
            &format!("/web/records/{}", view.id),
            Ok(s.t("已登记,等待派工", "Registered: waiting for dispatch")
                .into()),
        ),
        Err(e) => back_with(&s, "/web/requests/new", Err(e)),
    }
}

pub async fn create_customer(
    State(state): State<AppState>,
    Posted { s, form }: Posted,
) -> Response {
    let body = service::NewCustomer {
        name: form.get("name").into(),
        address: form.get("address").into(),
        phone: form.get("phone").into(),
        region: Some(form.get("region").trim())
            .filter(|r| !r.is_empty())
            .map(str::to_string),
    };
    match service::create_customer(&state, &s.p, body).await {
        // Back with the new customer chosen: their first product is added next.
        Ok(c) => back_with(
            &s,
            &format!("/web/requests/new?customer={}", c.id),
            Ok(format!(
                "{} {}",
                s.t("已添加客户", "Customer added:"),
                c.name
            )),
        ),
        Err(e) => back_with(&s, "/web/requests/new", Err(e)),
    }
}

pub async fn create_product(State(state): State<AppState>, Posted { s, form }: Posted) -> Response {
    let result = async {
        let customer_id = Uuid::parse_str(form.get("customer_id")).map_err(|_| {
            AppError::invalid("choose the customer").with_zh(Some("请选择客户".into()))
        })?;
        let warranty_months = form.get("warranty_months").trim().parse().map_err(|_| {
            AppError::invalid("warranty months is a whole number")
                .with_zh(Some("保修月数应为整数".into()))
        })?;
        let body = service::NewProduct {
            customer_id,
            name: form.get("name").into(),
            model: form.get("model").into(),
            spec: form.get("spec").into(),
            serial: form.get("serial").into(),
            purchase_date: form.get("purchase_date").trim().into(),
            purchase_place: form.get("purchase_place").into(),
            warranty_months,
        };
        let p = service::create_product(&state, &s.p, body).await?;
        Ok((
            customer_id,
            format!(
                "{} {} {}",
                s.t("已添加产品", "Product added:"),
                p.name,
                p.model
            ),
        ))
    }
    .await;
    match result {
        Ok((customer, message)) => back_with(
            &s,
            &format!("/web/requests/new?customer={customer}"),
            Ok(message),
        ),
        Err(e) => back_with(&s, "/web/requests/new", Err(e)),
    }
}

/// Where a taken-back product is, its custody register, and the custody steps the user's role
/// may take from there (a dry run of the same rule the API applies).
pub(super) async fn custody_section(
    state: &AppState,
    s: &Session,
    doc: &RecordDoc,
) -> Result<maud::Markup, AppError> {
    use crate::workflow::service::{CustodyEvent, Location, custody_step};
    let Some(receipt) = state.db.receipt(doc.id()).await? else {
        return Ok(maud::Markup::default());
    };
    let at = Location::from_code(&receipt.location)
        .ok_or_else(|| AppError::internal(format!("unknown location {}", receipt.location)))?;
    let signed = ["handback.signer_name", "handback.blob_sha256"]
        .iter()
        .all(|p| {
            doc.get(p)
                .and_then(|v| v.as_text().map(|t| !t.is_empty()))
                .unwrap_or(false)
        });
    let tz = state.config.timezone;
    let names = names(state).await?;
    let history = state.db.custody_history(doc.id()).await?;
    let event_words = |code: &str| match CustodyEvent::from_code(code) {
        Some(e) => s.t(e.labels().0, e.labels().1).to_string(),
        None if code == "issued" => s
            .t("开具收据,技术员取回", "Receipt issued, taken back")
            .into(),
        None => code.to_string(),
    };
    let place_words = |code: &str| match Location::from_code(code) {
        Some(l) => s.t(l.label_zh(), l.label_en()).to_string(),
        None => code.to_string(),
    };
    let steps = [
        CustodyEvent::ToProduction,
        CustodyEvent::RepairDone,
        CustodyEvent::QcAccept,
        CustodyEvent::QcReject,
        CustodyEvent::ReturnToCustomer,
        CustodyEvent::Void,
    ];
    let offered: Vec<CustodyEvent> = steps
        .into_iter()
        .filter(|e| custody_step(at, *e, s.p.role, signed).is_ok())
        .collect();
    // In stock and not yet signed for: the hand-back waits for the customer's signature, which
    // the technician's phone collects (§2.6).
    let waiting = at == Location::InStock && !signed;
    // §2.7: a repair that will miss its promised date is reported (production, the clerk), and
    // marketing tells the customer; each offered while it applies and only once.
    let repairing = !matches!(
        at,
        Location::InStock | Location::ReturnedToCustomer | Location::Voided
    );
    let may_report_late = repairing
        && receipt.will_miss_at.is_none()
        && receipt.customer_told_at.is_none()
        && matches!(s.p.role, Role::Production | Role::Clerk);
    let late = receipt.will_miss_at.is_some()
        || receipt.promised_date.as_deref().is_some_and(|d| {
            chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .is_ok_and(|d| d < crate::workflow::calendar::local_date(tz, state.now()))
        });
    let may_tell = repairing
        && late
        && receipt.customer_told_at.is_none()
        && matches!(
            s.p.role,
            Role::Clerk | Role::Salesperson | Role::MarketingHead
        );
    let section = maud::html! {
        h2 { (s.t("保管与流转", "Custody")) }
        p #custody-location {
            (s.t("现在", "Now")) ": " strong { (s.t(at.label_zh(), at.label_en())) }
            " · " (s.t("收据号", "Receipt")) " " (receipt.number)
        }
        @if waiting {
            p.flash.warn #custody-waiting {
                (s.t(
                    "等待客户交还签字:技术员在手机上请客户签收后,才能交还客户并作废收据(§2.6)。",
                    "Waiting for the customer's hand-back signature: the technician has the customer sign on the phone before the product is returned and the receipt voided (§2.6)."
                ))
            }
        }
        table #custody {
            thead { tr {
                th { (s.t("时间", "When")) } th { (s.t("事件", "Event")) }
                th { (s.t("位置", "Location")) } th { (s.t("经手人", "By")) }
                th { (s.t("说明", "Note")) }
            } }
            tbody {
                @for e in &history {
                    tr {
                        td { (local_ms(tz, e.at)) }
                        td { (event_words(&e.event)) }
                        td { (place_words(&e.location)) }
                        td { (Uuid::parse_str(&e.user_id).ok().and_then(|u| names.get(&u)).cloned().unwrap_or_default()) }
                        td { (e.note) }
                    }
                }
            }
        }
        @if receipt.promised_date.is_some() || (late && repairing) {
            p #promised-date {
                @if let Some(d) = &receipt.promised_date { (s.t("承诺修复日期", "Promised by")) ": " (d) " " }
                @if late && repairing { span.badge.overdue { (s.t("不能按期修复(§2.7)", "late (§2.7)")) } }
                @if receipt.customer_told_at.is_some() { " · " (s.t("已告知客户", "customer told")) }
            }
        }
        @if may_report_late {
            form.action method="post" action={ "/web/receipts/" (doc.id()) "/will-miss" } {
                input type="hidden" name="csrf" value=(s.csrf);
                button #will-miss type="submit" { (s.t("报告不能按期修复(§2.7)", "Report that the repair will be late (§2.7)")) }
            }
        }
        @if may_tell {
            form.action method="post" action={ "/web/receipts/" (doc.id()) "/customer-told" } {
                input type="hidden" name="csrf" value=(s.csrf);
                button #customer-told type="submit" { (s.t("已告知客户延期(§2.7)", "The customer has been told (§2.7)")) }
            }
        }
        @for event in &offered {
            form.action method="post" action={ "/web/receipts/" (doc.id()) "/custody" } {
                input type="hidden" name="csrf" value=(s.csrf);
                input type="hidden" name="event" value=(event.code());
                label { (s.t("说明", "Note")) " " input type="text" name="note"; }
                " "
                button type="submit" id={ "custody-" (event.code()) } {
                    (match event {
                        CustodyEvent::ReturnToCustomer => s.t("交还客户", "Return to the customer"),
                        CustodyEvent::Void => s.t("收回并作废收据", "Void the receipt"),
                        other => s.t(other.labels().0, other.labels().1),
                    })
                }
            }
        }
    };
    Ok(section)
}

/// The office's side of a returned feedback form (§2.3): the clerk logs it in the service
/// record, quality processes and archives it, once the product taken back is returned (§2.6).
/// Each step is offered to the role that does it, once; otherwise the page says what it waits
/// for. The receipts written for the product are linked.
pub(super) async fn visit_office_section(
    state: &AppState,
    s: &Session,
    doc: &RecordDoc,
) -> Result<maud::Markup, AppError> {
    use crate::workflow::service::Location;
    let text = |path: &str| {
        doc.get(path)
            .and_then(|v| v.as_text().map(str::to_string))
            .unwrap_or_default()
    };
    let tz = state.config.timezone;
    let when = |path: &str| {
        chrono::DateTime::parse_from_rfc3339(&text(path))
            .map(|t| local(tz, t.with_timezone(&chrono::Utc)))
            .unwrap_or_default()
    };
    let receipts = state.db.receipts_of_visit(doc.id()).await?;
    let places: Vec<Option<Location>> = receipts
        .iter()
        .map(|(_, _, l)| Location::from_code(l))
        .collect();
    let product_back = places
        .iter()
        .all(|l| matches!(l, Some(Location::ReturnedToCustomer | Location::Voided)));
    let taken_back = text("form.outcome") == "taken_back";
    let completed = !text("form.outcome").is_empty();
    let logged = !text("status.logged_at").is_empty();
    let archived = !text("status.archived_at").is_empty();
    let role = s.p.role;
    let clerk = matches!(role, Role::Clerk | Role::MarketingHead);
    let quality = role == Role::Quality;
    let action = |path: &str, id: &str, zh: &'static str, en: &'static str| {
        maud::html! {
            form.action method="post" action={ "/web/visits/" (doc.id()) "/" (path) } {
                input type="hidden" name="csrf" value=(s.csrf);
                button type="submit" id=(id) { (s.t(zh, en)) }
            }
        }
    };
    let waiting = |zh: &'static str, en: &'static str| {
        maud::html! { p.flash.warn #form-waiting { (s.t(zh, en)) } }
    };
    // §2.2: the director gives a dispatched job to another technician of its office, while the
    // form has not come back.
    let current_tech = text("dispatch.technician");
    let may_reassign = !current_tech.is_empty()
        && !completed
        && (state.config.dispatchers.contains(&role) || role == Role::Admin);
    let others: Vec<_> = if may_reassign {
        state
            .db
            .list_users()
            .await?
            .into_iter()
            .filter(|u| {
                u.role == Role::Technician
                    && u.active
                    && u.region.as_deref() == Some(doc.region())
                    && u.id.to_string() != current_tech
            })
            .collect()
    } else {
        Vec::new()
    };
    let section = maud::html! {
        @if may_reassign && !others.is_empty() {
            form.action #reassign-form method="post" action={ "/web/visits/" (doc.id()) "/reassign" } {
                input type="hidden" name="csrf" value=(s.csrf);
                label { (s.t("改派给", "Reassign to")) " "
                    select name="technician_id" required {
                        option value="" { (s.t("选择技术人员", "Choose a technician")) }
                        @for u in &others { option value=(u.id) { (u.display_name) } }
                    }
                }
                " " button #reassign type="submit" { (s.t("改派", "Reassign")) }
            }
        }
        h2 { (s.t("反馈表登记与归档", "Logging and archiving the form")) " (§2.3)" }
        @if !receipts.is_empty() {
            p #visit-receipts {
                (s.t("收据", "Receipts")) ": "
                @for ((id, number, _), place) in receipts.iter().zip(&places) {
                    a href={ "/web/records/" (id) } { (number) }
                    " (" (place.map(|l| s.t(l.label_zh(), l.label_en())).unwrap_or("")) ") "
                }
            }
        }
        @if logged {
            p #form-logged { (s.t("已登记入服务记录:", "Logged in the service record: ")) (when("status.logged_at")) }
        }
        @if archived {
            p #form-archived { (s.t("已归档:", "Archived: ")) (when("status.archived_at")) }
        }
        @if !completed {
            (waiting("等待技术员交回填好的反馈表", "Waiting for the technician's completed feedback form"))
        } @else if !logged {
            @if clerk {
                (action("log-form", "log-form", "登记入服务记录", "Log in the service record"))
            } @else {
                (waiting("等待文员登记入服务记录", "Waiting for the clerk to log the form"))
            }
        } @else if !archived {
            @if taken_back && receipts.is_empty() {
                (waiting("产品已取回,等待收据登记(§2.5)", "The product was taken back; waiting for its receipt (§2.5)"))
            } @else if taken_back && !product_back {
                (waiting("等待产品修好交还客户并签收后归档(§2.6)", "Archived once the product is repaired, returned and signed for (§2.6)"))
            } @else if quality {
                (action("archive", "archive-form", "处理并归档", "Process and archive"))
            } @else {
                (waiting("等待品质部处理归档", "Waiting for quality to archive the form"))
            }
        }
    };
    Ok(section)
}

/// §2.2: the director gives a dispatched job to another technician; the new one's phone gets it
/// at its next sync, the old one's drops it.
pub async fn reassign(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Posted { s, form }: Posted,
) -> Response {
    let result = async {
        let technician_id = Uuid::parse_str(form.get("technician_id")).map_err(|_| {
            AppError::invalid("choose a technician").with_zh(Some("请选择技术人员".into()))
        })?;
        let body = visits::DispatchRequest {
            technician_id,
            priority: false,
            reassign: true,
        };
        visits::dispatch(&state, &s.p, id, body).await?;
        Ok(s.t(
            "已改派,新技术员下次同步时收到任务",
            "Reassigned: the new technician's phone gets the job at its next sync",
        )
        .to_string())
    }
    .await;
    back_with(&s, &format!("/web/records/{id}"), result)
}

/// The clerk logs a returned form in the service record (§2.3).
pub async fn log_form(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Posted { s, .. }: Posted,
) -> Response {
    let result = service::log_form(&state, &s.p, id).await.map(|_| {
        s.t("已登记入服务记录", "Logged in the service record")
            .to_string()
    });
    back_with(&s, &format!("/web/records/{id}"), result)
}

/// Quality archives a logged form (§2.3, §2.6).
pub async fn archive_form(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Posted { s, .. }: Posted,
) -> Response {
    let result = service::archive_form(&state, &s.p, id)
        .await
        .map(|_| s.t("已归档", "Archived").to_string());
    back_with(&s, &format!("/web/records/{id}"), result)
}

pub async fn receipt_custody(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Posted { s, form }: Posted,
) -> Response {
    let result = async {
        let event = serde_json::from_value(serde_json::Value::String(form.get("event").into()))
            .map_err(|_| {
                AppError::invalid("no such custody step").with_zh(Some("没有这一保管步骤".into()))
            })?;
        let body = service::CustodyRequest {
            event,
            note: form.get("note").into(),
        };
        let entry = service::custody(&state, &s.p, id, body).await?;
        Ok(format!(
            "{} {}",
            s.t("已登记:", "Recorded:"),
            entry.location_zh
        ))
    }
    .await;
    back_with(&s, &format!("/web/records/{id}"), result)
}

/// §2.7: the repair will miss its promised date.
pub async fn receipt_will_miss(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Posted { s, .. }: Posted,
) -> Response {
    let result = service::will_miss(&state, &s.p, id).await.map(|_| {
        s.t(
            "已报告不能按期修复,市场部将告知客户",
            "Reported late: marketing tells the customer",
        )
        .to_string()
    });
    back_with(&s, &format!("/web/records/{id}"), result)
}

/// §2.7: marketing told the customer about the late repair.
pub async fn receipt_customer_told(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Posted { s, .. }: Posted,
) -> Response {
    let result = service::customer_told(&state, &s.p, id).await.map(|_| {
        s.t("已记录告知客户", "Recorded: the customer was told")
            .to_string()
    });
    back_with(&s, &format!("/web/records/{id}"), result)
}

/// A blob (signature image) of a record the user may see, served as the API serves it.
pub async fn blob(State(state): State<AppState>, s: Session, Path(sha): Path<String>) -> Response {
    match crate::app::blobs::get_blob(&state, &s.p, &sha).await {
        Ok((mime, bytes)) => {
            let mut response =
                (crate::http::blobs::blob_headers(&sha, mime), bytes).into_response();
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("private, max-age=3600"),
            );
            response
        }
        Err(e)
            if e.code == crate::error::ErrorCode::NotFound
                || e.code == crate::error::ErrorCode::InvalidInput =>
        {
            not_found(&s)
        }
        Err(e) => error_page(&s, e),
    }
}

/// A page that is not there, or not the user's to see (the same answer: no hint which).
pub fn not_found(s: &Session) -> Response {
    let body = html! {
        p { (s.t("没有此记录,或您无权查看。", "No such record, or not one you may see.")) }
    };
    (
        StatusCode::NOT_FOUND,
        page(s, s.t("没有找到", "Not found"), &Flash::default(), body),
    )
        .into_response()
}

/// The server's refusal or failure as a page.
pub fn error_page(s: &Session, e: AppError) -> Response {
    let body = html! { p.flash.err role="alert" { (super::refusal_text(s, &e)) } };
    (
        crate::http::error::status_of(e.code),
        page(
            s,
            s.t("无法完成", "Cannot do that"),
            &Flash::default(),
            body,
        ),
    )
        .into_response()
}
