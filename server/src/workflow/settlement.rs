//! Returns and allowances after a case closes (§4.9).

use fieldloop_client_core::wire::ErrorCode;
use serde::{Deserialize, Serialize};

use fieldloop_client_core::model::Role;
use fieldloop_client_core::model::money::yuan_text;

use super::complaint::{Case, MoneyKind};

/// Why finance or the warehouse refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettlementError {
    #[error(
        "finance posts a return only when the approved quantity ({approved}) equals the quantity actually returned ({received}) (§4.9.4)"
    )]
    QuantityMismatch { approved: i64, received: i64 },
    #[error(
        "the return form's amount (¥{}) differs from the return value approved on the complaint (¥{}) (§4.9.4)",
        yuan_text(*on_form),
        yuan_text(*approved)
    )]
    AmountMismatch { approved: i64, on_form: i64 },
    /// A return form written with a quantity or value other than the approved one.
    #[error(
        "the return form's {what} ({}) is not the one approved on the complaint ({}) (§4.9.4)",
        shown(what, *on_form),
        shown(what, *approved)
    )]
    NotAsApproved {
        what: &'static str,
        approved: i64,
        on_form: i64,
    },
    /// The step is another role's (§4.9: the manager approves, the warehouse receives, the
    /// general manager countersigns, marketing records the customer's signature, finance posts).
    #[error("this step is done by {who}")]
    WrongRole { who: &'static str },
    /// A return form that rests on no approved return of its case (§4.9.4).
    #[error(
        "this return form rests on no approved return of its case; finance does not post it (§4.9.4)"
    )]
    NoApprovedReturn,
    /// The settlement has no step of that name.
    #[error("{kind} has no step '{step}'")]
    NoSuchStep { kind: &'static str, step: String },
    #[error("{0}")]
    NotReady(String),
    /// The step was done already (by someone else, maybe at the same moment).
    #[error("{0}")]
    AlreadyDone(String),
    /// Bad input, in English and in Chinese.
    #[error("{en}")]
    Invalid { en: String, zh: String },
}

/// Bad input for a settlement step, said in both languages.
fn invalid(en: impl Into<String>, zh: impl Into<String>) -> SettlementError {
    SettlementError::Invalid {
        en: en.into(),
        zh: zh.into(),
    }
}

/// A quantity as it is, a value in yuan.
fn shown(what: &str, n: i64) -> String {
    if what == "quantity" {
        n.to_string()
    } else {
        format!("¥{}", yuan_text(n))
    }
}

impl SettlementError {
    /// The refusal in Chinese, amounts in yuan, with the section (`None`: the English message
    /// is all there is).
    pub fn message_zh(&self) -> Option<String> {
        Some(match self {
            SettlementError::QuantityMismatch { approved, received } => format!(
                "数量不符,财务不能过账:核准退货数量({approved})与实际退回数量({received})不一致(§4.9.4)"
            ),
            SettlementError::AmountMismatch { approved, on_form } => format!(
                "金额不符:退货单金额 {} 元与投诉处理单核准的退货价值 {} 元不一致(§4.9.4)",
                yuan_text(*on_form),
                yuan_text(*approved)
            ),
            SettlementError::NotAsApproved {
                what: "quantity",
                approved,
                on_form,
            } => format!("退货单数量({on_form})与投诉处理单核准的数量({approved})不一致(§4.9.4)"),
            SettlementError::NotAsApproved {
                approved, on_form, ..
            } => format!(
                "退货单金额 {} 元与投诉处理单核准的退货价值 {} 元不一致(§4.9.4)",
                yuan_text(*on_form),
                yuan_text(*approved)
            ),
            SettlementError::NoApprovedReturn => {
                "该退货单没有对应的已核准退货,财务不予过账(§4.9.4)".into()
            }
            SettlementError::NotReady(why) if why.contains("countersigns") => {
                "折让证明单须总经理会签并经客户签认后才能过账(§4.9.2)".into()
            }
            SettlementError::NotReady(why) if why.contains("warehouse") => {
                "货仓尚未签收退回的货物".into()
            }
            SettlementError::NotReady(_) => "前置步骤尚未完成".into(),
            SettlementError::AlreadyDone(_) => "该步骤已办理过,只做一次".into(),
            SettlementError::NoSuchStep { .. } => "该单据没有这一步骤".into(),
            SettlementError::Invalid { zh, .. } => zh.clone(),
            _ => return None,
        })
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            SettlementError::QuantityMismatch { .. } => ErrorCode::QuantityMismatch,
            SettlementError::AmountMismatch { .. } => ErrorCode::AmountMismatch,
            SettlementError::NotAsApproved {
                what: "quantity", ..
            } => ErrorCode::QuantityMismatch,
            SettlementError::NotAsApproved { .. } => ErrorCode::AmountMismatch,
            SettlementError::WrongRole { .. } => ErrorCode::Forbidden,
            SettlementError::NoApprovedReturn => ErrorCode::NoApprovedReturn,
            SettlementError::NoSuchStep { .. } => ErrorCode::InvalidInput,
            SettlementError::NotReady(_) => ErrorCode::NotReady,
            SettlementError::AlreadyDone(_) => ErrorCode::AlreadyDone,
            SettlementError::Invalid { .. } => ErrorCode::InvalidInput,
        }
    }
}

