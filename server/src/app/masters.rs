//! Master data an admin keeps: the regional offices as a managed list, and bulk onboarding of
//! customers, products and accounts from a spreadsheet (XLSX) or CSV file.
//!
//! An import is checked whole first: every bad row is reported by its row number in the file
//! and why (in Chinese and English). It is written only when every row is good, in one
//! transaction, so a file goes in entirely or not at all.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use fieldloop_client_core::model::Role;
use fieldloop_client_core::model::roles::ALL_ROLES;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::access::Principal;
use crate::auth;
use crate::db::accounts::User;
use crate::db::masters::Region;
use crate::db::service::{Customer, Product};
use crate::error::{AppError, AppResult, ErrorCode};

fn admin_only(p: &Principal, what: &str) -> AppResult<()> {
    if p.role == Role::Admin {
        Ok(())
    } else {
        Err(AppError::forbidden(format!("only an admin may {what}"))
            .with_zh(Some("只有管理员可以办理此事".into())))
    }
}

/// A region code: 2 to 32 lower-case letters, digits or `-`.
fn check_region_code(code: &str) -> Result<String, String> {
    let code = code.trim();
    let ok = (2..=32).contains(&code.len())
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(code.to_string())
    } else {
        Err(format!(
            "a region code is 2 to 32 lower-case letters, digits or '-' (such as 'wuhan'), not '{code}'"
        ))
    }
}

/// The regions, for everyone signed in (forms offer them).
pub async fn regions(state: &AppState) -> AppResult<Vec<Region>> {
    Ok(state.db.regions().await?)
}

/// Adds a region (admin only); a taken code is refused.
pub async fn add_region(state: &AppState, p: &Principal, body: Region) -> AppResult<Region> {
    admin_only(p, "add regions")?;
    let region = Region {
        code: check_region_code(&body.code).map_err(AppError::invalid)?,
        name: body.name.trim().to_string(),
    };
    if region.name.is_empty() {
        return Err(
            AppError::invalid("give the region a name (such as 武汉办事处)")
                .with_zh(Some("请填写办事处名称(如 武汉办事处)".into())),
        );
    }
    if !state.db.add_region(&region, state.now_ms()).await? {
        return Err(AppError::new(
            ErrorCode::AlreadyDone,
            format!("there is a region '{}' already", region.code),
        ));
    }
    audited(state, p, "add_region", &region.code, &region.name).await?;
    Ok(region)
}

/// Checks that a region given for an account or a customer is on the list.
pub async fn known_region(state: &AppState, code: &str) -> AppResult<()> {
    if state.db.region_exists(code).await? {
        Ok(())
    } else {
        Err(AppError::invalid(format!(
            "there is no region '{code}': an admin adds it first (regions)"
        ))
        .with_zh(Some(format!(
            "没有办事处「{code}」:请管理员先在办事处页面添加"
        ))))
    }
}

async fn audited(
    state: &AppState,
    p: &Principal,
    action: &str,
    target: &str,
    detail: &str,
) -> AppResult<()> {
    let actor = state
        .db
        .user_by_id(p.user_id)
        .await?
        .map(|u| u.username)
        .unwrap_or_default();
    state
        .db
        .audit(state.now_ms(), &actor, action, target, detail)
        .await?;
    tracing::info!(target: "security", %actor, action, %target, "master data changed");
    Ok(())
}

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    Customers,
    Products,
    Users,
}

impl ImportKind {
    pub fn parse(s: &str) -> AppResult<ImportKind> {
        match s {
            "customers" => Ok(ImportKind::Customers),
            "products" => Ok(ImportKind::Products),
            "users" => Ok(ImportKind::Users),
            other => Err(AppError::not_found(format!(
                "there is no import of '{other}': customers, products or users"
            ))
            .with_zh(Some("只能导入客户、产品或用户".into()))),
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            ImportKind::Customers => "customers",
            ImportKind::Products => "products",
            ImportKind::Users => "users",
        }
    }

    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            ImportKind::Customers => ("客户", "Customers"),
            ImportKind::Products => ("产品", "Products"),
            ImportKind::Users => ("用户", "Users"),
        }
    }

    /// The columns: key, Chinese header, English header, required, an example.
    pub fn columns(self) -> &'static [Column] {
        match self {
            ImportKind::Customers => CUSTOMER_COLUMNS,
            ImportKind::Products => PRODUCT_COLUMNS,
            ImportKind::Users => USER_COLUMNS,
        }
    }
}

