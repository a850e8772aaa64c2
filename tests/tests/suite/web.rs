//! The back office in the browser.
//!
//! `guards` (both engines, plain HTTP): every page redirects to sign-in without a session; a
//! form without its CSRF token (or with a wrong one) is refused and changes nothing; a user of
//! one region cannot open another region's record by editing the URL; cookies and headers.
//! Bad inputs tried: no session, no CSRF token, a wrong CSRF token, a wrong password, sign-in
//! without its form token, a product id that is not one, warranty months that are not a number,
//! a blob hash of another record, a session used after signing out.
//!
//! `browser_walkthrough` (SQLite): real headless Chromium against the real server: a clerk
//! registers a request, the factory director dispatches it, quality accepts a complaint and sees
//! its number, the general manager approves an amount within authority and is offered no approve
//! action above it, finance sees a mismatched return refused with both numbers. Screenshots of
//! the main pages go to `target/screenshots/`.

use std::path::PathBuf;

use fieldloop_client_core::model::Role;
use fieldloop_e2e::browser::Browser;
use fieldloop_e2e::office::Office;
use fieldloop_e2e::{Engine, TestServer, both_engines, call, login_token};
use reqwest::Method;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

pub(super) fn client() -> reqwest::Client {
    fieldloop_e2e::http_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The `name=value` part of a Set-Cookie header for `name`.
fn cookie_from(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or_default().to_string())
}

/// The CSRF token a page's forms carry.
pub(super) fn csrf_of(html: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    let start = html.find(marker).expect("a form with a CSRF field") + marker.len();
    html[start..start + html[start..].find('"').expect("end of value")].to_string()
}

/// A query value as the page gets it back (percent-decoded, `+` a space).
pub(super) fn decoded(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// Signs in through the form; returns the session cookie.
pub(super) async fn sign_in(
    http: &reqwest::Client,
    base: &str,
    username: &str,
) -> anyhow::Result<String> {
    let form = http.get(format!("{base}/web/login")).send().await?;
    let login_cookie = cookie_from(&form, "fl_login_csrf").expect("login form cookie");
    let csrf = csrf_of(&form.text().await?);
    let resp = http
        .post(format!("{base}/web/login"))
        .header(COOKIE, &login_cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", username),
            ("password", &format!("{username}-password-for-tests")),
            ("next", "/web"),
        ])
        .send()
        .await?;
    assert_eq!(resp.status(), 303, "sign-in of {username}");
    let set = resp
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("fl_session="))
        .expect("a session cookie")
        .to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    Ok(set.split(';').next().unwrap_or_default().to_string())
}

/// Posts a page's form as a signed-in user, with the page's CSRF token; the redirect's target
/// (where `ok=` or `err=` says how it went).
struct FormPoster {
    http: reqwest::Client,
    base: String,
    cookie: String,
    csrf: String,
}

impl FormPoster {
    async fn post(
        &self,
        path: impl AsRef<str>,
        fields: Vec<(&'static str, String)>,
    ) -> anyhow::Result<String> {
        let mut form = fields;
        form.push(("csrf", self.csrf.clone()));
        let resp = self
            .http
            .post(format!("{}{}", self.base, path.as_ref()))
            .header(COOKIE, &self.cookie)
            .form(&form)
            .send()
            .await?;
        Ok(location(&resp))
    }
}

/// A page's HTML as `cookie`'s session sees it.
pub(super) async fn page_text(
    http: &reqwest::Client,
    url: String,
    cookie: &str,
) -> anyhow::Result<String> {
    Ok(get_as(http, url, cookie).await?.text().await?)
}

/// A GET as `cookie`'s session.
pub(super) async fn get_as(
    http: &reqwest::Client,
    url: String,
    cookie: impl AsRef<str>,
) -> reqwest::Result<reqwest::Response> {
    http.get(url).header(COOKIE, cookie.as_ref()).send().await
}

async fn count(server: &TestServer, table: &str) -> anyhow::Result<i64> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"));
    let row: (i64,) = sqlx::query_as(sql).fetch_one(&server.state.db.pool).await?;
    Ok(row.0)
}

