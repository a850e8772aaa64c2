//! The admin's pages (账号管理): accounts (create, reset a password, disable and enable),
//! an account's phones (revoke a lost one), the regional offices, master data import from CSV
//! or XLSX with its row-by-row report, and the audit log. Built with maud, so every value is
//! escaped by the template itself.

use axum::extract::{Multipart, Path, Query, State};
use axum::response::{IntoResponse, Response};
use fieldloop_client_core::model::Role;
use fieldloop_client_core::model::roles::ALL_ROLES;
use maud::{Markup, html};
use uuid::Uuid;

use super::html::{Fields, Flash, page};
use super::pages::error_page;
use super::{Posted, Session, back_with};
use crate::AppState;
use crate::app::accounts::{self, NewUser, PasswordReset};
use crate::app::masters::{self, ImportKind, ImportReport};
use crate::db::masters::Region;
use crate::error::AppError;

/// The refusal page for anyone but an admin; `None` for an admin.
fn not_admin(s: &Session) -> Option<Response> {
    (s.p.role != Role::Admin).then(|| {
        error_page(
            s,
            AppError::forbidden("account management is for an admin")
                .with_zh(Some("账号管理只由管理员办理".into())),
        )
    })
}

fn csrf(s: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(s.csrf); }
}

/// The admin pages' own tabs.
fn tabs(s: &Session) -> Markup {
    html! {
        nav.tabs {
            a href="/web/admin" { (s.t("账号", "Accounts")) }
            " · "
            a href="/web/admin/regions" { (s.t("区域", "Regions")) }
            " · "
            a href="/web/admin/import" { (s.t("导入", "Import")) }
            " · "
            a href="/web/admin/alerts" { (s.t("提醒设置", "Alert setup")) }
            " · "
            a href="/web/admin/audit" { (s.t("审计日志", "Audit log")) }
        }
    }
}

/// An RFC 3339 time as the company reads it: `2026-12-02 05:30`.
fn local(state: &AppState, rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| {
            t.with_timezone(&state.config.timezone)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

fn role_label(s: &Session, role: Role) -> String {
    s.t(role.label_zh(), role.label_en()).to_string()
}

fn region_label(regions: &[Region], code: Option<&str>) -> String {
    match code {
        None => "总部".into(),
        Some(code) => regions
            .iter()
            .find(|r| r.code == code)
            .map_or_else(|| code.to_string(), |r| r.name.clone()),
    }
}

/// 账号管理: every account with its actions, and a form for a new one.
pub async fn users(
    State(state): State<AppState>,
    s: Session,
    Query(flash): Query<Flash>,
) -> Response {
    if let Some(refused) = not_admin(&s) {
        return refused;
    }
    // Disabled accounts too, with their state (the API's list is of usable accounts).
    let (users, regions) = match (
        state.db.list_users().await.map_err(AppError::from),
        masters::regions(&state).await,
    ) {
        (Ok(u), Ok(r)) => (u, r),
        (Err(e), _) | (_, Err(e)) => return error_page(&s, e),
    };
    let body = html! {
        (tabs(&s))
        table #users {
            thead { tr {
                th { (s.t("姓名", "Name")) } th { (s.t("用户名", "Username")) }
                th { (s.t("角色", "Role")) } th { (s.t("区域", "Region")) }
                th { (s.t("状态", "State")) } th { (s.t("操作", "Actions")) }
            } }
            tbody {
                @for u in &users {
                    tr {
                        td { a href={ "/web/admin/users/" (u.id) } { (u.display_name) } }
                        td { (u.username) }
                        td { (role_label(&s, u.role)) }
                        td { (region_label(&regions, u.region.as_deref())) }
                        td {
                            @if u.active { (s.t("在用", "Active")) }
                            @else { span.badge.overdue { (s.t("已停用", "Disabled")) } }
                        }
                        td {
                            @if u.id != s.p.user_id {
                                form.inline method="post" action={ "/web/admin/users/" (u.id) "/password" } {
                                    (csrf(&s))
                                    input type="password" name="password" autocomplete="new-password" required
                                        minlength="15" placeholder=(s.t("新密码(至少 15 个字符)", "New password (15+ characters)"))
                                        aria-label=(s.t("新密码", "New password"));
                                    button { (s.t("重置密码", "Reset password")) }
                                }
                                form.inline method="post" action={ "/web/admin/users/" (u.id) "/active" } {
                                    (csrf(&s))
                                    @if u.active {
                                        input type="hidden" name="active" value="0";
                                        button { (s.t("停用", "Disable")) }
                                    } @else {
                                        input type="hidden" name="active" value="1";
                                        button { (s.t("启用", "Enable")) }
                                    }
                                }
                            }
                            a href={ "/web/admin/users/" (u.id) } { (s.t("手机", "Phones")) }
                        }
                    }
                }
            }
        }
        h2 { (s.t("新建账号", "New account")) }
        form #new-user method="post" action="/web/admin/users" {
            (csrf(&s))
            label { (s.t("用户名", "Username")) input name="username" required autocomplete="off"; }
            label { (s.t("姓名", "Name")) input name="display_name" required; }
            label { (s.t("角色", "Role"))
                select name="role" required {
                    @for r in ALL_ROLES.iter().filter(|r| **r != Role::Admin) {
                        option value=(r.code()) { (role_label(&s, *r)) }
                    }
                }
            }
            label { (s.t("区域", "Region"))
                select name="region" {
                    option value="" { (s.t("总部", "Head office")) }
                    @for r in &regions { option value=(r.code) { (r.name) } }
                }
            }
            label { (s.t("初始密码", "First password"))
                input type="password" name="password" required minlength="15" autocomplete="new-password";
            }
            button { (s.t("创建", "Create")) }
        }
    };
    page(&s, s.t("账号管理", "Accounts"), &flash, body).into_response()
}

