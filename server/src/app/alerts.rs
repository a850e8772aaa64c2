//! Deadline alerts: the deadlines the rules compute, turned by each kind's escalation ladder
//! into reminders and escalations (`workflow::alerts`), written to the outbox and the bell
//! (`sweep`), and sent to WeCom and DingTalk group robots and by mail (`deliver`). Both run
//! on the server's tick; both are safe to run on several instances at once.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use fieldloop_client_core::model::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::access::Principal;
use crate::clock::Clock as _;
use crate::db::alerts::{BellItem, BellRow, Channel, OutboxRow, Outgoing};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::metrics::ALERTS;
use crate::workflow::alerts::{
    self as rules, ALL_KINDS, Alert, Audience, Deadline, DeadlineKind, Desk, Rung,
};
use crate::workflow::calendar;
use crate::workflow::complaint::{CaseState, Department};

/// Rows one message carries at most (a digest when more are due at once).
const DIGEST_ROWS: i64 = 10;
/// Attempts before a row is given up (and shown to the admin as failed).
const MAX_ATTEMPTS: i64 = 8;
/// How long a robot that said "too fast" is left alone: WeCom counts per minute; DingTalk
/// blocks a robot for 10 minutes past its limit.
const WECOM_PAUSE_MS: i64 = 60_000;
const DINGTALK_PAUSE_MS: i64 = 10 * 60_000;

const DEPARTMENTS: [Department; 7] = [
    Department::Marketing,
    Department::Quality,
    Department::Production,
    Department::RnD,
    Department::GmOffice,
    Department::Finance,
    Department::Warehouse,
];

