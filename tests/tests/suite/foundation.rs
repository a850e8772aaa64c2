//! The foundation end to end: real server, real devices, both engines.

use std::time::Duration;

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ROOT, ReadDoc};
use fieldloop_client_core::model::ownership::Author;
use fieldloop_client_core::model::{DocKind, FieldValue, RefusalCode, Role};
use fieldloop_e2e::proxy::CutProxy;
use fieldloop_e2e::{TestDevice, TestServer, both_engines, call, login_token, now};
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

const TECH: Author = Author::Device(Role::Technician);

fn text(v: &str) -> FieldValue {
    FieldValue::Text(v.to_string())
}

async fn device_id(dev: &TestDevice) -> anyhow::Result<String> {
    Ok(dev
        .store()
        .meta_get("device_id")
        .await?
        .expect("registered"))
}

/// The server's view of a record, through the API, as `username`.
async fn server_doc(
    server: &TestServer,
    username: &str,
    id: Uuid,
) -> anyhow::Result<(u16, serde_json::Value)> {
    let token = login_token(&server.base(), username).await?;
    call(
        Method::GET,
        &format!("{}/api/docs/{id}", server.base()),
        &token,
        None,
    )
    .await
}

/// Whether a record as the API returns it has `value` at `path`.
fn has_field(body: &serde_json::Value, path: &str, value: &str) -> bool {
    body["fields"].as_array().is_some_and(|fields| {
        fields
            .iter()
            .any(|f| f["path"] == path && f["value"] == value)
    })
}

/// A new visit on `dev` with one field recorded.
async fn visit_with(dev: &TestDevice, path: &str, value: FieldValue) -> anyhow::Result<Uuid> {
    let id = dev
        .store()
        .create(DocKind::Visit, "wuhan", now())
        .await?
        .id();
    dev.store().edit(id, TECH, &[(path, value)], now()).await?;
    Ok(id)
}

async fn heads_of(dev: &TestDevice, id: Uuid) -> anyhow::Result<Vec<String>> {
    let doc = dev.store().load(id).await?.expect("document on device");
    let mut heads: Vec<String> = doc.heads().iter().map(|h| h.to_string()).collect();
    heads.sort();
    Ok(heads)
}

async fn server_heads(server: &TestServer, id: Uuid) -> anyhow::Result<Vec<String>> {
    let (status, body) = server_doc(server, "director", id).await?;
    assert_eq!(status, 200, "{body}");
    let mut heads: Vec<String> = body["heads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_string())
        .collect();
    heads.sort();
    Ok(heads)
}

/// Two technicians on one visit, editing offline, syncing in any order, converge; the
/// concurrent value is resolved the same everywhere and visible as a conflict.
async fn concurrent_edits_converge(server: TestServer) -> anyhow::Result<()> {
    server.user("director", Role::FactoryDirector, None).await?;
    server
        .user("tech_a", Role::Technician, Some("wuhan"))
        .await?;
    let b = server
        .user("tech_b", Role::Technician, Some("wuhan"))
        .await?;
    let dev_a = server.device("tech_a").await?;
    let dev_b = server.device("tech_b").await?;

    let visit = dev_a.store().create(DocKind::Visit, "wuhan", now()).await?;
    let id = visit.id();
    dev_a
        .store()
        .edit(id, TECH, &[("form.diagnosis", text("noise"))], now())
        .await?;
    dev_a.sync().await?;

    // The factory director dispatches the visit to B, whose device gets it on its next sync.
    let token = login_token(&server.base(), "director").await?;
    let (status, body) = call(
        Method::POST,
        &format!("{}/api/visits/{id}/dispatch", server.base()),
        &token,
        Some(json!({"technician_id": b.id})),
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    let report = dev_b.sync().await?;
    assert_eq!(report.pulled, 1);
    dev_a.sync().await?;

    // Offline: different fields, and the same field.
    dev_a
        .store()
        .edit(
            id,
            TECH,
            &[
                ("form.travel_fen", FieldValue::Int(12_000)),
                ("form.arrived_at", text("2026-11-27T09:00:00+08:00")),
            ],
            now(),
        )
        .await?;
    dev_b
        .store()
        .edit(
            id,
            TECH,
            &[
                ("form.work_done", text("replaced the bearing")),
                ("form.arrived_at", text("2026-11-27T09:05:00+08:00")),
            ],
            now(),
        )
        .await?;

    dev_b.sync().await?;
    dev_a.sync().await?;
    dev_b.sync().await?;

    let expected = server_heads(&server, id).await?;
    assert_eq!(heads_of(&dev_a, id).await?, expected);
    assert_eq!(heads_of(&dev_b, id).await?, expected);

    let on_a = dev_a.store().load(id).await?.unwrap();
    let on_b = dev_b.store().load(id).await?.unwrap();
    assert_eq!(on_a.get("form.travel_fen"), Some(FieldValue::Int(12_000)));
    assert_eq!(
        on_b.get("form.work_done"),
        Some(text("replaced the bearing"))
    );
    assert_eq!(on_a.get("form.arrived_at"), on_b.get("form.arrived_at"));
    assert_eq!(
        on_a.get_all("form.arrived_at").len(),
        2,
        "the conflict is visible"
    );
    assert_eq!(
        on_a.get_all("form.arrived_at"),
        on_b.get_all("form.arrived_at")
    );

    // The server shows the same conflict through the API.
    let (_, body) = server_doc(&server, "director", id).await?;
    let arrived = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "form.arrived_at")
        .unwrap()
        .clone();
    assert_eq!(arrived["conflicts"].as_array().unwrap().len(), 2);
    assert_eq!(
        arrived["value"],
        json!(on_a.get("form.arrived_at").unwrap().as_text().unwrap())
    );
    server.finish().await;
    Ok(())
}
both_engines!(concurrent_edits_converge_test, concurrent_edits_converge);

/// A sync whose answers are lost (the server stored the batch, the device never heard), and a
/// sync whose future is dropped half-way, both resume: nothing lost, nothing doubled.
async fn cut_sync_resumes(server: TestServer) -> anyhow::Result<()> {
    server.user("director", Role::FactoryDirector, None).await?;
    server.user("tech", Role::Technician, Some("wuhan")).await?;
    let proxy = CutProxy::start(server.addr).await?;
    let dev = server.device_at(&proxy.base(), "tech").await?;
    let mut ids = Vec::new();
    for i in 0..30 {
        let doc = dev.store().create(DocKind::Visit, "wuhan", now()).await?;
        dev.store()
            .edit(
                doc.id(),
                TECH,
                &[("form.parts_used", text(&format!("belt #{i}")))],
                now(),
            )
            .await?;
        ids.push(doc.id());
    }
    proxy.cut_sync_answers(true);
    let cut = dev.client.sync(|_| {}).await;
    assert!(
        cut.is_err(),
        "the answer was swallowed, so the sync must fail"
    );
    assert!(cut.unwrap_err().retryable());
    assert!(proxy.cuts.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    assert_eq!(
        dev.store().pending().await?.len(),
        30,
        "nothing is acknowledged without an answer"
    );
    proxy.cut_sync_answers(false);

    // Drop sync futures at random points.
    for ms in [1u64, 3, 7, 15] {
        let _ = tokio::time::timeout(Duration::from_millis(ms), dev.sync()).await;
    }
    dev.sync().await?;
    assert!(dev.store().pending().await?.is_empty());
    // Each visit has two changes (create, edit): exactly 60 on the server, none doubled.
    assert_eq!(server.state.db.change_count().await?, 60);
    for id in ids {
        assert_eq!(heads_of(&dev, id).await?, server_heads(&server, id).await?);
    }
    server.finish().await;
    Ok(())
}
both_engines!(cut_sync_resumes_test, cut_sync_resumes);

/// The server restarted between syncs loses nothing.
async fn restart_loses_nothing(server: TestServer) -> anyhow::Result<()> {
    server.user("director", Role::FactoryDirector, None).await?;
    server.user("tech", Role::Technician, Some("wuhan")).await?;
    server.user("clerk", Role::Clerk, Some("wuhan")).await?;
    let mut dev = server.device("tech").await?;
    let first = visit_with(&dev, "form.diagnosis", text("before restart")).await?;
    dev.sync().await?;

    let server = server.restart().await?;
    let second = dev
        .store()
        .create(DocKind::Visit, "wuhan", now())
        .await?
        .id();
    dev.store()
        .edit(
            first,
            TECH,
            &[("form.work_done", text("after restart"))],
            now(),
        )
        .await?;
    // The app was killed and started again too.
    dev.reopen(&server.base()).await?;
    dev.sync().await?;

    let office = server.device("clerk").await?;
    let report = office.sync().await?;
    assert_eq!(report.pulled, 2);
    let doc = office.store().load(first).await?.unwrap();
    assert_eq!(doc.get("form.diagnosis"), Some(text("before restart")));
    assert_eq!(doc.get("form.work_done"), Some(text("after restart")));
    assert!(office.store().load(second).await?.is_some());
    assert_eq!(
        heads_of(&office, first).await?,
        heads_of(&dev, first).await?
    );
    server.finish().await;
    Ok(())
}
both_engines!(restart_loses_nothing_test, restart_loses_nothing);

/// Writes `section.key` straight into a record's Automerge document on the device, past the
/// model's checks, as an old or tampered app would.
async fn tamper(
    dev: &TestDevice,
    id: Uuid,
    section: &str,
    key: &str,
    value: &str,
) -> anyhow::Result<()> {
    let doc = dev.store().load(id).await?.unwrap();
    let before = doc.heads();
    let mut am = doc.into_automerge();
    let obj = am.get(ROOT, section)?.unwrap().1;
    let mut tx = am.transaction();
    tx.put(&obj, key, value)?;
    tx.commit();
    let tampered = am.get_changes(&before);
    dev.store().apply_server(id, None, tampered, &[]).await?;
    Ok(())
}

/// A tampered device writes a server-owned field: that document is refused with the path
/// named and quarantined with the user's data kept; the device's other documents sync; recovery
/// keeps the permitted edits.
async fn server_field_refused(server: TestServer) -> anyhow::Result<()> {
    server.user("director", Role::FactoryDirector, None).await?;
    let tech = server.user("tech", Role::Technician, Some("wuhan")).await?;
    let dev = server.device("tech").await?;
    let good = dev
        .store()
        .create(DocKind::Visit, "wuhan", now())
        .await?
        .id();
    let bad = visit_with(&dev, "form.diagnosis", text("keep me")).await?;

    tamper(&dev, bad, "dispatch", "technician", &tech.id.to_string()).await?;

    let report = dev.sync().await?;
    assert_eq!(report.pushed, 1, "the good document still syncs");
    assert_eq!(report.refused.len(), 1);
    let (id, refusal) = &report.refused[0];
    assert_eq!(*id, bad);
    assert_eq!(refusal.code, RefusalCode::ForbiddenPath);
    assert_eq!(refusal.path, "dispatch.technician");
    assert_eq!(server_doc(&server, "director", good).await?.0, 200);
    assert_eq!(
        server_doc(&server, "director", bad).await?.0,
        404,
        "nothing of the refused document is stored"
    );

    let quarantined = dev.store().quarantined().await?;
    assert_eq!(quarantined.len(), 1);
    assert_eq!(quarantined[0].refusal.path, "dispatch.technician");
    let kept = dev.store().load(bad).await?.unwrap();
    assert_eq!(kept.get("form.diagnosis"), Some(text("keep me")));

    // Recovery re-applies what the technician may write and reports what it could not keep.
    let lost = dev.client.recover(bad).await?;
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].0, "dispatch.technician");
    let report = dev.sync().await?;
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    let (status, body) = server_doc(&server, "director", bad).await?;
    assert_eq!(status, 200);
    assert!(has_field(&body, "form.diagnosis", "keep me"), "{body}");
    server.finish().await;
    Ok(())
}
both_engines!(server_field_refused_test, server_field_refused);

