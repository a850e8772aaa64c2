//! Light records end to end: notes that grow by entries, documents of the first schema, and
//! each change stored once on the server (a compacted save plus the changes since), on both
//! engines.

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ObjType, ROOT, ReadDoc};
use fieldloop_client_core::model::ownership::Author;
use fieldloop_client_core::model::{DocKind, FieldType, FieldValue, RecordDoc, Role, fields};
use fieldloop_e2e::{TestDevice, TestServer, both_engines, call, login_token, now};
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

const TECH: Author = Author::Device(Role::Technician);

fn text(v: &str) -> FieldValue {
    FieldValue::Text(v.to_string())
}

/// The raw bytes of every change of a document, sorted: what "the same history" means.
fn change_bytes(doc: &Automerge) -> Vec<Vec<u8>> {
    let mut all: Vec<Vec<u8>> = doc
        .get_changes(&[])
        .iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    all.sort();
    all
}

/// A visit dispatched to `tech_b`, created by `dev_a`, known to both devices.
async fn shared_visit(
    server: &TestServer,
    dev_a: &TestDevice,
    dev_b: &TestDevice,
    tech_b: Uuid,
) -> anyhow::Result<Uuid> {
    let id = dev_a
        .store()
        .create(DocKind::Visit, "wuhan", now())
        .await?
        .id();
    dev_a.sync().await?;
    let token = login_token(&server.base(), "director").await?;
    let (status, body) = call(
        Method::POST,
        &format!("{}/api/visits/{id}/dispatch", server.base()),
        &token,
        Some(json!({ "technician_id": tech_b })),
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    dev_b.sync().await?;
    dev_a.sync().await?;
    Ok(id)
}

/// Two technicians add lines to one visit's note offline: both lines survive, in the same
/// order on both phones and on the server; the free-text field written by both stays one
/// value with the other visible as a conflict.
async fn notes_from_two_devices(server: TestServer) -> anyhow::Result<()> {
    server.user("director", Role::FactoryDirector, None).await?;
    server
        .user("tech_a", Role::Technician, Some("wuhan"))
        .await?;
    let b = server
        .user("tech_b", Role::Technician, Some("wuhan"))
        .await?;
    let dev_a = server.device("tech_a").await?;
    let dev_b = server.device("tech_b").await?;
    let id = shared_visit(&server, &dev_a, &dev_b, b.id).await?;
    let edit = |dev: &TestDevice, writes: Vec<(&'static str, FieldValue)>| {
        let store = dev.store().clone();
        async move { store.edit(id, TECH, &writes, now()).await }
    };
    edit(&dev_a, vec![("form.work_done", text("拆下皮带"))]).await?;
    edit(
        &dev_b,
        vec![
            ("form.work_done", text("更换轴承")),
            ("form.parts_used", text("轴承 6204")),
        ],
    )
    .await?;
    edit(
        &dev_a,
        vec![
            ("form.work_done", text("试机正常")),
            ("form.parts_used", text("皮带 A-42")),
        ],
    )
    .await?;
    for dev in [&dev_b, &dev_a, &dev_b] {
        dev.sync().await?;
    }
    let on_a = dev_a.store().load(id).await?.unwrap();
    let on_b = dev_b.store().load(id).await?.unwrap();
    let lines = |d: &RecordDoc| -> Vec<String> {
        d.note_entries("form.work_done")
            .into_iter()
            .map(|e| e.text)
            .collect()
    };
    assert_eq!(lines(&on_a).len(), 3, "every line kept: {:?}", lines(&on_a));
    assert_eq!(lines(&on_a), lines(&on_b), "one order on both phones");
    let a_lines: Vec<String> = lines(&on_a)
        .into_iter()
        .filter(|l| l != "更换轴承")
        .collect();
    assert_eq!(
        a_lines,
        ["拆下皮带", "试机正常"],
        "a phone's own lines keep their order"
    );
    // Each entry says which phone wrote it.
    let writers: Vec<String> = on_a
        .note_entries("form.work_done")
        .into_iter()
        .map(|e| e.by)
        .collect();
    assert!(writers.contains(&dev_b.store().actor().to_hex_string()));
    assert!(writers.contains(&dev_a.store().actor().to_hex_string()));
    // A free-text field is one value: the concurrent one stays visible.
    assert_eq!(on_a.get_all("form.parts_used").len(), 2);
    assert_eq!(on_a.get("form.parts_used"), on_b.get("form.parts_used"));
    // The server reads the same note from the document (it is not projected).
    let stored = server.state.db.doc(id).await?.unwrap();
    let on_server = stored.record().map_err(anyhow::Error::msg)?;
    assert_eq!(lines(&on_server), lines(&on_a));
    assert!(
        server
            .state
            .db
            .doc_fields(id)
            .await?
            .iter()
            .all(|f| f.path != "form.work_done"),
        "growing notes are not projected"
    );
    let token = login_token(&server.base(), "director").await?;
    let (status, body) = call(
        Method::GET,
        &format!("{}/api/docs/{id}", server.base()),
        &token,
        None,
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    let shown = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "form.work_done")
        .map(|f| f["value"].clone());
    assert_eq!(shown, Some(json!(lines(&on_a).join("\n"))));
    Ok(())
}

both_engines!(notes_from_two_devices_test, notes_from_two_devices);

/// A visit as the first schema wrote it on a phone: every free text an Automerge `Text`.
fn schema1_visit(actor: ActorId, diagnosis: &str) -> anyhow::Result<RecordDoc> {
    let mut doc = Automerge::new().with_actor(actor);
    let id = Uuid::now_v7();
    doc.transact::<_, _, automerge::AutomergeError>(|tx| {
        tx.put(ROOT, "type", "visit")?;
        tx.put(ROOT, "schema", 1)?;
        tx.put(ROOT, "id", id.to_string())?;
        tx.put(ROOT, "region", "wuhan")?;
        for section in fields::sections(DocKind::Visit) {
            let obj = tx.put_object(ROOT, section, ObjType::Map)?;
            for spec in fields::fields(DocKind::Visit) {
                let key = spec
                    .path
                    .strip_prefix(section)
                    .and_then(|r| r.strip_prefix('.'));
                if let Some(key) = key
                    && matches!(spec.ty, FieldType::Notes | FieldType::Text)
                {
                    tx.put_object(&obj, key, ObjType::Text)?;
                }
            }
        }
        Ok(())
    })
    .map_err(|f| f.error)?;
    let form = doc.get(ROOT, "form")?.unwrap().1;
    let notes = doc.get(&form, "diagnosis")?.unwrap().1;
    let parts = doc.get(&form, "parts_used")?.unwrap().1;
    doc.transact::<_, _, automerge::AutomergeError>(|tx| {
        tx.splice_text(&notes, 0, 0, diagnosis)?;
        tx.splice_text(&parts, 0, 0, "belt")?;
        Ok(())
    })
    .map_err(|f| f.error)?;
    Ok(RecordDoc::from_automerge(doc)?)
}

/// A phone still holding documents of the first schema (notes as Automerge `Text`) syncs them
/// to this server and keeps working on them: the server takes them, reads them, and a note
/// written on them again becomes entries that every side reads the same.
async fn schema_1_documents_sync(server: TestServer) -> anyhow::Result<()> {
    server.user("director", Role::FactoryDirector, None).await?;
    server.user("tech", Role::Technician, Some("wuhan")).await?;
    let phone = server.device("tech").await?;
    let old = schema1_visit(phone.store().actor().clone(), "电机异响")?;
    let id = old.id();
    phone.store().adopt(&old, now()).await?;
    let report = phone.sync().await?;
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    let stored = server.state.db.doc(id).await?.expect("taken by the server");
    let on_server = stored.record().map_err(anyhow::Error::msg)?;
    assert_eq!(on_server.get("form.diagnosis"), Some(text("电机异响")));
    // An old app's text edit of a schema 1 note is still taken.
    let mut edited = phone.store().load(id).await?.unwrap();
    let before = edited.heads();
    {
        let am = edited.automerge_mut();
        let form = am.get(ROOT, "form")?.unwrap().1;
        let notes = am.get(&form, "diagnosis")?.unwrap().1;
        let mut tx = am.transaction();
        tx.splice_text(&notes, 4, 0, ",轴承磨损")?;
        tx.commit();
    }
    let changes = edited.automerge().get_changes(&before);
    phone
        .store()
        .apply_server(id, Some(DocKind::Visit), changes, &[])
        .await?;
    let report = phone.sync().await?;
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    // This app writes on it: the note becomes entries, the free text a string.
    phone
        .store()
        .edit(
            id,
            TECH,
            &[
                ("form.diagnosis", text("更换轴承后试机")),
                ("form.parts_used", text("轴承 6204")),
            ],
            now(),
        )
        .await?;
    let report = phone.sync().await?;
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    let expected = text("电机异响,轴承磨损\n更换轴承后试机");
    let on_server = server
        .state
        .db
        .doc(id)
        .await?
        .unwrap()
        .record()
        .map_err(anyhow::Error::msg)?;
    assert_eq!(on_server.get("form.diagnosis"), Some(expected.clone()));
    assert_eq!(on_server.get("form.parts_used"), Some(text("轴承 6204")));
    // And back: another phone of the same technician pulls it and reads the same.
    let second = server.device("tech").await?;
    second.sync().await?;
    let pulled = second.store().load(id).await?.expect("pulled");
    assert_eq!(pulled.get("form.diagnosis"), Some(expected));
    assert_eq!(pulled.heads(), on_server.heads());
    // Bad input: a record made by another device cannot be adopted, and nothing is stored.
    let foreign = schema1_visit(ActorId::random(), "x")?;
    assert!(second.store().adopt(&foreign, now()).await.is_err());
    assert!(second.store().load(foreign.id()).await?.is_none());
    Ok(())
}

both_engines!(schema_1_documents_sync_test, schema_1_documents_sync);

/// The server keeps each change once: per document a compacted save plus the changes since
/// (never more than the save), a change log without bytes. Every change a device lacks is
/// still served byte for byte, after any number of compactions, to a new device and to one
/// that has part of the history.
async fn each_change_stored_once(server: TestServer) -> anyhow::Result<()> {
    server.user("tech", Role::Technician, Some("wuhan")).await?;
    let phone = server.device("tech").await?;
    let mut ids = Vec::new();
    for i in 0..12 {
        let doc = phone.store().create(DocKind::Visit, "wuhan", now()).await?;
        phone
            .store()
            .edit(
                doc.id(),
                TECH,
                &[
                    ("form.diagnosis", text(&format!("第{i}台 电机异响"))),
                    ("form.travel_fen", FieldValue::Int(8_000 + i)),
                ],
                now(),
            )
            .await?;
        ids.push(doc.id());
    }
    phone.sync().await?;
    let halfway = server.device("tech").await?;
    halfway.sync().await?;
    // Many small edits, each synced on its own: chunks grow past the save and are compacted.
    for round in 0..10 {
        for id in ids.iter().take(4) {
            phone
                .store()
                .edit(
                    *id,
                    TECH,
                    &[("form.work_done", text(&format!("第{round}次处理")))],
                    now(),
                )
                .await?;
        }
        phone.sync().await?;
    }
    let fresh = server.device("tech").await?;
    fresh.sync().await?;
    halfway.sync().await?;
    let mut compacted = 0;
    for id in &ids {
        let row = server.state.db.doc(*id).await?.unwrap();
        let built = row.automerge().map_err(anyhow::Error::msg)?;
        let save = built.save().len();
        assert!(
            row.chunks.len() <= row.snapshot.len(),
            "{id}: the changes since the save never outgrow it"
        );
        assert!(
            row.snapshot.len() + row.chunks.len() <= 2 * save,
            "{id}: stored {} + {} bytes against a save of {save}",
            row.snapshot.len(),
            row.chunks.len()
        );
        // The save was made again after the first sync: it holds later edits.
        let saved = Automerge::load(&row.snapshot)?;
        if saved.get_changes(&[]).len() > 2 {
            compacted += 1;
        }
        // The change log: one row per change of the document, none twice, none missing.
        let logged = server.state.db.doc_changes(*id).await?;
        let mut hashes: Vec<_> = logged.iter().map(|(c, _)| c.hash).collect();
        hashes.sort();
        hashes.dedup();
        assert_eq!(hashes.len(), logged.len());
        let mut in_doc: Vec<_> = built.get_changes(&[]).iter().map(|c| c.hash()).collect();
        in_doc.sort();
        assert_eq!(
            hashes, in_doc,
            "{id}: the log names exactly the document's changes"
        );
        // Served byte for byte, whole and in part.
        let original = phone.store().load(*id).await?.unwrap();
        for dev in [&fresh, &halfway] {
            let got = dev.store().load(*id).await?.expect("pulled");
            assert_eq!(
                change_bytes(got.automerge()),
                change_bytes(original.automerge()),
                "{id}: the same bytes on every device"
            );
        }
    }
    assert!(compacted > 0, "the edits made the server compact");
    // What the change log holds per change: metadata only.
    let total: i64 = server.state.db.change_count().await?;
    assert!(total > 0);
    Ok(())
}

both_engines!(each_change_stored_once_test, each_change_stored_once);

/// A database of the release before light records (change bytes in the change log as text
/// ids, heads as text, notes projected) is migrated: every document still loads and reads
/// the same, its change log keeps every change (as bytes), and long notes leave the projection.
async fn upgrade_keeps_every_record(engine: fieldloop_e2e::Engine) -> anyhow::Result<()> {
    use fieldloop_server::Db;
    let dir = tempfile::tempdir()?;
    let url = match engine {
        fieldloop_e2e::Engine::Sqlite => Db::sqlite_url_in(dir.path())?,
        fieldloop_e2e::Engine::Postgres => match fieldloop_e2e::fresh_pg_database().await? {
            Some(name) => fieldloop_e2e::pg_url_for(&name),
            None => return Ok(()),
        },
    };
    let db = Db::connect(&url).await?;
    db.migrate_to(8, 0).await?;
    // A visit as the earlier release stored it: its snapshot, its changes with their bytes.
    let who = ActorId::from([7u8; 16]);
    let mut visit = schema1_visit(who.clone(), "电机异响")?;
    visit.set(TECH, "form.travel_fen", FieldValue::Int(8_000), 0)?;
    let id = visit.id();
    let user = Uuid::now_v7();
    let changes = visit.automerge().get_changes(&[]);
    let heads = fieldloop_client_core::wire::heads_to_text(&visit.heads());
    sqlx::query(
        "INSERT INTO documents (id, kind, region, created_by, assignee, snapshot, heads, seq, change_count, created_at, updated_at)
         VALUES ($1, 'visit', 'wuhan', $2, NULL, $3, $4, 1, $5, 0, 0)",
    )
    .bind(id.to_string())
    .bind(user.to_string())
    .bind(visit.automerge().save())
    .bind(&heads)
    .bind(changes.len() as i64)
    .execute(&db.pool)
    .await?;
    for c in &changes {
        sqlx::query(
            "INSERT INTO changes (hash, doc_id, actor, actor_seq, bytes, user_id, device_id, device_time, received_at)
             VALUES ($1, $2, $3, $4, $5, $6, NULL, 0, 0)",
        )
        .bind(c.hash().to_string())
        .bind(id.to_string())
        .bind(c.actor_id().to_hex_string())
        .bind(c.seq() as i64)
        .bind(c.raw_bytes().to_vec())
        .bind(user.to_string())
        .execute(&db.pool)
        .await?;
    }
    for (path, value) in [("form.diagnosis", "电机异响"), ("form.travel_fen", "8000")] {
        sqlx::query(
            "INSERT INTO doc_fields (doc_id, path, value, value_int) VALUES ($1, $2, $3, NULL)",
        )
        .bind(id.to_string())
        .bind(path)
        .bind(value)
        .execute(&db.pool)
        .await?;
    }
    assert_eq!(
        db.migrate_to(9, 0).await?,
        1,
        "the light records migration ran"
    );
    let row = db.doc(id).await?.expect("the record is still there");
    assert_eq!(row.heads, heads, "heads read back the same");
    let stored = row.record().map_err(anyhow::Error::msg)?;
    assert_eq!(stored.get("form.diagnosis"), Some(text("电机异响")));
    assert_eq!(stored.heads(), visit.heads());
    let logged = db.doc_changes(id).await?;
    let mut hashes: Vec<_> = logged.iter().map(|(c, _)| c.hash).collect();
    hashes.sort();
    let mut expected: Vec<_> = changes.iter().map(|c| c.hash()).collect();
    expected.sort();
    assert_eq!(hashes, expected);
    assert!(
        logged
            .iter()
            .all(|(c, _)| c.actor == who && c.user_id == user)
    );
    let projected: Vec<String> = db
        .doc_fields(id)
        .await?
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(projected, ["form.travel_fen"]);
    db.pool.close().await;
    Ok(())
}

fieldloop_e2e::each_engine!(upgrade_keeps_every_record_test, upgrade_keeps_every_record);

/// A record made on the phone is stored in one transaction with its first fields, and a
/// take-back receipt with its number and signature: bad input leaves the store as it was
/// (no blank record, no receipt number used). Tried: a path the technician may not write, a
/// completed job without a signature, a receipt signed with an image never stored, and one
/// with no signer's name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_record_one_transaction() -> anyhow::Result<()> {
    use fieldloop_client_core::store::Store;
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path().join("phone.sqlite")).await?;
    let nothing_stored = |store: Store| async move {
        anyhow::Ok(store.list(None).await?.is_empty() && store.pending().await?.is_empty())
    };
    let bad: [&[(&str, FieldValue)]; 2] = [
        &[
            ("form.diagnosis", text("皮带磨损")),
            ("dispatch.technician", text("someone")),
        ],
        &[("form.outcome", text("fixed_on_site"))],
    ];
    for writes in bad {
        let refused = store
            .create_with(DocKind::Visit, "wuhan", TECH, writes, now())
            .await;
        assert!(
            matches!(refused, Err(fieldloop_client_core::Error::Invalid(_))),
            "{refused:?}"
        );
        assert!(nothing_stored(store.clone()).await?, "no blank record");
    }
    let visit = store
        .create_with(
            DocKind::Visit,
            "wuhan",
            TECH,
            &[("form.diagnosis", text("皮带磨损"))],
            now(),
        )
        .await?;
    assert_eq!(store.list(None).await?, vec![visit.id()]);
    let product = [("receipt.product_name", text("搅拌机"))];
    let sha = store.put_blob(b"signature strokes", "image/png").await?;
    let refusals = [("0".repeat(64), "王经理"), (sha.clone(), "  ")];
    for (image, signer) in refusals {
        let refused = store
            .issue_receipt(
                "wuhan",
                TECH,
                visit.id(),
                &product,
                &image,
                signer,
                "2026-12-03T10:00:00+08:00",
                now(),
            )
            .await;
        assert!(refused.is_err(), "{image} {signer}");
        assert_eq!(store.list(None).await?, vec![visit.id()], "no receipt");
    }
    let receipt = store
        .issue_receipt(
            "wuhan",
            TECH,
            visit.id(),
            &product,
            &sha,
            "王经理",
            "2026-12-03T10:00:00+08:00",
            now(),
        )
        .await?;
    let number = receipt.get("receipt.number").unwrap();
    assert!(
        number.as_text().unwrap().ends_with("-00001"),
        "the refused attempts used no number: {number:?}"
    );
    assert_eq!(
        receipt.get("signature.signed_digest"),
        Some(text(&receipt.signed_digest()))
    );
    assert!(!receipt.changed_after_signing());
    let stored = store.load(receipt.id()).await?.expect("stored whole");
    assert_eq!(stored.heads(), receipt.heads());
    assert_eq!(
        store.pending().await?.len(),
        2,
        "both records wait to be sent"
    );
    store.close().await;
    Ok(())
}

