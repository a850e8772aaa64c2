//! Service work rules (§2) that head office decides: warranty, the dispatch queue's priority,
//! and the custody of a product taken back for repair. Pure.

use chrono::{Datelike, NaiveDate};
use fieldloop_client_core::model::Role;
use fieldloop_client_core::wire::ErrorCode;
use serde::{Deserialize, Serialize};

/// Is a product bought on `purchase` still in its free warranty (§2.1.3) on `on`? The warranty
/// runs `months` calendar months counted as every period of this project is (`calendar.rs`, Civil
/// Code art. 201-203): the purchase day is not counted and the last day is the same day of the
/// month `months` later (the month's last day where there is none), included.
pub fn in_warranty(purchase: NaiveDate, months: u32, on: NaiveDate) -> bool {
    match warranty_last_day(purchase, months) {
        Some(last) => on <= last,
        None => false,
    }
}

/// The last day of a `months`-month warranty from `purchase` (see [`in_warranty`]); none for a
/// product sold without a free warranty (0 months), which is never in one.
pub fn warranty_last_day(purchase: NaiveDate, months: u32) -> Option<NaiveDate> {
    if months == 0 {
        return None;
    }
    add_months(purchase, months)
}

/// The day `months` months after `date` (the same day of the month, or the month's last day).
pub fn add_months(date: NaiveDate, months: u32) -> Option<NaiveDate> {
    let total = date.year() * 12 + date.month0() as i32 + months as i32;
    let (y, m0) = (total.div_euclid(12), total.rem_euclid(12) as u32);
    let mut day = date.day();
    loop {
        if let Some(d) = NaiveDate::from_ymd_opt(y, m0 + 1, day) {
            return Some(d);
        }
        if day <= 28 {
            return None;
        }
        day -= 1;
    }
}

/// §2.8: a request registered before today and still not dispatched goes first, as priority.
pub fn is_priority(registered_on: NaiveDate, today: NaiveDate) -> bool {
    registered_on < today
}

/// Finance's side of a fee (§2.4), as far as it has gone: the invoice issued, the money
/// collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Billing {
    pub issued: bool,
    pub collected: bool,
}

impl Billing {
    /// Both done: the job leaves finance's queue.
    pub fn settled(self) -> bool {
        self.issued && self.collected
    }

    /// Finance records `target` (`issued` or `collected`) on a fee paid by `method`. §2.4: a
    /// small fee is taken in cash on site and handed to finance, who mails the invoice after it
    /// (当场向用户收费,回来将款交于财务部补寄发票), so for `cash_on_site` either may come
    /// first; otherwise finance issues the invoice and the money is collected against it later
    /// (开具发票,以便另行前往收费), so nothing is collected before the invoice.
    pub fn record(self, method: &str, target: &str) -> Result<Billing, String> {
        let next = match target {
            "issued" if self.issued => return Err("the invoice is already issued".into()),
            "issued" => Billing {
                issued: true,
                ..self
            },
            "collected" if self.collected => return Err("the money is already collected".into()),
            "collected" if !self.issued && method != "cash_on_site" => {
                return Err(
                    "an invoiced fee is collected against its invoice: issue the invoice first (§2.4)"
                        .into(),
                );
            }
            "collected" => Billing {
                collected: true,
                ..self
            },
            other => return Err(format!("'{other}' is not issued or collected")),
        };
        Ok(next)
    }
}

/// Where a product taken back for repair is (客户产品进出登记簿).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    /// The technician took it from the customer against a receipt.
    WithTechnician,
    /// Handed to production with a material return form (退料单).
    AtProduction,
    /// Repaired, waiting for the QC inspector.
    AwaitingQc,
    /// Accepted by QC and put in stock (入库).
    InStock,
    /// Back with the customer, who signed for it.
    ReturnedToCustomer,
    /// The original receipt was taken back and voided.
    Voided,
}

impl Location {
    pub fn label_zh(self) -> &'static str {
        match self {
            Location::WithTechnician => "技术员处",
            Location::AtProduction => "生产部维修",
            Location::AwaitingQc => "待质检",
            Location::InStock => "已入库",
            Location::ReturnedToCustomer => "已交还客户",
            Location::Voided => "收据已作废",
        }
    }
    pub fn label_en(self) -> &'static str {
        match self {
            Location::WithTechnician => "With the technician",
            Location::AtProduction => "In repair at production",
            Location::AwaitingQc => "Waiting for QC",
            Location::InStock => "In stock",
            Location::ReturnedToCustomer => "Returned to the customer",
            Location::Voided => "Receipt voided",
        }
    }
    /// The location a stored code names.
    pub fn from_code(code: &str) -> Option<Location> {
        serde_json::from_value(serde_json::Value::String(code.to_string())).ok()
    }
}

