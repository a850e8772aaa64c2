//! Staying power: chaos on the wire, the server killed mid-merge, a device killed mid-write,
//! wrong device clocks, a long offline stretch over a slow cut link, random interleavings, and
//! malformed input. Everything runs on loopback and stops by itself.

use std::io::BufRead as _;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use fieldloop_client_core::model::ownership::Author;
use fieldloop_client_core::model::{DocKind, FieldValue as V, Role};
use fieldloop_client_core::store::Store;
use fieldloop_e2e::proxy::{ChaosProxy, CutProxy};
use fieldloop_e2e::{Engine, TestDevice, TestServer, call, login_token};
use fieldloop_server::ManualClock;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

const TECH: Author = Author::Device(Role::Technician);

async fn heads(dev: &TestDevice, id: Uuid) -> Vec<String> {
    let mut h: Vec<String> = dev
        .store()
        .load(id)
        .await
        .unwrap()
        .unwrap()
        .heads()
        .iter()
        .map(|h| h.to_string())
        .collect();
    h.sort();
    h
}

async fn server_heads(server: &TestServer, id: Uuid) -> Vec<String> {
    let row = server
        .state
        .db
        .doc(id)
        .await
        .unwrap()
        .expect("on the server");
    let mut h: Vec<String> = row
        .heads
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    h.sort();
    h
}

/// Every projection row matches its stored document (growing notes are not projected).
async fn projections_in_step(server: &TestServer, ids: &[Uuid]) {
    for id in ids {
        let row = server.state.db.doc(*id).await.unwrap().unwrap();
        let doc = row.record().unwrap();
        let mut from_doc: Vec<(String, String)> = doc
            .values()
            .into_iter()
            .filter(|(p, _)| {
                fieldloop_client_core::model::fields::spec(doc.kind(), p)
                    .is_some_and(fieldloop_client_core::model::fields::projected)
            })
            .map(|(p, v)| {
                (
                    p.to_string(),
                    match v {
                        V::Text(t) => t,
                        V::Int(n) => n.to_string(),
                    },
                )
            })
            .collect();
        from_doc.sort();
        let mut projected: Vec<(String, String)> = server
            .state
            .db
            .doc_fields(*id)
            .await
            .unwrap()
            .into_iter()
            .map(|f| (f.path, f.value))
            .collect();
        projected.sort();
        assert_eq!(from_doc, projected, "projection of {id}");
    }
}

/// Seeded chaos (drops, delays, truncations, duplicates) between two devices and the server;
/// once it stops, everything converges and nothing acknowledged is lost.
async fn chaos_converges(server: TestServer) -> anyhow::Result<()> {
    server.user("tech", Role::Technician, Some("wuhan")).await?;
    let proxy = ChaosProxy::start(server.addr, 20261127).await?;
    let devs = [
        server.device_at(&proxy.base(), "tech").await?,
        server.device_at(&proxy.base(), "tech").await?,
    ];
    let mut ids = Vec::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for round in 0..8 {
        for dev in &devs {
            let doc = dev.store().create(DocKind::Visit, "wuhan", 0).await?;
            ids.push(doc.id());
            let target = ids[rng.random_range(0..ids.len())];
            if dev.store().load(target).await?.is_some() {
                dev.store()
                    .edit(
                        target,
                        TECH,
                        &[("form.parts_used", V::Text(format!("r{round}")))],
                        0,
                    )
                    .await?;
            }
            let _ = tokio::time::timeout(Duration::from_secs(20), dev.client.sync(|_| {})).await;
        }
    }
    assert!(
        proxy.faults.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "the chaos did something"
    );
    proxy.calm();
    for _ in 0..3 {
        for dev in &devs {
            dev.sync().await?;
        }
    }
    for dev in &devs {
        assert!(dev.store().pending().await?.is_empty());
    }
    for id in &ids {
        let expected = server_heads(&server, *id).await;
        for dev in &devs {
            assert_eq!(heads(dev, *id).await, expected);
        }
    }
    projections_in_step(&server, &ids).await;
    server.finish().await;
    Ok(())
}
fieldloop_e2e::both_engines!(chaos_converges_test, chaos_converges);

