//! Rules of the regulation that a document's own fields decide. Both the device (before saving)
//! and the server (before accepting) run them: the device with [`check`] in the company's
//! default zone, the server with [`check_in`] in the zone it is configured with.

use super::ownership::{Refusal, RefusalCode};
use super::{DocKind, FieldValue, RecordDoc};

fn text(doc: &RecordDoc, path: &str) -> String {
    match doc.get(path) {
        Some(FieldValue::Text(t)) => t,
        Some(FieldValue::Int(n)) => n.to_string(),
        None => String::new(),
    }
}

/// The company's time zone unless the server is configured otherwise: the day a request was
/// received is its day here, whatever offset the recording device wrote.
pub const COMPANY_ZONE: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// Checks the rules that hold for a document at any time, days reckoned in [`COMPANY_ZONE`].
pub fn check(doc: &RecordDoc) -> Result<(), Refusal> {
    check_in(doc, COMPANY_ZONE)
}

/// Checks the rules that hold for a document at any time, days reckoned in `zone`.
pub fn check_in(doc: &RecordDoc, zone: chrono_tz::Tz) -> Result<(), Refusal> {
    match doc.kind() {
        DocKind::Visit => check_visit(doc, zone),
        DocKind::Receipt => check_receipt(doc),
        DocKind::Feedback => check_feedback(doc),
        DocKind::Complaint => Ok(()),
    }
}

fn check_visit(doc: &RecordDoc, zone: chrono_tz::Tz) -> Result<(), Refusal> {
    // §2.3: a job fixed on site is completed only with the customer's signature on the form;
    // §2.5: a product taken back needs the customer's signature too.
    let outcome = text(doc, "form.outcome");
    let signed = !text(doc, "signature.blob_sha256").is_empty()
        && !text(doc, "signature.signer_name").is_empty();
    if matches!(outcome.as_str(), "fixed_on_site" | "taken_back") && !signed {
        {
            return Err(Refusal::new(
                RefusalCode::RuleBroken,
                "form.outcome",
                "the customer must sign the feedback form (signature image and signer's name) before the job is completed (§2.3)",
            ));
        }
    }
    // §2.1: every job has a category once it is worked on; a contract job names its contract;
    // a free job out of warranty needs a recorded reason.
    let category = text(doc, "request.category");
    // A registered job has its category when it is completed; unplanned work a technician
    // records on site gets its category when the office registers and logs it.
    let registered = !text(doc, "request.customer_name").is_empty();
    if category.is_empty() && !outcome.is_empty() && registered {
        return Err(Refusal::new(
            RefusalCode::RuleBroken,
            "request.category",
            "every job has a category (A paid, B contract, C free, D other) (§2.1)",
        ));
    }
    if category == "B" && text(doc, "request.contract_ref").trim().is_empty() {
        return Err(Refusal::new(
            RefusalCode::RuleBroken,
            "request.contract_ref",
            "a contract job (B) names the sales contract it is charged under (§2.1.2)",
        ));
    }
    if category == "C"
        && out_of_warranty(doc, zone)
        && text(doc, "request.warranty_reason").trim().is_empty()
    {
        return Err(Refusal::new(
            RefusalCode::RuleBroken,
            "request.warranty_reason",
            "the product is out of its free warranty: record why this job is free (§2.1.3)",
        ));
    }
    // §2.4: a fee collected needs its settlement method.
    let fee = doc
        .get("fee.amount_fen")
        .and_then(|v| v.as_int())
        .unwrap_or(0);
    // §2.1.3: a free (C) job charges the customer no service fee.
    if fee > 0 && category == "C" {
        return Err(Refusal::new(
            RefusalCode::RuleBroken,
            "fee.amount_fen",
            "a free (C) job charges the customer no service fee (§2.1.3)",
        ));
    }
    if fee > 0 && text(doc, "fee.method").is_empty() {
        return Err(Refusal::new(
            RefusalCode::RuleBroken,
            "fee.method",
            "say whether the fee was collected in cash or is to be invoiced (§2.4)",
        ));
    }
    Ok(())
}