/// The return decided on a closed complaint (§4.9.1, 依核决的处理方式): the pieces and their
/// value as approved, which a return form is opened for and finance posts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApprovedReturn {
    /// The complaint's money decision (#n) that approved it.
    pub decision: u32,
    pub quantity: i64,
    pub value_fen: i64,
}

/// The returns approved on `case`: approved return values with their quantities, in order.
pub fn approved_returns(case: &Case) -> Vec<ApprovedReturn> {
    case.money
        .iter()
        .filter(|m| m.kind == MoneyKind::ReturnValue && m.approved_by.is_some())
        .filter_map(|m| {
            Some(ApprovedReturn {
                decision: m.id,
                quantity: m.quantity?,
                value_fen: m.amount_fen,
            })
        })
        .collect()
}

/// 退货单: a return/rework form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnForm {
    /// The approved return this form carries out (absent on forms opened before returns were
    /// tied to an approval).
    #[serde(default)]
    pub decision: Option<u32>,
    pub approved_quantity: i64,
    /// The value of the goods on the form, fen.
    #[serde(default)]
    pub amount_fen: i64,
    /// Why the goods come back, how they are handled, and on what basis (§4.9.3).
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub handling: String,
    #[serde(default)]
    pub basis: String,
    pub manager_approved: bool,
    pub received_quantity: Option<i64>,
    pub receipt_note: String,
    pub posted: bool,
}

impl ReturnForm {
    /// A form for the approved return `approved`. `quantity` and `amount_fen` are what the
    /// clerk wrote, if anything: they must be the approved ones. `notes` are its reason,
    /// handling and basis, each required (§4.9.3: 注明退货原因、处理方式及退回依据).
    pub fn new(
        approved: ApprovedReturn,
        quantity: Option<i64>,
        amount_fen: Option<i64>,
        notes: [&str; 3],
    ) -> Result<ReturnForm, SettlementError> {
        if quantity.is_some_and(|q| q <= 0) {
            return Err(invalid(
                "a return covers at least one piece",
                "退货数量至少一件",
            ));
        }
        let named = [
            ("reason", "原因"),
            ("handling", "处理方式"),
            ("basis", "依据"),
        ];
        for (note, (en, zh)) in notes.iter().zip(named) {
            if note.trim().is_empty() {
                return Err(invalid(
                    format!(
                        "a return form notes the return's reason, handling and basis (§4.9.3): the {en} is missing"
                    ),
                    format!("退货单须写明退货原因、处理方式与依据(§4.9.3):缺少{zh}"),
                ));
            }
        }
        if let Some(q) = quantity.filter(|q| *q != approved.quantity) {
            return Err(SettlementError::NotAsApproved {
                what: "quantity",
                approved: approved.quantity,
                on_form: q,
            });
        }
        if let Some(fen) = amount_fen.filter(|f| *f != approved.value_fen) {
            return Err(SettlementError::NotAsApproved {
                what: "value",
                approved: approved.value_fen,
                on_form: fen,
            });
        }
        Ok(ReturnForm {
            decision: Some(approved.decision),
            approved_quantity: approved.quantity,
            amount_fen: approved.value_fen,
            reason: notes[0].trim().to_string(),
            handling: notes[1].trim().to_string(),
            basis: notes[2].trim().to_string(),
            manager_approved: false,
            received_quantity: None,
            receipt_note: String::new(),
            posted: false,
        })
    }