#[derive(Debug)]
pub struct Column {
    pub key: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
    pub required: bool,
    pub example: &'static str,
}

const fn col(
    key: &'static str,
    zh: &'static str,
    en: &'static str,
    required: bool,
    example: &'static str,
) -> Column {
    Column {
        key,
        zh,
        en,
        required,
        example,
    }
}

const CUSTOMER_COLUMNS: &[Column] = &[
    col("name", "客户名称", "Customer name", true, "湖北某建设公司"),
    col("phone", "电话", "Phone", true, "027-8888 0000"),
    col("address", "地址", "Address", true, "武汉市江夏区某路 1 号"),
    col("region", "区域", "Region", true, "wuhan"),
];

const PRODUCT_COLUMNS: &[Column] = &[
    col(
        "customer",
        "客户名称",
        "Customer name",
        true,
        "湖北某建设公司",
    ),
    col("customer_phone", "客户电话", "Customer phone", false, ""),
    col("region", "区域", "Region", true, "wuhan"),
    col("name", "产品名称", "Product name", true, "搅拌机"),
    col("model", "型号", "Model", true, "BC-300"),
    col("spec", "规格", "Specification", false, "380V"),
    col("serial", "序列号", "Serial number", true, "BC300-2026-0001"),
    col(
        "purchase_date",
        "购买日期",
        "Purchase date",
        true,
        "2026-03-15",
    ),
    col(
        "purchase_place",
        "购买地点",
        "Bought at",
        false,
        "武汉经销处",
    ),
    col("warranty_months", "保修月数", "Warranty months", true, "12"),
];

const USER_COLUMNS: &[Column] = &[
    col("username", "用户名", "Username", true, "wang.technician"),
    col("display_name", "姓名", "Name", true, "王师傅"),
    col("role", "角色", "Role", true, "technician"),
    col("region", "区域", "Region", false, "wuhan"),
    col(
        "password",
        "初始密码",
        "First password",
        true,
        "change-me-on-first-sign-in",
    ),
];

/// One bad row: its number in the file (the header is row 1), the column, and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowError {
    pub row: usize,
    /// The column's header as the template has it (Chinese), empty for the whole row.
    pub column: String,
    pub reason_zh: String,
    pub reason_en: String,
}

/// What an import found, and whether it was written.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReport {
    pub kind: ImportKind,
    /// Data rows read (the header and blank rows aside).
    pub rows: usize,
    pub errors: Vec<RowError>,
    /// Whether the rows were written (never when there is an error, nor on a dry run).
    pub committed: bool,
    /// Rows written.
    pub created: usize,
}

/// At most this many data rows in one file.
pub const MAX_IMPORT_ROWS: usize = 10_000;

/// The cells of a file: XLSX (by its zip signature) or CSV (UTF-8, with or without a BOM;
/// comma, or semicolon when the header has no comma).
pub fn read_table(bytes: &[u8]) -> Result<Vec<Vec<String>>, String> {
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return read_xlsx(bytes);
    }
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)).map_err(
        |_| {
            "the file is neither XLSX nor UTF-8 CSV; in Excel, save it as \"CSV UTF-8\" or as .xlsx"
                .to_string()
        },
    )?;
    if text.contains('\0') {
        return Err("the file is neither XLSX nor a CSV text file".into());
    }
    let first = text.lines().next().unwrap_or_default();
    let sep = if !first.contains(',') && first.contains(';') {
        ';'
    } else {
        ','
    };
    parse_csv(text, sep)
}

/// RFC 4180 CSV: quoted fields may hold separators, quotes (doubled) and line breaks.
fn parse_csv(text: &str, sep: char) -> Result<Vec<Vec<String>>, String> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                '"' => quoted = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            c if c == sep => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            c => field.push(c),
        }
    }
    if quoted {
        return Err(format!(
            "a quoted field that starts on row {} never ends",
            rows.len() + 1
        ));
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
}