fn department_code(d: Department) -> String {
    serde_json::to_value(d)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn department_of(code: &str) -> Option<Department> {
    DEPARTMENTS
        .into_iter()
        .find(|d| department_code(*d) == code)
}

/// Every deadline open at `now`: complaint steps, cases and investigation reports, and last
/// month's review while it is not confirmed. Each with the region it belongs to (`None`:
/// head office).
pub async fn deadlines(
    state: &AppState,
    now: DateTime<Utc>,
) -> AppResult<Vec<(Deadline, Option<String>)>> {
    let mut out = Vec::new();
    for case in state.db.cases(None, Some("open")).await? {
        if case.state != CaseState::Open {
            continue;
        }
        let number = case.number.clone().unwrap_or_else(|| "未编号投诉".into());
        let link = format!("/web/complaints/{}", case.id);
        let region = Some(case.region.clone());
        for step in case.steps.iter().filter(|s| s.done_at.is_none()) {
            let code = serde_json::to_value(step.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            out.push((
                Deadline {
                    kind: DeadlineKind::Step,
                    subject: format!("{}:{code}", case.id),
                    number: number.clone(),
                    what_zh: step.kind.label_zh().into(),
                    what_en: step.kind.label_en().into(),
                    desk: Desk::Dept(step.department),
                    started_at: step.started_at,
                    due_at: step.due_at,
                    link: link.clone(),
                },
                region.clone(),
            ));
        }
        if let (Some(due), Some(accepted)) = (case.due_at, case.accepted_at) {
            out.push((
                Deadline {
                    kind: DeadlineKind::Case,
                    subject: case.id.to_string(),
                    number: number.clone(),
                    what_zh: "投诉结案".into(),
                    what_en: "Close the case".into(),
                    desk: Desk::Dept(Department::GmOffice),
                    started_at: accepted,
                    due_at: due,
                    link: link.clone(),
                },
                region.clone(),
            ));
        }
        if let Some(due) = case.report_due_at
            && case.report_at.is_none()
        {
            let started = case
                .steps
                .iter()
                .filter_map(|s| s.done_at)
                .next()
                .or(case.accepted_at)
                .unwrap_or(due);
            out.push((
                Deadline {
                    kind: DeadlineKind::Report,
                    subject: case.id.to_string(),
                    number: number.clone(),
                    what_zh: "调查报告呈总经理".into(),
                    what_en: "Investigation report to the GM".into(),
                    desk: Desk::Dept(Department::Quality),
                    started_at: started,
                    due_at: due,
                    link: link.clone(),
                },
                region.clone(),
            ));
        }
    }
    // Last month's review, due before the 10th of this month (§4.8).
    let tz = state.config.timezone;
    let (y, m) = calendar::year_month(tz, now);
    let (py, pm) = calendar::previous_month(y, m);
    let month = format!("{py:04}-{pm:02}");
    if state.db.review(&month).await?.is_none()
        && let (Some(first), Some(tenth)) = (
            chrono::NaiveDate::from_ymd_opt(y, m, 1),
            chrono::NaiveDate::from_ymd_opt(y, m, 10),
        )
    {
        out.push((
            Deadline {
                kind: DeadlineKind::MonthlyReview,
                subject: month.clone(),
                number: format!("{month} 月度检讨"),
                what_zh: "检讨上月结案投诉并公布处分".into(),
                what_en: "Review last month's closed cases and publish penalties".into(),
                desk: Desk::Dept(Department::GmOffice),
                started_at: calendar::start_of_day(tz, first),
                due_at: calendar::start_of_day(tz, tenth),
                link: "/web/registers/personnel-notice".into(),
            },
            None,
        ));
    }
    out.extend(service_deadlines(state).await?);
    Ok(out)
}

/// The service side's deadlines: repairs past their promised date or reported late, not yet
/// told to the customer (§2.7); requests not dispatched on their day (§2.8); severe feedback
/// without its written report to the head (§3.3, due by the end of the next day).
async fn service_deadlines(state: &AppState) -> AppResult<Vec<(Deadline, Option<String>)>> {
    use crate::workflow::service::Location;
    let tz = state.config.timezone;
    let mut out = Vec::new();
    for r in state.db.receipts(None).await? {
        let location: Location =
            serde_json::from_value(serde_json::Value::String(r.location.clone()))
                .unwrap_or(Location::WithTechnician);
        if r.customer_told_at.is_some()
            || matches!(
                location,
                Location::InStock | Location::ReturnedToCustomer | Location::Voided
            )
        {
            continue;
        }
        let reported = r
            .will_miss_at
            .and_then(chrono::DateTime::from_timestamp_millis);
        let promised = r
            .promised_date
            .as_deref()
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
        // Reported late: tell the customer that day. Otherwise the promised day is the limit.
        let (started, due) = match (reported, promised) {
            (Some(at), _) => (at, calendar::due_after(tz, at, 0)),
            (None, Some(day)) => (
                calendar::start_of_day(tz, day),
                calendar::start_of_day(tz, day + chrono::Days::new(1)),
            ),
            (None, None) => continue,
        };
        out.push((
            Deadline {
                kind: DeadlineKind::LateRepair,
                subject: r.id.to_string(),
                number: format!("收据 {}", r.number),
                what_zh: "修复延期,告知客户".into(),
                what_en: "Repair late: tell the customer".into(),
                desk: Desk::Dept(Department::Marketing),
                started_at: started,
                due_at: due,
                link: format!("/web/records/{}", r.id),
            },
            Some(r.region.clone()),
        ));
    }
    for v in state.db.visits(None).await? {
        if v.assignee.is_some() || v.text("request.customer_name").is_empty() {
            continue;
        }
        let registered = v.registered_at();
        out.push((
            Deadline {
                kind: DeadlineKind::PriorityDispatch,
                subject: v.id.to_string(),
                number: format!("{} 服务请求", v.text("request.customer_name")),
                what_zh: "派工".into(),
                what_en: "Dispatch".into(),
                desk: Desk::Dispatch,
                started_at: registered,
                due_at: calendar::due_after(tz, registered, 0),
                link: "/web/dispatch".into(),
            },
            Some(v.region.clone()),
        ));
    }
    for f in state.db.feedback_items(None, Some("open")).await? {
        if f.severity != "severe" || f.reported_at.is_some() {
            continue;
        }
        let Some(created) = chrono::DateTime::from_timestamp_millis(f.created_at) else {
            continue;
        };
        out.push((
            Deadline {
                kind: DeadlineKind::SevereFeedback,
                subject: f.id.to_string(),
                number: "严重客户意见".into(),
                what_zh: "书面报告部门负责人并尽早处理".into(),
                what_en: "Report in writing to the head and handle early".into(),
                desk: Desk::Dept(Department::Marketing),
                started_at: created,
                due_at: calendar::due_after(tz, created, 1),
                link: "/web/inbox".into(),
            },
            Some(f.region.clone()),
        ));
    }
    Ok(out)
}

/// The ladders in force: those an admin saved, the regulation's defaults for the rest.
pub async fn ladders(state: &AppState) -> AppResult<HashMap<DeadlineKind, Vec<Rung>>> {
    let mut out: HashMap<DeadlineKind, Vec<Rung>> =
        ALL_KINDS.iter().map(|k| (*k, k.default_ladder())).collect();
    for (kind, json) in state.db.alert_ladders().await? {
        if let (Some(kind), Ok(rungs)) = (
            DeadlineKind::parse(&kind),
            serde_json::from_str::<Vec<Rung>>(&json),
        ) {
            out.insert(kind, rungs);
        }
    }
    Ok(out)
}

/// The people whose bell rings for an alert: the acting department's people (of the case's
/// region or head office), its head, or the GM office.
fn bell_people<'a>(
    users: &'a [crate::db::accounts::User],
    dispatchers: &[Role],
    to: Audience,
    desk: Desk,
    region: Option<&str>,
) -> Vec<&'a crate::db::accounts::User> {
    let in_region = |u: &crate::db::accounts::User| {
        u.region.is_none() || region.is_none() || u.region.as_deref() == region
    };
    let of = |d: Department, roles: Option<&[Role]>| -> Vec<&'a crate::db::accounts::User> {
        users
            .iter()
            .filter(|u| u.active && Department::of_role(u.role) == Some(d) && in_region(u))
            .filter(|u| roles.is_none_or(|r| r.contains(&u.role)))
            .collect()
    };
    let department = match (desk, to) {
        (_, Audience::GmOffice) => Department::GmOffice,
        (Desk::Dept(d), _) => d,
        (Desk::Dispatch, _) => {
            return users
                .iter()
                .filter(|u| u.active && dispatchers.contains(&u.role) && in_region(u))
                .collect();
        }
    };
    match to {
        Audience::Acting => of(department, None),
        Audience::Head => {
            let heads: &[Role] = match department {
                Department::Marketing => &[Role::MarketingHead],
                Department::GmOffice => &[Role::GeneralManager],
                _ => &[],
            };
            let found = of(department, Some(heads));
            if found.is_empty() {
                of(department, None)
            } else {
                found
            }
        }
        Audience::GmOffice => of(Department::GmOffice, Some(&[Role::GmOffice])),
    }
}

