//! Alerts in the back office: each person's bell (`/web/alerts`), and the admin's setup of
//! the escalation ladders, the channels (WeCom, DingTalk, mail) and what could not be
//! delivered (`/web/admin/alerts`). Built with maud.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use fieldloop_client_core::model::Role;
use maud::{Markup, html};
use uuid::Uuid;

use super::html::{Flash, page};
use super::pages::error_page;
use super::{Posted, Session, back_with};
use crate::AppState;
use crate::app::alerts::{self as app, Ladder, NewChannel};
use crate::error::AppError;
use crate::workflow::alerts::{Audience, DeadlineKind, Rung, When};

fn csrf(s: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(s.csrf); }
}

fn local_ms(state: &AppState, ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| {
            t.with_timezone(&state.config.timezone)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

/// 提醒: the signed-in person's alerts, unread first.
pub async fn bell(
    State(state): State<AppState>,
    s: Session,
    Query(flash): Query<Flash>,
) -> Response {
    let items = match app::my_alerts(&state, &s.p).await {
        Ok(i) => i,
        Err(e) => return error_page(&s, e),
    };
    let body = html! {
        @if items.is_empty() {
            p { (s.t("暂无提醒。", "No alerts.")) }
        } @else {
            form method="post" action="/web/alerts/read" {
                (csrf(&s))
                button #read-all { (s.t("全部标为已读", "Mark all read")) }
            }
            table #alerts {
                thead { tr {
                    th { (s.t("时间", "When")) } th { (s.t("提醒", "Alert")) } th { (s.t("详情", "Details")) } th {}
                } }
                tbody {
                    @for i in &items {
                        tr class=[(!i.read).then_some("unread")] {
                            td { (local_ms(&state, i.created_at)) }
                            td { a href=(i.link) { (i.title) } }
                            td { @for line in i.body.lines().skip(1).take(5) { (line) br; } }
                            td {
                                @if !i.read {
                                    form.inline method="post" action="/web/alerts/read" {
                                        (csrf(&s))
                                        input type="hidden" name="key" value=(i.alert_key);
                                        button { (s.t("已读", "Read")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page(&s, s.t("提醒", "Alerts"), &flash, body).into_response()
}

pub async fn read(State(state): State<AppState>, Posted { s, form }: Posted) -> Response {
    let key = Some(form.get("key")).filter(|k| !k.is_empty());
    let result = app::read_alerts(&state, &s.p, key)
        .await
        .map(|_| s.t("已标为已读", "Marked read").to_string());
    back_with(&s, "/web/alerts", result)
}

fn kind_label(s: &Session, k: DeadlineKind) -> String {
    match s.lang {
        crate::export::Lang::Zh => k.label_zh().to_string(),
        crate::export::Lang::En => k.code().replace('_', " "),
    }
}

fn audience_code(a: Audience) -> &'static str {
    match a {
        Audience::Acting => "acting",
        Audience::Head => "head",
        Audience::GmOffice => "gm_office",
    }
}

/// A rung as one line of the ladder form: `share 50 acting`, `before 120 acting`,
/// `after 0 head`.
fn rung_line(r: &Rung) -> String {
    let when = match r.when {
        When::Share { percent } => format!("share {percent}"),
        When::Before { minutes } => format!("before {minutes}"),
        When::After { minutes } => format!("after {minutes}"),
    };
    format!("{when} {}", audience_code(r.to))
}

/// A rung in words, for the table.
fn rung_words(s: &Session, r: &Rung) -> String {
    let when = match (r.when, s.lang) {
        (When::Share { percent }, crate::export::Lang::Zh) => format!("时限过去 {percent}%"),
        (When::Before { minutes }, crate::export::Lang::Zh) => format!("期限前 {minutes} 分钟"),
        (When::After { minutes: 0 }, crate::export::Lang::Zh) => "到期时".to_string(),
        (When::After { minutes }, crate::export::Lang::Zh) => format!("逾期 {minutes} 分钟后"),
        (When::Share { percent }, _) => format!("{percent}% of the time gone"),
        (When::Before { minutes }, _) => format!("{minutes} min before the limit"),
        (When::After { minutes: 0 }, _) => "at the limit".to_string(),
        (When::After { minutes }, _) => format!("{minutes} min after the limit"),
    };
    let to = match s.lang {
        crate::export::Lang::Zh => r.to.label_zh().to_string(),
        crate::export::Lang::En => audience_code(r.to).replace('_', " "),
    };
    format!("{when} → {to}")
}

/// Reads the ladder form's lines back into rungs; a line that does not read is named.
fn parse_rungs(text: &str) -> Result<Vec<Rung>, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let parts: Vec<&str> = line.split_whitespace().collect();
            let [when, n, to] = parts.as_slice() else {
                return Err(format!(
                    "'{line}': a rung is three words, such as 'before 120 acting'"
                ));
            };
            let n: u32 = n
                .parse()
                .map_err(|_| format!("'{line}': '{n}' is not a whole number"))?;
            let when = match *when {
                "share" => When::Share { percent: n },
                "before" => When::Before { minutes: n },
                "after" => When::After { minutes: n },
                other => return Err(format!("'{line}': '{other}' is share, before or after")),
            };
            let to = match *to {
                "acting" => Audience::Acting,
                "head" => Audience::Head,
                "gm_office" => Audience::GmOffice,
                other => {
                    return Err(format!("'{line}': '{other}' is acting, head or gm_office"));
                }
            };
            Ok(Rung { when, to })
        })
        .collect()
}

const DEPARTMENTS: [(&str, &str, &str); 8] = [
    ("marketing", "市场部", "Marketing"),
    ("quality", "品质部", "Quality"),
    ("production", "生产部", "Production"),
    ("rnd", "研发部", "R&D"),
    ("gm_office", "总经理室", "GM office"),
    ("finance", "财务部", "Finance"),
    ("warehouse", "货仓", "Warehouse"),
    ("dispatch", "厂长(派工)", "Dispatch (factory director)"),
];

fn department_label(s: &Session, code: &str) -> String {
    DEPARTMENTS
        .iter()
        .find(|d| d.0 == code)
        .map_or_else(|| code.to_string(), |d| s.t(d.1, d.2).to_string())
}

/// 提醒设置 (admin): the ladders, the channels, and what could not be delivered.
pub async fn setup(
    State(state): State<AppState>,
    s: Session,
    Query(flash): Query<Flash>,
) -> Response {
    if s.p.role != Role::Admin {
        return error_page(&s, AppError::forbidden("alert setup is for an admin"));
    }
    let (ladders, channels, failed, queued) = match (
        app::list_ladders(&state, &s.p).await,
        app::list_channels(&state, &s.p).await,
        app::outbox(&state, &s.p, "failed").await,
        app::outbox(&state, &s.p, "queued").await,
    ) {
        (Ok(l), Ok(c), Ok(f), Ok(q)) => (l, c, f, q),
        (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => {
            return error_page(&s, e);
        }
    };
    let body = html! {
        h2 { (s.t("升级规则", "Escalation ladders")) }
        p { (s.t(
            "每行一级:share 50 acting(时限过去 50% 提醒经办部门)、before 120 acting(期限前 120 分钟)、after 0 head(到期时告知部门负责人)、after 1440 gm_office(逾期一天告知总经理室)。",
            "One rung a line: share 50 acting (half the time gone, the acting department), before 120 acting, after 0 head (at the limit, the head), after 1440 gm_office (a day late, the GM office)."
        )) }
        table #ladders {
            thead { tr { th { (s.t("期限", "Deadline")) } th { (s.t("现行规则", "In force")) } th { (s.t("修改", "Change")) } } }
            tbody {
                @for l in &ladders {
                    tr {
                        td { (kind_label(&s, l.kind)) }
                        td { @for r in &l.rungs { (rung_words(&s, r)) br; } }
                        td {
                            form method="post" action="/web/admin/alerts/ladders" {
                                (csrf(&s))
                                input type="hidden" name="kind" value=(l.kind.code());
                                textarea name="rungs" rows="4" cols="28" aria-label=(kind_label(&s, l.kind)) {
                                    @for r in &l.rungs { (rung_line(r)) "\n" }
                                }
                                button { (s.t("保存", "Save")) }
                            }
                        }
                    }
                }
            }
        }
        h2 { (s.t("发送渠道", "Channels")) }
        table #channels {
            thead { tr {
                th { (s.t("部门", "Department")) } th { (s.t("对象", "Audience")) }
                th { (s.t("渠道", "Channel")) } th { (s.t("地址", "Address")) } th {}
            } }
            tbody {
                @for c in &channels {
                    tr {
                        td { (department_label(&s, &c.department)) }
                        td { @if c.audience == "head" { (s.t("部门负责人", "Head")) } @else { (s.t("部门群", "Staff")) } }
                        td { (match c.kind.as_str() { "wecom" => s.t("企业微信群机器人", "WeCom robot"), "dingtalk" => s.t("钉钉群机器人", "DingTalk robot"), _ => s.t("邮件", "Mail") }) }
                        td { (c.target.split('?').next().unwrap_or_default()) }
                        td {
                            form.inline method="post" action={ "/web/admin/alerts/channels/" (c.id) "/delete" } {
                                (csrf(&s))
                                button { (s.t("删除", "Remove")) }
                            }
                        }
                    }
                }
            }
        }
        form #new-channel method="post" action="/web/admin/alerts/channels" {
            (csrf(&s))
            label { (s.t("部门", "Department"))
                select name="department" { @for d in DEPARTMENTS { option value=(d.0) { (s.t(d.1, d.2)) } } }
            }
            label { (s.t("对象", "Audience"))
                select name="audience" {
                    option value="staff" { (s.t("部门群", "Staff")) }
                    option value="head" { (s.t("部门负责人", "Head")) }
                }
            }
            label { (s.t("渠道", "Channel"))
                select name="kind" {
                    option value="wecom" { (s.t("企业微信群机器人", "WeCom robot")) }
                    option value="dingtalk" { (s.t("钉钉群机器人", "DingTalk robot")) }
                    option value="email" { (s.t("邮件", "Mail")) }
                }
            }
            label { (s.t("Webhook 地址或邮箱(逗号分隔)", "Webhook URL or mail addresses (comma separated)")) input name="target" required size="60"; }
            label { (s.t("钉钉加签密钥(SEC 开头)", "DingTalk signing secret (SEC...)")) input name="secret" type="password" autocomplete="off"; }
            button { (s.t("添加", "Add")) }
        }
        h2 { (s.t("发送情况", "Delivery")) }
        p { (s.t("待发送:", "Waiting: ")) (queued.len()) }
        @if failed.is_empty() {
            p { (s.t("没有发送失败的提醒。", "Nothing failed.")) }
        } @else {
            table #failed {
                thead { tr { th { (s.t("提醒", "Alert")) } th { (s.t("尝试次数", "Tries")) } th { (s.t("原因", "Why")) } th { (s.t("时间", "When")) } } }
                tbody {
                    @for f in &failed {
                        tr { td { (f.title) } td { (f.attempts) } td { (f.last_error.clone().unwrap_or_default()) } td { (local_ms(&state, f.created_at)) } }
                    }
                }
            }
        }
    };
    page(&s, s.t("提醒设置", "Alert setup"), &flash, body).into_response()
}

pub async fn save_ladder(State(state): State<AppState>, Posted { s, form }: Posted) -> Response {
    let result = async {
        let kind = DeadlineKind::parse(form.get("kind"))
            .ok_or_else(|| AppError::invalid("choose a kind of deadline"))?;
        let rungs = parse_rungs(form.get("rungs")).map_err(AppError::invalid)?;
        app::set_ladder(&state, &s.p, Ladder { kind, rungs }).await?;
        Ok(s.t("规则已保存", "Ladder saved").to_string())
    }
    .await;
    back_with(&s, "/web/admin/alerts", result)
}

pub async fn add_channel(State(state): State<AppState>, Posted { s, form }: Posted) -> Response {
    let body = NewChannel {
        department: form.get("department").into(),
        audience: Some(form.get("audience").to_string()),
        kind: form.get("kind").into(),
        target: form.get("target").into(),
        secret: Some(form.get("secret").to_string()),
    };
    let result = app::add_channel(&state, &s.p, body)
        .await
        .map(|_| s.t("渠道已添加", "Channel added").to_string());
    back_with(&s, "/web/admin/alerts", result)
}

pub async fn delete_channel(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Posted { s, .. }: Posted,
) -> Response {
    let result = app::delete_channel(&state, &s.p, id)
        .await
        .map(|()| s.t("渠道已删除", "Channel removed").to_string());
    back_with(&s, "/web/admin/alerts", result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::alerts::ALL_KINDS;

    #[test]
    fn ladder_lines_read_back() {
        for kind in ALL_KINDS {
            let text: String = kind
                .default_ladder()
                .iter()
                .map(|r| rung_line(r) + "\n")
                .collect();
            assert_eq!(parse_rungs(&text), Ok(kind.default_ladder()));
        }
        for bad in [
            "soon 5 acting",
            "before x acting",
            "before 5 boss",
            "before 5",
        ] {
            assert!(parse_rungs(bad).is_err(), "{bad}");
        }
    }
}
