//! Service work (§2) end to end: the office over HTTP, technicians on real devices offline.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use fieldloop_client_core::model::ownership::Author;
use fieldloop_client_core::model::{DocKind, FieldValue as V, RefusalCode, Role};
use fieldloop_e2e::office::People;
use fieldloop_e2e::{Engine, TestDevice, TestServer};
use fieldloop_server::ManualClock;
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

const TECH: Author = Author::Device(Role::Technician);

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn unix(s: &str) -> i64 {
    at(s).timestamp()
}

struct Office {
    people: People,
    tech_id: Uuid,
}

impl std::ops::Deref for Office {
    type Target = People;
    fn deref(&self) -> &People {
        &self.people
    }
}

impl Office {
    async fn new(server: &TestServer) -> anyhow::Result<Office> {
        let people = People::sign_in(
            server,
            &[
                ("clerk", Role::Clerk, Some("wuhan")),
                ("director", Role::FactoryDirector, None),
                ("quality", Role::Quality, None),
                ("qc", Role::QcInspector, None),
                ("production", Role::Production, None),
                ("finance", Role::Finance, None),
                ("head", Role::MarketingHead, Some("wuhan")),
                ("tech", Role::Technician, Some("wuhan")),
                ("tech2", Role::Technician, Some("wuhan")),
            ],
        )
        .await?;
        Ok(Office {
            tech_id: people.ids["tech"],
            people,
        })
    }

    /// A customer with a product bought on `purchase` with `months` of warranty.
    async fn product(&self, purchase: &str, months: i64) -> anyhow::Result<String> {
        let c = self
            .ok("clerk", Method::POST, "/api/customers", Some(json!({"name": "武汉某工地", "address": "武汉市江夏区", "phone": "027-1234567"})))
            .await?;
        let p = self
            .ok(
                "clerk",
                Method::POST,
                "/api/products",
                Some(json!({"customer_id": c["id"], "name": "搅拌机", "model": "BC-350", "serial": "SN-001", "purchase_date": purchase, "purchase_place": "武汉", "warranty_months": months})),
            )
            .await?;
        Ok(p["id"].as_str().unwrap().to_string())
    }

    async fn request(&self, product: &str, category: &str) -> anyhow::Result<Uuid> {
        let v = self
            .ok("clerk", Method::POST, "/api/visits", Some(json!({"product_id": product, "category": category, "channel": "phone", "description": "mixer drum does not turn"})))
            .await?;
        Ok(Uuid::parse_str(v["id"].as_str().unwrap())?)
    }

    async fn dispatch(&self, visit: Uuid) -> anyhow::Result<()> {
        self.ok(
            "director",
            Method::POST,
            &format!("/api/visits/{visit}/dispatch"),
            Some(json!({"technician_id": self.tech_id})),
        )
        .await?;
        Ok(())
    }

    /// The clerk logs the returned feedback form in the service record (§2.3).
    async fn log_form(&self, visit: Uuid) -> anyhow::Result<()> {
        let path = format!("/api/visits/{visit}/log-form");
        self.ok("clerk", Method::POST, &path, None).await?;
        Ok(())
    }
}

async fn sign(dev: &TestDevice, id: Uuid, when: i64) -> anyhow::Result<()> {
    sign_completing(dev, id, when, &[]).await
}

async fn sign_completing(
    dev: &TestDevice,
    id: Uuid,
    when: i64,
    completing: &[(&str, V)],
) -> anyhow::Result<()> {
    let sha = dev
        .store()
        .put_blob(b"\x89PNG customer signature strokes", "image/png")
        .await?;
    dev.store()
        .sign(id, TECH, &sha, "王经理", completing, when)
        .await?;
    Ok(())
}