fn read_xlsx(bytes: &[u8]) -> Result<Vec<Vec<String>>, String> {
    use calamine::{Data, Reader, Xlsx};
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes))
        .map_err(|e| format!("the XLSX file cannot be read: {e}"))?;
    let sheet = book
        .worksheet_range_at(0)
        .ok_or("the XLSX file has no sheet")?
        .map_err(|e| format!("the first sheet cannot be read: {e}"))?;
    let excel_epoch = NaiveDate::from_ymd_opt(1899, 12, 30).ok_or("no epoch")?;
    Ok(sheet
        .rows()
        .map(|row| {
            row.iter()
                .map(|cell| match cell {
                    Data::String(s) => s.clone(),
                    Data::Int(n) => n.to_string(),
                    Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => {
                        format!("{}", *f as i64)
                    }
                    Data::Float(f) => f.to_string(),
                    Data::Bool(b) => b.to_string(),
                    Data::DateTime(d) => excel_epoch
                        .checked_add_days(chrono::Days::new(d.as_f64().max(0.0) as u64))
                        .map(|d| d.format("%Y-%m-%d").to_string())
                        .unwrap_or_default(),
                    Data::DateTimeIso(s) => s.chars().take(10).collect(),
                    Data::DurationIso(s) => s.clone(),
                    Data::Error(_) | Data::Empty => String::new(),
                })
                .collect()
        })
        .collect())
}

/// One data row: its number in the file, and its values by column key.
type Row = (usize, HashMap<&'static str, String>);

/// The file's rows as maps from column key to value, each with its row number; the header
/// must name every required column (by its Chinese or English header).
fn rows_of(kind: ImportKind, table: Vec<Vec<String>>) -> Result<Vec<Row>, String> {
    let mut lines = table.into_iter().enumerate();
    let Some((_, header)) = lines.next() else {
        return Err("the file has no header row".into());
    };
    let header: Vec<String> = header.iter().map(|h| h.trim().to_lowercase()).collect();
    let mut at: Vec<(usize, &'static str)> = Vec::new();
    for column in kind.columns() {
        let found = header
            .iter()
            .position(|h| *h == column.zh || *h == column.en.to_lowercase() || *h == column.key);
        match found {
            Some(i) => at.push((i, column.key)),
            None if column.required => {
                return Err(format!(
                    "the header has no column '{}' ({}); download the template",
                    column.zh, column.en
                ));
            }
            None => {}
        }
    }
    let rows: Vec<_> = lines
        .filter(|(_, cells)| cells.iter().any(|c| !c.trim().is_empty()))
        .map(|(i, cells)| {
            let values = at
                .iter()
                .map(|(col, key)| {
                    (
                        *key,
                        cells
                            .get(*col)
                            .map(|v| v.trim().to_string())
                            .unwrap_or_default(),
                    )
                })
                .collect();
            (i + 1, values)
        })
        .collect();
    if rows.len() > MAX_IMPORT_ROWS {
        return Err(format!(
            "the file has {} rows; at most {MAX_IMPORT_ROWS} are imported at once",
            rows.len()
        ));
    }
    Ok(rows)
}

/// Rows checked and ready to write.
enum Checked {
    Customers(Vec<Customer>),
    Products(Vec<Product>),
    /// Accounts with their passwords still to hash.
    Users(Vec<(User, String)>),
}

struct Errors {
    kind: ImportKind,
    list: Vec<RowError>,
}

impl Errors {
    fn add(&mut self, row: usize, key: &str, zh: impl Into<String>, en: impl Into<String>) {
        let column = self
            .kind
            .columns()
            .iter()
            .find(|c| c.key == key)
            .map_or("", |c| c.zh);
        self.list.push(RowError {
            row,
            column: column.into(),
            reason_zh: zh.into(),
            reason_en: en.into(),
        });
    }

    /// A required value, or an error for the row.
    fn required<'a>(
        &mut self,
        row: usize,
        values: &'a HashMap<&'static str, String>,
        key: &str,
    ) -> &'a str {
        let v = values.get(key).map_or("", String::as_str);
        if v.is_empty() {
            self.add(row, key, "不能为空", "is empty");
        }
        v
    }
}

