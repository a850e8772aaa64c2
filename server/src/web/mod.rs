//! The back office in the browser (`/web/...`): server-rendered pages over the same rules as the
//! API. Every action a page offers is carried out by calling the API's own handler with the
//! signed-in user, so the server refuses in the browser exactly what it refuses over HTTP.
//!
//! Sessions: a random token in an HttpOnly, SameSite=Strict cookie (only its hash is stored),
//! a CSRF token per session that every form carries, and a Content-Security-Policy that allows
//! nothing but this server's own script, style and images.

mod admin;
mod alerts;
mod cases;
mod feedback;
mod filing;
mod finance;
pub(crate) mod html;
mod inbox;
mod pages;
mod records;
mod reports;
mod reviews;
mod settlements;
mod surveys;

use axum::Form;
use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::access::Principal;
use crate::db::accounts::User;
use crate::error::AppError;
use crate::export::Lang;

pub use html::Fields;

const SESSION_COOKIE: &str = "fl_session";
const LOGIN_CSRF_COOKIE: &str = "fl_login_csrf";
const LANG_COOKIE: &str = "fl_lang";
/// A browser session lasts a working day.
const SESSION_SECS: i64 = 12 * 3600;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/web") }))
        .route("/web", get(pages::start))
        .route("/web/login", get(pages::login_form).post(pages::login))
        .route("/web/logout", post(pages::logout))
        .route(
            "/web/password",
            get(pages::password_form).post(pages::change_password),
        )
        .route("/web/lang", get(pages::switch_lang))
        .route("/web/static/app.css", get(pages::css))
        .route("/web/static/app.js", get(pages::js))
        .route("/web/inbox", get(inbox::inbox))
        .route("/web/dispatch", get(pages::dispatch_board))
        .route("/web/visits/{id}/dispatch", post(pages::dispatch))
        .route("/web/requests/new", get(pages::request_form))
        .route("/web/requests", post(pages::register_request))
        .route("/web/customers", post(pages::create_customer))
        .route("/web/products", post(pages::create_product))
        .route("/web/records", get(records::records))
        .route("/web/records/{id}", get(records::record))
        .route("/web/blobs/{sha}", get(pages::blob))
        .route("/web/receipts/{id}/custody", post(pages::receipt_custody))
        .route("/web/visits/{id}/log-form", post(pages::log_form))
        .route("/web/visits/{id}/archive", post(pages::archive_form))
        .route("/web/complaints", get(cases::complaints).post(filing::file))
        .route("/web/complaints/new", get(filing::complaint_form))
        .route("/web/complaints/{id}", get(cases::case_page))
        .route("/web/complaints/{id}/act", post(cases::act))
        .route(
            "/web/complaints/{id}/returns",
            post(settlements::new_return),
        )
        .route(
            "/web/complaints/{id}/allowances",
            post(settlements::new_allowance),
        )
        .route("/web/settlements/{id}", get(settlements::settlement_page))
        .route("/web/complaints/{id}/reopen", post(cases::reopen))
        .route("/web/visits/{id}/reassign", post(pages::reassign))
        .route("/web/feedback", get(feedback::feedback_page))
        .route("/web/surveys", get(surveys::surveys_page))
        .route("/web/surveys/{id}/answers", post(surveys::answer))
        .route("/web/feedback/{id}/{step}", post(feedback::feedback_step))
        .route(
            "/web/receipts/{id}/will-miss",
            post(pages::receipt_will_miss),
        )
        .route(
            "/web/receipts/{id}/customer-told",
            post(pages::receipt_customer_told),
        )
        .route(
            "/web/settlements/{id}/{step}",
            post(settlements::settlement_step),
        )
        .route("/web/finance", get(finance::finance))
        .route("/web/visits/{id}/invoice", post(finance::set_invoice))
        .route("/web/registers/{name}", get(reports::register))
        .route("/web/registers/{name}/download", get(reports::download))
        .route("/web/reports", get(reports::charts))
        .route("/web/reviews", get(reviews::review_page))
        .route("/web/reviews/{month}/confirm", post(reviews::confirm))
        .route("/web/admin", get(admin::users))
        .route("/web/admin/users", post(admin::create_user))
        .route("/web/admin/users/{id}", get(admin::user_page))
        .route(
            "/web/admin/users/{id}/password",
            post(admin::reset_password),
        )
        .route("/web/admin/users/{id}/active", post(admin::set_active))
        .route("/web/admin/devices/{id}/revoke", post(admin::revoke_device))
        .route(
            "/web/admin/regions",
            get(admin::regions).post(admin::add_region),
        )
        .route(
            "/web/admin/import",
            get(admin::import_page).post(admin::import_upload),
        )
        .route("/web/admin/import/{kind}/template", get(admin::template))
        .route("/web/admin/audit", get(admin::audit))
        .route("/web/alerts", get(alerts::bell))
        .route("/web/alerts/read", post(alerts::read))
        .route("/web/admin/alerts", get(alerts::setup))
        .route("/web/admin/alerts/ladders", post(alerts::save_ladder))
        .route("/web/admin/alerts/channels", post(alerts::add_channel))
        .route(
            "/web/admin/alerts/channels/{id}/delete",
            post(alerts::delete_channel),
        )
        .layer(axum::middleware::map_response(security_headers))
}