    /// The warehouse signs for what actually arrived; a difference needs a note (§4.9.5).
    pub fn receive(&self, quantity: i64, note: &str) -> Result<ReturnForm, SettlementError> {
        if !self.manager_approved {
            return Err(SettlementError::NotReady(
                "the manager has not approved the return form".into(),
            ));
        }
        if self.received_quantity.is_some() {
            return Err(SettlementError::AlreadyDone(
                "the warehouse has already signed for this return".into(),
            ));
        }
        if quantity < 0 {
            return Err(invalid(
                "a received quantity cannot be negative",
                "实收数量不能为负数",
            ));
        }
        if quantity != self.approved_quantity && note.trim().is_empty() {
            return Err(invalid(
                format!(
                    "{quantity} received against {} on the form: note what was checked and who was asked",
                    self.approved_quantity
                ),
                format!(
                    "实收 {quantity} 件与退货单的 {} 件不符:请注明核对情况及询问了谁(§4.9.5)",
                    self.approved_quantity
                ),
            ));
        }
        let mut next = self.clone();
        next.received_quantity = Some(quantity);
        next.receipt_note = note.trim().to_string();
        Ok(next)
    }

    /// Finance posts only when the quantity approved on the complaint (`approved`, as the case
    /// holds it now) equals the quantity actually returned, and the form's amount the approved
    /// value (§4.9.4: 若数量、金额不符时拒绝办理).
    pub fn post(&self, approved: ApprovedReturn) -> Result<ReturnForm, SettlementError> {
        if self.posted {
            return Err(SettlementError::AlreadyDone("already posted".into()));
        }
        let received = self.received_quantity.ok_or_else(|| {
            SettlementError::NotReady("the warehouse has not signed for the goods".into())
        })?;
        if received != approved.quantity {
            return Err(SettlementError::QuantityMismatch {
                approved: approved.quantity,
                received,
            });
        }
        if self.amount_fen != approved.value_fen {
            return Err(SettlementError::AmountMismatch {
                approved: approved.value_fen,
                on_form: self.amount_fen,
            });
        }
        let mut next = self.clone();
        next.posted = true;
        Ok(next)
    }
}

/// 销货折让证明单: a sales allowance certificate, two copies (§4.9.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowanceCertificate {
    pub amount_fen: i64,
    pub gm_countersigned: bool,
    pub customer_signed: bool,
    pub posted: bool,
}

impl AllowanceCertificate {
    pub fn post(&self) -> Result<AllowanceCertificate, SettlementError> {
        if !self.gm_countersigned || !self.customer_signed {
            return Err(SettlementError::NotReady(
                "an allowance is posted after the GM countersigns and the customer signs".into(),
            ));
        }
        if self.posted {
            return Err(SettlementError::AlreadyDone("already posted".into()));
        }
        let mut next = self.clone();
        next.posted = true;
        Ok(next)
    }
}

/// A settlement as it is stored: a return form or an allowance certificate (§4.9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    Return(ReturnForm),
    Allowance(AllowanceCertificate),
}

/// A step on a settlement, by the name the API and the pages use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettlementStep {
    /// The manager approves a return form (§4.9.3 经理批准).
    Approve,
    /// The warehouse signs for the goods that came back (§4.9.5).
    Receive,
    /// The general manager countersigns an allowance (§4.9.2 总经理会签).
    Countersign,
    /// Marketing records that the customer signed the allowance certificate.
    CustomerSigned,
    /// Finance posts (§4.9.4).
    Post,
}

impl SettlementStep {
    pub const ALL: [SettlementStep; 5] = [
        SettlementStep::Approve,
        SettlementStep::Receive,
        SettlementStep::Countersign,
        SettlementStep::CustomerSigned,
        SettlementStep::Post,
    ];