/// The channels that carry an alert: the department's robots and mail for its audience (a
/// head's alert goes to the staff's channels where the department has none for its head).
fn channels_for(channels: &[Channel], to: Audience, desk: Desk) -> Vec<&Channel> {
    let desk_code = match desk {
        Desk::Dept(d) => department_code(d),
        Desk::Dispatch => "dispatch".to_string(),
    };
    let (code, audience) = match to {
        Audience::Acting => (desk_code, "staff"),
        Audience::Head => (desk_code, "head"),
        Audience::GmOffice => (department_code(Department::GmOffice), "staff"),
    };
    let exact: Vec<&Channel> = channels
        .iter()
        .filter(|c| c.department == code && c.audience == audience)
        .collect();
    if exact.is_empty() && audience == "head" {
        channels
            .iter()
            .filter(|c| c.department == code && c.audience == "staff")
            .collect()
    } else {
        exact
    }
}

/// A short id of an alert, shown in each message so a receiver can tell a repeat.
fn short_id(key: &str) -> String {
    use sha2::Digest as _;
    hex::encode(&sha2::Sha256::digest(key.as_bytes())[..4])
}

/// Writes the alerts due at the business time into the outbox and the bell (once each;
/// already written ones are left as they are). Returns the new outbox rows.
pub async fn sweep(state: &AppState) -> AppResult<u64> {
    let now = state.now();
    let found = deadlines(state, now).await?;
    let (list, regions): (Vec<Deadline>, Vec<Option<String>>) = found.into_iter().unzip();
    let region_of: HashMap<String, Option<String>> = list
        .iter()
        .zip(regions)
        .map(|(d, r)| (format!("{}:{}", d.kind.code(), d.subject), r))
        .collect();
    let due: Vec<Alert> = rules::due(&list, &ladders(state).await?, now)
        .into_iter()
        .filter(|a| !state.alerts_written.contains(&a.key))
        .collect();
    if due.is_empty() {
        return Ok(0);
    }
    let channels = state.db.alert_channels().await?;
    let users = state.db.list_users().await?;
    let base = state.config.public_url.clone();
    let mut outbox = Vec::new();
    let mut bell = Vec::new();
    for alert in &due {
        let (title, body) = rules::message_zh(alert, state.config.timezone, now, &base);
        let body = format!("{body}\n提醒编号:{}", short_id(&alert.key));
        let (title_en, body_en) = rules::message_en(alert, state.config.timezone, now, &base);
        let body_en = format!("{body_en}\nAlert: {}", short_id(&alert.key));
        let d = &alert.deadline;
        for c in channels_for(&channels, alert.to, d.desk) {
            outbox.push((alert.key.clone(), c.id, title.clone(), body.clone()));
        }
        let region = region_of
            .get(&format!("{}:{}", d.kind.code(), d.subject))
            .cloned()
            .flatten();
        for u in bell_people(
            &users,
            &state.config.dispatchers,
            alert.to,
            d.desk,
            region.as_deref(),
        ) {
            bell.push(BellRow {
                key: alert.key.clone(),
                user: u.id,
                title: title.clone(),
                body: body.clone(),
                title_en: title_en.clone(),
                body_en: body_en.clone(),
                link: d.link.clone(),
            });
        }
    }
    let new = state
        .db
        .enqueue_alerts(&outbox, &bell, state.now_ms())
        .await?;
    for alert in &due {
        state.alerts_written.insert(alert.key.clone());
    }
    for c in &channels {
        let n = outbox.iter().filter(|o| o.1 == c.id).count() as u64;
        if n > 0 {
            state
                .metrics
                .counter(ALERTS, &[("channel", &c.kind), ("outcome", "queued")])
                .increment(n);
        }
    }
    Ok(new)
}