/// A backup taken while a phone syncs (`fieldloop-server backup`, `Db::backup_to`) holds every
/// record acknowledged before it began, with its signature image; restored into an empty data
/// folder (`restore`), it opens and reads the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_during_sync_keeps_every_acknowledged_record() -> anyhow::Result<()> {
    use fieldloop_server::Db;
    let Some(server) = TestServer::start(fieldloop_e2e::Engine::Sqlite).await? else {
        return Ok(());
    };
    server.user("tech", Role::Technician, Some("wuhan")).await?;
    let phone = server.device("tech").await?;
    let mut ids = Vec::new();
    let record = |i: usize| {
        let store = phone.store().clone();
        async move {
            store
                .create_with(
                    DocKind::Visit,
                    "wuhan",
                    TECH,
                    &[("form.diagnosis", text(&format!("第{i}台 皮带磨损")))],
                    now(),
                )
                .await
                .map(|d| d.id())
        }
    };
    for i in 0..30 {
        ids.push(record(i).await?);
    }
    let sha = phone
        .store()
        .put_blob(b"\x89PNG strokes", "image/png")
        .await?;
    phone
        .store()
        .sign(ids[0], TECH, &sha, "王经理", &[], now())
        .await?;
    phone.sync().await?;
    for i in 30..150 {
        ids.push(record(i).await?);
    }
    let syncing = {
        let client = phone.client.clone();
        tokio::spawn(async move { client.sync(|_| {}).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let mut acknowledged = Vec::new();
    for id in &ids {
        if !phone.store().synced_heads(*id).await?.is_empty() {
            acknowledged.push(*id);
        }
    }
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("backup.sqlite");
    server.state.db.backup_to(&file).await?;
    syncing.await??;
    assert!(acknowledged.len() >= 30);

    let url = Db::sqlite_url_in(&dir.path().join("restored"))?;
    Db::restore_into(&url, &file).await?;
    let restored = Db::connect(&url).await?;
    assert_eq!(
        restored.migrate(0).await?,
        0,
        "the backup is of this version"
    );
    for id in &acknowledged {
        let row = restored
            .doc(*id)
            .await?
            .expect("acknowledged before the backup");
        let doc = row.record().map_err(anyhow::Error::msg)?;
        assert!(doc.get("form.diagnosis").is_some(), "{id}");
    }
    assert!(
        restored.blob(&sha).await?.is_some(),
        "the signature image is in the backup"
    );
    restored.pool.close().await;
    server.finish().await;
    Ok(())
}
