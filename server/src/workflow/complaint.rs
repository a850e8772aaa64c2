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
    pub submitted_at: DateTime<Utc>,
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
    #[error(
        "an amount of {amount_fen} fen needs {needed} approval; a {role} approves up to {own} only (§4.7.3)"
    )]
    AboveAuthority {
        amount_fen: i64,
        needed: &'static str,
        own: String,
        role: String,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("the case cannot close yet: {0}")]
    NotReady(String),
}

impl WorkflowError {
    pub fn code(&self) -> ErrorCode {
        match self {
            WorkflowError::Closed => ErrorCode::CaseClosed,
            WorkflowError::AlreadyAccepted(_) => ErrorCode::AlreadyNumbered,
            WorkflowError::NotAccepted => ErrorCode::NotAccepted,
            WorkflowError::WrongDepartment { .. } => ErrorCode::WrongDepartment,
            WorkflowError::WrongStep(_) => ErrorCode::WrongStep,
            WorkflowError::AboveAuthority { .. } => ErrorCode::AboveAuthority,
            WorkflowError::Invalid(_) => ErrorCode::InvalidInput,
            WorkflowError::NotReady(_) => ErrorCode::NotReady,
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

fn non_empty(text: &str, what: &str) -> Result<String, WorkflowError> {
    let t = text.trim();
    if t.is_empty() {
        Err(WorkflowError::Invalid(format!("{what} is needed")))
    } else {
        Ok(t.to_string())
    }
}

/// Applies an action. `number` is the number the database assigned, used by `Accept` only.
/// Returns the new case; the old one is untouched when an error is returned.
pub fn apply(
    case: &Case,
    action: &Action,
    actor: Actor,
    now: DateTime<Utc>,
    rules: &Rules,
    number: Option<&str>,
) -> Result<Case, WorkflowError> {
    if case.state == CaseState::Closed {
        return Err(WorkflowError::Closed);
    }
    let mut c = case.clone();
    let at = &Acting { actor, now, rules };
    match action {
        Action::Accept => c.accept(at, number)?,
        _ if c.state == CaseState::Submitted => return Err(WorkflowError::NotAccepted),
        Action::Investigate {
            findings,
            joint_visit,
        } => c.investigate(at, findings, joint_visit)?,
        Action::SubmitReport { text } => c.submit_report(at, text)?,
        Action::Determine {
            cause_class,
            valid,
            fault_ours,
            responsible_department,
            note,
        } => c.determine(
            at,
            cause_class,
            valid,
            fault_ours,
            responsible_department,
            note,
        )?,
        Action::ProductionReport {
            workshop,
            shift,
            operators,
            production_date,
            countermeasure,
        } => c.production_report(
            at,
            workshop,
            shift,
            operators,
            production_date,
            countermeasure,
        )?,
        Action::RndOpinion { text } => c.rnd_opinion(at, text)?,
        Action::Consolidate {
            text,
            remedy,
            track_improvement,
            human_error,
            loss_fen,
            penalty,
        } => c.consolidate(
            at,
            DecisionDraft {
                text,
                remedy,
                track_improvement: *track_improvement,
                human_error: *human_error,
                loss_fen: *loss_fen,
                penalty: penalty.as_deref(),
            },
        )?,
        Action::ProposeAmount {
            kind,
            amount_fen,
            quantity,
        } => c.propose_amount(at, kind, amount_fen, quantity)?,
        Action::Approve { decision } => c.approve(at, decision)?,
        Action::ApprovePenalty => c.approve_penalty(at)?,
        Action::Communicate {
            result,
            promised_fen,
        } => c.communicate(at, result, promised_fen)?,
        Action::HeadReview { note } => c.head_review(at, note)?,
        Action::RecordHeadVisit { visitor } => c.record_head_visit(at, visitor)?,
        Action::WrittenReportToHead => c.written_report_to_head(at)?,
        Action::InvolveExternal { party } => c.involve_external(at, party)?,
        Action::Petition { text } => c.petition(at, text)?,
        Action::Close => c.close(at)?,
    }
    Ok(c)
}

/// Who acts, when, under which company rules: what every action is judged with.
#[derive(Debug, Clone, Copy)]
struct Acting<'a> {
    actor: Actor,
    now: DateTime<Utc>,
    rules: &'a Rules,
}

/// The GM office's consolidated decision as entered (§4.6.6), before it is checked.
#[derive(Debug, Clone, Copy)]
struct DecisionDraft<'a> {
    text: &'a str,
    remedy: &'a str,
    track_improvement: bool,
    human_error: bool,
    loss_fen: i64,
    penalty: Option<&'a str>,
}

/// One method per action: each checks who may act and what the action needs, then changes
/// the case. [`apply`] runs them on a copy, so a refused action changes nothing.
impl Case {
    /// Quality accepts and numbers the case (§4.6.4); the 6 days start (§4.7.1). A QC inspector,
    /// though of that department, accepts repaired products, not complaints.
    fn accept(&mut self, at: &Acting, number: Option<&str>) -> Result<(), WorkflowError> {
        need(at.actor.role, &[Role::Quality], "accept", "品质部")?;
        if let Some(n) = &self.number {
            return Err(WorkflowError::AlreadyAccepted(n.clone()));
        }
        let number =
            number.ok_or_else(|| WorkflowError::Invalid("no number was assigned".into()))?;
        self.number = Some(number.to_string());
        self.state = CaseState::Open;
        self.accepted_at = Some(at.now);
        self.accepted_by = Some(at.actor.user);
        self.due_at = Some(due_after(at.rules.tz, at.now, 6));
        self.start_step(StepKind::Investigation, at.now, at.rules.tz);
        Ok(())
    }

