//! Returns and allowances after a case closes (§4.9): opening a return form (退货单) or a sales
//! allowance certificate (销货折让证明单) against what was approved, and the steps on them, run
//! by the pure `workflow::settlement` state machine.

use fieldloop_client_core::model::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::complaints::visible_case;
use crate::AppState;
use crate::access::Principal;
use crate::db::complaints::{
    insert_event, insert_settlement, settlement_bodies, update_settlement,
};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::workflow::complaint::{Case, CaseState};
use crate::workflow::settlement::{
    AllowanceCertificate, ReturnForm, Settlement, SettlementError, SettlementStep, StepInput,
    approved_returns,
};

fn settlement_error(e: SettlementError) -> AppError {
    AppError::new(e.code(), e.to_string()).with_zh(e.message_zh())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewReturn {
    /// The approved return this form carries out: the case's money decision (#n) of kind
    /// `return_value`. Without it, the case's first approved return that has no form yet.
    #[serde(default)]
    pub decision: Option<u32>,
    /// The pieces, as written on the form: the approved quantity (checked when given).
    #[serde(default)]
    pub approved_quantity: Option<i64>,
    /// The value on the form in yuan, e.g. "300.00": the approved value (checked when given).
    #[serde(default)]
    pub amount: Option<String>,
    /// 退货原因: why the goods come back.
    #[serde(default)]
    pub reason: String,
    /// 处理方式: return or rework, and how.
    #[serde(default)]
    pub handling: String,
    /// 退回依据: the decision the return rests on.
    #[serde(default)]
    pub basis: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SettlementView {
    pub id: Uuid,
    pub case_id: Uuid,
    /// `return` or `allowance`.
    pub kind: String,
    #[schema(value_type = Object)]
    pub body: serde_json::Value,
    pub version: i64,
}

async fn closed_case_for_settlement(state: &AppState, p: &Principal, id: Uuid) -> AppResult<Case> {
    let (case, _) = visible_case(state, p, id).await?;
    if case.state != CaseState::Closed {
        return Err(AppError::new(
            ErrorCode::NotClosed,
            "returns and allowances follow a closed case (§4.9.1)",
        ));
    }
    if case.valid == Some(false) {
        return Err(AppError::new(
            ErrorCode::ComplaintNotValid,
            "this complaint was found not valid: receivables are collected on schedule, nothing is returned or allowed (§4.6.12)",
        ));
    }
    Ok(case)
}

/// Opens a return/rework form (退货单) for a closed case (§4.9.3).
pub async fn new_return(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    body: NewReturn,
) -> AppResult<SettlementView> {
    if !matches!(p.role, Role::Salesperson | Role::MarketingHead) {
        return Err(AppError::forbidden("marketing opens return forms (§4.9.3)")
            .with_zh(Some("退货单由市场部开立(§4.9.3)".into())));
    }
    let case = closed_case_for_settlement(state, p, id).await?;
    let amount_fen = body.amount.as_deref().map(super::yuan).transpose()?;
    // §4.9.1: marketing handles the closed case as it was decided: a return needs a return
    // value approved with its quantity, and one approval backs one return form.
    let approved = approved_returns(&case);
    if approved.is_empty() {
        return Err(AppError::new(
            ErrorCode::NoApprovedReturn,
            "no return was approved on this case: a return value with its quantity is proposed and approved before the case closes (§4.9.1)",
        ));
    }
    let mut tx = state.db.begin_write().await?;
    let opened: Vec<u32> = settlement_bodies(&mut tx, id, "return")
        .await?
        .iter()
        .filter_map(|b| serde_json::from_str::<ReturnForm>(b).ok()?.decision)
        .collect();
    let target = match body.decision {
        Some(n) => approved.iter().find(|a| a.decision == n).ok_or_else(|| {
            AppError::new(
                ErrorCode::NoApprovedReturn,
                format!("#{n} is not an approved return on this case"),
            )
        })?,
        None => approved
            .iter()
            .find(|a| !opened.contains(&a.decision))
            .unwrap_or(&approved[0]),
    };
    if opened.contains(&target.decision) {
        return Err(AppError::new(
            ErrorCode::AlreadyOpened,
            format!(
                "a return form is already open for the approved return #{}",
                target.decision
            ),
        ));
    }
    let notes = [body.reason.as_str(), &body.handling, &body.basis];
    let form = ReturnForm::new(*target, body.approved_quantity, amount_fen, notes)
        .map_err(settlement_error)?;
    let sid = Uuid::now_v7();
    let json = serde_json::to_string(&form).map_err(AppError::internal)?;
    insert_settlement(&mut tx, sid, id, "return", &json, state.now_ms()).await?;
    tx.commit().await?;
    Ok(SettlementView {
        id: sid,
        case_id: id,
        kind: "return".into(),
        body: serde_json::to_value(&form).map_err(AppError::internal)?,
        version: 1,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewAllowance {
    /// Yuan, e.g. "800.00".
    pub amount: String,
}

/// Opens a sales allowance certificate (销货折让证明单) for a closed case (§4.9.2). The amount
/// must have been approved on the case.
pub async fn new_allowance(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    body: NewAllowance,
) -> AppResult<SettlementView> {
    if !matches!(p.role, Role::Salesperson | Role::MarketingHead) {
        return Err(
            AppError::forbidden("salespeople open allowance certificates (§4.9.2)")
                .with_zh(Some("销货折让证明单由业务员开立(§4.9.2)".into())),
        );
    }
    let case = closed_case_for_settlement(state, p, id).await?;
    let amount_fen = super::yuan(&body.amount)?;
    // What was approved for allowance or compensation on the case, less the certificates already
    // opened against it: one approval does not back two certificates.
    let approved: i64 = case
        .money
        .iter()
        .filter(|m| {
            m.approved_by.is_some() && m.kind != crate::workflow::complaint::MoneyKind::ReturnValue
        })
        .map(|m| m.amount_fen)
        .sum();
    let mut tx = state.db.begin_write().await?;
    let opened: i64 = settlement_bodies(&mut tx, id, "allowance")
        .await?
        .iter()
        .filter_map(|b| serde_json::from_str::<AllowanceCertificate>(b).ok())
        .map(|c| c.amount_fen)
        .sum();
    if amount_fen == 0 || amount_fen > approved - opened {
        use fieldloop_client_core::model::money::yuan_text;
        return Err(AppError::new(
            ErrorCode::AboveAuthority,
            format!(
                "an allowance needs an approved amount on the case: ¥{} approved, ¥{} already certified (§4.7.3)",
                yuan_text(approved),
                yuan_text(opened)
            ),
        )
        .with_zh(Some(format!(
            "折让须在案件核准的金额之内:已核准 {} 元,已开折让 {} 元(§4.7.3)",
            yuan_text(approved),
            yuan_text(opened)
        ))));
    }
    let cert = AllowanceCertificate {
        amount_fen,
        gm_countersigned: false,
        customer_signed: false,
        posted: false,
    };
    let sid = Uuid::now_v7();
    let json = serde_json::to_string(&cert).map_err(AppError::internal)?;
    insert_settlement(&mut tx, sid, id, "allowance", &json, state.now_ms()).await?;
    tx.commit().await?;
    Ok(SettlementView {
        id: sid,
        case_id: id,
        kind: "allowance".into(),
        body: serde_json::to_value(&cert).map_err(AppError::internal)?,
        version: 1,
    })
}

#[derive(Debug, Deserialize, ToSchema, Default)]
pub struct StepBody {
    pub quantity: Option<i64>,
    #[serde(default)]
    pub note: String,
}

/// A step on a settlement: `approve` (manager, return), `receive` (warehouse, return),
/// `countersign` (general manager, allowance), `customer-signed` (salesperson, allowance),
/// `post` (finance, both; a return whose quantities differ is refused with both numbers).
pub async fn settlement_step(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    step: String,
    body: StepBody,
) -> AppResult<SettlementView> {
    // A step that loses to another one on the same settlement (two clerks posting at once) is
    // judged again on the settlement as it now is: the second is told it is already posted.
    for _ in 0..3 {
        if let Some(view) = settlement_step_once(state, p, id, &step, &body).await? {
            return Ok(view);
        }
    }
    Err(AppError::new(
        ErrorCode::Stale,
        "the settlement keeps changing meanwhile; reload it",
    ))
}

/// One attempt at a settlement step; `None` when another step changed it after it was read.
async fn settlement_step_once(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    step: &str,
    body: &StepBody,
) -> AppResult<Option<SettlementView>> {
    let row = state.db.settlement(id).await?.ok_or_else(|| {
        AppError::not_found(format!("no settlement {id}")).with_zh(Some("找不到该单据".into()))
    })?;
    let (case, _) = visible_case(state, p, row.case_id).await?;
    let settlement = stored_settlement(&row.kind, &row.body)?;
    let step = SettlementStep::parse(step).ok_or_else(|| {
        settlement_error(SettlementError::NoSuchStep {
            kind: if row.kind == "return" {
                "a return form"
            } else {
                "an allowance"
            },
            step: step.to_string(),
        })
    })?;
    let input = StepInput {
        quantity: body.quantity,
        note: body.note.clone(),
    };
    let next = settlement
        .apply(step, p.role, &input, &case)
        .map_err(settlement_error)?;
    let new_body = settlement_json(&next)?;
    let text = new_body.to_string();
    // The step and its entry in the case's history commit together.
    let mut tx = state.db.begin_write().await?;
    let at = state.now_ms();
    if !update_settlement(&mut tx, id, &text, row.version, at).await? {
        return Ok(None);
    }
    insert_event(
        &mut tx,
        row.case_id,
        p.user_id,
        p.role.code(),
        &format!("settlement_{}", step.code()),
        &text,
        at,
    )
    .await?;
    tx.commit().await?;
    Ok(Some(SettlementView {
        id,
        case_id: row.case_id,
        kind: row.kind,
        body: new_body,
        version: row.version + 1,
    }))
}

/// A stored settlement (its kind and JSON body) read as the workflow's [`Settlement`].
pub fn stored_settlement(kind: &str, body: &str) -> AppResult<Settlement> {
    Ok(match kind {
        "return" => Settlement::Return(serde_json::from_str(body).map_err(AppError::internal)?),
        _ => Settlement::Allowance(serde_json::from_str(body).map_err(AppError::internal)?),
    })
}

fn settlement_json(s: &Settlement) -> AppResult<serde_json::Value> {
    match s {
        Settlement::Return(f) => serde_json::to_value(f),
        Settlement::Allowance(c) => serde_json::to_value(c),
    }
    .map_err(AppError::internal)
}