/// A full day: request, dispatch, technician offline, signed form, sync, office logs the form,
/// quality archives it, reconciliation shows nothing missing; fees and the cost ledger.
async fn full_day(engine: Engine) -> anyhow::Result<()> {
    let clock = Arc::new(ManualClock::new(at("2026-11-27T09:00:00+08:00")));
    let Some(server) = TestServer::start_clocked(engine, clock.clone()).await? else {
        return Ok(());
    };
    let office = Office::new(&server).await?;
    let product = office.product("2026-06-01", 12).await?;
    let visit = office.request(&product, "A").await?;
    let queue = office
        .ok("director", Method::GET, "/api/dispatch/queue", None)
        .await?;
    assert_eq!(queue[0]["id"], json!(visit));
    assert_eq!(queue[0]["priority"], false);
    office.dispatch(visit).await?;

    let dev = server.device("tech").await?;
    assert_eq!(
        dev.sync().await?.pulled,
        1,
        "the job reaches the technician's phone"
    );
    // On site, offline.
    let t = unix("2026-11-27T10:00:00+08:00");
    dev.store()
        .edit(
            visit,
            TECH,
            &[
                (
                    "form.arrived_at",
                    V::Text("2026-11-27T10:00:00+08:00".into()),
                ),
                ("form.diagnosis", V::Text("gearbox bearing worn".into())),
                ("form.work_done", V::Text("replaced the bearing".into())),
                ("form.parts_used", V::Text("bearing 6205 x1".into())),
                ("form.travel_fen", V::Int(12_050)),
                ("form.allowance_fen", V::Int(5_000)),
                ("form.parts_fen", V::Int(3_333)),
                ("fee.amount_fen", V::Int(20_000)),
                ("fee.method", V::Text("cash_on_site".into())),
            ],
            t,
        )
        .await?;
    // Completion without a signature is refused on the device.
    let err = dev
        .store()
        .edit(
            visit,
            TECH,
            &[("form.outcome", V::Text("fixed_on_site".into()))],
            t,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("sign"), "{err}");
    sign_completing(
        &dev,
        visit,
        t,
        &[
            ("form.outcome", V::Text("fixed_on_site".into())),
            (
                "form.departed_at",
                V::Text("2026-11-27T11:30:00+08:00".into()),
            ),
        ],
    )
    .await?;
    let report = dev.sync().await?;
    assert_eq!(report.blobs_uploaded, 1);
    assert!(report.refused.is_empty(), "{:?}", report.refused);

    // The office: before logging, reconciliation shows the form missing.
    let rec = office
        .ok(
            "clerk",
            Method::GET,
            "/api/reconciliation?date=2026-11-27",
            None,
        )
        .await?;
    assert_eq!(rec["offices"][0]["missing_forms"], json!([visit]));
    let (status, body) = office
        .call(
            "quality",
            Method::POST,
            &format!("/api/visits/{visit}/archive"),
            None,
        )
        .await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (409, json!("not_ready")),
        "archive before logging"
    );
    office.log_form(visit).await?;
    let archived = office
        .ok(
            "quality",
            Method::POST,
            &format!("/api/visits/{visit}/archive"),
            None,
        )
        .await?;
    assert!(
        archived["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == "status.state" && f["value"] == "archived")
    );
    let rec = office
        .ok(
            "clerk",
            Method::GET,
            "/api/reconciliation?date=2026-11-27",
            None,
        )
        .await?;
    assert_eq!(rec["offices"][0]["registered"], 1);
    assert_eq!(rec["offices"][0]["forms_logged"], 1);
    assert!(
        rec["offices"][0]["missing_forms"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        rec["offices"][0]["not_dispatched"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // The signed form, and an edit after signing shows.
    let doc = office
        .ok("clerk", Method::GET, &format!("/api/docs/{visit}"), None)
        .await?;
    assert_eq!(doc["changed_after_signing"], false);
    dev.store()
        .edit(
            visit,
            TECH,
            &[(
                "form.work_done",
                V::Text("replaced the bearing and the seal".into()),
            )],
            t,
        )
        .await?;
    dev.sync().await?;
    let doc = office
        .ok("clerk", Method::GET, &format!("/api/docs/{visit}"), None)
        .await?;
    assert_eq!(doc["changed_after_signing"], true);

    // Fees (§2.4): cash taken on site is handed to finance first, who mails the invoice
    // after; the job stays in the queue until both are done, and neither is done twice.
    let queue = office
        .ok("finance", Method::GET, "/api/finance/invoices", None)
        .await?;
    assert_eq!(queue[0]["fee"], "200.00");
    assert_eq!(queue[0]["method"], "cash_on_site");
    let invoice = format!("/api/visits/{visit}/invoice");
    let record = |state: &'static str| {
        let (office, invoice) = (&office, &invoice);
        async move {
            office
                .call(
                    "finance",
                    Method::POST,
                    invoice,
                    Some(json!({ "state": state })),
                )
                .await
        }
    };
    let queue = || office.ok("finance", Method::GET, "/api/finance/invoices", None);
    assert_eq!(record("collected").await?.0, 200);
    let listed = queue().await?;
    assert_eq!(listed[0]["collected"], true);
    assert_eq!(listed[0]["issued"], false);
    assert_eq!(record("collected").await?.0, 409, "collected twice");
    assert_eq!(record("paid").await?.0, 400, "no such state");
    // An invoice is issued with its number. Bad numbers tried: none, blank, 41 characters,
    // a line break; each refused, and the fee still waits for its invoice.
    for bad in [
        json!({ "state": "issued" }),
        json!({ "state": "issued", "invoice_no": "   " }),
        json!({ "state": "issued", "invoice_no": "9".repeat(41) }),
        json!({ "state": "issued", "invoice_no": "0441\n2873" }),
    ] {
        let (status, body) = office
            .call("finance", Method::POST, &invoice, Some(bad.clone()))
            .await?;
        assert_eq!(status, 400, "{bad} -> {body}");
        assert!(
            body["error"]["message_zh"]
                .as_str()
                .unwrap()
                .contains("发票号码")
        );
    }
    assert_eq!(
        queue().await?[0]["issued"],
        false,
        "a refused number changes nothing"
    );
    let (status, issued) = office
        .call(
            "finance",
            Method::POST,
            &invoice,
            Some(json!({ "state": "issued", "invoice_no": " No.04412873 " })),
        )
        .await?;
    assert_eq!(status, 200, "{issued}");
    let number = issued["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "billing.invoice_no")
        .map(|f| f["value"].clone());
    assert_eq!(number, Some(json!("No.04412873")));
    assert!(queue().await?.as_array().unwrap().is_empty());

    // A second job, free (C) in warranty, to check the ledger's sums.
    let second = office.request(&product, "C").await?;
    office.dispatch(second).await?;
    dev.sync().await?;
    dev.store()
        .edit(
            second,
            TECH,
            &[
                ("form.travel_fen", V::Int(9_999)),
                ("form.allowance_fen", V::Int(1)),
                ("form.parts_fen", V::Int(0)),
                ("form.repair_fen", V::Int(4_500)),
            ],
            t,
        )
        .await?;
    sign_completing(
        &dev,
        second,
        t,
        &[("form.outcome", V::Text("fixed_on_site".into()))],
    )
    .await?;
    dev.sync().await?;
    let ledger = office
        .ok(
            "head",
            Method::GET,
            "/api/ledger/service-cost?month=2026-11",
            None,
        )
        .await?;
    let lines = ledger["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    let sum: i64 = lines.iter().map(|l| l["total_fen"].as_i64().unwrap()).sum();
    // §2.9: travel, allowance, parts and repair are all service cost.
    assert_eq!(sum, 12_050 + 5_000 + 3_333 + 9_999 + 1 + 4_500);
    assert!(lines.iter().any(|l| l["repair_fen"] == 4_500));
    assert_eq!(ledger["total_cost_fen"], sum);
    assert_eq!(ledger["total_paid_fen"], 20_000);
    let by_cat: i64 = ledger["by_category"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cost_fen"].as_i64().unwrap())
        .sum();
    assert_eq!(by_cat, sum);
    assert_eq!(ledger["by_model"][0]["key"], "BC-350");
    server.finish().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_day_sqlite() -> anyhow::Result<()> {
    full_day(Engine::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_day_postgres() -> anyhow::Result<()> {
    full_day(Engine::Postgres).await
}

/// Take-back: receipt offline, QC rejection, repair, acceptance, return signature, receipt
/// voided once; the register's history follows each step. A repair past its promised date is on
/// marketing's list until the customer is told.
async fn take_back(engine: Engine) -> anyhow::Result<()> {
    let clock = Arc::new(ManualClock::new(at("2026-11-27T09:00:00+08:00")));
    let Some(server) = TestServer::start_clocked(engine, clock.clone()).await? else {
        return Ok(());
    };
    let office = Office::new(&server).await?;
    let product = office.product("2026-06-01", 12).await?;
    let visit = office.request(&product, "C").await?;
    office.dispatch(visit).await?;
    let dev = server.device("tech").await?;
    dev.sync().await?;
    let t = unix("2026-11-27T10:00:00+08:00");
    sign_completing(
        &dev,
        visit,
        t,
        &[("form.outcome", V::Text("taken_back".into()))],
    )
    .await?;

    let receipt = dev.store().create(DocKind::Receipt, "wuhan", t).await?.id();
    let number = dev.store().next_receipt_number().await?;
    sign(&dev, receipt, t).await?;
    dev.store()
        .edit(
            receipt,
            TECH,
            &[
                ("receipt.number", V::Text(number.clone())),
                ("receipt.visit_id", V::Text(visit.to_string())),
                ("receipt.product_serial", V::Text("SN-001".into())),
                ("receipt.condition", V::Text("drum scratched".into())),
                ("receipt.accessories", V::Text("remote control".into())),
                ("receipt.promised_date", V::Text("2026-11-30".into())),
                (
                    "receipt.issued_at",
                    V::Text("2026-11-27T10:30:00+08:00".into()),
                ),
            ],
            t,
        )
        .await?;
    let report = dev.sync().await?;
    assert!(report.refused.is_empty(), "{:?}", report.refused);

    // The form is logged when it comes back to the office, but archived only once the product
    // is back with the customer (§2.6).
    office.log_form(visit).await?;
    let archive_path = format!("/api/visits/{visit}/archive");
    let archive = || office.call("quality", Method::POST, &archive_path, None);
    let (status, body) = archive().await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (409, json!("not_ready")),
        "archived while the product is still with the technician: {body}"
    );

    let step = |who: &'static str, event: &'static str| {
        let office = &office;
        async move {
            office
                .call(
                    who,
                    Method::POST,
                    &format!("/api/receipts/{receipt}/custody"),
                    Some(json!({"event": event})),
                )
                .await
        }
    };
    assert_eq!(step("tech", "to_production").await?.0, 200);
    assert_eq!(step("production", "repair_done").await?.0, 200);
    let (status, body) = step("production", "qc_accept").await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (403, json!("wrong_role")),
        "QC by a non-inspector"
    );
    assert_eq!(step("qc", "qc_reject").await?.0, 200);

    // Past the promised date (30 Nov, company time) and still in repair: on marketing's list
    // (§2.7), until the product is repaired and accepted by QC (修妥) or the customer is told.
    let clerk = &office;
    let late_list = move || async move {
        clerk
            .ok("clerk", Method::GET, "/api/repairs/overdue", None)
            .await
    };
    clock.set(at("2026-11-30T23:59:00+08:00"));
    let late = late_list().await?;
    assert!(
        late.as_array().unwrap().is_empty(),
        "still the promised day: {late}"
    );
    clock.set(at("2026-12-01T00:01:00+08:00"));
    let late = late_list().await?;
    assert_eq!(late[0]["number"], json!(number));
    assert_eq!(step("production", "repair_done").await?.0, 200);
    assert_eq!(
        late_list().await?[0]["number"],
        json!(number),
        "awaiting QC"
    );
    assert_eq!(step("qc", "qc_accept").await?.0, 200);
    let late = late_list().await?;
    assert!(late.as_array().unwrap().is_empty(), "repaired: {late}");
    office
        .ok(
            "clerk",
            Method::POST,
            &format!("/api/receipts/{receipt}/customer-told"),
            None,
        )
        .await?;
    assert!(late_list().await?.as_array().unwrap().is_empty());

    let (status, body) = step("tech", "void").await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (409, json!("not_ready")),
        "void without the return signature"
    );
    let (status, _) = step("tech", "return_to_customer").await?;
    assert_eq!(status, 409, "no return signature yet");

    // The customer signs for the product (§2.6), offline, once the phone knows it is back in
    // stock; then return and void. Tried first: signing before the phone has synced (the
    // product still at production as far as it knows), an empty image, no signer's name.
    let image: &[u8] = b"\x89PNG return signature";
    let handback = |image: &'static [u8], signer: &'static str| {
        let store = dev.store().clone();
        async move {
            store
                .sign_handback(receipt, TECH, image, "image/png", signer, t)
                .await
        }
    };
    let stored = dev.store().load(receipt).await?.unwrap();
    let (before, flagged) = (stored.heads(), stored.changed_after_signing());
    let refused = handback(image, "王经理").await;
    assert!(
        matches!(&refused, Err(fieldloop_client_core::Error::Invalid(m)) if m.contains("not ready")),
        "{refused:?}"
    );
    dev.sync().await?;
    for (image, signer) in [(&b""[..], "王经理"), (image, " ")] {
        assert!(handback(image, signer).await.is_err(), "{signer:?}");
    }
    let after = dev.store().load(receipt).await?.unwrap();
    assert_eq!(
        after.get("handback.signer_name"),
        None,
        "the refusals wrote nothing"
    );
    assert!(
        after.heads() != before,
        "the sync brought the office's custody steps"
    );
    let signed = handback(image, "王经理").await?;
    assert_eq!(
        signed.get("handback.signed_digest"),
        Some(V::Text(signed.signed_digest())),
        "bound to the receipt as signed"
    );
    assert_eq!(
        signed.changed_after_signing(),
        flagged,
        "signing for the return changes no signed field"
    );
    let again = handback(image, "李四").await;
    assert!(
        matches!(&again, Err(fieldloop_client_core::Error::Invalid(m)) if m.contains("already signed")),
        "{again:?}"
    );
    let report = dev.sync().await?;
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    assert_eq!(step("tech", "return_to_customer").await?.0, 200);
    // Voided twice at once: once, and the other told it is already voided, on either engine.
    let (a, b) = tokio::join!(step("tech", "void"), step("tech", "void"));
    let entry = fieldloop_e2e::one_won(a?, b?, "already_voided");
    let events: Vec<&str> = entry["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "issued",
            "to_production",
            "repair_done",
            "qc_reject",
            "repair_done",
            "qc_accept",
            "return_to_customer",
            "void"
        ]
    );
    let (status, body) = step("tech", "void").await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (409, json!("already_voided"))
    );
    let register = office
        .ok("clerk", Method::GET, "/api/register/products", None)
        .await?;
    assert_eq!(register[0]["location"], "voided");
    // The month's product in/out register: the product came in and was repaired in November
    // (returned and voided in December), in Chinese.
    let month = |m: &'static str| {
        let office = &office;
        async move {
            let path = format!("/api/reports/product-register?month={m}");
            anyhow::Ok(office.ok("clerk", Method::GET, &path, None).await?["rows"].clone())
        }
    };
    let november = month("2026-11").await?;
    assert_eq!(november[0][0], json!(number));
    assert_eq!(november[0][5], "SN-001");
    assert_eq!(november[0][6], "收据已作废");
    let history = november[0][8].as_str().unwrap();
    assert!(
        history.contains("质检不合格返修") && history.contains("收据收回作废"),
        "{history}"
    );
    assert_eq!(
        month("2026-10").await?,
        json!([]),
        "nothing moved in October"
    );
    let (status, body) = archive().await?;
    assert_eq!(status, 200, "returned and voided: archived {body}");
    // The device sees where its receipt went.
    dev.sync().await?;
    let local = dev.store().load(receipt).await?.unwrap();
    assert_eq!(
        local.get("custody.location"),
        Some(V::Text("voided".into()))
    );

    // A receipt number used twice is refused.
    let twin = dev.store().create(DocKind::Receipt, "wuhan", t).await?.id();
    sign(&dev, twin, t).await?;
    dev.store()
        .edit(
            twin,
            TECH,
            &[
                ("receipt.number", V::Text(number.clone())),
                (
                    "receipt.issued_at",
                    V::Text("2026-11-27T12:00:00+08:00".into()),
                ),
            ],
            t,
        )
        .await?;
    let report = dev.sync().await?;
    assert_eq!(report.refused.len(), 1);
    assert_eq!(report.refused[0].1.code, RefusalCode::RuleBroken);
    assert_eq!(report.refused[0].1.path, "receipt.number");
    server.finish().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn take_back_sqlite() -> anyhow::Result<()> {
    take_back(Engine::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn take_back_postgres() -> anyhow::Result<()> {
    take_back(Engine::Postgres).await
}

/// An undispatched request is first in the next day's queue, marked priority; the day is the
/// company's (00:10 in Beijing is still the previous day in UTC).
async fn carry_over(engine: Engine) -> anyhow::Result<()> {
    let clock = Arc::new(ManualClock::new(at("2026-11-27T23:30:00+08:00")));
    let Some(server) = TestServer::start_clocked(engine, clock.clone()).await? else {
        return Ok(());
    };
    let office = Office::new(&server).await?;
    let product = office.product("2026-06-01", 12).await?;
    let late_yesterday = office.request(&product, "A").await?;
    clock.set(at("2026-11-27T23:50:00+08:00"));
    let queue = office
        .ok("director", Method::GET, "/api/dispatch/queue", None)
        .await?;
    assert_eq!(queue[0]["priority"], false, "same company day");
    clock.set(at("2026-11-28T00:05:00+08:00"));
    let today = office.request(&product, "A").await?;
    clock.set(at("2026-11-28T00:10:00+08:00"));
    let queue = office
        .ok("director", Method::GET, "/api/dispatch/queue", None)
        .await?;
    let ids: Vec<&str> = queue
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [late_yesterday.to_string(), today.to_string()]);
    assert_eq!(queue[0]["priority"], true);
    assert_eq!(queue[1]["priority"], false);
    let rec = office
        .ok(
            "clerk",
            Method::GET,
            "/api/reconciliation?date=2026-11-27",
            None,
        )
        .await?;
    assert_eq!(rec["offices"][0]["not_dispatched"], json!([late_yesterday]));

    // Dispatched without the flag, yesterday's request is still priority (§2.8); today's is not.
    let prio = |fields: &serde_json::Value| {
        fields
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == "dispatch.priority")
            .map(|f| f["value"].clone())
    };
    let path = |id: Uuid| format!("/api/visits/{id}/dispatch");
    let to = |tech: Uuid, reassign: bool| json!({"technician_id": tech, "reassign": reassign});
    let tech2 = office.ids["tech2"];
    for (visit, expected) in [(late_yesterday, "priority"), (today, "normal")] {
        let fields = office
            .ok(
                "director",
                Method::POST,
                &path(visit),
                Some(to(office.tech_id, false)),
            )
            .await?;
        assert_eq!(prio(&fields), Some(json!(expected)));
    }
    // A second dispatcher giving the same visit to another technician is refused, not
    // silently applied; the same technician again is harmless; an explicit reassignment works.
    let (status, body) = office
        .call(
            "director",
            Method::POST,
            &path(today),
            Some(to(tech2, false)),
        )
        .await?;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "already_dispatched");
    office
        .ok(
            "director",
            Method::POST,
            &path(today),
            Some(to(office.tech_id, false)),
        )
        .await?;
    let fields = office
        .ok(
            "director",
            Method::POST,
            &path(today),
            Some(to(tech2, true)),
        )
        .await?;
    let assigned = fields
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "dispatch.technician")
        .map(|f| f["value"].clone());
    assert_eq!(assigned, Some(json!(tech2.to_string())));
    server.finish().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carry_over_sqlite() -> anyhow::Result<()> {
    carry_over(Engine::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carry_over_postgres() -> anyhow::Result<()> {
    carry_over(Engine::Postgres).await
}

/// Bad input, each refused with a clear error and nothing changed. Tried: a free job out of
/// warranty without a reason, a contract job without its contract, non-numeric and negative
/// money, dispatch by a clerk, a technician editing a job not assigned to them, completion
/// without signature from a tampered device.
async fn bad_service_input(engine: Engine) -> anyhow::Result<()> {
    let clock = Arc::new(ManualClock::new(at("2026-11-27T09:00:00+08:00")));
    let Some(server) = TestServer::start_clocked(engine, clock.clone()).await? else {
        return Ok(());
    };
    let office = Office::new(&server).await?;
    let old = office.product("2024-01-01", 12).await?;
    let (status, body) = office
        .call(
            "clerk",
            Method::POST,
            "/api/visits",
            Some(json!({"product_id": old, "category": "C", "channel": "phone"})),
        )
        .await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!("out_of_warranty"))
    );
    let with_reason = office
        .ok("clerk", Method::POST, "/api/visits", Some(json!({"product_id": old, "category": "C", "channel": "phone", "warranty_reason": "goodwill after complaint 2026-11-0003"})))
        .await?;
    assert!(
        with_reason["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == "request.warranty_reason")
    );
    let (status, body) = office
        .call(
            "clerk",
            Method::POST,
            "/api/visits",
            Some(json!({"product_id": old, "category": "B", "channel": "phone"})),
        )
        .await?;
    assert_eq!(status, 400, "{body}");
    let (status, _) = office
        .call("clerk", Method::POST, "/api/products", Some(json!({"customer_id": Uuid::nil(), "name": "x", "model": "y", "purchase_date": "yesterday", "warranty_months": 12})))
        .await?;
    assert_eq!(status, 404);

    let product = office.product("2026-06-01", 12).await?;
    let visit = office.request(&product, "A").await?;
    let (status, _) = office
        .call(
            "clerk",
            Method::POST,
            &format!("/api/visits/{visit}/dispatch"),
            Some(json!({"technician_id": office.tech_id})),
        )
        .await?;
    assert_eq!(status, 403, "only the factory director dispatches");
    office.dispatch(visit).await?;
    let dev = server.device("tech").await?;
    dev.sync().await?;
    let t = unix("2026-11-27T10:00:00+08:00");
    assert!(
        dev.store()
            .edit(visit, TECH, &[("form.travel_fen", V::Int(-100))], t)
            .await
            .is_err()
    );
    assert!(
        dev.store()
            .edit(
                visit,
                TECH,
                &[("form.travel_fen", V::Text("12.50".into()))],
                t
            )
            .await
            .is_err()
    );

    // Another technician cannot edit this job.
    let other = server.device("tech2").await?;
    assert_eq!(other.sync().await?.pulled, 0);

    // A tampered device completes without signature: the server refuses it by the same rule.
    let doc = dev.store().load(visit).await?.unwrap();
    let before = doc.heads();
    let mut am = doc.into_automerge();
    let form = automerge::ReadDoc::get(&am, automerge::ROOT, "form")?
        .unwrap()
        .1;
    {
        use automerge::transaction::Transactable;
        let mut tx = am.transaction();
        tx.put(&form, "outcome", "fixed_on_site")?;
        tx.commit();
    }
    let synced = dev.store().synced_heads(visit).await?;
    dev.store()
        .apply_server(visit, None, am.get_changes(&before), &synced)
        .await?;
    let report = dev.sync().await?;
    assert_eq!(report.refused.len(), 1);
    assert_eq!(report.refused[0].1.code, RefusalCode::RuleBroken);
    assert_eq!(report.refused[0].1.path, "form.outcome");
    server.finish().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_service_input_sqlite() -> anyhow::Result<()> {
    bad_service_input(Engine::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_service_input_postgres() -> anyhow::Result<()> {
    bad_service_input(Engine::Postgres).await
}

/// Least privilege: the account list is what the role's work needs (a dispatcher sees the
/// technicians it may send, a technician only itself), and a technician reads the customers
/// of the jobs assigned to it, not every customer of its region.
async fn least_privilege(server: TestServer) -> anyhow::Result<()> {
    let office = Office::new(&server).await?;
    let product = office.product("2026-06-01", 12).await?;
    let (_, product_row) = office
        .call(
            "clerk",
            Method::GET,
            &format!("/api/products/{product}"),
            None,
        )
        .await?;
    let customer = product_row["customer_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let names = |list: &serde_json::Value| -> Vec<String> {
        let mut names: Vec<String> = list
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|u| u["username"].as_str().map(str::to_string))
            .collect();
        names.sort();
        names
    };
    let (_, list) = office.call("tech", Method::GET, "/api/users", None).await?;
    assert_eq!(names(&list), ["tech"]);
    let (_, list) = office
        .call("finance", Method::GET, "/api/users", None)
        .await?;
    assert_eq!(names(&list), ["finance"]);
    let (_, list) = office
        .call("director", Method::GET, "/api/users", None)
        .await?;
    assert_eq!(names(&list), ["director", "tech", "tech2"]);

    let path = format!("/api/customers/{customer}");
    let (status, _) = office.call("tech", Method::GET, &path, None).await?;
    assert_eq!(status, 404, "not a customer of the technician's jobs yet");
    let visit = office.request(&product, "C").await?;
    office.dispatch(visit).await?;
    let (status, body) = office.call("tech", Method::GET, &path, None).await?;
    assert_eq!(status, 200, "{body}");
    let (status, _) = office.call("tech2", Method::GET, &path, None).await?;
    assert_eq!(status, 404, "another technician's customer");
    let (status, _) = office
        .call(
            "tech2",
            Method::GET,
            &format!("/api/products/{product}"),
            None,
        )
        .await?;
    assert_eq!(status, 404);
    server.finish().await;
    Ok(())
}
fieldloop_e2e::both_engines!(least_privilege_test, least_privilege);