    /// Marketing investigates (§4.2, §4.4): the findings, and the report due in 3 days (§4.6.3).
    fn investigate(
        &mut self,
        at: &Acting,
        findings: &str,
        joint_visit: &bool,
    ) -> Result<(), WorkflowError> {
        dept(at.actor.role, Department::Marketing, "investigate")?;
        let findings = non_empty(findings, "the investigation's findings")?;
        self.finish_step(StepKind::Investigation, at.actor, at.now, findings)?;
        self.joint_visit = *joint_visit;
        self.report_due_at = Some(due_after(at.rules.tz, at.now, 3));
        self.advance(StepKind::Investigation, at.now, at.rules.tz);
        Ok(())
    }

    /// Quality hands in the investigation report (§4.6.3).
    fn submit_report(&mut self, at: &Acting, text: &str) -> Result<(), WorkflowError> {
        dept(at.actor.role, Department::Quality, "submit_report")?;
        if self.report_due_at.is_none() {
            return Err(WorkflowError::WrongStep("调查报告".into()));
        }
        self.report_text = non_empty(text, "the report")?;
        self.report_at = Some(at.now);
        Ok(())
    }

    /// Quality determines the cause and responsibility (§4.3, §4.6.4).
    fn determine(
        &mut self,
        at: &Acting,
        cause_class: &CauseClass,
        valid: &bool,
        fault_ours: &bool,
        responsible_department: &Option<Department>,
        note: &str,
    ) -> Result<(), WorkflowError> {
        dept(at.actor.role, Department::Quality, "determine")?;
        if *valid && *fault_ours && responsible_department.is_none() {
            return Err(WorkflowError::Invalid(
                "when the fault is ours, name the responsible department".into(),
            ));
        }
        self.finish_step(StepKind::Responsibility, at.actor, at.now, note.to_string())?;
        self.cause_class = Some(*cause_class);
        self.valid = Some(*valid);
        self.fault_ours = Some(*valid && *fault_ours);
        self.responsibility = Some(Responsibility {
            department: *responsible_department,
            ..Responsibility::default()
        });
        self.advance(StepKind::Responsibility, at.now, at.rules.tz);
        Ok(())
    }

    /// Production reports workshop, shift, operators and date, and drafts the countermeasure (§4.4).
    fn production_report(
        &mut self,
        at: &Acting,
        workshop: &str,
        shift: &str,
        operators: &str,
        production_date: &NaiveDate,
        countermeasure: &str,
    ) -> Result<(), WorkflowError> {
        dept(at.actor.role, Department::Production, "production_report")?;
        let countermeasure = non_empty(countermeasure, "the countermeasure")?;
        self.finish_step(StepKind::Countermeasure, at.actor, at.now, countermeasure)?;
        let r = self
            .responsibility
            .get_or_insert_with(Responsibility::default);
        r.workshop = workshop.trim().to_string();
        r.shift = shift.trim().to_string();
        r.operators = operators.trim().to_string();
        r.production_date = Some(*production_date);
        self.advance(StepKind::Countermeasure, at.now, at.rules.tz);
        Ok(())
    }

