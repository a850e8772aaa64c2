//! Customer opinion (§3): survey templates and campaigns, answers taken by phone, and the
//! handling and chasing of feedback (severe feedback reported in writing, every complaint
//! visited by the department head or a delegate).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use fieldloop_client_core::model::{DocKind, FieldValue, Role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::role_in;
use crate::AppState;
use crate::access::Principal;
use crate::db::feedback::{Campaign, FeedbackItem};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::records::server_create_in;

const OFFICE: &[Role] = &[
    Role::Clerk,
    Role::Salesperson,
    Role::MarketingHead,
    Role::GmOffice,
];

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct Question {
    pub text_zh: String,
    pub text_en: String,
    /// Answers run 1..=scale.
    pub scale: u8,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewTemplate {
    pub name: String,
    pub questions: Vec<Question>,
}

/// A survey template (§3.1): questions and their scales.
pub async fn create_template(
    state: &AppState,
    p: &Principal,
    body: NewTemplate,
) -> AppResult<serde_json::Value> {
    role_in(
        p,
        &[Role::MarketingHead, Role::Clerk, Role::GmOffice],
        "survey templates",
    )?;
    if body.name.trim().is_empty() || body.questions.is_empty() {
        return Err(
            AppError::invalid("a template has a name and at least one question")
                .with_zh(Some("问卷须有名称和至少一题".into())),
        );
    }
    if body
        .questions
        .iter()
        .any(|q| !(2..=10).contains(&q.scale) || q.text_zh.trim().is_empty())
    {
        return Err(
            AppError::invalid("each question has text and a scale of 2 to 10")
                .with_zh(Some("每题须有题目,评分等级为 2 到 10".into())),
        );
    }
    let id = Uuid::now_v7();
    let questions = serde_json::to_string(&body.questions).map_err(AppError::internal)?;
    state
        .db
        .create_template(id, body.name.trim(), &questions, state.now_ms())
        .await?;
    Ok(serde_json::json!({"id": id}))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewCampaign {
    pub template_id: Uuid,
    pub name: String,
    /// monthly, quarterly or ad_hoc.
    pub period: String,
    pub region: Option<String>,
    pub product_model: Option<String>,
    pub opens_on: NaiveDate,
    pub closes_on: NaiveDate,
}

/// A survey campaign, periodic or ad hoc, by region or product (§3.1).
pub async fn create_campaign(
    state: &AppState,
    p: &Principal,
    body: NewCampaign,
) -> AppResult<Campaign> {
    role_in(
        p,
        &[Role::MarketingHead, Role::Clerk, Role::GmOffice],
        "survey campaigns",
    )?;
    if !["monthly", "quarterly", "ad_hoc"].contains(&body.period.as_str()) {
        return Err(AppError::invalid("period is monthly, quarterly or ad_hoc")
            .with_zh(Some("周期须为每月、每季或临时".into())));
    }
    if body.closes_on < body.opens_on {
        return Err(AppError::invalid("a campaign closes after it opens")
            .with_zh(Some("回访活动的结束日期须晚于开始日期".into())));
    }
    state
        .db
        .template_questions(body.template_id)
        .await?
        .ok_or_else(|| {
            AppError::invalid(format!("no survey template {}", body.template_id))
                .with_zh(Some("没有这个回访问卷".into()))
        })?;
    let c = Campaign {
        id: Uuid::now_v7(),
        template_id: body.template_id,
        name: body.name.trim().to_string(),
        period: body.period,
        region: body.region.filter(|r| !r.trim().is_empty()),
        product_model: body.product_model.filter(|m| !m.trim().is_empty()),
        opens_on: body.opens_on.to_string(),
        closes_on: body.closes_on.to_string(),
        closed: false,
    };
    state.db.create_campaign(&c, state.now_ms()).await?;
    Ok(c)
}

/// Closes a campaign: no more answers.
pub async fn close_campaign(state: &AppState, p: &Principal, id: Uuid) -> AppResult<()> {
    role_in(
        p,
        &[Role::MarketingHead, Role::Clerk, Role::GmOffice],
        "survey campaigns",
    )?;
    if !state.db.close_campaign(id, state.now_ms()).await? {
        return Err(AppError::new(
            ErrorCode::CampaignClosed,
            "no such open campaign",
        ));
    }
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PhoneAnswer {
    pub visit_id: Option<Uuid>,
    pub technician: Option<Uuid>,
    pub customer_name: String,
    /// 1 to 5: the customer's rating of the technician.
    pub rating: i64,
    /// Answers to the template's questions, by question number (1-based).
    #[serde(default)]
    pub responses: BTreeMap<String, i64>,
    #[serde(default)]
    pub comment: String,
}

/// A clerk enters a survey answer taken by phone (§3.1); answers from the technician's phone
/// arrive by sync instead.
pub async fn answer_campaign(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    body: PhoneAnswer,
) -> AppResult<serde_json::Value> {
    role_in(p, OFFICE, "entering survey answers")?;
    let campaign = state.db.campaign(id).await?.ok_or_else(|| {
        AppError::not_found(format!("no campaign {id}")).with_zh(Some("找不到该回访活动".into()))
    })?;
    if campaign.closed {
        return Err(AppError::new(
            ErrorCode::CampaignClosed,
            "this campaign is closed; it takes no more answers",
        )
        .with_zh(Some("该回访调查已结束,不再登记回答".into())));
    }
    if !(1..=5).contains(&body.rating) {
        return Err(
            AppError::invalid(format!("a rating is 1 to 5, not {}", body.rating))
                .with_zh(Some("评分须为 1 到 5".into())),
        );
    }
    let questions: Vec<Question> = serde_json::from_str(
        &state
            .db
            .template_questions(campaign.template_id)
            .await?
            .unwrap_or_default(),
    )
    .map_err(AppError::internal)?;
    for (k, v) in &body.responses {
        let q = k
            .parse::<usize>()
            .ok()
            .and_then(|n| questions.get(n.wrapping_sub(1)))
            .ok_or_else(|| {
                AppError::invalid(format!("the template has no question {k}"))
                    .with_zh(Some(format!("问卷没有第 {k} 题")))
            })?;
        if *v < 1 || *v > i64::from(q.scale) {
            return Err(AppError::invalid(format!(
                "question {k} is answered 1 to {}, not {v}",
                q.scale
            ))
            .with_zh(Some(format!("第 {k} 题的回答应为 1 到 {}", q.scale))));
        }
    }
    let region = campaign
        .region
        .clone()
        .or(p.region.clone())
        .ok_or_else(|| {
            AppError::invalid("the campaign has no region; answer from a regional office")
                .with_zh(Some("该回访活动没有指定办事处,请由办事处登记回答".into()))
        })?;
    let mut writes: Vec<(&'static str, FieldValue)> = vec![
        ("answer.kind", "rating".into()),
        ("answer.campaign_id", id.to_string().into()),
        ("answer.customer_name", body.customer_name.trim().into()),
        ("answer.rating", body.rating.to_string().into()),
        ("answer.comment", body.comment.trim().into()),
        ("answer.answered_at", state.now().to_rfc3339().into()),
        (
            "answer.responses",
            serde_json::to_string(&body.responses)
                .map_err(AppError::internal)?
                .into(),
        ),
    ];
    if let Some(v) = body.visit_id {
        writes.push(("answer.visit_id", v.to_string().into()));
    }
    if let Some(t) = body.technician {
        writes.push(("answer.technician", t.to_string().into()));
    }
    let mut tx = state.db.begin_write().await?;
    let doc = server_create_in(
        &mut tx,
        p,
        DocKind::Feedback,
        &region,
        &writes,
        state.now(),
        state.config.timezone,
    )
    .await?;
    tx.commit().await?;
    Ok(serde_json::json!({"id": doc.id()}))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChaseItem {
    #[serde(flatten)]
    pub item: FeedbackItem,
    pub age_days: i64,
    /// What is still missing before it can close.
    pub needs: Vec<String>,
}

fn needs(item: &FeedbackItem) -> Vec<String> {
    let mut out = Vec::new();
    if item.severity == "severe" && item.reported_at.is_none() {
        out.push("written report to the department head (§3.3)".into());
    }
    match (item.severity.as_str(), item.answer_method.as_deref()) {
        (_, None) => out.push("an answer to the customer".into()),
        ("severe", Some(m)) if m != "letter" => {
            out.push("a written answer to the customer (§3.3)".into())
        }
        _ => {}
    }
    // §3.5: a complaining customer is visited by the head or a delegate. A complaint that
    // became a case is visited under the case, which will not close without it.
    if item.kind == "complaint" && item.complaint_id.is_none() && item.head_visit.is_none() {
        out.push(
            "a visit to the customer by the department head or a person the head sends (§3.5)"
                .into(),
        );
    }
    out
}

/// What a feedback item still needs before it can close, in Chinese (as [`needs`]).
pub fn needs_zh(item: &FeedbackItem) -> Vec<String> {
    let mut out = Vec::new();
    if item.severity == "severe" && item.reported_at.is_none() {
        out.push("书面报告部长(§3.3)".into());
    }
    match (item.severity.as_str(), item.answer_method.as_deref()) {
        (_, None) => out.push("答复客户".into()),
        ("severe", Some(m)) if m != "letter" => out.push("书面答复客户(§3.3)".into()),
        _ => {}
    }
    if item.kind == "complaint" && item.complaint_id.is_none() && item.head_visit.is_none() {
        out.push("部长或其指定人员拜访客户(§3.5)".into());
    }
    out
}

/// Open feedback to chase (催办, §3.4): severe items first, as §3.3 has them handled early
/// (提前加以处理), then oldest first, with what each still needs.
pub async fn chase_list(state: &AppState, p: &Principal) -> AppResult<Vec<ChaseItem>> {
    role_in(p, OFFICE, "the feedback chase list")?;
    let now = state.now().timestamp_millis();
    let region = if p.is_head_office() {
        None
    } else {
        p.region.as_deref()
    };
    let mut items = state.db.feedback_items(region, Some("open")).await?;
    // A stable sort keeps the oldest first within each severity.
    items.sort_by_key(|item| item.severity != "severe");
    Ok(items
        .into_iter()
        .map(|item| ChaseItem {
            age_days: (now - item.created_at) / 86_400_000,
            needs: needs(&item),
            item,
        })
        .collect())
}

#[derive(Debug, Deserialize, ToSchema, Default)]
pub struct FeedbackStepBody {
    /// For `answer`: letter or phone.
    pub method: Option<String>,
    pub text: Option<String>,
}

/// Handles a feedback item: `report` (written report to the head), `answer` (how the customer
/// was answered), `chase` (a reminder), `visit` (who visited a complaining customer, §3.5),
/// `close` (refused while something is missing),
/// `to-complaint` (a complaint item becomes a complaint case, keeping the link).
pub async fn feedback_step(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    step: String,
    body: FeedbackStepBody,
) -> AppResult<ChaseItem> {
    role_in(p, OFFICE, "handling feedback")?;
    let item = state
        .db
        .feedback_item(id)
        .await?
        .filter(|i| p.is_head_office() || p.region.as_deref() == Some(i.region.as_str()))
        .ok_or_else(|| {
            AppError::not_found(format!("no feedback {id} that you may see"))
                .with_zh(Some("找不到该意见".into()))
        })?;
    let write = plan_feedback_step(&item, &step, &body)?;
    if let Some(case) = write.case {
        state.db.case(case).await?.ok_or_else(|| {
            AppError::not_found(format!("no complaint case {case}"))
                .with_zh(Some("找不到该投诉案件".into()))
        })?;
    }
    let applied = state
        .db
        .feedback_step(
            id,
            write.step,
            write.method,
            write.text.as_deref(),
            state.now_ms(),
        )
        .await?;
    if !applied {
        return Err(AppError::new(
            ErrorCode::ChangedMeanwhile,
            "someone closed or linked this feedback meanwhile; reload it",
        ));
    }
    let item = state
        .db
        .feedback_item(id)
        .await?
        .ok_or_else(|| AppError::not_found("gone"))?;
    Ok(ChaseItem {
        age_days: (state.now().timestamp_millis() - item.created_at) / 86_400_000,
        needs: needs(&item),
        item,
    })
}

/// What one step of handling writes: the stored step, its method and text, and the complaint
/// case it links to (which must exist).
#[derive(Debug, PartialEq, Eq)]
struct StepWrite {
    step: &'static str,
    method: Option<&'static str>,
    text: Option<String>,
    case: Option<Uuid>,
}

/// Decides a step of handling on `item` from what was entered, or refuses it: a closed item
/// takes only a link to its complaint case; an answer is by letter or phone and says what was
/// said (§3.3); a visit names who went (§3.5); an item closes once nothing is missing (§3.4).
fn plan_feedback_step(
    item: &FeedbackItem,
    step: &str,
    body: &FeedbackStepBody,
) -> AppResult<StepWrite> {
    if item.state == "closed" && step != "to-complaint" {
        return Err(AppError::new(
            ErrorCode::FeedbackClosed,
            "this feedback is closed",
        ));
    }
    let text = body
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    let write = |step, method, text| StepWrite {
        step,
        method,
        text,
        case: None,
    };
    Ok(match step {
        "report" => write("reported", None, None),
        "chase" => write("chased", None, None),
        "answer" => {
            let method = match body.method.as_deref() {
                Some("letter") => "letter",
                Some("phone") => "phone",
                _ => {
                    return Err(
                        AppError::invalid("the customer is answered by letter or phone")
                            .with_zh(Some("请选择答复方式:书面或电话".into())),
                    );
                }
            };
            let text = text.ok_or_else(|| {
                AppError::invalid("say what the customer was told")
                    .with_zh(Some("请填写答复客户的内容".into()))
            })?;
            write("answered", Some(method), Some(text))
        }
        "visit" => {
            let who = text.ok_or_else(|| {
                AppError::invalid("say who visited: the department head, or whom the head sent")
                    .with_zh(Some("请填写拜访人:部长本人或部长指定的人员".into()))
            })?;
            write("visited", None, Some(who))
        }
        "close" => {
            let missing = needs(item);
            if !missing.is_empty() {
                let zh = needs_zh(item).join(";");
                return Err(AppError::new(
                    ErrorCode::NotReady,
                    format!("still needed: {}", missing.join("; ")),
                )
                .with_zh(Some(format!("尚不能办结,还需:{zh}"))));
            }
            write("closed", None, None)
        }
        "to-complaint" => {
            if item.kind != "complaint" {
                return Err(
                    AppError::invalid("only a complaint can become a complaint case")
                        .with_zh(Some("只有投诉才能立为投诉案件".into())),
                );
            }
            if item.complaint_id.is_some() {
                return Err(AppError::new(
                    ErrorCode::AlreadyLinked,
                    "this feedback already has a complaint case",
                ));
            }
            let text = text.ok_or_else(|| {
                AppError::invalid("give the complaint case id to link")
                    .with_zh(Some("请指定要关联的投诉案件".into()))
            })?;
            let case = Uuid::parse_str(&text).map_err(|_| {
                AppError::invalid("not a complaint case id")
                    .with_zh(Some("不是有效的投诉案件".into()))
            })?;
            StepWrite {
                case: Some(case),
                ..write("complaint", None, Some(text))
            }
        }
        other => return Err(AppError::invalid(format!("no feedback step '{other}'"))),
    })
}