async fn guards(server: TestServer) -> anyhow::Result<()> {
    let base = server.base();
    server.user("clerk", Role::Clerk, Some("wuhan")).await?;
    server.user("clerk_x", Role::Clerk, Some("xian")).await?;
    server.user("quality", Role::Quality, None).await?;
    let http = client();

    // Without a session every page goes to sign-in, and so does a form post.
    let some_id = "01a21bf7-826d-762a-ba62-67d0085eeabf";
    let sha = "0".repeat(64);
    for path in [
        "/web".to_string(),
        "/web/inbox".into(),
        "/web/dispatch".into(),
        "/web/requests/new".into(),
        "/web/records".into(),
        format!("/web/records/{some_id}"),
        format!("/web/blobs/{sha}"),
        "/web/complaints".into(),
        format!("/web/complaints/{some_id}"),
        "/web/finance".into(),
        "/web/registers/service-record".into(),
        "/web/registers/service-record/download?format=csv".into(),
        "/web/reports".into(),
    ] {
        let resp = http.get(format!("{base}{path}")).send().await?;
        assert_eq!(resp.status(), 303, "{path}");
        assert!(
            location(&resp).starts_with("/web/login?next="),
            "{path} -> {}",
            location(&resp)
        );
    }
    let resp = http
        .post(format!("{base}/web/customers"))
        .form(&[("name", "x")])
        .send()
        .await?;
    assert_eq!(resp.status(), 303);
    assert!(location(&resp).starts_with("/web/login"));

    // Sign-in: its own form token is required; a wrong password gives no session.
    let resp = http
        .post(format!("{base}/web/login"))
        .form(&[
            ("username", "clerk"),
            ("password", "clerk-password-for-tests"),
        ])
        .send()
        .await?;
    assert_eq!(resp.status(), 403, "sign-in without the form token");
    assert!(cookie_from(&resp, "fl_session").is_none());
    let form = http.get(format!("{base}/web/login")).send().await?;
    let login_cookie = cookie_from(&form, "fl_login_csrf").unwrap();
    let csrf = csrf_of(&form.text().await?);
    let resp = http
        .post(format!("{base}/web/login"))
        .header(COOKIE, &login_cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "clerk"),
            ("password", "wrong"),
        ])
        .send()
        .await?;
    assert_eq!(resp.status(), 303);
    assert!(location(&resp).contains("err="), "{}", location(&resp));
    assert!(cookie_from(&resp, "fl_session").is_none());

    // A `next` with a line break (a header injection) is not followed: the sign-in lands on
    // the start page, not on a server failure.
    for next in ["/web\r\nX-Injected: 1", "/web\u{7}", "/web /x"] {
        let form = http.get(format!("{base}/web/login")).send().await?;
        let login_cookie = cookie_from(&form, "fl_login_csrf").unwrap();
        let csrf = csrf_of(&form.text().await?);
        let resp = http
            .post(format!("{base}/web/login"))
            .header(COOKIE, &login_cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("username", "clerk"),
                ("password", "clerk-password-for-tests"),
                ("next", next),
            ])
            .send()
            .await?;
        assert_eq!(resp.status(), 303, "next = {next:?}");
        assert_eq!(location(&resp), "/web/requests/new", "next = {next:?}");
        assert!(resp.headers().get("x-injected").is_none());
    }

    // Signed in: the clerk starts on the request form, under a strict CSP.
    let clerk = sign_in(&http, &base, "clerk").await?;
    let resp = get_as(&http, format!("{base}/web"), &clerk).await?;
    assert_eq!(location(&resp), "/web/requests/new");
    let page = get_as(&http, format!("{base}/web/requests/new"), &clerk).await?;
    let csp = page.headers()["content-security-policy"]
        .to_str()?
        .to_string();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    let csrf = csrf_of(&page.text().await?);

    // A form without its token, or with another one, is refused and stores nothing.
    for token in [None, Some("forged-token")] {
        let mut fields = vec![
            ("name", "湖北某建设公司"),
            ("address", "武汉市"),
            ("phone", "027-1"),
        ];
        if let Some(t) = token {
            fields.push(("csrf", t));
        }
        let resp = http
            .post(format!("{base}/web/customers"))
            .header(COOKIE, &clerk)
            .form(&fields)
            .send()
            .await?;
        assert_eq!(resp.status(), 403, "token {token:?}");
    }
    assert_eq!(count(&server, "customers").await?, 0);

    // With the token the same form works.
    let post = |path: &'static str, fields: Vec<(&'static str, String)>| {
        let http = http.clone();
        let url = format!("{base}{path}");
        let clerk = clerk.clone();
        let csrf = csrf.clone();
        async move {
            let mut fields = fields;
            fields.push(("csrf", csrf));
            let resp = http
                .post(url)
                .header(COOKIE, &clerk)
                .form(&fields)
                .send()
                .await?;
            assert_eq!(resp.status(), 303);
            anyhow::Ok(location(&resp))
        }
    };
    let to = post(
        "/web/customers",
        vec![
            ("name", "湖北某建设公司".into()),
            ("address", "武汉市".into()),
            ("phone", "027-1".into()),
        ],
    )
    .await?;
    assert!(to.contains("ok="), "{to}");
    let customer: (String,) = sqlx::query_as("SELECT id FROM customers")
        .fetch_one(&server.state.db.pool)
        .await?;
    // A new caller, without a product yet, is offered at once in the product form.
    let form = page_text(&http, format!("{base}/web/requests/new"), &clerk).await?;
    assert!(
        form.contains(&format!(r#"value="{}""#, customer.0))
            && form.contains("湖北某建设公司 · 027-1"),
        "the new customer in the product form"
    );
    let bad = post(
        "/web/products",
        vec![
            ("customer_id", customer.0.clone()),
            ("name", "折弯机".into()),
            ("model", "BC-300".into()),
            ("purchase_date", "2026-06-01".into()),
            ("warranty_months", "twelve".into()),
        ],
    )
    .await?;
    assert!(bad.contains("err="), "{bad}");
    assert_eq!(count(&server, "products").await?, 0);
    post(
        "/web/products",
        vec![
            ("customer_id", customer.0.clone()),
            ("name", "折弯机".into()),
            ("model", "BC-300".into()),
            ("serial", "S-1".into()),
            ("purchase_date", "2026-06-01".into()),
            ("warranty_months", "12".into()),
        ],
    )
    .await?;
    let product: (String,) = sqlx::query_as("SELECT id FROM products")
        .fetch_one(&server.state.db.pool)
        .await?;
    let docs_before = count(&server, "documents").await?;
    let bad = post(
        "/web/requests",
        vec![
            ("product_id", "not-a-product".into()),
            ("category", "A".into()),
            ("channel", "phone".into()),
        ],
    )
    .await?;
    assert!(bad.starts_with("/web/requests/new?err="), "{bad}");
    assert_eq!(count(&server, "documents").await?, docs_before);
    let record = post(
        "/web/requests",
        vec![
            ("product_id", product.0.clone()),
            ("category", "A".into()),
            ("channel", "phone".into()),
            ("description", "hydraulic leak".into()),
        ],
    )
    .await?;
    assert!(record.starts_with("/web/records/"), "{record}");
    let record = record.split('?').next().unwrap().to_string();

    // Another region's clerk cannot open it by editing the URL; head office can.
    let clerk_x = sign_in(&http, &base, "clerk_x").await?;
    let resp = get_as(&http, format!("{base}{record}"), &clerk_x).await?;
    assert_eq!(resp.status(), 404);
    assert!(!resp.text().await?.contains("hydraulic leak"));
    let quality = sign_in(&http, &base, "quality").await?;
    let resp = get_as(&http, format!("{base}{record}"), &quality).await?;
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await?.contains("hydraulic leak"));
    let resp = get_as(&http, format!("{base}{record}"), &clerk).await?;
    assert_eq!(resp.status(), 200);

    // The finance desk is not the clerk's.
    let resp = get_as(&http, format!("{base}/web/finance"), &clerk).await?;
    assert_eq!(resp.status(), 403);

    // Chinese first; English on request, remembered in a cookie.
    let inbox = page_text(&http, format!("{base}/web/inbox"), &quality).await?;
    assert!(inbox.contains("我的待办"));
    let resp = get_as(&http, format!("{base}/web/lang?to=en"), &quality).await?;
    let lang = cookie_from(&resp, "fl_lang").expect("a language cookie");
    assert_eq!(lang, "fl_lang=en");
    let inbox = get_as(
        &http,
        format!("{base}/web/inbox"),
        format!("{quality}; {lang}"),
    )
    .await?
    .text()
    .await?;
    assert!(inbox.contains("My inbox"));

    // Signing out ends the session for good.
    let resp = http
        .post(format!("{base}/web/logout"))
        .header(COOKIE, &clerk)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await?;
    assert_eq!(resp.status(), 303);
    let resp = get_as(&http, format!("{base}/web/inbox"), &clerk).await?;
    assert_eq!(resp.status(), 303, "an ended session is not accepted");
    server.finish().await;
    Ok(())
}

