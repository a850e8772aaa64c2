//! Building HTML with maud (compile-checked, every value escaped): the page frame with its
//! navigation, report tables, form parts and SVG charts. Pure: values in, markup out.

use std::fmt::Write as _;

use axum::response::Html;
use fieldloop_client_core::model::Role;
use maud::{DOCTYPE, Markup, html};

use super::Session;
use crate::export::{Lang, Table};

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
        href: "/web/feedback",
        zh: "客户意见",
        en: "Feedback",
        shown: |r| {
            matches!(
                r,
                Role::Clerk
                    | Role::Salesperson
                    | Role::MarketingHead
                    | Role::GmOffice
                    | Role::Admin
            )
        },
    },
    NavItem {
        href: "/web/surveys",
        zh: "回访",
        en: "Surveys",
        shown: |r| {
            matches!(
                r,
                Role::Clerk
                    | Role::Salesperson
                    | Role::MarketingHead
                    | Role::GmOffice
                    | Role::Admin
            )
        },
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
pub fn page(s: &Session, title: &str, flash: &Flash, body: Markup) -> Html<String> {
    let (other, other_label) = match s.lang {
        Lang::Zh => ("en", "English"),
        Lang::En => ("zh", "中文"),
    };
    let markup = html! {
        (DOCTYPE)
        html lang=(if s.lang == Lang::Zh { "zh-CN" } else { "en" }) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Fieldloop" }
                link rel="stylesheet" href="/web/static/app.css";
                script src="/web/static/app.js" defer {}
            }
            body {
                header {
                    strong { "Fieldloop" }
                    nav {
                        @for item in NAV.iter().filter(|i| (i.shown)(s.p.role)) {
                            a href=(item.href) { (s.t(item.zh, item.en)) }
                        }
                    }
                    // Words, not an emoji: the office's PCs may have no emoji font.
                    @if s.bell > 0 {
                        a.bell #bell href="/web/alerts" title=(s.t("未读提醒", "Unread alerts")) {
                            (s.t("提醒", "Alerts")) " " span.badge.overdue #bell-count { (s.bell) }
                        }
                    } @else {
                        a.bell #bell href="/web/alerts" { (s.t("提醒", "Alerts")) }
                    }
                    span.who {
                        (s.user.display_name) " · " (s.t(s.p.role.label_zh(), s.p.role.label_en()))
                        @if let Some(r) = &s.region_name { " · " (r) }
                    }
                    a.lang href={ "/web/lang?to=" (other) } { (other_label) }
                    form.inline method="post" action="/web/logout" {
                        input type="hidden" name="csrf" value=(s.csrf);
                        button { (s.t("退出", "Sign out")) }
                    }
                }
                main {
                    h1 { (title) }
                    @if let Some(ok) = &flash.ok { p.flash.ok role="status" { (ok) } }
                    @if let Some(err) = &flash.err { p.flash.err role="alert" { (err) } }
                    (body)
                }
            }
        }
    };
    Html(markup.into_string())
}

/// A page with no session (sign-in, refusals).
pub fn bare_page(title: &str, body: &str) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Fieldloop" }
                link rel="stylesheet" href="/web/static/app.css";
            }
            body { main.narrow { h1 { (title) } p { (body) } } }
        }
    };
    Html(markup.into_string())
}

/// A report table in the user's language.
pub fn report_table(t: &Table, lang: Lang) -> Markup {
    html! {
        table #report {
            thead { tr { @for h in t.headers(lang) { th { (h) } } } }
            tbody {
                @for row in &t.rows {
                    tr {
                        @for c in row {
                            @match c {
                                // Money on a page as people write it; the downloads keep numbers.
                                crate::export::Cell::Fen(f) => td.num.nw { "¥" (fieldloop_client_core::model::money::yuan_text(*f)) },
                                // A short value (a date, a phone, a model) stays on one line;
                                // long text wraps.
                                _ => {
                                    @let text = Table::text_in(c, lang);
                                    td.nw[text.chars().count() <= 20] { (text) }
                                }
                            }
                        }
                    }
                }
                @if t.rows.is_empty() {
                    tr { td.empty colspan=(t.headers(lang).len().max(1)) { "—" } }
                }
            }
        }
    }
}