fn get<'a>(values: &'a HashMap<&'static str, String>, key: &str) -> &'a str {
    values.get(key).map_or("", String::as_str)
}

/// A date as YYYY-MM-DD or YYYY/M/D, not after `today`.
fn parse_date(text: &str, today: NaiveDate) -> Result<NaiveDate, (String, String)> {
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(text, "%Y/%m/%d"))
        .map_err(|_| {
            (
                format!("“{text}”不是日期(应为 2026-03-15)"),
                format!("'{text}' is not a date (use 2026-03-15)"),
            )
        })?;
    if date > today {
        return Err((format!("{text} 晚于今天"), format!("{text} is after today")));
    }
    Ok(date)
}

/// A role by its code (`technician`) or its Chinese name (技术人员).
fn parse_role(text: &str) -> Option<Role> {
    ALL_ROLES
        .iter()
        .copied()
        .find(|r| r.code() == text.to_lowercase() || r.label_zh() == text)
}

async fn check(
    state: &AppState,
    kind: ImportKind,
    rows: &[Row],
    errors: &mut Errors,
) -> AppResult<Checked> {
    let regions = state.db.region_names().await?;
    let region_ok = |errors: &mut Errors, row: usize, code: &str| {
        if !code.is_empty() && !regions.contains_key(code) {
            errors.add(
                row,
                "region",
                format!("没有区域“{code}”(管理员先在区域管理中添加)"),
                format!("there is no region '{code}' (an admin adds it under Regions first)"),
            );
        }
    };
    match kind {
        ImportKind::Customers => {
            let mut seen = HashSet::new();
            let existing: HashSet<(String, String, String)> = state
                .db
                .customer_keys()
                .await?
                .into_iter()
                .map(|(r, n, p, _)| (r, n, p))
                .collect();
            let mut out = Vec::new();
            for (row, v) in rows {
                let name = errors.required(*row, v, "name").to_string();
                let phone = errors.required(*row, v, "phone").to_string();
                let address = errors.required(*row, v, "address").to_string();
                let region = errors.required(*row, v, "region").to_string();
                region_ok(errors, *row, &region);
                let key = (region.clone(), name.clone(), phone.clone());
                if existing.contains(&key) {
                    errors.add(
                        *row,
                        "name",
                        format!("客户“{name}”(电话 {phone})已登记"),
                        format!("the customer '{name}' (phone {phone}) is registered already"),
                    );
                } else if !seen.insert(key) {
                    errors.add(
                        *row,
                        "name",
                        format!("客户“{name}”(电话 {phone})在文件中出现两次"),
                        format!("the customer '{name}' (phone {phone}) is in the file twice"),
                    );
                }
                out.push(Customer {
                    id: Uuid::now_v7(),
                    region,
                    name,
                    address,
                    phone,
                });
            }
            Ok(Checked::Customers(out))
        }
        ImportKind::Products => {
            let customers = state.db.customer_keys().await?;
            let mut serials = state.db.product_serials().await?;
            let today = state
                .now()
                .with_timezone(&state.config.timezone)
                .date_naive();
            let mut out = Vec::new();
            for (row, v) in rows {
                let customer = errors.required(*row, v, "customer").to_string();
                let region = errors.required(*row, v, "region").to_string();
                region_ok(errors, *row, &region);
                let phone = get(v, "customer_phone");
                let matches: Vec<Uuid> = customers
                    .iter()
                    .filter(|(r, n, p, _)| {
                        *r == region && *n == customer && (phone.is_empty() || p == phone)
                    })
                    .map(|c| c.3)
                    .collect();
                let customer_id = match matches.as_slice() {
                    [one] => *one,
                    [] => {
                        if !customer.is_empty() {
                            errors.add(
                                *row,
                                "customer",
                                format!("区域 {region} 没有客户“{customer}”(先导入客户)"),
                                format!(
                                    "no customer '{customer}' in region {region} (import the customers first)"
                                ),
                            );
                        }
                        Uuid::nil()
                    }
                    _ => {
                        errors.add(
                            *row,
                            "customer",
                            format!("区域 {region} 有多个客户叫“{customer}”,请填客户电话"),
                            format!(
                                "several customers in {region} are called '{customer}': give the customer's phone"
                            ),
                        );
                        Uuid::nil()
                    }
                };
                let name = errors.required(*row, v, "name").to_string();
                let model = errors.required(*row, v, "model").to_string();
                let serial = errors.required(*row, v, "serial").to_string();
                if !serial.is_empty() && !serials.insert(serial.clone()) {
                    errors.add(
                        *row,
                        "serial",
                        format!("序列号 {serial} 重复(已登记或在文件中出现两次)"),
                        format!(
                            "serial {serial} is a duplicate (registered already, or twice in the file)"
                        ),
                    );
                }
                let date_text = errors.required(*row, v, "purchase_date").to_string();
                let purchase_date = if date_text.is_empty() {
                    String::new()
                } else {
                    match parse_date(&date_text, today) {
                        Ok(d) => d.format("%Y-%m-%d").to_string(),
                        Err((zh, en)) => {
                            errors.add(*row, "purchase_date", zh, en);
                            String::new()
                        }
                    }
                };
                let months_text = errors.required(*row, v, "warranty_months").to_string();
                let warranty_months = match months_text.parse::<i64>() {
                    Ok(m) if (0..=240).contains(&m) => m,
                    _ => {
                        if !months_text.is_empty() {
                            errors.add(
                                *row,
                                "warranty_months",
                                format!("保修月数“{months_text}”应为 0 到 240 的整数"),
                                format!(
                                    "warranty months '{months_text}' must be a whole number from 0 to 240"
                                ),
                            );
                        }
                        0
                    }
                };
                out.push(Product {
                    id: Uuid::now_v7(),
                    customer_id,
                    name,
                    model,
                    spec: get(v, "spec").to_string(),
                    serial,
                    purchase_date,
                    purchase_place: get(v, "purchase_place").to_string(),
                    warranty_months,
                });
            }
            Ok(Checked::Products(out))
        }
        ImportKind::Users => {
            // Compared as they normalise: `Wang` and `wang` are one name.
            let mut taken: HashSet<String> = state
                .db
                .usernames()
                .await?
                .iter()
                .map(|u| auth::normalize_username(u).unwrap_or_else(|_| u.clone()))
                .collect();
            let mut out = Vec::new();
            for (row, v) in rows {
                let raw = errors.required(*row, v, "username").to_string();
                let username = match auth::normalize_username(&raw) {
                    Ok(u) => u,
                    Err(e) => {
                        if !raw.is_empty() {
                            errors.add(*row, "username", format!("用户名无效:{e}"), e);
                        }
                        String::new()
                    }
                };
                if !username.is_empty() && !taken.insert(username.clone()) {
                    errors.add(
                        *row,
                        "username",
                        format!("用户名 {username} 已被使用(或在文件中出现两次)"),
                        format!("the username {username} is taken (or twice in the file)"),
                    );
                }
                let display_name = errors.required(*row, v, "display_name").to_string();
                let role_text = errors.required(*row, v, "role").to_string();
                let role = parse_role(&role_text);
                match role {
                    None if !role_text.is_empty() => errors.add(
                        *row,
                        "role",
                        format!("没有角色“{role_text}”"),
                        format!("there is no role '{role_text}'"),
                    ),
                    Some(Role::Admin) => errors.add(
                        *row,
                        "role",
                        "管理员账号请逐个创建",
                        "admins are created one at a time, not imported",
                    ),
                    _ => {}
                }
                let region = get(v, "region").to_string();
                region_ok(errors, *row, &region);
                if role == Some(Role::Technician) && region.is_empty() {
                    errors.add(
                        *row,
                        "region",
                        "维修技术员须属于一个区域",
                        "a technician belongs to a regional office: give a region",
                    );
                }
                let password = errors.required(*row, v, "password").to_string();
                if !password.is_empty()
                    && let Err(e) = auth::check_new_password(&password, &username)
                {
                    errors.add(*row, "password", format!("密码不可用:{e}"), e);
                }
                out.push((
                    User {
                        id: Uuid::now_v7(),
                        username,
                        display_name,
                        password_hash: String::new(),
                        role: role.unwrap_or(Role::Technician),
                        region: Some(region).filter(|r| !r.is_empty()),
                        active: true,
                    },
                    password,
                ));
            }
            Ok(Checked::Users(out))
        }
    }
}