    pub fn code(self) -> &'static str {
        match self {
            SettlementStep::Approve => "approve",
            SettlementStep::Receive => "receive",
            SettlementStep::Countersign => "countersign",
            SettlementStep::CustomerSigned => "customer-signed",
            SettlementStep::Post => "post",
        }
    }

    pub fn parse(code: &str) -> Option<SettlementStep> {
        SettlementStep::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The step's name on the office's forms, and in English.
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            SettlementStep::Approve => ("批准", "Approve"),
            SettlementStep::Receive => ("签收", "Receive"),
            SettlementStep::Countersign => ("会签", "Countersign"),
            SettlementStep::CustomerSigned => ("客户已签", "Customer signed"),
            SettlementStep::Post => ("过账", "Post"),
        }
    }
}

/// What a person enters with a step: the warehouse's quantity received and its note.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepInput {
    pub quantity: Option<i64>,
    pub note: String,
}

impl Settlement {
    /// `return` or `allowance`, as stored.
    pub fn kind(&self) -> &'static str {
        match self {
            Settlement::Return(_) => "return",
            Settlement::Allowance(_) => "allowance",
        }
    }

    fn kind_label(&self) -> &'static str {
        match self {
            Settlement::Return(_) => "a return form",
            Settlement::Allowance(_) => "an allowance",
        }
    }

    /// The roles that do `step` on this kind of settlement, and who that is in words; `None`
    /// for a step this kind does not have.
    fn doers(&self, step: SettlementStep) -> Option<(&'static [Role], &'static str)> {
        use SettlementStep::*;
        Some(match (self, step) {
            (Settlement::Return(_), Approve) => {
                (&[Role::GeneralManager, Role::MarketingHead], "the manager")
            }
            (Settlement::Return(_), Receive) => (&[Role::Warehouse], "the warehouse"),
            (Settlement::Allowance(_), Countersign) => {
                (&[Role::GeneralManager], "the general manager")
            }
            (Settlement::Allowance(_), CustomerSigned) => {
                (&[Role::Salesperson, Role::MarketingHead], "the salesperson")
            }
            (_, Post) => (&[Role::Finance], "finance"),
            _ => return None,
        })
    }

    fn role_check(&self, step: SettlementStep, role: Role) -> Result<(), SettlementError> {
        let (roles, who) = self
            .doers(step)
            .ok_or_else(|| SettlementError::NoSuchStep {
                kind: self.kind_label(),
                step: step.code().to_string(),
            })?;
        if roles.contains(&role) {
            Ok(())
        } else {
            Err(SettlementError::WrongRole { who })
        }
    }

    /// Was `step` done already?
    fn done(&self, step: SettlementStep) -> bool {
        match (self, step) {
            (Settlement::Return(f), SettlementStep::Approve) => f.manager_approved,
            (Settlement::Return(f), SettlementStep::Receive) => f.received_quantity.is_some(),
            (Settlement::Return(f), SettlementStep::Post) => f.posted,
            (Settlement::Allowance(c), SettlementStep::Countersign) => c.gm_countersigned,
            (Settlement::Allowance(c), SettlementStep::CustomerSigned) => c.customer_signed,
            (Settlement::Allowance(c), SettlementStep::Post) => c.posted,
            _ => false,
        }
    }

    /// Is everything `step` waits for done?
    fn ready_for(&self, step: SettlementStep) -> bool {
        match (self, step) {
            (Settlement::Return(f), SettlementStep::Receive) => f.manager_approved,
            (Settlement::Return(f), SettlementStep::Post) => f.received_quantity.is_some(),
            (Settlement::Allowance(c), SettlementStep::Post) => {
                c.gm_countersigned && c.customer_signed
            }
            _ => true,
        }
    }

    /// The steps `role` may take now: its own, not done, with what they wait for done. The
    /// pages offer these; what a person then enters is judged by [`Settlement::apply`].
    pub fn offered(&self, role: Role) -> Vec<SettlementStep> {
        SettlementStep::ALL
            .into_iter()
            .filter(|step| {
                self.role_check(*step, role).is_ok() && !self.done(*step) && self.ready_for(*step)
            })
            .collect()
    }

    /// Takes `step` as `role` with `input`. `case` is the closed complaint the settlement
    /// follows: finance posts a return against the return approved on it as it is now.
    pub fn apply(
        &self,
        step: SettlementStep,
        role: Role,
        input: &StepInput,
        case: &Case,
    ) -> Result<Settlement, SettlementError> {
        // A signature given twice is reported as given, whoever asks.
        if matches!(self, Settlement::Allowance(_))
            && matches!(
                step,
                SettlementStep::Countersign | SettlementStep::CustomerSigned
            )
            && self.done(step)
        {
            return Err(SettlementError::AlreadyDone(
                match step {
                    SettlementStep::Countersign => {
                        "the allowance certificate is already countersigned"
                    }
                    _ => "the allowance certificate is already signed by the customer",
                }
                .into(),
            ));
        }
        self.role_check(step, role)?;
        match self {
            Settlement::Return(form) => Ok(Settlement::Return(match step {
                SettlementStep::Approve => {
                    if form.manager_approved {
                        return Err(SettlementError::AlreadyDone(
                            "the return form is already approved".into(),
                        ));
                    }
                    ReturnForm {
                        manager_approved: true,
                        ..form.clone()
                    }
                }
                SettlementStep::Receive => {
                    let quantity = input
                        .quantity
                        .ok_or_else(|| invalid("give the quantity received", "请填写实收数量"))?;
                    form.receive(quantity, &input.note)?
                }
                _ => form.post(approved_for(form, case)?)?,
            })),
            Settlement::Allowance(cert) => Ok(Settlement::Allowance(match step {
                SettlementStep::Countersign => AllowanceCertificate {
                    gm_countersigned: true,
                    ..cert.clone()
                },
                SettlementStep::CustomerSigned => AllowanceCertificate {
                    customer_signed: true,
                    ..cert.clone()
                },
                _ => cert.post()?,
            })),
        }
    }
}