/// A technician cannot pull, list or write a record outside their visibility.
async fn visibility_enforced(server: TestServer) -> anyhow::Result<()> {
    server.user("director", Role::FactoryDirector, None).await?;
    server
        .user("tech_a", Role::Technician, Some("wuhan"))
        .await?;
    server
        .user("tech_b", Role::Technician, Some("wuhan"))
        .await?;
    server.user("clerk_x", Role::Clerk, Some("xian")).await?;
    let dev_a = server.device("tech_a").await?;
    let dev_b = server.device("tech_b").await?;
    let id = visit_with(&dev_a, "form.diagnosis", text("private")).await?;
    dev_a.sync().await?;

    // Not in B's feed, so B's sync pulls nothing.
    assert_eq!(dev_b.sync().await?.pulled, 0);
    assert!(dev_b.store().load(id).await?.is_none());
    // Asking for it by id is refused.
    let token_b = dev_b.client.bearer().await?;
    let pull = json!({"device_id": device_id(&dev_b).await?, "docs": [{"id": id, "heads": [], "changes": []}]});
    let (status, body) = call(
        Method::POST,
        &format!("{}/api/sync", server.base()),
        &token_b,
        Some(pull),
    )
    .await?;
    assert_eq!(status, 200);
    assert_eq!(body["docs"][0]["verdict"]["status"], "rejected");
    assert_eq!(body["docs"][0]["verdict"]["refusal"]["code"], "not_visible");
    assert!(
        body["docs"][0]["changes"].as_array().unwrap().is_empty(),
        "nothing leaks"
    );
    // The API agrees, for B and for another region's office.
    assert_eq!(server_doc(&server, "tech_b", id).await?.0, 404);
    assert_eq!(server_doc(&server, "clerk_x", id).await?.0, 404);
    let (_, list) = call(
        Method::GET,
        &format!("{}/api/docs", server.base()),
        &token_b,
        None,
    )
    .await?;
    assert!(list.as_array().unwrap().is_empty());

    // Writing: B's changes on top of A's document are refused too.
    let doc = dev_a.store().load(id).await?.unwrap();
    let mut am = doc.automerge().clone();
    am.set_actor(dev_b.store().actor().clone());
    let before = am.get_heads();
    let form = am.get(ROOT, "form")?.unwrap().1;
    let mut tx = am.transaction();
    tx.put(&form, "outcome", "another_visit")?;
    tx.commit();
    let changes: Vec<String> = am
        .get_changes(&before)
        .iter()
        .map(|c| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, c.raw_bytes()))
        .collect();
    let push = json!({"device_id": device_id(&dev_b).await?, "docs": [{"id": id, "heads": [], "changes": changes}]});
    let count = server.state.db.change_count().await?;
    let (_, body) = call(
        Method::POST,
        &format!("{}/api/sync", server.base()),
        &token_b,
        Some(push),
    )
    .await?;
    assert_eq!(body["docs"][0]["verdict"]["refusal"]["code"], "not_visible");
    assert_eq!(server.state.db.change_count().await?, count);
    server.finish().await;
    Ok(())
}
both_engines!(visibility_enforced_test, visibility_enforced);

