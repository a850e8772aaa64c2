//! Rules of the regulation that a document's own fields decide. Both the device (before saving)
//! and the server (before accepting) run [`check`].

use super::ownership::{Refusal, RefusalCode};
use super::{DocKind, FieldValue, RecordDoc};

fn text(doc: &RecordDoc, path: &str) -> String {
    match doc.get(path) {
        Some(FieldValue::Text(t)) => t,
        Some(FieldValue::Int(n)) => n.to_string(),
        None => String::new(),
    }
}

/// Checks the rules that hold for a document at any time.
pub fn check(doc: &RecordDoc) -> Result<(), Refusal> {
    match doc.kind() {
        DocKind::Visit => check_visit(doc),
        DocKind::Receipt | DocKind::Complaint | DocKind::Feedback => Ok(()),
    }
}

fn check_visit(doc: &RecordDoc) -> Result<(), Refusal> {
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
    // §2.4: a fee collected needs its settlement method.
    let fee = doc
        .get("fee.amount_fen")
        .and_then(|v| v.as_int())
        .unwrap_or(0);
    if fee > 0 && text(doc, "fee.method").is_empty() {
        return Err(Refusal::new(
            RefusalCode::RuleBroken,
            "fee.method",
            "say whether the fee was collected in cash or is to be invoiced (§2.4)",
        ));
    }
    Ok(())
}
