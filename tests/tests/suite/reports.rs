//! Customer opinion and reports (§3, the registers) end to end, both engines.

use std::sync::Arc;

use calamine::{Data, Reader, Xlsx};
use chrono::{DateTime, Utc};
use fieldloop_client_core::model::ownership::Author;
use fieldloop_client_core::model::{DocKind, FieldValue as V, Role};
use fieldloop_e2e::office::People;
use fieldloop_e2e::{Engine, TestServer};
use fieldloop_server::ManualClock;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn office(server: &TestServer) -> anyhow::Result<People> {
    People::sign_in(
        server,
        &[
            ("clerk", Role::Clerk, Some("wuhan")),
            ("clerk_x", Role::Clerk, Some("xian")),
            ("sales", Role::Salesperson, Some("wuhan")),
            ("head", Role::MarketingHead, Some("wuhan")),
            ("director", Role::FactoryDirector, None),
            ("quality", Role::Quality, None),
            ("gmo", Role::GmOffice, None),
            ("tech_a", Role::Technician, Some("wuhan")),
            ("tech_b", Role::Technician, Some("wuhan")),
        ],
    )
    .await
}

/// A fixed set of records gives exactly the expected monthly numbers, and the XLSX export
/// reads back with its Chinese headers and cells.
async fn monthly_numbers(engine: Engine) -> anyhow::Result<()> {
    let clock = Arc::new(ManualClock::new(at("2026-10-05T09:00:00+08:00")));
    let Some(server) = TestServer::start_clocked(engine, clock.clone()).await? else {
        return Ok(());
    };
    let o = office(&server).await?;
    let c = o
        .ok(
            "clerk",
            Method::POST,
            "/api/customers",
            Some(json!({"name": "客户", "address": "武汉", "phone": "1"})),
        )
        .await?;
    let mut products = Vec::new();
    for model in ["BC-350", "BC-500"] {
        let p = o
            .ok("clerk", Method::POST, "/api/products", Some(json!({"customer_id": c["id"], "name": "机", "model": model, "purchase_date": "2026-06-01", "warranty_months": 12})))
            .await?;
        products.push(p["id"].as_str().unwrap().to_string());
    }
    // Tech A: three jobs (two on time, one late; two fixed, one taken back); tech B: one job.
    let devs = [
        server.device("tech_a").await?,
        server.device("tech_b").await?,
    ];
    let plan = [
        (0, 0, "fixed_on_site", "2026-10-05T17:00:00+08:00", 10_000),
        (0, 0, "fixed_on_site", "2026-10-06T10:00:00+08:00", 20_000),
        (0, 1, "taken_back", "2026-10-09T10:00:00+08:00", 30_001),
        (1, 1, "fixed_on_site", "2026-10-05T12:00:00+08:00", 5_000),
    ];
    let tech = Author::Device(Role::Technician);
    let mut visits = Vec::new();
    for (who, product, outcome, departed, travel) in plan {
        let v = o
            .ok(
                "clerk",
                Method::POST,
                "/api/visits",
                Some(json!({"product_id": products[product], "category": "A", "channel": "phone"})),
            )
            .await?;
        let id = Uuid::parse_str(v["id"].as_str().unwrap())?;
        visits.push(id);
        let tech_id = o.ids[if who == 0 { "tech_a" } else { "tech_b" }];
        o.ok(
            "director",
            Method::POST,
            &format!("/api/visits/{id}/dispatch"),
            Some(json!({"technician_id": tech_id})),
        )
        .await?;
        let dev = &devs[who];
        dev.sync().await?;
        dev.store()
            .edit(
                id,
                tech,
                &[
                    ("form.travel_fen", V::Int(travel)),
                    ("form.departed_at", V::Text(departed.into())),
                ],
                0,
            )
            .await?;
        let sha = dev.store().put_blob(b"\x89PNG sig", "image/png").await?;
        dev.store()
            .sign(
                id,
                tech,
                &sha,
                "客户",
                &[("form.outcome", V::Text(outcome.into()))],
                0,
            )
            .await?;
        dev.sync().await?;
    }
    // Ratings through a campaign: A gets 5 and 4, B gets 3. B's names only the visit: the
    // rating counts for the technician the visit was dispatched to (§3.2).
    let tpl = o
        .ok("head", Method::POST, "/api/surveys/templates", Some(json!({"name": "回访", "questions": [{"text_zh": "满意度", "text_en": "Satisfaction", "scale": 5}]})))
        .await?;
    let camp = o
        .ok("head", Method::POST, "/api/surveys/campaigns", Some(json!({"template_id": tpl["id"], "name": "十月回访", "period": "monthly", "region": "wuhan", "opens_on": "2026-10-01", "closes_on": "2026-10-31"})))
        .await?;
    let cid = camp["id"].as_str().unwrap().to_string();
    for (t, r) in [("tech_a", 5), ("tech_a", 4)] {
        o.ok("clerk", Method::POST, &format!("/api/surveys/campaigns/{cid}/answers"), Some(json!({"technician": o.ids[t], "customer_name": "客户", "rating": r, "responses": {"1": r}})))
            .await?;
    }
    o.ok("clerk", Method::POST, &format!("/api/surveys/campaigns/{cid}/answers"), Some(json!({"visit_id": visits[3], "customer_name": "客户", "rating": 3, "responses": {"1": 3}})))
        .await?;
    // Bad answers: a rating of 6, a question the template lacks, an answer out of scale.
    for bad in [
        json!({"customer_name": "x", "rating": 6}),
        json!({"customer_name": "x", "rating": 3, "responses": {"2": 1}}),
        json!({"customer_name": "x", "rating": 3, "responses": {"1": 9}}),
    ] {
        let (status, _) = o
            .call(
                "clerk",
                Method::POST,
                &format!("/api/surveys/campaigns/{cid}/answers"),
                Some(bad),
            )
            .await?;
        assert_eq!(status, 400);
    }

    let report = o
        .ok(
            "gmo",
            Method::GET,
            "/api/reports/technicians?month=2026-10",
            None,
        )
        .await?;
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    // Ranked by average rating: A (4.5) before B (3.0).
    assert_eq!(
        rows[0],
        json!([1, "tech_a", 3, 2, 1, 2.0 / 3.0, 4.5, 2, 0, "600.01"])
    );
    assert_eq!(
        rows[1],
        json!([2, "tech_b", 1, 1, 0, 1.0, 3.0, 1, 0, "50.00"])
    );
    let cost = o
        .ok(
            "gmo",
            Method::GET,
            "/api/reports/service-cost?month=2026-10",
            None,
        )
        .await?;
    assert_eq!(
        cost["rows"],
        json!([
            [
                "BC-350", 2, "300.00", "0.00", "0.00", "0.00", "300.00", "0.00"
            ],
            [
                "BC-500", 2, "350.01", "0.00", "0.00", "0.00", "350.01", "0.00"
            ]
        ])
    );

    // Complaint statistics: two quality cases (production), one non-quality (marketing).
    for (class, dept) in [
        ("quality", "production"),
        ("quality", "production"),
        ("non_quality", "marketing"),
    ] {
        let (status, body) = o
            .call("sales", Method::POST, "/api/complaints", Some(json!({"customer_name": "客户", "order_number": "SO", "product_model": "BC-350", "quantity": 1, "delivery_date": "2026-09-01", "defect": "d", "customer_demand": "x"})))
            .await?;
        assert_eq!(status, 201, "{body}");
        let id = body["id"].as_str().unwrap().to_string();
        o.ok(
            "quality",
            Method::POST,
            &format!("/api/complaints/{id}/actions"),
            Some(json!({"action": "accept"})),
        )
        .await?;
        o.ok(
            "sales",
            Method::POST,
            &format!("/api/complaints/{id}/actions"),
            Some(json!({"action": "investigate", "findings": "f"})),
        )
        .await?;
        o.ok("quality", Method::POST, &format!("/api/complaints/{id}/actions"), Some(json!({"action": "determine", "cause_class": class, "valid": true, "fault_ours": true, "responsible_department": dept}))).await?;
    }
    let stats = o
        .ok(
            "gmo",
            Method::GET,
            "/api/reports/complaint-stats?month=2026-10",
            None,
        )
        .await?;
    let rows = stats["rows"].as_array().unwrap();
    assert!(rows.contains(&json!(["原因类别", "质量异常", 2, ""])));
    assert!(rows.contains(&json!(["原因类别", "非质量异常", 1, ""])));
    assert!(rows.contains(&json!(["产品型号", "BC-350", 3, ""])));
    assert!(rows.contains(&json!(["责任部门", "生产部", 2, ""])));
    let pareto: Vec<&Value> = rows.iter().filter(|r| r[0] == "帕累托").collect();
    assert_eq!(pareto[0][1], "质量异常/生产部");
    assert_eq!(pareto[0][3], json!(2.0 / 3.0));
    assert_eq!(pareto[1][3], json!(1.0));

    // The XLSX export reads back with its headers and cells.
    let bytes = fieldloop_e2e::http()
        .get(format!(
            "{}/api/reports/technicians?month=2026-10&format=xlsx",
            o.base
        ))
        .bearer_auth(&o.tokens["gmo"])
        .send()
        .await?
        .bytes()
        .await?;
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes.to_vec()))?;
    let sheet = book.worksheet_range_at(0).expect("a sheet")?;
    assert_eq!(sheet.get((0, 1)), Some(&Data::String("技术员".into())));
    assert_eq!(sheet.get((1, 1)), Some(&Data::String("tech_a".into())));
    assert_eq!(sheet.get((1, 2)), Some(&Data::Float(3.0)));
    assert_eq!(sheet.get((1, 9)), Some(&Data::Float(600.01)));
    let csv = fieldloop_e2e::http()
        .get(format!(
            "{}/api/reports/service-record?month=2026-10&format=csv&lang=en",
            o.base
        ))
        .bearer_auth(&o.tokens["gmo"])
        .send()
        .await?
        .text()
        .await?;
    assert!(
        csv.trim_start_matches('\u{feff}')
            .starts_with("Received,Device's time,Office,Customer")
    );
    assert_eq!(csv.lines().count(), 5, "header and four jobs");

    // Bad report requests: a future month, another region's office, an unknown report.
    let (status, _) = o
        .call(
            "gmo",
            Method::GET,
            "/api/reports/technicians?month=2026-11",
            None,
        )
        .await?;
    assert_eq!(status, 400);
    let (status, _) = o
        .call(
            "clerk_x",
            Method::GET,
            "/api/reports/service-record?region=wuhan&format=xlsx",
            None,
        )
        .await?;
    assert_eq!(status, 403);
    let (status, _) = o
        .call("tech_a", Method::GET, "/api/reports/service-record", None)
        .await?;
    assert_eq!(status, 403);
    // Closing the campaign stops answers.
    o.ok(
        "head",
        Method::POST,
        &format!("/api/surveys/campaigns/{cid}/close"),
        None,
    )
    .await?;
    let (status, body) = o
        .call(
            "clerk",
            Method::POST,
            &format!("/api/surveys/campaigns/{cid}/answers"),
            Some(json!({"customer_name": "x", "rating": 4})),
        )
        .await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (409, json!("campaign_closed"))
    );
    server.finish().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monthly_numbers_sqlite() -> anyhow::Result<()> {
    monthly_numbers(Engine::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monthly_numbers_postgres() -> anyhow::Result<()> {
    monthly_numbers(Engine::Postgres).await
}

/// Severe feedback without a written report to the department head stays open and on the
/// chase list; it closes once reported and answered in writing.
async fn severe_feedback(server: TestServer) -> anyhow::Result<()> {
    let o = office(&server).await?;
    let dev = server.device("sales").await?;
    let doc = dev.store().create(DocKind::Feedback, "wuhan", 0).await?;
    dev.store()
        .edit(
            doc.id(),
            Author::Device(Role::Salesperson),
            &[
                ("answer.kind", V::Text("complaint".into())),
                ("answer.severity", V::Text("severe".into())),
                (
                    "answer.comment",
                    V::Text("machine stopped twice in a week".into()),
                ),
            ],
            0,
        )
        .await?;
    dev.sync().await?;
    let id = doc.id();
    let chase = o
        .ok("clerk", Method::GET, "/api/feedback/chase", None)
        .await?;
    assert_eq!(chase[0]["id"], json!(id));
    // A written report, an answer, and a visit to the complaining customer (§3.5).
    assert_eq!(chase[0]["needs"].as_array().unwrap().len(), 3);
    let (status, body) = o
        .call(
            "clerk",
            Method::POST,
            &format!("/api/feedback/{id}/close"),
            None,
        )
        .await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (409, json!("not_ready"))
    );
    o.ok(
        "clerk",
        Method::POST,
        &format!("/api/feedback/{id}/chase"),
        None,
    )
    .await?;
    // A phone answer is not enough for severe feedback.
    o.ok(
        "clerk",
        Method::POST,
        &format!("/api/feedback/{id}/answer"),
        Some(json!({"method": "phone", "text": "called"})),
    )
    .await?;
    o.ok(
        "clerk",
        Method::POST,
        &format!("/api/feedback/{id}/report"),
        None,
    )
    .await?;
    let (status, _) = o
        .call(
            "clerk",
            Method::POST,
            &format!("/api/feedback/{id}/close"),
            None,
        )
        .await?;
    assert_eq!(status, 409, "severe feedback is answered in writing");
    let item = o
        .ok(
            "clerk",
            Method::POST,
            &format!("/api/feedback/{id}/answer"),
            Some(json!({"method": "letter", "text": "处理情况函告客户"})),
        )
        .await?;
    assert_eq!(item["chase_count"], 1);
    // Answered and reported, but nobody has visited the customer yet (§3.5).
    let (status, body) = o
        .call(
            "clerk",
            Method::POST,
            &format!("/api/feedback/{id}/close"),
            None,
        )
        .await?;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("§3.5"));
    let visit = format!("/api/feedback/{id}/visit");
    let (status, _) = o
        .call("clerk", Method::POST, &visit, Some(json!({"text": "  "})))
        .await?;
    assert_eq!(status, 400, "who visited must be said");
    o.ok(
        "clerk",
        Method::POST,
        &visit,
        Some(json!({"text": "部长派张工前往"})),
    )
    .await?;
    o.ok(
        "clerk",
        Method::POST,
        &format!("/api/feedback/{id}/close"),
        None,
    )
    .await?;
    assert!(
        o.ok("clerk", Method::GET, "/api/feedback/chase", None)
            .await?
            .as_array()
            .unwrap()
            .is_empty()
    );
    let (status, _) = o
        .call(
            "clerk_x",
            Method::POST,
            &format!("/api/feedback/{id}/chase"),
            None,
        )
        .await?;
    assert_eq!(status, 404, "another region's office");

    // The complaint becomes a case; two clerks linking it at once to two cases: one link holds,
    // the other is told it changed meanwhile.
    let mut cases = Vec::new();
    for _ in 0..2 {
        let case = o
            .ok("sales", Method::POST, "/api/complaints", Some(json!({
                "customer_name": "湖北某建设公司", "order_number": "SO-2026-118", "product_model": "BC-300",
                "quantity": 1, "delivery_date": "2026-09-01", "defect": "stops twice a week",
                "customer_demand": "repair", "claimed": "0"
            })))
            .await?;
        cases.push(case["id"].as_str().unwrap().to_string());
    }
    let link = format!("/api/feedback/{id}/to-complaint");
    let ask = |case: &String| o.call("clerk", Method::POST, &link, Some(json!({"text": case})));
    let (a, b) = tokio::join!(ask(&cases[0]), ask(&cases[1]));
    let (a, b) = (a?, b?);
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{a:?} {b:?}");
    let linked = if a.0 == 200 { &a.1 } else { &b.1 };
    let (status, _) = o
        .call(
            "clerk",
            Method::POST,
            &link,
            Some(json!({"text": cases[0]})),
        )
        .await?;
    assert_eq!(status, 409, "a linked item is not linked again");
    assert!(cases.contains(&linked["complaint_id"].as_str().unwrap().to_string()));
    server.finish().await;
    Ok(())
}
fieldloop_e2e::both_engines!(severe_feedback_test, severe_feedback);