/// A blob referenced before it is uploaded is refused; a blob whose bytes do not match its
/// hash is refused.
async fn blob_rules(server: TestServer) -> anyhow::Result<()> {
    server.user("tech", Role::Technician, Some("wuhan")).await?;
    let dev = server.device("tech").await?;
    let id = dev
        .store()
        .create(DocKind::Visit, "wuhan", now())
        .await?
        .id();
    let image = b"\x89PNG\r\n\x1a\n signature strokes".to_vec();
    let sha = dev.store().put_blob(&image, "image/png").await?;
    // Pretend it went up, so the device sends the reference without the bytes.
    dev.store().mark_blob_uploaded(&sha).await?;
    dev.store()
        .edit(
            id,
            TECH,
            &[
                ("signature.blob_sha256", text(&sha)),
                ("signature.signer_name", text("Wang")),
            ],
            now(),
        )
        .await?;
    let report = dev.sync().await?;
    assert_eq!(report.refused.len(), 1);
    assert_eq!(report.refused[0].1.code, RefusalCode::MissingBlob);
    assert_eq!(report.refused[0].1.path, "signature.blob_sha256");

    // Bytes that do not hash to the name.
    let token = dev.client.bearer().await?;
    let wrong = fieldloop_e2e::http()
        .put(format!("{}/api/blobs/{sha}", server.base()))
        .bearer_auth(&token)
        .header("content-type", "image/png")
        .body(b"other bytes".to_vec())
        .send()
        .await?;
    assert_eq!(wrong.status().as_u16(), 400);
    let body: serde_json::Value = wrong.json().await?;
    assert_eq!(body["error"]["code"], "hash_mismatch");
    assert!(server.state.db.blob(&sha).await?.is_none());

    // The right bytes go up; after recovery the reference is accepted.
    let ok = fieldloop_e2e::http()
        .put(format!("{}/api/blobs/{sha}", server.base()))
        .bearer_auth(&token)
        .header("content-type", "image/png")
        .body(image.clone())
        .send()
        .await?;
    assert_eq!(ok.status().as_u16(), 201);
    let lost = dev.client.recover(id).await?;
    assert!(lost.is_empty());
    let report = dev.sync().await?;
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    server.finish().await;
    Ok(())
}
both_engines!(blob_rules_test, blob_rules);

/// Two server instances on one database, two devices pushing the same document at once: no
/// change is lost.
async fn two_instances_lose_nothing(server: TestServer) -> anyhow::Result<()> {
    server.user("director", Role::FactoryDirector, None).await?;
    server
        .user("tech_a", Role::Technician, Some("wuhan"))
        .await?;
    let b = server
        .user("tech_b", Role::Technician, Some("wuhan"))
        .await?;
    let second = server.another_instance().await?;
    let dev_a = server.device("tech_a").await?;
    let dev_b = server.device_at(&second.base(), "tech_b").await?;
    let mut ids = Vec::new();
    let token = login_token(&server.base(), "director").await?;
    for _ in 0..5 {
        let id = dev_a
            .store()
            .create(DocKind::Visit, "wuhan", now())
            .await?
            .id();
        ids.push(id);
    }
    dev_a.sync().await?;
    for id in &ids {
        let (status, _) = call(
            Method::POST,
            &format!("{}/api/visits/{id}/dispatch", second.base()),
            &token,
            Some(json!({"technician_id": b.id})),
        )
        .await?;
        assert_eq!(status, 200);
    }
    dev_a.sync().await?;
    dev_b.sync().await?;
    for round in 0..5 {
        for id in &ids {
            dev_a
                .store()
                .edit(
                    *id,
                    TECH,
                    &[("form.parts_used", text(&format!("a{round}")))],
                    now(),
                )
                .await?;
            dev_b
                .store()
                .edit(
                    *id,
                    TECH,
                    &[("form.diagnosis", text(&format!("b{round}")))],
                    now(),
                )
                .await?;
        }
        let (ra, rb) = tokio::join!(dev_a.sync(), dev_b.sync());
        ra?;
        rb?;
    }
    dev_a.sync().await?;
    dev_b.sync().await?;
    dev_a.sync().await?;
    // Per document: 1 create + 1 dispatch + 5 edits from each device.
    assert_eq!(server.state.db.change_count().await?, 5 * 12);
    for id in &ids {
        let expected = server_heads(&server, *id).await?;
        assert_eq!(heads_of(&dev_a, *id).await?, expected);
        assert_eq!(heads_of(&dev_b, *id).await?, expected);
    }
    second.finish().await;
    server.finish().await;
    Ok(())
}
both_engines!(two_instances_lose_nothing_test, two_instances_lose_nothing);

fn raw_doc(actor: &ActorId, id: Uuid, kind: &str, schema: i64) -> Automerge {
    let mut am = Automerge::new().with_actor(actor.clone());
    let mut tx = am.transaction();
    tx.put(ROOT, "type", kind).unwrap();
    tx.put(ROOT, "schema", schema).unwrap();
    tx.put(ROOT, "id", id.to_string()).unwrap();
    tx.put(ROOT, "region", "wuhan").unwrap();
    tx.commit();
    am
}

fn b64_changes(am: &Automerge) -> Vec<String> {
    am.get_changes(&[])
        .iter()
        .map(|c| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, c.raw_bytes()))
        .collect()
}