    /// R&D comments on the countermeasure (§4.6.4).
    fn rnd_opinion(&mut self, at: &Acting, text: &str) -> Result<(), WorkflowError> {
        dept(at.actor.role, Department::RnD, "rnd_opinion")?;
        let text = non_empty(text, "R&D's opinion")?;
        self.finish_step(StepKind::RndOpinion, at.actor, at.now, text)?;
        self.advance(StepKind::RndOpinion, at.now, at.rules.tz);
        Ok(())
    }

    /// The GM office consolidates the decision: remedy, tracking, loss and penalty (§4.6.4, §4.6.6).
    fn consolidate(&mut self, at: &Acting, draft: DecisionDraft) -> Result<(), WorkflowError> {
        let DecisionDraft {
            text,
            remedy,
            track_improvement,
            human_error,
            loss_fen,
            penalty,
        } = draft;
        need(at.actor.role, &[Role::GmOffice], "consolidate", "总经理室")?;
        let text = non_empty(text, "the consolidated decision")?;
        if loss_fen < 0 {
            return Err(WorkflowError::Invalid(
                "a loss amount cannot be negative".into(),
            ));
        }
        if self.fault_ours == Some(true) && remedy.trim().is_empty() {
            return Err(WorkflowError::Invalid(
                "the fault is ours: decide the remedy (§4.6.6)".into(),
            ));
        }
        self.finish_step(StepKind::Consolidation, at.actor, at.now, text.to_string())?;
        self.decision = Some(Decision {
            text,
            remedy: remedy.trim().to_string(),
            // Human error is exempt from tracked improvement (§4.6.6).
            track_improvement: track_improvement && !human_error,
            human_error,
            loss_fen,
            // One line of the personnel notice: line breaks and tabs become spaces.
            penalty: penalty
                .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|p| !p.is_empty()),
            penalty_approved_by: None,
        });
        self.advance(StepKind::Consolidation, at.now, at.rules.tz);
        Ok(())
    }

    /// Marketing or the GM office proposes an amount, which needs the level of the case's total (§4.7.3).
    fn propose_amount(
        &mut self,
        at: &Acting,
        kind: &MoneyKind,
        amount_fen: &i64,
        quantity: &Option<i64>,
    ) -> Result<(), WorkflowError> {
        need(
            at.actor.role,
            &[Role::Salesperson, Role::MarketingHead, Role::GmOffice],
            "propose_amount",
            "市场部或总经理室",
        )?;
        if *amount_fen <= 0 {
            return Err(WorkflowError::Invalid(
                "an amount must be more than zero".into(),
            ));
        }
        match (kind, quantity) {
            (MoneyKind::ReturnValue, Some(q)) if *q > 0 => {}
            (MoneyKind::ReturnValue, _) => {
                return Err(WorkflowError::Invalid(
                        "a return value is decided with the quantity to return, at least one piece (§4.9.4)".into(),
                    ));
            }
            (_, Some(_)) => {
                return Err(WorkflowError::Invalid(
                    "only a return value carries a quantity".into(),
                ));
            }
            (_, None) => {}
        }
        let id = self.money.iter().map(|m| m.id).max().unwrap_or(0) + 1;
        // §4.7.3 is the authority over the complaint's amount: an amount needs the level of
        // the case's total with it, so splitting 6,000 into two 3,000s still needs the
        // chairman for the part that crosses 5,000.
        // Checked: a wrapped sum would read as a small amount and need a lower level.
        let case_total = self
            .money
            .iter()
            .try_fold(*amount_fen, |sum, m| sum.checked_add(m.amount_fen))
            .ok_or_else(|| {
                WorkflowError::Invalid("the case's amounts are too large to add up".into())
            })?;
        self.money.push(MoneyDecision {
            id,
            kind: *kind,
            amount_fen: *amount_fen,
            required: at.rules.thresholds.required(case_total),
            proposed_by: at.actor.user,
            approved_by: None,
            approved_level: None,
            quantity: *quantity,
        });
        Ok(())
    }