/// A step in a product's custody.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CustodyEvent {
    ToProduction,
    RepairDone,
    QcAccept,
    QcReject,
    ReturnToCustomer,
    Void,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustodyError {
    #[error("{event} is done by {who}, not by a {role}")]
    WrongRole {
        event: &'static str,
        who: &'static str,
        role: String,
    },
    #[error("the product is {}: {event} cannot happen now", .at.label_zh())]
    WrongState { event: &'static str, at: Location },
    #[error("the receipt is already voided")]
    AlreadyVoided,
    #[error("{0}")]
    Missing(String),
}

impl CustodyError {
    /// The refusal in the clerk's words.
    pub fn message_zh(&self) -> String {
        match self {
            CustodyError::WrongRole { event, who, .. } => {
                let step = CustodyEvent::from_code(event)
                    .map(|e| e.labels().0)
                    .unwrap_or(event);
                format!("「{step}」由{}办理(§2.6)", who_zh(who))
            }
            CustodyError::WrongState { event, at } => {
                let step = CustodyEvent::from_code(event)
                    .map(|e| e.labels().0)
                    .unwrap_or(event);
                format!("产品现在{},不能「{step}」(§2.6)", at.label_zh())
            }
            CustodyError::AlreadyVoided => "收据已作废".into(),
            CustodyError::Missing(_) => {
                "等待客户交还签字:客户签收后才能交还客户并作废收据(§2.6)".into()
            }
        }
    }
    pub fn code(&self) -> ErrorCode {
        match self {
            CustodyError::WrongRole { .. } => ErrorCode::WrongRole,
            CustodyError::WrongState { .. } => ErrorCode::WrongState,
            CustodyError::AlreadyVoided => ErrorCode::AlreadyVoided,
            CustodyError::Missing(_) => ErrorCode::NotReady,
        }
    }
}

impl CustodyEvent {
    pub fn code(self) -> &'static str {
        match self {
            CustodyEvent::ToProduction => "to_production",
            CustodyEvent::RepairDone => "repair_done",
            CustodyEvent::QcAccept => "qc_accept",
            CustodyEvent::QcReject => "qc_reject",
            CustodyEvent::ReturnToCustomer => "return_to_customer",
            CustodyEvent::Void => "void",
        }
    }
    /// The step as the custody buttons name it, in Chinese and English.
    pub fn labels(self) -> (&'static str, &'static str) {
        match self {
            CustodyEvent::ToProduction => ("交生产部维修", "Handed to production"),
            CustodyEvent::RepairDone => ("维修完成", "Repair done"),
            CustodyEvent::QcAccept => ("品检合格入库", "QC accepted into stock"),
            CustodyEvent::QcReject => ("品检不合格退回维修", "QC rejected, back to repair"),
            CustodyEvent::ReturnToCustomer => ("交还客户", "Returned to the customer"),
            CustodyEvent::Void => ("收回并作废收据", "Receipt taken back and voided"),
        }
    }
    /// The step a stored code names.
    pub fn from_code(code: &str) -> Option<CustodyEvent> {
        serde_json::from_value(serde_json::Value::String(code.to_string())).ok()
    }
}

/// Who does a custody step, in Chinese.
fn who_zh(who: &str) -> &'static str {
    match who {
        "the technician or clerk" => "技术员或文员",
        "production" => "生产部",
        "the technician" => "技术员",
        _ => "质检员",
    }
}