/// What one delivery round did.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Delivered {
    pub messages: u64,
    pub rows_sent: u64,
    pub rows_retried: u64,
    pub rows_failed: u64,
}

/// How a send ended.
enum Sent {
    Ok,
    /// The robot said "too fast": leave it alone until then (unix ms).
    Paused(i64),
    Failed(String),
}

/// The message of claimed rows: one row's own text, or a digest of several.
fn compose(rows: &[Outgoing]) -> (String, String) {
    if let [one] = rows {
        return (one.title.clone(), one.body.clone());
    }
    let title = format!("【Fieldloop 提醒汇总】共 {} 条", rows.len());
    let mut text = title.clone();
    for r in rows {
        text.push_str("\n——\n");
        text.push_str(&r.body);
    }
    (title, text)
}

/// Sends what is due on every channel: for each channel not paused, up to [`DIGEST_ROWS`]
/// claimed rows in one message; a failure puts them back with a growing wait, and after
/// [`MAX_ATTEMPTS`] they are given up (shown to the admin).
pub async fn deliver(state: &AppState) -> AppResult<Delivered> {
    let mut done = Delivered::default();
    let http = &state.alert_http;
    for channel in state.db.alert_channels().await? {
        let now = state.now_ms();
        if channel.paused_until > now {
            continue;
        }
        loop {
            let rows = state
                .db
                .claim_alerts(channel.id, state.now_ms(), DIGEST_ROWS)
                .await?;
            if rows.is_empty() {
                break;
            }
            let (title, text) = compose(&rows);
            let outcome = match channel.kind.as_str() {
                "wecom" => send_wecom(http, &channel.target, &text, state.now_ms()).await,
                "dingtalk" => send_dingtalk(http, &channel, &text, state.now_ms()).await,
                "email" => send_mail(state, &channel.target, &title, &text).await,
                other => Sent::Failed(format!("unknown channel kind {other}")),
            };
            let now = state.now_ms();
            let m = &state.metrics;
            match outcome {
                Sent::Ok => {
                    state.db.alerts_sent(&rows, now).await?;
                    done.messages += 1;
                    done.rows_sent += rows.len() as u64;
                    m.counter(ALERTS, &[("channel", &channel.kind), ("outcome", "sent")])
                        .increment(rows.len() as u64);
                }
                Sent::Paused(until) => {
                    // Not the rows' fault: they wait for the robot, without counting a try.
                    state.db.pause_alert_channel(channel.id, until).await?;
                    state
                        .db
                        .alerts_retry(&rows, until, "the robot asked to slow down", false)
                        .await?;
                    m.counter(
                        ALERTS,
                        &[("channel", &channel.kind), ("outcome", "rate_limited")],
                    )
                    .increment(1);
                    break;
                }
                Sent::Failed(error) => {
                    let attempts = rows.iter().map(|r| r.attempts).max().unwrap_or(1);
                    let give_up = attempts >= MAX_ATTEMPTS;
                    let wait = 30_000_i64 << attempts.clamp(0, 7);
                    state
                        .db
                        .alerts_retry(&rows, now + wait.min(3_600_000), &error, give_up)
                        .await?;
                    tracing::warn!(channel = %channel.id, kind = channel.kind, attempts, %error, "alert not delivered");
                    if give_up {
                        done.rows_failed += rows.len() as u64;
                        m.counter(ALERTS, &[("channel", &channel.kind), ("outcome", "failed")])
                            .increment(rows.len() as u64);
                    } else {
                        done.rows_retried += rows.len() as u64;
                    }
                    break;
                }
            }
        }
    }
    Ok(done)
}

