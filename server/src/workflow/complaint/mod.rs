//! The complaint case (客户投诉处理单 as head office works it), §4: a pure state machine. The
//! server loads a case, calls [`apply`] with the acting user, the time and (for acceptance) the
//! number the database handed out, and stores the result with the event.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use fieldloop_client_core::model::Role;
use fieldloop_client_core::wire::ErrorCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::authority::{ApprovalLevel, Thresholds};
use super::calendar::due_after;

/// Departments of §4.2/§4.4 that own steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Department {
    /// 市场部 (salespeople, clerks, the marketing head)
    Marketing,
    /// 品质部
    Quality,
    /// 生产部 / 生产管理组
    Production,
    /// 研发部 (`rnd`, as the role is written; cases stored as `rn_d` still read)
    #[serde(rename = "rnd", alias = "rn_d")]
    RnD,
    /// 总经理室
    GmOffice,
    /// 财务部
    Finance,
    /// 货仓
    Warehouse,
}

impl Department {
    pub fn of_role(role: Role) -> Option<Department> {
        match role {
            Role::Salesperson | Role::MarketingHead | Role::Clerk => Some(Department::Marketing),
            Role::Quality | Role::QcInspector => Some(Department::Quality),
            Role::Production => Some(Department::Production),
            Role::RnD => Some(Department::RnD),
            Role::GmOffice | Role::GeneralManager => Some(Department::GmOffice),
            Role::Finance => Some(Department::Finance),
            Role::Warehouse => Some(Department::Warehouse),
            Role::Technician | Role::FactoryDirector | Role::Chairman | Role::Admin => None,
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Department::Marketing => "市场部",
            Department::Quality => "品质部",
            Department::Production => "生产部",
            Department::RnD => "研发部",
            Department::GmOffice => "总经理室",
            Department::Finance => "财务部",
            Department::Warehouse => "货仓",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Department::Marketing => "Marketing",
            Department::Quality => "Quality",
            Department::Production => "Production",
            Department::RnD => "R&D",
            Department::GmOffice => "GM office",
            Department::Finance => "Finance",
            Department::Warehouse => "Warehouse",
        }
    }
}

/// §4.3 cause classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CauseClass {
    /// 质量异常
    Quality,
    /// 非质量异常 (transport, handling, ...)
    NonQuality,
}

/// The steps a case runs through after acceptance, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// 调查 (§4.2: marketing leads; §4.6.2 joint visit when needed)
    Investigation,
    /// 原因分析及责任归属判定 (quality with production mgmt)
    Responsibility,
    /// 处理对策 (production: workshop, shift, operators, date; countermeasure)
    Countermeasure,
    /// 研发意见
    RndOpinion,
    /// 总经理室综合意见
    Consolidation,
    /// 业务人员向客户说明 (§4.6.5)
    CustomerCommunication,
    /// 部长核阅 (§4.6.5)
    HeadReview,
}

impl StepKind {
    /// Who does the step and its time limit in days (§4.7.2).
    pub fn owner_and_limit(self) -> (Department, u32) {
        match self {
            StepKind::Investigation => (Department::Marketing, 1),
            StepKind::Responsibility => (Department::Quality, 1),
            StepKind::Countermeasure => (Department::Production, 2),
            StepKind::RndOpinion => (Department::RnD, 1),
            StepKind::Consolidation => (Department::GmOffice, 1),
            StepKind::CustomerCommunication => (Department::Marketing, 1),
            StepKind::HeadReview => (Department::Marketing, 1),
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            StepKind::Investigation => "调查",
            StepKind::Responsibility => "原因分析及责任判定",
            StepKind::Countermeasure => "处理对策",
            StepKind::RndOpinion => "研发意见",
            StepKind::Consolidation => "总经理室综合意见",
            StepKind::CustomerCommunication => "向客户说明",
            StepKind::HeadReview => "部长核阅",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            StepKind::Investigation => "Investigation",
            StepKind::Responsibility => "Cause and responsibility",
            StepKind::Countermeasure => "Countermeasure",
            StepKind::RndOpinion => "R&D opinion",
            StepKind::Consolidation => "GM office's consolidation",
            StepKind::CustomerCommunication => "Telling the customer",
            StepKind::HeadReview => "Head's review",
        }
    }
}

