//! Master data as an IT department loads it: regions as a managed list, and customers,
//! products and accounts imported from CSV or XLSX, checked whole with every bad row reported
//! by number and reason, written all or nothing. Both engines.

use fieldloop_client_core::model::Role;
use fieldloop_e2e::{TestServer, both_engines, call, login_token};
use reqwest::Method;
use serde_json::{Value, json};

async fn upload(
    base: &str,
    token: &str,
    kind: &str,
    commit: bool,
    bytes: Vec<u8>,
) -> anyhow::Result<(u16, Value)> {
    let resp = fieldloop_e2e::http()
        .post(format!("{base}/api/import/{kind}?commit={commit}"))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await?;
    let status = resp.status().as_u16();
    Ok((status, resp.json().await?))
}

/// (row, column) of each reported error.
fn where_wrong(report: &Value) -> Vec<(u64, String)> {
    report["errors"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|e| {
                    (
                        e["row"].as_u64().unwrap_or(0),
                        e["column"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn count(server: &TestServer, table: &str) -> anyhow::Result<i64> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"));
    let row: (i64,) = sqlx::query_as(sql).fetch_one(&server.state.db.pool).await?;
    Ok(row.0)
}

async fn import_master_data(server: TestServer) -> anyhow::Result<()> {
    server.user("boss", Role::Admin, None).await?;
    server.user("clerk", Role::Clerk, Some("wuhan")).await?;
    let base = server.base();
    let boss = login_token(&base, "boss").await?;
    let clerk = login_token(&base, "clerk").await?;

    // Regions: a bad code, a name missing, a clerk adding one, a taken code; then a good one.
    for (token, body, status) in [
        (&boss, json!({"code": "Wu Han", "name": "武汉"}), 400),
        (&boss, json!({"code": "hefei", "name": " "}), 400),
        (&clerk, json!({"code": "hefei", "name": "合肥办事处"}), 403),
        (&boss, json!({"code": "wuhan", "name": "武汉办事处"}), 409),
    ] {
        let (got, answer) = call(
            Method::POST,
            &format!("{base}/api/regions"),
            token,
            Some(body),
        )
        .await?;
        assert_eq!(got, status, "{answer}");
    }
    let (status, _) = call(
        Method::POST,
        &format!("{base}/api/regions"),
        &boss,
        Some(json!({"code": "hefei", "name": "合肥办事处"})),
    )
    .await?;
    assert_eq!(status, 201);
    // A misspelt region is refused for an account and for a customer.
    let (status, answer) = call(
        Method::POST,
        &format!("{base}/api/users"),
        &boss,
        Some(json!({"username": "zhao", "display_name": "赵", "password": "a long enough password 1", "role": "technician", "region": "Wuhna"})),
    )
    .await?;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("Wuhna")
    );
    let (status, answer) = call(
        Method::POST,
        &format!("{base}/api/customers"),
        &clerk,
        Some(json!({"name": "x", "address": "y", "phone": "1", "region": "wuhna"})),
    )
    .await?;
    assert!(status == 400 || status == 403, "{answer}");

    // Files that cannot be read at all: empty, binary, no required column, a header only; and
    // a clerk importing. Each refused, nothing written.
    for (token, kind, bytes, status) in [
        (&boss, "customers", Vec::new(), 400),
        (&boss, "customers", vec![0u8, 159, 146, 150, 0, 1], 400),
        (
            &boss,
            "customers",
            "名称,电话\nA,1\n".as_bytes().to_vec(),
            400,
        ),
        (
            &boss,
            "customers",
            "客户名称,电话,地址,区域\n".as_bytes().to_vec(),
            400,
        ),
        (&boss, "machines", "a\nb\n".as_bytes().to_vec(), 404),
        (
            &clerk,
            "customers",
            "客户名称,电话,地址,区域\nA,1,x,wuhan\n".as_bytes().to_vec(),
            403,
        ),
    ] {
        let (got, answer) = upload(&base, token, kind, true, bytes).await?;
        assert_eq!(got, status, "{kind}: {answer}");
        assert!(answer["error"]["message"].is_string(), "{answer}");
    }
    assert_eq!(count(&server, "customers").await?, 0);

    // Customers: an unknown region (row 3), an empty phone (row 4), a row twice (row 5); a
    // commit with errors writes nothing.
    let bad = "\u{feff}客户名称,电话,地址,区域\n湖北某建设公司,027-1,\"武汉市, 江夏区\",wuhan\n合肥某公司,0551-2,合肥,wuhna\n无电话公司,,武汉,wuhan\n湖北某建设公司,027-1,武汉,wuhan\n";
    let (status, report) = upload(&base, &boss, "customers", true, bad.as_bytes().to_vec()).await?;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["committed"], false);
    assert_eq!(report["rows"], 4);
    assert_eq!(
        where_wrong(&report),
        vec![
            (3, "区域".into()),
            (4, "电话".into()),
            (5, "客户名称".into())
        ],
        "{report}"
    );
    assert_eq!(count(&server, "customers").await?, 0, "all or nothing");
    let good = "客户名称,电话,地址,区域\n湖北某建设公司,027-1,\"武汉市, 江夏区\",wuhan\n合肥某公司,0551-2,合肥,hefei\n";
    let (_, dry) = upload(&base, &boss, "customers", false, good.as_bytes().to_vec()).await?;
    assert_eq!(
        (dry["committed"].clone(), dry["errors"].clone()),
        (json!(false), json!([])),
        "{dry}"
    );
    assert_eq!(
        count(&server, "customers").await?,
        0,
        "a dry run writes nothing"
    );
    let (_, done) = upload(&base, &boss, "customers", true, good.as_bytes().to_vec()).await?;
    assert_eq!(
        (done["committed"].clone(), done["created"].clone()),
        (json!(true), json!(2)),
        "{done}"
    );
    let address: (String,) = sqlx::query_as("SELECT address FROM customers WHERE region = 'wuhan'")
        .fetch_one(&server.state.db.pool)
        .await?;
    assert_eq!(
        address.0, "武汉市, 江夏区",
        "a quoted comma stays in its field"
    );

    // Products from XLSX, with a real Excel date cell: an unknown customer (row 3), a bad date
    // (row 4), a serial twice (row 5), warranty not a number (row 6).
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let header = [
        "客户名称",
        "区域",
        "产品名称",
        "型号",
        "序列号",
        "购买日期",
        "保修月数",
    ];
    for (c, h) in header.iter().enumerate() {
        sheet.write_string(0, c as u16, *h)?;
    }
    let date_format = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
    let rows: [[&str; 7]; 5] = [
        [
            "湖北某建设公司",
            "wuhan",
            "搅拌机",
            "BC-300",
            "SN-1",
            "",
            "12",
        ],
        [
            "不存在公司",
            "wuhan",
            "搅拌机",
            "BC-300",
            "SN-2",
            "2026-03-01",
            "12",
        ],
        [
            "湖北某建设公司",
            "wuhan",
            "搅拌机",
            "BC-300",
            "SN-3",
            "2026-13-01",
            "12",
        ],
        [
            "湖北某建设公司",
            "wuhan",
            "搅拌机",
            "BC-300",
            "SN-1",
            "2026-03-01",
            "12",
        ],
        [
            "合肥某公司",
            "hefei",
            "泵",
            "P-1",
            "SN-4",
            "2026/3/2",
            "十二",
        ],
    ];
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            let (r, c) = (r as u32 + 1, c as u16);
            if c == 5 && v.is_empty() {
                let d = rust_xlsxwriter::ExcelDateTime::from_ymd(2026, 3, 15)?;
                sheet.write_datetime_with_format(r, c, &d, &date_format)?;
            } else if c == 6 && v.parse::<f64>().is_ok() {
                sheet.write_number(r, c, v.parse::<f64>()?)?;
            } else {
                sheet.write_string(r, c, *v)?;
            }
        }
    }
    let xlsx = book.save_to_buffer()?;
    let (_, report) = upload(&base, &boss, "products", true, xlsx).await?;
    assert_eq!(
        where_wrong(&report),
        vec![
            (3, "客户名称".into()),
            (4, "购买日期".into()),
            (5, "序列号".into()),
            (6, "保修月数".into())
        ],
        "{report}"
    );
    assert_eq!(count(&server, "products").await?, 0);
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in header.iter().enumerate() {
        sheet.write_string(0, c as u16, *h)?;
    }
    let d = rust_xlsxwriter::ExcelDateTime::from_ymd(2026, 3, 15)?;
    for (c, v) in ["湖北某建设公司", "wuhan", "搅拌机", "BC-300", "SN-1"]
        .iter()
        .enumerate()
    {
        sheet.write_string(1, c as u16, *v)?;
    }
    sheet.write_datetime_with_format(1, 5, &d, &date_format)?;
    sheet.write_number(1, 6, 12)?;
    let (_, done) = upload(&base, &boss, "products", true, book.save_to_buffer()?).await?;
    assert_eq!(done["created"], 1, "{done}");
    let date: (String, i64) =
        sqlx::query_as("SELECT purchase_date, warranty_months FROM products WHERE serial = 'SN-1'")
            .fetch_one(&server.state.db.pool)
            .await?;
    assert_eq!(date, ("2026-03-15".to_string(), 12));

    // Users: an unknown role, a taken name (`Clerk` is `clerk`), an admin, a technician
    // without a region, a password too short; then a good file, whose people can sign in.
    let bad = "用户名,姓名,角色,区域,初始密码\nwang,王师傅,plumber,wuhan,a long enough password 1\nClerk,重名,clerk,wuhan,a long enough password 2\nroot,管理员,admin,,a long enough password 3\nli,李师傅,技术人员,,a long enough password 4\nzhou,周,technician,wuhan,short\n";
    let (_, report) = upload(&base, &boss, "users", true, bad.as_bytes().to_vec()).await?;
    assert_eq!(
        where_wrong(&report),
        vec![
            (2, "角色".into()),
            (3, "用户名".into()),
            (4, "角色".into()),
            (5, "区域".into()),
            (6, "初始密码".into())
        ],
        "{report}"
    );
    let good = "用户名,姓名,角色,区域,初始密码\nwang,王师傅,technician,wuhan,wang-password-for-tests\nli,李师傅,技术人员,hefei,li-password-for-tests\n";
    let (_, done) = upload(&base, &boss, "users", true, good.as_bytes().to_vec()).await?;
    assert_eq!(done["created"], 2, "{done}");
    login_token(&base, "wang").await?;
    login_token(&base, "li").await?;
    let (_, audit) = call(Method::GET, &format!("{base}/api/audit"), &boss, None).await?;
    let actions: Vec<&str> = audit
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    for action in [
        "add_region",
        "import_customers",
        "import_products",
        "import_users",
    ] {
        assert!(actions.contains(&action), "{action} in {audit}");
    }

    // The templates, as the back office offers them: CSV with a BOM and the Chinese header, and
    // XLSX; a format that does not exist is refused.
    let csv = fieldloop_e2e::http()
        .get(format!("{base}/api/import/products/template"))
        .bearer_auth(&clerk)
        .send()
        .await?;
    assert_eq!(csv.status(), 200);
    let text = csv.text().await?;
    assert!(text.starts_with("\u{feff}客户名称,客户电话,区域"), "{text}");
    let xlsx = fieldloop_e2e::http()
        .get(format!("{base}/api/import/users/template?format=xlsx"))
        .bearer_auth(&clerk)
        .send()
        .await?;
    assert!(xlsx.bytes().await?.starts_with(b"PK"));
    let (status, _) = call(
        Method::GET,
        &format!("{base}/api/import/users/template?format=pdf"),
        &clerk,
        None,
    )
    .await?;
    assert_eq!(status, 400);
    server.finish().await;
    Ok(())
}

both_engines!(import_master_data_test, import_master_data);
