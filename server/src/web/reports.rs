//! Registers and reports in the browser: each the API's own table, shown as HTML with CSV and
//! XLSX downloads, and charts drawn as SVG on the server (monthly complaints by cause, a Pareto
//! of causes, the technician ranking).

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};

use fieldloop_client_core::model::Role;

use super::Session;
use super::html::{Flash, bar_chart, bars_from, grouped_bar_chart, page, report_table};
use super::pages::error_page;
use crate::AppState;
use crate::app::reports::{REPORTS, report_table as build};
use crate::error::AppError;
use crate::export::{Cell, Lang, Table};
use crate::http::reports::download as file_response;
use crate::workflow::calendar::{previous_month, year_month};

#[derive(Debug, Default, serde::Deserialize)]
pub struct MonthQuery {
    month: Option<String>,
    format: Option<String>,
    #[serde(flatten)]
    flash: Flash,
}

fn month_param(q: &MonthQuery) -> Option<&str> {
    q.month.as_deref().filter(|m| !m.is_empty())
}

/// One register or report as a page, with the month chooser and downloads.
pub async fn register(
    State(state): State<AppState>,
    s: Session,
    Path(name): Path<String>,
    Query(q): Query<MonthQuery>,
) -> Response {
    let (table, month) = match build(&state, &s.p, &name, month_param(&q), None).await {
        Ok(t) => t,
        // The personnel notice exists once the month's review is confirmed: say so, and where.
        Err(e) if name == "personnel-notice" && e.code == crate::error::ErrorCode::NotFound => {
            let tz = state.config.timezone;
            let (y, m) = year_month(tz, state.now());
            let this_month = format!("{y:04}-{m:02}");
            let month = month_param(&q).unwrap_or(&this_month).to_string();
            let ended = month < this_month;
            let reviewer = matches!(
                s.p.role,
                Role::GmOffice | Role::GeneralManager | Role::Admin
            );
            let body = maud::html! {
                p.flash.warn #notice-waiting {
                    (s.t("人事公布单在月度评审确认后生成。", "The personnel notice is made when the monthly review is confirmed."))
                    " "
                    @if !ended {
                        (s.t("本月结束后,总经理办公室于次月10日前评审确认(§4.8.1)。", "The GM office reviews the month after it ends, before the 10th of the next (§4.8.1)."))
                    } @else if reviewer {
                        a href={ "/web/reviews?month=" (month) } { (s.t("去月度评审", "Open the monthly review")) }
                    } @else {
                        (s.t("等待总经理办公室确认月度评审。", "Waiting for the GM office to confirm the review."))
                    }
                }
            };
            return page(&s, s.t("人事公布单", "Personnel notice"), &q.flash, body).into_response();
        }
        Err(e) => return error_page(&s, e),
    };
    let title = match s.lang {
        Lang::Zh => table.title_zh.clone(),
        Lang::En => table.title_en.clone(),
    };
    let body = maud::html! {
        p.filters {
            @for (n, zh, en) in REPORTS {
                a.current[*n == name] href={ "/web/registers/" (n) "?month=" (month) } { (s.t(zh, en)) } " "
            }
        }
        form.inline method="get" {
            label { (s.t("月份", "Month")) input type="month" name="month" value=(month) max=(this_month(&state)); }
            button { (s.t("显示", "Show")) }
        }
        p.downloads {
            a #download-csv href={ "/web/registers/" (name) "/download?month=" (month) "&format=csv" } { "CSV" }
            " · "
            a #download-xlsx href={ "/web/registers/" (name) "/download?month=" (month) "&format=xlsx" } { "Excel (XLSX)" }
        }
        (report_table(&table, s.lang))
    };
    page(&s, &title, &q.flash, body).into_response()
}

/// The company's current month, the latest a register or chart can show.
fn this_month(state: &AppState) -> String {
    let (y, m) = year_month(state.config.timezone, state.now());
    format!("{y:04}-{m:02}")
}

/// A register as CSV (with a BOM, for Excel) or XLSX, in the user's language.
pub async fn download(
    State(state): State<AppState>,
    s: Session,
    Path(name): Path<String>,
    Query(q): Query<MonthQuery>,
) -> Response {
    let result = async {
        let (table, month) = build(&state, &s.p, &name, month_param(&q), None).await?;
        // The file named as the office names the register: 客户产品进出登记簿-2026-11.xlsx.
        let title = match s.lang {
            Lang::Zh => &table.title_zh,
            Lang::En => &table.title_en,
        };
        let file = format!("{title}-{month}");
        match q.format.as_deref() {
            Some("csv") => Ok(file_response(
                table.to_csv(s.lang),
                "text/csv; charset=utf-8",
                &format!("{file}.csv"),
            )),
            Some("xlsx") => Ok(file_response(
                table.to_xlsx(s.lang).map_err(AppError::internal)?,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                &format!("{file}.xlsx"),
            )),
            _ => Err(AppError::invalid("format is csv or xlsx")
                .with_zh(Some("下载格式为 CSV 或 XLSX".into()))),
        }
    }
    .await;
    result.unwrap_or_else(|e| error_page(&s, e))
}