/// One step as a task for a department.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub kind: StepKind,
    pub department: Department,
    pub started_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
    pub done_by: Option<Uuid>,
    pub note: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// Filed by a salesperson, waiting for quality to accept it.
    Submitted,
    /// Accepted and numbered; steps under way.
    Open,
    Closed,
}

/// Money decided on a case (§4.6.6, §4.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MoneyKind {
    /// 赔款
    Compensation,
    /// 折让
    Allowance,
    /// 退货金额
    ReturnValue,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoneyDecision {
    pub id: u32,
    pub kind: MoneyKind,
    pub amount_fen: i64,
    /// The level this amount needs, fixed when proposed.
    pub required: ApprovalLevel,
    pub proposed_by: Uuid,
    pub approved_by: Option<Uuid>,
    pub approved_level: Option<ApprovalLevel>,
    /// For a return: the pieces to come back, decided with their value (经批示核定的退货量,
    /// which finance checks the goods actually returned against, §4.9.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<i64>,
}

/// Responsibility as decided (§4.4.2, §4.4.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Responsibility {
    pub department: Option<Department>,
    pub workshop: String,
    pub shift: String,
    pub operators: String,
    pub production_date: Option<NaiveDate>,
}

/// The decision when the fault is ours (§4.6.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Decision {
    pub text: String,
    pub remedy: String,
    /// Improvement tracked; human error is exempt.
    pub track_improvement: bool,
    pub human_error: bool,
    /// The responsible department's loss, fen.
    pub loss_fen: i64,
    /// A personal penalty, if any.
    pub penalty: Option<String>,
    /// The factory director's approval of the loss amount and the penalty (§4.6.6).
    pub penalty_approved_by: Option<Uuid>,
}