    /// An amount is approved by a level that covers it (§4.7.3).
    fn approve(&mut self, at: &Acting, decision: &u32) -> Result<(), WorkflowError> {
        let m = self
            .money
            .iter_mut()
            .find(|m| m.id == *decision)
            .ok_or_else(|| WorkflowError::Invalid(format!("no amount #{decision} on this case")))?;
        if m.approved_by.is_some() {
            return Err(WorkflowError::Invalid(format!(
                "amount #{decision} is already approved"
            )));
        }
        let own = ApprovalLevel::of_role(at.actor.role);
        if own.is_none_or(|level| level < m.required) {
            return Err(WorkflowError::AboveAuthority {
                amount_fen: m.amount_fen,
                needed: m.required.label_zh(),
                own: own
                    .map(|l| l.label_zh().to_string())
                    .unwrap_or_else(|| "nothing".into()),
                role: at.actor.role.code().into(),
            });
        }
        m.approved_by = Some(at.actor.user);
        m.approved_level = own;
        Ok(())
    }

    /// The factory director approves the loss amount and penalty (§4.6.6).
    fn approve_penalty(&mut self, at: &Acting) -> Result<(), WorkflowError> {
        need(
            at.actor.role,
            &[Role::FactoryDirector],
            "approve_penalty",
            "厂长",
        )?;
        let d = self
            .decision
            .as_mut()
            .filter(|d| d.needs_director())
            .ok_or_else(|| {
                WorkflowError::Invalid("there is no loss amount or penalty to approve".into())
            })?;
        if d.penalty_approved_by.is_some() {
            return Err(WorkflowError::Invalid(
                "the loss amount and penalty are already approved".into(),
            ));
        }
        d.penalty_approved_by = Some(at.actor.user);
        Ok(())
    }

    /// The salesperson tells the customer the decision, within what was approved (§4.6.5, §4.6.9).
    fn communicate(
        &mut self,
        at: &Acting,
        result: &str,
        promised_fen: &Option<i64>,
    ) -> Result<(), WorkflowError> {
        need(
            at.actor.role,
            &[Role::Salesperson, Role::MarketingHead],
            "communicate",
            "业务人员",
        )?;
        let result = non_empty(result, "what the customer was told")?;
        if let Some(p) = promised_fen {
            if *p < 0 {
                return Err(WorkflowError::Invalid(
                    "a promised amount cannot be negative".into(),
                ));
            }
            let ceiling = self.approved_ceiling(&at.rules.thresholds);
            if *p > ceiling {
                return Err(WorkflowError::AboveAuthority {
                    amount_fen: *p,
                    needed: at.rules.thresholds.required(*p).label_zh(),
                    own: format!("{ceiling} fen approved"),
                    role: at.actor.role.code().into(),
                });
            }
        }
        self.finish_step(
            StepKind::CustomerCommunication,
            at.actor,
            at.now,
            result.to_string(),
        )?;
        self.customer_result = result;
        self.promised_fen = *promised_fen;
        self.advance(StepKind::CustomerCommunication, at.now, at.rules.tz);
        Ok(())
    }

    /// The marketing head reviews the result (§4.6.5).
    fn head_review(&mut self, at: &Acting, note: &str) -> Result<(), WorkflowError> {
        need(
            at.actor.role,
            &[Role::MarketingHead],
            "head_review",
            "市场部部长",
        )?;
        self.finish_step(StepKind::HeadReview, at.actor, at.now, note.to_string())?;
        Ok(())
    }

    /// The head, or a person the head sent, visited the complaining customer (§3.5).
    fn record_head_visit(&mut self, at: &Acting, visitor: &str) -> Result<(), WorkflowError> {
        need(
            at.actor.role,
            &[Role::MarketingHead],
            "record_head_visit",
            "市场部部长",
        )?;
        self.head_visit = Some((
            at.actor.user,
            non_empty(visitor, "who visited the customer")?,
        ));
        Ok(())
    }

    /// Severe feedback was reported to the head in writing (§3.3).
    fn written_report_to_head(&mut self, at: &Acting) -> Result<(), WorkflowError> {
        need(
            at.actor.role,
            &[Role::Salesperson, Role::Clerk, Role::MarketingHead],
            "written_report_to_head",
            "市场部",
        )?;
        self.written_report_to_head = true;
        Ok(())
    }

    /// The GM office handles a case that involves a supplier or another company (§4.6.11).
    fn involve_external(&mut self, at: &Acting, party: &str) -> Result<(), WorkflowError> {
        need(
            at.actor.role,
            &[Role::GmOffice],
            "involve_external",
            "总经理室",
        )?;
        self.external_party = Some(non_empty(party, "the other company or supplier")?);
        Ok(())
    }

