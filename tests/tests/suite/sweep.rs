//! Every role's pages as a person sees them, in Chinese and in English, in a real Chromium:
//! after a working day's records exist (a visit completed, signed and logged, a receipt, a
//! case waiting for acceptance, one waiting for approvals, one closed), each role signs in
//! and follows every link from its start page and navigation (up to a limit), and on every
//! page's visible text there must be no raw code the model defines, no field path, no UUID and
//! no `T...Z`-style timestamp; every link answers 200. Each role's main pages are saved as
//! screenshots at 1366×768 (an office laptop) and 820×1180 (a tablet) in
//! `target/screenshots/roles/`.

use std::collections::{BTreeSet, VecDeque};
use std::path::PathBuf;

use anyhow::Context as _;
use fieldloop_client_core::model::ownership::Author;
use fieldloop_client_core::model::{DocKind, FieldValue as V, Role, fields};
use fieldloop_e2e::browser::Browser;
use fieldloop_e2e::office::{Office, PEOPLE, People};
use fieldloop_e2e::{Engine, TestServer, both_engines};
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use super::web::{client, get_as, sign_in};

const TECH: Author = Author::Device(Role::Technician);

/// Pages followed per role and language: enough for every page kind a role reaches.
const PAGES_PER_ROLE: usize = 40;

/// Codes the model stores that a person must never read as such: states, outcomes, fee
/// methods, channels, custody places and events, complaint steps, departments, roles, money
/// kinds, authority levels, and a region's code. Matched as whole words.
const CODES: &[&str] = &[
    "fixed_on_site",
    "taken_back",
    "another_visit",
    "cash_on_site",
    "invoice_later",
    "form_logged",
    "with_technician",
    "at_production",
    "awaiting_qc",
    "in_stock",
    "returned_to_customer",
    "to_production",
    "repair_done",
    "qc_accept",
    "qc_reject",
    "return_to_customer",
    "rnd_opinion",
    "customer_communication",
    "head_review",
    "gm_office",
    "marketing_head",
    "factory_director",
    "qc_inspector",
    "general_manager",
    "propose_amount",
    "record_head_visit",
    "submit_report",
    "production_report",
    "return_value",
    "above_authority",
    "invalid_input",
    "not_found",
    "wuhan",
];

/// Codes that are also English words: wrong on a Chinese page only.
const ENGLISH_CODES: &[&str] = &[
    "registered",
    "archived",
    "submitted",
    "requested",
    "issued",
    "collected",
    "voided",
    "severe",
    "suggestion",
    "rating",
    "compensation",
    "allowance",
    "investigation",
    "responsibility",
    "countermeasure",
    "consolidation",
    "marketing",
    "chairman",
    "technician",
];

fn shot(role: &str, name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/screenshots/roles")
        .join(format!("{role}-{name}.png"))
}