impl Decision {
    /// §4.6.6: the responsible department's loss amount and any personal penalty go to the
    /// factory director; a decision with neither needs no approval of his.
    pub fn needs_director(&self) -> bool {
        self.loss_fen > 0 || self.penalty.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Petition {
    pub department: Department,
    pub by: Uuid,
    pub text: String,
    pub at: DateTime<Utc>,
}

/// A complaint case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub id: Uuid,
    pub region: String,
    pub state: CaseState,
    pub number: Option<String>,
    pub filed_by: Uuid,
    /// When the server received the form: the office's time, from which everything is
    /// reckoned.
    pub submitted_at: DateTime<Utc>,
    /// When the filer's device says the form was filled in (a claim), for a form that arrived
    /// by sync; shown beside the office's time, never in its place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_submitted_at: Option<DateTime<Utc>>,
    /// Claimed by the customer on the form, fen.
    pub claimed_fen: i64,
    pub severe: bool,
    pub accepted_at: Option<DateTime<Utc>>,
    pub accepted_by: Option<Uuid>,
    /// The whole case is due 6 days after acceptance (§4.7.1).
    pub due_at: Option<DateTime<Utc>>,
    /// The investigation report is due to the GM 3 days after the investigation (§4.6.3).
    pub report_due_at: Option<DateTime<Utc>>,
    pub report_at: Option<DateTime<Utc>>,
    pub report_text: String,
    pub joint_visit: bool,
    pub steps: Vec<Step>,
    pub cause_class: Option<CauseClass>,
    /// False when the complaint is found not valid (§4.6.12).
    pub valid: Option<bool>,
    pub fault_ours: Option<bool>,
    pub responsibility: Option<Responsibility>,
    pub decision: Option<Decision>,
    pub money: Vec<MoneyDecision>,
    /// What the salesperson told the customer (§4.6.5), and any amount promised.
    pub customer_result: String,
    pub promised_fen: Option<i64>,
    /// §3.5: the department head, or a named delegate, visited the customer.
    pub head_visit: Option<(Uuid, String)>,
    /// §3.3: severe feedback needs a written report to the department head.
    pub written_report_to_head: bool,
    /// §4.6.11: a supplier or other company involved.
    pub external_party: Option<String>,
    pub petitions: Vec<Petition>,
    /// §4.6.7: departments that received copies of the closed form.
    pub distribution: Vec<Department>,
    pub receivable_task: bool,
    pub closed_at: Option<DateTime<Utc>>,
    /// §4.6.8: the case this one reopens, and the cases that reopen this one.
    pub original: Option<Uuid>,
    pub followups: Vec<Uuid>,
    /// The code a customer uses to read the customer-facing view of this case.
    #[serde(default)]
    pub access_code: String,
}

/// Something a user does on a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Quality accepts the case; the number comes from the database.
    Accept,
    Investigate {
        findings: String,
        #[serde(default)]
        joint_visit: bool,
    },
    /// Quality's investigation report to the GM (§4.6.3).
    SubmitReport {
        text: String,
    },
    Determine {
        cause_class: CauseClass,
        valid: bool,
        fault_ours: bool,
        responsible_department: Option<Department>,
        #[serde(default)]
        note: String,
    },
    ProductionReport {
        workshop: String,
        shift: String,
        operators: String,
        production_date: NaiveDate,
        countermeasure: String,
    },
    RndOpinion {
        text: String,
    },
    Consolidate {
        text: String,
        #[serde(default)]
        remedy: String,
        #[serde(default)]
        track_improvement: bool,
        #[serde(default)]
        human_error: bool,
        #[serde(default)]
        loss_fen: i64,
        #[serde(default)]
        penalty: Option<String>,
    },
    ProposeAmount {
        kind: MoneyKind,
        amount_fen: i64,
        /// Pieces to return: given with a return value, and only with it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quantity: Option<i64>,
    },
    Approve {
        decision: u32,
    },
    ApprovePenalty,
    Communicate {
        result: String,
        #[serde(default)]
        promised_fen: Option<i64>,
    },
    HeadReview {
        #[serde(default)]
        note: String,
    },
    RecordHeadVisit {
        visitor: String,
    },
    WrittenReportToHead,
    InvolveExternal {
        party: String,
    },
    Petition {
        text: String,
    },
    Close,
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::Investigate { .. } => "investigate",
            Action::SubmitReport { .. } => "submit_report",
            Action::Determine { .. } => "determine",
            Action::ProductionReport { .. } => "production_report",
            Action::RndOpinion { .. } => "rnd_opinion",
            Action::Consolidate { .. } => "consolidate",
            Action::ProposeAmount { .. } => "propose_amount",
            Action::Approve { .. } => "approve",
            Action::ApprovePenalty => "approve_penalty",
            Action::Communicate { .. } => "communicate",
            Action::HeadReview { .. } => "head_review",
            Action::RecordHeadVisit { .. } => "record_head_visit",
            Action::WrittenReportToHead => "written_report_to_head",
            Action::InvolveExternal { .. } => "involve_external",
            Action::Petition { .. } => "petition",
            Action::Close => "close",
        }
    }
}

/// Who acts.
#[derive(Debug, Clone, Copy)]
pub struct Actor {
    pub user: Uuid,
    pub role: Role,
}

/// Why an action is refused. Each has a stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkflowError {
    #[error(
        "this case is closed; a customer who rejects the conclusion gets a new linked case (§4.6.8)"
    )]
    Closed,
    #[error("the case is already accepted and numbered {0}")]
    AlreadyAccepted(String),
    #[error("the case has not been accepted by quality yet")]
    NotAccepted,
    #[error("{action} is done by {wanted}, not by a {role}")]
    WrongDepartment {
        action: &'static str,
        wanted: String,
        role: String,
    },
    #[error("the step '{0}' is not the current step")]
    WrongStep(String),
    #[error("{}", above_authority_en(*amount_fen, *needed, limit))]
    AboveAuthority {
        amount_fen: i64,
        /// The level the amount needs.
        needed: crate::workflow::authority::ApprovalLevel,
        /// What the one who tried may approve.
        limit: Limit,
    },
    /// Bad input for the step, in English and in Chinese.
    #[error("{en}")]
    Invalid { en: String, zh: String },
    #[error("the case cannot close yet: {en}")]
    NotReady { en: String, zh: String },
    #[error("{0} is recorded already; it is done once")]
    AlreadyDone(&'static str),
}