/// Charts: complaints by cause class over the last six months, the Pareto of causes this
/// month, and the technicians ranked.
pub async fn charts(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<MonthQuery>,
) -> Response {
    let tz = state.config.timezone;
    let (mut y, mut m) = year_month(tz, state.now());
    let mut months = Vec::new();
    for _ in 0..6 {
        months.push(format!("{y:04}-{m:02}"));
        (y, m) = previous_month(y, m);
    }
    months.reverse();
    // Complaints by cause class, month by month.
    let mut by_month: Vec<(String, BTreeMap<String, f64>)> = Vec::new();
    for month in &months {
        match build(&state, &s.p, "complaint-stats", Some(month), None).await {
            Ok((t, _)) => {
                let classes = t
                    .rows
                    .iter()
                    .filter(|r| matches!(r.first(), Some(Cell::Text(d)) if d == "原因类别"))
                    .map(|r| {
                        (
                            r.get(1).map(Table::text).unwrap_or_default(),
                            r.get(2).map(Table::number).unwrap_or(0.0),
                        )
                    })
                    .collect();
                by_month.push((month.clone(), classes));
            }
            Err(e) => return error_page(&s, e),
        }
    }
    // Month and cause apart: each month a group of bars, one per cause class.
    let monthly: Vec<(String, Vec<(String, f64)>)> = by_month
        .iter()
        .map(|(month, classes)| {
            (
                month.clone(),
                classes.iter().map(|(c, n)| (c.clone(), *n)).collect(),
            )
        })
        .collect();
    let current = months.last().cloned().unwrap_or_default();
    let month = month_param(&q).unwrap_or(&current).to_string();
    let (stats, _) = match build(&state, &s.p, "complaint-stats", Some(&month), None).await {
        Ok(t) => t,
        Err(e) => return error_page(&s, e),
    };
    let pareto = Table {
        rows: stats
            .rows
            .iter()
            .filter(|r| matches!(r.first(), Some(Cell::Text(d)) if d == "帕累托"))
            .cloned()
            .collect(),
        ..stats.clone()
    };
    let shares: Vec<f64> = pareto
        .rows
        .iter()
        .map(|r| match r.get(3) {
            Some(Cell::Ratio(x)) => x.unwrap_or(0.0),
            _ => 0.0,
        })
        .collect();
    let (techs, _) = match build(&state, &s.p, "technicians", Some(&month), None).await {
        Ok(t) => t,
        Err(e) => return error_page(&s, e),
    };
    let downloads = |report: &str| {
        maud::html! {
            p.downloads {
                a href={ "/web/registers/" (report) "/download?month=" (month) "&format=csv" } { "CSV" }
                " · "
                a href={ "/web/registers/" (report) "/download?month=" (month) "&format=xlsx" } { "Excel (XLSX)" }
            }
        }
    };
    let body = maud::html! {
        form.inline method="get" {
            label { (s.t("月份", "Month")) input type="month" name="month" value=(month) max=(this_month(&state)); }
            button { (s.t("显示", "Show")) }
        }
        section.charts {
            (grouped_bar_chart(
                "chart-monthly",
                s.t("近六个月投诉(按月份与原因类别)", "Complaints by month and cause class, last six months"),
                &monthly,
                s.t("无投诉", "none"),
            ))
            (downloads("complaint-stats"))
            (bar_chart(
                "chart-pareto",
                s.t("投诉原因帕累托图(红线为累计占比)", "Pareto of causes (red: cumulative share)"),
                &bars_from(&pareto, 1, 2, s.lang),
                Some(&shares),
            ))
            (bar_chart(
                "chart-technicians",
                s.t("技术员排名(服务次数)", "Technician ranking (jobs)"),
                &bars_from(&techs, 1, 2, s.lang),
                None,
            ))
            (downloads("technicians"))
        }
        h2 { (s.t("技术员月度绩效", "Technician monthly performance")) }
        (report_table(&techs, s.lang))
    };
    page(&s, s.t("报表", "Reports"), &q.flash, body).into_response()
}
