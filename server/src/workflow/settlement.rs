//! Returns and allowances after a case closes (§4.9).

use serde::{Deserialize, Serialize};

/// Why finance or the warehouse refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettlementError {
    #[error(
        "finance posts a return only when the approved quantity ({approved}) equals the quantity actually returned ({received}) (§4.9.4)"
    )]
    QuantityMismatch { approved: i64, received: i64 },
    #[error("{0}")]
    NotReady(String),
    #[error("{0}")]
    Invalid(String),
}

impl SettlementError {
    pub fn code(&self) -> &'static str {
        match self {
            SettlementError::QuantityMismatch { .. } => "quantity_mismatch",
            SettlementError::NotReady(_) => "not_ready",
            SettlementError::Invalid(_) => "invalid_input",
        }
    }
}

/// 退货单: a return/rework form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnForm {
    pub approved_quantity: i64,
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
    /// A form for `approved_quantity` pieces; `notes` are its reason, handling and basis
    /// (§4.9.3: 注明退货原因、处理方式及退回依据).
    pub fn new(approved_quantity: i64, notes: [&str; 3]) -> Result<ReturnForm, SettlementError> {
        if approved_quantity <= 0 {
            return Err(SettlementError::Invalid(
                "a return covers at least one piece".into(),
            ));
        }
        Ok(ReturnForm {
            approved_quantity,
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
            return Err(SettlementError::Invalid(
                "the warehouse has already signed for this return".into(),
            ));
        }
        if quantity < 0 {
            return Err(SettlementError::Invalid(
                "a received quantity cannot be negative".into(),
            ));
        }
        if quantity != self.approved_quantity && note.trim().is_empty() {
            return Err(SettlementError::Invalid(format!(
                "{quantity} received against {} on the form: note what was checked and who was asked",
                self.approved_quantity
            )));
        }
        let mut next = self.clone();
        next.received_quantity = Some(quantity);
        next.receipt_note = note.trim().to_string();
        Ok(next)
    }

    /// Finance posts only when the approved and received quantities are equal (§4.9.4).
    pub fn post(&self) -> Result<ReturnForm, SettlementError> {
        if self.posted {
            return Err(SettlementError::Invalid("already posted".into()));
        }
        let received = self.received_quantity.ok_or_else(|| {
            SettlementError::NotReady("the warehouse has not signed for the goods".into())
        })?;
        if received != self.approved_quantity {
            return Err(SettlementError::QuantityMismatch {
                approved: self.approved_quantity,
                received,
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
            return Err(SettlementError::Invalid("already posted".into()));
        }
        let mut next = self.clone();
        next.posted = true;
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finance_refuses_a_quantity_mismatch_with_both_numbers() {
        let mut form = ReturnForm::new(10, ["", "", ""]).unwrap();
        form.manager_approved = true;
        assert!(form.receive(9, "").is_err(), "a difference needs a note");
        let short = form
            .receive(9, "one crate missing, asked marketing")
            .unwrap();
        assert_eq!(
            short.post(),
            Err(SettlementError::QuantityMismatch {
                approved: 10,
                received: 9
            })
        );
        let full = form.receive(10, "").unwrap();
        assert!(full.post().unwrap().posted);
        assert!(ReturnForm::new(-1, ["", "", ""]).is_err());
    }
}