both_engines!(web_guards, guards);

/// A visit edited on two phones at once and signed: its page shows both concurrent values side
/// by side, the signature image (served to its region only) and the "changed after signing"
/// flag, and the history names each device, user and field.
async fn record_page(server: TestServer) -> anyhow::Result<()> {
    use fieldloop_client_core::model::ownership::Author;
    use fieldloop_client_core::model::{DocKind, FieldValue as V};
    const TECH: Author = Author::Device(Role::Technician);
    let base = server.base();
    server.user("clerk", Role::Clerk, Some("wuhan")).await?;
    server.user("clerk_x", Role::Clerk, Some("xian")).await?;
    server.user("director", Role::FactoryDirector, None).await?;
    let tech = server.user("tech", Role::Technician, Some("wuhan")).await?;
    let clerk = login_token(&base, "clerk").await?;
    let (_, customer) = call(
        Method::POST,
        &format!("{base}/api/customers"),
        &clerk,
        Some(json!({"name": "宜昌建材厂", "address": "宜昌", "phone": "0717-1"})),
    )
    .await?;
    let (_, product) = call(
        Method::POST,
        &format!("{base}/api/products"),
        &clerk,
        Some(
            json!({"customer_id": customer["id"], "name": "搅拌机", "model": "JS-500",
                    "purchase_date": "2026-06-01", "warranty_months": 12}),
        ),
    )
    .await?;
    let (status, visit) = call(
        Method::POST,
        &format!("{base}/api/visits"),
        &clerk,
        Some(json!({"product_id": product["id"], "category": "A", "channel": "phone"})),
    )
    .await?;
    assert_eq!(status, 201, "{visit}");
    let id: uuid::Uuid = visit["id"].as_str().unwrap().parse()?;
    let (status, _) = call(
        Method::POST,
        &format!("{base}/api/visits/{id}/dispatch"),
        &login_token(&base, "director").await?,
        Some(json!({"technician_id": tech.id})),
    )
    .await?;
    assert_eq!(status, 200);

    let a = server.device("tech").await?;
    let b = server.device("tech").await?;
    a.sync().await?;
    b.sync().await?;
    let now = fieldloop_e2e::now();
    a.store()
        .edit(id, TECH, &[("form.travel_fen", V::Int(12_000))], now)
        .await?;
    b.store()
        .edit(id, TECH, &[("form.travel_fen", V::Int(15_000))], now)
        .await?;
    let sha = a
        .store()
        .put_blob(b"\x89PNG customer signature strokes", "image/png")
        .await?;
    a.store().sign(id, TECH, &sha, "王经理", &[], now).await?;
    a.sync().await?;
    b.sync().await?;
    a.sync().await?;
    // After the signature reached it, the second phone changes a signed field.
    b.store()
        .edit(id, TECH, &[("form.parts_fen", V::Int(500))], now)
        .await?;
    b.sync().await?;

    let http = client();
    let cookie = sign_in(&http, &base, "clerk").await?;
    let page = page_text(&http, format!("{base}/web/records/{id}"), &cookie).await?;
    assert!(
        page.contains(r#"<span class="concurrent">¥120.00</span>"#)
            && page.contains(r#"<span class="concurrent">¥150.00</span>"#),
        "both concurrent values side by side"
    );
    assert!(page.contains(&format!(r#"src="/web/blobs/{sha}""#)));
    assert!(
        page.contains(r#"id="changed-after-signing""#),
        "a signed field was edited after signing"
    );
    assert!(page.contains("差旅费") && page.contains(">tech<"));
    // Which signed field changed is named.
    let banner = page
        .split(r#"id="changed-after-signing""#)
        .nth(1)
        .and_then(|rest| rest.split("</div>").next())
        .unwrap_or_default();
    assert!(banner.contains("更换零件费"), "{banner}");
    // Codes in words: the category, the channel and the state as the office says them; the
    // stored codes, field paths and ids only inside the auditors' details.
    let (form, audit) = page
        .split_once(r#"<details id="audit""#)
        .expect("a details disclosure for auditors");
    assert!(
        form.contains(">有偿服务(A)</dd>")
            && form.contains(">电话</dd>")
            && form.contains(">已登记</dd>")
            && !form.contains(">phone<")
            && !form.contains(">registered<")
            && !form.contains("request.category"),
        "codes in Chinese, no field path outside the details"
    );
    assert!(audit.contains("<code>request.category</code>") && audit.contains(&id.to_string()));
    let image = get_as(&http, format!("{base}/web/blobs/{sha}"), &cookie).await?;
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/png");
    assert_eq!(
        image.bytes().await?.as_ref(),
        b"\x89PNG customer signature strokes"
    );
    // A product taken back against a receipt: its page shows where it is and offers the clerk
    // the next custody step; the step is recorded through the API's rule.
    let receipt = a.store().create(DocKind::Receipt, "wuhan", now).await?.id();
    let number = a.store().next_receipt_number().await?;
    a.store()
        .sign(receipt, TECH, &sha, "王经理", &[], now)
        .await?;
    a.store()
        .edit(
            receipt,
            TECH,
            &[
                ("receipt.number", V::Text(number.clone())),
                ("receipt.visit_id", V::Text(id.to_string())),
                (
                    "receipt.issued_at",
                    V::Text("2026-11-27T10:30:00+08:00".into()),
                ),
            ],
            now,
        )
        .await?;
    assert!(a.sync().await?.refused.is_empty());
    let page = page_text(&http, format!("{base}/web/records/{receipt}"), &cookie).await?;
    assert!(
        page.contains("技术员处") && page.contains(&number),
        "custody shown"
    );
    assert!(page.contains(r#"id="custody-to_production""#));
    assert!(
        !page.contains(r#"id="custody-qc_accept""#),
        "QC's step is not the clerk's"
    );
    let csrf = csrf_of(&page);
    let resp = http
        .post(format!("{base}/web/receipts/{receipt}/custody"))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str()), ("event", "qc_accept")])
        .send()
        .await?;
    assert!(
        location(&resp).contains("err="),
        "the server refuses QC's step to a clerk"
    );
    let resp = http
        .post(format!("{base}/web/receipts/{receipt}/custody"))
        .header(COOKIE, &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("event", "to_production"),
            ("note", "退料单 001"),
        ])
        .send()
        .await?;
    assert!(location(&resp).contains("ok="), "{}", location(&resp));
    let page = page_text(&http, format!("{base}/web/records/{receipt}"), &cookie).await?;
    assert!(page.contains("生产部维修") && page.contains("退料单 001"));

    let other = sign_in(&http, &base, "clerk_x").await?;
    let image = get_as(&http, format!("{base}/web/blobs/{sha}"), &other).await?;
    assert_eq!(image.status(), 404, "another region's signature");
    server.finish().await;
    Ok(())
}

both_engines!(web_record_page, record_page);

/// An account whose password predates the password rules keeps working, and is asked for a
/// compliant one at its next sign-in on the web; the new one must follow the rules and the
/// current one must be right.
async fn weak_password_prompt(server: TestServer) -> anyhow::Result<()> {
    let base = server.base();
    let user = fieldloop_server::db::accounts::User {
        id: uuid::Uuid::now_v7(),
        username: "old_clerk".into(),
        display_name: "老内勤".into(),
        password_hash: fieldloop_server::auth::hash_password("old-pass-1")?,
        role: Role::Clerk,
        region: Some("wuhan".into()),
        active: true,
    };
    server
        .state
        .db
        .create_user(&user, server.state.now_ms())
        .await?;
    let http = client();
    let form = http.get(format!("{base}/web/login")).send().await?;
    let login_cookie = cookie_from(&form, "fl_login_csrf").unwrap();
    let csrf = csrf_of(&form.text().await?);
    let resp = http
        .post(format!("{base}/web/login"))
        .header(COOKIE, &login_cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "old_clerk"),
            ("password", "old-pass-1"),
            ("next", "/web"),
        ])
        .send()
        .await?;
    assert_eq!(
        (resp.status().as_u16(), location(&resp)),
        (303, "/web/password".into())
    );
    let session = cookie_from(&resp, "fl_session").expect("signed in");
    let page = get_as(&http, format!("{base}/web/password"), &session).await?;
    let csrf = csrf_of(&page.text().await?);
    let change = |current: &'static str, new: &'static str, repeat: &'static str| {
        let (http, url, session, csrf) = (
            http.clone(),
            format!("{base}/web/password"),
            session.clone(),
            csrf.clone(),
        );
        async move {
            let resp = http
                .post(url)
                .header(COOKIE, &session)
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("current", current),
                    ("new", new),
                    ("repeat", repeat),
                ])
                .send()
                .await?;
            anyhow::Ok(location(&resp))
        }
    };
    assert!(
        change("old-pass-1", "too short", "too short")
            .await?
            .contains("err=")
    );
    let new = "lantern by the old bridge";
    assert!(
        change("old-pass-1", new, "lantern by the old bridgE")
            .await?
            .contains("err=")
    );
    assert!(change("wrong", new, new).await?.contains("err="));
    let to = change("old-pass-1", new, new).await?;
    assert!(to.starts_with("/web/requests/new"), "{to}");
    let resp = fieldloop_e2e::http()
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"username": "old_clerk", "password": new}))
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 200);
    server.finish().await;
    Ok(())
}
both_engines!(web_weak_password_prompt, weak_password_prompt);