    /// A department that disagrees escalates by petition (§4.6.10).
    fn petition(&mut self, at: &Acting, text: &str) -> Result<(), WorkflowError> {
        let department =
            Department::of_role(at.actor.role).ok_or_else(|| WorkflowError::WrongDepartment {
                action: "petition",
                wanted: "a department".into(),
                role: at.actor.role.code().into(),
            })?;
        self.petitions.push(Petition {
            department,
            by: at.actor.user,
            text: non_empty(text, "the petition")?,
            at: at.now,
        });
        Ok(())
    }

    /// The GM office closes the case once nothing blocks it (§4.7.1, §4.6.7, §4.6.12).
    fn close(&mut self, at: &Acting) -> Result<(), WorkflowError> {
        need(at.actor.role, &[Role::GmOffice], "close", "总经理室")?;
        let missing = close_blockers(self);
        if !missing.is_empty() {
            return Err(WorkflowError::NotReady(missing.join("; ")));
        }
        self.state = CaseState::Closed;
        self.closed_at = Some(at.now);
        // §4.6.7: quality keeps the original; copies to these departments.
        self.distribution = vec![
            Department::GmOffice,
            Department::Production,
            Department::RnD,
            Department::Finance,
            Department::Marketing,
        ];
        // §4.6.12: a complaint that is not valid leaves receivables to collect.
        self.receivable_task = self.valid == Some(false);
        Ok(())
    }
}

