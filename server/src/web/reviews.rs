//! The GM office's monthly review (§4.8.1): last month's closed cases with their responsible
//! department, loss and penalty, due before the 10th, confirmed once; the confirmation writes
//! the personnel notice (人事公布单), which the registers then show and export.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use fieldloop_client_core::model::Role;
use fieldloop_client_core::model::money::yuan_text;
use maud::html;

use super::html::{Flash, deadline, local, page};
use super::pages::error_page;
use super::{Posted, Session, back_with};
use crate::AppState;
use crate::app::review::{confirm_review, get_review};
use crate::workflow::calendar::{previous_month, year_month};

#[derive(Debug, Default, serde::Deserialize)]
pub struct ReviewQuery {
    month: Option<String>,
    #[serde(flatten)]
    flash: Flash,
}

/// Last month, the latest a review can cover.
fn last_month(state: &AppState) -> String {
    let (y, m) = year_month(state.config.timezone, state.now());
    let (py, pm) = previous_month(y, m);
    format!("{py:04}-{pm:02}")
}

/// The month a review page opens on: the one asked for, else last month.
fn month_or_last(state: &AppState, asked: Option<&str>) -> String {
    match asked.map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => m.to_string(),
        None => {
            let (y, m) = year_month(state.config.timezone, state.now());
            let (py, pm) = previous_month(y, m);
            format!("{py:04}-{pm:02}")
        }
    }
}

pub async fn review_page(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<ReviewQuery>,
) -> Response {
    let month = month_or_last(&state, q.month.as_deref());
    let review = match get_review(&state, &s.p, month).await {
        Ok(r) => r,
        Err(e) => return error_page(&s, e),
    };
    let tz = state.config.timezone;
    let due = deadline(s.lang, tz, review.due_before, state.now(), review.confirmed);
    let body = html! {
        form.inline method="get" action="/web/reviews" {
            label { (s.t("月份", "Month")) " " input type="month" name="month" value=(review.month) max=(last_month(&state)) required; }
            " " button { (s.t("查看", "Show")) }
        }
        p #review-state {
            (s.t("评审期限", "Due by")) ": " (due)
            " · "
            @match review.confirmed_at {
                Some(at) => {
                    strong { (s.t("已确认", "Confirmed")) } " " (local(tz, at))
                    @if review.late { " " span.badge.overdue { (s.t("逾期确认", "confirmed late")) } }
                }
                None => { strong { (s.t("未确认", "Not confirmed")) } }
            }
        }
        @if review.cases.is_empty() {
            p.meta { (s.t("本月没有结案的投诉。", "No complaint was closed in this month.")) }
        } @else {
            table #review-cases {
                thead { tr {
                    th { (s.t("投诉编号", "Case number")) }
                    th { (s.t("结案时间", "Closed")) }
                    th { (s.t("责任部门", "Responsible department")) }
                    th.num { (s.t("损失金额", "Loss")) }
                    th { (s.t("行政处罚", "Penalty")) }
                    th { (s.t("处罚已核准", "Penalty approved")) }
                } }
                tbody {
                    @for c in &review.cases {
                        tr {
                            td { (c.number) }
                            td { (local(tz, c.closed_at)) }
                            td { (c.responsible_department.as_deref().map(|d| department_words(&s, d)).unwrap_or("—")) }
                            td.num { "¥" (yuan_text(c.loss_fen)) }
                            td { (c.penalty.as_deref().unwrap_or("—")) }
                            td { @if c.penalty.is_none() { "—" } @else if c.penalty_approved { (s.t("是", "Yes")) } @else { (s.t("否", "No")) } }
                        }
                    }
                }
            }
        }
        @if review.confirmed {
            p { a #personnel-notice href={ "/web/registers/personnel-notice?month=" (review.month) } {
                (s.t("人事公布单", "Personnel notice"))
            } }
        } @else if s.p.role == Role::GmOffice {
            form.action method="post" action={ "/web/reviews/" (review.month) "/confirm" } {
                input type="hidden" name="csrf" value=(s.csrf);
                p.meta { (s.t(
                    "确认后,已核准的行政处罚写入人事公布单;确认只做一次。",
                    "Confirming writes the approved penalties into the personnel notice; it is done once."
                )) }
                button type="submit" #confirm-review { (s.t("确认月度评审", "Confirm the monthly review")) }
            }
        } @else {
            p.flash.warn { (s.t("等待总经理办公室确认", "Waiting for the GM office to confirm")) }
        }
    };
    let title = format!("{} {}", s.t("月度评审", "Monthly review"), review.month);
    page(&s, &title, &q.flash, body).into_response()
}

pub async fn confirm(
    State(state): State<AppState>,
    Path(month): Path<String>,
    Posted { s, .. }: Posted,
) -> Response {
    let back = format!("/web/reviews?month={}", super::html::url_encode(&month));
    let result = confirm_review(&state, &s.p, month).await.map(|r| {
        format!(
            "{} {}",
            s.t("已确认月度评审", "Monthly review confirmed:"),
            r.month
        )
    });
    back_with(&s, &back, result)
}

/// A department the review names in Chinese, in the reader's language.
fn department_words<'a>(s: &Session, zh: &'a str) -> &'a str {
    use crate::workflow::complaint::Department as D;
    [
        D::Marketing,
        D::Quality,
        D::Production,
        D::RnD,
        D::GmOffice,
        D::Finance,
        D::Warehouse,
    ]
    .into_iter()
    .find(|d| d.label_zh() == zh)
    .map_or(zh, |d| s.t(d.label_zh(), d.label_en()))
}
