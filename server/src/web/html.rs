//! Building HTML: escaping, the page frame with its navigation, tables, form parts and SVG
//! charts. Pure: strings in, strings out.

use std::fmt::Write as _;

use fieldloop_client_core::model::Role;

use super::Session;
use crate::export::{Lang, Table};

/// Text made safe for HTML content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query value.
pub fn url_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The fields of a posted form.
#[derive(Debug, Default)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// A field's value, "" when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
    /// A checkbox: present means ticked.
    pub fn ticked(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
}

/// Messages carried back after an action (`?ok=` / `?err=`).
#[derive(Debug, Default, serde::Deserialize)]
pub struct Flash {
    pub ok: Option<String>,
    pub err: Option<String>,
}

struct NavItem {
    href: &'static str,
    zh: &'static str,
    en: &'static str,
    shown: fn(Role) -> bool,
}

fn office(r: Role) -> bool {
    r != Role::Technician
}

const NAV: &[NavItem] = &[
    NavItem {
        href: "/web/inbox",
        zh: "待办",
        en: "Inbox",
        shown: office,
    },
    NavItem {
        href: "/web/requests/new",
        zh: "登记服务请求",
        en: "Register request",
        shown: |r| matches!(r, Role::Clerk | Role::MarketingHead | Role::Admin),
    },
    NavItem {
        href: "/web/dispatch",
        zh: "派工",
        en: "Dispatch",
        shown: |r| {
            matches!(
                r,
                Role::FactoryDirector | Role::Clerk | Role::MarketingHead | Role::Admin
            )
        },
    },
    NavItem {
        href: "/web/records",
        zh: "记录",
        en: "Records",
        shown: |_| true,
    },
    NavItem {
        href: "/web/complaints",
        zh: "投诉",
        en: "Complaints",
        shown: office,
    },
    NavItem {
        href: "/web/finance",
        zh: "财务",
        en: "Finance",
        shown: |r| {
            matches!(
                r,
                Role::Finance | Role::GeneralManager | Role::Chairman | Role::Admin
            )
        },
    },
    NavItem {
        href: "/web/registers/service-record",
        zh: "登记簿",
        en: "Registers",
        shown: office,
    },
    NavItem {
        href: "/web/reports",
        zh: "报表",
        en: "Reports",
        shown: office,
    },
    NavItem {
        href: "/web/reviews",
        zh: "月度评审",
        en: "Monthly review",
        shown: |r| matches!(r, Role::GmOffice | Role::GeneralManager | Role::Admin),
    },
    NavItem {
        href: "/web/admin",
        zh: "账号管理",
        en: "Accounts",
        shown: |r| r == Role::Admin,
    },
];

/// A whole page for a signed-in user: navigation for their role, the flash message, the body.
pub fn page(s: &Session, title: &str, flash: &Flash, body: &str) -> String {
    let mut nav = String::new();
    for item in NAV.iter().filter(|i| (i.shown)(s.p.role)) {
        let _ = write!(
            nav,
            r#"<a href="{}">{}</a>"#,
            item.href,
            s.t(item.zh, item.en)
        );
    }
    let mut messages = String::new();
    if let Some(ok) = &flash.ok {
        let _ = write!(
            messages,
            r#"<p class="flash ok" role="status">{}</p>"#,
            esc(ok)
        );
    }
    if let Some(err) = &flash.err {
        let _ = write!(
            messages,
            r#"<p class="flash err" role="alert">{}</p>"#,
            esc(err)
        );
    }
    let (other, other_label) = match s.lang {
        Lang::Zh => ("en", "English"),
        Lang::En => ("zh", "中文"),
    };
    let who = format!(
        "{} · {}{}",
        esc(&s.user.display_name),
        esc(s.p.role.label_zh()),
        s.region_name
            .as_deref()
            .map(|r| format!(" · {}", esc(r)))
            .unwrap_or_default()
    );
    format!(
        r#"<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Fieldloop</title><link rel="stylesheet" href="/web/static/app.css"><script src="/web/static/app.js" defer></script></head>
<body><header><strong>Fieldloop</strong><nav>{nav}</nav>{bell}<span class="who">{who}</span>
<a class="lang" href="/web/lang?to={other}">{other_label}</a>
<form method="post" action="/web/logout" class="inline"><input type="hidden" name="csrf" value="{csrf}"><button>{logout}</button></form></header>
<main><h1>{title}</h1>{messages}{body}</main></body></html>"#,
        lang = if s.lang == Lang::Zh { "zh-CN" } else { "en" },
        title = esc(title),
        csrf = esc(&s.csrf),
        logout = s.t("退出", "Sign out"),
        // Words, not an emoji: the office's PCs may have no emoji font.
        bell = if s.bell > 0 {
            format!(
                r#"<a class="bell" id="bell" href="/web/alerts" title="{t}">{label} <span class="badge overdue" id="bell-count">{n}</span></a>"#,
                n = s.bell,
                t = s.t("未读提醒", "Unread alerts"),
                label = s.t("提醒", "Alerts")
            )
        } else {
            format!(
                r#"<a class="bell" id="bell" href="/web/alerts">{}</a>"#,
                s.t("提醒", "Alerts")
            )
        },
    )
}