/// A server process, killed and reaped when dropped (a failing test leaves nothing running).
struct ServerProcess(std::process::Child);

impl ServerProcess {
    fn kill(&mut self) -> std::io::Result<()> {
        self.0.kill()?;
        self.0.wait().map(|_| ())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

fn spawn_server(data: &std::path::Path, port: u16) -> ServerProcess {
    let child = Command::new(env!("CARGO_BIN_EXE_test-server"))
        .env("FIELDLOOP_DATA", data)
        .env("FIELDLOOP_ADDR", format!("127.0.0.1:{port}"))
        .env(
            "FIELDLOOP_JWT_SECRET",
            "a fixed secret for the restarted server",
        )
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the test server binary");
    ServerProcess(child)
}

async fn wait_up(base: &str) {
    for _ in 0..300 {
        if fieldloop_e2e::http()
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server at {base} did not come up");
}

/// The server process is SIGKILLed while devices sync, and restarted: no acknowledged change is
/// lost and no projection is out of step with its document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_mid_merge() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let base = format!("http://127.0.0.1:{port}");
    let mut child = spawn_server(dir.path(), port);
    wait_up(&base).await;
    // Accounts straight in the same database.
    let db =
        fieldloop_server::Db::connect(&fieldloop_server::Db::sqlite_url_in(dir.path())?).await?;
    let user = fieldloop_server::db::accounts::User {
        id: Uuid::now_v7(),
        username: "tech".into(),
        display_name: "tech".into(),
        password_hash: fieldloop_server::auth::hash_password("tech-password-for-tests")?,
        role: Role::Technician,
        region: Some("wuhan".into()),
        active: true,
    };
    db.create_user(&user, 0).await?;
    let store_dir = tempfile::tempdir()?;
    let store = Store::open(store_dir.path().join("d.sqlite")).await?;
    let client = fieldloop_client_core::sync::SyncClient::with_options(
        &base,
        store,
        fieldloop_client_core::sync::SyncOptions {
            batch_docs: 25,
            attempts: 1,
            ..fieldloop_e2e::fast_options()
        },
    )?;
    client.login("tech", "tech-password-for-tests").await?;
    client.register_device("phone").await?;
    let mut ids = Vec::new();
    for kill in 0..3u64 {
        for i in 0..60 {
            let doc = client.store().create(DocKind::Visit, "wuhan", 0).await?;
            client
                .store()
                .edit(
                    doc.id(),
                    TECH,
                    &[("form.parts_used", V::Text(format!("{kill}/{i}")))],
                    0,
                )
                .await?;
            ids.push(doc.id());
        }
        // Edits of visits the server already holds: their stored changes outgrow their save,
        // so the server compacts them during the batches it is killed in.
        for id in ids.iter().take(60 * kill as usize).step_by(3) {
            for round in 0..3 {
                client
                    .store()
                    .edit(
                        *id,
                        TECH,
                        &[("form.work_done", V::Text(format!("{kill}/{round}")))],
                        0,
                    )
                    .await?;
            }
        }
        let syncing = {
            let client = client.clone();
            tokio::spawn(async move { client.sync(|_| {}).await })
        };
        tokio::time::sleep(Duration::from_millis(30 + 40 * kill)).await;
        child.kill()?; // SIGKILL
        let _ = syncing.await;
        child = spawn_server(dir.path(), port);
        wait_up(&base).await;
    }
    // Whatever was acknowledged is on the server; the rest goes now.
    for id in &ids {
        let acked = client.store().synced_heads(*id).await?;
        if !acked.is_empty() {
            assert!(db.doc(*id).await?.is_some(), "acknowledged {id} lost");
        }
    }
    client.sync(|_| {}).await?;
    child.kill()?;
    assert!(client.store().pending().await?.is_empty());
    let (mut changes, mut compacted) = (0i64, 0);
    for id in &ids {
        let row = db.doc(*id).await?.expect("every visit reached the server");
        let doc = row.record().map_err(anyhow::Error::msg)?;
        let local = client.store().load(*id).await?.unwrap();
        assert_eq!(doc.heads(), local.heads());
        let projected: Vec<String> = db
            .doc_fields(*id)
            .await?
            .into_iter()
            .map(|f| format!("{}={}", f.path, f.value))
            .collect();
        let expected: Vec<String> = {
            let mut v: Vec<String> = doc
                .values()
                .into_iter()
                .filter(|(p, _)| {
                    fieldloop_client_core::model::fields::spec(doc.kind(), p)
                        .is_some_and(fieldloop_client_core::model::fields::projected)
                })
                .map(|(p, v)| {
                    format!(
                        "{p}={}",
                        match v {
                            V::Text(t) => t,
                            V::Int(n) => n.to_string(),
                        }
                    )
                })
                .collect();
            v.sort();
            v
        };
        let mut projected = projected;
        projected.sort();
        assert_eq!(projected, expected);
        // The change log names each change of the document once: nothing lost, nothing twice.
        let mut logged: Vec<_> = db
            .doc_changes(*id)
            .await?
            .iter()
            .map(|(c, _)| c.hash)
            .collect();
        logged.sort();
        let mut in_doc: Vec<_> = doc
            .automerge()
            .get_changes(&[])
            .iter()
            .map(|c| c.hash())
            .collect();
        in_doc.sort();
        assert_eq!(logged, in_doc, "{id}");
        changes += in_doc.len() as i64;
        if automerge::Automerge::load(&row.snapshot)?
            .get_changes(&[])
            .len()
            > 2
        {
            compacted += 1;
        }
    }
    assert!(changes > 2 * ids.len() as i64, "edits of stored visits");
    assert!(compacted > 0, "the server compacted stored visits");
    assert_eq!(db.change_count().await?, changes, "nothing doubled");
    Ok(())
}

/// A device process killed while writing: the store reopens and holds everything it said was saved.
#[tokio::test]
async fn device_killed_while_writing() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("phone.sqlite");
    for round in 0..3 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_device-writer"))
            .arg(&path)
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().unwrap();
        let mut saved = Vec::new();
        let wanted = 20 + round * 15;
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line?;
            let mut parts = line.split_whitespace().skip(1);
            saved.push((
                parts.next().unwrap().to_string(),
                parts.next().unwrap().to_string(),
            ));
            if saved.len() >= wanted {
                break;
            }
        }
        child.kill()?; // SIGKILL, mid-write of the next visit
        child.wait()?;
        let store = Store::open(&path).await?;
        for (id, n) in &saved {
            let doc = store
                .load(Uuid::parse_str(id)?)
                .await?
                .expect("a visit it said was saved");
            assert_eq!(
                doc.get("form.parts_used"),
                Some(V::Text(format!("part {n}")))
            );
        }
        store.close().await;
    }
    Ok(())
}

