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
use super::{Fields, Posted, Session, back_with};
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
                            // In the reader's language; an alert kept before English was
                            // kept reads in Chinese.
                            @let english = s.lang == crate::export::Lang::En && !i.title_en.is_empty();
                            @let (title, body) = if english { (&i.title_en, &i.body_en) } else { (&i.title, &i.body) };
                            td { a href=(i.link) { (title) } }
                            td { @for line in body.lines().skip(1).take(5) { (line) br; } }
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
    s.t(k.label_zh(), k.label_en()).to_string()
}

fn audience_code(a: Audience) -> &'static str {
    match a {
        Audience::Acting => "acting",
        Audience::Head => "head",
        Audience::GmOffice => "gm_office",
    }
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
    format!("{when} → {}", audience_words(s, r.to))
}

/// Whom a rung tells, in the user's language.
fn audience_words(s: &Session, a: Audience) -> &'static str {
    match a {
        Audience::Acting => s.t("经办部门", "The acting department"),
        Audience::Head => s.t("部门负责人", "The department's head"),
        Audience::GmOffice => s.t("总经理室", "The GM office"),
    }
}

/// What a rung's "when" is called on the form, and its unit.
const WHENS: [(&str, &str, &str); 3] = [
    ("share", "时限过去(%)", "Share of the time gone (%)"),
    ("before", "期限前(分钟)", "Minutes before the limit"),
    (
        "after",
        "逾期后(分钟,0 为到期时)",
        "Minutes after the limit (0: at it)",
    ),
];

const AUDIENCES: [Audience; 3] = [Audience::Acting, Audience::Head, Audience::GmOffice];

/// A rung's parts as the form carries them: when, the number, whom.
fn rung_parts(r: &Rung) -> (&'static str, u32, &'static str) {
    match r.when {
        When::Share { percent } => ("share", percent, audience_code(r.to)),
        When::Before { minutes } => ("before", minutes, audience_code(r.to)),
        When::After { minutes } => ("after", minutes, audience_code(r.to)),
    }
}

/// The ladder form's rows back into rungs, in order; a row whose "when" is left empty is
/// dropped (that is how a rung is removed). A row that does not read is named by its number.
fn parse_rungs(form: &Fields) -> Result<Vec<Rung>, AppError> {
    let column = |name: &str| -> Vec<&str> {
        form.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .collect()
    };
    let (whens, numbers, audiences) = (column("when"), column("n"), column("to"));
    let mut rungs = Vec::new();
    for (row, when) in whens.iter().enumerate() {
        if when.is_empty() {
            continue;
        }
        let refused = |en: &str, zh: &str| {
            AppError::invalid(format!("row {}: {en}", row + 1))
                .with_zh(Some(format!("第 {} 行:{zh}", row + 1)))
        };
        let n: u32 = numbers
            .get(row)
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| refused("give a whole number", "请填写整数"))?;
        let when = match *when {
            "share" => When::Share { percent: n },
            "before" => When::Before { minutes: n },
            "after" => When::After { minutes: n },
            _ => return Err(refused("choose when", "请选择提醒时机")),
        };
        let to = AUDIENCES
            .into_iter()
            .find(|a| Some(&audience_code(*a)) == audiences.get(row))
            .ok_or_else(|| refused("choose whom to tell", "请选择通知对象"))?;
        rungs.push(Rung { when, to });
    }
    Ok(rungs)
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
        return error_page(
            &s,
            AppError::forbidden("alert setup is for an admin")
                .with_zh(Some("只有管理员可以设置提醒".into())),
        );
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
            "每行一级提醒:何时(时限过去的百分比、期限前或逾期后的分钟数)与通知谁。要删去一级,把它的时机选为空;最多 8 级。",
            "One rung a row: when (a share of the time gone, minutes before or after the limit) and whom to tell. To remove a rung, set its \"when\" to empty; at most 8 rungs."
        )) }
        table #ladders {
            thead { tr { th { (s.t("期限", "Deadline")) } th { (s.t("现行规则", "In force")) } th { (s.t("修改", "Change")) } } }
            tbody {
                @for l in &ladders {
                    tr {
                        td { (kind_label(&s, l.kind)) }
                        td { @for r in &l.rungs { (rung_words(&s, r)) br; } }
                        td {
                            form.ladder method="post" action="/web/admin/alerts/ladders" {
                                (csrf(&s))
                                input type="hidden" name="kind" value=(l.kind.code());
                                // The rungs in force, then empty rows to add to, up to 8.
                                @for i in 0..(l.rungs.len() + 2).min(8) {
                                    @let (when, n, to) = l.rungs.get(i).map(rung_parts).unwrap_or(("", 0, "acting"));
                                    div.rung {
                                        select name="when" aria-label=(s.t("时机", "When")) {
                                            option value="" { "—" }
                                            @for (code, zh, en) in WHENS {
                                                option value=(code) selected[when == code] { (s.t(zh, en)) }
                                            }
                                        }
                                        input type="number" name="n" min="0" step="1" value=(if when.is_empty() { String::new() } else { n.to_string() })
                                            aria-label=(s.t("数值", "Number"));
                                        select name="to" aria-label=(s.t("通知对象", "Whom")) {
                                            @for a in AUDIENCES {
                                                option value=(audience_code(a)) selected[to == audience_code(a)] { (audience_words(&s, a)) }
                                            }
                                        }
                                    }
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
        let kind = DeadlineKind::parse(form.get("kind")).ok_or_else(|| {
            AppError::invalid("choose a kind of deadline").with_zh(Some("请选择期限种类".into()))
        })?;
        let rungs = parse_rungs(&form)?;
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

    /// The form's rows for these (when, number, whom) triples.
    fn rows(rows: &[(&str, &str, &str)]) -> Fields {
        let mut fields = vec![("kind".to_string(), "step".to_string())];
        for (when, n, to) in rows {
            fields.push(("when".into(), when.to_string()));
            fields.push(("n".into(), n.to_string()));
            fields.push(("to".into(), to.to_string()));
        }
        Fields(fields)
    }

    #[test]
    fn ladder_rows_read_back() {
        for kind in ALL_KINDS {
            let shown: Vec<(String, String, String)> = kind
                .default_ladder()
                .iter()
                .map(rung_parts)
                .map(|(w, n, t)| (w.to_string(), n.to_string(), t.to_string()))
                .collect();
            let triples: Vec<(&str, &str, &str)> = shown
                .iter()
                .map(|(w, n, t)| (w.as_str(), n.as_str(), t.as_str()))
                .collect();
            let read = parse_rungs(&rows(&triples)).expect("the defaults read back");
            assert_eq!(read, kind.default_ladder());
        }
        // An emptied row is dropped.
        let read =
            parse_rungs(&rows(&[("", "5", "acting"), ("after", "0", "head")])).expect("one rung");
        assert_eq!(read.len(), 1);
        for bad in [
            ("soon", "5", "acting"),
            ("before", "x", "acting"),
            ("before", "-5", "acting"),
            ("before", "5", "boss"),
            ("before", "", "acting"),
        ] {
            let refused = parse_rungs(&rows(&[bad])).expect_err("refused");
            assert!(
                refused.message_zh.is_some_and(|m| m.starts_with("第 1 行")),
                "{bad:?}"
            );
        }
    }
}