/// Checks a file of `kind` and, when `commit` and every row is good, writes it in one
/// transaction (admin only). A file that cannot be read at all is refused outright.
pub async fn import(
    state: &AppState,
    p: &Principal,
    kind: ImportKind,
    bytes: &[u8],
    commit: bool,
) -> AppResult<ImportReport> {
    admin_only(p, "import master data")?;
    let table = read_table(bytes).map_err(AppError::invalid)?;
    let rows = rows_of(kind, table).map_err(AppError::invalid)?;
    if rows.is_empty() {
        return Err(AppError::invalid("the file has a header but no rows")
            .with_zh(Some("文件只有表头,没有数据行".into())));
    }
    let mut errors = Errors {
        kind,
        list: Vec::new(),
    };
    let checked = check(state, kind, &rows, &mut errors).await?;
    let mut report = ImportReport {
        kind,
        rows: rows.len(),
        errors: errors.list,
        committed: false,
        created: 0,
    };
    if !commit || !report.errors.is_empty() {
        return Ok(report);
    }
    // Passwords are hashed before the transaction, so the write lock is held briefly.
    let checked = match checked {
        Checked::Users(users) => {
            let mut hashed = Vec::with_capacity(users.len());
            for (mut user, password) in users {
                user.password_hash =
                    auth::with_hasher(state, move || auth::hash_password(&password)).await??;
                hashed.push((user, String::new()));
            }
            Checked::Users(hashed)
        }
        other => other,
    };
    let at = state.now_ms();
    let mut tx = state.db.begin_write().await?;
    let created = match &checked {
        Checked::Customers(list) => {
            for c in list {
                crate::db::service::insert_customer(&mut tx, c, at).await?;
            }
            list.len()
        }
        Checked::Products(list) => {
            for product in list {
                crate::db::service::insert_product(&mut tx, product, at).await?;
            }
            list.len()
        }
        Checked::Users(list) => {
            for (user, _) in list {
                crate::db::accounts::insert_user(&mut tx, user, at).await?;
            }
            list.len()
        }
    };
    tx.commit().await?;
    report.committed = true;
    report.created = created;
    audited(
        state,
        p,
        &format!("import_{}", kind.code()),
        kind.code(),
        &format!("{created} rows"),
    )
    .await?;
    Ok(report)
}