/// Bad input of every kind gets a clear code and stores nothing. Tried: a body that is not
/// JSON, invalid base64, unreadable change bytes, an unknown document type, a schema from the
/// future, a body over the limit, a forged token, a missing token, a replayed refresh token,
/// changes signed by another device's actor, an unregistered device id.
async fn bad_input_refused(server: TestServer) -> anyhow::Result<()> {
    server
        .user("tech_a", Role::Technician, Some("wuhan"))
        .await?;
    server
        .user("tech_b", Role::Technician, Some("wuhan"))
        .await?;
    let dev_a = server.device("tech_a").await?;
    let dev_b = server.device("tech_b").await?;
    let token = dev_b.client.bearer().await?;
    let device = device_id(&dev_b).await?;
    let url = format!("{}/api/sync", server.base());
    let http = fieldloop_e2e::http();
    let count = server.state.db.change_count().await?;

    let not_json = http
        .post(&url)
        .bearer_auth(&token)
        .body("\u{1}\u{2}garbage")
        .send()
        .await?;
    assert_eq!(not_json.status().as_u16(), 400);
    assert_eq!(
        not_json.json::<serde_json::Value>().await?["error"]["code"],
        "malformed_body"
    );

    let bad_b64 = json!({"device_id": device, "docs": [{"id": Uuid::now_v7(), "heads": [], "changes": ["%%%"]}]});
    let (status, body) = call(Method::POST, &url, &token, Some(bad_b64)).await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!("malformed_body"))
    );

    let garbage = json!({"device_id": device, "docs": [{"id": Uuid::now_v7(), "heads": [], "changes": ["AAECAwQ="]}]});
    let (status, body) = call(Method::POST, &url, &token, Some(garbage)).await?;
    assert_eq!(status, 200);
    assert_eq!(body["docs"][0]["verdict"]["refusal"]["code"], "malformed");

    let actor_b = dev_b.store().actor().clone();
    let id = Uuid::now_v7();
    let unknown = json!({"device_id": device, "docs": [{"id": id, "heads": [], "changes": b64_changes(&raw_doc(&actor_b, id, "invoice", 1))}]});
    let (_, body) = call(Method::POST, &url, &token, Some(unknown)).await?;
    assert_eq!(body["docs"][0]["verdict"]["refusal"]["code"], "bad_root");
    assert_eq!(body["docs"][0]["verdict"]["refusal"]["path"], "type");

    let id = Uuid::now_v7();
    let future = json!({"device_id": device, "docs": [{"id": id, "heads": [], "changes": b64_changes(&raw_doc(&actor_b, id, "visit", 99))}]});
    let (_, body) = call(Method::POST, &url, &token, Some(future)).await?;
    assert_eq!(
        body["docs"][0]["verdict"]["refusal"]["code"],
        "schema_unsupported"
    );

    let id = Uuid::now_v7();
    let actor_a = dev_a.store().actor().clone();
    let foreign = json!({"device_id": device, "docs": [{"id": id, "heads": [], "changes": b64_changes(&raw_doc(&actor_a, id, "visit", 1))}]});
    let (_, body) = call(Method::POST, &url, &token, Some(foreign)).await?;
    assert_eq!(
        body["docs"][0]["verdict"]["refusal"]["code"],
        "foreign_actor"
    );

    let someone_elses = json!({"device_id": device_id(&dev_a).await?, "docs": []});
    let (status, body) = call(Method::POST, &url, &token, Some(someone_elses)).await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (403, json!("forbidden"))
    );

    let huge = vec![b'x'; fieldloop_server::http::MAX_BODY_BYTES + 1];
    let too_big = http
        .post(&url)
        .bearer_auth(&token)
        .body(huge)
        .send()
        .await?;
    assert_eq!(too_big.status().as_u16(), 413);
    assert_eq!(
        too_big.json::<serde_json::Value>().await?["error"]["code"],
        "body_too_large"
    );

    let mut forged = token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let (status, body) = call(
        Method::GET,
        &format!("{}/api/feed", server.base()),
        &forged,
        None,
    )
    .await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (401, json!("invalid_token"))
    );
    let resp = http
        .get(format!("{}/api/feed", server.base()))
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 401);

    // Nothing of any of that was stored.
    assert_eq!(server.state.db.change_count().await?, count);

    // A refresh token works once; a replay revokes the whole session.
    let old = dev_b.store().meta_get("refresh_token").await?.unwrap();
    dev_b.client.refresh().await?;
    let replay = http
        .post(format!("{}/api/auth/refresh", server.base()))
        .json(&json!({"refresh_token": old}))
        .send()
        .await?;
    assert_eq!(replay.status().as_u16(), 401);
    assert_eq!(
        replay.json::<serde_json::Value>().await?["error"]["code"],
        "refresh_token_replayed"
    );
    let err = dev_b.client.refresh().await.unwrap_err();
    assert!(
        matches!(err, fieldloop_client_core::Error::Unauthorized { ref code, .. } if code == "refresh_token_revoked"),
        "{err}"
    );
    assert!(!err.retryable());

    // Wrong password.
    let resp = http
        .post(format!("{}/api/auth/login", server.base()))
        .json(&json!({"username": "tech_a", "password": "nope"}))
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(
        resp.json::<serde_json::Value>().await?["error"]["code"],
        "bad_credentials"
    );
    server.finish().await;
    Ok(())
}
both_engines!(bad_input_refused_test, bad_input_refused);

/// Two admins creating one username at the same moment: both pass the check before the insert,
/// and the database's unique constraint decides. The loser is told `username_taken` (409), not a
/// server failure, on both engines.
async fn concurrent_usernames(server: TestServer) -> anyhow::Result<()> {
    server.user("root", Role::Admin, None).await?;
    server.region("wuhan").await?;
    let token = login_token(&server.base(), "root").await?;
    let url = format!("{}/api/users", server.base());
    let body = json!({"username": "clerk_x", "display_name": "Clerk", "password": "a long enough password",
        "role": "clerk", "region": "wuhan"});
    let attempts = (0..8).map(|_| {
        let (url, token, body) = (url.clone(), token.clone(), body.clone());
        async move { call(Method::POST, &url, &token, Some(body)).await }
    });
    let answers = futures_join_all(attempts).await?;
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(created, 1, "{answers:?}");
    for (status, body) in answers.iter().filter(|(s, _)| *s != 201) {
        assert_eq!(
            (*status, body["error"]["code"].as_str()),
            (409, Some("username_taken")),
            "{answers:?}"
        );
    }
    // Look-alike names are the same name, and weak passwords are refused, all with a clear
    // 4xx and nothing created.
    for (name, password, status, code) in [
        ("Clerk_X", "a long enough password", 409, "username_taken"),
        (
            "clerk_x\u{200B}",
            "a long enough password",
            400,
            "invalid_input",
        ),
        ("newbie", "12345678", 400, "invalid_input"),
        ("newbie", "        ", 400, "invalid_input"),
        ("newbie", "123456789012345", 400, "invalid_input"),
    ] {
        let body = json!({"username": name, "display_name": "x", "password": password,
            "role": "clerk", "region": "wuhan"});
        let (got, body) = call(Method::POST, &url, &token, Some(body)).await?;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{name:?} {body}"
        );
    }
    // The R&D role is written as the model and the pages write it, `rnd`.
    let rnd = json!({"username": "rnd_1", "display_name": "R&D", "password": "a long enough password",
        "role": "rnd"});
    let (status, body) = call(Method::POST, &url, &token, Some(rnd)).await?;
    assert_eq!(
        (status, body["role"].as_str()),
        (201, Some("rnd")),
        "{body}"
    );
    server.finish().await;
    Ok(())
}
both_engines!(concurrent_usernames_test, concurrent_usernames);