/// What still stands in the way of closing a case.
pub fn close_blockers(c: &Case) -> Vec<String> {
    let mut missing = Vec::new();
    if let Some(step) = c.current_step() {
        missing.push(format!("step '{}' is not done", step.kind.label_zh()));
    }
    if c.cause_class.is_none() {
        missing.push("no cause class".into());
    }
    if c.responsibility.is_none() {
        missing.push("no responsibility".into());
    }
    if c.report_at.is_none() {
        missing.push("no investigation report to the GM (§4.6.3)".into());
    }
    for m in &c.money {
        if m.approved_by.is_none() {
            missing.push(format!(
                "amount #{} ({} fen) waits for {}",
                m.id,
                m.amount_fen,
                m.required.label_zh()
            ));
        }
    }
    if let Some(d) = &c.decision
        && d.needs_director()
        && d.penalty_approved_by.is_none()
    {
        missing.push("the loss amount and penalty wait for the factory director (§4.6.6)".into());
    }
    if c.head_visit.is_none() {
        missing
            .push("the department head, or a delegate, has not visited the customer (§3.5)".into());
    }
    if c.severe && !c.written_report_to_head {
        missing.push("severe feedback needs a written report to the department head (§3.3)".into());
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use chrono_tz::Asia::Shanghai;
    use proptest::prelude::*;

    fn rules() -> Rules {
        Rules {
            tz: Shanghai,
            thresholds: Thresholds::default(),
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// A case filed in Wuhan at `t0` with nothing claimed, not yet accepted.
    fn filed(id: u128, t0: DateTime<Utc>) -> Case {
        Case::filed(
            Uuid::from_u128(id),
            "wuhan",
            Uuid::from_u128(2),
            t0,
            0,
            false,
            None,
        )
    }

    fn actor(role: Role) -> Actor {
        Actor {
            user: Uuid::from_u128(role as u128 + 1),
            role,
        }
    }

    fn run(case: &Case, role: Role, action: Action, now: DateTime<Utc>) -> Case {
        apply(
            case,
            &action,
            actor(role),
            now,
            &rules(),
            Some("2026-11-0001"),
        )
        .unwrap_or_else(|e| panic!("{action:?}: {e}"))
    }

    /// A quality case from filing to closing, with an amount the general manager approves.
    fn closed_case() -> Case {
        let t0 = at("2026-11-03T15:00:00+08:00");
        let mut c = Case::filed(
            Uuid::from_u128(1),
            "wuhan",
            Uuid::from_u128(2),
            t0,
            300_000,
            false,
            None,
        );
        c = run(&c, Role::Quality, Action::Accept, t0);
        assert_eq!(c.number.as_deref(), Some("2026-11-0001"));
        assert_eq!(c.due_at, Some(at("2026-11-10T00:00:00+08:00")));
        c = run(
            &c,
            Role::Salesperson,
            Action::Investigate {
                findings: "cracked weld".into(),
                joint_visit: true,
            },
            t0,
        );
        c = run(
            &c,
            Role::Quality,
            Action::SubmitReport {
                text: "report".into(),
            },
            t0,
        );
        c = run(
            &c,
            Role::Quality,
            Action::Determine {
                cause_class: CauseClass::Quality,
                valid: true,
                fault_ours: true,
                responsible_department: Some(Department::Production),
                note: String::new(),
            },
            t0,
        );
        assert_eq!(c.current_step().unwrap().kind, StepKind::Countermeasure);
        assert_eq!(
            c.current_step().unwrap().due_at,
            at("2026-11-06T00:00:00+08:00")
        );
        c = run(
            &c,
            Role::Production,
            Action::ProductionReport {
                workshop: "welding".into(),
                shift: "B".into(),
                operators: "Zhao".into(),
                production_date: NaiveDate::from_ymd_opt(2026, 9, 1).unwrap(),
                countermeasure: "new fixture".into(),
            },
            t0,
        );
        c = run(
            &c,
            Role::RnD,
            Action::RndOpinion {
                text: "agree".into(),
            },
            t0,
        );
        c = run(
            &c,
            Role::GmOffice,
            Action::Consolidate {
                text: "compensate".into(),
                remedy: "replace the frame".into(),
                track_improvement: true,
                human_error: false,
                loss_fen: 300_000,
                penalty: Some(" warning,\n\tdocked pay ".into()),
            },
            t0,
        );
        assert_eq!(
            c.decision.as_ref().and_then(|d| d.penalty.as_deref()),
            Some("warning, docked pay"),
            "a penalty is one line of the personnel notice"
        );
        c = run(
            &c,
            Role::Salesperson,
            Action::ProposeAmount {
                kind: MoneyKind::Compensation,
                amount_fen: 300_000,
                quantity: None,
            },
            t0,
        );
        c = run(
            &c,
            Role::GeneralManager,
            Action::Approve { decision: 1 },
            t0,
        );
        c = run(&c, Role::FactoryDirector, Action::ApprovePenalty, t0);
        c = run(
            &c,
            Role::Salesperson,
            Action::Communicate {
                result: "accepted".into(),
                promised_fen: Some(300_000),
            },
            t0,
        );
        c = run(
            &c,
            Role::MarketingHead,
            Action::HeadReview {
                note: String::new(),
            },
            t0,
        );
        c = run(
            &c,
            Role::MarketingHead,
            Action::RecordHeadVisit {
                visitor: "head in person".into(),
            },
            t0,
        );
        run(&c, Role::GmOffice, Action::Close, t0)
    }

    #[test]
    fn a_case_runs_to_close() {
        let c = closed_case();
        assert_eq!(c.state, CaseState::Closed);
        assert_eq!(c.distribution.len(), 5);
        // Anything on a closed case is refused.
        let err = apply(
            &c,
            &Action::Petition { text: "x".into() },
            actor(Role::Production),
            at("2026-11-20T10:00:00+08:00"),
            &rules(),
            None,
        );
        assert_eq!(err.unwrap_err(), WorkflowError::Closed);
    }

    #[test]
    fn a_qc_inspector_does_not_accept_complaints() {
        let t0 = at("2026-11-03T15:00:00+08:00");
        let c = filed(1, t0);
        let err = apply(
            &c,
            &Action::Accept,
            actor(Role::QcInspector),
            t0,
            &rules(),
            Some("2026-11-0001"),
        );
        assert_eq!(err.unwrap_err().code().as_str(), "wrong_department");
    }

    #[test]
    fn split_amounts_need_the_authority_of_their_total() {
        let t0 = at("2026-11-03T15:00:00+08:00");
        let accepted = |id: u128| run(&filed(id, t0), Role::Quality, Action::Accept, t0);
        let mut c = accepted(1);
        let propose = |c: &Case, fen: i64| {
            run(
                c,
                Role::Salesperson,
                Action::ProposeAmount {
                    kind: MoneyKind::Compensation,
                    amount_fen: fen,
                    quantity: None,
                },
                t0,
            )
        };
        // 3,000.00 alone: the general manager. A second 2,000.00 brings the case to 5,000.00:
        // the chairman, although 2,000.00 alone would be the general manager's.
        c = propose(&c, 300_000);
        c = propose(&c, 200_000);
        assert_eq!(c.money[0].required, ApprovalLevel::GeneralManager);
        assert_eq!(c.money[1].required, ApprovalLevel::Chairman);
        c = run(
            &c,
            Role::GeneralManager,
            Action::Approve { decision: 1 },
            t0,
        );
        let refused = apply(
            &c,
            &Action::Approve { decision: 2 },
            actor(Role::GeneralManager),
            t0,
            &rules(),
            None,
        );
        assert_eq!(refused.unwrap_err().code().as_str(), "above_authority");
        c = run(&c, Role::Chairman, Action::Approve { decision: 2 }, t0);
        // What may be promised is what was approved in all.
        assert_eq!(c.approved_ceiling(&rules().thresholds), 500_000);
        // 1,000.00 in two parts stays with marketing; one fen more does not.
        let mut small = accepted(3);
        small = propose(&small, 60_000);
        small = propose(&small, 40_000);
        small = propose(&small, 1);
        let levels: Vec<_> = small.money.iter().map(|m| m.required).collect();
        assert_eq!(
            levels,
            [
                ApprovalLevel::Marketing,
                ApprovalLevel::Marketing,
                ApprovalLevel::GeneralManager
            ]
        );
        // Amounts that would wrap round when added up are refused, not read as small.
        let huge = propose(&accepted(4), i64::MAX);
        let wrapped = apply(
            &huge,
            &Action::ProposeAmount {
                kind: MoneyKind::Compensation,
                amount_fen: 2,
                quantity: None,
            },
            actor(Role::Salesperson),
            t0,
            &rules(),
            None,
        );
        assert_eq!(wrapped.unwrap_err().code().as_str(), "invalid_input");
    }

    #[test]
    fn a_loss_amount_alone_waits_for_the_factory_director() {
        let waits = |c: &Case| {
            close_blockers(c)
                .iter()
                .any(|m| m.contains("factory director"))
        };
        let mut c = closed_case();
        let d = c.decision.as_mut().unwrap();
        d.penalty = None;
        d.penalty_approved_by = None;
        assert!(
            waits(&c),
            "a loss of 3,000.00 without a penalty still needs him"
        );
        c.decision.as_mut().unwrap().loss_fen = 0;
        assert!(
            !waits(&c),
            "neither a loss nor a penalty: nothing to approve"
        );
        c.decision.as_mut().unwrap().penalty = Some("warning".into());
        assert!(waits(&c));
        c.decision.as_mut().unwrap().penalty_approved_by = Some(Uuid::from_u128(9));
        assert!(!waits(&c));
    }

    #[test]
    fn wrong_department_second_number_and_promise_above_authority_are_refused() {
        let t0 = at("2026-11-03T15:00:00+08:00");
        let c = filed(1, t0);
        // Tried: acceptance by sales, a step before acceptance, a second number.
        assert_eq!(
            apply(
                &c,
                &Action::Accept,
                actor(Role::Salesperson),
                t0,
                &rules(),
                Some("n")
            )
            .unwrap_err()
            .code()
            .as_str(),
            "wrong_department"
        );
        assert_eq!(
            apply(
                &c,
                &Action::Close,
                actor(Role::GmOffice),
                t0,
                &rules(),
                None
            )
            .unwrap_err()
            .code()
            .as_str(),
            "not_accepted"
        );
        let c = run(&c, Role::Quality, Action::Accept, t0);
        assert_eq!(
            apply(
                &c,
                &Action::Accept,
                actor(Role::Quality),
                t0,
                &rules(),
                Some("x")
            )
            .unwrap_err()
            .code()
            .as_str(),
            "already_numbered"
        );
        // Approval above authority, and a negative amount.
        let c = run(
            &c,
            Role::Salesperson,
            Action::ProposeAmount {
                kind: MoneyKind::Allowance,
                amount_fen: 100_001,
                quantity: None,
            },
            t0,
        );
        assert_eq!(
            apply(
                &c,
                &Action::Approve { decision: 1 },
                actor(Role::MarketingHead),
                t0,
                &rules(),
                None
            )
            .unwrap_err()
            .code()
            .as_str(),
            "above_authority"
        );
        assert!(
            apply(
                &c,
                &Action::ProposeAmount {
                    kind: MoneyKind::Allowance,
                    amount_fen: -1,
                    quantity: None,
                },
                actor(Role::Salesperson),
                t0,
                &rules(),
                None
            )
            .is_err()
        );
    }

    #[test]
    fn steps_are_overdue_exactly_when_due() {
        let t0 = at("2026-11-03T15:00:00+08:00");
        let c = filed(1, t0);
        let c = run(&c, Role::Quality, Action::Accept, t0);
        // Investigation: 1 day, due 24:00 on 4 Nov.
        assert!(c.overdue(at("2026-11-04T23:59:59+08:00")).is_empty());
        assert_eq!(c.overdue(at("2026-11-05T00:00:00+08:00")).len(), 1);
        // The whole case: 6 days, due 24:00 on 9 Nov.
        let all = c.overdue(at("2026-11-10T00:00:00+08:00"));
        assert!(
            all.iter()
                .any(|(step, d, _)| step.is_none() && *d == Department::GmOffice)
        );
    }

    const ROLES: &[Role] = &[
        Role::Salesperson,
        Role::MarketingHead,
        Role::Quality,
        Role::Production,
        Role::RnD,
        Role::GmOffice,
        Role::GeneralManager,
        Role::Chairman,
        Role::FactoryDirector,
    ];

    fn action(i: u8, amount: i64, decision: u32) -> Action {
        match i % 14 {
            0 => Action::Accept,
            1 => Action::Investigate {
                findings: "f".into(),
                joint_visit: false,
            },
            2 => Action::SubmitReport { text: "r".into() },
            3 => Action::Determine {
                cause_class: if amount % 2 == 0 {
                    CauseClass::Quality
                } else {
                    CauseClass::NonQuality
                },
                valid: amount % 3 != 0,
                fault_ours: true,
                responsible_department: Some(Department::Production),
                note: String::new(),
            },
            4 => Action::ProductionReport {
                workshop: "w".into(),
                shift: "s".into(),
                operators: "o".into(),
                production_date: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
                countermeasure: "c".into(),
            },
            5 => Action::RndOpinion { text: "r".into() },
            6 => Action::Consolidate {
                text: "t".into(),
                remedy: "r".into(),
                track_improvement: true,
                human_error: false,
                loss_fen: 0,
                penalty: None,
            },
            7 => Action::ProposeAmount {
                kind: MoneyKind::Compensation,
                amount_fen: amount,
                quantity: None,
            },
            8 => Action::Approve { decision },
            9 => Action::Communicate {
                result: "ok".into(),
                promised_fen: Some(amount),
            },
            10 => Action::HeadReview {
                note: String::new(),
            },
            11 => Action::RecordHeadVisit {
                visitor: "v".into(),
            },
            12 => Action::Close,
            _ => Action::Petition { text: "p".into() },
        }
    }

    proptest! {
        #[test]
        fn invariants_hold_over_random_sequences(
            events in proptest::collection::vec((0u8..14, 0usize..9, 1i64..800_000, 1u32..4, 0i64..200_000), 1..80)
        ) {
            let mut now = at("2026-11-30T20:00:00+08:00");
            let mut serial = 0;
            let mut numbers = Vec::new();
            let mut case = Case::filed(Uuid::from_u128(1), "r", Uuid::from_u128(2), now, 0, false, None);
            for (a, r, amount, decision, dt) in events {
                now += Duration::seconds(dt);
                let number = format!("n{}", serial + 1);
                let before = case.clone();
                match apply(&case, &action(a, amount, decision), actor(ROLES[r]), now, &rules(), Some(&number)) {
                    Ok(next) => {
                        if next.number != before.number {
                            serial += 1;
                            numbers.push(next.number.clone().unwrap());
                        }
                        // Deadlines never move.
                        if let Some(due) = before.due_at { prop_assert_eq!(next.due_at, Some(due)); }
                        for (old, new) in before.steps.iter().zip(&next.steps) {
                            prop_assert_eq!(old.due_at, new.due_at);
                        }
                        case = next;
                    }
                    Err(_) => prop_assert_eq!(&case, &before),
                }
                if case.state == CaseState::Closed {
                    prop_assert!(case.cause_class.is_some() && case.responsibility.is_some());
                    for m in &case.money {
                        prop_assert!(m.approved_level.is_some_and(|l| l >= m.required));
                        prop_assert!(Thresholds::default().required(m.amount_fen) <= m.approved_level.unwrap());
                    }
                    if let Some(p) = case.promised_fen {
                        let approved = case.money.iter().map(|m| m.amount_fen).max().unwrap_or(0);
                        prop_assert!(p <= approved.max(Thresholds::default().marketing_max_fen));
                    }
                }
            }
            prop_assert!(numbers.len() <= 1, "a case is numbered once");
        }
    }
}