/// The answer of a robot: `{"errcode": 0, ...}` is sent; `rate_limited` codes pause it.
async fn robot_answer(
    resp: Result<reqwest::Response, reqwest::Error>,
    rate_limited: &[i64],
    pause_ms: i64,
    now: i64,
) -> Sent {
    let resp = match resp {
        Ok(r) => r,
        Err(e) => return Sent::Failed(format!("the robot cannot be reached: {e}")),
    };
    let status = resp.status();
    let body: serde_json::Value = match resp.json().await {
        Ok(v) => v,
        Err(_) => return Sent::Failed(format!("the robot answered {status} without JSON")),
    };
    match body["errcode"].as_i64() {
        Some(0) if status.is_success() => Sent::Ok,
        Some(code) if rate_limited.contains(&code) => Sent::Paused(now + pause_ms),
        _ if status.as_u16() == 429 => Sent::Paused(now + pause_ms),
        Some(code) => Sent::Failed(format!(
            "the robot refused ({code}: {})",
            body["errmsg"].as_str().unwrap_or("")
        )),
        None => Sent::Failed(format!("the robot answered {status}")),
    }
}

/// A WeCom (企业微信) group robot: `POST <webhook>` with a text message; 45009 is its
/// "too many messages" answer.
async fn send_wecom(http: &reqwest::Client, url: &str, text: &str, now: i64) -> Sent {
    let body = serde_json::json!({"msgtype": "text", "text": {"content": text}});
    let resp = http.post(url).json(&body).send().await;
    robot_answer(resp, &[45009], WECOM_PAUSE_MS, now).await
}