/// A device killed at every step of a technician's composed records (a visit with its fields,
/// the signature image, a take-back receipt with its number and signature, a survey answer):
/// the store reopens with every record whole, never a blank or half-written one, and with
/// every record the process said was saved.
#[tokio::test]
async fn device_killed_between_steps_keeps_no_half_record() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("phone.sqlite");
    let mut said = Vec::new();
    // Kill points spread over the steps: after 1, 2, 3, ... lines, and a few microseconds on.
    for round in 0..12u64 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_device-writer"))
            .arg(&path)
            .arg("day")
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().unwrap();
        let wanted = 1 + round * 2;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .take(wanted as usize)
        {
            let line = line?;
            said.push(line.split_whitespace().nth(1).unwrap().to_string());
        }
        std::thread::sleep(Duration::from_micros(200 * round));
        child.kill()?; // SIGKILL, somewhere in the next step
        child.wait()?;
    }
    let store = Store::open(&path).await?;
    for id in &said {
        assert!(
            store.load(Uuid::parse_str(id)?).await?.is_some(),
            "a record it said was saved: {id}"
        );
    }
    let text = |doc: &fieldloop_client_core::model::RecordDoc, path: &str| {
        doc.get(path)
            .and_then(|v| v.as_text().map(str::to_string))
            .unwrap_or_default()
    };
    let ids = store.list(None).await?;
    assert!(ids.len() >= said.len());
    for doc in store.load_many(&ids).await? {
        let needed: &[&str] = match doc.kind() {
            DocKind::Visit => &["form.parts_used"],
            DocKind::Receipt => &[
                "receipt.number",
                "receipt.visit_id",
                "receipt.product_serial",
                "signature.signer_name",
                "signature.blob_sha256",
            ],
            DocKind::Feedback => &["answer.comment"],
            other => panic!("a {other} was never written"),
        };
        for path in needed {
            assert!(
                !text(&doc, path).is_empty(),
                "{} {} without {path}: a half record",
                doc.kind(),
                doc.id()
            );
        }
    }
    store.close().await;
    Ok(())
}