/// What someone refused for an amount above their authority may approve (§4.7.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Limit {
    /// Their role approves up to this amount (`role` in Chinese and English).
    UpTo {
        fen: i64,
        role_zh: &'static str,
        role_en: String,
    },
    /// Their role approves no amounts.
    None {
        role_zh: &'static str,
        role_en: String,
    },
    /// The amount goes beyond what was approved on the case already.
    Approved { fen: i64 },
}

fn above_authority_en(
    amount_fen: i64,
    needed: crate::workflow::authority::ApprovalLevel,
    limit: &Limit,
) -> String {
    use fieldloop_client_core::model::money::yuan_text;
    let amount = yuan_text(amount_fen);
    let needed = needed.label_en();
    match limit {
        Limit::UpTo { fen, role_en, .. } => format!(
            "¥{amount} needs {needed}; a {role_en} approves up to ¥{} (§4.7.3)",
            yuan_text(*fen)
        ),
        Limit::None { role_en, .. } => {
            format!("¥{amount} needs {needed}; a {role_en} approves no amounts (§4.7.3)")
        }
        Limit::Approved { fen } => format!(
            "¥{amount} is more than the ¥{} approved; it needs {needed} (§4.7.3)",
            yuan_text(*fen)
        ),
    }
}

impl WorkflowError {
    /// The refusal in Chinese, in yuan and with the rule's section, for pages and exports
    /// (`None`: the English message is all there is).
    pub fn message_zh(&self) -> Option<String> {
        use fieldloop_client_core::model::money::yuan_text;
        Some(match self {
            WorkflowError::AboveAuthority {
                amount_fen,
                needed,
                limit,
            } => {
                let amount = yuan_text(*amount_fen);
                let needed = needed.label_zh();
                match limit {
                    Limit::UpTo { fen, role_zh, .. } => format!(
                        "{amount} 元超出{role_zh}审批权限({} 元以内),需{needed}(§4.7.3)",
                        yuan_text(*fen)
                    ),
                    Limit::None { role_zh, .. } => {
                        format!("{amount} 元需{needed}(§4.7.3),{role_zh}无金额审批权限")
                    }
                    Limit::Approved { fen } => format!(
                        "{amount} 元超过已核准的 {} 元,需{needed}(§4.7.3)",
                        yuan_text(*fen)
                    ),
                }
            }
            WorkflowError::Closed => {
                "该案件已结案;客户不接受处理结论时,另立关联的新案件(§4.6.8)".into()
            }
            WorkflowError::AlreadyAccepted(number) => format!("该案件已受理,编号 {number}"),
            WorkflowError::NotAccepted => "品管部尚未受理该案件".into(),
            WorkflowError::NotReady { zh, .. } => format!("尚不能结案:{zh}"),
            WorkflowError::WrongDepartment { wanted, role, .. } => {
                let who = role
                    .parse::<Role>()
                    .map(|r| r.label_zh())
                    .unwrap_or("您的角色");
                if wanted.is_ascii() {
                    format!("这一步不由{who}办理")
                } else {
                    format!("这一步由{wanted}办理,不由{who}办理")
                }
            }
            WorkflowError::WrongStep(step) => format!("现在不是「{step}」这一步"),
            WorkflowError::AlreadyDone(_) => "该事项已记录过,只做一次".into(),
            WorkflowError::Invalid { zh, .. } => zh.clone(),
        })
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            WorkflowError::Closed => ErrorCode::CaseClosed,
            WorkflowError::AlreadyAccepted(_) => ErrorCode::AlreadyNumbered,
            WorkflowError::NotAccepted => ErrorCode::NotAccepted,
            WorkflowError::WrongDepartment { .. } => ErrorCode::WrongDepartment,
            WorkflowError::WrongStep(_) => ErrorCode::WrongStep,
            WorkflowError::AboveAuthority { .. } => ErrorCode::AboveAuthority,
            WorkflowError::Invalid { .. } => ErrorCode::InvalidInput,
            WorkflowError::NotReady { .. } => ErrorCode::NotReady,
            WorkflowError::AlreadyDone(_) => ErrorCode::AlreadyDone,
        }
    }
}

/// Company rules the workflow needs.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub tz: Tz,
    pub thresholds: Thresholds,
}

