//! A device process for crash tests: opens a store and records visits one after another,
//! printing `saved <id> <n>` only after the store returned. The test kills it at any moment.

use std::io::Write as _;

use fieldloop_client_core::model::ownership::Author;
use fieldloop_client_core::model::{DocKind, FieldValue, Role};
use fieldloop_client_core::store::Store;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: device-writer STORE"))?;
    let store = Store::open(&path).await?;
    let tech = Author::Device(Role::Technician);
    let mut out = std::io::stdout().lock();
    for n in 0.. {
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
        out.flush()?;
    }
    Ok(())
}