/// Devices whose clocks are days off: numbering and deadlines follow the server's time; the
/// device's claim is kept beside it in the history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_device_clocks() -> anyhow::Result<()> {
    let clock = Arc::new(ManualClock::new(
        DateTime::parse_from_rfc3339("2026-11-30T23:30:00+08:00")?.with_timezone(&Utc),
    ));
    let server = TestServer::start_clocked(Engine::Sqlite, clock.clone())
        .await?
        .unwrap();
    server
        .user("sales", Role::Salesperson, Some("wuhan"))
        .await?;
    server.user("quality", Role::Quality, None).await?;
    let dev = server.device("sales").await?;
    let doc = dev.store().create(DocKind::Complaint, "wuhan", 0).await?;
    let ten_days_ahead = fieldloop_client_core::clock::device_now().timestamp() + 10 * 86_400;
    dev.store()
        .edit(
            doc.id(),
            Author::Device(Role::Salesperson),
            &[
                ("form.customer_name", V::Text("客户".into())),
                (
                    "form.submitted_at",
                    V::Text("2026-12-10T09:00:00+08:00".into()),
                ),
            ],
            ten_days_ahead,
        )
        .await?;
    dev.sync().await?;
    let token = login_token(&server.base(), "quality").await?;
    let (status, body) = call(
        Method::POST,
        &format!("{}/api/complaints/{}/actions", server.base(), doc.id()),
        &token,
        Some(json!({"action": "accept"})),
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["number"], "2026-11-0001",
        "the server's month, not the device's"
    );
    assert_eq!(
        body["case"]["due_at"], "2026-12-06T16:00:00Z",
        "6 days from the server's acceptance"
    );
    assert_eq!(
        (
            &body["case"]["submitted_at"],
            &body["case"]["device_submitted_at"]
        ),
        (
            &json!("2026-11-30T15:30:00Z"),
            &json!("2026-12-10T01:00:00Z")
        ),
        "the case was received when the server got it; the device's date is kept beside it"
    );
    let history = server.state.db.doc_changes(doc.id()).await?;
    assert!(
        history
            .iter()
            .any(|(c, _)| c.device_time / 1000 == ten_days_ahead),
        "the device's claim is kept"
    );

    // A request a clerk registered on a device whose clock runs ten days ahead: the service
    // record (售后服务记录) dates it when the office received it, the device's time beside it.
    server.user("clerk", Role::Clerk, Some("wuhan")).await?;
    let clerk = server.device("clerk").await?;
    let visit = clerk.store().create(DocKind::Visit, "wuhan", 0).await?;
    clerk
        .store()
        .edit(
            visit.id(),
            Author::Device(Role::Clerk),
            &[
                ("request.customer_name", V::Text("客户乙".into())),
                (
                    "request.received_at",
                    V::Text("2026-12-10T09:00:00+08:00".into()),
                ),
            ],
            ten_days_ahead,
        )
        .await?;
    let report = clerk.sync().await?;
    assert!(report.refused.is_empty(), "{report:?}");
    let token = login_token(&server.base(), "clerk").await?;
    let (status, table) = call(
        Method::GET,
        &format!("{}/api/reports/service-record?month=2026-11", server.base()),
        &token,
        None,
    )
    .await?;
    assert_eq!(status, 200, "{table}");
    let row = table["rows"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r[3] == json!("客户乙")))
        .unwrap_or_else(|| panic!("the request is in November's record: {table}"));
    assert_eq!(
        (&row[0], &row[1]),
        (&json!("2026-11-30 23:30"), &json!("2026-12-10 09:00")),
        "{row}"
    );
    server.finish().await;
    Ok(())
}

