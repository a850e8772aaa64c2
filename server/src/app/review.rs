//! The GM office's monthly review of last month's closed cases (§4.8) and its personnel notice
//! (人事公布单).

use chrono::{DateTime, Utc};
use fieldloop_client_core::model::Role;
use serde::Serialize;
use utoipa::ToSchema;

use super::parse_month;
use crate::AppState;
use crate::access::Principal;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::workflow::calendar::{month_bounds, year_month};

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewView {
    /// The month reviewed, YYYY-MM.
    pub month: String,
    /// The review is due before this instant (the 10th of the following month, company time).
    pub due_before: DateTime<Utc>,
    pub cases: Vec<ReviewCase>,
    pub confirmed: bool,
    /// When the GM office confirmed it.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// Confirmed at or after `due_before`, or still unconfirmed then.
    pub late: bool,
    /// The personnel notice (人事公布单), once confirmed.
    pub notice: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewCase {
    pub number: String,
    pub closed_at: DateTime<Utc>,
    pub responsible_department: Option<String>,
    pub loss_fen: i64,
    pub penalty: Option<String>,
    pub penalty_approved: bool,
}

async fn build_review(state: &AppState, month: &str) -> AppResult<ReviewView> {
    let tz = state.config.timezone;
    let (y, m) = parse_month(month)?;
    let (cy, cm) = year_month(tz, state.now());
    if (y, m) >= (cy, cm) {
        return Err(AppError::invalid(format!(
            "{month} has not ended yet; a review covers a past month"
        ))
        .with_zh(Some(format!("{month} 尚未结束:月度评审针对已过去的月份"))));
    }
    let (from, to) = month_bounds(tz, y, m)
        .ok_or_else(|| AppError::invalid("no such month").with_zh(Some("没有这个月份".into())))?;
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let tenth = chrono::NaiveDate::from_ymd_opt(ny, nm, 10)
        .ok_or_else(|| AppError::invalid("no such month").with_zh(Some("没有这个月份".into())))?;
    let cases = state
        .db
        .cases_closed_between(from.timestamp_millis(), to.timestamp_millis())
        .await?;
    let review = state.db.review(month).await?;
    let due_before = crate::workflow::calendar::start_of_day(tz, tenth);
    let confirmed_at = review
        .as_ref()
        .and_then(|r| DateTime::from_timestamp_millis(r.1));
    Ok(ReviewView {
        month: format!("{y:04}-{m:02}"),
        due_before,
        late: confirmed_at.unwrap_or_else(|| state.now()) >= due_before,
        confirmed_at,
        cases: cases
            .iter()
            .map(|c| ReviewCase {
                number: c.number.clone().unwrap_or_default(),
                closed_at: c.closed_at.unwrap_or(from),
                responsible_department: c
                    .responsibility
                    .as_ref()
                    .and_then(|r| r.department)
                    .map(|d| d.label_zh().to_string()),
                loss_fen: c.decision.as_ref().map(|d| d.loss_fen).unwrap_or(0),
                penalty: c.decision.as_ref().and_then(|d| d.penalty.clone()),
                penalty_approved: c
                    .decision
                    .as_ref()
                    .is_some_and(|d| d.penalty_approved_by.is_some()),
            })
            .collect(),
        confirmed: review.is_some(),
        notice: review.map(|r| r.2),
    })
}

/// The GM office's monthly review of last month's closed cases (§4.8).
pub async fn get_review(state: &AppState, p: &Principal, month: String) -> AppResult<ReviewView> {
    if !matches!(p.role, Role::GmOffice | Role::GeneralManager | Role::Admin) {
        return Err(
            AppError::forbidden("the monthly review is the GM office's (§4.8)")
                .with_zh(Some("月度评审由总经理办公室负责(§4.8)".into())),
        );
    }
    build_review(state, &month).await
}

/// Confirms the review; the administrative penalties go into the personnel notice (人事公布单).
pub async fn confirm_review(
    state: &AppState,
    p: &Principal,
    month: String,
) -> AppResult<ReviewView> {
    if p.role != Role::GmOffice {
        return Err(
            AppError::forbidden("the GM office confirms the monthly review (§4.8)")
                .with_zh(Some("月度评审由总经理办公室确认(§4.8)".into())),
        );
    }
    let review = build_review(state, &month).await?;
    let mut notice = format!("人事公布单 / Personnel notice {}\n", review.month);
    for c in review
        .cases
        .iter()
        .filter(|c| c.penalty.is_some() && c.penalty_approved)
    {
        notice.push_str(&format!(
            "{}\t{}\t{}\n",
            c.number,
            c.responsible_department.clone().unwrap_or_default(),
            c.penalty.clone().unwrap_or_default()
        ));
    }
    if !state
        .db
        .confirm_review(&review.month, p.user_id, state.now(), &notice)
        .await?
    {
        return Err(AppError::new(
            ErrorCode::AlreadyConfirmed,
            format!("the review of {} is already confirmed", review.month),
        )
        .with_zh(Some(format!("{} 的月度评审已确认过", review.month))));
    }
    build_review(state, &month).await
}