/// A template to download: its media type, its Content-Disposition (an ASCII name and the
/// Chinese one), and its bytes.
#[derive(Debug)]
pub struct Download {
    pub mime: &'static str,
    pub disposition: String,
    pub bytes: Vec<u8>,
}

/// The template of `kind` as a download, CSV or XLSX.
pub fn template_download(kind: ImportKind, xlsx: bool) -> AppResult<Download> {
    let (mime, ext) = if xlsx {
        (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        )
    } else {
        ("text/csv; charset=utf-8", "csv")
    };
    let file = format!("{}导入模板.{ext}", kind.label().0);
    let encoded: String = file
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b".-_".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    Ok(Download {
        mime,
        disposition: format!(
            "attachment; filename=\"{}-template.{ext}\"; filename*=UTF-8''{encoded}",
            kind.code()
        ),
        bytes: template(kind, xlsx)?,
    })
}

/// The template of `kind`: its header (Chinese) and one example row, as CSV (UTF-8 with a BOM,
/// so Excel opens it right) or XLSX.
pub fn template(kind: ImportKind, xlsx: bool) -> AppResult<Vec<u8>> {
    let columns = kind.columns();
    let (zh, en) = kind.label();
    let headers: Vec<(&str, &str)> = columns.iter().map(|c| (c.zh, c.en)).collect();
    let mut table = crate::export::Table::new(
        &format!("{zh}导入模板"),
        &format!("{en} import template"),
        &headers,
    );
    table.push(
        columns
            .iter()
            .map(|c| crate::export::Cell::Text(c.example.to_string()))
            .collect(),
    );
    if xlsx {
        table
            .to_xlsx(crate::export::Lang::Zh)
            .map_err(AppError::internal)
    } else {
        Ok(table.to_csv(crate::export::Lang::Zh))
    }
}
