//! The actions on a complaint case (§4.6): [`apply`] judges one on a copy of the case, with one
//! method per action that checks who may act and what the action needs.

use chrono::{DateTime, Utc};
use fieldloop_client_core::model::Role;

use super::*;

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
        let number = number.ok_or_else(|| invalid("no number was assigned", "未取得投诉编号"))?;
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
        let findings = non_empty(findings, ("the investigation's findings", "调查结果"))?;
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
        self.report_text = non_empty(text, ("the report", "调查报告"))?;
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
            return Err(invalid(
                "when the fault is ours, name the responsible department",
                "责任在我方时,请指定责任部门",
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
        let countermeasure = non_empty(countermeasure, ("the countermeasure", "对策"))?;
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
        let text = non_empty(text, ("R&D's opinion", "研发部意见"))?;
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
        let text = non_empty(text, ("the consolidated decision", "汇总决定"))?;
        if loss_fen < 0 {
            return Err(invalid(
                "a loss amount cannot be negative",
                "损失金额不能为负数",
            ));
        }
        if self.fault_ours == Some(true) && remedy.trim().is_empty() {
            return Err(invalid(
                "the fault is ours: decide the remedy (§4.6.6)",
                "责任在我方:请决定补救方式(§4.6.6)",
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
            return Err(invalid("an amount must be more than zero", "金额须大于零"));
        }
        match (kind, quantity) {
            (MoneyKind::ReturnValue, Some(q)) if *q > 0 => {}
            (MoneyKind::ReturnValue, _) => {
                return Err(invalid(
                    "a return value is decided with the quantity to return, at least one piece (§4.9.4)",
                    "退货价值须同时核定退货数量,至少一件(§4.9.4)",
                ));
            }
            (_, Some(_)) => {
                return Err(invalid(
                    "only a return value carries a quantity",
                    "只有退货价值才填写数量",
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
                invalid(
                    "the case's amounts are too large to add up",
                    "该案件的金额过大,无法合计",
                )
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
            .ok_or_else(|| {
                invalid(
                    format!("no amount #{decision} on this case"),
                    format!("该案件没有第 {decision} 项金额"),
                )
            })?;
        if m.approved_by.is_some() {
            return Err(invalid(
                format!("amount #{decision} is already approved"),
                format!("第 {decision} 项金额已批准"),
            ));
        }
        let own = ApprovalLevel::of_role(at.actor.role);
        if own.is_none_or(|level| level < m.required) {
            let role = at.actor.role;
            let (role_zh, role_en) = (role.label_zh(), role.label_en().to_string());
            let t = &at.rules.thresholds;
            return Err(WorkflowError::AboveAuthority {
                amount_fen: m.amount_fen,
                needed: m.required,
                limit: match own {
                    Some(ApprovalLevel::Marketing) => Limit::UpTo {
                        fen: t.marketing_max_fen,
                        role_zh,
                        role_en,
                    },
                    Some(_) => Limit::UpTo {
                        fen: t.chairman_min_fen - 1,
                        role_zh,
                        role_en,
                    },
                    None => Limit::None { role_zh, role_en },
                },
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
                invalid(
                    "there is no loss amount or penalty to approve",
                    "没有待批示的损失金额或处分",
                )
            })?;
        if d.penalty_approved_by.is_some() {
            return Err(invalid(
                "the loss amount and penalty are already approved",
                "损失金额与处分已批示",
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
        let result = non_empty(result, ("what the customer was told", "客户答复"))?;
        if let Some(p) = promised_fen {
            if *p < 0 {
                return Err(invalid(
                    "a promised amount cannot be negative",
                    "承诺金额不能为负数",
                ));
            }
            let ceiling = self.approved_ceiling(&at.rules.thresholds);
            if *p > ceiling {
                return Err(WorkflowError::AboveAuthority {
                    amount_fen: *p,
                    needed: at.rules.thresholds.required(*p),
                    limit: Limit::Approved { fen: ceiling },
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
        if self.head_visit.is_some() {
            return Err(WorkflowError::AlreadyDone(
                "the head's visit to the customer",
            ));
        }
        self.head_visit = Some((
            at.actor.user,
            non_empty(visitor, ("who visited the customer", "拜访人"))?,
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
        if self.written_report_to_head {
            return Err(WorkflowError::AlreadyDone("the written report to the head"));
        }
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
        if self.external_party.is_some() {
            return Err(WorkflowError::AlreadyDone(
                "the other company or supplier the case involves",
            ));
        }
        self.external_party = Some(non_empty(
            party,
            ("the other company or supplier", "涉及的公司或供应商"),
        )?);
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
            text: non_empty(text, ("the petition", "申诉理由"))?,
            at: at.now,
        });
        Ok(())
    }

    /// The GM office closes the case once nothing blocks it (§4.7.1, §4.6.7, §4.6.12).
    fn close(&mut self, at: &Acting) -> Result<(), WorkflowError> {
        need(at.actor.role, &[Role::GmOffice], "close", "总经理室")?;
        let missing = close_blockers_in(self);
        if !missing.is_empty() {
            let (zh, en): (Vec<String>, Vec<String>) = missing.into_iter().unzip();
            return Err(WorkflowError::NotReady {
                en: en.join("; "),
                zh: zh.join(";"),
            });
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