/// Signing out, disabling an account, deleting it, changing its role and revoking a device all
/// take effect on the very next request: an access token proves only who it was issued to;
/// what that user may do is what the database says now. The changes here are an operator's SQL
/// behind the server's back: on PostgreSQL every request reads them; a server on SQLite, which
/// owns its folder and remembers access reads until it writes such a change itself, sees a
/// foreign write within `FOREIGN_WRITES_SEEN_WITHIN` (waited out once, for the role; after the
/// others the test tells the server at once).
async fn revocation_is_immediate(server: TestServer) -> anyhow::Result<()> {
    let operator_wrote = || server.state.db.access_changed();
    server.user("tech", Role::Technician, Some("wuhan")).await?;
    server.user("temp", Role::Technician, Some("wuhan")).await?;
    let base = server.base();
    let me = format!("{base}/api/me");
    let register = format!("{base}/api/complaints");
    let pool = &server.state.db.pool;
    let id_of = |name: &'static str| async move {
        let row: (String,) = sqlx::query_as("SELECT id FROM users WHERE username = $1")
            .bind(name)
            .fetch_one(pool)
            .await?;
        anyhow::Ok(row.0)
    };

    // Signing out ends the session's access token too.
    let pair: serde_json::Value = fieldloop_e2e::http()
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"username": "tech", "password": "tech-password-for-tests"}))
        .send()
        .await?
        .json()
        .await?;
    let access = pair["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(call(Method::GET, &me, &access, None).await?.0, 200);
    let resp = fieldloop_e2e::http()
        .post(format!("{base}/api/auth/logout"))
        .json(&json!({"refresh_token": pair["refresh_token"]}))
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 204);
    let (status, body) = call(Method::GET, &me, &access, None).await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (401, json!("session_revoked"))
    );

    // The role is the database's: a technician made admin reads the complaint register at
    // once, and is refused again at once when made a technician again.
    let token = login_token(&base, "tech").await?;
    assert_eq!(call(Method::GET, &register, &token, None).await?.0, 403);
    let tech = id_of("tech").await?;
    sqlx::query("UPDATE users SET role = 'admin' WHERE id = $1")
        .bind(&tech)
        .execute(pool)
        .await?;
    if server.state.db.engine == fieldloop_server::db::Engine::Sqlite {
        // Remembered at most until the bound for foreign writes has passed.
        tokio::time::sleep(
            fieldloop_server::db::access_cache::FOREIGN_WRITES_SEEN_WITHIN
                + std::time::Duration::from_millis(50),
        )
        .await;
    }
    assert_eq!(call(Method::GET, &register, &token, None).await?.0, 200);
    sqlx::query("UPDATE users SET role = 'technician' WHERE id = $1")
        .bind(&tech)
        .execute(pool)
        .await?;
    operator_wrote();
    assert_eq!(call(Method::GET, &register, &token, None).await?.0, 403);

    // A revoked device is refused on its next sync.
    let dev = server.device("tech").await?;
    dev.sync().await?;
    sqlx::query("UPDATE devices SET revoked_at = $1 WHERE user_id = $2")
        .bind(1_i64)
        .bind(&tech)
        .execute(pool)
        .await?;
    operator_wrote();
    dev.store().create(DocKind::Visit, "wuhan", now()).await?;
    let err = dev
        .sync()
        .await
        .expect_err("a revoked device syncs nothing");
    assert!(
        matches!(
            err.downcast_ref::<fieldloop_client_core::Error>(),
            Some(fieldloop_client_core::Error::Refused { code, .. }) if code == "device_revoked"
        ),
        "{err}"
    );

    // A disabled account, and one that no longer exists, are refused at once.
    let temp_token = login_token(&base, "temp").await?;
    let temp = id_of("temp").await?;
    sqlx::query("UPDATE users SET active = 0 WHERE id = $1")
        .bind(&temp)
        .execute(pool)
        .await?;
    operator_wrote();
    let (status, body) = call(Method::GET, &me, &temp_token, None).await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (401, json!("account_disabled"))
    );
    sqlx::query("DELETE FROM refresh_tokens WHERE user_id = $1")
        .bind(&temp)
        .execute(pool)
        .await?;
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(&temp)
        .execute(pool)
        .await?;
    operator_wrote();
    let (status, _) = call(Method::GET, &me, &temp_token, None).await?;
    assert_eq!(status, 401);
    server.finish().await;
    Ok(())
}
both_engines!(revocation_is_immediate_test, revocation_is_immediate);

/// Guessing passwords is braked: after five wrong ones an account is told `too_many_attempts`
/// (429) for a while, even with the right password, and says when to come back; the wait ends
/// by itself (minutes, not forever); other accounts sign in as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_are_throttled() -> anyhow::Result<()> {
    let server = TestServer::start(fieldloop_e2e::Engine::Sqlite)
        .await?
        .expect("sqlite always starts");
    server.user("tech", Role::Technician, Some("wuhan")).await?;
    server.user("clerk", Role::Clerk, Some("wuhan")).await?;
    let url = format!("{}/api/auth/login", server.base());
    let attempt = |username: &str, password: &str| {
        let body = json!({"username": username, "password": password});
        let url = url.clone();
        async move {
            let resp = fieldloop_e2e::http().post(url).json(&body).send().await?;
            let status = resp.status().as_u16();
            let body: serde_json::Value = resp.json().await?;
            anyhow::Ok((status, body))
        }
    };
    for i in 0..5 {
        let (status, body) = attempt("tech", "guess").await?;
        assert_eq!(status, 401, "attempt {i}: {body}");
    }
    let (status, body) = attempt("tech", "guess").await?;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("too_many_attempts")),
        "{body}"
    );
    let (status, body) = attempt("TECH ", "tech-password-for-tests").await?;
    assert_eq!(
        status, 429,
        "the account is braked whatever is typed: {body}"
    );
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let seconds: u64 = message
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no wait in {message}"));
    assert!((1..=180).contains(&seconds), "{message}");
    assert_eq!(body["error"]["retryable"], true);
    let (status, _) = attempt("clerk", "clerk-password-for-tests").await?;
    assert_eq!(status, 200, "another account is not braked");
    server.finish().await;
    Ok(())
}

/// A record created by sync follows the API's creation rules: a technician's device cannot
/// create a complaint form (§4.6.1, filed by marketing), as `POST /api/complaints` refuses; a
/// salesperson's device can.
async fn sync_creation_rules(server: TestServer) -> anyhow::Result<()> {
    server.user("tech", Role::Technician, Some("wuhan")).await?;
    server
        .user("sales", Role::Salesperson, Some("wuhan"))
        .await?;
    let tech = server.device("tech").await?;
    let doc = tech
        .store()
        .create(DocKind::Complaint, "wuhan", now())
        .await?;
    let report = tech.sync().await?;
    assert_eq!(report.refused.len(), 1, "{report:?}");
    assert_eq!(report.refused[0].0, doc.id());
    assert_eq!(report.refused[0].1.code, RefusalCode::ForbiddenPath);
    assert!(
        server.state.db.doc(doc.id()).await?.is_none(),
        "nothing stored"
    );
    let sales = server.device("sales").await?;
    sales
        .store()
        .create(DocKind::Complaint, "wuhan", now())
        .await?;
    assert!(sales.sync().await?.refused.is_empty());
    server.finish().await;
    Ok(())
}
both_engines!(sync_creation_rules_test, sync_creation_rules);

