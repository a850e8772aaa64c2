//! The complaint workflow (§3.3-3.5, §4) end to end over HTTP, both engines.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use fieldloop_client_core::model::Role;
use fieldloop_e2e::office::Office;
use fieldloop_e2e::{Engine, TestServer, call};
use fieldloop_server::ManualClock;
use reqwest::Method;
use serde_json::{Value, json};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn full_case_and_customer_view(server: TestServer) -> anyhow::Result<()> {
    let office = Office::new(&server).await?;
    let id = office.file("3000").await?;
    // Nothing moves before quality accepts it.
    let (status, body) = office.act("gmo", &id, json!({"action": "close"})).await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (409, json!("not_accepted"))
    );

    let closed = office.run_to_close(&id, 300_000, "gm").await?;
    assert_eq!(closed["state"], "closed");
    let number = closed["number"].as_str().unwrap().to_string();
    let (y, m) = {
        let now =
            fieldloop_client_core::clock::device_now().with_timezone(&chrono_tz::Asia::Shanghai);
        (now.format("%Y").to_string(), now.format("%m").to_string())
    };
    assert_eq!(number, format!("{y}-{m}-0001"));
    assert_eq!(closed["case"]["distribution"].as_array().unwrap().len(), 5);

    // Acting on a closed case is refused.
    let (status, body) = office
        .act(
            "production",
            &id,
            json!({"action": "petition", "text": "disagree"}),
        )
        .await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (409, json!("case_closed"))
    );

    // The customer view has no internal field; asking for internal records is refused.
    let code = closed["case"]["access_code"].as_str().unwrap();
    let (status, view) = call(
        Method::GET,
        &format!(
            "{}/api/customer/complaints/{number}?code={code}",
            office.base
        ),
        "",
        None,
    )
    .await?;
    assert_eq!(status, 200);
    assert_eq!(view["status_zh"], "已结案");
    assert_eq!(view["answer"], "客户接受赔偿方案");
    let text = view.to_string();
    for internal in [
        "loss",
        "penalty",
        "responsib",
        "cause",
        "底座焊缝",
        "赵师傅",
        "approved",
        "access_code",
    ] {
        assert!(
            !text.contains(internal),
            "customer view leaks '{internal}': {text}"
        );
    }
    let (status, body) = call(
        Method::GET,
        &format!(
            "{}/api/customer/complaints/{number}?code={code}&include=record",
            office.base
        ),
        "",
        None,
    )
    .await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (403, json!("internal_record"))
    );
    let (status, _) = call(
        Method::GET,
        &format!(
            "{}/api/customer/complaints/{number}?code=wrong",
            office.base
        ),
        "",
        None,
    )
    .await?;
    assert_eq!(status, 404);

    // The customer rejects the conclusion: a new case linked to the original, which stays closed.
    let (status, reopened) = office
        .call(
            "sales",
            Method::POST,
            &format!("/api/complaints/{id}/reopen"),
            None,
        )
        .await?;
    assert_eq!(status, 201, "{reopened}");
    assert_eq!(reopened["case"]["original"], json!(id));
    assert_eq!(reopened["state"], "submitted");
    let (_, original) = office
        .call("gmo", Method::GET, &format!("/api/complaints/{id}"), None)
        .await?;
    assert_eq!(original["state"], "closed");
    assert_eq!(original["case"]["followups"][0], reopened["id"]);
    // The new form says in Chinese which conclusion the customer rejected.
    let new_id = reopened["id"].as_str().unwrap().to_string();
    let (status, form) = office
        .call("gmo", Method::GET, &format!("/api/docs/{new_id}"), None)
        .await?;
    assert_eq!(status, 200, "{form}");
    let defect = form["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "form.defect")
        .and_then(|f| f["value"].as_str())
        .unwrap_or_default()
        .to_string();
    assert!(defect.starts_with("客户不接受"), "{defect}");
    assert!(!defect.contains("customer"), "{defect}");
    // One rejection per closed case (§4.6.8): a second one, however it comes, is refused and
    // changes nothing; the complaint goes on in the case already filed.
    for _ in 0..2 {
        let (status, again) = office
            .call(
                "sales",
                Method::POST,
                &format!("/api/complaints/{id}/reopen"),
                None,
            )
            .await?;
        assert_eq!(status, 409, "{again}");
        assert_eq!(again["error"]["code"], "already_done", "{again}");
    }
    let (_, unchanged) = office
        .call("gmo", Method::GET, &format!("/api/complaints/{id}"), None)
        .await?;
    assert_eq!(unchanged["case"]["followups"], json!([reopened["id"]]));
    assert_eq!(unchanged["version"], original["version"]);

    // Another region's salesperson cannot see the case.
    let (status, _) = office
        .call(
            "sales_x",
            Method::GET,
            &format!("/api/complaints/{id}"),
            None,
        )
        .await?;
    assert_eq!(status, 404);
    server.finish().await;
    Ok(())
}
fieldloop_e2e::both_engines!(full_case_test, full_case_and_customer_view);