/// Moves a product one step. `customer_signed_return` says whether the receipt document holds
/// the customer's signature for getting the product back (§2.6).
pub fn custody_step(
    at: Location,
    event: CustodyEvent,
    role: Role,
    customer_signed_return: bool,
) -> Result<Location, CustodyError> {
    let code = event.code();
    let need = |ok: bool, who: &'static str| {
        if ok || role == Role::Admin {
            Ok(())
        } else {
            Err(CustodyError::WrongRole {
                event: code,
                who,
                role: role.code().into(),
            })
        }
    };
    let wrong = || Err(CustodyError::WrongState { event: code, at });
    if at == Location::Voided {
        return Err(CustodyError::AlreadyVoided);
    }
    match event {
        CustodyEvent::ToProduction => {
            need(
                matches!(role, Role::Technician | Role::Clerk),
                "the technician or clerk",
            )?;
            if at != Location::WithTechnician {
                return wrong();
            }
            Ok(Location::AtProduction)
        }
        CustodyEvent::RepairDone => {
            need(role == Role::Production, "production")?;
            if at != Location::AtProduction {
                return wrong();
            }
            Ok(Location::AwaitingQc)
        }
        CustodyEvent::QcAccept | CustodyEvent::QcReject => {
            need(role == Role::QcInspector, "a QC inspector (质检员)")?;
            if at != Location::AwaitingQc {
                return wrong();
            }
            // Rejected goes back to repair.
            Ok(if event == CustodyEvent::QcAccept {
                Location::InStock
            } else {
                Location::AtProduction
            })
        }
        CustodyEvent::ReturnToCustomer => {
            need(role == Role::Technician, "the technician")?;
            if at != Location::InStock {
                return wrong();
            }
            if !customer_signed_return {
                return Err(CustodyError::Missing(
                    "the customer has not signed for the returned product (§2.6)".into(),
                ));
            }
            Ok(Location::ReturnedToCustomer)
        }
        CustodyEvent::Void => {
            need(
                matches!(role, Role::Technician | Role::Clerk),
                "the technician or clerk",
            )?;
            if !customer_signed_return {
                return Err(CustodyError::Missing(
                    "a receipt is voided only after the customer signed for the returned product (§2.6)".into(),
                ));
            }
            if at != Location::ReturnedToCustomer {
                return wrong();
            }
            Ok(Location::Voided)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn warranty_counts_calendar_months() {
        // Bought 27 Nov: the year starts the next day and ends on 27 Nov, included.
        assert!(in_warranty(d("2025-11-27"), 12, d("2026-11-26")));
        assert!(in_warranty(d("2025-11-27"), 12, d("2026-11-27")));
        assert!(!in_warranty(d("2025-11-27"), 12, d("2026-11-28")));
        // No 31 February: the month's last day is the last day of the warranty.
        assert_eq!(add_months(d("2026-01-31"), 1), Some(d("2026-02-28")));
        assert!(in_warranty(d("2026-01-31"), 1, d("2026-02-28")));
        assert!(!in_warranty(d("2026-01-31"), 1, d("2026-03-01")));
        assert_eq!(
            warranty_last_day(d("2024-02-29"), 12),
            Some(d("2025-02-28"))
        );
        // Sold without a free warranty: not even the purchase day is inside one.
        assert!(!in_warranty(d("2026-11-27"), 0, d("2026-11-27")));
        assert_eq!(warranty_last_day(d("2026-11-27"), 0), None);
    }

    #[test]
    fn cash_is_handed_in_before_or_after_the_invoice_an_invoiced_fee_after() {
        let none = Billing::default();
        // Cash taken on site: handed to finance, the invoice mailed after (or before).
        let handed_in = none.record("cash_on_site", "collected").unwrap();
        assert!(!handed_in.settled());
        assert!(
            handed_in
                .record("cash_on_site", "issued")
                .unwrap()
                .settled()
        );
        let issued = none.record("cash_on_site", "issued").unwrap();
        assert!(
            issued
                .record("cash_on_site", "collected")
                .unwrap()
                .settled()
        );
        // To be invoiced: nothing is collected before the invoice.
        assert!(none.record("invoice_later", "collected").is_err());
        let issued = none.record("invoice_later", "issued").unwrap();
        assert!(issued.record("invoice_later", "issued").is_err());
        let settled = issued.record("invoice_later", "collected").unwrap();
        assert!(settled.settled());
        assert!(settled.record("invoice_later", "collected").is_err());
        assert!(none.record("cash_on_site", "paid").is_err());
    }

    #[test]
    fn custody_runs_through_qc_rejection_and_voids_once() {
        use CustodyEvent::*;
        let mut at = Location::WithTechnician;
        at = custody_step(at, ToProduction, Role::Technician, false).unwrap();
        at = custody_step(at, RepairDone, Role::Production, false).unwrap();
        assert!(
            custody_step(at, QcAccept, Role::Production, false).is_err(),
            "QC by a non-inspector"
        );
        at = custody_step(at, QcReject, Role::QcInspector, false).unwrap();
        assert_eq!(at, Location::AtProduction);
        at = custody_step(at, RepairDone, Role::Production, false).unwrap();
        at = custody_step(at, QcAccept, Role::QcInspector, false).unwrap();
        assert_eq!(at, Location::InStock);
        assert!(
            custody_step(at, ReturnToCustomer, Role::Technician, false).is_err(),
            "no return signature"
        );
        at = custody_step(at, ReturnToCustomer, Role::Technician, true).unwrap();
        at = custody_step(at, Void, Role::Technician, true).unwrap();
        assert_eq!(
            custody_step(at, Void, Role::Technician, true),
            Err(CustodyError::AlreadyVoided)
        );
    }
}