fn shot(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/screenshots")
        .join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_walkthrough() -> anyhow::Result<()> {
    let server = TestServer::start(Engine::Sqlite)
        .await?
        .expect("sqlite always starts");
    let base = server.base();
    let office = Office::new(&server).await?;
    server.user("clerk", Role::Clerk, Some("wuhan")).await?;
    let tech = server.user("tech", Role::Technician, Some("wuhan")).await?;
    let clerk_token = login_token(&base, "clerk").await?;
    let (status, customer) = call(
        Method::POST,
        &format!("{base}/api/customers"),
        &clerk_token,
        Some(json!({"name": "湖北某建设公司", "address": "武汉市江夏区", "phone": "027-8888"})),
    )
    .await?;
    assert_eq!(status, 201, "{customer}");
    let (status, product) = call(
        Method::POST,
        &format!("{base}/api/products"),
        &clerk_token,
        Some(json!({"customer_id": customer["id"], "name": "数控折弯机", "model": "BC-300", "serial": "S-0042",
                    "purchase_date": "2026-06-01", "warranty_months": 12})),
    )
    .await?;
    assert_eq!(status, 201, "{product}");

    let browser = Browser::start().await?;

    // The clerk registers the customer's request.
    browser.sign_in(&base, "clerk").await?;
    assert!(browser.url().await?.ends_with("/web/requests/new"));
    browser
        .type_into("#request-form #f-description", "液压油泄漏 hydraulic leak")
        .await?;
    browser
        .screenshot(&shot("01-clerk-request-form.png"))
        .await?;
    browser.submit("#register").await?;
    browser.find("#sheet-request").await?;
    let url = browser.url().await?;
    assert!(url.contains("/web/records/"), "{url}");
    let visit = url
        .split("/web/records/")
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string();
    assert!(browser.source().await?.contains("hydraulic leak"));
    browser.screenshot(&shot("02-visit-record.png")).await?;

    // The factory director dispatches it in one step.
    browser.sign_in(&base, "director").await?;
    assert!(browser.url().await?.ends_with("/web/dispatch"));
    assert!(browser.source().await?.contains("湖北某建设公司"));
    browser.screenshot(&shot("03-dispatch-board.png")).await?;
    // No technician is preselected: the director chooses one.
    browser
        .click("form.dispatch select option:nth-child(2)")
        .await?;
    browser.submit("form.dispatch button").await?;
    browser.find(".flash.ok").await?;
    let (_, doc) = call(
        Method::GET,
        &format!("{base}/api/docs/{visit}"),
        &office.tokens["director"],
        None,
    )
    .await?;
    let technician = doc["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "dispatch.technician")
        .map(|f| f["value"].clone());
    assert_eq!(technician, Some(json!(tech.id.to_string())));
    assert_eq!(browser.count("form.dispatch").await?, 0, "queue emptied");

    // Quality accepts a complaint and sees its number.
    let case = office.file("2000").await?;
    browser.sign_in(&base, "quality").await?;
    assert!(browser.url().await?.ends_with("/web/inbox"));
    browser
        .submit(&format!("#inbox a[href='/web/complaints/{case}']"))
        .await?;
    browser.submit("#act-accept").await?;
    browser.find(".flash.ok").await?;
    let number = browser.text("#case-number").await?;
    let parts: Vec<&str> = number.split('-').collect();
    assert!(
        parts.len() == 3 && parts[0].len() == 4 && parts[1].len() == 2 && parts[2] == "0001",
        "a case number YYYY-MM-0001, got '{number}'"
    );
    browser
        .screenshot(&shot("04-complaint-accepted.png"))
        .await?;

    // The general manager: 3,000 is within authority, 8,000 is the chairman's.
    let case2 = office.file("11000").await?;
    office
        .run_to_amounts(&case2, 300_000, &[300_000, 800_000])
        .await?;
    browser.sign_in(&base, "gm").await?;
    browser
        .goto(&format!("{base}/web/complaints/{case2}"))
        .await?;
    browser.find("#timeline").await?;
    assert_eq!(
        browser.count("#act-approve-1").await?,
        1,
        "3,000 is offered"
    );
    let offer = browser.text("#act-approve-1").await?;
    assert!(
        offer.contains("¥3,000.00"),
        "money as people write it: {offer}"
    );
    assert_eq!(
        browser.count("#act-approve-2").await?,
        0,
        "8,000 is above the GM's authority: not offered"
    );
    browser.screenshot(&shot("05-gm-case-page.png")).await?;
    browser.submit("#act-approve-1").await?;
    browser.find(".flash.ok").await?;
    let (status, body) = office
        .act("gm", &case2, json!({"action": "approve", "decision": 2}))
        .await?;
    assert_eq!(status, 403, "the server refuses it too: {body}");
    // Posted through the page all the same, the refusal reads as the rule: in yuan, with the
    // limit, who decides and the section, without the machine code.
    let http = client();
    let gm = sign_in(&http, &base, "gm").await?;
    let html = page_text(&http, format!("{base}/web/complaints/{case2}"), &gm).await?;
    let version = html
        .split(r#"name="version" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_string();
    let went = FormPoster {
        http: http.clone(),
        base: base.clone(),
        cookie: gm,
        csrf: csrf_of(&html),
    }
    .post(
        format!("/web/complaints/{case2}/act"),
        vec![
            ("action", "approve".into()),
            ("decision", "2".into()),
            ("version", version),
        ],
    )
    .await?;
    let shown = went.split("err=").nth(1).map(decoded).unwrap_or_default();
    assert_eq!(
        shown, "8,000.00 元超出总经理审批权限(4,999.99 元以内),需董事长核决(§4.7.3)",
        "{went}"
    );

    // Finance: a return whose received quantity differs is refused with both numbers.
    let case3 = office.file("800").await?;
    office
        .run_to_close_returning(&case3, 80_000, &[(50_000, 5)], "gm")
        .await?;
    let (status, form) = office
        .call(
            "sales",
            Method::POST,
            &format!("/api/complaints/{case3}/returns"),
            Some(json!({"approved_quantity": 5, "reason": "机架开裂", "handling": "退货", "basis": "客诉结论"})),
        )
        .await?;
    assert_eq!(status, 201, "{form}");
    let rid = form["id"].as_str().unwrap().to_string();
    for (who, step, body) in [
        ("gm", "approve", json!({})),
        (
            "warehouse",
            "receive",
            json!({"quantity": 4, "note": "one short"}),
        ),
    ] {
        let (status, body) = office
            .call(
                who,
                Method::POST,
                &format!("/api/settlements/{rid}/{step}"),
                Some(body),
            )
            .await?;
        assert_eq!(status, 200, "{who} {step}: {body}");
    }
    browser.sign_in(&base, "finance").await?;
    assert!(browser.url().await?.ends_with("/web/finance"));
    browser.goto(&format!("{base}/web/inbox")).await?;
    assert!(
        browser.text("#inbox").await?.contains("退货单: 过账"),
        "the return waiting to be posted is in finance's inbox"
    );
    browser.goto(&format!("{base}/web/finance")).await?;
    browser.submit(&format!("#settle-post-{rid}")).await?;
    let refusal = browser.text(".flash.err").await?;
    assert!(
        refusal.contains("(5)")
            && refusal.contains("(4)")
            && refusal.contains("数量不符")
            && !refusal.contains("quantity_mismatch"),
        "{refusal}"
    );
    browser.screenshot(&shot("06-finance-mismatch.png")).await?;
    let (_, settlement): (u16, Value) = office
        .call(
            "finance",
            Method::GET,
            &format!("/api/complaints/{case3}"),
            None,
        )
        .await?;
    assert_eq!(settlement["state"], "closed");
    // The return's case is named by its number, not an id.
    let number = settlement["number"].as_str().unwrap_or_default();
    assert!(!number.is_empty());
    assert!(
        browser.text("#settlements").await?.contains(number),
        "the case number on finance's desk"
    );

    // Reports with charts and downloads.
    browser.sign_in(&base, "chair").await?;
    assert!(browser.url().await?.ends_with("/web/reports"));
    browser.find("#chart-pareto").await?;
    browser.find("#chart-technicians").await?;
    browser.screenshot(&shot("07-reports.png")).await?;
    browser
        .goto(&format!("{base}/web/registers/complaint-register"))
        .await?;
    browser.find("#download-xlsx").await?;
    browser
        .screenshot(&shot("08-complaint-register.png"))
        .await?;

    // The admin's pages: accounts, alert setup, import; and a department's bell.
    server.user("boss", Role::Admin, None).await?;
    browser.sign_in(&base, "boss").await?;
    for (path, name) in [
        ("/web/admin", "09-admin-accounts.png"),
        ("/web/admin/alerts", "10-admin-alerts.png"),
        ("/web/admin/import", "11-admin-import.png"),
    ] {
        browser.goto(&format!("{base}{path}")).await?;
        browser.find("main h1").await?;
        browser.screenshot(&shot(name)).await?;
    }
    fieldloop_server::app::alerts::tick(&server.state)
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    browser.sign_in(&base, "gmo").await?;
    browser.goto(&format!("{base}/web/alerts")).await?;
    browser.find("main h1").await?;
    browser.screenshot(&shot("12-bell.png")).await?;
    drop(browser);
    server.finish().await;
    Ok(())
}

/// The admin's pages, through the forms alone (both engines): a clerk is refused them; an
/// admin adds a region, is refused an account in a misspelt region, creates one, resets a
/// signed-in technician's password (the technician's browser session ends on its next page),
/// disables and enables an account, revokes a lost phone, imports a CSV with bad rows (each
/// listed by row, nothing written) and then a good one, and reads it all in the audit log.
async fn admin_pages(server: TestServer) -> anyhow::Result<()> {
    server.user("boss", Role::Admin, None).await?;
    let tech = server.user("li", Role::Technician, Some("wuhan")).await?;
    server.user("clerk", Role::Clerk, Some("wuhan")).await?;
    let phone = server.device("li").await?;
    let base = server.base();
    let http = client();
    let clerk = sign_in(&http, &base, "clerk").await?;
    let resp = get_as(&http, format!("{base}/web/admin"), &clerk).await?;
    assert_eq!(resp.status(), 403);
    assert!(
        !page_text(&http, format!("{base}/web/inbox"), &clerk)
            .await?
            .contains("/web/admin")
    );

    let boss = sign_in(&http, &base, "boss").await?;
    let li = sign_in(&http, &base, "li").await?;
    let html = page_text(&http, format!("{base}/web/admin"), &boss).await?;
    assert!(
        html.contains("账号管理") && html.contains("li") && html.contains("技术人员"),
        "{html}"
    );
    let csrf = csrf_of(&html);
    let poster = FormPoster {
        http: http.clone(),
        base: base.clone(),
        cookie: boss.clone(),
        csrf: csrf.clone(),
    };
    let post = |path: String, fields| poster.post(path, fields);
    let went = post(
        "/web/admin/regions".into(),
        vec![("code", "hefei".into()), ("name", "合肥办事处".into())],
    )
    .await?;
    assert!(went.contains("ok="), "{went}");
    let went = post(
        "/web/admin/users".into(),
        vec![
            ("username", "zhao".into()),
            ("display_name", "赵师傅".into()),
            ("role", "technician".into()),
            ("region", "wuhna".into()),
            ("password", "a long enough password 9".into()),
        ],
    )
    .await?;
    assert!(
        went.contains("err="),
        "a misspelt region is refused: {went}"
    );
    let went = post(
        "/web/admin/users".into(),
        vec![
            ("username", "zhao".into()),
            ("display_name", "赵师傅".into()),
            ("role", "technician".into()),
            ("region", "hefei".into()),
            ("password", "a long enough password 9".into()),
        ],
    )
    .await?;
    assert!(went.contains("ok="), "{went}");

    // The technician is signed in; a reset ends that session.
    let resp = get_as(&http, format!("{base}/web/records"), &li).await?;
    assert_eq!(resp.status(), 200);
    let went = post(
        format!("/web/admin/users/{}/password", tech.id),
        vec![("password", "li-new-password-for-tests".into())],
    )
    .await?;
    assert!(went.contains("ok="), "{went}");
    let resp = get_as(&http, format!("{base}/web/records"), &li).await?;
    assert!(
        location(&resp).starts_with("/web/login"),
        "the old session ended"
    );
    for active in ["0", "1"] {
        let went = post(
            format!("/web/admin/users/{}/active", tech.id),
            vec![("active", active.into())],
        )
        .await?;
        assert!(went.contains("ok="), "{went}");
    }

    // The lost phone, revoked from the account's page; its next sync is refused.
    let html = page_text(&http, format!("{base}/web/admin/users/{}", tech.id), &boss).await?;
    let marker = "/web/admin/devices/";
    let start = html.find(marker).expect("a revoke form") + marker.len();
    let device = &html[start..start + 36];
    let went = post(
        format!("/web/admin/devices/{device}/revoke"),
        vec![("back", format!("/web/admin/users/{}", tech.id))],
    )
    .await?;
    assert!(
        went.starts_with(&format!("/web/admin/users/{}?ok=", tech.id)),
        "{went}"
    );
    assert!(phone.sync().await.is_err(), "a revoked phone is refused");

    // Import through the page: bad rows listed by number, nothing written; then a good file.
    let upload = |mode: &'static str, text: &'static str| {
        let (http, base, boss, csrf) = (http.clone(), base.clone(), boss.clone(), csrf.clone());
        async move {
            let form = reqwest::multipart::Form::new()
                .text("csrf", csrf)
                .text("kind", "customers")
                .text("mode", mode)
                .part(
                    "file",
                    reqwest::multipart::Part::bytes(text.as_bytes().to_vec()).file_name("客户.csv"),
                );
            let resp = http
                .post(format!("{base}/web/admin/import"))
                .header(COOKIE, &boss)
                .multipart(form)
                .send()
                .await?;
            assert_eq!(resp.status(), 200);
            anyhow::Ok(resp.text().await?)
        }
    };
    let report = upload(
        "commit",
        "客户名称,电话,地址,区域\n甲公司,1,武汉,wuhan\n乙公司,2,武汉,nowhere\n",
    )
    .await?;
    assert!(
        report.contains("未写入任何数据") && report.contains("<td>3</td>"),
        "{report}"
    );
    let count: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM customers")
        .fetch_one(&server.state.db.pool)
        .await?;
    assert_eq!(count.0, 0);
    let report = upload("commit", "客户名称,电话,地址,区域\n甲公司,1,武汉,wuhan\n").await?;
    assert!(report.contains("已导入 1 行"), "{report}");
    let template = get_as(
        &http,
        format!("{base}/web/admin/import/products/template?format=xlsx"),
        &boss,
    )
    .await?;
    assert_eq!(template.status(), 200);
    let audit = page_text(&http, format!("{base}/web/admin/audit"), &boss).await?;
    for what in [
        "新增区域",
        "重置密码",
        "停用账号",
        "启用账号",
        "吊销手机",
        "导入客户",
    ] {
        assert!(audit.contains(what), "{what} in the audit log");
    }
    // No form without its token: a reset with a wrong one changes nothing.
    let resp = http
        .post(format!("{base}/web/admin/users/{}/password", tech.id))
        .header(COOKIE, &boss)
        .form(&[("csrf", "wrong"), ("password", "another password for li")])
        .send()
        .await?;
    assert_eq!(resp.status(), 403);
    server.finish().await;
    Ok(())
}
both_engines!(web_admin_pages, admin_pages);

/// Alerts in the back office (SQLite): the admin adds a robot and changes a ladder on the
/// setup page (a line that does not read is refused with its reason), the production
/// department's person sees the bell count after a tick, reads the alert on the bell page and
/// marks it read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_pages() -> anyhow::Result<()> {
    use chrono::DateTime;
    use fieldloop_e2e::robots::{Robot, RobotKind};
    let t0 = DateTime::parse_from_rfc3339("2026-11-03T15:00:00+08:00")?.to_utc();
    let clock = std::sync::Arc::new(fieldloop_server::ManualClock::new(t0));
    let server = TestServer::start_clocked(Engine::Sqlite, clock.clone())
        .await?
        .expect("sqlite always starts");
    server.user("boss", Role::Admin, None).await?;
    let office = Office::new(&server).await?;
    let base = server.base();
    let http = client();
    let boss = sign_in(&http, &base, "boss").await?;
    let html = page_text(&http, format!("{base}/web/admin/alerts"), &boss).await?;
    assert!(
        html.contains("升级规则") && html.contains("投诉处理步骤"),
        "{html}"
    );
    let csrf = csrf_of(&html);
    let robot = Robot::start(RobotKind::WeCom, 20).await?;
    let poster = FormPoster {
        http: http.clone(),
        base: base.clone(),
        cookie: boss.clone(),
        csrf: csrf.clone(),
    };
    let post = |path: &'static str, fields| poster.post(path, fields);
    let went = post(
        "/web/admin/alerts/channels",
        vec![
            ("department", "production".into()),
            ("audience", "staff".into()),
            ("kind", "wecom".into()),
            ("target", robot.webhook()),
            ("secret", String::new()),
        ],
    )
    .await?;
    assert!(went.contains("ok="), "{went}");
    // The ladder is edited row by row (when, number, whom). Refused, each in Chinese and
    // changing nothing: a "when" that is none of the three, a number that is not whole, a
    // share of 100 %, every row emptied.
    let rows = |rows: &[(&str, &str, &str)]| {
        let mut fields = vec![("kind", "step".to_string())];
        for (when, n, to) in rows {
            fields.push(("when", when.to_string()));
            fields.push(("n", n.to_string()));
            fields.push(("to", to.to_string()));
        }
        fields
    };
    for (bad, says) in [
        (rows(&[("soon", "5", "acting")]), "请选择提醒时机"),
        (rows(&[("before", "1.5", "acting")]), "请填写整数"),
        (rows(&[("share", "100", "acting")]), "1% 到 99%"),
        (rows(&[("", "10", "acting")]), "1 到 8 级"),
    ] {
        let went = post("/web/admin/alerts/ladders", bad).await?;
        let said = fieldloop_e2e::flash_of(&went, "err");
        assert!(said.contains(says), "{said}");
    }
    let html = page_text(&http, format!("{base}/web/admin/alerts"), &boss).await?;
    assert!(!html.contains("时限过去 10%"), "nothing changed");
    let went = post(
        "/web/admin/alerts/ladders",
        rows(&[
            ("share", "10", "acting"),
            ("", "", "acting"),
            ("after", "0", "head"),
        ]),
    )
    .await?;
    assert!(went.contains("ok="), "{went}");
    let html = page_text(&http, format!("{base}/web/admin/alerts"), &boss).await?;
    assert!(html.contains("时限过去 10%"), "the new ladder is in force");
    assert!(html.contains("到期时 → 部门负责人"), "{html}");

    // A case at production's step; a tenth of its time later, the alert.
    office.run_to_countermeasure().await?;
    clock.set(DateTime::parse_from_rfc3339("2026-11-03T21:00:00+08:00")?.to_utc());
    fieldloop_server::app::alerts::tick(&server.state)
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    assert_eq!(robot.received().len(), 1, "{:?}", robot.received());
    let worker = sign_in(&http, &base, "production").await?;
    let html = page_text(&http, format!("{base}/web/inbox"), &worker).await?;
    assert!(
        html.contains(r#"id="bell-count">1<"#),
        "the bell counts one unread alert"
    );
    let html = page_text(&http, format!("{base}/web/alerts"), &worker).await?;
    assert!(
        html.contains("处理对策") && html.contains("最后期限:2026-11-05"),
        "{html}"
    );
    // Read in English, the same alert is in English.
    let english = page_text(
        &http,
        format!("{base}/web/alerts"),
        &format!("{worker}; fl_lang=en"),
    )
    .await?;
    assert!(
        english.contains("[Reminder]")
            && english.contains("Countermeasure")
            && english.contains("Last day: 2026-11-05")
            && !english.contains("最后期限"),
        "{english}"
    );
    let resp = http
        .post(format!("{base}/web/alerts/read"))
        .header(COOKIE, &worker)
        .form(&[("csrf", csrf_of(&html).as_str())])
        .send()
        .await?;
    assert!(location(&resp).contains("ok="));
    let html = page_text(&http, format!("{base}/web/inbox"), &worker).await?;
    assert!(!html.contains("bell-count"), "read: no count");
    // Not the admin's page for anyone else.
    assert_eq!(
        get_as(&http, format!("{base}/web/admin/alerts"), &worker)
            .await?
            .status(),
        403
    );
    server.finish().await;
    Ok(())
}

/// §4.6.8 on the pages: a closed case the customer rejected links to its new case, and the new
/// case links back, each by its number; a one-shot record (the head's visit, §3.5) is offered
/// until it is done, then not again; a signed record shows no image for its signed digest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linked_cases_and_one_shot_actions() -> anyhow::Result<()> {
    let server = TestServer::start(Engine::Sqlite)
        .await?
        .expect("sqlite always starts");
    let office = Office::new(&server).await?;
    let id = office.file("0").await?;
    office
        .ok("quality", &id, json!({"action": "accept"}))
        .await?;
    let base = server.base();
    let http = client();
    let head = sign_in(&http, &base, "head").await?;
    let page = page_text(&http, format!("{base}/web/complaints/{id}"), &head).await?;
    assert!(
        page.contains(r#"id="act-record_head_visit""#),
        "offered before it is done"
    );
    office
        .ok(
            "head",
            &id,
            json!({"action": "record_head_visit", "visitor": "部长亲自拜访"}),
        )
        .await?;
    let page = page_text(&http, format!("{base}/web/complaints/{id}"), &head).await?;
    assert!(
        !page.contains(r#"id="act-record_head_visit""#),
        "not offered once done"
    );
    // The history in words: who (by role) did what, as the office says it.
    let history = page
        .split(r#"id="events""#)
        .nth(1)
        .and_then(|rest| rest.split("</table>").next())
        .unwrap_or_default();
    for shown in [
        "业务人员",
        "填写投诉处理单",
        "品质部",
        "受理",
        "市场部部长",
        "记录部长拜访",
    ] {
        assert!(history.contains(shown), "{shown} in the history");
    }
    // (The test users are named after their roles: "quality" is a name here.)
    for code in [
        ">salesperson<",
        ">file<",
        ">accept<",
        ">record_head_visit<",
        ">marketing_head<",
    ] {
        assert!(!history.contains(code), "{code} in the history: {history}");
    }
    let (status, again) = office
        .act(
            "head",
            &id,
            json!({"action": "record_head_visit", "visitor": "again"}),
        )
        .await?;
    assert_eq!(
        (status, again["error"]["code"].clone()),
        (409, json!("already_done")),
        "{again}"
    );
    // §3.3: a general case (this one) is not offered the written report to the head.
    assert!(
        !page.contains(r#"id="act-written_report_to_head""#),
        "a written report is for severe feedback"
    );
    // §4.6.11: the other company is recorded once; the second is refused in Chinese and the
    // first stays.
    let gmo = sign_in(&http, &base, "gmo").await?;
    let page = page_text(&http, format!("{base}/web/complaints/{id}"), &gmo).await?;
    assert!(
        page.contains(r#"id="act-involve_external""#),
        "offered at first"
    );
    office
        .ok(
            "gmo",
            &id,
            json!({"action": "involve_external", "party": "某钢材供应商"}),
        )
        .await?;
    let page = page_text(&http, format!("{base}/web/complaints/{id}"), &gmo).await?;
    assert!(!page.contains(r#"id="act-involve_external""#), "not twice");
    let (status, again) = office
        .act(
            "gmo",
            &id,
            json!({"action": "involve_external", "party": "另一家公司"}),
        )
        .await?;
    assert_eq!(
        (status, again["error"]["code"].clone()),
        (409, json!("already_done")),
        "{again}"
    );
    assert!(
        again["error"]["message_zh"]
            .as_str()
            .is_some_and(|m| m.contains("只做一次")),
        "{again}"
    );
    assert!(page.contains("某钢材供应商") && !page.contains("另一家公司"));

    let id = office.file("0").await?;
    office.run_to_close(&id, 50_000, "head").await?;
    let (status, reopened) = office
        .call(
            "sales",
            Method::POST,
            &format!("/api/complaints/{id}/reopen"),
            None,
        )
        .await?;
    if status == 201 {
        let new_id = reopened["id"].as_str().unwrap_or_default().to_string();
        let gm = sign_in(&http, &base, "gmo").await?;
        let original = page_text(&http, format!("{base}/web/complaints/{id}"), &gm).await?;
        assert!(
            original.contains(&format!("/web/complaints/{new_id}"))
                && original.contains("已重新立案"),
            "{original}"
        );
        let new = page_text(&http, format!("{base}/web/complaints/{new_id}"), &gm).await?;
        assert!(
            new.contains(&format!("/web/complaints/{id}")) && new.contains("原案"),
            "{new}"
        );
    } else {
        panic!("the case did not close and reopen: {status} {reopened}");
    }

    // The same through the page: the salesperson is offered the rejection once; a second
    // post (another tab) is refused in Chinese and files nothing.
    let id = office.file("0").await?;
    office.run_to_close(&id, 50_000, "head").await?;
    let sales = sign_in(&http, &base, "sales").await?;
    let case_page = format!("{base}/web/complaints/{id}");
    let page = page_text(&http, case_page.clone(), &sales).await?;
    assert!(page.contains(r#"id="reopen""#), "offered on a closed case");
    let gm_page = page_text(
        &http,
        case_page.clone(),
        &sign_in(&http, &base, "gm").await?,
    )
    .await?;
    assert!(!gm_page.contains(r#"id="reopen""#), "marketing's step only");
    let csrf = csrf_of(&page);
    let post = || {
        http.post(format!("{base}/web/complaints/{id}/reopen"))
            .header(reqwest::header::COOKIE, &sales)
            .form(&[("csrf", csrf.as_str())])
            .send()
    };
    let first = location(&post().await?);
    assert!(
        first.starts_with("/web/complaints/") && !first.contains(&id) && first.contains("ok="),
        "{first}"
    );
    let page = page_text(&http, case_page.clone(), &sales).await?;
    assert!(!page.contains(r#"id="reopen""#), "offered once");
    let second = decoded(&location(&post().await?));
    assert!(
        second.contains("err=") && second.contains("已另立新案"),
        "{second}"
    );
    let (_, cases) = office
        .call("gmo", Method::GET, "/api/complaints", None)
        .await?;
    let followups = cases
        .as_array()
        .map(|all| {
            all.iter()
                .filter(|c| c["case"]["original"].as_str() == Some(id.as_str()))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(followups, 1, "one rejection per closed case");
    server.finish().await;
    Ok(())
}