pub async fn create_user(State(state): State<AppState>, Posted { s, form }: Posted) -> Response {
    let role = match form.get("role").parse::<Role>() {
        Ok(r) => r,
        Err(e) => {
            let refused = AppError::invalid(e).with_zh(Some("请选择角色".into()));
            return back_with(&s, "/web/admin", Err(refused));
        }
    };
    let body = NewUser {
        username: form.get("username").into(),
        display_name: form.get("display_name").into(),
        password: form.get("password").into(),
        role,
        region: Some(form.get("region").to_string()).filter(|r| !r.is_empty()),
    };
    let result = accounts::create_user(&state, &s.p, body)
        .await
        .map(|u| format!("{}{}", s.t("已创建账号 ", "Created "), u.username));
    back_with(&s, "/web/admin", result)
}

pub async fn reset_password(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Posted { s, form }: Posted,
) -> Response {
    let body = PasswordReset {
        password: form.get("password").into(),
    };
    let result = accounts::reset_password(&state, &s.p, id, body)
        .await
        .map(|()| {
            s.t(
                "密码已重置,该账号须重新登录",
                "Password reset; the account must sign in again",
            )
            .to_string()
        });
    back_with(&s, "/web/admin", result)
}

pub async fn set_active(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Posted { s, form }: Posted,
) -> Response {
    let active = form.get("active") == "1";
    let result = accounts::set_user_active(&state, &s.p, id, active)
        .await
        .map(|()| {
            if active {
                s.t("账号已启用", "Account enabled")
            } else {
                s.t("账号已停用", "Account disabled")
            }
            .to_string()
        });
    back_with(&s, "/web/admin", result)
}