/// Authority at 1,000.00 / 1,000.01 / 4,999.99 / 5,000.00 yuan.
async fn authority_boundaries(server: TestServer) -> anyhow::Result<()> {
    let office = Office::new(&server).await?;
    // Each boundary amount alone on a case of its own.
    let cases = [
        (100_000, "head", None),
        (100_001, "gm", Some("head")),
        (499_999, "gm", Some("head")),
        (500_000, "chair", Some("gm")),
    ];
    let mut id = String::new();
    for (amount, allowed, refused) in cases {
        id = office.file("0").await?;
        office
            .ok("quality", &id, json!({"action": "accept"}))
            .await?;
        office
            .ok(
                "sales",
                &id,
                json!({"action": "propose_amount", "kind": "allowance", "amount_fen": amount}),
            )
            .await?;
        if let Some(refused) = refused {
            let (status, body) = office
                .act(refused, &id, json!({"action": "approve", "decision": 1}))
                .await?;
            assert_eq!(
                (status, body["error"]["code"].clone()),
                (403, json!("above_authority")),
                "{amount} by {refused}"
            );
            // The API keeps its code; the words, in both languages, are in yuan.
            let zh = body["error"]["message_zh"].as_str().unwrap_or_default();
            let yuan = fieldloop_client_core::model::money::yuan_text(amount);
            assert!(
                zh.starts_with(&format!("{yuan} 元")) && zh.ends_with("(§4.7.3)"),
                "{zh}"
            );
            assert!(
                body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with(&format!("¥{yuan}")) && !m.contains("fen")),
                "{body}"
            );
        }
        office
            .ok(allowed, &id, json!({"action": "approve", "decision": 1}))
            .await?;
    }
    // The authority is over the case's amount (§4.7.3): 5,000.00 proposed in two parts
    // still needs the chairman for the part that reaches it.
    let split = office.file("0").await?;
    office
        .ok("quality", &split, json!({"action": "accept"}))
        .await?;
    for amount in [300_000, 200_000] {
        office
            .ok(
                "sales",
                &split,
                json!({"action": "propose_amount", "kind": "compensation", "amount_fen": amount}),
            )
            .await?;
    }
    office
        .ok("gm", &split, json!({"action": "approve", "decision": 1}))
        .await?;
    let (status, body) = office
        .act("gm", &split, json!({"action": "approve", "decision": 2}))
        .await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (403, json!("above_authority"))
    );
    office
        .ok("chair", &split, json!({"action": "approve", "decision": 2}))
        .await?;
    // Nobody else approves money at all.
    office
        .ok(
            "sales",
            &id,
            json!({"action": "propose_amount", "kind": "allowance", "amount_fen": 1}),
        )
        .await?;
    let (status, _) = office
        .act("sales", &id, json!({"action": "approve", "decision": 2}))
        .await?;
    assert_eq!(status, 403);
    let (_, case) = office
        .call("gmo", Method::GET, &format!("/api/complaints/{id}"), None)
        .await?;
    let approved: Vec<i64> = case["case"]["money"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| !m["approved_by"].is_null())
        .map(|m| m["amount_fen"].as_i64().unwrap())
        .collect();
    assert_eq!(approved, vec![500_000]);
    server.finish().await;
    Ok(())
}
fieldloop_e2e::both_engines!(authority_test, authority_boundaries);