/// The hidden CSRF field every form carries.
pub fn csrf_field(s: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(s.csrf); }
}

/// A labelled text input.
pub fn input(name: &str, label: &str, value: &str, required: bool) -> Markup {
    html! {
        label { (label) input name=(name) id={ "f-" (name) } value=(value) required[required]; }
    }
}

/// A labelled amount in yuan: a number field (a numeric keypad on a tablet), fen at most.
pub fn money_input(name: &str, label: &str, value: &str, required: bool) -> Markup {
    html! {
        label { (label) input type="number" min="0" step="0.01" inputmode="decimal"
            name=(name) id={ "f-" (name) } value=(value) required[required]; }
    }
}

/// A labelled count of pieces (or months): a whole number, not negative.
pub fn count_input(name: &str, label: &str, value: &str, required: bool) -> Markup {
    html! {
        label { (label) input type="number" min="0" step="1" inputmode="numeric"
            name=(name) id={ "f-" (name) } value=(value) required[required]; }
    }
}

/// A list filter's "from … to …" days (date pickers named `from` and `to`), `label` naming
/// what the days are of ("登记日期从").
pub fn day_range_inputs(s: &Session, label: (&str, &str), from: &str, to: &str) -> Markup {
    html! {
        label { (s.t(label.0, label.1)) " "
            input type="date" name="from" value=(from);
        }
        " "
        label { (s.t("到", "to")) " "
            input type="date" name="to" value=(to);
        }
    }
}

/// A labelled date input (the browser's date picker), `YYYY-MM-DD`.
pub fn date_input(name: &str, label: &str, required: bool) -> Markup {
    html! {
        label { (label) input type="date" name=(name) id={ "f-" (name) } required[required]; }
    }
}

/// A labelled select; `options` are (value, label).
pub fn select(name: &str, label: &str, options: &[(String, String)]) -> Markup {
    html! {
        label {
            (label)
            select name=(name) id={ "f-" (name) } {
                @for (v, l) in options { option value=(v) { (l) } }
            }
        }
    }
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
) -> Markup {
    let last = (due - chrono::Duration::seconds(1))
        .with_timezone(&tz)
        .date_naive();
    let today = now.with_timezone(&tz).date_naive();
    let day = last.format("%Y-%m-%d").to_string();
    if done {
        return html! { (day) };
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
    html! { (day) " " span class={ "badge " (class) } { (text) } }
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
pub fn bar_chart(id: &str, title: &str, bars: &[(String, f64)], line: Option<&[f64]>) -> Markup {
    let width = 640.0;
    let bar_h = 22.0;
    let label_w = 200.0;
    let height = 20.0 + bars.len() as f64 * bar_h;
    let max = bars
        .iter()
        .map(|(_, v)| *v)
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let plot = width - label_w - 60.0;
    let points = line.map(|points| {
        let mut out = String::new();
        for (i, share) in points.iter().enumerate() {
            let _ = write!(
                out,
                "{}{:.1},{:.1}",
                if i > 0 { " " } else { "" },
                label_w + plot * share.clamp(0.0, 1.0),
                10.0 + i as f64 * bar_h + bar_h * 0.4
            );
        }
        out
    });
    let number = |v: f64| {
        if v.fract() == 0.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.2}")
        }
    };
    html! {
        figure {
            figcaption { (title) }
            svg id=(id) role="img" aria-label=(title) viewBox={ "0 0 " (width) " " (height) }
                width="100%" xmlns="http://www.w3.org/2000/svg" {
                @for (i, (label, v)) in bars.iter().enumerate() {
                    @let y = 10.0 + i as f64 * bar_h;
                    @let w = plot * v / max;
                    text x=(label_w - 6.0) y=(y + bar_h * 0.65) text-anchor="end" font-size="12" fill="#333" { (label) }
                    rect x=(label_w) y=(y) width=(format!("{w:.1}")) height=(bar_h - 6.0) fill="#2f6f9f" {}
                    text x=(format!("{:.1}", label_w + w + 4.0)) y=(y + bar_h * 0.65) font-size="12" fill="#333" { (number(*v)) }
                }
                @if let Some(p) = &points {
                    polyline points=(p) fill="none" stroke="#c0392b" stroke-width="2" {}
                }
            }
        }
    }
}

