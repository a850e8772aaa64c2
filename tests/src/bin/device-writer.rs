//! A device process for crash tests: opens a store and writes records one after another,
//! printing `saved <id> <n>` only after the store returned. The test kills it at any moment.
//!
//! `device-writer STORE` records visits (create, then edit). `device-writer STORE day` walks a
//! technician's composed records as the SDK makes them: a visit created with its fields, the
//! signature image stored, a take-back receipt issued (number, fields and signature), and a
//! survey answer created with its fields, each record in one transaction.

use std::io::Write as _;

use fieldloop_client_core::model::ownership::Author;
use fieldloop_client_core::model::{DocKind, FieldValue, Role};
use fieldloop_client_core::store::Store;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: device-writer STORE [day]"))?;
    let day = std::env::args().nth(2).as_deref() == Some("day");
    let store = Store::open(&path).await?;
    let tech = Author::Device(Role::Technician);
    let mut out = std::io::stdout().lock();
    for n in 0.. {
        if day {
            let visit = store
                .create_with(
                    DocKind::Visit,
                    "wuhan",
                    tech,
                    &[("form.parts_used", FieldValue::Text(format!("part {n}")))],
                    0,
                )
                .await?;
            writeln!(out, "saved {} {n}", visit.id())?;
            let sha = store
                .put_blob(format!("signature strokes {n}").as_bytes(), "image/png")
                .await?;
            let receipt = store
                .issue_receipt(
                    "wuhan",
                    tech,
                    visit.id(),
                    &[(
                        "receipt.product_serial",
                        FieldValue::Text(format!("SN-{n}")),
                    )],
                    &sha,
                    "王经理",
                    "2026-11-27T10:30:00+08:00",
                    0,
                )
                .await?;
            writeln!(out, "saved {} {n}", receipt.id())?;
            let survey = store
                .create_with(
                    DocKind::Feedback,
                    "wuhan",
                    tech,
                    &[("answer.comment", FieldValue::Text(format!("survey {n}")))],
                    0,
                )
                .await?;
            writeln!(out, "saved {} {n}", survey.id())?;
        } else {
            let doc = store.create(DocKind::Visit, "wuhan", 0).await?;
            store
                .edit(
                    doc.id(),
                    tech,
                    &[("form.parts_used", FieldValue::Text(format!("part {n}")))],
                    0,
                )
                .await?;
            writeln!(out, "saved {} {n}", doc.id())?;
        }
        out.flush()?;
    }
    Ok(())
}