/// A feedback item follows later edits of its document: feedback raised to severe after its
/// first sync asks for the written report (§3.3), and severe items head the chase list
/// (提前加以处理), older ones first within each severity.
async fn feedback_follows_its_document(server: TestServer) -> anyhow::Result<()> {
    let o = office(&server).await?;
    let dev = server.device("sales").await?;
    let sales = Author::Device(Role::Salesperson);
    let mut ids = Vec::new();
    for comment in ["noisy at start-up", "manual hard to read"] {
        let doc = dev.store().create(DocKind::Feedback, "wuhan", 0).await?;
        dev.store()
            .edit(
                doc.id(),
                sales,
                &[
                    ("answer.kind", V::Text("suggestion".into())),
                    ("answer.severity", V::Text("general".into())),
                    ("answer.comment", V::Text(comment.into())),
                ],
                0,
            )
            .await?;
        dev.sync().await?;
        ids.push(doc.id());
    }
    let chase = o
        .ok("clerk", Method::GET, "/api/feedback/chase", None)
        .await?;
    let order: Vec<&Value> = chase.as_array().unwrap().iter().map(|c| &c["id"]).collect();
    assert_eq!(order, [&json!(ids[0]), &json!(ids[1])], "oldest first");

    // The second turns out severe, and is a complaint.
    dev.store()
        .edit(
            ids[1],
            sales,
            &[
                ("answer.kind", V::Text("complaint".into())),
                ("answer.severity", V::Text("severe".into())),
            ],
            0,
        )
        .await?;
    let report = dev.sync().await?;
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    let chase = o
        .ok("clerk", Method::GET, "/api/feedback/chase", None)
        .await?;
    assert_eq!(chase[0]["id"], json!(ids[1]), "severe first: {chase}");
    assert_eq!(chase[0]["severity"], "severe");
    assert_eq!(chase[0]["kind"], "complaint");
    assert!(
        chase[0]["needs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("written report")),
        "{chase}"
    );
    assert_eq!(chase[1]["id"], json!(ids[0]));
    server.finish().await;
    Ok(())
}
fieldloop_e2e::both_engines!(feedback_edits_test, feedback_follows_its_document);
