//! Customer feedback in the browser (§3.3–§3.5): the open items to chase, severe first, each
//! with what it still needs, and the steps that handle it: the written report to the head, the
//! answer to the customer, a reminder, the head's visit to a complaining customer, closing.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use maud::html;
use uuid::Uuid;

use super::html::{Flash, csrf_field, page};
use super::pages::error_page;
use super::{Posted, Session, back_with, code_words};
use crate::AppState;
use crate::app::surveys::{self, FeedbackStepBody};

/// The chase list with each item's steps.
pub async fn feedback_page(
    State(state): State<AppState>,
    s: Session,
    Query(flash): Query<Flash>,
) -> Response {
    let loaded = async {
        let items = surveys::chase_list(&state, &s.p).await?;
        let mut named = Vec::with_capacity(items.len());
        for item in items {
            // The customer as the answer names them (the feedback record's own field).
            let customer = state
                .db
                .doc_fields(item.item.id)
                .await?
                .into_iter()
                .find(|f| f.path == "answer.customer_name")
                .map(|f| f.value)
                .unwrap_or_default();
            named.push((item, customer));
        }
        Ok::<_, crate::error::AppError>(named)
    }
    .await;
    let items = match loaded {
        Ok(i) => i,
        Err(e) => return error_page(&s, e),
    };
    let body = html! {
        p.meta { (s.t(
            "未办结的客户意见,特别严重的在前(§3.3),其次按时间先后;办结前须完成“还需”所列事项。",
            "Open customer feedback, severe first (§3.3), then oldest first; what is listed under \"Still needs\" is done before it closes."
        )) }
        table #feedback {
            thead { tr {
                th { (s.t("客户", "Customer")) }
                th { (s.t("类别", "Kind")) }
                th { (s.t("严重程度", "Severity")) }
                th { (s.t("评分", "Rating")) }
                th { (s.t("已过天数", "Days open")) }
                th { (s.t("催办次数", "Reminders")) }
                th { (s.t("还需", "Still needs")) }
                th { (s.t("处理", "Handle")) }
            } }
            tbody {
                @for (chase, customer) in &items {
                    @let item = &chase.item;
                    @let needs = surveys::needs_zh(item);
                    @let action = |step: &str| format!("/web/feedback/{}/{step}", item.id);
                    tr {
                        td { a href={ "/web/records/" (item.id) } { (if customer.is_empty() { s.t("(未留名)", "(no name)") } else { customer.as_str() }) } }
                        td { (code_words(&s, &item.kind)) }
                        td {
                            @if item.severity == "severe" { span.badge.overdue { (code_words(&s, &item.severity)) } }
                            @else { (code_words(&s, &item.severity)) }
                        }
                        td { (item.rating.map(|r| r.to_string()).unwrap_or_else(|| "—".into())) }
                        td { (chase.age_days) }
                        td { (item.chase_count) }
                        td {
                            @if needs.is_empty() { (s.t("可以办结", "ready to close")) }
                            @else if s.lang == crate::export::Lang::Zh { (needs.join(";")) }
                            @else { (chase.needs.join("; ")) }
                        }
                        td {
                            @if item.severity == "severe" && item.reported_at.is_none() {
                                form.inline method="post" action=(action("report")) {
                                    (csrf_field(&s))
                                    button id={ "report-" (item.id) } { (s.t("已书面报告部长", "Reported to the head in writing")) }
                                }
                            }
                            @if item.answer_method.is_none() || (item.severity == "severe" && item.answer_method.as_deref() != Some("letter")) {
                                form.inline method="post" action=(action("answer")) {
                                    (csrf_field(&s))
                                    select name="method" aria-label=(s.t("答复方式", "Answered by")) {
                                        @if item.severity != "severe" { option value="phone" { (s.t("电话", "Telephone")) } }
                                        option value="letter" { (s.t("书面", "Letter")) }
                                    }
                                    input name="text" required placeholder=(s.t("答复内容", "What the customer was told"));
                                    button id={ "answer-" (item.id) } { (s.t("记录答复", "Record the answer")) }
                                }
                            }
                            @if item.kind == "complaint" && item.complaint_id.is_none() && item.head_visit.is_none() {
                                form.inline method="post" action=(action("visit")) {
                                    (csrf_field(&s))
                                    input name="text" required placeholder=(s.t("拜访人", "Who visited"));
                                    button id={ "visit-" (item.id) } { (s.t("记录拜访(§3.5)", "Record the visit (§3.5)")) }
                                }
                            }
                            form.inline method="post" action=(action("chase")) {
                                (csrf_field(&s))
                                button id={ "chase-" (item.id) } { (s.t("催办", "Chase")) }
                            }
                            @if needs.is_empty() {
                                form.inline method="post" action=(action("close")) {
                                    (csrf_field(&s))
                                    button id={ "close-" (item.id) } { (s.t("办结", "Close")) }
                                }
                            }
                        }
                    }
                }
                @if items.is_empty() {
                    tr { td.empty colspan="8" { (s.t("没有未办结的客户意见", "No open feedback")) } }
                }
            }
        }
    };
    page(&s, s.t("客户意见处理", "Customer feedback"), &flash, body).into_response()
}

/// One handling step on a feedback item, through the same application function as the API.
pub async fn feedback_step(
    State(state): State<AppState>,
    Path((id, step)): Path<(Uuid, String)>,
    Posted { s, form }: Posted,
) -> Response {
    let text = Some(form.get("text").trim())
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    let method = Some(form.get("method"))
        .filter(|m| !m.is_empty())
        .map(str::to_string);
    let body = FeedbackStepBody { method, text };
    let result = surveys::feedback_step(&state, &s.p, id, step, body)
        .await
        .map(|_| s.t("已记录", "Recorded").to_string());
    back_with(&s, "/web/feedback", result)
}