/// DingTalk's signature of a request at `timestamp` (unix ms): HMAC-SHA256 over
/// "timestamp\nsecret" keyed by the secret, base64, then percent-encoded for the URL.
pub fn dingtalk_sign(secret: &str, timestamp: i64) -> String {
    use base64::Engine as _;
    use hmac::Mac as _;
    let mut mac = match hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(format!("{timestamp}\n{secret}").as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    // Base64's own characters that a query string would misread.
    b64.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

/// A DingTalk (钉钉) custom robot: the webhook with `timestamp` and `sign`, a text message;
/// 130101 is its "sent too fast" answer, after which it blocks the robot for 10 minutes.
async fn send_dingtalk(http: &reqwest::Client, channel: &Channel, text: &str, now: i64) -> Sent {
    // DingTalk checks the timestamp against its own wall clock (within an hour), whatever the
    // business clock says.
    let timestamp = crate::clock::SystemClock.now().timestamp_millis();
    let secret = channel.secret.clone().unwrap_or_default();
    let sep = if channel.target.contains('?') {
        '&'
    } else {
        '?'
    };
    let url = format!(
        "{}{sep}timestamp={timestamp}&sign={}",
        channel.target,
        dingtalk_sign(&secret, timestamp)
    );
    let body = serde_json::json!({"msgtype": "text", "text": {"content": text}});
    let resp = http.post(url).json(&body).send().await;
    robot_answer(resp, &[130101], DINGTALK_PAUSE_MS, now).await
}

/// Mail through the SMTP relay `FIELDLOOP_SMTP_URL`, from `FIELDLOOP_MAIL_FROM`.
async fn send_mail(state: &AppState, to: &str, subject: &str, text: &str) -> Sent {
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    let Some(url) = state.config.smtp_url.as_deref() else {
        return Sent::Failed("no SMTP relay is set (FIELDLOOP_SMTP_URL)".into());
    };
    let from = match state.config.mail_from.parse() {
        Ok(f) => f,
        Err(e) => return Sent::Failed(format!("FIELDLOOP_MAIL_FROM: {e}")),
    };
    let mut message = Message::builder().from(from).subject(subject);
    for address in to.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        match address.parse() {
            Ok(a) => message = message.to(a),
            Err(e) => return Sent::Failed(format!("the address {address}: {e}")),
        }
    }
    let message = match message.body(text.to_string()) {
        Ok(m) => m,
        Err(e) => return Sent::Failed(format!("the message cannot be built: {e}")),
    };
    let transport = match AsyncSmtpTransport::<Tokio1Executor>::from_url(url) {
        Ok(t) => t.timeout(Some(Duration::from_secs(20))).build(),
        Err(e) => return Sent::Failed(format!("FIELDLOOP_SMTP_URL: {e}")),
    };
    match transport.send(message).await {
        Ok(_) => Sent::Ok,
        Err(e) => Sent::Failed(format!("the mail relay refused or cannot be reached: {e}")),
    }
}

/// One sweep and one delivery round (the server's tick).
pub async fn tick(state: &AppState) -> AppResult<Delivered> {
    sweep(state).await?;
    deliver(state).await
}

fn admin_only(p: &Principal) -> AppResult<()> {
    if p.role == Role::Admin {
        Ok(())
    } else {
        Err(AppError::forbidden("only an admin sets up alerts")
            .with_zh(Some("只有管理员可以设置提醒".into())))
    }
}

/// A ladder as shown and saved: its kind and rungs.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Ladder {
    pub kind: DeadlineKind,
    pub rungs: Vec<Rung>,
}

/// The ladders in force (admin only).
pub async fn list_ladders(state: &AppState, p: &Principal) -> AppResult<Vec<Ladder>> {
    admin_only(p)?;
    let all = ladders(state).await?;
    Ok(ALL_KINDS
        .iter()
        .map(|k| Ladder {
            kind: *k,
            rungs: all.get(k).cloned().unwrap_or_default(),
        })
        .collect())
}

/// Saves a kind's ladder (admin only).
pub async fn set_ladder(state: &AppState, p: &Principal, ladder: Ladder) -> AppResult<Ladder> {
    admin_only(p)?;
    rules::check_ladder(&ladder.rungs)
        .map_err(|(en, zh)| AppError::invalid(en).with_zh(Some(zh)))?;
    let json = serde_json::to_string(&ladder.rungs)
        .map_err(|e| AppError::internal(format!("a ladder cannot be written: {e}")))?;
    state
        .db
        .set_alert_ladder(ladder.kind.code(), &json, state.now_ms())
        .await?;
    Ok(ladder)
}

/// A channel to add.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewChannel {
    /// `marketing`, `quality`, `production`, `rnd`, `gm_office`, `finance`, `warehouse`, or
    /// `dispatch` (whoever dispatches service work: the factory director).
    pub department: String,
    /// `staff` (default) or `head`.
    #[serde(default)]
    pub audience: Option<String>,
    /// `wecom`, `dingtalk` or `email`.
    pub kind: String,
    /// The robot's webhook URL (https; http only to this machine), or mail addresses.
    pub target: String,
    /// DingTalk's signing secret (`SEC...`), required for DingTalk.
    #[serde(default)]
    pub secret: Option<String>,
}