/// Whether `word` stands alone in `text` (not inside a longer word or path).
fn has_word(text: &str, word: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

/// A UUID written out (8-4-4-4-12 hex digits) anywhere in `text`.
fn has_uuid(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let shape = [8, 4, 4, 4, 12];
    (0..b.len()).find_map(|start| {
        let mut i = start;
        for (n, len) in shape.iter().enumerate() {
            if i + len > b.len() || !b[i..i + len].iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            i += len;
            if n < 4 {
                if b.get(i) != Some(&b'-') {
                    return None;
                }
                i += 1;
            }
        }
        Some(text[start..i].to_string())
    })
}

/// A machine timestamp (`2026-12-02T05:30`) anywhere in `text`.
fn has_machine_time(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let shape = b"dddd-dd-ddTdd:";
    (0..b.len().saturating_sub(shape.len() - 1)).find_map(|i| {
        let matches = shape.iter().enumerate().all(|(k, s)| match s {
            b'd' => b[i + k].is_ascii_digit(),
            c => b[i + k] == *c,
        });
        matches.then(|| String::from_utf8_lossy(&b[i..i + shape.len() + 5]).to_string())
    })
}

/// What is wrong with a page's visible text, if anything. `config`: an admin's configuration
/// page, which names the codes the admin types (a region's code, an alert rule's audience).
fn faults(text: &str, chinese: bool, config: bool) -> Vec<String> {
    let mut out = Vec::new();
    for code in CODES.iter().filter(|_| !config) {
        if has_word(text, code) {
            out.push(format!("raw code '{code}'"));
        }
    }
    if chinese {
        for code in ENGLISH_CODES {
            if has_word(text, code) {
                out.push(format!("English code '{code}'"));
            }
        }
    }
    for kind in [
        DocKind::Visit,
        DocKind::Receipt,
        DocKind::Complaint,
        DocKind::Feedback,
    ] {
        for f in fields::fields(kind) {
            if text.contains(f.path) {
                out.push(format!("field path '{}'", f.path));
            }
        }
    }
    if let Some(u) = has_uuid(text) {
        out.push(format!("UUID {u}"));
    }
    if let Some(t) = has_machine_time(text) {
        out.push(format!("machine time {t}"));
    }
    out
}

#[test]
fn the_checks_catch_what_they_look_for() {
    assert!(has_word("状态 registered", "registered"));
    assert!(!has_word("unregistered", "registered"));
    assert!(!has_word("status.registered", "registered"));
    assert!(has_uuid("id 01a23f64-4c3e-73b4-ba67-b16c4f12f375 end").is_some());
    assert!(has_uuid("2026-11-27 10:00").is_none());
    assert!(has_machine_time("at 2026-12-02T05:30:01.43+08:00").is_some());
    assert!(has_machine_time("2026-12-02 05:30").is_none());
    assert!(faults("收据 · 已入库 · 2026-12-02 05:30", true, false).is_empty());
    assert!(faults("所在位置 in_stock", true, false)[0].contains("in_stock"));
    assert!(faults("path custody.location", false, false)[0].contains("custody.location"));
    assert!(faults("Registered", false, false).is_empty());
    assert!(faults("代码 wuhan", true, true).is_empty());
}

/// Builds a working day's records: a visit dispatched, completed, signed and logged with a
/// product taken back against a receipt; three complaints at different points.
async fn a_working_day(server: &TestServer, office: &Office) -> anyhow::Result<String> {
    let call = |who: &'static str, path: String, body: serde_json::Value| async move {
        office.people.ok(who, Method::POST, &path, Some(body)).await
    };
    let clerk = "clerk";
    let customer = call(
        clerk,
        "/api/customers".into(),
        json!({"name": "武汉某工地", "address": "武汉市江夏区", "phone": "027-1234567"}),
    )
    .await?;
    let product = call(clerk, "/api/products".into(), json!({"customer_id": customer["id"], "name": "搅拌机", "model": "BC-350", "serial": "SN-001", "purchase_date": "2026-06-01", "warranty_months": 12})).await?;
    let visit = call(clerk, "/api/visits".into(), json!({"product_id": product["id"], "category": "A", "channel": "phone", "description": "搅拌筒不转"})).await?;
    let visit: Uuid = visit["id"].as_str().unwrap_or_default().parse()?;
    // A second request stays on the dispatch board.
    call(clerk, "/api/visits".into(), json!({"product_id": product["id"], "category": "C", "channel": "letter", "description": "电机异响"})).await?;
    call(
        "director",
        format!("/api/visits/{visit}/dispatch"),
        json!({"technician_id": office.ids["tech"]}),
    )
    .await?;
    let dev = server.device("tech").await?;
    dev.sync().await?;
    let t = fieldloop_e2e::now();
    dev.store()
        .edit(
            visit,
            TECH,
            &[
                ("form.travel_fen", V::Int(12_050)),
                ("fee.amount_fen", V::Int(150_000)),
                ("fee.method", V::Text("invoice_later".into())),
                ("form.diagnosis", V::Text("减速机轴承损坏".into())),
            ],
            t,
        )
        .await?;
    let sha = dev
        .store()
        .put_blob(&fieldloop_e2e::signature_jpeg(), "image/jpeg")
        .await?;
    dev.store()
        .sign(
            visit,
            TECH,
            &sha,
            "王经理",
            &[("form.outcome", V::Text("taken_back".into()))],
            t,
        )
        .await?;
    let receipt = dev.store().create(DocKind::Receipt, "wuhan", t).await?.id();
    let number = dev.store().next_receipt_number().await?;
    // Short enough to read out over the phone: the phone's number, then the receipt's.
    anyhow::ensure!(
        number.len() == 10 && number.starts_with('R') && number.as_bytes()[4] == b'-',
        "receipt number {number}"
    );
    dev.store()
        .edit(
            receipt,
            TECH,
            &[
                ("receipt.number", V::Text(number)),
                ("receipt.visit_id", V::Text(visit.to_string())),
                ("receipt.customer_name", V::Text("武汉某工地".into())),
                ("receipt.product_name", V::Text("搅拌机".into())),
            ],
            t,
        )
        .await?;
    dev.store()
        .sign(receipt, TECH, &sha, "王经理", &[], t)
        .await?;
    // A severe complaint the customer made to the technician (§3.3).
    let feedback = dev
        .store()
        .create(DocKind::Feedback, "wuhan", t)
        .await?
        .id();
    dev.store()
        .edit(
            feedback,
            TECH,
            &[
                ("answer.kind", V::Text("complaint".into())),
                ("answer.severity", V::Text("severe".into())),
                ("answer.customer_name", V::Text("武汉某工地".into())),
                ("answer.comment", V::Text("一周停机两次".into())),
            ],
            t,
        )
        .await?;
    anyhow::ensure!(
        dev.sync().await?.refused.is_empty(),
        "the phone's work is taken"
    );
    call(clerk, format!("/api/visits/{visit}/log-form"), json!({})).await?;

    office.file("800").await?;
    let waiting = office.file("11000").await?;
    office
        .run_to_amounts(&waiting, 300_000, &[300_000, 800_000])
        .await?;
    // A closed case settled by a return (approved by the GM) and an allowance.
    let closed = office.file("800").await?;
    office
        .run_to_close_returning(&closed, 80_000, &[(30_000, 10)], "gm")
        .await?;
    office
        .people
        .ok(
            "sales",
            Method::POST,
            &format!("/api/complaints/{closed}/returns"),
            Some(json!({"decision": 2, "reason": "机架焊缝开裂", "handling": "退货重处理", "basis": "客诉处理单结论"})),
        )
        .await?;
    office
        .people
        .ok(
            "sales",
            Method::POST,
            &format!("/api/complaints/{closed}/allowances"),
            Some(json!({"amount": "200.00"})),
        )
        .await?;
    Ok(closed)
}