/// Blobs follow the visibility of the records that refer to them: a Wuhan user cannot
/// download a Xi'an technician's signature; its uploader can. Anything not a raster image is
/// sent as an attachment, never sniffed, under a sandboxing CSP (an SVG's script does nothing).
async fn blob_visibility(server: TestServer) -> anyhow::Result<()> {
    server
        .user("tech_x", Role::Technician, Some("xian"))
        .await?;
    server.user("clerk_w", Role::Clerk, Some("wuhan")).await?;
    let base = server.base();
    let uploader = login_token(&base, "tech_x").await?;
    let other = login_token(&base, "clerk_w").await?;
    let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>".to_vec();
    let sha = fieldloop_client_core::wire::sha256_hex(&svg);
    let resp = fieldloop_e2e::http()
        .put(format!("{base}/api/blobs/{sha}"))
        .bearer_auth(&uploader)
        .header("content-type", "image/svg+xml")
        .body(svg)
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 201);
    let url = format!("{base}/api/blobs/{sha}");
    let resp = fieldloop_e2e::http()
        .get(&url)
        .bearer_auth(&other)
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 404, "another region's blob");
    let resp = fieldloop_e2e::http()
        .get(&url)
        .bearer_auth(&uploader)
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 200, "its uploader's");
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert!(header("content-security-policy").contains("sandbox"));
    assert!(header("content-disposition").starts_with("attachment"));
    server.finish().await;
    Ok(())
}
both_engines!(blob_visibility_test, blob_visibility);

/// Uploads that no record uses are bounded per user, and swept once old: a phone uploads a
/// signature just before its record, so the quota counts only what no record refers to yet.
async fn blob_quota_and_sweep(engine: fieldloop_e2e::Engine) -> anyhow::Result<()> {
    let clock = std::sync::Arc::new(fieldloop_server::ManualClock::new(
        chrono::DateTime::parse_from_rfc3339("2026-11-20T10:00:00+08:00")?.to_utc(),
    ));
    let Some(server) = TestServer::start_clocked_with(engine, clock.clone(), |c| {
        c.access_ttl_secs = 366 * 86_400;
        c.blob_quota_bytes = 100;
    })
    .await?
    else {
        return Ok(());
    };
    server.user("tech", Role::Technician, Some("wuhan")).await?;
    let dev = server.device("tech").await?;
    let token = dev.client.bearer().await?;
    let put = |bytes: Vec<u8>| {
        let (base, token) = (server.base(), token.clone());
        async move {
            let sha = fieldloop_client_core::wire::sha256_hex(&bytes);
            let resp = fieldloop_e2e::http()
                .put(format!("{base}/api/blobs/{sha}"))
                .bearer_auth(&token)
                .header("content-type", "image/png")
                .body(bytes)
                .send()
                .await?;
            let status = resp.status().as_u16();
            let body: serde_json::Value = resp.json().await.unwrap_or_default();
            anyhow::Ok((sha, status, body))
        }
    };
    let (first, status, _) = put(vec![1; 80]).await?;
    assert_eq!(status, 201);
    let (_, status, body) = put(vec![2; 80]).await?;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("quota_exceeded")),
        "{body}"
    );
    let (_, status, _) = put(vec![1; 80]).await?;
    assert_eq!(status, 200, "the same blob again is no new upload");

    // A record that uses the first upload frees the quota for the next.
    let visit = dev.store().create(DocKind::Visit, "wuhan", now()).await?;
    let sha = dev.store().put_blob(&[1; 80], "image/png").await?;
    assert_eq!(sha, first);
    dev.store().mark_blob_uploaded(&sha).await?;
    dev.store()
        .edit(
            visit.id(),
            TECH,
            &[
                ("signature.blob_sha256", text(&sha)),
                ("signature.signer_name", text("Wang")),
            ],
            now(),
        )
        .await?;
    assert!(dev.sync().await?.refused.is_empty());
    let (second, status, _) = put(vec![2; 80]).await?;
    assert_eq!(status, 201);

    // A week later, the upload no record uses is swept; the signature stays.
    clock.advance(chrono::Duration::days(8));
    let swept = fieldloop_server::app::blobs::sweep_unreferenced(&server.state)
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    assert_eq!(swept, 1);
    assert!(server.state.db.blob(&second).await?.is_none());
    assert!(server.state.db.blob(&first).await?.is_some());
    server.finish().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_quota_and_sweep_sqlite() -> anyhow::Result<()> {
    blob_quota_and_sweep(fieldloop_e2e::Engine::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_quota_and_sweep_postgres() -> anyhow::Result<()> {
    blob_quota_and_sweep(fieldloop_e2e::Engine::Postgres).await
}

/// The SQLite data folder holds the password hashes and the signing secret: it is made 0700
/// and its files 0600, and modes someone widened are narrowed again when the server starts.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_folder_is_private() -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let server = TestServer::start(fieldloop_e2e::Engine::Sqlite)
        .await?
        .expect("sqlite always starts");
    let file = server
        .database_url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .unwrap_or_default()
        .to_string();
    let folder = std::path::Path::new(&file)
        .parent()
        .expect("the database is in a folder")
        .to_path_buf();
    let mode = |p: &std::path::Path| -> anyhow::Result<u32> {
        Ok(std::fs::metadata(p)?.permissions().mode() & 0o777)
    };
    assert_eq!(mode(&folder)?, 0o700, "the folder");
    assert_eq!(mode(std::path::Path::new(&file))?, 0o600, "the database");
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755))?;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644))?;
    let server = server.restart().await?;
    assert_eq!(mode(&folder)?, 0o700, "the folder, narrowed on start");
    assert_eq!(
        mode(std::path::Path::new(&file))?,
        0o600,
        "the database, narrowed on start"
    );
    for suffix in ["-wal", "-shm"] {
        let f = format!("{file}{suffix}");
        if std::path::Path::new(&f).exists() {
            assert_eq!(mode(std::path::Path::new(&f))?, 0o600, "{f}");
        }
    }
    server.finish().await;
    Ok(())
}

/// A flood of sign-ins cannot hold a password hash each at once: with one hasher and no time
/// to wait, the flood is told `busy` (503, retryable) at once instead of queueing argon2's
/// memory, and the right password still signs in afterwards. (Memory and latency under a flood
/// are measured by the benchmark, not asserted here.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_flood_is_bounded() -> anyhow::Result<()> {
    let server = TestServer::start_with(fieldloop_e2e::Engine::Sqlite, |c| {
        c.password_hashers = 1;
        c.password_wait_ms = 1;
    })
    .await?
    .expect("sqlite always starts");
    server.user("tech", Role::Technician, Some("wuhan")).await?;
    let url = format!("{}/api/auth/login", server.base());
    let attempts = (0..16).map(|_| {
        let url = url.clone();
        async move {
            let resp = fieldloop_e2e::http()
                .post(url)
                .json(&json!({"username": "tech", "password": "not the password"}))
                .send()
                .await?;
            let status = resp.status().as_u16();
            let body: serde_json::Value = resp.json().await?;
            anyhow::Ok((status, body))
        }
    });
    let answers = futures_join_all(attempts).await?;
    let busy = answers.iter().filter(|(s, _)| *s == 503).count();
    assert!(busy > 0, "no sign-in was told busy: {answers:?}");
    for (status, body) in &answers {
        match status {
            401 => assert_eq!(body["error"]["code"], "bad_credentials"),
            503 => {
                assert_eq!(body["error"]["code"], "busy");
                assert_eq!(body["error"]["retryable"], true);
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    login_token(&server.base(), "tech").await?;
    server.finish().await;
    Ok(())
}

/// Runs the futures at once and gathers their answers in order.
async fn futures_join_all<F, T>(futures: impl Iterator<Item = F>) -> anyhow::Result<Vec<T>>
where
    F: std::future::Future<Output = anyhow::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await??);
    }
    Ok(out)
}