/// Numbers follow the company's month (an acceptance at 23:30 local on the last day, and at
/// 00:30 local the next day, which is still the previous day in UTC), restart each month, and
/// are never given twice even when many acceptances race on two server instances.
async fn numbering(engine: Engine) -> anyhow::Result<()> {
    let clock = Arc::new(ManualClock::new(at("2026-11-30T23:30:00+08:00")));
    let Some(server) = TestServer::start_clocked(engine, clock.clone()).await? else {
        return Ok(());
    };
    let office = Office::new(&server).await?;
    let first = office.file("0").await?;
    let body = office
        .ok("quality", &first, json!({"action": "accept"}))
        .await?;
    assert_eq!(body["number"], "2026-11-0001");
    clock.set(at("2026-12-01T00:30:00+08:00"));
    let second = office.file("0").await?;
    let body = office
        .ok("quality", &second, json!({"action": "accept"}))
        .await?;
    assert_eq!(
        body["number"], "2026-12-0001",
        "00:30 in Beijing is December, though UTC says 30 November"
    );
    // A second number for the same case is refused.
    let (status, body) = office
        .act("quality", &second, json!({"action": "accept"}))
        .await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (409, json!("already_numbered"))
    );

    // Twelve acceptances at once, half through another server instance.
    let other = server.another_instance().await?;
    let mut ids = Vec::new();
    for _ in 0..12 {
        ids.push(office.file("0").await?);
    }
    let quality = office.tokens["quality"].clone();
    let mut tasks = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let base = if i % 2 == 0 {
            server.base()
        } else {
            other.base()
        };
        let (token, id) = (quality.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            call(
                Method::POST,
                &format!("{base}/api/complaints/{id}/actions"),
                &token,
                Some(json!({"action": "accept"})),
            )
            .await
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        let (status, body) = t.await??;
        assert_eq!(status, 200, "{body}");
        numbers.push(body["number"].as_str().unwrap().to_string());
    }
    numbers.sort();
    let expected: Vec<String> = (2..=13).map(|n| format!("2026-12-{n:04}")).collect();
    assert_eq!(numbers, expected, "unique, and no gaps");
    // One case accepted twice at once, once on each instance: one number, and the other told
    // the case is already numbered, on either engine.
    let id = office.file("0").await?;
    let accept = |base: String| {
        let (token, id) = (quality.clone(), id.clone());
        async move {
            call(
                Method::POST,
                &format!("{base}/api/complaints/{id}/actions"),
                &token,
                Some(json!({"action": "accept"})),
            )
            .await
        }
    };
    let (a, b) = tokio::join!(accept(server.base()), accept(other.base()));
    let winner = fieldloop_e2e::one_won(a?, b?, "already_numbered");
    assert_eq!(winner["number"], "2026-12-0014");
    other.finish().await;
    server.finish().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbering_sqlite() -> anyhow::Result<()> {
    numbering(Engine::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbering_postgres() -> anyhow::Result<()> {
    numbering(Engine::Postgres).await
}

/// A production step of 2 days and the 6-day case become overdue exactly when they should, on
/// the GM office's list and as notifications to the department.
async fn deadlines(engine: Engine) -> anyhow::Result<()> {
    let t0 = at("2026-11-03T15:00:00+08:00");
    let clock = Arc::new(ManualClock::new(t0));
    let Some(server) = TestServer::start_clocked(engine, clock.clone()).await? else {
        return Ok(());
    };
    let office = Office::new(&server).await?;
    let id = office.file("0").await?;
    office
        .ok("quality", &id, json!({"action": "accept"}))
        .await?;
    office
        .ok(
            "sales",
            &id,
            json!({"action": "investigate", "findings": "seen on site"}),
        )
        .await?;
    office
        .ok(
            "quality",
            &id,
            json!({"action": "submit_report", "text": "r"}),
        )
        .await?;
    office.ok("quality", &id, json!({"action": "determine", "cause_class": "quality", "valid": true, "fault_ours": true, "responsible_department": "production"})).await?;
    // Production's 2 days: due 24:00 on 5 November (start day not counted).
    clock.set(at("2026-11-05T23:59:59+08:00"));
    let (_, list) = office
        .call("gmo", Method::GET, "/api/complaints/overdue", None)
        .await?;
    assert!(list.as_array().unwrap().is_empty(), "{list}");
    clock.set(at("2026-11-06T00:00:00+08:00"));
    let (_, list) = office
        .call("gmo", Method::GET, "/api/complaints/overdue", None)
        .await?;
    let items = list.as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["what"], "countermeasure");
    assert_eq!(items[0]["department"], "production");
    // The overdue list as a report, in Chinese: the step, the department, its last day.
    let report = office.report("overdue", "2026-10").await?;
    assert_eq!(report["rows"][0][1], "处理对策");
    assert_eq!(report["rows"][0][2], "生产部");
    assert_eq!(report["rows"][0][3], "2026-11-05");
    let (_, notes) = office
        .call("production", Method::GET, "/api/notifications", None)
        .await?;
    assert_eq!(notes.as_array().unwrap().len(), 1);
    // Listing again raises nothing new.
    office
        .call("gmo", Method::GET, "/api/complaints/overdue", None)
        .await?;
    let (_, notes) = office
        .call("production", Method::GET, "/api/notifications", None)
        .await?;
    assert_eq!(notes.as_array().unwrap().len(), 1);
    // The case: 6 days from acceptance, due 24:00 on 9 November.
    clock.set(at("2026-11-09T23:59:59+08:00"));
    let (_, list) = office
        .call("gmo", Method::GET, "/api/complaints/overdue", None)
        .await?;
    assert!(!list.as_array().unwrap().iter().any(|i| i["what"] == "case"));
    clock.set(at("2026-11-10T00:00:00+08:00"));
    let (_, list) = office
        .call("gmo", Method::GET, "/api/complaints/overdue", None)
        .await?;
    assert!(list.as_array().unwrap().iter().any(|i| i["what"] == "case"));
    // A step done by the wrong department is refused.
    let (status, body) = office.act("rnd", &id, json!({"action": "production_report", "workshop": "w", "shift": "s", "operators": "o", "production_date": "2026-01-01", "countermeasure": "c"})).await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (403, json!("wrong_department"))
    );
    server.finish().await;
    Ok(())
}