/// Signs `who` in, in the language given, and follows links from the start page and the
/// navigation; returns the faults found, page by page, and the links that did not answer 200.
async fn walk(
    browser: &Browser,
    base: &str,
    who: &str,
    lang: &str,
    screenshots: bool,
) -> anyhow::Result<(Vec<String>, usize)> {
    browser.sign_in(base, who).await?;
    browser.goto(&format!("{base}/web/lang?to={lang}")).await?;
    let http = client();
    let cookie = sign_in(&http, base, who).await?;
    let start = browser.url().await?;
    let start = start.trim_start_matches(base).to_string();
    let nav: Vec<String> = browser
        .script("return Array.from(document.querySelectorAll('header nav a')).map(a => a.getAttribute('href'));")
        .await?
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let mut queue: VecDeque<String> = VecDeque::from([start.clone()]);
    queue.extend(nav.iter().cloned());
    let mut seen: BTreeSet<String> = queue.iter().cloned().collect();
    let mut checked: BTreeSet<String> = BTreeSet::new();
    let mut problems = Vec::new();
    let mut visited = 0;
    let mut shot_kinds: BTreeSet<&str> = BTreeSet::new();
    while let Some(path) = queue.pop_front() {
        if visited >= PAGES_PER_ROLE {
            break;
        }
        visited += 1;
        browser.goto(&format!("{base}{path}")).await?;
        let text = browser.visible_text().await?;
        for fault in faults(&text, lang == "zh", path.starts_with("/web/admin")) {
            problems.push(format!("{who} ({lang}) {path}: {fault}"));
        }
        // The main pages, and the first page of each kind of form (a record, a case, a
        // return or allowance) the role opens.
        let detail = ["/web/records/", "/web/complaints/", "/web/settlements/"]
            .into_iter()
            .find(|prefix| path.starts_with(prefix) && path.len() > prefix.len() + 30)
            .filter(|prefix| shot_kinds.insert(*prefix));
        // Pages reached from another page rather than the navigation, kept too.
        let also = ["/web/admin/alerts", "/web/complaints/new", "/web/reviews"];
        if screenshots
            && (path == start
                || nav.contains(&path)
                || also.contains(&path.as_str())
                || detail.is_some())
        {
            let name = match detail {
                Some(prefix) => format!("{}-form", prefix.trim_matches('/').replace('/', "-")),
                None => path
                    .trim_start_matches("/web/")
                    .replace(['/', '?', '=', '&'], "-"),
            };
            for (w, h, size) in [(1366, 768, "1366x768"), (820, 1180, "820x1180")] {
                browser.window(w, h).await?;
                browser
                    .screenshot(&shot(who, &format!("{name}-{size}")))
                    .await?;
            }
            browser.window(1280, 1000).await?;
        }
        for link in browser.links().await? {
            // Same-site pages only; the language switch redirects by design.
            if !link.starts_with("/web") || link.starts_with("/web/lang") {
                continue;
            }
            if checked.insert(link.clone()) {
                let resp = get_as(&http, format!("{base}{link}"), &cookie).await?;
                if resp.status() != 200 {
                    problems.push(format!(
                        "{who} ({lang}) {path}: link {link} answered {}",
                        resp.status()
                    ));
                }
            }
            // Pages to read next; downloads and images are only checked for their answer.
            let page = !link.contains("/download")
                && !link.starts_with("/web/blobs/")
                && !link.starts_with("/web/static/");
            if page && seen.insert(link.clone()) {
                queue.push_back(link);
            }
        }
    }
    Ok((problems, visited))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_sees_words_not_codes() -> anyhow::Result<()> {
    let server = TestServer::start(Engine::Sqlite)
        .await?
        .expect("sqlite always starts");
    let base = server.base();
    let mut people: Vec<(&'static str, Role, Option<&str>)> = PEOPLE.to_vec();
    people.extend([
        ("clerk", Role::Clerk, Some("wuhan")),
        ("tech", Role::Technician, Some("wuhan")),
        ("qc", Role::QcInspector, None),
        ("admin", Role::Admin, None),
    ]);
    let office = Office {
        people: People::sign_in(&server, &people).await?,
    };
    let closed = a_working_day(&server, &office).await?;
    // The settled case offers marketing only what is left to put on a form: the return it
    // approved is on its form already; 600.00 of the 800.00 compensation is left to certify.
    let http = client();
    let sales = sign_in(&http, &base, "sales").await?;
    let page =
        super::web::page_text(&http, format!("{base}/web/complaints/{closed}"), &sales).await?;
    assert!(!page.contains(&format!(r#"action="/web/complaints/{closed}/returns""#)));
    assert!(page.contains(&format!(r#"action="/web/complaints/{closed}/allowances""#)));
    assert!(
        page.contains(r#"value="600.00""#),
        "the amount left is offered"
    );

    let browser = Browser::start().await?;
    let mut problems = Vec::new();
    let roles = [
        "clerk",
        "director",
        "quality",
        "qc",
        "production",
        "rnd",
        "head",
        "sales",
        "gmo",
        "gm",
        "chair",
        "finance",
        "warehouse",
        "admin",
    ];
    for who in roles {
        for lang in ["zh", "en"] {
            let (found, visited) = walk(&browser, &base, who, lang, lang == "zh").await?;
            assert!(visited >= 2, "{who} ({lang}) reached {visited} pages");
            println!("{who} ({lang}): {visited} pages");
            problems.extend(found);
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    Ok(())
}

/// A caller the office has never heard of, registered in the browser alone: the search finds
/// nobody, the customer and the product are added, the product picker then offers only that
/// customer's product, and the request is registered against it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_caller_is_registered_in_the_browser() -> anyhow::Result<()> {
    let server = TestServer::start(Engine::Sqlite)
        .await?
        .expect("sqlite always starts");
    let base = server.base();
    let people = People::sign_in(
        &server,
        &[
            ("clerk", Role::Clerk, Some("wuhan")),
            ("tech", Role::Technician, Some("wuhan")),
        ],
    )
    .await?;
    // Someone else's customer and product are already on file.
    let known = people
        .ok(
            "clerk",
            Method::POST,
            "/api/customers",
            Some(json!({"name": "武汉某工地", "address": "武汉市江夏区", "phone": "027-1234567"})),
        )
        .await?;
    people
        .ok("clerk", Method::POST, "/api/products", Some(json!({"customer_id": known["id"], "name": "搅拌机", "model": "BC-350", "serial": "SN-001", "purchase_date": "2026-06-01", "warranty_months": 12})))
        .await?;

    let browser = Browser::start().await?;
    browser.sign_in(&base, "clerk").await?;
    browser.type_into("#f-q", "黄石").await?;
    browser.submit("#find-customer").await?;
    browser.find("#no-customer").await?;
    browser
        .type_into("#customer-form #f-name", "黄石某矿业")
        .await?;
    browser
        .type_into("#customer-form #f-address", "黄石市下陆区")
        .await?;
    browser
        .type_into("#customer-form #f-phone", "0714-555")
        .await?;
    browser.submit("#customer-form button").await?;
    assert!(
        browser
            .text("#chosen-customer")
            .await?
            .contains("黄石某矿业")
    );
    // The new customer is chosen in the product form; the date comes from a date picker.
    assert_eq!(
        browser
            .count("#product-form #f-purchase_date[type=date]")
            .await?,
        1
    );
    browser.type_into("#product-form #f-name", "破碎机").await?;
    browser
        .type_into("#product-form #f-model", "PC-600")
        .await?;
    browser
        .type_into("#product-form #f-serial", "HS-77")
        .await?;
    browser
        .set_value("#product-form #f-purchase_date", "2026-03-15")
        .await?;
    browser.submit("#product-form button").await?;
    browser.find(".flash.ok").await?;
    // Only the chosen customer's product is offered.
    let offered = browser.count("#request-form #f-product_id option").await?;
    assert_eq!(offered, 1, "the picker is narrowed to the caller");
    assert!(
        browser
            .text("#request-form #f-product_id")
            .await?
            .contains("破碎机")
    );
    browser
        .type_into("#request-form #f-description", "皮带打滑")
        .await?;
    browser.submit("#register").await?;
    browser.find("#sheet-request").await?;
    let text = browser.visible_text().await?;
    assert!(text.contains("黄石某矿业") && text.contains("皮带打滑") && text.contains("HS-77"));
    assert!(
        faults(&text, true, false).is_empty(),
        "{:?}",
        faults(&text, true, false)
    );
    browser
        .screenshot(&shot("clerk", "new-caller-registered"))
        .await?;

    // Bad input through the page changes nothing: a product without a customer, a
    // warranty that is not a number; each refused in Chinese.
    browser.goto(&format!("{base}/web/requests/new")).await?;
    browser.type_into("#product-form #f-name", "x").await?;
    browser.type_into("#product-form #f-model", "x").await?;
    browser
        .set_value("#product-form #f-purchase_date", "2026-03-15")
        .await?;
    browser
        .type_into("#product-form #f-warranty_months", "十二")
        .await?;
    browser
        .script(
            "document.querySelector('#product-form #f-customer_id').removeAttribute('required');",
        )
        .await?;
    browser.submit("#product-form button").await?;
    let refusal = browser.text(".flash.err").await?;
    assert!(refusal.contains("请选择客户"), "{refusal}");
    // The API finds the caller too (name or phone), with their products: two in all.
    let token = &people.tokens["clerk"];
    let (status, found) = fieldloop_e2e::call(
        Method::GET,
        &format!("{base}/api/customers?q=0714"),
        token,
        None,
    )
    .await?;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found[0]["name"], "黄石某矿业", "{found}");
    let mut products = 0;
    let (_, all) =
        fieldloop_e2e::call(Method::GET, &format!("{base}/api/customers"), token, None).await?;
    for c in all.as_array().cloned().unwrap_or_default() {
        let (status, list) = fieldloop_e2e::call(
            Method::GET,
            &format!(
                "{base}/api/customers/{}/products",
                c["id"].as_str().unwrap_or_default()
            ),
            token,
            None,
        )
        .await?;
        assert_eq!(status, 200, "{list}");
        products += list.as_array().map(Vec::len).unwrap_or(0);
    }
    assert_eq!(products, 2, "the refused product was not added");
    // A technician does not look customers up.
    let tech = fieldloop_e2e::login_token(&base, "tech").await?;
    let (status, _) =
        fieldloop_e2e::call(Method::GET, &format!("{base}/api/customers"), &tech, None).await?;
    assert_eq!(status, 403);
    Ok(())
}

/// The lists find the work: the records list searched by customer name, phone, serial and
/// receipt number, filtered by kind and state, paged fifty at a time with the count; the
/// complaints list by number, customer and state. Bad input tried: an unknown kind (refused
/// in Chinese), page 0 and a page past the end (the nearest page), a search holding `%` and
/// `_` (read as those characters, not as patterns).
async fn lists(server: TestServer) -> anyhow::Result<()> {
    let base = server.base();
    let people = People::sign_in(
        &server,
        &[
            ("clerk", Role::Clerk, Some("wuhan")),
            ("sales", Role::Salesperson, Some("wuhan")),
            ("quality", Role::Quality, None),
        ],
    )
    .await?;
    let customer = |name: &str, phone: &str| {
        people.ok(
            "clerk",
            Method::POST,
            "/api/customers",
            Some(json!({"name": name, "address": "武汉", "phone": phone})),
        )
    };
    let mine = customer("黄石某矿业", "0714-555").await?;
    let other = customer("孝感某厂", "0712-888").await?;
    let product = |c: &serde_json::Value, serial: &str| {
        people.ok(
            "clerk",
            Method::POST,
            "/api/products",
            Some(json!({"customer_id": c["id"], "name": "破碎机", "model": "PC-600", "serial": serial, "purchase_date": "2026-03-15", "warranty_months": 12})),
        )
    };
    let p_mine = product(&mine, "HS-77").await?;
    let p_other = product(&other, "XG_100%").await?;
    // 55 requests of the other customer, one of mine: two pages.
    for _ in 0..55 {
        people
            .ok("clerk", Method::POST, "/api/visits", Some(json!({"product_id": p_other["id"], "category": "C", "channel": "phone", "description": "x"})))
            .await?;
    }
    people
        .ok("clerk", Method::POST, "/api/visits", Some(json!({"product_id": p_mine["id"], "category": "A", "channel": "phone", "description": "皮带打滑"})))
        .await?;
    let http = client();
    let clerk = sign_in(&http, &base, "clerk").await?;
    let list = |query: &str| {
        let url = format!("{base}/web/records?{query}");
        let http = &http;
        let clerk = &clerk;
        async move { super::web::page_text(http, url, clerk).await }
    };
    let count = |page: &str| {
        page.split(r#"id="records-count""#)
            .nth(1)
            .and_then(|rest| rest.split("</p>").next())
            .unwrap_or_default()
            .to_string()
    };
    let rows = |page: &str| page.matches("<tr>").count().saturating_sub(1);

    let all = list("").await?;
    assert!(count(&all).contains("56"), "{}", count(&all));
    assert!(count(&all).contains("1 / 2"), "two pages: {}", count(&all));
    assert_eq!(rows(&all), 50, "fifty a page");
    assert!(all.contains(r#"id="page-next""#) && !all.contains(r#"id="page-prev""#));
    let second = list("page=2").await?;
    assert_eq!(rows(&second), 6);
    for query in [
        "q=黄石",
        "q=0714",
        "q=hs-77",
        "q=HS-77&kind=visit&state=registered",
    ] {
        let found = list(query).await?;
        assert!(count(&found).contains(" 1 "), "{query}: {}", count(&found));
        assert!(found.contains("黄石某矿业"), "{query}");
    }
    // `%` and `_` are characters to find, not patterns.
    let literal = list("q=XG_100%25").await?;
    assert!(count(&literal).contains("55"), "{}", count(&literal));
    let nothing = list("q=_%25").await?;
    assert!(count(&nothing).contains(" 0 "), "{}", count(&nothing));
    assert!(nothing.contains("没有符合条件的记录"));
    assert!(count(&list("kind=receipt").await?).contains(" 0 "));
    // Bad pages read as the nearest one; an unknown kind is refused in words.
    assert_eq!(rows(&list("page=0").await?), 50);
    assert!(list("page=99").await?.contains("没有符合条件的记录"));
    let bad = list("kind=invoice").await?;
    assert!(
        bad.contains("没有这种记录") && !bad.contains("invalid_input"),
        "{bad}"
    );
    // Registered between two days (both included), from a date picker; a bad date refused.
    assert!(count(&list("from=2000-01-01&to=2099-12-31").await?).contains("56"));
    assert!(count(&list("from=2099-01-01").await?).contains(" 0 "));
    assert!(count(&list("to=2000-01-01").await?).contains(" 0 "));
    let bad = list("from=2026-13-01").await?;
    assert!(bad.contains("不是日期"), "{bad}");

    // Complaints: one accepted (numbered), one waiting.
    let file = |customer: &str| {
        people.ok(
            "sales",
            Method::POST,
            "/api/complaints",
            Some(
                json!({"customer_name": customer, "order_number": "SO-1", "product_model": "PC-600",
                        "quantity": 1, "delivery_date": "2026-09-01", "defect": "轴承异响",
                        "customer_demand": "更换", "claimed": "500"}),
            ),
        )
    };
    let accepted = file("黄石某矿业").await?;
    file("孝感某厂").await?;
    let view = people
        .ok(
            "quality",
            Method::POST,
            &format!(
                "/api/complaints/{}/actions",
                accepted["id"].as_str().unwrap_or_default()
            ),
            Some(json!({"action": "accept"})),
        )
        .await?;
    let number = view["number"].as_str().unwrap_or_default().to_string();
    let quality = sign_in(&http, &base, "quality").await?;
    let cases = |query: String| {
        let url = format!("{base}/web/complaints?{query}");
        let http = &http;
        let quality = &quality;
        async move { super::web::page_text(http, url, quality).await }
    };
    let ccount = |page: &str| {
        page.split(r#"id="complaints-count""#)
            .nth(1)
            .and_then(|rest| rest.split("</p>").next())
            .unwrap_or_default()
            .to_string()
    };
    assert!(ccount(&cases(String::new()).await?).contains(" 2 "));
    let by_number = cases(format!("q={number}")).await?;
    assert!(ccount(&by_number).contains(" 1 ") && by_number.contains("黄石某矿业"));
    let waiting = cases("state=submitted".into()).await?;
    assert!(ccount(&waiting).contains(" 1 ") && waiting.contains("孝感某厂"));
    assert!(
        ccount(&cases("q=轴承".into()).await?).contains(" 2 "),
        "by defect"
    );
    assert!(ccount(&cases("overdue=1".into()).await?).contains(" 0 "));
    // Filed between two company days, both included: today holds both, tomorrow none; a
    // bad date (month 13, words) is refused in Chinese.
    let today = chrono::DateTime::from_timestamp(fieldloop_e2e::now() + 8 * 3600, 0)
        .context("a clock reading")?
        .date_naive();
    let tomorrow = today.succ_opt().unwrap_or(today);
    assert!(ccount(&cases(format!("from={today}&to={today}")).await?).contains(" 2 "));
    assert!(ccount(&cases(format!("from={tomorrow}")).await?).contains(" 0 "));
    assert!(
        ccount(&cases(format!("to={}", today.pred_opt().unwrap_or(today))).await?).contains(" 0 ")
    );
    for bad in ["from=2026-13-01", "to=昨天"] {
        let page = cases(bad.into()).await?;
        assert!(page.contains("不是日期"), "{bad}: {page}");
    }
    Ok(())
}

both_engines!(lists_find_the_work, lists);

/// §4.6.1 in the browser: a salesperson files the 客户投诉处理单 from the complaints list; a
/// claim with three decimals is refused in Chinese with everything typed kept, and nothing is
/// filed; corrected, the case is filed for the salesperson's office and waits for quality.
/// Through the API a delivery date that is no date (month 13) is refused in Chinese as well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complaint_is_filed_in_the_browser() -> anyhow::Result<()> {
    let server = TestServer::start(Engine::Sqlite)
        .await?
        .expect("sqlite always starts");
    let base = server.base();
    let people = People::sign_in(
        &server,
        &[
            ("sales", Role::Salesperson, Some("wuhan")),
            ("quality", Role::Quality, None),
        ],
    )
    .await?;
    let browser = Browser::start().await?;
    browser.sign_in(&base, "sales").await?;
    browser.goto(&format!("{base}/web/complaints")).await?;
    browser.submit("#new-complaint").await?;
    browser.type_into("#f-customer_name", "黄石某矿业").await?;
    browser.type_into("#f-order_number", "SO-2026-301").await?;
    browser.type_into("#f-product_model", "PC-600").await?;
    browser.set_value("#f-delivery_date", "2026-10-08").await?;
    browser.type_into("#f-defect", "轴承异响").await?;
    browser.type_into("#f-customer_demand", "更换轴承").await?;
    browser.click("#f-severe").await?;
    // The page's own check would stop 12.345; the server must refuse it too.
    browser
        .script("const c = document.querySelector('#f-claimed'); c.setAttribute('step', 'any'); c.value = '12.345';")
        .await?;
    browser.submit("#file-complaint").await?;
    let refusal = browser.text(".flash.err").await?;
    assert!(refusal.contains("不是金额"), "{refusal}");
    assert_eq!(
        browser
            .script("return document.querySelector('#f-customer_name').value;")
            .await?,
        json!("黄石某矿业"),
        "what was typed is kept"
    );
    assert_eq!(
        browser
            .script("return document.querySelector('#f-severe').checked;")
            .await?,
        json!(true)
    );
    let (_, none) = fieldloop_e2e::call(
        Method::GET,
        &format!("{base}/api/complaints"),
        &people.tokens["quality"],
        None,
    )
    .await?;
    assert_eq!(
        none.as_array().map(Vec::len),
        Some(0),
        "nothing filed: {none}"
    );
    browser.set_value("#f-claimed", "1500").await?;
    browser.submit("#file-complaint").await?;
    assert!(browser.text(".flash.ok").await?.contains("等待品质部受理"));
    let text = browser.visible_text().await?;
    assert!(
        text.contains("黄石某矿业") && text.contains("轴承异响") && text.contains("¥1,500.00"),
        "{text}"
    );
    assert!(
        text.contains("严重意见书面报告部长"),
        "a severe case: {text}"
    );
    browser
        .screenshot(&shot("sales", "complaint-filed"))
        .await?;
    let (_, filed) = fieldloop_e2e::call(
        Method::GET,
        &format!("{base}/api/complaints"),
        &people.tokens["quality"],
        None,
    )
    .await?;
    assert_eq!(filed[0]["state"], "submitted", "{filed}");
    assert_eq!(filed[0]["case"]["region"], "wuhan", "{filed}");
    assert_eq!(filed[0]["case"]["claimed_fen"], 150_000, "{filed}");

    let (status, bad) = fieldloop_e2e::call(
        Method::POST,
        &format!("{base}/api/complaints"),
        &people.tokens["sales"],
        Some(
            json!({"customer_name": "某厂", "order_number": "SO-1", "product_model": "PC-600",
                    "quantity": 1, "delivery_date": "2026-13-01", "defect": "异响",
                    "customer_demand": "更换"}),
        ),
    )
    .await?;
    assert_eq!(status, 400, "{bad}");
    assert!(
        bad["error"]["message_zh"]
            .as_str()
            .is_some_and(|m| m.contains("不是交货日期")),
        "{bad}"
    );
    Ok(())
}

/// One person's step on a case through its page alone: sign in, open the case, fill the
/// step's form (texts and choices by name, boxes to tick), press its button. Returns the
/// page's message; a refusal fails the test with its words.
async fn step_in_page(
    browser: &Browser,
    base: &str,
    who: &str,
    case: &str,
    button: &str,
    values: &[(&str, &str)],
    ticks: &[&str],
) -> anyhow::Result<String> {
    browser.sign_in(base, who).await?;
    browser
        .goto(&format!("{base}/web/complaints/{case}"))
        .await?;
    let form = format!("form:has(#act-{button})");
    for (name, value) in values {
        browser
            .set_value(&format!("{form} [name={name}]"), value)
            .await?;
    }
    for name in ticks {
        browser.click(&format!("{form} [name={name}]")).await?;
    }
    browser.submit(&format!("#act-{button}")).await?;
    let said = browser.text(".flash").await?;
    anyhow::ensure!(
        browser.count(".flash.err").await? == 0,
        "{who} {button}: {said}"
    );
    Ok(said)
}

/// A complaint's whole course (§4.6) through the pages alone, each department at its own
/// step as the office works it: filed by the salesperson, accepted and numbered by quality,
/// investigated, reported, determined, production's countermeasure, R&D's opinion, the GM
/// office's decision with a loss and a penalty, the amount proposed and approved by the
/// marketing head (¥800, within 1,000), the director's approval of the penalty, the customer
/// told, the head's review and visit, closed by the GM office. No step goes through the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complaint_runs_its_course_in_the_browser() -> anyhow::Result<()> {
    let server = TestServer::start(Engine::Sqlite)
        .await?
        .expect("sqlite always starts");
    let base = server.base();
    let office = Office::new(&server).await?;
    let browser = Browser::start().await?;
    browser.sign_in(&base, "sales").await?;
    browser.goto(&format!("{base}/web/complaints/new")).await?;
    for (field, value) in [
        ("#f-customer_name", "湖北某建设公司"),
        ("#f-order_number", "SO-2026-118"),
        ("#f-product_model", "BC-300"),
        ("#f-quantity", "2"),
        ("#f-delivery_date", "2026-09-01"),
        ("#f-defect", "焊缝开裂"),
        ("#f-customer_demand", "更换并赔偿"),
        ("#f-claimed", "800"),
    ] {
        browser.set_value(field, value).await?;
    }
    browser.submit("#file-complaint").await?;
    let url = browser.url().await?;
    let case = url
        .split("/web/complaints/")
        .nth(1)
        .and_then(|rest| rest.split('?').next())
        .context("the new case's page")?
        .to_string();
    let step = |who: &'static str,
                button: &'static str,
                values: Vec<(&'static str, &'static str)>,
                ticks: Vec<&'static str>| {
        let (browser, base, case) = (&browser, base.clone(), case.clone());
        async move { step_in_page(browser, &base, who, &case, button, &values, &ticks).await }
    };
    step("quality", "accept", vec![], vec![]).await?;
    let number = browser.text("#case-number").await?;
    assert_eq!(number.len(), 12, "numbered as 2026-12-0001: {number}");
    step(
        "sales",
        "investigate",
        vec![("findings", "底座焊缝开裂")],
        vec!["joint_visit"],
    )
    .await?;
    step(
        "quality",
        "submit_report",
        vec![("text", "调查报告:底座焊缝开裂")],
        vec![],
    )
    .await?;
    step(
        "quality",
        "determine",
        vec![
            ("cause_class", "quality"),
            ("responsible_department", "production"),
        ],
        vec!["valid", "fault_ours"],
    )
    .await?;
    step(
        "production",
        "production_report",
        vec![
            ("workshop", "焊接车间"),
            ("shift", "乙班"),
            ("operators", "赵师傅"),
            ("production_date", "2026-08-20"),
            ("countermeasure", "改用新夹具"),
        ],
        vec![],
    )
    .await?;
    step(
        "rnd",
        "rnd_opinion",
        vec![("text", "同意;修改焊接工艺规范")],
        vec![],
    )
    .await?;
    step(
        "gmo",
        "consolidate",
        vec![
            ("text", "赔偿客户"),
            ("remedy", "更换机架"),
            ("loss", "500"),
            ("penalty", "书面警告"),
        ],
        vec!["track_improvement"],
    )
    .await?;
    step(
        "sales",
        "propose_amount",
        vec![("kind", "compensation"), ("amount", "800")],
        vec![],
    )
    .await?;
    step("head", "approve-1", vec![], vec![]).await?;
    step("director", "approve_penalty", vec![], vec![]).await?;
    step(
        "sales",
        "communicate",
        vec![("result", "客户接受赔偿方案"), ("promised", "800")],
        vec![],
    )
    .await?;
    step("head", "head_review", vec![], vec![]).await?;
    step(
        "head",
        "record_head_visit",
        vec![("visitor", "部长亲自拜访")],
        vec![],
    )
    .await?;
    step("gmo", "close", vec![], vec![]).await?;
    assert_eq!(browser.text("#case-state").await?, "已结案");
    let handling = browser.text("#handling").await?;
    for shown in [
        "生产部",
        "焊接车间",
        "更换机架",
        "¥500.00",
        "书面警告",
        "客户接受赔偿方案",
        "部长亲自拜访",
    ] {
        assert!(handling.contains(shown), "{shown} in the form: {handling}");
    }
    browser.screenshot(&shot("gmo", "case-closed")).await?;
    let (_, view) = fieldloop_e2e::call(
        Method::GET,
        &format!("{base}/api/complaints/{case}"),
        &office.tokens["gmo"],
        None,
    )
    .await?;
    assert_eq!(view["state"], "closed", "{view}");
    assert_eq!(
        view["case"]["money"][0]["approved_level"], "marketing",
        "{view}"
    );
    Ok(())
}

/// §4.9 through the pages alone, after a case closed with a compensation (¥500) and a return
/// (3 pieces worth ¥200) approved: marketing opens the return form and the allowance
/// certificate from the case page; the marketing head approves the return, the warehouse
/// signs for the goods (2 pieces without a note is refused in Chinese and changes nothing; 3
/// is taken), finance posts it; the GM countersigns the certificate, the salesperson records
/// the customer's signature, finance posts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returns_and_allowances_in_the_browser() -> anyhow::Result<()> {
    let server = TestServer::start(Engine::Sqlite)
        .await?
        .expect("sqlite always starts");
    let base = server.base();
    let office = Office::new(&server).await?;
    let case = office.file("700").await?;
    office
        .run_to_close_returning(&case, 50_000, &[(20_000, 3)], "head")
        .await?;
    let browser = Browser::start().await?;
    browser.sign_in(&base, "sales").await?;
    browser
        .goto(&format!("{base}/web/complaints/{case}"))
        .await?;
    let returns = "form[action$='/returns']";
    for (name, value) in [
        ("approved_quantity", "3"),
        ("reason", "焊缝开裂"),
        ("handling", "返厂重焊"),
        ("basis", "投诉处理单核决"),
    ] {
        browser
            .set_value(&format!("{returns} [name={name}]"), value)
            .await?;
    }
    browser.submit(&format!("{returns} button")).await?;
    browser.find(".flash.ok").await?;
    browser.submit("form[action$='/allowances'] button").await?;
    browser.find(".flash.ok").await?;
    let forms = browser
        .script(
            "return Array.from(document.querySelectorAll(\"#settlements a[href^='/web/settlements/']\")).map(a => [a.textContent, a.getAttribute('href')]);",
        )
        .await?;
    let id_of = |name: &str| {
        forms
            .as_array()
            .into_iter()
            .flatten()
            .find(|f| f[0] == name)
            .and_then(|f| f[1].as_str())
            .and_then(|href| href.strip_prefix("/web/settlements/"))
            .map(str::to_string)
            .with_context(|| format!("no {name} in {forms}"))
    };
    let (ret, allowance) = (id_of("退货单")?, id_of("销货折让证明单")?);
    let settle =
        |who: &'static str, id: String, step: &'static str, quantity: Option<&'static str>| {
            let (browser, base) = (&browser, base.clone());
            async move {
                browser.sign_in(&base, who).await?;
                browser
                    .goto(&format!("{base}/web/settlements/{id}"))
                    .await?;
                if let Some(q) = quantity {
                    browser
                        .set_value("#settlement-form ~ form [name=quantity]", q)
                        .await?;
                }
                browser.submit(&format!("#settle-{step}-{id}")).await?;
                browser.text(".flash").await
            }
        };
    // The form as it reads now: each line's name and value.
    let sheet = || async {
        browser
            .script("return Object.fromEntries(Array.from(document.querySelectorAll('#settlement-form dt')).map(dt => [dt.textContent, dt.nextElementSibling.textContent]));")
            .await
    };
    settle("head", ret.clone(), "approve", None).await?;
    assert_eq!(browser.count(".flash.ok").await?, 1);
    let short = settle("warehouse", ret.clone(), "receive", Some("2")).await?;
    assert!(
        browser.count(".flash.err").await? == 1 && short.contains("实收 2 件与退货单的 3 件不符"),
        "{short}"
    );
    assert_eq!(sheet().await?["货仓实收数量"], "—", "nothing received");
    for (who, step, quantity) in [
        ("warehouse", "receive", Some("3")),
        ("finance", "post", None),
    ] {
        let said = settle(who, ret.clone(), step, quantity).await?;
        assert_eq!(browser.count(".flash.ok").await?, 1, "{who} {step}: {said}");
    }
    let form = sheet().await?;
    assert_eq!(
        (form["货仓实收数量"].as_str(), form["财务过账"].as_str()),
        (Some("3"), Some("是")),
        "{form}"
    );
    browser
        .screenshot(&shot("finance", "return-posted"))
        .await?;
    for (who, step) in [
        ("gm", "countersign"),
        ("sales", "customer-signed"),
        ("finance", "post"),
    ] {
        let said = settle(who, allowance.clone(), step, None).await?;
        assert_eq!(browser.count(".flash.ok").await?, 1, "{who} {step}: {said}");
    }
    let form = sheet().await?;
    assert_eq!(
        (
            form["折让金额"].as_str(),
            form["总经理会签"].as_str(),
            form["客户签认"].as_str(),
            form["财务过账"].as_str()
        ),
        (Some("¥500.00"), Some("是"), Some("是"), Some("是")),
        "{form}"
    );
    Ok(())
}

/// A survey answer taken by phone, entered through the page (§3.1): the campaign's questions
/// are offered with their scales; a missing rating is refused in Chinese and enters nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_answer_is_entered_in_the_browser() -> anyhow::Result<()> {
    let server = TestServer::start(Engine::Sqlite)
        .await?
        .expect("sqlite always starts");
    let base = server.base();
    let people = People::sign_in(
        &server,
        &[
            ("clerk", Role::Clerk, Some("wuhan")),
            ("head", Role::MarketingHead, Some("wuhan")),
            ("tech", Role::Technician, Some("wuhan")),
        ],
    )
    .await?;
    let template = people
        .ok("head", Method::POST, "/api/surveys/templates", Some(json!({"name": "回访", "questions": [{"text_zh": "服务态度", "text_en": "Manner", "scale": 5}]})))
        .await?;
    let campaign = people
        .ok("head", Method::POST, "/api/surveys/campaigns", Some(json!({"template_id": template["id"], "name": "十二月回访", "period": "monthly", "region": "wuhan", "opens_on": "2026-12-01", "closes_on": "2026-12-31"})))
        .await?;
    let cid = campaign["id"].as_str().unwrap_or_default().to_string();
    let browser = Browser::start().await?;
    browser.sign_in(&base, "clerk").await?;
    browser.goto(&format!("{base}/web/surveys")).await?;
    let form = format!("#campaign-{cid}");
    browser.find(&format!("{form} select[name=q1]")).await?;
    assert!(browser.visible_text().await?.contains("服务态度"));
    // No rating chosen: refused, nothing entered.
    browser
        .type_into(&format!("{form} #f-customer_name"), "武汉某工地")
        .await?;
    browser
        .click(&format!(
            "{form} select[name=technician] option:nth-child(2)"
        ))
        .await?;
    browser
        .script(&format!(
            "document.querySelector('{form} select[name=rating]').removeAttribute('required');"
        ))
        .await?;
    browser.submit(&format!("#answer-{cid}")).await?;
    assert!(
        browser
            .text(".flash.err")
            .await?
            .contains("请选择 1 到 5 的评分")
    );
    browser
        .type_into(&format!("{form} #f-customer_name"), "武汉某工地")
        .await?;
    browser
        .click(&format!(
            "{form} select[name=technician] option:nth-child(2)"
        ))
        .await?;
    browser
        .click(&format!("{form} select[name=rating] option:nth-child(6)"))
        .await?;
    browser
        .click(&format!("{form} select[name=q1] option:nth-child(5)"))
        .await?;
    browser.submit(&format!("#answer-{cid}")).await?;
    assert!(browser.text(".flash.ok").await?.contains("已登记回访回答"));
    browser.screenshot(&shot("clerk", "survey-answer")).await?;
    // The answer is the technician's rating in the month's feedback register: one, a 5.
    let (_, register) = fieldloop_e2e::call(
        Method::GET,
        &format!("{base}/api/reports/feedback"),
        &people.tokens["head"],
        None,
    )
    .await?;
    let rows = register["rows"].as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 1, "{register}");
    assert_eq!(rows[0][3], json!(5), "{register}");
    Ok(())
}
