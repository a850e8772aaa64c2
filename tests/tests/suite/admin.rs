//! Accounts and devices managed by an admin, through the API, on both engines: a password
//! reset, an account disabled and enabled again, a lost phone revoked, each effective on the
//! next request and written to the audit log.

use fieldloop_client_core::model::{DocKind, Role};
use fieldloop_e2e::{TestServer, both_engines, call, login_token, now};
use reqwest::Method;
use serde_json::json;

async fn accounts_and_devices(server: TestServer) -> anyhow::Result<()> {
    let admin = server.user("boss", Role::Admin, None).await?;
    let tech = server.user("li", Role::Technician, Some("wuhan")).await?;
    server.user("clerk", Role::Clerk, Some("wuhan")).await?;
    let base = server.base();
    let boss = login_token(&base, "boss").await?;
    let api = |method: Method, path: String, token: String, body: Option<serde_json::Value>| {
        let base = base.clone();
        async move { call(method, &format!("{base}{path}"), &token, body).await }
    };
    let lost = server.device("li").await?;
    let kept = server.device("li").await?;
    let old_token = login_token(&base, "li").await?;

    // Bad input first, each refused and changing nothing: a clerk acting, an unknown account,
    // a password too short, an admin disabling themselves or resetting their own password, an
    // unknown device.
    let clerk = login_token(&base, "clerk").await?;
    let tech_id = tech.id.to_string();
    let refusals = [
        (
            clerk.clone(),
            format!("/api/users/{tech_id}/disable"),
            None,
            403,
        ),
        (
            boss.clone(),
            format!("/api/users/{}/disable", uuid::Uuid::now_v7()),
            None,
            404,
        ),
        (
            boss.clone(),
            format!("/api/users/{tech_id}/password"),
            Some(json!({"password": "short"})),
            400,
        ),
        (
            boss.clone(),
            format!("/api/users/{}/disable", admin.id),
            None,
            400,
        ),
        (
            boss.clone(),
            format!("/api/users/{}/password", admin.id),
            Some(json!({"password": "an admin resetting their own password"})),
            400,
        ),
        (
            boss.clone(),
            format!("/api/devices/{}/revoke", uuid::Uuid::now_v7()),
            None,
            404,
        ),
    ];
    for (token, path, body, status) in refusals {
        let (got, answer) = api(Method::POST, path.clone(), token, body).await?;
        assert_eq!(got, status, "{path}: {answer}");
    }
    let (status, _) = api(Method::GET, "/api/me".into(), old_token.clone(), None).await?;
    assert_eq!(status, 200, "nothing changed for the technician yet");

    // A lost phone: revoked, refused on its next sync; the other phone goes on.
    let (status, devices) = api(
        Method::GET,
        format!("/api/users/{tech_id}/devices"),
        boss.clone(),
        None,
    )
    .await?;
    assert_eq!(status, 200, "{devices}");
    assert_eq!(devices.as_array().map(Vec::len), Some(2));
    let lost_id = lost
        .store()
        .meta_get("device_id")
        .await?
        .expect("registered");
    let (status, body) = api(
        Method::POST,
        format!("/api/devices/{lost_id}/revoke"),
        boss.clone(),
        None,
    )
    .await?;
    assert_eq!(status, 204, "{body}");
    let (status, body) = api(
        Method::POST,
        format!("/api/devices/{lost_id}/revoke"),
        boss.clone(),
        None,
    )
    .await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (409, json!("already_done"))
    );
    lost.store().create(DocKind::Visit, "wuhan", now()).await?;
    let refused = lost.sync().await;
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.to_string().contains("revoked")),
        "{refused:?}"
    );
    kept.store().create(DocKind::Visit, "wuhan", now()).await?;
    assert_eq!(kept.sync().await?.pushed, 1);

    // A password reset: the old password and every session end at once.
    let (status, body) = api(
        Method::POST,
        format!("/api/users/{tech_id}/password"),
        boss.clone(),
        Some(json!({"password": "a new password for li after the reset"})),
    )
    .await?;
    assert_eq!(status, 204, "{body}");
    let (status, body) = api(Method::GET, "/api/me".into(), old_token.clone(), None).await?;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (401, json!("session_revoked"))
    );
    let http = fieldloop_e2e::http();
    let login = |password: &'static str| {
        let http = http.clone();
        let url = format!("{}/api/auth/login", server.base());
        async move {
            let resp = http
                .post(url)
                .json(&json!({"username": "li", "password": password}))
                .send()
                .await?;
            anyhow::Ok(resp.status().as_u16())
        }
    };
    assert_eq!(login("li-password-for-tests").await?, 401);
    assert_eq!(login("a new password for li after the reset").await?, 200);

    // Disabled: refused on the next request; enabled again: signs in.
    let (status, _) = api(
        Method::POST,
        format!("/api/users/{tech_id}/disable"),
        boss.clone(),
        None,
    )
    .await?;
    assert_eq!(status, 204);
    assert_eq!(login("a new password for li after the reset").await?, 401);
    let (status, _) = api(
        Method::POST,
        format!("/api/users/{tech_id}/enable"),
        boss.clone(),
        None,
    )
    .await?;
    assert_eq!(status, 204);
    assert_eq!(login("a new password for li after the reset").await?, 200);

    // The audit log says who did what to whom, newest first.
    let (status, log) = api(Method::GET, "/api/audit".into(), boss.clone(), None).await?;
    assert_eq!(status, 200, "{log}");
    let lines: Vec<(String, String, String)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["actor"].as_str().unwrap_or_default().to_string(),
                l["action"].as_str().unwrap_or_default().to_string(),
                l["target"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String)> = [
        ("enable_user", "li"),
        ("disable_user", "li"),
        ("reset_password", "li"),
    ]
    .iter()
    .map(|(a, t)| ("boss".to_string(), a.to_string(), t.to_string()))
    .collect();
    assert_eq!(lines[..3], expected[..]);
    assert_eq!(lines[3].1, "revoke_device");
    assert!(lines[3].2.ends_with("(li)"), "{:?}", lines[3]);
    assert_eq!(lines.len(), 4, "the refusals wrote nothing");
    let (status, _) = api(Method::GET, "/api/audit".into(), clerk, None).await?;
    assert_eq!(status, 403);
    Ok(())
}

both_engines!(accounts_and_devices_test, accounts_and_devices);