/// The company day a visit was received on: the recorded instant (device or clerk time) seen in
/// `zone`, not in the offset it was written with (17:30Z is already the next day in Beijing).
fn received_on(doc: &RecordDoc, zone: chrono_tz::Tz) -> Option<chrono::NaiveDate> {
    chrono::DateTime::parse_from_rfc3339(&text(doc, "request.received_at"))
        .ok()
        .map(|t| t.with_timezone(&zone).date_naive())
}

/// Past the warranty's last day (`request.warranty_until`, included) on the day it was received.
fn out_of_warranty(doc: &RecordDoc, zone: chrono_tz::Tz) -> bool {
    let until =
        chrono::NaiveDate::parse_from_str(&text(doc, "request.warranty_until"), "%Y-%m-%d").ok();
    match (until, received_on(doc, zone)) {
        (Some(until), Some(on)) => on > until,
        _ => false,
    }
}

fn check_receipt(doc: &RecordDoc) -> Result<(), Refusal> {
    // §2.5: the technician gives a receipt and the customer signs.
    if !text(doc, "receipt.issued_at").is_empty() {
        if text(doc, "receipt.number").trim().is_empty() {
            return Err(Refusal::new(
                RefusalCode::RuleBroken,
                "receipt.number",
                "an issued receipt has a number (§2.5)",
            ));
        }
        if text(doc, "signature.blob_sha256").is_empty()
            || text(doc, "signature.signer_name").is_empty()
        {
            return Err(Refusal::new(
                RefusalCode::RuleBroken,
                "signature.blob_sha256",
                "the customer signs when the product is taken back (§2.5)",
            ));
        }
    }
    Ok(())
}

fn check_feedback(doc: &RecordDoc) -> Result<(), Refusal> {
    // §3.2: a rating of the technician is a score from 1 to 5.
    if text(doc, "answer.kind") == "rating" && text(doc, "answer.rating").is_empty() {
        return Err(Refusal::new(
            RefusalCode::RuleBroken,
            "answer.rating",
            "a rating needs a score from 1 to 5",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ownership::Author;

    fn free_job(received_at: &str) -> RecordDoc {
        let actor = automerge::ActorId::from([7u8; 16]);
        let mut doc =
            RecordDoc::create(DocKind::Visit, uuid::Uuid::from_u128(1), "wuhan", actor, 0).unwrap();
        let writes = [
            ("request.customer_name", FieldValue::from("王先生")),
            ("request.category", FieldValue::from("C")),
            ("request.warranty_until", FieldValue::from("2026-11-27")),
            ("request.received_at", FieldValue::from(received_at)),
        ];
        doc.set_many(Author::Server, &writes, 0).unwrap();
        doc
    }

    /// The warranty's last day is a company day: 23:59 in Beijing on it is inside, 00:30 the
    /// next Beijing day is outside even when the device wrote the instant in UTC (still the
    /// 27th there).
    #[test]
    fn the_day_received_is_the_company_day() {
        assert!(check(&free_job("2026-11-27T23:59:00+08:00")).is_ok());
        assert!(check(&free_job("2026-11-27T15:59:00Z")).is_ok());
        let refused = check(&free_job("2026-11-27T16:30:00Z")).unwrap_err();
        assert_eq!(refused.path, "request.warranty_reason");
        assert!(check(&free_job("2026-11-28T00:30:00+08:00")).is_err());
        // The server's configured zone decides there.
        assert!(check_in(&free_job("2026-11-27T16:30:00Z"), chrono_tz::UTC).is_ok());
    }

    #[test]
    fn a_free_job_charges_no_fee() {
        let mut doc = free_job("2026-11-27T10:00:00+08:00");
        let fee = |n: i64| {
            [
                ("fee.amount_fen", FieldValue::Int(n)),
                ("fee.method", FieldValue::from("cash_on_site")),
            ]
        };
        doc.set_many(Author::Server, &fee(0), 0).unwrap();
        assert!(check(&doc).is_ok(), "no fee on a free job is fine");
        doc.set_many(Author::Server, &fee(1), 0).unwrap();
        assert_eq!(check(&doc).unwrap_err().path, "fee.amount_fen");
        doc.set_many(
            Author::Server,
            &[("request.category", FieldValue::from("A"))],
            0,
        )
        .unwrap();
        assert!(check(&doc).is_ok(), "a paid (A) job may charge");
    }
}