/// One account's phones, each revocable (a lost phone).
pub async fn user_page(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    s: Session,
    Query(flash): Query<Flash>,
) -> Response {
    if let Some(refused) = not_admin(&s) {
        return refused;
    }
    let user = match state.db.user_by_id(id).await {
        Ok(Some(u)) => u,
        Ok(None) => {
            return error_page(
                &s,
                AppError::not_found("there is no such account")
                    .with_zh(Some("没有这个账号".into())),
            );
        }
        Err(e) => return error_page(&s, e.into()),
    };
    let devices = match accounts::user_devices(&state, &s.p, id).await {
        Ok(d) => d,
        Err(e) => return error_page(&s, e),
    };
    let back = format!("/web/admin/users/{id}");
    let body = html! {
        (tabs(&s))
        p { (s.t("账号", "Account")) ": " strong { (user.display_name) } " (" (user.username) ") · " (role_label(&s, user.role)) }
        h2 { (s.t("已登记的手机", "Registered phones")) }
        @if devices.is_empty() {
            p { (s.t("尚未登记手机。", "No phone registered yet.")) }
        } @else {
            table #devices {
                thead { tr {
                    th { (s.t("手机", "Phone")) } th { (s.t("登记时间", "Registered")) }
                    th { (s.t("状态", "State")) } th { (s.t("操作", "Actions")) }
                } }
                tbody {
                    @for d in &devices {
                        tr {
                            td { (d.name) }
                            td { (local(&state, &d.registered_at)) }
                            td {
                                @if let Some(at) = &d.revoked_at {
                                    span.badge.overdue { (s.t("已吊销 ", "Revoked ")) (local(&state, at)) }
                                } @else { (s.t("在用", "In use")) }
                            }
                            td {
                                @if d.revoked_at.is_none() {
                                    form.inline method="post" action={ "/web/admin/devices/" (d.id) "/revoke" } {
                                        (csrf(&s))
                                        input type="hidden" name="back" value=(back);
                                        button { (s.t("吊销(手机丢失)", "Revoke (lost phone)")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page(&s, s.t("账号的手机", "Account's phones"), &flash, body).into_response()
}

pub async fn revoke_device(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Posted { s, form }: Posted,
) -> Response {
    let back = form.get("back");
    let back = if back.starts_with("/web/admin/") {
        back.to_string()
    } else {
        "/web/admin".into()
    };
    let result = accounts::revoke_device(&state, &s.p, id).await.map(|()| {
        s.t(
            "手机已吊销,下次同步时即被拒绝",
            "Phone revoked: its next sync is refused",
        )
        .to_string()
    });
    back_with(&s, &back, result)
}

/// 区域管理: the regional offices, and a form for a new one.
pub async fn regions(
    State(state): State<AppState>,
    s: Session,
    Query(flash): Query<Flash>,
) -> Response {
    if let Some(refused) = not_admin(&s) {
        return refused;
    }
    let regions = match masters::regions(&state).await {
        Ok(r) => r,
        Err(e) => return error_page(&s, e),
    };
    let body = html! {
        (tabs(&s))
        table #regions {
            thead { tr { th { (s.t("代码", "Code")) } th { (s.t("名称", "Name")) } } }
            tbody { @for r in &regions { tr { td { (r.code) } td { (r.name) } } } }
        }
        h2 { (s.t("新增区域", "New region")) }
        form #new-region method="post" action="/web/admin/regions" {
            (csrf(&s))
            label { (s.t("代码(小写字母,如 wuhan)", "Code (lower case, such as wuhan)"))
                input name="code" required pattern="[a-z0-9-]{2,32}"; }
            label { (s.t("名称", "Name")) input name="name" required placeholder="武汉办事处"; }
            button { (s.t("新增", "Add")) }
        }
    };
    page(&s, s.t("区域管理", "Regions"), &flash, body).into_response()
}

pub async fn add_region(State(state): State<AppState>, Posted { s, form }: Posted) -> Response {
    let body = Region {
        code: form.get("code").into(),
        name: form.get("name").into(),
    };
    let result = masters::add_region(&state, &s.p, body)
        .await
        .map(|r| format!("{}{}", s.t("已新增区域 ", "Added region "), r.name));
    back_with(&s, "/web/admin/regions", result)
}

const KINDS: [ImportKind; 3] = [
    ImportKind::Customers,
    ImportKind::Products,
    ImportKind::Users,
];

fn import_form(s: &Session, report: Option<&ImportReport>) -> Markup {
    html! {
        (tabs(s))
        p { (s.t(
            "先下载模板填写(CSV 请存为 UTF-8;也可用 XLSX),再上传。先“检查”:每一行的错误都会列出;全部无误后再“导入”,整份文件一次写入,有任何错误则一行也不写入。",
            "Download a template, fill it in (CSV saved as UTF-8, or XLSX), then upload it. Check first: every bad row is listed; import writes the whole file at once, and nothing at all if any row is bad."
        )) }
        table #templates {
            thead { tr { th { (s.t("数据", "Data")) } th { (s.t("模板", "Template")) } th { (s.t("列", "Columns")) } } }
            tbody {
                @for k in KINDS {
                    tr {
                        td { (s.t(k.label().0, k.label().1)) }
                        td {
                            a href={ "/web/admin/import/" (k.code()) "/template?format=xlsx" } { "XLSX" }
                            " · "
                            a href={ "/web/admin/import/" (k.code()) "/template" } { "CSV" }
                        }
                        td {
                            @for (i, c) in k.columns().iter().enumerate() {
                                @if i > 0 { "、" }
                                (s.t(c.zh, c.en))
                                @if !c.required { (s.t("(可空)", " (optional)")) }
                            }
                        }
                    }
                }
            }
        }
        form #import method="post" action="/web/admin/import" enctype="multipart/form-data" {
            (csrf(s))
            label { (s.t("数据", "Data"))
                select name="kind" {
                    @for k in KINDS {
                        option value=(k.code()) selected[report.is_some_and(|r| r.kind == k)] { (s.t(k.label().0, k.label().1)) }
                    }
                }
            }
            label { (s.t("文件(CSV 或 XLSX)", "File (CSV or XLSX)"))
                input type="file" name="file" required accept=".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
            }
            button name="mode" value="check" { (s.t("检查", "Check")) }
            button name="mode" value="commit" { (s.t("导入", "Import")) }
        }
        @if let Some(r) = report {
            h2 { (s.t("结果", "Result")) }
            @if r.committed {
                p.flash.ok role="status" { (s.t("已导入 ", "Imported ")) (r.created) (s.t(" 行。", " rows.")) }
            } @else if r.errors.is_empty() {
                p.flash.ok role="status" { (r.rows) (s.t(" 行全部无误,可以导入。", " rows, all good: ready to import.")) }
            } @else {
                p.flash.err role="alert" {
                    (r.rows) (s.t(" 行中有错误,未写入任何数据:", " rows read; errors found, nothing written:"))
                }
                table #import-errors {
                    thead { tr { th { (s.t("行", "Row")) } th { (s.t("列", "Column")) } th { (s.t("原因", "Reason")) } } }
                    tbody {
                        @for e in &r.errors {
                            tr { td { (e.row) } td { (e.column) } td { (s.t(&e.reason_zh, &e.reason_en)) } }
                        }
                    }
                }
            }
        }
    }
}

/// 数据导入: templates, the upload form and, after an upload, its report.
pub async fn import_page(s: Session, Query(flash): Query<Flash>) -> Response {
    if let Some(refused) = not_admin(&s) {
        return refused;
    }
    page(&s, s.t("数据导入", "Import"), &flash, import_form(&s, None)).into_response()
}

/// An uploaded file, checked (and written when asked and every row is good); the page shows
/// the report. The CSRF token is checked before the file is looked at.
pub async fn import_upload(
    State(state): State<AppState>,
    s: Session,
    mut parts: Multipart,
) -> Response {
    let mut fields = Vec::new();
    let mut file = Vec::new();
    loop {
        match parts.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_string();
                let bytes = match field.bytes().await {
                    Ok(b) => b,
                    Err(e) => {
                        return back_with(
                            &s,
                            "/web/admin/import",
                            Err(AppError::invalid(format!("the upload broke off: {e}"))
                                .with_zh(Some("上传中断,请重新上传文件".into()))),
                        );
                    }
                };
                if name == "file" {
                    file = bytes.to_vec();
                } else {
                    fields.push((name, String::from_utf8_lossy(&bytes).into_owned()));
                }
            }
            Ok(None) => break,
            Err(e) => {
                return back_with(
                    &s,
                    "/web/admin/import",
                    Err(AppError::invalid(format!("the upload cannot be read: {e}"))
                        .with_zh(Some("无法读取上传的文件,请重新上传".into()))),
                );
            }
        }
    }
    let form = Fields(fields);
    if let Some(refused) = s.csrf_refusal(&form) {
        return refused;
    }
    let result = match ImportKind::parse(form.get("kind")) {
        Ok(kind) => masters::import(&state, &s.p, kind, &file, form.get("mode") == "commit").await,
        Err(e) => Err(e),
    };
    match result {
        Ok(report) => page(
            &s,
            s.t("数据导入", "Import"),
            &Flash::default(),
            import_form(&s, Some(&report)),
        )
        .into_response(),
        Err(e) => back_with(&s, "/web/admin/import", Err(e)),
    }
}

/// A template download from the back office.
pub async fn template(
    s: Session,
    Path(kind): Path<String>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let xlsx = q.get("format").is_some_and(|f| f == "xlsx");
    let kind = match ImportKind::parse(&kind) {
        Ok(k) => k,
        Err(e) => return error_page(&s, e),
    };
    match masters::template_download(kind, xlsx) {
        Ok(d) => (
            [
                (axum::http::header::CONTENT_TYPE, d.mime.to_string()),
                (axum::http::header::CONTENT_DISPOSITION, d.disposition),
            ],
            d.bytes,
        )
            .into_response(),
        Err(e) => error_page(&s, e),
    }
}

/// 审计日志: who changed which account, device, region or master data, newest first.
pub async fn audit(
    State(state): State<AppState>,
    s: Session,
    Query(flash): Query<Flash>,
) -> Response {
    if let Some(refused) = not_admin(&s) {
        return refused;
    }
    let entries = match accounts::audit_log(&state, &s.p).await {
        Ok(e) => e,
        Err(e) => return error_page(&s, e),
    };
    let action = |a: &str| -> String {
        let (zh, en) = match a {
            "reset_password" => ("重置密码", "Password reset"),
            "disable_user" => ("停用账号", "Account disabled"),
            "enable_user" => ("启用账号", "Account enabled"),
            "revoke_device" => ("吊销手机", "Phone revoked"),
            "add_region" => ("新增区域", "Region added"),
            "import_customers" => ("导入客户", "Customers imported"),
            "import_products" => ("导入产品", "Products imported"),
            "import_users" => ("导入用户", "Users imported"),
            other => (other, other),
        };
        s.t(zh, en).to_string()
    };
    let body = html! {
        (tabs(&s))
        table #audit {
            thead { tr {
                th { (s.t("时间", "When")) } th { (s.t("操作人", "Who")) }
                th { (s.t("操作", "What")) } th { (s.t("对象", "On")) } th { (s.t("说明", "Detail")) }
            } }
            tbody {
                @for e in &entries {
                    tr {
                        td { (local(&state, &e.at)) } td { (e.actor) }
                        td { (action(&e.action)) } td { (e.target) } td { (e.detail) }
                    }
                }
            }
        }
    };
    page(&s, s.t("审计日志", "Audit log"), &flash, body).into_response()
}
