//! Deadline alerts as the departments get them: with the business clock moved through a case's
//! life, each reminder and escalation reaches the right robot once, at its moment, in Chinese
//! with the number, what is due, the last day and who acts; a robot that says "too fast" delays
//! and batches without loss; a robot down for an hour gets everything after; two instances on
//! one PostgreSQL send each message once; rows claimed by a server that died are sent after;
//! bad channels are refused when saved. The servers' own tick is not running: each test calls
//! `tick` itself, so every moment is the test's.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use fieldloop_client_core::model::Role;
use fieldloop_e2e::office::Office;
use fieldloop_e2e::robots::{Robot, RobotKind, SmtpSink};
use fieldloop_e2e::{Engine, TestServer, call, login_token};
use fieldloop_server::ManualClock;
use fieldloop_server::app::alerts;
use reqwest::Method;
use serde_json::{Value, json};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).expect("a time").to_utc()
}

/// The alert ids (提醒编号) in what a robot received, one per alert.
fn ids(texts: &[String]) -> Vec<String> {
    texts
        .iter()
        .flat_map(|t| {
            t.lines()
                .filter_map(|l| l.strip_prefix("提醒编号:"))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

async fn admin(server: &TestServer) -> anyhow::Result<String> {
    server.user("boss", Role::Admin, None).await?;
    login_token(&server.base(), "boss").await
}

async fn add_channel(
    server: &TestServer,
    token: &str,
    body: Value,
) -> anyhow::Result<(u16, Value)> {
    call(
        Method::POST,
        &format!("{}/api/alerts/channels", server.base()),
        token,
        Some(body),
    )
    .await
}

async fn alerts_follow_a_case(engine: Engine) -> anyhow::Result<()> {
    let clock = Arc::new(ManualClock::new(at("2026-11-03T15:00:00+08:00")));
    let Some(server) = TestServer::start_clocked(engine, clock.clone()).await? else {
        return Ok(());
    };
    let boss = admin(&server).await?;
    let production = Robot::start(RobotKind::WeCom, 20).await?;
    let gm = Robot::start(RobotKind::DingTalk, 20).await?;

    // Bad channels, each refused with a reason and nothing saved: plain http to another
    // machine, DingTalk without its secret, a department that does not exist, a robot kind
    // that does not exist, mail with no relay set, a webhook that is not a URL.
    for body in [
        json!({"department": "production", "kind": "wecom", "target": "http://qyapi.example.com/cgi-bin/webhook/send?key=k"}),
        json!({"department": "gm_office", "kind": "dingtalk", "target": gm.webhook()}),
        json!({"department": "logistics", "kind": "wecom", "target": production.webhook()}),
        json!({"department": "production", "kind": "telegram", "target": production.webhook()}),
        json!({"department": "production", "kind": "email", "target": "chief@example.com"}),
        json!({"department": "production", "kind": "wecom", "target": "not a url"}),
        json!({"department": "production", "audience": "boss", "kind": "wecom", "target": production.webhook()}),
    ] {
        let (status, answer) = add_channel(&server, &boss, body.clone()).await?;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(!answer["error"]["message"].as_str().unwrap_or("").is_empty());
    }
    let (status, answer) = add_channel(
        &server,
        &boss,
        json!({"department": "production", "kind": "wecom", "target": production.webhook()}),
    )
    .await?;
    assert_eq!(status, 201, "{answer}");
    let (status, answer) = add_channel(&server, &boss, json!({"department": "gm_office", "kind": "dingtalk", "target": gm.webhook(), "secret": gm.secret})).await?;
    assert_eq!(status, 201, "{answer}");
    assert!(
        answer.get("secret").is_none(),
        "a secret is never shown back"
    );

    let office = Office::new(&server).await?;
    let case = office.run_to_countermeasure().await?;
    let (_, body) = office
        .call(
            "quality",
            Method::GET,
            &format!("/api/complaints/{case}"),
            None,
        )
        .await?;
    let number = body["number"].as_str().unwrap_or_default().to_string();
    assert!(!number.is_empty(), "{body}");

    let tick = || async {
        alerts::tick(&server.state)
            .await
            .map_err(|e| anyhow::anyhow!(e.message))
    };
    // Started 3 Nov 15:00, due 6 Nov 00:00: half the time gone at 4 Nov 19:30.
    clock.set(at("2026-11-04T19:29:59+08:00"));
    tick().await?;
    assert!(
        production.received().is_empty(),
        "{:?}",
        production.received()
    );
    clock.set(at("2026-11-04T19:30:00+08:00"));
    tick().await?;
    tick().await?;
    let got = production.received();
    assert_eq!(got.len(), 1, "once, however often the tick runs: {got:?}");
    let text = &got[0];
    for part in [
        format!("【提醒】{number} 处理对策"),
        "最后期限:2026-11-05(还剩 1 天)".into(),
        "须办理:生产部".into(),
        format!("/web/complaints/{case}"),
    ] {
        assert!(text.contains(&part), "{part} in {text}");
    }
    // Two hours before the limit, again; at the limit, the head (production has no head's
    // channel: its group); a day after, the GM office's robot.
    clock.set(at("2026-11-05T22:00:00+08:00"));
    tick().await?;
    assert_eq!(production.received().len(), 2);
    clock.set(at("2026-11-06T00:00:00+08:00"));
    tick().await?;
    let got = production.received();
    assert_eq!(got.len(), 3);
    assert!(
        got[2].contains("【逾期】") && got[2].contains("通知对象:部门负责人"),
        "{}",
        got[2]
    );
    assert!(
        !gm.received().iter().any(|t| t.contains("处理对策")),
        "not the GM office yet"
    );
    clock.set(at("2026-11-07T00:00:00+08:00"));
    tick().await?;
    let to_gm: Vec<String> = gm
        .received()
        .into_iter()
        .filter(|t| t.contains("处理对策"))
        .collect();
    assert_eq!(to_gm.len(), 1, "{:?}", gm.received());
    assert!(to_gm[0].contains("已逾期 1 天"), "{}", to_gm[0]);
    assert_eq!(gm.refused(), 0, "every DingTalk request was signed right");
    let all = ids(&production.received());
    assert_eq!(
        all.len(),
        HashSet::<&String>::from_iter(&all).len(),
        "no repeats"
    );

    // The bell: production's people have the alerts, unread, and can mark them read.
    let (status, mine) = office
        .call("production", Method::GET, "/api/alerts/mine", None)
        .await?;
    assert_eq!(status, 200);
    let unread = mine
        .as_array()
        .map(|a| a.iter().filter(|i| i["read"] == false).count())
        .unwrap_or(0);
    assert!(unread >= 3, "{mine}");
    let (status, _) = office
        .call(
            "production",
            Method::POST,
            "/api/alerts/mine/read",
            Some(json!({})),
        )
        .await?;
    assert_eq!(status, 204);
    let (_, mine) = office
        .call("production", Method::GET, "/api/alerts/mine", None)
        .await?;
    assert!(
        mine.as_array()
            .is_some_and(|a| a.iter().all(|i| i["read"] == true))
    );
    let (status, _) = office
        .call(
            "production",
            Method::POST,
            "/api/alerts/mine/read",
            Some(json!({"key": "no-such-alert"})),
        )
        .await?;
    assert_eq!(status, 404);
    // The metrics count them by channel.
    let metrics = fieldloop_e2e::http()
        .get(format!("{}/metrics", server.base()))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        metrics.contains("fieldloop_alerts_total{channel=\"wecom\",outcome=\"sent\"} 3"),
        "{metrics}"
    );
    server.finish().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_follow_a_case_sqlite() -> anyhow::Result<()> {
    alerts_follow_a_case(Engine::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_follow_a_case_postgres() -> anyhow::Result<()> {
    alerts_follow_a_case(Engine::Postgres).await
}

/// Five cases due at once on a robot that says "too fast": nothing is lost, the robot is left
/// alone for its pause, and then everything arrives in one digest. DingTalk's ten-minute block
/// is waited out the same way. Mail goes through an SMTP server.
async fn rate_limits_and_mail(engine: Engine) -> anyhow::Result<()> {
    let clock = Arc::new(ManualClock::new(at("2026-11-03T15:00:00+08:00")));
    let smtp = SmtpSink::start().await?;
    let url = smtp.url();
    let Some(server) = TestServer::start_clocked_with(engine, clock.clone(), move |c| {
        c.access_ttl_secs = 366 * 86_400;
        c.refresh_ttl_secs = 366 * 86_400;
        c.smtp_url = Some(url.clone());
        c.mail_from = "Fieldloop <alerts@example.com>".into();
    })
    .await?
    else {
        return Ok(());
    };
    let boss = admin(&server).await?;
    let wecom = Robot::start(RobotKind::WeCom, 0).await?;
    let ding = Robot::start(RobotKind::DingTalk, 0).await?;
    for body in [
        json!({"department": "production", "kind": "wecom", "target": wecom.webhook()}),
        json!({"department": "production", "kind": "dingtalk", "target": ding.webhook(), "secret": ding.secret}),
        json!({"department": "production", "kind": "email", "target": "chief@example.com, deputy@example.com"}),
    ] {
        let (status, answer) = add_channel(&server, &boss, body).await?;
        assert_eq!(status, 201, "{answer}");
    }
    let office = Office::new(&server).await?;
    for _ in 0..5 {
        office.run_to_countermeasure().await?;
    }
    clock.set(at("2026-11-04T19:30:00+08:00"));
    let tick = || async {
        alerts::tick(&server.state)
            .await
            .map_err(|e| anyhow::anyhow!(e.message))
    };
    tick().await?;
    // Both robots refused (limit 0): nothing received, nothing lost.
    assert!(wecom.received().is_empty() && ding.received().is_empty());
    assert_eq!(
        (wecom.refused(), ding.refused()),
        (1, 1),
        "one try each, then left alone"
    );
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "five alerts in one digest mail");
    assert_eq!(mails[0].to, vec!["chief@example.com", "deputy@example.com"]);
    assert_eq!(ids(&[mails[0].data.clone()]).len(), 5, "{}", mails[0].data);
    let (_, queued) = call(
        Method::GET,
        &format!("{}/api/alerts/outbox?state=queued", server.base()),
        &boss,
        None,
    )
    .await?;
    assert_eq!(queued.as_array().map(Vec::len), Some(10), "{queued}");
    // Within WeCom's minute, nothing is tried again.
    clock.advance(Duration::seconds(30));
    tick().await?;
    assert_eq!(wecom.refused(), 1);
    // The robots take messages again; WeCom's minute has passed, DingTalk's ten have not.
    for robot in [&wecom, &ding] {
        robot.set_limit(20);
        robot.forget_window();
    }
    clock.advance(Duration::seconds(31));
    tick().await?;
    let got = wecom.received();
    assert_eq!(got.len(), 1, "one digest: {got:?}");
    assert!(
        got[0].starts_with("【Fieldloop 提醒汇总】共 5 条"),
        "{}",
        got[0]
    );
    assert_eq!(ids(&got).len(), 5);
    assert!(
        ding.received().is_empty(),
        "DingTalk's block lasts ten minutes"
    );
    clock.advance(Duration::minutes(10));
    tick().await?;
    assert_eq!(ids(&ding.received()).len(), 5, "{:?}", ding.received());
    server.finish().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_mail_sqlite() -> anyhow::Result<()> {
    rate_limits_and_mail(Engine::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_mail_postgres() -> anyhow::Result<()> {
    rate_limits_and_mail(Engine::Postgres).await
}

/// A robot down for an hour gets everything after it comes back; one that never does shows
/// its messages to the admin as failed after the retries. Rows claimed by a server that died
/// before sending are sent once the claim has lapsed.
async fn outages(engine: Engine) -> anyhow::Result<()> {
    let clock = Arc::new(ManualClock::new(at("2026-11-03T15:00:00+08:00")));
    let Some(server) = TestServer::start_clocked(engine, clock.clone()).await? else {
        return Ok(());
    };
    let boss = admin(&server).await?;
    let robot = Robot::start(RobotKind::WeCom, 20).await?;
    let (_, channel) = add_channel(
        &server,
        &boss,
        json!({"department": "production", "kind": "wecom", "target": robot.webhook()}),
    )
    .await?;
    let channel: uuid::Uuid = channel["id"].as_str().unwrap_or_default().parse()?;
    let office = Office::new(&server).await?;
    office.run_to_countermeasure().await?;
    let tick = || async {
        alerts::tick(&server.state)
            .await
            .map_err(|e| anyhow::anyhow!(e.message))
    };

    // Down for an hour from the first reminder.
    robot.set_down(true);
    clock.set(at("2026-11-04T19:30:00+08:00"));
    for _ in 0..12 {
        tick().await?;
        clock.advance(Duration::minutes(5));
    }
    assert!(robot.received().is_empty());
    assert!(
        robot.refused() >= 3,
        "retried while down: {}",
        robot.refused()
    );
    robot.set_down(false);
    for _ in 0..24 {
        tick().await?;
        if !robot.received().is_empty() {
            break;
        }
        clock.advance(Duration::minutes(5));
    }
    assert_eq!(
        ids(&robot.received()).len(),
        1,
        "delivered after the outage"
    );

    // A server that claimed the next reminder and died: nothing is sent while its claim
    // lasts, then it is sent (the receiver can tell a repeat by its id).
    clock.set(at("2026-11-05T22:00:00+08:00"));
    alerts::sweep(&server.state)
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    let claimed = server
        .state
        .db
        .claim_alerts(channel, server.state.now_ms(), 10)
        .await?;
    assert_eq!(claimed.len(), 1);
    tick().await?;
    assert_eq!(robot.received().len(), 1, "the claim holds");
    clock.advance(Duration::seconds(61));
    tick().await?;
    assert_eq!(robot.received().len(), 2, "sent after the claim lapsed");

    // Down for good: given up after the retries, and shown as failed.
    robot.set_down(true);
    clock.set(at("2026-11-06T00:00:00+08:00"));
    for _ in 0..40 {
        tick().await?;
        clock.advance(Duration::minutes(30));
    }
    let (status, failed) = call(
        Method::GET,
        &format!("{}/api/alerts/outbox?state=failed", server.base()),
        &boss,
        None,
    )
    .await?;
    assert_eq!(status, 200);
    let rows = failed.as_array().cloned().unwrap_or_default();
    assert!(!rows.is_empty(), "{failed}");
    assert!(
        rows.iter()
            .all(|r| r["attempts"] == 8 && r["last_error"].is_string()),
        "{failed}"
    );
    server.finish().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outages_sqlite() -> anyhow::Result<()> {
    outages(Engine::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outages_postgres() -> anyhow::Result<()> {
    outages(Engine::Postgres).await
}

/// Two server instances on one PostgreSQL database, both ticking at once, again and again:
/// each alert reaches the robot once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_send_each_alert_once() -> anyhow::Result<()> {
    let clock = Arc::new(ManualClock::new(at("2026-11-03T15:00:00+08:00")));
    let Some(first) = TestServer::start_clocked(Engine::Postgres, clock.clone()).await? else {
        return Ok(());
    };
    let second = first.another_instance().await?;
    let boss = admin(&first).await?;
    let robot = Robot::start(RobotKind::WeCom, 1000).await?;
    let (status, _) = add_channel(
        &first,
        &boss,
        json!({"department": "production", "kind": "wecom", "target": robot.webhook()}),
    )
    .await?;
    assert_eq!(status, 201);
    let office = Office::new(&first).await?;
    for _ in 0..12 {
        office.run_to_countermeasure().await?;
    }
    for moment in [
        "2026-11-04T19:30:00+08:00",
        "2026-11-05T22:00:00+08:00",
        "2026-11-06T00:00:00+08:00",
    ] {
        clock.set(at(moment));
        for _ in 0..3 {
            let (a, b) = tokio::join!(alerts::tick(&first.state), alerts::tick(&second.state));
            a.map_err(|e| anyhow::anyhow!(e.message))?;
            b.map_err(|e| anyhow::anyhow!(e.message))?;
        }
    }
    let all = ids(&robot.received());
    assert_eq!(all.len(), 36, "12 cases x 3 rungs");
    assert_eq!(HashSet::<&String>::from_iter(&all).len(), 36, "each once");
    second.finish().await;
    first.finish().await;
    Ok(())
}

/// The service side's clocks: a request not dispatched on its day reaches the factory
/// director's robot two hours before the day ends and as the next day's priority, and stops
/// once dispatched (§2.8); severe feedback reaches marketing at once and stops once reported
/// in writing to the head (§3.3).
async fn service_clocks(engine: Engine) -> anyhow::Result<()> {
    use fieldloop_client_core::model::ownership::Author;
    use fieldloop_client_core::model::{DocKind, FieldValue as V};
    let clock = Arc::new(ManualClock::new(at("2026-11-03T10:00:00+08:00")));
    let Some(server) = TestServer::start_clocked(engine, clock.clone()).await? else {
        return Ok(());
    };
    let boss = admin(&server).await?;
    let people = fieldloop_e2e::office::People::sign_in(
        &server,
        &[
            ("clerk", Role::Clerk, Some("wuhan")),
            ("director", Role::FactoryDirector, None),
            ("sales", Role::Salesperson, Some("wuhan")),
            ("tech", Role::Technician, Some("wuhan")),
        ],
    )
    .await?;
    let dispatch = Robot::start(RobotKind::WeCom, 20).await?;
    let marketing = Robot::start(RobotKind::WeCom, 20).await?;
    for (department, robot) in [("dispatch", &dispatch), ("marketing", &marketing)] {
        let (status, answer) = add_channel(
            &server,
            &boss,
            json!({"department": department, "kind": "wecom", "target": robot.webhook()}),
        )
        .await?;
        assert_eq!(status, 201, "{answer}");
    }
    let customer = people
        .ok(
            "clerk",
            Method::POST,
            "/api/customers",
            Some(json!({"name": "武汉某工地", "address": "武汉市江夏区", "phone": "027-1234567"})),
        )
        .await?;
    let product = people
        .ok("clerk", Method::POST, "/api/products", Some(json!({"customer_id": customer["id"], "name": "搅拌机", "model": "BC-350", "serial": "SN-001", "purchase_date": "2026-06-01", "purchase_place": "武汉", "warranty_months": 12})))
        .await?;
    let visit = people
        .ok("clerk", Method::POST, "/api/visits", Some(json!({"product_id": product["id"], "category": "C", "channel": "phone", "description": "mixer drum does not turn"})))
        .await?;
    let visit = visit["id"].as_str().unwrap_or_default().to_string();
    let tick = || async {
        alerts::tick(&server.state)
            .await
            .map_err(|e| anyhow::anyhow!(e.message))
    };
    let about_dispatch = |r: &Robot| {
        r.received()
            .into_iter()
            .filter(|t| t.contains("派工"))
            .count()
    };

    clock.set(at("2026-11-03T21:59:00+08:00"));
    tick().await?;
    assert_eq!(about_dispatch(&dispatch), 0);
    clock.set(at("2026-11-03T22:00:00+08:00"));
    tick().await?;
    assert_eq!(about_dispatch(&dispatch), 1);
    clock.set(at("2026-11-04T00:00:00+08:00"));
    tick().await?;
    let got = dispatch.received();
    assert_eq!(about_dispatch(&dispatch), 2, "{got:?}");
    assert!(
        got[1].contains("【逾期】武汉某工地 服务请求 派工") && got[1].contains("须办理:厂长(派工)"),
        "{}",
        got[1]
    );
    let (_, mine) = people
        .call("director", Method::GET, "/api/alerts/mine", None)
        .await?;
    assert_eq!(
        mine.as_array().map(Vec::len),
        Some(2),
        "the director's bell: {mine}"
    );
    people
        .ok(
            "director",
            Method::POST,
            &format!("/api/visits/{visit}/dispatch"),
            Some(json!({"technician_id": people.ids["tech"]})),
        )
        .await?;

    // Severe feedback from a salesperson's phone.
    let phone = server.device("sales").await?;
    let doc = phone.store().create(DocKind::Feedback, "wuhan", 0).await?;
    phone
        .store()
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
    phone.sync().await?;
    clock.advance(Duration::minutes(30));
    tick().await?;
    let severe = |r: &Robot| {
        r.received()
            .into_iter()
            .filter(|t| t.contains("严重客户意见"))
            .count()
    };
    assert_eq!(severe(&marketing), 1, "{:?}", marketing.received());
    people
        .ok(
            "sales",
            Method::POST,
            &format!("/api/feedback/{}/report", doc.id()),
            Some(json!({})),
        )
        .await?;
    clock.set(at("2026-11-07T00:00:00+08:00"));
    tick().await?;
    assert_eq!(about_dispatch(&dispatch), 2, "dispatched: no more");
    assert_eq!(severe(&marketing), 1, "reported: no more");
    server.finish().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_clocks_sqlite() -> anyhow::Result<()> {
    service_clocks(Engine::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_clocks_postgres() -> anyhow::Result<()> {
    service_clocks(Engine::Postgres).await
}

/// However many alerts are due and however many instances send them, a channel gets at most
/// 20 messages a minute (one message is one claim); the rest wait for the next minute.
async fn twenty_a_minute(server: TestServer) -> anyhow::Result<()> {
    let boss = admin(&server).await?;
    let robot = Robot::start(RobotKind::WeCom, 1000).await?;
    let (_, channel) = add_channel(
        &server,
        &boss,
        json!({"department": "production", "kind": "wecom", "target": robot.webhook()}),
    )
    .await?;
    let channel: uuid::Uuid = channel["id"].as_str().unwrap_or_default().parse()?;
    let rows: Vec<(String, uuid::Uuid, String, String)> = (0..30)
        .map(|i| {
            (
                format!("test:{i}"),
                channel,
                format!("t{i}"),
                format!("b{i}"),
            )
        })
        .collect();
    let now = server.state.now_ms();
    server.state.db.enqueue_alerts(&rows, &[], now).await?;
    let db = &server.state.db;
    let mut claimed = 0;
    for _ in 0..30 {
        let rows = db.claim_alerts(channel, now, 1).await?;
        db.alerts_sent(&rows, now).await?;
        claimed += rows.len();
    }
    assert_eq!(claimed, 20, "twenty messages in the minute");
    claimed += db.claim_alerts(channel, now + 59_999, 1).await?.len();
    assert_eq!(claimed, 20, "still the same minute");
    for _ in 0..30 {
        claimed += db.claim_alerts(channel, now + 60_000, 1).await?.len();
    }
    assert_eq!(claimed, 30, "the rest in the next minute");
    server.finish().await;
    Ok(())
}

fieldloop_e2e::both_engines!(twenty_a_minute_test, twenty_a_minute);