/// Checks a channel before it is saved: a known department and audience, a webhook over https
/// (http only to this machine), a DingTalk secret, mail addresses that parse.
fn check_channel(body: NewChannel) -> Result<Channel, String> {
    if department_of(body.department.trim()).is_none() && body.department.trim() != "dispatch" {
        return Err(format!(
            "there is no department '{}': marketing, quality, production, rnd, gm_office, finance, warehouse, or dispatch (the factory director)",
            body.department
        ));
    }
    let audience = body.audience.unwrap_or_else(|| "staff".into());
    if !matches!(audience.as_str(), "staff" | "head") {
        return Err(format!("the audience is staff or head, not '{audience}'"));
    }
    let target = body.target.trim().to_string();
    let secret = body
        .secret
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    match body.kind.as_str() {
        "wecom" | "dingtalk" => {
            let url = reqwest::Url::parse(&target)
                .map_err(|e| format!("'{target}' is not a webhook URL: {e}"))?;
            let host = url.host_str().unwrap_or_default();
            let loopback = host == "localhost"
                || host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            match url.scheme() {
                "https" => {}
                "http" if loopback => {}
                _ => {
                    return Err(format!(
                        "a robot's webhook is https (plain http only to this machine), not '{target}'"
                    ));
                }
            }
            if body.kind == "dingtalk" && secret.is_none() {
                return Err(
                    "a DingTalk robot needs its signing secret (the SEC... string of its security settings)"
                        .into(),
                );
            }
        }
        "email" => {
            let addresses: Vec<&str> = target
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .collect();
            if addresses.is_empty() {
                return Err("give at least one mail address".into());
            }
            for a in addresses {
                a.parse::<lettre::Address>()
                    .map_err(|e| format!("'{a}' is not a mail address: {e}"))?;
            }
        }
        other => {
            return Err(format!(
                "a channel is wecom, dingtalk or email, not '{other}'"
            ));
        }
    }
    Ok(Channel {
        id: Uuid::now_v7(),
        department: body.department.trim().to_string(),
        audience,
        kind: body.kind,
        target,
        secret,
        paused_until: 0,
    })
}

/// Adds a channel (admin only), refused with a clear reason when it cannot work.
pub async fn add_channel(state: &AppState, p: &Principal, body: NewChannel) -> AppResult<Channel> {
    admin_only(p)?;
    let channel = check_channel(body).map_err(AppError::invalid)?;
    if channel.kind == "email" && state.config.smtp_url.is_none() {
        return Err(AppError::invalid(
            "mail needs an SMTP relay: set FIELDLOOP_SMTP_URL (and FIELDLOOP_MAIL_FROM) first",
        )
        .with_zh(Some(
            "发送邮件须先设置 SMTP 中继(FIELDLOOP_SMTP_URL 与 FIELDLOOP_MAIL_FROM)".into(),
        )));
    }
    state.db.add_alert_channel(&channel, state.now_ms()).await?;
    Ok(channel)
}

pub async fn list_channels(state: &AppState, p: &Principal) -> AppResult<Vec<Channel>> {
    admin_only(p)?;
    Ok(state.db.alert_channels().await?)
}

pub async fn delete_channel(state: &AppState, p: &Principal, id: Uuid) -> AppResult<()> {
    admin_only(p)?;
    if state.db.delete_alert_channel(id).await? {
        Ok(())
    } else {
        Err(AppError::not_found("there is no such channel")
            .with_zh(Some("没有这个通知渠道".into())))
    }
}

/// Outbox rows by state (`queued`, `sent`, `failed`), newest first (admin only).
pub async fn outbox(state: &AppState, p: &Principal, which: &str) -> AppResult<Vec<OutboxRow>> {
    admin_only(p)?;
    if !matches!(which, "queued" | "sent" | "failed") {
        return Err(AppError::invalid("the state is queued, sent or failed")
            .with_zh(Some("状态须为待发送、已发送或发送失败".into())));
    }
    Ok(state.db.alert_outbox(which, 500).await?)
}

/// The caller's bell.
pub async fn my_alerts(state: &AppState, p: &Principal) -> AppResult<Vec<BellItem>> {
    Ok(state.db.bell(p.user_id, 200).await?)
}

/// Marks the caller's alerts read: one (`key`) or all.
pub async fn read_alerts(state: &AppState, p: &Principal, key: Option<&str>) -> AppResult<u64> {
    let n = state.db.bell_read(p.user_id, key, state.now_ms()).await?;
    if key.is_some() && n == 0 {
        return Err(AppError::new(
            ErrorCode::NotFound,
            "no such unread alert of yours",
        ));
    }
    Ok(n)
}

/// The written keys this process remembers, so a sweep skips them without a write.
#[derive(Debug, Default)]
pub struct Written(std::sync::Mutex<HashSet<String>>);

impl Written {
    pub fn contains(&self, key: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(key)
    }
    pub fn insert(&self, key: String) {
        let mut set = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if set.len() > 200_000 {
            set.clear();
        }
        set.insert(key);
    }
}