/// Five days offline, 200 visits with signatures, one sync over a slow link that is cut after
/// two batches: the next sync sends only what was not acknowledged, and progress is reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_offline_stretch_resumes() -> anyhow::Result<()> {
    let server = TestServer::start(Engine::Sqlite).await?.unwrap();
    server.user("tech", Role::Technician, Some("wuhan")).await?;
    let proxy = CutProxy::start(server.addr).await?;
    let dev = server.device_at(&proxy.base(), "tech").await?;
    let client = fieldloop_client_core::sync::SyncClient::with_options(
        &proxy.base(),
        dev.store().clone(),
        fieldloop_client_core::sync::SyncOptions {
            batch_docs: 40,
            attempts: 1,
            // One request at a time, so "the link is cut after two answers" cuts the third
            // batch: with requests in flight together the server may answer them in any order.
            in_flight: 1,
            ..fieldloop_e2e::fast_options()
        },
    )?;
    for day in 0..5 {
        for i in 0..40 {
            let id = dev.store().create(DocKind::Visit, "wuhan", 0).await?.id();
            dev.store()
                .edit(
                    id,
                    TECH,
                    &[("form.diagnosis", V::Text(format!("day {day} job {i}")))],
                    0,
                )
                .await?;
            let image = format!("\u{89}PNG signature {day}-{i}").into_bytes();
            let sha = dev.store().put_blob(&image, "image/png").await?;
            dev.store()
                .sign(
                    id,
                    TECH,
                    &sha,
                    "客户",
                    &[("form.outcome", V::Text("fixed_on_site".into()))],
                    0,
                )
                .await?;
        }
    }
    assert_eq!(dev.store().pending().await?.len(), 200);
    proxy.allow.store(2, std::sync::atomic::Ordering::SeqCst);
    proxy.cut_sync_answers(true);
    let mut marks = Vec::new();
    assert!(
        client.sync(|p| marks.push(p)).await.is_err(),
        "the link was cut"
    );
    assert_eq!(
        dev.store().pending().await?.len(),
        120,
        "two batches of 40 were acknowledged"
    );
    // Every mark knows the whole: 200 records, and the signatures' bytes with the changes'.
    assert!(
        marks
            .iter()
            .all(|m| m.docs_total == 200 && m.bytes_total == marks[0].bytes_total)
    );
    // The signatures first (no record counted yet), then the two acknowledged batches.
    let uploads = marks.iter().take_while(|m| m.docs_done == 0).count();
    assert!(uploads > 200, "a mark per signature uploaded ({uploads})");
    let batches: Vec<u64> = marks[uploads..].iter().map(|m| m.docs_done).collect();
    assert_eq!(batches, vec![40, 80]);
    proxy.cut_sync_answers(false);
    let mut marks = Vec::new();
    let report = client.sync(|p| marks.push(p)).await?;
    assert_eq!(
        report.pushed, 120,
        "only what was not acknowledged is sent again"
    );
    assert_eq!(marks.last().unwrap().docs_done, 120);
    assert_eq!(
        report.blobs_uploaded, 0,
        "signatures went up before the first batch"
    );
    assert_eq!(server.state.db.change_count().await?, 200 * 3);
    server.finish().await;
    Ok(())
}