/// An expired access token is refused as expired, and the client refreshes by itself.
async fn expired_token(engine: fieldloop_e2e::Engine) -> anyhow::Result<()> {
    // Expiry follows the server's clock: the test moves it instead of sleeping.
    let clock = std::sync::Arc::new(fieldloop_server::ManualClock::new(
        chrono::DateTime::parse_from_rfc3339("2026-11-20T10:00:00+08:00")?.to_utc(),
    ));
    let Some(server) =
        TestServer::start_clocked_with(engine, clock.clone(), |c| c.access_ttl_secs = 60).await?
    else {
        return Ok(());
    };
    server.user("tech", Role::Technician, Some("wuhan")).await?;
    let dev = server.device("tech").await?;
    let token = dev.client.bearer().await?;
    clock.advance(chrono::Duration::seconds(59));
    let (status, _) = call(
        Method::GET,
        &format!("{}/api/feed", server.base()),
        &token,
        None,
    )
    .await?;
    assert_eq!(status, 200, "a token is good until its last second");
    clock.advance(chrono::Duration::seconds(1));
    let (status, body) = call(
        Method::GET,
        &format!("{}/api/feed", server.base()),
        &token,
        None,
    )
    .await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (401, json!("token_expired"))
    );
    dev.store().create(DocKind::Visit, "wuhan", now()).await?;
    let report = dev.sync().await?;
    assert_eq!(report.pushed, 1);
    assert_ne!(dev.client.bearer().await?, token);
    // Two syncs at once, both finding the token expired: one trade of the refresh token between
    // them (a second would be a replay and sign the device out).
    for _ in 0..3 {
        dev.store().create(DocKind::Visit, "wuhan", now()).await?;
    }
    clock.advance(chrono::Duration::seconds(61));
    let (a, b) = tokio::join!(dev.client.sync(|_| {}), dev.client.sync(|_| {}));
    let (a, b) = (a?, b?);
    assert!(a.pushed + b.pushed >= 3, "{a:?} {b:?}");
    dev.client.refresh().await?;
    assert_eq!(dev.sync().await?.refused.len(), 0);
    server.finish().await;
    Ok(())
}

#[tokio::test]
async fn expired_token_sqlite() -> anyhow::Result<()> {
    expired_token(fieldloop_e2e::Engine::Sqlite).await
}

#[tokio::test]
async fn expired_token_postgres() -> anyhow::Result<()> {
    expired_token(fieldloop_e2e::Engine::Postgres).await
}

/// The feed pages through a batch without skipping: every document of one sync batch has its
/// own feed position.
async fn feed_pages_through_batches(server: TestServer) -> anyhow::Result<()> {
    server.user("tech", Role::Technician, Some("wuhan")).await?;
    let dev = server.device("tech").await?;
    let mut ids = Vec::new();
    for _ in 0..7 {
        ids.push(
            dev.store()
                .create(DocKind::Visit, "wuhan", now())
                .await?
                .id(),
        );
    }
    dev.sync().await?;
    let token = dev.client.bearer().await?;
    let mut seen = Vec::new();
    let mut cursor = 0;
    loop {
        let (status, page) = call(
            Method::GET,
            &format!("{}/api/feed?after={cursor}&limit=2", server.base()),
            &token,
            None,
        )
        .await?;
        assert_eq!(status, 200);
        for item in page["items"].as_array().unwrap() {
            seen.push(Uuid::parse_str(item["id"].as_str().unwrap())?);
        }
        cursor = page["cursor"].as_i64().unwrap();
        if !page["more"].as_bool().unwrap() {
            break;
        }
    }
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids);
    server.finish().await;
    Ok(())
}
both_engines!(feed_pages_test, feed_pages_through_batches);

/// The device sends its unsent changes as stored, without loading documents: each local change
/// is listed once until the server acknowledges it, the list survives a restart, and a store
/// written before the list existed fills it on opening.
async fn unsent_changes(server: TestServer) -> anyhow::Result<()> {
    server.user("tech", Role::Technician, Some("wuhan")).await?;
    let mut dev = server.device("tech").await?;
    let id = visit_with(&dev, "form.diagnosis", text("pump worn")).await?;
    let outbox = dev.store().outbox().await?;
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].changes.len(), 2, "creation and edit");
    dev.sync().await?;
    assert!(dev.store().outbox().await?.is_empty(), "acknowledged");

    dev.store()
        .edit(
            id,
            TECH,
            &[("form.work_done", text("seal replaced"))],
            now(),
        )
        .await?;
    dev.reopen(&server.base()).await?;
    let outbox = dev.store().outbox().await?;
    assert_eq!(outbox.len(), 1);
    assert_eq!(
        outbox[0].changes.len(),
        1,
        "only the new edit, after a restart"
    );

    // A store from before the list: the list is made again from the documents.
    dev.store().meta_delete("unsent_filled").await?;
    dev.store().close().await;
    {
        use sqlx::Connection;
        let mut raw =
            sqlx::SqliteConnection::connect(&format!("sqlite://{}", dev.path.display())).await?;
        sqlx::query("DELETE FROM unsent").execute(&mut raw).await?;
        raw.close().await?;
    }
    dev.reopen(&server.base()).await?;
    let outbox = dev.store().outbox().await?;
    assert_eq!(outbox[0].changes.len(), 1, "filled from the document");
    assert_eq!(dev.sync().await?.pushed, 1);
    let office = server.device("tech").await?;
    office.sync().await?;
    let doc = office.store().load(id).await?.unwrap();
    assert_eq!(doc.get("form.work_done"), Some(text("seal replaced")));
    server.finish().await;
    Ok(())
}
both_engines!(unsent_changes_test, unsent_changes);

/// A long note, as a technician writes one after a hard repair (3,000 Chinese characters, ~9 KB
/// of UTF-8), is stored, projected and pulled whole on both engines.
async fn long_note_syncs(server: TestServer) -> anyhow::Result<()> {
    server.user("director", Role::FactoryDirector, None).await?;
    server.user("tech", Role::Technician, Some("wuhan")).await?;
    let dev = server.device("tech").await?;
    let note: String = (0..3000u32)
        .map(|i| char::from_u32(0x4e00 + (i * 7919) % 20000).unwrap())
        .collect();
    let id = visit_with(&dev, "form.work_done", text(&note)).await?;
    let report = dev.sync().await?;
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    assert_eq!(report.pushed, 1);
    let (status, body) = server_doc(&server, "director", id).await?;
    assert_eq!(status, 200, "{body}");
    assert!(has_field(&body, "form.work_done", &note), "projected whole");
    let office = server.device("tech").await?;
    office.sync().await?;
    let doc = office.store().load(id).await?.expect("pulled");
    assert_eq!(doc.get("form.work_done"), Some(text(&note)));
    server.finish().await;
    Ok(())
}
both_engines!(long_note_syncs_test, long_note_syncs);