/// Headers on every page: the CSP, no framing, no sniffing, no caching of private pages.
async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// A cookie's value from the request.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> String {
    let secure = if state.config.cookie_secure {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Equal tokens, compared in time that does not depend on where they differ.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn lang_of(headers: &HeaderMap) -> Lang {
    match cookie(headers, LANG_COOKIE).as_deref() {
        Some("en") => Lang::En,
        _ => Lang::Zh,
    }
}

/// The signed-in user of a page. Without a live session, any page redirects to sign-in.
#[derive(Debug, Clone)]
pub struct Session {
    pub p: Principal,
    pub user: User,
    pub csrf: String,
    pub lang: Lang,
    /// Unread alerts, for the bell in the page header.
    pub bell: i64,
    /// The name of the user's regional office, as the admin wrote it.
    pub region_name: Option<String>,
    token_hash: String,
}

impl Session {
    /// Chinese or English, as the user chose.
    pub fn t<'a>(&self, zh: &'a str, en: &'a str) -> &'a str {
        match self.lang {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// The refusal of a form that does not carry this session's CSRF token; `None` when it does.
    pub fn csrf_refusal(&self, form: &Fields) -> Option<Response> {
        if same_token(form.get("csrf"), &self.csrf) {
            None
        } else {
            Some(csrf_refused(self.lang))
        }
    }
}

/// A form posted by a signed-in user, its CSRF token checked before anything else is read:
/// without a session it redirects to sign-in, without the token it is refused.
pub struct Posted {
    pub s: Session,
    pub form: Fields,
}

impl FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let s = Session::from_request_parts(&mut parts, state).await?;
        let Form(pairs) =
            Form::<Vec<(String, String)>>::from_request(Request::from_parts(parts, body), state)
                .await
                .map_err(IntoResponse::into_response)?;
        let form = Fields(pairs);
        match s.csrf_refusal(&form) {
            Some(refused) => Err(refused),
            None => Ok(Posted { s, form }),
        }
    }
}

fn csrf_refused(lang: Lang) -> Response {
    let msg = match lang {
        Lang::Zh => "表单校验失败(缺少或错误的 CSRF 令牌),请刷新页面后重试。",
        Lang::En => {
            "The form was refused: its CSRF token is missing or wrong. Reload the page and try again."
        }
    };
    (StatusCode::FORBIDDEN, html::bare_page("403", msg)).into_response()
}

/// Where a request without a session is sent: sign-in, then back (local paths only).
fn to_login(parts: &Parts) -> Response {
    let back = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .filter(|p| p.starts_with("/web") && parts.method == axum::http::Method::GET)
        .unwrap_or("/web");
    Redirect::to(&format!("/web/login?next={}", html::url_encode(back))).into_response()
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(to_login(parts));
        };
        let hash = token_hash(&token);
        let found = state
            .db
            .web_session(&hash, state.now_ms())
            .await
            .map_err(|e| AppError::from(e).into_response())?;
        let Some((user_id, csrf)) = found else {
            return Err(to_login(parts));
        };
        let user = state
            .db
            .user_by_id(user_id)
            .await
            .map_err(|e| AppError::from(e).into_response())?
            .filter(|u| u.active);
        let Some(user) = user else {
            return Err(to_login(parts));
        };
        crate::http::log_user(user.id);
        let bell = state
            .db
            .bell_unread(user.id)
            .await
            .map_err(|e| AppError::from(e).into_response())?;
        let region_name = match &user.region {
            Some(code) => Some(
                state
                    .db
                    .region_names()
                    .await
                    .map_err(|e| AppError::from(e).into_response())?
                    .remove(code)
                    .unwrap_or_else(|| code.clone()),
            ),
            None => None,
        };
        Ok(Session {
            p: Principal {
                user_id: user.id,
                role: user.role,
                region: user.region.clone(),
            },
            user,
            csrf,
            lang: lang_of(&parts.headers),
            bell,
            region_name,
            token_hash: hash,
        })
    }
}

/// Starts a session for `user`: the cookie to set.
async fn open_session(state: &AppState, user: &User) -> Result<String, AppError> {
    let token = random_token();
    let at = state.now_ms();
    let expires_at = at + SESSION_SECS * 1000;
    state
        .db
        .create_web_session(
            &token_hash(&token),
            user.id,
            &random_token(),
            expires_at,
            at,
        )
        .await?;
    Ok(set_cookie(state, SESSION_COOKIE, &token, SESSION_SECS))
}