/// Random interleavings of edits and syncs on three devices always converge to identical heads
/// and identical projections (several seeds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_interleavings_converge() -> anyhow::Result<()> {
    for seed in [1u64, 2, 3] {
        let server = TestServer::start(Engine::Sqlite).await?.unwrap();
        server.user("tech", Role::Technician, Some("wuhan")).await?;
        let devs = [
            server.device("tech").await?,
            server.device("tech").await?,
            server.device("tech").await?,
        ];
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut ids = Vec::new();
        let paths = [
            "form.arrived_at",
            "form.diagnosis",
            "form.work_done",
            "form.travel_fen",
        ];
        for step in 0..40 {
            let d = rng.random_range(0..3);
            match rng.random_range(0..4) {
                0 => ids.push(
                    devs[d]
                        .store()
                        .create(DocKind::Visit, "wuhan", 0)
                        .await?
                        .id(),
                ),
                1 | 2 if !ids.is_empty() => {
                    let id = ids[rng.random_range(0..ids.len())];
                    if devs[d].store().load(id).await?.is_some() {
                        let path = paths[rng.random_range(0..paths.len())];
                        let value = match path {
                            "form.travel_fen" => V::Int(rng.random_range(0..100_000)),
                            "form.arrived_at" => V::Text(format!(
                                "2026-11-27T{:02}:00:00+08:00",
                                rng.random_range(0..24)
                            )),
                            _ => V::Text(format!("step {step} on device {d}")),
                        };
                        devs[d].store().edit(id, TECH, &[(path, value)], 0).await?;
                    }
                }
                _ => {
                    devs[d].sync().await?;
                }
            }
        }
        for _ in 0..2 {
            for dev in &devs {
                dev.sync().await?;
            }
        }
        for id in &ids {
            let expected = server_heads(&server, *id).await;
            for dev in &devs {
                assert_eq!(heads(dev, *id).await, expected, "seed {seed}");
            }
        }
        projections_in_step(&server, &ids).await;
        server.finish().await;
    }
    Ok(())
}

/// Random bodies at the sync and blob endpoints: never a 5xx, nothing stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_input_fuzz() -> anyhow::Result<()> {
    let server = TestServer::start(Engine::Sqlite).await?.unwrap();
    server.user("tech", Role::Technician, Some("wuhan")).await?;
    let dev = server.device("tech").await?;
    let token = dev.client.bearer().await?;
    let device = dev.store().meta_get("device_id").await?.unwrap();
    let http = fieldloop_e2e::http();
    let mut rng = rand::rngs::StdRng::seed_from_u64(99);
    for i in 0..150 {
        let len = rng.random_range(0..600);
        let noise: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        let body = match i % 3 {
            0 => noise.clone(),
            1 => serde_json::to_vec(
                &json!({"device_id": device, "docs": [{"id": Uuid::now_v7(), "heads": [], "changes": [base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &noise)]}]}),
            )?,
            _ => serde_json::to_vec(
                &json!({"device_id": device, "docs": [{"id": Uuid::now_v7(), "heads": [hex_of(&noise)], "changes": []}]}),
            )?,
        };
        let resp = http
            .post(format!("{}/api/sync", server.base()))
            .bearer_auth(&token)
            .body(body)
            .send()
            .await?;
        assert!(
            resp.status().as_u16() < 500,
            "sync fuzz {i}: {}",
            resp.status()
        );
        let sha = hex_of(&noise[..noise.len().min(32)]);
        let resp = http
            .put(format!("{}/api/blobs/{sha}", server.base()))
            .bearer_auth(&token)
            .header("content-type", "image/png")
            .body(noise)
            .send()
            .await?;
        assert!(
            resp.status().as_u16() < 500,
            "blob fuzz {i}: {}",
            resp.status()
        );
    }
    assert_eq!(server.state.db.change_count().await?, 0);
    server.finish().await;
    Ok(())
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