/// A quarantined document stays quarantined when the office changes it meanwhile: the device
/// takes in the server's change, keeps the user's data and the refusal, and never sends the
/// refused change again; recovery then syncs it.
async fn quarantine_survives_pulls(server: TestServer) -> anyhow::Result<()> {
    server.user("director", Role::FactoryDirector, None).await?;
    let tech = server.user("tech", Role::Technician, Some("wuhan")).await?;
    let dev = server.device("tech").await?;
    let id = dev
        .store()
        .create(DocKind::Visit, "wuhan", now())
        .await?
        .id();
    dev.sync().await?;
    let director = login_token(&server.base(), "director").await?;
    let url = format!("{}/api/visits/{id}/dispatch", server.base());
    let body = json!({"technician_id": tech.id});
    let dispatch = || call(Method::POST, &url, &director, Some(body.clone()));
    assert_eq!(dispatch().await?.0, 200);
    dev.sync().await?;
    dev.store()
        .edit(id, TECH, &[("form.diagnosis", text("valve stuck"))], now())
        .await?;

    // A tampered write to a server field: refused, quarantined.
    tamper(&dev, id, "dispatch", "priority", "priority").await?;
    assert_eq!(dev.sync().await?.refused.len(), 1);
    let changes_before = server.state.db.change_count().await?;

    // The office dispatches again; the device pulls that and stays quarantined.
    assert_eq!(dispatch().await?.0, 200);
    let report = dev.sync().await?;
    assert!(
        report.refused.is_empty(),
        "the refused change is not sent again"
    );
    assert_eq!(report.pushed, 0);
    assert_eq!(
        dev.store().quarantined().await?.len(),
        1,
        "still quarantined"
    );
    assert_eq!(
        server.state.db.change_count().await?,
        changes_before + 1,
        "only the office's change reached the server"
    );
    let kept = dev.store().load(id).await?.unwrap();
    assert_eq!(kept.get("form.diagnosis"), Some(text("valve stuck")));

    // Recovery keeps the permitted edit and syncs it.
    let lost = dev.client.recover(id).await?;
    assert_eq!(lost.len(), 1);
    assert!(dev.sync().await?.refused.is_empty());
    assert!(dev.store().quarantined().await?.is_empty());
    let (_, body) = server_doc(&server, "director", id).await?;
    assert!(has_field(&body, "form.diagnosis", "valve stuck"), "{body}");
    server.finish().await;
    Ok(())
}
both_engines!(quarantine_survives_pulls_test, quarantine_survives_pulls);

/// A file beside `dev`'s store.
fn tempfile_path(dev: &TestDevice, name: &str) -> std::path::PathBuf {
    dev.path.with_file_name(name)
}

/// Phones reach the server over HTTPS, here through a TLS front as through a load balancer. With
/// the company's certificate authority trusted a visit syncs. Without it the phone is told the
/// server is not trusted (a retry will not help), the visit stays in its outbox, and it syncs
/// once the authority is trusted. Plain http to another machine, and addresses that are no
/// server, are refused before anything is sent.
async fn https_for_phones(server: TestServer) -> anyhow::Result<()> {
    use fieldloop_client_core::sync::{SyncClient, SyncOptions};
    server.user("director", Role::FactoryDirector, None).await?;
    server.user("tech", Role::Technician, Some("wuhan")).await?;
    let front = fieldloop_e2e::tls::TlsFront::start(server.addr).await?;
    let trusting = SyncOptions {
        extra_roots_pem: Some(front.ca_pem.clone()),
        ..fieldloop_e2e::fast_options()
    };
    let dev = server
        .device_with(&front.base(), "tech", trusting.clone())
        .await?;
    let first = visit_with(&dev, "form.diagnosis", text("bearing worn")).await?;
    assert_eq!(dev.sync().await?.pushed, 1);
    let (status, body) = server_doc(&server, "director", first).await?;
    assert_eq!(status, 200, "{body}");
    assert!(has_field(&body, "form.diagnosis", "bearing worn"));

    // The same phone, not trusting the company's authority: told so, nothing sent or lost.
    let second = visit_with(&dev, "form.diagnosis", text("seal leaking")).await?;
    let untrusting = SyncClient::with_options(
        &front.base(),
        dev.store().clone(),
        fieldloop_e2e::fast_options(),
    )?;
    let err = untrusting.sync(|_| {}).await.unwrap_err();
    assert!(
        matches!(&err, fieldloop_client_core::Error::Refused { code, .. } if code == "server_not_trusted"),
        "{err}"
    );
    assert!(!err.retryable(), "{err}");
    assert_eq!(server_doc(&server, "director", second).await?.0, 404);
    assert!(
        dev.store().outbox().await?.iter().any(|o| o.id == second),
        "the visit waits in the outbox"
    );
    assert_eq!(dev.sync().await?.pushed, 1);
    assert_eq!(server_doc(&server, "director", second).await?.0, 200);

    // A server (or a balancer in front of it) redirecting to plain http is not followed: the
    // password is not sent again in the clear, and the plain listener hears nothing.
    let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let plain_addr = plain.local_addr()?;
    let heard = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = heard.clone();
    let listening = tokio::spawn(async move {
        while let Ok((_conn, _)) = plain.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let redirecting =
        fieldloop_e2e::tls::TlsFront::redirecting(&format!("http://{plain_addr}/api/auth/login"))
            .await?;
    let store =
        fieldloop_client_core::store::Store::open(tempfile_path(&dev, "redirected.sqlite")).await?;
    let redirected = SyncClient::with_options(
        &redirecting.base(),
        store,
        SyncOptions {
            extra_roots_pem: Some(redirecting.ca_pem.clone()),
            ..fieldloop_e2e::fast_options()
        },
    )?;
    let err = redirected
        .login("tech", "tech-password-for-tests")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, fieldloop_client_core::Error::Refused { .. }),
        "{err}"
    );
    assert_eq!(heard.load(std::sync::atomic::Ordering::SeqCst), 0);
    listening.abort();

    // Bad addresses: plain http to another machine, another scheme, no host, not a URL, and
    // a company authority that is not PEM.
    for bad in [
        "http://10.20.30.40:8080",
        "http://fieldloop.example.com",
        "ftp://localhost/",
        "https://",
        "fieldloop server",
    ] {
        let refused = SyncClient::with_options(bad, dev.store().clone(), Default::default());
        assert!(
            matches!(refused, Err(fieldloop_client_core::Error::Invalid(_))),
            "{bad}: {refused:?}"
        );
    }
    let not_pem = SyncOptions {
        extra_roots_pem: Some("my company CA".into()),
        ..SyncOptions::default()
    };
    assert!(matches!(
        SyncClient::with_options(&front.base(), dev.store().clone(), not_pem),
        Err(fieldloop_client_core::Error::Invalid(_))
    ));
    // Loopback may be plain (a server on this machine), and so may anything when allowed.
    for fine in [
        "http://127.0.0.1:8080",
        "http://localhost:8080",
        "http://[::1]:8080",
    ] {
        SyncClient::with_options(fine, dev.store().clone(), Default::default())?;
    }
    let lab = SyncOptions {
        allow_plain_http: true,
        ..SyncOptions::default()
    };
    SyncClient::with_options("http://10.20.30.40:8080", dev.store().clone(), lab)?;
    server.finish().await;
    Ok(())
}
both_engines!(https_for_phones_test, https_for_phones);
