//! Survey answers taken by phone (§3.1–§3.2): the open campaigns of the user's office, and a
//! form per campaign to enter what a customer said on the phone (the rating of the technician
//! and each question of the campaign's template), through the same function as the API.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use fieldloop_client_core::model::Role;
use maud::html;
use uuid::Uuid;

use super::html::{Flash, csrf_field, input, page};
use super::pages::error_page;
use super::{Posted, Session, back_with};
use crate::AppState;
use crate::app::surveys::{self, PhoneAnswer, Question};
use crate::error::AppError;

/// The open campaigns of the user's office, each with its answer form.
pub async fn surveys_page(
    State(state): State<AppState>,
    s: Session,
    Query(flash): Query<Flash>,
) -> Response {
    let loaded = async {
        let mut campaigns = Vec::new();
        for c in state.db.open_campaigns().await? {
            // A regional office sees the campaigns of its region and the company-wide ones.
            if !s.p.is_head_office() && c.region.is_some() && c.region != s.p.region {
                continue;
            }
            let questions: Vec<Question> = serde_json::from_str(
                &state
                    .db
                    .template_questions(c.template_id)
                    .await?
                    .unwrap_or_default(),
            )
            .unwrap_or_default();
            campaigns.push((c, questions));
        }
        let technicians: Vec<_> = state
            .db
            .list_users()
            .await?
            .into_iter()
            .filter(|u| u.role == Role::Technician && u.active)
            .filter(|u| s.p.is_head_office() || u.region == s.p.region)
            .collect();
        Ok::<_, AppError>((campaigns, technicians))
    }
    .await;
    let (campaigns, technicians) = match loaded {
        Ok(l) => l,
        Err(e) => return error_page(&s, e),
    };
    let body = html! {
        p.meta { (s.t(
            "电话回访时,在此登记客户的评分与回答;技术员在现场用手机收集的回答同步后自动计入。",
            "Answers taken by phone are entered here; those the technician's phone collects on site arrive by sync."
        )) }
        @for (c, questions) in &campaigns {
            section.sheet id={ "campaign-" (c.id) } {
                h2 { (c.name) " · " (c.opens_on) " — " (c.closes_on) }
                form.grid method="post" action={ "/web/surveys/" (c.id) "/answers" } {
                    (csrf_field(&s))
                    (input("customer_name", s.t("客户名称", "Customer"), "", true))
                    label { (s.t("技术员", "Technician"))
                        select name="technician" required {
                            option value="" { (s.t("选择技术员", "Choose the technician")) }
                            @for t in &technicians { option value=(t.id) { (t.display_name) } }
                        }
                    }
                    label { (s.t("对技术员的评分", "Rating of the technician"))
                        select name="rating" required {
                            option value="" { "—" }
                            @for n in 1..=5 { option value=(n) { (n) } }
                        }
                    }
                    @for (i, q) in questions.iter().enumerate() {
                        label { (s.t(&q.text_zh, &q.text_en))
                            select name={ "q" (i + 1) } {
                                option value="" { "—" }
                                @for n in 1..=q.scale { option value=(n) { (n) } }
                            }
                        }
                    }
                    (input("comment", s.t("客户意见", "Comment"), "", false))
                    button type="submit" id={ "answer-" (c.id) } { (s.t("登记回答", "Enter the answer")) }
                }
            }
        }
        @if campaigns.is_empty() {
            p #no-campaign { (s.t("目前没有进行中的回访调查。", "No survey is open now.")) }
        }
    };
    page(&s, s.t("回访调查", "Surveys"), &flash, body).into_response()
}

/// Enters one phone answer.
pub async fn answer(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Posted { s, form }: Posted,
) -> Response {
    let result = async {
        let rating = form.get("rating").trim().parse::<i64>().map_err(|_| {
            AppError::invalid("choose a rating of 1 to 5")
                .with_zh(Some("请选择 1 到 5 的评分".into()))
        })?;
        let technician = Uuid::parse_str(form.get("technician")).map_err(|_| {
            AppError::invalid("choose the technician").with_zh(Some("请选择技术员".into()))
        })?;
        let mut responses = BTreeMap::new();
        for (key, value) in &form.0 {
            if let Some(n) = key.strip_prefix('q')
                && !value.trim().is_empty()
            {
                let v = value.trim().parse::<i64>().map_err(|_| {
                    AppError::invalid("answers are whole numbers")
                        .with_zh(Some("回答应为整数".into()))
                })?;
                responses.insert(n.to_string(), v);
            }
        }
        let body = PhoneAnswer {
            visit_id: None,
            technician: Some(technician),
            customer_name: form.get("customer_name").trim().to_string(),
            rating,
            responses,
            comment: form.get("comment").trim().to_string(),
        };
        surveys::answer_campaign(&state, &s.p, id, body).await?;
        Ok(s.t("已登记回访回答", "Answer entered").to_string())
    }
    .await;
    back_with(&s, "/web/surveys", result)
}