impl Case {
    /// A case as the salesperson files it (§4.6.1).
    pub fn filed(
        id: Uuid,
        region: &str,
        by: Uuid,
        at: DateTime<Utc>,
        claimed_fen: i64,
        severe: bool,
        original: Option<Uuid>,
    ) -> Case {
        Case {
            id,
            region: region.to_string(),
            state: CaseState::Submitted,
            number: None,
            filed_by: by,
            submitted_at: at,
            device_submitted_at: None,
            claimed_fen,
            severe,
            accepted_at: None,
            accepted_by: None,
            due_at: None,
            report_due_at: None,
            report_at: None,
            report_text: String::new(),
            joint_visit: false,
            steps: Vec::new(),
            cause_class: None,
            valid: None,
            fault_ours: None,
            responsibility: None,
            decision: None,
            money: Vec::new(),
            customer_result: String::new(),
            promised_fen: None,
            head_visit: None,
            written_report_to_head: false,
            external_party: None,
            petitions: Vec::new(),
            distribution: Vec::new(),
            receivable_task: false,
            closed_at: None,
            original,
            followups: Vec::new(),
            access_code: String::new(),
        }
    }

    /// The step under way, if any.
    pub fn current_step(&self) -> Option<&Step> {
        self.steps.iter().find(|s| s.done_at.is_none())
    }

    /// Steps and the case itself that are overdue at `now`.
    pub fn overdue(
        &self,
        now: DateTime<Utc>,
    ) -> Vec<(Option<StepKind>, Department, DateTime<Utc>)> {
        let mut out = Vec::new();
        if self.state != CaseState::Open {
            return out;
        }
        for s in &self.steps {
            if s.done_at.is_none() && now >= s.due_at {
                out.push((Some(s.kind), s.department, s.due_at));
            }
        }
        if let Some(due) = self.report_due_at
            && self.report_at.is_none()
            && now >= due
        {
            out.push((None, Department::Quality, due));
        }
        if let Some(due) = self.due_at
            && now >= due
        {
            out.push((None, Department::GmOffice, due));
        }
        out
    }

    fn start_step(&mut self, kind: StepKind, now: DateTime<Utc>, tz: Tz) {
        let (department, days) = kind.owner_and_limit();
        self.steps.push(Step {
            kind,
            department,
            started_at: now,
            due_at: due_after(tz, now, days),
            done_at: None,
            done_by: None,
            note: String::new(),
        });
    }

    fn finish_step(
        &mut self,
        kind: StepKind,
        actor: Actor,
        now: DateTime<Utc>,
        note: String,
    ) -> Result<(), WorkflowError> {
        let step = self
            .steps
            .iter_mut()
            .find(|s| s.done_at.is_none())
            .ok_or_else(|| WorkflowError::WrongStep(kind.label_zh().into()))?;
        if step.kind != kind {
            return Err(WorkflowError::WrongStep(kind.label_zh().into()));
        }
        step.done_at = Some(now);
        step.done_by = Some(actor.user);
        step.note = note;
        Ok(())
    }

    /// The step after `kind`, given what has been decided (R&D and production only on quality causes).
    fn next_step(&self, kind: StepKind) -> Option<StepKind> {
        let quality = self.cause_class == Some(CauseClass::Quality) && self.valid != Some(false);
        match kind {
            StepKind::Investigation => Some(StepKind::Responsibility),
            StepKind::Responsibility if quality => Some(StepKind::Countermeasure),
            StepKind::Responsibility => Some(StepKind::Consolidation),
            StepKind::Countermeasure => Some(StepKind::RndOpinion),
            StepKind::RndOpinion => Some(StepKind::Consolidation),
            StepKind::Consolidation => Some(StepKind::CustomerCommunication),
            StepKind::CustomerCommunication => Some(StepKind::HeadReview),
            StepKind::HeadReview => None,
        }
    }

    fn advance(&mut self, kind: StepKind, now: DateTime<Utc>, tz: Tz) {
        if let Some(next) = self.next_step(kind) {
            self.start_step(next, now, tz);
        }
    }