/// Bars in groups (a month, then one bar per cause class under it): the group's name on a line
/// of its own, the bars' labels beside them. An empty group says `none`.
pub fn grouped_bar_chart(
    id: &str,
    title: &str,
    groups: &[(String, Vec<(String, f64)>)],
    none: &str,
) -> Markup {
    let width = 640.0;
    let bar_h = 22.0;
    let label_w = 200.0;
    let plot = width - label_w - 60.0;
    let max = groups
        .iter()
        .flat_map(|(_, bars)| bars.iter().map(|(_, v)| *v))
        .fold(0.0_f64, f64::max)
        .max(1.0);
    // Each group takes a line for its name and one per bar (at least one, for "none").
    let mut y = 10.0;
    let mut rows = Vec::new();
    for (group, bars) in groups {
        rows.push((y, group.clone(), None));
        y += bar_h;
        if bars.is_empty() {
            rows.push((y, none.to_string(), Some(0.0)));
            y += bar_h;
        }
        for (label, v) in bars {
            rows.push((y, label.clone(), Some(*v)));
            y += bar_h;
        }
    }
    html! {
        figure {
            figcaption { (title) }
            svg id=(id) role="img" aria-label=(title) viewBox={ "0 0 " (width) " " (y + 10.0) }
                width="100%" xmlns="http://www.w3.org/2000/svg" {
                @for (y, label, value) in &rows {
                    @match value {
                        None => {
                            text x="4" y=(y + bar_h * 0.65) font-size="13" font-weight="bold" fill="#222" { (label) }
                        }
                        Some(v) => {
                            @let w = plot * v / max;
                            text x=(label_w - 6.0) y=(y + bar_h * 0.65) text-anchor="end" font-size="12" fill="#333" { (label) }
                            rect x=(label_w) y=(y) width=(format!("{w:.1}")) height=(bar_h - 6.0) fill="#2f6f9f" {}
                            text x=(format!("{:.1}", label_w + w + 4.0)) y=(y + bar_h * 0.65) font-size="12" fill="#333" { (format!("{v:.0}")) }
                        }
                    }
                }
            }
        }
    }
}

/// Bars from a report table: `label_col` names the bar, `value_col` its length.
pub fn bars_from(t: &Table, label_col: usize, value_col: usize, lang: Lang) -> Vec<(String, f64)> {
    t.rows
        .iter()
        .map(|r| {
            (
                r.get(label_col)
                    .map(|c| Table::text_in(c, lang))
                    .unwrap_or_default(),
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
        let d = |now: &str| deadline(Lang::Zh, tz, due, at(now), false).into_string();
        assert!(d("2026-12-03T09:00:00+08:00").starts_with("2026-12-08 "));
        assert!(d("2026-12-03T09:00:00+08:00").contains("还剩 5 天"));
        assert!(d("2026-12-07T09:00:00+08:00").contains("near\">还剩 1 天"));
        assert!(d("2026-12-08T23:59:59+08:00").contains("今天到期"));
        assert!(d("2026-12-09T00:00:00+08:00").contains("overdue\">逾期 1 天"));
        assert_eq!(
            deadline(Lang::Zh, tz, due, at("2026-12-10T00:00:00+08:00"), true).into_string(),
            "2026-12-08"
        );
    }

    #[test]
    fn escaping_and_encoding() {
        let cell = input("n", r#"<a href="x">'&'</a>"#, r#"" onfocus="x"#, false).into_string();
        assert!(
            cell.contains("&lt;a href=&quot;x&quot;&gt;'&amp;'&lt;/a&gt;"),
            "{cell}"
        );
        assert!(cell.contains(r#"value="&quot; onfocus=&quot;x""#), "{cell}");
        assert_eq!(url_encode("a b&c/é"), "a%20b%26c/%C3%A9");
    }

    #[test]
    fn charts_scale_to_the_largest_bar() {
        let svg = bar_chart(
            "c",
            "t",
            &[("a".into(), 2.0), ("b".into(), 1.0)],
            Some(&[0.5, 1.0]),
        )
        .into_string();
        assert!(svg.contains(r#"width="380.0""#), "{svg}");
        assert!(svg.contains(r#"width="190.0""#), "{svg}");
        assert!(svg.contains("<polyline"));
    }
}