async fn close_session(state: &AppState, session: &Session) -> Result<(), AppError> {
    state
        .db
        .end_web_session(&session.token_hash, state.now_ms())
        .await?;
    Ok(())
}

/// Back to `to` with a message shown at the top of the page: `ok` when the action was done,
/// the server's own refusal otherwise (with a Chinese gist of its code first, and without the
/// code itself).
pub fn back_with(s: &Session, to: &str, result: Result<String, AppError>) -> Response {
    let sep = if to.contains('?') { '&' } else { '?' };
    let url = match result {
        Ok(msg) => format!("{to}{sep}ok={}", html::url_encode(&msg)),
        Err(e) => format!("{to}{sep}err={}", html::url_encode(&refusal_text(s, &e))),
    };
    Redirect::to(&url).into_response()
}

/// A refusal as a page says it: the rule in words, never the machine code (the API keeps
/// that); in Chinese the rule's own Chinese words where it has them, else a Chinese gist of its
/// code before the message.
pub(super) fn refusal_text(s: &Session, e: &AppError) -> String {
    match (s.lang, &e.message_zh, gist_zh(e.code.as_str())) {
        (Lang::Zh, Some(zh), _) => zh.clone(),
        // The server's own failures say nothing a clerk can act on beyond the gist; a missing
        // record's message names its id, which a person does not read.
        (Lang::Zh, None, Some(g)) if matches!(e.code.as_str(), "internal" | "not_found") => {
            g.to_string()
        }
        (Lang::En, _, _) if e.code.as_str() == "not_found" => {
            "Not found, or not yours to see".to_string()
        }
        (Lang::Zh, None, Some(g)) => format!("{g}:{}", e.message),
        (Lang::Zh, None, None) => format!("无法完成:{}", e.message),
        _ => e.message.clone(),
    }
}

/// A code (a choice, a state) in the user's language; the code itself when it has no words.
pub(super) fn code_words(s: &Session, code: &str) -> String {
    match fieldloop_client_core::model::fields::code_label(code) {
        Some((zh, en)) => s.t(zh, en).to_string(),
        None => code.to_string(),
    }
}

/// What each refusal means, in Chinese (the server's own message follows when it has no
/// Chinese words of its own).
pub(super) fn gist_zh(code: &str) -> Option<&'static str> {
    Some(match code {
        "invalid_input" | "malformed_body" => "输入有误",
        "body_too_large" => "提交的内容太大",
        "no_route" => "没有这个页面",
        "missing_token" | "invalid_token" | "token_expired" | "session_revoked" => {
            "登录已失效,请重新登录"
        }
        "bad_credentials" => "用户名或密码不对",
        "account_disabled" => "此账号已停用",
        "device_revoked" => "此手机已被吊销",
        "forbidden" => "无此权限",
        "not_found" => "找不到该记录",
        "username_taken" => "用户名已被使用",
        "stale" | "changed_meanwhile" => "记录已被他人更新,请刷新后再操作",
        "case_closed" => "该案件已结案",
        "already_numbered" => "该案件已受理编号",
        "not_accepted" => "品质部尚未受理该案件",
        "wrong_department" => "不是本部门的步骤",
        "wrong_step" => "现在不是这一步",
        "above_authority" => "超出审批权限",
        "not_ready" => "前置步骤尚未完成",
        "not_closed" => "案件尚未结案",
        "complaint_not_valid" => "投诉不成立,不办理退货或折让",
        "no_approved_return" => "没有已核准的退货",
        "already_opened" => "该单据已开过",
        "already_done" => "该事项已办理过,只做一次",
        "already_confirmed" => "已确认过",
        "quantity_mismatch" => "数量不符,不能过账",
        "amount_mismatch" => "金额与核准的不符",
        "already_dispatched" => "该服务请求已派工",
        "out_of_warranty" => "已过保修期",
        "missing_category" => "请选择服务类别",
        "no_fee" => "这次服务没有收费",
        "already_logged" => "反馈表已登记过",
        "already_archived" => "反馈表已归档",
        "wrong_role" => "不属于您的职责",
        "wrong_state" => "当前状态下不能这样做",
        "already_voided" => "收据已作废",
        "campaign_closed" => "调查活动已结束",
        "feedback_closed" => "该意见已处理完毕",
        "already_linked" => "已关联过",
        "too_many_attempts" => "尝试次数过多,请稍后再试",
        "busy" => "系统繁忙,请稍后再试",
        "internal" => "服务器出错,请稍后再试",
        _ => return None,
    })
}