    /// The highest amount the case may promise the customer without further approval: what was
    /// approved on it in all, or what marketing may decide alone.
    fn approved_ceiling(&self, thresholds: &Thresholds) -> i64 {
        let approved = self
            .money
            .iter()
            .filter(|m| m.approved_by.is_some())
            .fold(0i64, |sum, m| sum.saturating_add(m.amount_fen));
        approved.max(thresholds.marketing_max_fen)
    }
}

fn need(
    role: Role,
    wanted: &[Role],
    action: &'static str,
    label: &str,
) -> Result<(), WorkflowError> {
    if wanted.contains(&role) {
        Ok(())
    } else {
        Err(WorkflowError::WrongDepartment {
            action,
            wanted: label.to_string(),
            role: role.code().to_string(),
        })
    }
}

fn dept(role: Role, d: Department, action: &'static str) -> Result<(), WorkflowError> {
    if Department::of_role(role) == Some(d) {
        Ok(())
    } else {
        Err(WorkflowError::WrongDepartment {
            action,
            wanted: d.label_zh().to_string(),
            role: role.code().to_string(),
        })
    }
}

/// Bad input for a step, said in both languages.
pub(crate) fn invalid(en: impl Into<String>, zh: impl Into<String>) -> WorkflowError {
    WorkflowError::Invalid {
        en: en.into(),
        zh: zh.into(),
    }
}

/// The text, trimmed; refused when nothing is left (`what` in English and Chinese).
fn non_empty(text: &str, what: (&str, &str)) -> Result<String, WorkflowError> {
    let t = text.trim();
    if t.is_empty() {
        Err(invalid(
            format!("{} is needed", what.0),
            format!("请填写{}", what.1),
        ))
    } else {
        Ok(t.to_string())
    }
}

/// What still stands in the way of closing a case.
pub fn close_blockers(c: &Case) -> Vec<String> {
    close_blockers_in(c).into_iter().map(|(_, en)| en).collect()
}

/// What still keeps a case from closing, each in Chinese and in English, money in yuan.
pub fn close_blockers_in(c: &Case) -> Vec<(String, String)> {
    let mut missing: Vec<(String, String)> = Vec::new();
    let mut say = |zh: &str, en: &str| missing.push((zh.to_string(), en.to_string()));
    if let Some(step) = c.current_step() {
        let en_step = serde_json::to_value(step.kind)
            .ok()
            .and_then(|v| v.as_str().map(|t| t.replace('_', " ")))
            .unwrap_or_default();
        say(
            &format!("步骤“{}”尚未完成", step.kind.label_zh()),
            &format!("step '{}' ({en_step}) is not done", step.kind.label_zh()),
        );
    }
    if c.cause_class.is_none() {
        say("尚未判定原因类别(§4.3)", "no cause class");
    }
    if c.responsibility.is_none() {
        say("尚未判定责任归属", "no responsibility");
    }
    if c.report_at.is_none() {
        say(
            "调查报告尚未呈报总经理(§4.6.3)",
            "no investigation report to the GM (§4.6.3)",
        );
    }
    for m in &c.money {
        if m.approved_by.is_none() {
            let yuan = fieldloop_client_core::model::money::yuan_text(m.amount_fen);
            say(
                &format!(
                    "金额 #{} ({yuan} 元)待{}(§4.7.3)",
                    m.id,
                    m.required.label_zh()
                ),
                &format!(
                    "amount #{} (¥{yuan}) waits for {} (§4.7.3)",
                    m.id,
                    m.required.label_en()
                ),
            );
        }
    }
    if let Some(d) = &c.decision
        && d.needs_director()
        && d.penalty_approved_by.is_none()
    {
        say(
            "损失金额与行政处罚待厂长核准(§4.6.6)",
            "the loss amount and penalty wait for the factory director (§4.6.6)",
        );
    }
    if c.head_visit.is_none() {
        say(
            "部长或其指定人员尚未拜访客户(§3.5)",
            "the department head, or a delegate, has not visited the customer (§3.5)",
        );
    }
    if c.severe && !c.written_report_to_head {
        say(
            "特别严重的意见须书面报告部长(§3.3)",
            "severe feedback needs a written report to the department head (§3.3)",
        );
    }
    missing
}

mod actions;

pub use actions::apply;

#[cfg(test)]
mod tests;
