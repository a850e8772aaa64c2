//! What an operator watches: `/metrics` in Prometheus' text format (requests by route pattern,
//! sync documents by outcome, merge time, the pool, complaint steps open and overdue by
//! department on the business clock), and who may read it.

use std::sync::Arc;

use chrono::DateTime;
use fieldloop_client_core::model::{DocKind, Role};
use fieldloop_e2e::office::Office;
use fieldloop_e2e::{Engine, TestServer, call, login_token, now};
use fieldloop_server::ManualClock;
use reqwest::Method;

/// The value of the series `name{labels}` (labels as Prometheus writes them), 0 when absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

async fn scrape(base: &str, token: Option<&str>) -> anyhow::Result<(u16, String)> {
    let mut req = fieldloop_e2e::http().get(format!("{base}/metrics"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await?;
    Ok((resp.status().as_u16(), resp.text().await?))
}

async fn metrics_follow_the_work(engine: Engine) -> anyhow::Result<()> {
    let t0 = DateTime::parse_from_rfc3339("2026-11-03T15:00:00+08:00")?.to_utc();
    let clock = Arc::new(ManualClock::new(t0));
    let Some(server) = TestServer::start_clocked(engine, clock.clone()).await? else {
        return Ok(());
    };
    let base = server.base();
    let (status, first) = scrape(&base, None).await?;
    assert_eq!(status, 200, "{first}");

    // A technician's visit, synced: one document accepted, one merge timed.
    server.user("li", Role::Technician, Some("wuhan")).await?;
    let phone = server.device("li").await?;
    let id = phone
        .store()
        .create(DocKind::Visit, "wuhan", now())
        .await?
        .id();
    phone.sync().await?;
    let token = login_token(&base, "li").await?;
    let (status, _) = call(Method::GET, &format!("{base}/api/docs/{id}"), &token, None).await?;
    assert_eq!(status, 200);

    // A complaint accepted on 3 November: its steps open; ten days on, the case is overdue for
    // the GM office (§4.7.1: six days).
    let office = Office::new(&server).await?;
    let case = office.file("0").await?;
    office
        .ok("quality", &case, serde_json::json!({"action": "accept"}))
        .await?;
    let (_, text) = scrape(&base, None).await?;
    let open: f64 = [
        "marketing",
        "quality",
        "production",
        "rnd",
        "gm_office",
        "finance",
        "warehouse",
    ]
    .iter()
    .map(|d| {
        value(
            &text,
            &format!("fieldloop_complaint_steps_open{{department=\"{d}\"}}"),
        )
    })
    .sum();
    assert!(open >= 1.0, "a step is under way:\n{text}");
    assert_eq!(
        value(
            &text,
            "fieldloop_complaint_steps_overdue{department=\"gm_office\"}"
        ),
        0.0
    );
    clock.set(t0 + chrono::Duration::days(10));
    let (_, text) = scrape(&base, None).await?;
    assert!(
        value(
            &text,
            "fieldloop_complaint_steps_overdue{department=\"gm_office\"}"
        ) >= 1.0,
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "fieldloop_sync_documents_total{outcome=\"accepted\"}"
        ),
        1.0,
        "{text}"
    );
    assert!(
        value(&text, "fieldloop_sync_merge_seconds_count") >= 1.0,
        "{text}"
    );
    // Requests counted under the route's pattern, never under a record's id.
    assert!(
        value(
            &text,
            "fieldloop_http_requests_total{method=\"GET\",route=\"/api/docs/{id}\",status=\"200\"}"
        ) >= 1.0,
        "{text}"
    );
    assert!(!text.contains(&id.to_string()), "no id in a label");
    assert!(
        text.contains("# TYPE fieldloop_http_requests_total counter"),
        "{text}"
    );
    assert!(
        value(&text, "fieldloop_sign_ins_total{outcome=\"ok\"}") >= 2.0,
        "{text}"
    );
    assert!(
        text.contains("fieldloop_db_pool_connections{state=\"in_use\"}"),
        "{text}"
    );
    server.finish().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_the_work_sqlite() -> anyhow::Result<()> {
    metrics_follow_the_work(Engine::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_the_work_postgres() -> anyhow::Result<()> {
    metrics_follow_the_work(Engine::Postgres).await
}

/// With `FIELDLOOP_METRICS_TOKEN` set, `/metrics` wants it, from this machine too. Tried: no
/// token, a wrong one, a `Basic` header; each refused in the API's error shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_want_the_token_when_one_is_set() -> anyhow::Result<()> {
    let secret = "a-token-for-the-scraper-0123456789";
    let Some(server) = TestServer::start_with(Engine::Sqlite, |c| {
        c.metrics_token = Some(secret.into());
    })
    .await?
    else {
        return Ok(());
    };
    let base = server.base();
    for token in [None, Some("a-wrong-token-of-the-same-size-0123")] {
        let (status, body) = scrape(&base, token).await?;
        assert_eq!(status, 403, "{body}");
        let error: serde_json::Value = serde_json::from_str(&body)?;
        assert_eq!(error["error"]["code"], "forbidden");
    }
    let basic = fieldloop_e2e::http()
        .get(format!("{base}/metrics"))
        .header("authorization", format!("Basic {secret}"))
        .send()
        .await?;
    assert_eq!(basic.status().as_u16(), 403);
    let (status, text) = scrape(&base, Some(secret)).await?;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("fieldloop_http_requests_total"), "{text}");
    server.finish().await;
    Ok(())
}