/// The complaint register of a month (§4.6.4 登记追踪) holds every case open in it, an
/// earlier month's still-open case included, with the customer, model and defect, and shows
/// each deadline as the last day it allows.
async fn register_tracks_open_cases(engine: Engine) -> anyhow::Result<()> {
    let clock = Arc::new(ManualClock::new(at("2026-10-28T10:00:00+08:00")));
    let Some(server) = TestServer::start_clocked(engine, clock.clone()).await? else {
        return Ok(());
    };
    let office = Office::new(&server).await?;
    let october = office.file("0").await?;
    office
        .ok("quality", &october, json!({"action": "accept"}))
        .await?;
    clock.set(at("2026-11-03T15:00:00+08:00"));
    let november = office.file("0").await?;
    office
        .ok("quality", &november, json!({"action": "accept"}))
        .await?;
    clock.set(at("2026-12-02T09:00:00+08:00"));
    let register = |month: &'static str| {
        let office = &office;
        async move {
            let body = office.report("complaint-register", month).await?;
            anyhow::Ok(body["rows"].as_array().unwrap().clone())
        }
    };
    let rows = register("2026-11").await?;
    let numbers: Vec<&Value> = rows.iter().map(|r| &r[0]).collect();
    assert_eq!(numbers, [&json!("2026-10-0001"), &json!("2026-11-0001")]);
    let row = &rows[1];
    assert_eq!(row[2], "湖北某建设公司");
    assert_eq!(row[3], "BC-300");
    assert_eq!(row[4], "焊缝开裂");
    assert_eq!(row[5], "处理中");
    // Accepted on 3 November: 6 days, due by 24:00 on 9 November.
    assert_eq!(row[8], "2026-11-09", "{row:?}");
    let rows = register("2026-10").await?;
    assert_eq!(rows.len(), 1, "November's case was not open in October");
    assert_eq!(rows[0][0], "2026-10-0001");
    server.finish().await;
    Ok(())
}