/// A page with no session (sign-in, refusals).
pub fn bare_page(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{t} · Fieldloop</title><link rel="stylesheet" href="/web/static/app.css"></head>
<body><main class="narrow"><h1>{t}</h1><p>{b}</p></main></body></html>"#,
        t = esc(title),
        b = esc(body)
    )
}

/// A table from headers and rows of already-escaped cells.
pub fn table(id: &str, headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!(r#"<table id="{id}"><thead><tr>"#);
    for h in headers {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>");
    }
    if rows.is_empty() {
        let _ = write!(
            out,
            r#"<tr><td colspan="{}" class="empty">—</td></tr>"#,
            headers.len().max(1)
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// A report table in the user's language.
pub fn report_table(t: &Table, lang: Lang) -> String {
    let rows: Vec<Vec<String>> = t
        .rows
        .iter()
        .map(|r| r.iter().map(|c| esc(&Table::text_in(c, lang))).collect())
        .collect();
    table("report", &t.headers(lang), &rows)
}

/// The hidden CSRF field every form carries.
pub fn csrf_field(s: &Session) -> String {
    format!(
        r#"<input type="hidden" name="csrf" value="{}">"#,
        esc(&s.csrf)
    )
}

/// A labelled text input.
pub fn input(name: &str, label: &str, value: &str, required: bool) -> String {
    format!(
        r#"<label>{l}<input name="{n}" id="f-{n}" value="{v}"{r}></label>"#,
        l = esc(label),
        n = esc(name),
        v = esc(value),
        r = if required { " required" } else { "" }
    )
}

/// A labelled select; `options` are (value, label).
pub fn select(name: &str, label: &str, options: &[(String, String)]) -> String {
    let mut out = format!(
        r#"<label>{}<select name="{n}" id="f-{n}">"#,
        esc(label),
        n = esc(name)
    );
    for (v, l) in options {
        let _ = write!(out, r#"<option value="{}">{}</option>"#, esc(v), esc(l));
    }
    out.push_str("</select></label>");
    out
}

/// A deadline as people read it, the same way on every page: the last day allowed (the day
/// before the limit's midnight, company time) and how many days are left, coloured when it is
/// today or tomorrow and when it has passed. `done`: finished, so no countdown.
pub fn deadline(
    lang: Lang,
    tz: chrono_tz::Tz,
    due: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
    done: bool,
) -> String {
    let last = (due - chrono::Duration::seconds(1))
        .with_timezone(&tz)
        .date_naive();
    let today = now.with_timezone(&tz).date_naive();
    let day = last.format("%Y-%m-%d").to_string();
    if done {
        return day;
    }
    let t = |zh: String, en: String| if lang == Lang::Zh { zh } else { en };
    let left = (last - today).num_days();
    let (class, text) = if now >= due {
        let late = (today - last).num_days().max(1);
        (
            "overdue",
            t(format!("逾期 {late} 天"), format!("{late} d late")),
        )
    } else if left == 0 {
        ("near", t("今天到期".into(), "due today".into()))
    } else if left == 1 {
        ("near", t("还剩 1 天".into(), "1 day left".into()))
    } else {
        (
            "",
            t(format!("还剩 {left} 天"), format!("{left} days left")),
        )
    };
    format!(r#"{day} <span class="badge {class}">{text}</span>"#)
}

/// Local time for people: `YYYY-MM-DD HH:MM` in the company's zone.
pub fn local(tz: chrono_tz::Tz, at: chrono::DateTime<chrono::Utc>) -> String {
    at.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

/// Local time from unix milliseconds.
pub fn local_ms(tz: chrono_tz::Tz, ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| local(tz, t))
        .unwrap_or_default()
}

/// A horizontal bar chart: one bar per (label, value); an optional second value per bar is
/// drawn as a line of points (the cumulative share of a Pareto chart, 0 to 1).
pub fn bar_chart(id: &str, title: &str, bars: &[(String, f64)], line: Option<&[f64]>) -> String {
    let width = 640.0;
    let bar_h = 22.0;
    let label_w = 200.0;
    let height = 30.0 + bar_h * bars.len().max(1) as f64;
    let max = bars
        .iter()
        .map(|(_, v)| *v)
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let mut svg = format!(
        r#"<figure><figcaption>{t}</figcaption><svg id="{id}" role="img" aria-label="{t}" viewBox="0 0 {width} {height}" width="100%" xmlns="http://www.w3.org/2000/svg">"#,
        t = esc(title)
    );
    let plot = width - label_w - 60.0;
    for (i, (label, v)) in bars.iter().enumerate() {
        let y = 10.0 + i as f64 * bar_h;
        let w = plot * v / max;
        let _ = write!(
            svg,
            r##"<text x="{lx}" y="{ty}" text-anchor="end" font-size="12" fill="#333">{l}</text><rect x="{label_w}" y="{y}" width="{w:.1}" height="{h}" fill="#2f6f9f"/><text x="{vx:.1}" y="{ty}" font-size="12" fill="#333">{v}</text>"##,
            lx = label_w - 6.0,
            ty = y + bar_h * 0.65,
            l = esc(label),
            h = bar_h - 6.0,
            vx = label_w + w + 4.0,
            v = if v.fract() == 0.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.2}")
            },
        );
    }
    if let Some(points) = line {
        let coords: Vec<String> = points
            .iter()
            .enumerate()
            .map(|(i, share)| {
                format!(
                    "{:.1},{:.1}",
                    label_w + plot * share.clamp(0.0, 1.0),
                    10.0 + i as f64 * bar_h + bar_h * 0.4
                )
            })
            .collect();
        let _ = write!(
            svg,
            r##"<polyline points="{}" fill="none" stroke="#c0392b" stroke-width="2"/>"##,
            coords.join(" ")
        );
    }
    svg.push_str("</svg></figure>");
    svg
}

/// Bars from a report table: `label_col` names the bar, `value_col` its length.
pub fn bars_from(t: &Table, label_col: usize, value_col: usize) -> Vec<(String, f64)> {
    t.rows
        .iter()
        .map(|r| {
            (
                r.get(label_col).map(Table::text).unwrap_or_default(),
                r.get(value_col).map(Table::number).unwrap_or(0.0),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_read_as_the_last_day_with_days_left() {
        let tz = chrono_tz::Asia::Shanghai;
        let at = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| t.to_utc())
                .unwrap_or_default()
        };
        let due = at("2026-12-09T00:00:00+08:00");
        let d = |now: &str| deadline(Lang::Zh, tz, due, at(now), false);
        assert!(d("2026-12-03T09:00:00+08:00").starts_with("2026-12-08 "));
        assert!(d("2026-12-03T09:00:00+08:00").contains("还剩 5 天"));
        assert!(d("2026-12-07T09:00:00+08:00").contains("near\">还剩 1 天"));
        assert!(d("2026-12-08T23:59:59+08:00").contains("今天到期"));
        assert!(d("2026-12-09T00:00:00+08:00").contains("overdue\">逾期 1 天"));
        assert_eq!(
            deadline(Lang::Zh, tz, due, at("2026-12-10T00:00:00+08:00"), true),
            "2026-12-08"
        );
    }

    #[test]
    fn escaping_and_encoding() {
        assert_eq!(
            esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(url_encode("a b&c/é"), "a%20b%26c/%C3%A9");
    }

    #[test]
    fn charts_scale_to_the_largest_bar() {
        let svg = bar_chart(
            "c",
            "t",
            &[("a".into(), 2.0), ("b".into(), 1.0)],
            Some(&[0.5, 1.0]),
        );
        assert!(svg.contains(r#"width="380.0""#), "{svg}");
        assert!(svg.contains(r#"width="190.0""#), "{svg}");
        assert!(svg.contains("<polyline"));
    }
}