/// The approved return a form is posted against (§4.9.4): the case's approval as it is now. A
/// form opened before returns were tied to an approval carries its own quantity and value.
pub fn approved_for(form: &ReturnForm, case: &Case) -> Result<ApprovedReturn, SettlementError> {
    match form.decision {
        None => Ok(ApprovedReturn {
            decision: 0,
            quantity: form.approved_quantity,
            value_fen: form.amount_fen,
        }),
        Some(n) => approved_returns(case)
            .into_iter()
            .find(|a| a.decision == n)
            .ok_or(SettlementError::NoApprovedReturn),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEN: ApprovedReturn = ApprovedReturn {
        decision: 2,
        quantity: 10,
        value_fen: 300_000,
    };
    const NOTES: [&str; 3] = ["weld cracked", "return and rework", "case conclusion"];

    #[test]
    fn finance_refuses_a_quantity_mismatch_with_both_numbers() {
        let mut form = ReturnForm::new(TEN, Some(10), None, NOTES).unwrap();
        assert_eq!((form.approved_quantity, form.amount_fen), (10, 300_000));
        form.manager_approved = true;
        assert!(form.receive(9, "").is_err(), "a difference needs a note");
        let short = form
            .receive(9, "one crate missing, asked marketing")
            .unwrap();
        assert_eq!(
            short.post(TEN),
            Err(SettlementError::QuantityMismatch {
                approved: 10,
                received: 9
            })
        );
        let full = form.receive(10, "").unwrap();
        assert!(full.post(TEN).unwrap().posted);
        // Finance checks against the complaint as it stands, amount included.
        let eleven = ApprovedReturn {
            quantity: 11,
            ..TEN
        };
        assert!(matches!(
            full.post(eleven),
            Err(SettlementError::QuantityMismatch { approved: 11, .. })
        ));
        let dearer = ApprovedReturn {
            value_fen: 300_001,
            ..TEN
        };
        assert_eq!(
            full.post(dearer),
            Err(SettlementError::AmountMismatch {
                approved: 300_001,
                on_form: 300_000
            })
        );
    }

    #[test]
    fn a_return_form_is_the_approved_return_with_its_reasons() {
        // Bad input: a negative quantity, a quantity or an amount other than approved, each
        // of the three notes missing.
        assert!(ReturnForm::new(TEN, Some(-1), None, NOTES).is_err());
        assert_eq!(
            ReturnForm::new(TEN, Some(9), None, NOTES)
                .unwrap_err()
                .code()
                .as_str(),
            "quantity_mismatch"
        );
        assert_eq!(
            ReturnForm::new(TEN, None, Some(299_999), NOTES)
                .unwrap_err()
                .code()
                .as_str(),
            "amount_mismatch"
        );
        for missing in 0..3 {
            let mut notes = NOTES;
            notes[missing] = "  ";
            assert_eq!(
                ReturnForm::new(TEN, None, None, notes)
                    .unwrap_err()
                    .code()
                    .as_str(),
                "invalid_input"
            );
        }
        let form = ReturnForm::new(TEN, None, Some(300_000), NOTES).unwrap();
        assert_eq!(form.decision, Some(2));
    }

    fn fresh_allowance() -> Settlement {
        Settlement::Allowance(AllowanceCertificate {
            amount_fen: 80_000,
            gm_countersigned: false,
            customer_signed: false,
            posted: false,
        })
    }

    fn any_case() -> Case {
        Case::filed(
            uuid::Uuid::nil(),
            "wuhan",
            uuid::Uuid::nil(),
            chrono::DateTime::UNIX_EPOCH,
            0,
            false,
            None,
        )
    }

    /// What the pages offer and what the workflow accepts agree: every offered step, taken by
    /// its role with a fitting input, is neither refused for the role nor as done or not ready;
    /// every step not offered is refused.
    #[test]
    fn offered_steps_are_the_ones_the_workflow_takes() {
        let case = any_case();
        let cert = fresh_allowance();
        let mut form = ReturnForm::new(TEN, None, None, NOTES).unwrap();
        form.decision = None;
        let ret = Settlement::Return(form);
        let roles = [
            Role::GeneralManager,
            Role::MarketingHead,
            Role::Salesperson,
            Role::Warehouse,
            Role::Finance,
            Role::Technician,
        ];
        let input = StepInput {
            quantity: Some(10),
            note: String::new(),
        };
        // Walk both settlements to the end, checking every role at every state.
        for start in [cert, ret] {
            let mut now = start;
            let mut taken = 0;
            loop {
                let mut moved = None;
                for role in roles {
                    let offered = now.offered(role);
                    for step in SettlementStep::ALL {
                        let result = now.apply(step, role, &input, &case);
                        if offered.contains(&step) {
                            let next =
                                result.unwrap_or_else(|e| panic!("{step:?} by {role:?}: {e}"));
                            moved.get_or_insert(next);
                        } else {
                            assert!(
                                result.is_err(),
                                "{step:?} by {role:?} not offered but taken"
                            );
                        }
                    }
                }
                match moved {
                    Some(next) => {
                        now = next;
                        taken += 1;
                    }
                    None => break,
                }
            }
            assert_eq!(taken, 3, "three steps to posted: {now:?}");
            assert!(matches!(
                now,
                Settlement::Return(ReturnForm { posted: true, .. })
                    | Settlement::Allowance(AllowanceCertificate { posted: true, .. })
            ));
        }
    }

    #[test]
    fn a_step_of_another_role_is_forbidden_and_a_repeat_is_already_done() {
        let case = any_case();
        let cert = fresh_allowance();
        let input = StepInput::default();
        let err = cert
            .apply(SettlementStep::Countersign, Role::Finance, &input, &case)
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Forbidden);
        let signed = cert
            .apply(
                SettlementStep::Countersign,
                Role::GeneralManager,
                &input,
                &case,
            )
            .unwrap();
        let again = signed
            .apply(
                SettlementStep::Countersign,
                Role::GeneralManager,
                &input,
                &case,
            )
            .unwrap_err();
        assert_eq!(again.code(), ErrorCode::AlreadyDone);
        let early = signed
            .apply(SettlementStep::Post, Role::Finance, &input, &case)
            .unwrap_err();
        assert_eq!(early.code(), ErrorCode::NotReady);
        let wrong = signed
            .apply(SettlementStep::Receive, Role::Warehouse, &input, &case)
            .unwrap_err();
        assert_eq!(wrong.code(), ErrorCode::InvalidInput);
    }
}