fieldloop_e2e::each_engine!(register_test, register_tracks_open_cases);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_sqlite() -> anyhow::Result<()> {
    deadlines(Engine::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_postgres() -> anyhow::Result<()> {
    deadlines(Engine::Postgres).await
}

/// Returns: finance refuses a posting when the received quantity differs and says both
/// numbers; accepts when equal. Allowances need the GM's countersignature and the customer's.
/// The monthly review lists last month's closed cases and produces the personnel notice.
async fn settlements_and_review(engine: Engine) -> anyhow::Result<()> {
    let clock = Arc::new(ManualClock::new(at("2026-10-20T10:00:00+08:00")));
    let Some(server) = TestServer::start_clocked(engine, clock.clone()).await? else {
        return Ok(());
    };
    let office = Office::new(&server).await?;
    let id = office.file("800").await?;
    // Decided on the case: 800.00 compensation, and two returns, 10 pieces for 300.00 (#2)
    // and 3 pieces for 90.00 (#3), which the general manager approves (the case's total is
    // over 1,000.00).
    office
        .run_to_close_returning(&id, 80_000, &[(30_000, 10), (9_000, 3)], "gm")
        .await?;
    let open_return = |body: Value| {
        let office = &office;
        let id = id.clone();
        async move {
            office
                .call(
                    "sales",
                    Method::POST,
                    &format!("/api/complaints/{id}/returns"),
                    Some(body),
                )
                .await
        }
    };
    let noted = |mut body: Value| {
        for (k, v) in [
            ("reason", "机架焊缝开裂"),
            ("handling", "退货重处理"),
            ("basis", "客诉处理单结论"),
        ] {
            body[k] = json!(v);
        }
        body
    };
    // Bad input, each refused with nothing opened: a reason, handling or basis missing
    // (§4.9.3), a quantity or value other than approved (§4.9.4), an amount that is no
    // money, a decision that is no approved return (#1 is the compensation).
    for (body, code) in [
        (
            json!({"decision": 2, "reason": "r", "handling": "h"}),
            "invalid_input",
        ),
        (
            noted(json!({"decision": 2, "approved_quantity": 11})),
            "quantity_mismatch",
        ),
        (
            noted(json!({"decision": 2, "amount": "299.99"})),
            "amount_mismatch",
        ),
        (
            noted(json!({"decision": 2, "amount": "3.001"})),
            "invalid_input",
        ),
        (noted(json!({"decision": 1})), "no_approved_return"),
        (noted(json!({"approved_quantity": -2})), "invalid_input"),
    ] {
        let (status, answer) = open_return(body.clone()).await?;
        assert_eq!(answer["error"]["code"], json!(code), "{body}: {answer}");
        assert!(status == 400 || status == 409, "{body}: {status}");
        // What differs from the approval is said in Chinese too, values in yuan.
        let (message, zh) = (
            answer["error"]["message"].as_str().unwrap_or_default(),
            answer["error"]["message_zh"].as_str().unwrap_or_default(),
        );
        match code {
            "amount_mismatch" => assert!(
                message.contains("(¥299.99)")
                    && message.contains("(¥300.00)")
                    && zh.contains("退货单金额 299.99 元")
                    && zh.contains("300.00 元")
                    && zh.ends_with("(§4.9.4)"),
                "{answer}"
            ),
            "quantity_mismatch" => assert!(
                zh.contains("(11)") && zh.contains("(10)") && zh.ends_with("(§4.9.4)"),
                "{answer}"
            ),
            _ => {}
        }
    }
    // Two clerks opening a form for the same approval at once: one approval backs one form.
    let (a, b) = tokio::join!(
        open_return(noted(json!({"decision": 2, "approved_quantity": 10}))),
        open_return(noted(json!({"decision": 2})))
    );
    let form = fieldloop_e2e::one_won(a?, b?, "already_opened");
    assert_eq!(form["body"]["decision"], 2);
    assert_eq!(form["body"]["amount_fen"], 30_000);
    // §4.9.3: the form notes reason, handling and basis.
    assert_eq!(form["body"]["reason"], "机架焊缝开裂");
    assert_eq!(form["body"]["handling"], "退货重处理");
    assert_eq!(form["body"]["basis"], "客诉处理单结论");
    let rid = form["id"].as_str().unwrap().to_string();
    let step = |who: &'static str, step: &'static str, body: Value| {
        let office = &office;
        let rid = rid.clone();
        async move {
            office
                .call(
                    who,
                    Method::POST,
                    &format!("/api/settlements/{rid}/{step}"),
                    Some(body),
                )
                .await
        }
    };
    let (status, _) = step("warehouse", "receive", json!({"quantity": 10})).await?;
    assert_eq!(status, 409, "not approved by the manager yet");
    assert_eq!(step("gm", "approve", json!({})).await?.0, 200);
    let (status, body) = step("head", "approve", json!({})).await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (409, json!("already_done")),
        "approved once"
    );
    let (status, body) = step("warehouse", "receive", json!({"quantity": 9})).await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!("invalid_input")),
        "a difference needs a note"
    );
    let (status, body) = step(
        "warehouse",
        "receive",
        json!({"quantity": 9, "note": "one crate short, asked marketing"}),
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    let (status, body) = step("finance", "post", json!({})).await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (409, json!("quantity_mismatch"))
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("(10)") && message.contains("(9)"),
        "{message}"
    );
    let (status, _) = step("sales", "post", json!({})).await?;
    assert_eq!(status, 403, "only finance posts");

    // An equal return posts: the next approved return (#3) when none is named.
    let (status, form) = open_return(noted(json!({}))).await?;
    assert_eq!(status, 201, "{form}");
    assert_eq!(form["body"]["decision"], 3);
    let rid2 = form["id"].as_str().unwrap().to_string();
    for (who, s, b) in [
        ("head", "approve", json!({})),
        ("warehouse", "receive", json!({"quantity": 3})),
    ] {
        let (status, body) = office
            .call(
                who,
                Method::POST,
                &format!("/api/settlements/{rid2}/{s}"),
                Some(b),
            )
            .await?;
        assert_eq!(status, 200, "{who} {s}: {body}");
    }
    // Posted twice at once: posted once, and the other told it already is, on either engine.
    let post_path = format!("/api/settlements/{rid2}/post");
    let post = || office.call("finance", Method::POST, &post_path, Some(json!({})));
    let (a, b) = tokio::join!(post(), post());
    fieldloop_e2e::one_won(a?, b?, "already_done");

    // Allowance: not above the approved amount; posted after both signatures.
    let (status, _) = office
        .call(
            "sales",
            Method::POST,
            &format!("/api/complaints/{id}/allowances"),
            Some(json!({"amount": "900.00"})),
        )
        .await?;
    assert_eq!(status, 403);
    // Two certificates for the whole approved 800.00 asked at once: exactly one is opened.
    let path = format!("/api/complaints/{id}/allowances");
    let ask = || {
        office.call(
            "sales",
            Method::POST,
            &path,
            Some(json!({"amount": "800.00"})),
        )
    };
    let (a, b) = tokio::join!(ask(), ask());
    let (a, b) = (a?, b?);
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [201, 403],
        "one certificate, one refusal: {a:?} {b:?}"
    );
    let cert = if a.0 == 201 { a.1 } else { b.1 };
    let cid = cert["id"].as_str().unwrap().to_string();
    let (status, _) = office
        .call(
            "sales",
            Method::POST,
            &format!("/api/complaints/{id}/allowances"),
            Some(json!({"amount": "0.01"})),
        )
        .await?;
    assert_eq!(status, 403, "the approved 800.00 is already certified");
    let cert_step = |who: &'static str, step: &'static str| {
        let (office, cid) = (&office, cid.clone());
        async move {
            office
                .call(
                    who,
                    Method::POST,
                    &format!("/api/settlements/{cid}/{step}"),
                    Some(json!({})),
                )
                .await
        }
    };
    assert_eq!(cert_step("finance", "post").await?.0, 409, "not signed yet");
    assert_eq!(cert_step("gm", "countersign").await?.0, 200);
    let (status, body) = cert_step("gm", "countersign").await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (409, json!("already_done")),
        "countersigned once"
    );
    assert_eq!(cert_step("sales", "customer-signed").await?.0, 200);
    let (status, body) = cert_step("finance", "post").await?;
    assert_eq!(status, 200, "{body}");

    // The monthly review, in November, of October.
    clock.set(at("2026-11-05T09:00:00+08:00"));
    let (status, body) = office
        .call("gmo", Method::GET, "/api/reviews/2026-11", None)
        .await?;
    assert_eq!(status, 400, "a month that has not ended: {body}");
    let (status, review) = office
        .call("gmo", Method::GET, "/api/reviews/2026-10", None)
        .await?;
    assert_eq!(status, 200, "{review}");
    assert_eq!(review["cases"].as_array().unwrap().len(), 1);
    assert_eq!(review["due_before"], json!("2026-11-09T16:00:00Z"));
    assert_eq!(review["late"], false);
    // Unconfirmed when the 10th begins in Beijing (still the 9th in UTC): late.
    clock.set(at("2026-11-10T00:00:00+08:00"));
    let (_, review) = office
        .call("gmo", Method::GET, "/api/reviews/2026-10", None)
        .await?;
    assert_eq!(review["late"], true);
    clock.set(at("2026-11-09T23:59:59+08:00"));
    let (status, confirmed) = office
        .call("gmo", Method::POST, "/api/reviews/2026-10/confirm", None)
        .await?;
    assert_eq!(status, 200);
    assert_eq!(
        confirmed["late"], false,
        "confirmed on the 9th, just in time"
    );
    assert_eq!(confirmed["confirmed_at"], json!("2026-11-09T15:59:59Z"));
    assert!(confirmed["notice"].as_str().unwrap().contains("书面警告"));
    let (status, _) = office
        .call("gmo", Method::POST, "/api/reviews/2026-10/confirm", None)
        .await?;
    assert_eq!(status, 409);
    let notice = office.report("personnel-notice", "2026-10").await?;
    assert_eq!(notice["columns"][2][0], "处分");
    assert_eq!(notice["rows"][0][2], "书面警告");
    let (status, _) = office
        .call("sales", Method::GET, "/api/reviews/2026-10", None)
        .await?;
    assert_eq!(status, 403);
    server.finish().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settlements_sqlite() -> anyhow::Result<()> {
    settlements_and_review(Engine::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settlements_postgres() -> anyhow::Result<()> {
    settlements_and_review(Engine::Postgres).await
}

/// A complaint found not valid (§4.6.12) closes without returns or allowances: the
/// receivables are collected on schedule.
async fn not_valid_takes_no_settlement(server: TestServer) -> anyhow::Result<()> {
    let office = Office::new(&server).await?;
    let id = office.file("500").await?;
    office
        .ok("quality", &id, json!({"action": "accept"}))
        .await?;
    office.ok("sales", &id, json!({"action": "investigate", "findings": "customer overloaded the mixer", "joint_visit": false})).await?;
    office
        .ok(
            "quality",
            &id,
            json!({"action": "submit_report", "text": "report to the GM"}),
        )
        .await?;
    office.ok("quality", &id, json!({"action": "determine", "cause_class": "non_quality", "valid": false, "fault_ours": false})).await?;
    office.ok("gmo", &id, json!({"action": "consolidate", "text": "not valid: misuse", "remedy": "", "track_improvement": false, "loss_fen": 0})).await?;
    office
        .ok(
            "sales",
            &id,
            json!({"action": "communicate", "result": "客户接受说明"}),
        )
        .await?;
    office
        .ok("head", &id, json!({"action": "head_review"}))
        .await?;
    office
        .ok(
            "head",
            &id,
            json!({"action": "record_head_visit", "visitor": "部长亲自拜访"}),
        )
        .await?;
    office.ok("gmo", &id, json!({"action": "close"})).await?;
    for (path, body) in [
        (
            "returns",
            json!({"approved_quantity": 1, "reason": "r", "handling": "h", "basis": "b"}),
        ),
        ("allowances", json!({"amount": "1.00"})),
    ] {
        let (status, answer) = office
            .call(
                "sales",
                Method::POST,
                &format!("/api/complaints/{id}/{path}"),
                Some(body),
            )
            .await?;
        assert_eq!(
            (status, answer["error"]["code"].clone()),
            (409, json!("complaint_not_valid")),
            "{path}: {answer}"
        );
    }
    server.finish().await;
    Ok(())
}
fieldloop_e2e::both_engines!(not_valid_test, not_valid_takes_no_settlement);

/// A complaint form filled on a salesperson's device (not synced yet).
async fn fill_offline(
    dev: &fieldloop_e2e::TestDevice,
    fields: &[(&str, fieldloop_client_core::model::FieldValue)],
) -> anyhow::Result<uuid::Uuid> {
    let author = fieldloop_client_core::model::ownership::Author::Device(Role::Salesperson);
    let form = dev
        .store()
        .create(
            fieldloop_client_core::model::DocKind::Complaint,
            "wuhan",
            fieldloop_e2e::now(),
        )
        .await?;
    dev.store()
        .edit(form.id(), author, fields, fieldloop_e2e::now())
        .await?;
    Ok(form.id())
}

/// A complaint filed offline on a salesperson's device becomes a case when it syncs.
async fn offline_filing(server: TestServer) -> anyhow::Result<()> {
    let office = Office::new(&server).await?;
    let dev = server.device("sales").await?;
    use fieldloop_client_core::model::FieldValue as V;
    let author = fieldloop_client_core::model::ownership::Author::Device(Role::Salesperson);
    let now = fieldloop_client_core::clock::device_now() - Duration::minutes(5);
    let doc_id = fill_offline(
        &dev,
        &[
            ("form.customer_name", V::Text("客户甲".into())),
            ("form.order_number", V::Text("SO-9".into())),
            ("form.quantity", V::Int(1)),
            ("form.claimed_fen", V::Int(50_000)),
            ("form.submitted_at", V::Text(now.to_rfc3339())),
        ],
    )
    .await?;
    let doc = dev.store().load(doc_id).await?.expect("filled");
    assert!(
        dev.store()
            .edit(
                doc.id(),
                author,
                &[("form.quantity", V::Int(-1))],
                fieldloop_e2e::now()
            )
            .await
            .is_err(),
        "negative quantity"
    );
    dev.sync().await?;
    let (status, case) = office
        .call(
            "quality",
            Method::GET,
            &format!("/api/complaints/{}", doc.id()),
            None,
        )
        .await?;
    assert_eq!(status, 200, "{case}");
    assert_eq!(case["state"], "submitted");
    let body = office
        .ok(
            "quality",
            &doc.id().to_string(),
            json!({"action": "accept"}),
        )
        .await?;
    // The number reaches the salesperson's device on its next sync.
    dev.sync().await?;
    let local = dev.store().load(doc.id()).await?.unwrap();
    assert_eq!(
        local.get("case.number"),
        Some(V::Text(body["number"].as_str().unwrap().into()))
    );

    // §4.6.8 offline: a new form filed because the customer rejected a conclusion follows a
    // closed case. Against the open case above, or a case that does not exist, it is refused
    // (kept on the device with the reason); against a closed one it is filed and linked.
    let follow_up = |original: String| {
        let dev = &dev;
        async move {
            let id = fill_offline(
                dev,
                &[
                    ("form.customer_name", V::Text("客户甲".into())),
                    ("form.defect", V::Text("结论不接受".into())),
                    ("form.original_case", V::Text(original)),
                    ("form.submitted_at", V::Text(now.to_rfc3339())),
                ],
            )
            .await?;
            let report = dev.sync().await?;
            anyhow::Ok((id, report))
        }
    };
    for original in [doc.id().to_string(), uuid::Uuid::new_v4().to_string()] {
        let (id, report) = follow_up(original.clone()).await?;
        let refused = report.refused.iter().find(|(r, _)| *r == id);
        assert!(
            refused.is_some_and(|(_, why)| why.path == "form.original_case"),
            "{original}: {:?}",
            report.refused
        );
        let (status, _) = office
            .call(
                "quality",
                Method::GET,
                &format!("/api/complaints/{id}"),
                None,
            )
            .await?;
        assert_eq!(status, 404, "no case was filed");
    }
    let closed = office.file("800").await?;
    office.run_to_close(&closed, 80_000, "head").await?;
    let (id, report) = follow_up(closed.clone()).await?;
    assert!(
        !report.refused.iter().any(|(r, _)| *r == id),
        "{:?}",
        report.refused
    );
    let (_, new_case) = office
        .call(
            "quality",
            Method::GET,
            &format!("/api/complaints/{id}"),
            None,
        )
        .await?;
    assert_eq!(new_case["case"]["original"], json!(closed), "{new_case}");
    let (_, original) = office
        .call(
            "quality",
            Method::GET,
            &format!("/api/complaints/{closed}"),
            None,
        )
        .await?;
    assert_eq!(original["case"]["followups"], json!([id]), "{original}");
    // A second rejection of the same case from the phone is refused with its reason, and the
    // original keeps its one follow-up; so is one filed at the office.
    let (second, report) = follow_up(closed.clone()).await?;
    let refused = report.refused.iter().find(|(r, _)| *r == second);
    assert!(
        refused.is_some_and(|(_, why)| why.path == "form.original_case"),
        "{:?}",
        report.refused
    );
    let (status, again) = office
        .call(
            "sales",
            Method::POST,
            &format!("/api/complaints/{closed}/reopen"),
            None,
        )
        .await?;
    assert_eq!(status, 409, "{again}");
    let (_, original) = office
        .call(
            "quality",
            Method::GET,
            &format!("/api/complaints/{closed}"),
            None,
        )
        .await?;
    assert_eq!(original["case"]["followups"], json!([id]), "{original}");
    // Two rejections of one closed case at the same moment: one is filed, the other refused.
    let contested = office.file("600").await?;
    office.run_to_close(&contested, 60_000, "head").await?;
    let path = format!("/api/complaints/{contested}/reopen");
    let (a, b) = tokio::join!(
        office.call("sales", Method::POST, &path, None),
        office.call("sales", Method::POST, &path, None)
    );
    let mut statuses = [a?.0, b?.0];
    statuses.sort();
    assert_eq!(statuses, [201, 409]);
    let (_, original) = office
        .call(
            "quality",
            Method::GET,
            &format!("/api/complaints/{contested}"),
            None,
        )
        .await?;
    assert_eq!(
        original["case"]["followups"].as_array().map(Vec::len),
        Some(1),
        "{original}"
    );
    server.finish().await;
    Ok(())
}
fieldloop_e2e::both_engines!(offline_filing_test, offline_filing);
