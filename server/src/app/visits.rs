//! Back-office actions on service visits (§2.2): dispatch.

use fieldloop_client_core::model::{DocKind, FieldValue, Role};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::records::{FieldView, field_views};
use crate::AppState;
use crate::access::Principal;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::records::server_edit;
use crate::workflow::calendar::local_date;
use crate::workflow::service::is_priority;

#[derive(Debug, Deserialize, ToSchema)]
pub struct DispatchRequest {
    pub technician_id: Uuid,
    /// Mark as priority. A request registered on an earlier company day than today is priority
    /// whatever this says (§2.8).
    #[serde(default)]
    pub priority: bool,
    /// Give a visit already dispatched to another technician. Without it such a dispatch is
    /// refused, so two dispatchers acting at once cannot silently replace each other's choice.
    #[serde(default)]
    pub reassign: bool,
}

/// Dispatches a visit to a technician (派工, the factory director's decision). The technician's
/// device receives the job on its next sync.
pub async fn dispatch(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    body: DispatchRequest,
) -> AppResult<Vec<FieldView>> {
    if !state.config.dispatchers.contains(&p.role) && p.role != Role::Admin {
        return Err(AppError::forbidden(
            "only the factory director (or whom the configuration allows) dispatches service work (§2.2)",
        )
        .with_zh(Some("服务派工由厂长负责(§2.2)".into())));
    }
    let tech = state
        .db
        .user_by_id(body.technician_id)
        .await?
        .filter(|u| u.role == Role::Technician && u.active)
        .ok_or_else(|| {
            AppError::invalid(format!(
                "{} is not an active technician",
                body.technician_id
            ))
            .with_zh(Some("所选人员不是在职的技术人员".into()))
        })?;
    let at = state.now();
    let tz = state.config.timezone;
    let now = at.to_rfc3339();
    let doc = server_edit(state, p, id, |doc| {
        if doc.kind() != DocKind::Visit {
            return Err(AppError::invalid("only service visits are dispatched").with_zh(Some("只有售后服务才需派工".into())));
        }
        let current = doc
            .get("dispatch.technician")
            .and_then(|v| v.as_text().map(str::to_string))
            .filter(|t| !t.is_empty());
        if let Some(current) = current
            && current != tech.id.to_string()
            && !body.reassign
        {
            return Err(AppError::new(ErrorCode::AlreadyDispatched,
                format!(
                    "this visit is already dispatched to technician {current}; send reassign: true to give it to another"
                ),
            )
            .with_zh(Some(
                "该服务请求已派给另一位技术员(可能刚由他人派出),请刷新派工看板".into(),
            )));
        }
        // §2.8: work not dispatched on the day it was registered is priority the next day.
        let carried_over = doc
            .get("request.received_at")
            .and_then(|v| v.as_text().map(str::to_string))
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
            .is_some_and(|t| {
                is_priority(
                    local_date(tz, t.with_timezone(&chrono::Utc)),
                    local_date(tz, at),
                )
            });
        let priority = body.priority || carried_over;
        if tech.region.as_deref() != Some(doc.region()) {
            return Err(AppError::invalid(format!(
                "the technician works for '{}', the visit is in '{}'",
                tech.region.clone().unwrap_or_default(),
                doc.region()
            ))
            .with_zh(Some("该技术人员不属于这个服务请求所在的办事处".into())));
        }
        Ok(vec![
            ("dispatch.technician", FieldValue::Text(tech.id.to_string())),
            ("dispatch.dispatched_at", FieldValue::Text(now)),
            (
                "dispatch.dispatched_by",
                FieldValue::Text(p.user_id.to_string()),
            ),
            (
                "dispatch.priority",
                FieldValue::Text(if priority { "priority" } else { "normal" }.into()),
            ),
        ])
    })
    .await?;
    Ok(field_views(&doc))
}
