//! The back office's daily tasks finished through the pages alone (§2.3, §2.4, §2.6, §4.8.1):
//! logging and archiving a returned form, issuing an invoice with its number, a product in
//! stock waiting for the customer's hand-back signature, and the monthly review with its
//! personnel notice. Each step is offered once, to the role that does it; refusals are in
//! Chinese; visible text holds no machine code.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use fieldloop_client_core::model::ownership::Author;
use fieldloop_client_core::model::{DocKind, FieldValue as V, Role};
use fieldloop_e2e::office::People;
use fieldloop_e2e::{Engine, TestServer};
use fieldloop_server::ManualClock;
use reqwest::Method;
use reqwest::header::COOKIE;
use serde_json::json;
use uuid::Uuid;

use super::web::{client, csrf_of, decoded, get_as, location, page_text, sign_in};

const TECH: Author = Author::Device(Role::Technician);

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A page's visible text: tags, scripts and styles dropped.
fn visible(html: &str) -> String {
    // A closed <details> (the auditors' paths, ids and digests) is not shown.
    let mut shown = String::new();
    let mut rest = html;
    while let Some(start) = rest.find("<details") {
        shown.push_str(&rest[..start]);
        rest = rest[start..]
            .split_once("</details>")
            .map(|(_, after)| after)
            .unwrap_or("");
    }
    shown.push_str(rest);
    let html = shown.as_str();
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// A browser's session: signs in through the form, posts forms with the page's CSRF token.
struct Desk {
    http: reqwest::Client,
    base: String,
    cookie: String,
}

impl Desk {
    async fn open(base: &str, who: &str) -> anyhow::Result<Desk> {
        let http = client();
        let cookie = sign_in(&http, base, who).await?;
        Ok(Desk {
            http,
            base: base.to_string(),
            cookie,
        })
    }
    async fn page(&self, path: &str) -> anyhow::Result<String> {
        page_text(&self.http, format!("{}{path}", self.base), &self.cookie).await
    }
    /// Posts a form of `page` (its CSRF token); the flash the redirect carries, decoded.
    async fn post(
        &self,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> anyhow::Result<String> {
        let csrf = csrf_of(&self.page(page).await?);
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf", &csrf));
        let resp = self
            .http
            .post(format!("{}{action}", self.base))
            .header(COOKIE, &self.cookie)
            .form(&form)
            .send()
            .await?;
        Ok(decoded(&location(&resp)))
    }
}

async fn office_tasks(engine: Engine) -> anyhow::Result<()> {
    let clock = Arc::new(ManualClock::new(at("2026-11-27T09:00:00+08:00")));
    let Some(server) = TestServer::start_clocked(engine, clock.clone()).await? else {
        return Ok(());
    };
    let base = server.base();
    let people = People::sign_in(
        &server,
        &[
            ("clerk", Role::Clerk, Some("wuhan")),
            ("director", Role::FactoryDirector, None),
            ("quality", Role::Quality, None),
            ("qc", Role::QcInspector, None),
            ("production", Role::Production, None),
            ("finance", Role::Finance, None),
            ("gmo", Role::GmOffice, None),
            ("tech", Role::Technician, Some("wuhan")),
            ("tech2", Role::Technician, Some("wuhan")),
        ],
    )
    .await?;
    let customer = people
        .ok(
            "clerk",
            Method::POST,
            "/api/customers",
            Some(json!({"name": "武汉某工地", "address": "武汉市江夏区", "phone": "027-1234567"})),
        )
        .await?;
    let product = people
        .ok("clerk", Method::POST, "/api/products", Some(json!({"customer_id": customer["id"], "name": "搅拌机", "model": "BC-350", "serial": "SN-001", "purchase_date": "2026-06-01", "warranty_months": 12})))
        .await?;
    let visit = people
        .ok("clerk", Method::POST, "/api/visits", Some(json!({"product_id": product["id"], "category": "A", "channel": "phone", "description": "搅拌筒不转"})))
        .await?;
    let visit: Uuid = visit["id"].as_str().unwrap().parse()?;
    people
        .ok(
            "director",
            Method::POST,
            &format!("/api/visits/{visit}/dispatch"),
            Some(json!({"technician_id": people.ids["tech"]})),
        )
        .await?;
    // §2.2: the director gives the job to another technician through the record page, and
    // back; a job nobody may take (a technician id of another office) is refused in Chinese.
    let director = Desk::open(&base, "director").await?;
    let record_page = format!("/web/records/{visit}");
    assert!(
        director
            .page(&record_page)
            .await?
            .contains(r#"id="reassign""#)
    );
    let assigned = || async {
        let doc = people
            .ok("director", Method::GET, &format!("/api/docs/{visit}"), None)
            .await?;
        Ok::<_, anyhow::Error>(
            doc["fields"]
                .as_array()
                .and_then(|f| f.iter().find(|f| f["path"] == "dispatch.technician"))
                .map(|f| f["value"].clone()),
        )
    };
    for who in ["tech2", "tech"] {
        let id = people.ids[who].to_string();
        let flash = director
            .post(
                &record_page,
                &format!("/web/visits/{visit}/reassign"),
                &[("technician_id", &id)],
            )
            .await?;
        assert!(flash.contains("ok=已改派"), "{flash}");
        assert_eq!(assigned().await?, Some(json!(id)));
    }
    let flash = director
        .post(
            &record_page,
            &format!("/web/visits/{visit}/reassign"),
            &[("technician_id", "")],
        )
        .await?;
    assert!(flash.contains("err=请选择技术人员"), "{flash}");
    let dev = server.device("tech").await?;
    dev.sync().await?;
    let t = at("2026-11-27T10:00:00+08:00").timestamp();
    dev.store()
        .edit(
            visit,
            TECH,
            &[
                ("form.travel_fen", V::Int(12_050)),
                ("fee.amount_fen", V::Int(150_000)),
                ("fee.method", V::Text("cash_on_site".into())),
            ],
            t,
        )
        .await?;
    let record = format!("/web/records/{visit}");
    let clerk = Desk::open(&base, "clerk").await?;
    let quality = Desk::open(&base, "quality").await?;
    // Before the technician returns the form, nobody is offered a step.
    let page = clerk.page(&record).await?;
    assert!(!page.contains(r#"id="log-form""#));
    assert!(
        page.contains("等待技术员交回填好的反馈表"),
        "says what it waits for"
    );

    let sha = dev
        .store()
        .put_blob(b"\x89PNG customer signature strokes", "image/png")
        .await?;
    dev.store()
        .sign(
            visit,
            TECH,
            &sha,
            "王经理",
            &[("form.outcome", V::Text("fixed_on_site".into()))],
            t,
        )
        .await?;
    assert!(dev.sync().await?.refused.is_empty());

    // §2.3: quality waits for the clerk; the clerk logs the form once.
    let page = quality.page(&record).await?;
    assert!(!page.contains(r#"id="archive-form""#) && page.contains("等待文员登记入服务记录"));
    let page = clerk.page(&record).await?;
    assert!(
        page.contains(r#"id="log-form""#),
        "the clerk is offered logging"
    );
    let flash = clerk
        .post(&record, &format!("/web/visits/{visit}/log-form"), &[])
        .await?;
    assert!(flash.contains("ok=已登记入服务记录"), "{flash}");
    let page = clerk.page(&record).await?;
    assert!(!page.contains(r#"id="log-form""#), "offered once");
    assert!(page.contains(r#"id="form-logged""#) && page.contains("2026-11-27 09:00"));
    // Posted again anyway (a second tab): refused in Chinese, nothing changed.
    let flash = clerk
        .post(&record, &format!("/web/visits/{visit}/log-form"), &[])
        .await?;
    assert!(flash.contains("err=反馈表已登记过"), "{flash}");
    assert!(
        !flash.contains("already_logged"),
        "no machine code: {flash}"
    );
    // A clerk cannot archive; quality can, once.
    let flash = clerk
        .post(&record, &format!("/web/visits/{visit}/archive"), &[])
        .await?;
    assert!(flash.contains("err="), "{flash}");
    assert!(
        quality
            .page(&record)
            .await?
            .contains(r#"id="archive-form""#)
    );
    let flash = quality
        .post(&record, &format!("/web/visits/{visit}/archive"), &[])
        .await?;
    assert!(flash.contains("ok=已归档"), "{flash}");
    let page = quality.page(&record).await?;
    assert!(!page.contains(r#"id="archive-form""#) && page.contains(r#"id="form-archived""#));

    // §2.4: finance takes the cash first, then issues the invoice with its number.
    let finance = Desk::open(&base, "finance").await?;
    let desk = finance.page("/web/finance").await?;
    assert!(desk.contains("¥1,500.00"), "the fee grouped, in yuan");
    assert!(visible(&desk).contains("当场收费") && !visible(&desk).contains("cash_on_site"));
    let invoice = format!("/web/visits/{visit}/invoice");
    let flash = finance
        .post("/web/finance", &invoice, &[("state", "collected")])
        .await?;
    assert!(flash.contains("ok="), "{flash}");
    let desk = finance.page("/web/finance").await?;
    assert!(
        desk.contains(r#"name="invoice_no""#),
        "the number is asked for"
    );
    // Bad numbers tried through the page: none, blank, a line break.
    for bad in ["", "   ", "0441\n2873"] {
        let flash = finance
            .post(
                "/web/finance",
                &invoice,
                &[("state", "issued"), ("invoice_no", bad)],
            )
            .await?;
        assert!(
            flash.contains("err=") && flash.contains("发票号码"),
            "{bad:?}: {flash}"
        );
    }
    assert!(
        finance
            .page("/web/finance")
            .await?
            .contains(r#"name="invoice_no""#),
        "nothing changed"
    );
    let flash = finance
        .post(
            "/web/finance",
            &invoice,
            &[("state", "issued"), ("invoice_no", "No.04412873")],
        )
        .await?;
    assert!(flash.contains("ok="), "{flash}");
    assert!(
        finance
            .page("/web/finance")
            .await?
            .contains("没有待开票或待收款的费用")
    );
    let page = clerk.page(&record).await?;
    assert!(page.contains("发票号码") && page.contains("No.04412873"));

    // §2.6: a product taken back, repaired and accepted into stock waits for the customer's
    // hand-back signature; the page says so, in words, and offers no return.
    let receipt = dev.store().create(DocKind::Receipt, "wuhan", t).await?.id();
    let number = dev.store().next_receipt_number().await?;
    dev.store()
        .sign(receipt, TECH, &sha, "王经理", &[], t)
        .await?;
    dev.store()
        .edit(
            receipt,
            TECH,
            &[
                ("receipt.number", V::Text(number.clone())),
                ("receipt.visit_id", V::Text(visit.to_string())),
                (
                    "receipt.issued_at",
                    V::Text("2026-11-27T10:30:00+08:00".into()),
                ),
            ],
            t,
        )
        .await?;
    assert!(dev.sync().await?.refused.is_empty());
    let custody = format!("/api/receipts/{receipt}/custody");
    let receipt_page = format!("/web/records/{receipt}");
    let receipt_link = format!(r#"href="{receipt_page}""#);
    // Each custody step is in the 待办 of the role that takes it, then gone.
    let inbox = clerk.page("/web/inbox").await?;
    assert!(
        inbox.contains(&receipt_link) && visible(&inbox).contains("交生产部维修"),
        "the clerk's inbox has the hand-over"
    );
    people
        .ok(
            "clerk",
            Method::POST,
            &custody,
            Some(json!({"event": "to_production"})),
        )
        .await?;
    assert!(!clerk.page("/web/inbox").await?.contains(&receipt_link));
    let production = Desk::open(&base, "production").await?;
    assert!(production.page("/web/inbox").await?.contains(&receipt_link));
    // §2.7 through the page: production reports the repair late, once; marketing's inbox then
    // has it, and the clerk records that the customer was told, once.
    assert!(
        production
            .page(&receipt_page)
            .await?
            .contains(r#"id="will-miss""#)
    );
    let flash = production
        .post(
            &receipt_page,
            &format!("/web/receipts/{receipt}/will-miss"),
            &[],
        )
        .await?;
    assert!(flash.contains("ok=已报告不能按期修复"), "{flash}");
    let page = production.page(&receipt_page).await?;
    assert!(!page.contains(r#"id="will-miss""#) && visible(&page).contains("不能按期修复"));
    let inbox = clerk.page("/web/inbox").await?;
    assert!(
        inbox.contains(&receipt_link) && visible(&inbox).contains("修复延期,告知客户"),
        "marketing is told to tell the customer"
    );
    let flash = clerk
        .post(
            &receipt_page,
            &format!("/web/receipts/{receipt}/customer-told"),
            &[],
        )
        .await?;
    assert!(flash.contains("ok=已记录告知客户"), "{flash}");
    let page = clerk.page(&receipt_page).await?;
    assert!(!page.contains(r#"id="customer-told""#) && visible(&page).contains("已告知客户"));
    assert!(!clerk.page("/web/inbox").await?.contains(&receipt_link));
    // A clerk cannot report QC's or production's steps through a forged post.
    let flash = clerk
        .post(
            &receipt_page,
            &format!("/web/receipts/{receipt}/custody"),
            &[("event", "qc_accept")],
        )
        .await?;
    assert!(flash.contains("err="), "{flash}");
    for (who, event) in [("production", "repair_done"), ("qc", "qc_accept")] {
        people
            .ok(who, Method::POST, &custody, Some(json!({"event": event})))
            .await?;
    }
    let (status, body) = people
        .call(
            "tech",
            Method::POST,
            &custody,
            Some(json!({"event": "return_to_customer"})),
        )
        .await?;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message_zh"]
            .as_str()
            .unwrap()
            .contains("等待客户交还签字")
    );
    let page = clerk.page(&format!("/web/records/{receipt}")).await?;
    let text = visible(&page);
    assert!(page.contains(r#"id="custody-waiting""#), "the wait is said");
    assert!(
        text.contains("交生产部维修") && text.contains("品检合格入库") && text.contains("已入库"),
        "custody in words"
    );
    for code in [
        "to_production",
        "repair_done",
        "qc_accept",
        "in_stock",
        "with_technician",
    ] {
        assert!(
            !text.contains(code),
            "raw code {code} shown: {}",
            &text[text.find(code).unwrap_or(0).saturating_sub(200)..]
        );
    }
    assert!(!page.contains(r#"id="custody-return_to_customer""#));
    // The visit links its receipt by number.
    assert!(clerk.page(&record).await?.contains(&number));

    // §3.3–§3.5 on the feedback page: a severe complaint from the customer is reported to the
    // head in writing, answered by letter (a phone answer is not offered), the customer is
    // visited, and it closes once nothing is missing; closing early is refused in Chinese.
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
            ],
            t,
        )
        .await?;
    assert!(dev.sync().await?.refused.is_empty());
    let desk = clerk.page("/web/feedback").await?;
    let text = visible(&desk);
    assert!(
        text.contains("武汉某工地")
            && text.contains("书面报告部长")
            && text.contains("答复客户")
            && text.contains("拜访客户")
            && !text.contains("severe"),
        "{text}"
    );
    assert!(
        !desk.contains(&format!(r#"id="close-{feedback}""#)),
        "not closable yet"
    );
    assert!(
        !desk.contains(r#"<option value="phone">"#),
        "a severe one is answered in writing"
    );
    assert!(visible(&clerk.page("/web/inbox").await?).contains("客户意见"));
    let step = |name: &str| format!("/web/feedback/{feedback}/{name}");
    let flash = clerk.post("/web/feedback", &step("close"), &[]).await?;
    assert!(
        flash.contains("err=尚不能办结") && !flash.contains("still needed"),
        "{flash}"
    );
    let flash = clerk
        .post(
            "/web/feedback",
            &step("answer"),
            &[("method", "letter"), ("text", "")],
        )
        .await?;
    assert!(flash.contains("err=请填写答复客户的内容"), "{flash}");
    for (name, fields) in [
        ("report", vec![]),
        (
            "answer",
            vec![("method", "letter"), ("text", "已书面致歉并安排检修")],
        ),
        ("visit", vec![("text", "市场部部长")]),
    ] {
        let flash = clerk.post("/web/feedback", &step(name), &fields).await?;
        assert!(flash.contains("ok=已记录"), "{name}: {flash}");
    }
    let desk = clerk.page("/web/feedback").await?;
    assert!(desk.contains(&format!(r#"id="close-{feedback}""#)));
    let flash = clerk.post("/web/feedback", &step("close"), &[]).await?;
    assert!(flash.contains("ok=已记录"), "{flash}");
    assert!(visible(&clerk.page("/web/feedback").await?).contains("没有未办结的客户意见"));

    // §4.8.1: the GM office reviews last month in the first days of the next.
    clock.set(at("2026-12-03T09:00:00+08:00"));
    let gmo = Desk::open(&base, "gmo").await?;
    let notice = "/web/registers/personnel-notice?month=2026-11";
    let page = gmo.page(notice).await?;
    assert!(
        page.contains(r#"id="notice-waiting""#),
        "not a dead end before confirming"
    );
    assert!(page.contains(r#"href="/web/reviews?month=2026-11""#));
    let page = gmo.page("/web/reviews").await?;
    assert!(page.contains("月度评审 2026-11"), "opens on last month");
    assert!(
        page.contains("2026-12-09") && page.contains("还剩 6 天"),
        "due before the 10th"
    );
    assert!(page.contains(r#"id="confirm-review""#));
    // Sessions end with the days that passed: finance signs in again.
    let finance = Desk::open(&base, "finance").await?;
    let flash = finance
        .post("/web/finance", "/web/reviews/2026-11/confirm", &[])
        .await?;
    assert!(flash.contains("err=月度评审由总经理办公室确认"), "{flash}");
    let flash = gmo
        .post("/web/reviews", "/web/reviews/2026-11/confirm", &[])
        .await?;
    assert!(flash.contains("ok=已确认月度评审"), "{flash}");
    let page = gmo.page("/web/reviews?month=2026-11").await?;
    assert!(!page.contains(r#"id="confirm-review""#) && page.contains("已确认"));
    let flash = gmo
        .post("/web/reviews", "/web/reviews/2026-11/confirm", &[])
        .await?;
    assert!(flash.contains("err=2026-11 的月度评审已确认过"), "{flash}");
    // Bad months: not a month, this month (not over), a month that does not exist.
    for bad in ["2026-13", "2026-12", "nov"] {
        let page = gmo.page(&format!("/web/reviews?month={bad}")).await?;
        assert!(!page.contains(r#"id="confirm-review""#), "{bad}");
    }
    let page = gmo.page(notice).await?;
    assert!(!page.contains(r#"id="notice-waiting""#) && page.contains(r#"id="download-xlsx""#));
    let file = get_as(
        &gmo.http,
        format!("{base}/web/registers/personnel-notice/download?month=2026-11&format=xlsx"),
        &gmo.cookie,
    )
    .await?;
    assert_eq!(file.status(), 200);
    let disposition = file.headers()["content-disposition"].to_str()?.to_string();
    // 人事公布单-2026-11.xlsx, percent-encoded as UTF-8.
    assert!(
        disposition.contains(
            "filename*=UTF-8''%E4%BA%BA%E4%BA%8B%E5%85%AC%E5%B8%83%E5%8D%95-2026-11.xlsx"
        ),
        "{disposition}"
    );
    server.finish().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn office_tasks_sqlite() -> anyhow::Result<()> {
    office_tasks(Engine::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn office_tasks_postgres() -> anyhow::Result<()> {
    office_tasks(Engine::Postgres).await
}
