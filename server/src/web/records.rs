//! The records list (search, filters, paging) and one record laid out as the regulation's form:
//! its sections with labels and values as the office reads them, signatures, photos and the
//! merged history; field paths, ids, digests and device ids only behind a "details" disclosure
//! for auditors.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use fieldloop_client_core::model::money::yuan_text;
use fieldloop_client_core::model::ownership::touched_paths;
use fieldloop_client_core::model::{DocKind, FieldType, FieldValue, RecordDoc, fields};
use maud::{Markup, html};
use uuid::Uuid;

use super::html::{Flash, local, local_ms, page, url_encode};
use super::pages::{custody_section, error_page, names, not_found, visit_office_section};
use super::{Session, code_words};
use crate::AppState;
use crate::db::docs::{DocListRow, DocQuery};
use crate::error::AppError;

/// Rows on one page of the records list.
const PAGE_SIZE: i64 = 50;

#[derive(Debug, Default, serde::Deserialize)]
pub struct RecordsQuery {
    kind: Option<String>,
    region: Option<String>,
    state: Option<String>,
    q: Option<String>,
    /// Registered from and to (company days, both included), `YYYY-MM-DD`.
    from: Option<String>,
    to: Option<String>,
    page: Option<i64>,
}

/// The start of a company day as unix milliseconds; `None` for a text that is not a date.
fn day_start(tz: chrono_tz::Tz, day: &str) -> Option<i64> {
    use chrono::TimeZone as _;
    let date = chrono::NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d").ok()?;
    let midnight = date.and_hms_opt(0, 0, 0)?;
    tz.from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.timestamp_millis())
}

/// The instants (ms) a list's "from" and "to" days span in company time, both days included;
/// a missing end is open. A day that is not `YYYY-MM-DD` is refused in both languages.
pub(super) fn day_range(
    tz: chrono_tz::Tz,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(i64, i64), AppError> {
    let bound = |day: Option<&str>, next: bool| -> Result<Option<i64>, AppError> {
        let Some(d) = day else { return Ok(None) };
        let parsed = if next {
            chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.succ_opt())
                .and_then(|n| day_start(tz, &n.to_string()))
        } else {
            day_start(tz, d)
        };
        parsed.map(Some).ok_or_else(|| {
            AppError::invalid(format!("'{d}' is not a date (YYYY-MM-DD)"))
                .with_zh(Some(format!("「{d}」不是日期,应为 年-月-日")))
        })
    };
    Ok((
        bound(from, false)?.unwrap_or(0),
        bound(to, true)?.unwrap_or(i64::MAX),
    ))
}

/// The name of a record's form, as the regulation calls it.
pub(super) fn kind_label(s: &Session, kind: DocKind) -> &'static str {
    match kind {
        DocKind::Visit => s.t("售后服务信息反馈表", "Service visit"),
        DocKind::Receipt => s.t("收据", "Take-back receipt"),
        DocKind::Complaint => s.t("客户投诉处理单", "Complaint form"),
        DocKind::Feedback => s.t("客户意见", "Customer feedback"),
    }
}

/// The states a list can be filtered by, in the order work moves.
const STATES: &[&str] = &[
    "registered",
    "form_logged",
    "archived",
    "with_technician",
    "at_production",
    "awaiting_qc",
    "in_stock",
    "returned_to_customer",
    "voided",
    "submitted",
    "open",
    "closed",
];

/// The records the user may see, newest first: search, filters by kind, region and state,
/// pages of fifty with the count of all that match.
pub async fn records(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<RecordsQuery>,
) -> Response {
    let kind = match q
        .kind
        .as_deref()
        .filter(|k| !k.is_empty())
        .map(str::parse::<DocKind>)
        .transpose()
    {
        Ok(k) => k,
        Err(_) => {
            return error_page(
                &s,
                AppError::invalid("unknown record kind").with_zh(Some("没有这种记录".into())),
            );
        }
    };
    let state_code = q
        .state
        .as_deref()
        .filter(|c| STATES.contains(c))
        .unwrap_or("");
    let text = q.q.as_deref().unwrap_or("").trim();
    let page_no = q.page.unwrap_or(1).clamp(1, 100_000);
    let region = q.region.as_deref().filter(|r| !r.is_empty());
    let tz = state.config.timezone;
    let from = q.from.as_deref().map(str::trim).filter(|d| !d.is_empty());
    let to = q.to.as_deref().map(str::trim).filter(|d| !d.is_empty());
    let (created_from, created_to) = match day_range(tz, from, to) {
        Ok(range) => range,
        Err(e) => return error_page(&s, e),
    };
    let query = DocQuery {
        kind,
        region,
        state: Some(state_code),
        text,
        created_from,
        created_to,
        offset: (page_no - 1) * PAGE_SIZE,
        limit: PAGE_SIZE,
    };
    let (rows, total) = match state.db.find_docs(&s.p.scope(), &query).await {
        Ok(found) => found,
        Err(e) => return error_page(&s, e.into()),
    };
    let (names, regions) = match (names(&state).await, state.db.region_names().await) {
        (Ok(n), Ok(r)) => (n, r),
        (Err(e), _) => return error_page(&s, e),
        (_, Err(e)) => return error_page(&s, e.into()),
    };
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let link = |page: i64| {
        format!(
            "/web/records?kind={}&region={}&state={}&q={}&from={}&to={}&page={page}",
            kind.map(|k| k.code()).unwrap_or(""),
            url_encode(region.unwrap_or("")),
            state_code,
            url_encode(text),
            url_encode(from.unwrap_or("")),
            url_encode(to.unwrap_or("")),
        )
    };
    let head_office = s.p.is_head_office();
    let body = html! {
        form.filters #records-filter method="get" action="/web/records" {
            label { (s.t("查找", "Search")) " "
                input type="search" name="q" value=(text)
                    placeholder=(s.t("客户名称、电话、出厂编号、收据号、投诉编号", "customer, phone, serial, receipt or case number"));
            }
            " "
            label { (s.t("种类", "Kind")) " "
                select name="kind" {
                    option value="" { (s.t("全部", "All")) }
                    @for k in [DocKind::Visit, DocKind::Receipt, DocKind::Complaint, DocKind::Feedback] {
                        option value=(k.code()) selected[kind == Some(k)] { (kind_label(&s, k)) }
                    }
                }
            }
            " "
            @if head_office {
                label { (s.t("区域", "Region")) " "
                    select name="region" {
                        option value="" { (s.t("全部", "All")) }
                        @for (code, name) in sorted(&regions) {
                            option value=(code) selected[region == Some(code.as_str())] { (name) }
                        }
                    }
                }
                " "
            }
            label { (s.t("状态", "State")) " "
                select name="state" {
                    option value="" { (s.t("全部", "All")) }
                    @for code in STATES {
                        option value=(code) selected[state_code == *code] { (state_words(&s, code)) }
                    }
                }
            }
            " "
            (super::html::day_range_inputs(&s, ("登记日期从", "Registered from"), from.unwrap_or(""), to.unwrap_or("")))
            " "
            button type="submit" { (s.t("查找", "Search")) }
        }
        p.meta #records-count {
            (s.t("共 ", "")) (total) (s.t(" 条", " records"))
            @if pages > 1 { " · " (s.t("第", "page ")) (page_no) " / " (pages) (s.t(" 页", "")) }
        }
        table #records {
            thead { tr {
                th { (s.t("表单", "Form")) }
                th { (s.t("编号", "Number")) }
                th { (s.t("客户", "Customer")) }
                th { (s.t("状态", "State")) }
                th { (s.t("技术员", "Technician")) }
                th { (s.t("区域", "Region")) }
                th { (s.t("最后更改", "Last change")) }
            } }
            tbody {
                @for r in &rows {
                    (list_row(&s, r, &names, &regions, tz))
                }
                @if rows.is_empty() {
                    tr { td.empty colspan="7" { (s.t("没有符合条件的记录", "No record matches")) } }
                }
            }
        }
        @if pages > 1 {
            nav.pager {
                @if page_no > 1 { a #page-prev href=(link(page_no - 1)) { (s.t("上一页", "Previous")) } " " }
                @if page_no < pages { a #page-next href=(link(page_no + 1)) { (s.t("下一页", "Next")) } }
            }
        }
    };
    page(&s, s.t("记录", "Records"), &Flash::default(), body).into_response()
}

/// Regions by name, for a picker.
pub(super) fn sorted(regions: &HashMap<String, String>) -> Vec<(&String, &String)> {
    let mut all: Vec<_> = regions.iter().collect();
    all.sort_by(|a, b| a.1.cmp(b.1).then(a.0.cmp(b.0)));
    all
}

/// A record's state in words: a complaint's or a feedback item's too.
fn state_words(s: &Session, code: &str) -> String {
    match code {
        "submitted" => s.t("待受理", "Submitted").into(),
        "open" => s.t("处理中", "Open").into(),
        "closed" => s.t("已结案", "Closed").into(),
        other => code_words(s, other),
    }
}

fn list_row(
    s: &Session,
    r: &DocListRow,
    names: &HashMap<Uuid, String>,
    regions: &HashMap<String, String>,
    tz: chrono_tz::Tz,
) -> Markup {
    let open = format!("/web/records/{}", r.id);
    html! {
        tr {
            td { a href=(open) { (kind_label(s, r.kind)) } }
            td.nw { (r.number.as_deref().unwrap_or("—")) }
            td { (r.customer.as_deref().unwrap_or("—")) }
            td { (r.state.as_deref().map(|c| state_words(s, c)).unwrap_or_else(|| "—".into())) }
            td { (r.person.and_then(|p| names.get(&p)).map(String::as_str).unwrap_or("—")) }
            td { (regions.get(&r.region).unwrap_or(&r.region)) }
            td.nw { (local_ms(tz, r.updated_at)) }
        }
    }
}

/// The heading of each section of a form, as the office names it.
fn section_title(s: &Session, kind: DocKind, section: &str) -> String {
    let (zh, en) = match (kind, section) {
        (DocKind::Visit, "request") => ("售后服务通知单(登记)", "Service request (registration)"),
        (DocKind::Visit, "dispatch") => ("派工", "Dispatch"),
        (DocKind::Visit, "form") => ("售后服务信息反馈表(现场)", "Feedback form (on site)"),
        (DocKind::Visit, "fee") => ("收费", "Fee"),
        (DocKind::Visit, "status") => ("售后服务记录", "Service record"),
        (DocKind::Visit, "billing") => ("开票与收款", "Invoice and payment"),
        (DocKind::Receipt, "receipt") => ("收据", "Receipt"),
        (DocKind::Receipt, "handback") => ("交还签收", "Hand-back"),
        (DocKind::Receipt, "custody") => ("保管", "Custody"),
        (DocKind::Complaint, "form") => ("客户投诉处理单", "Complaint form"),
        (DocKind::Complaint, "case") => ("受理", "Acceptance"),
        (DocKind::Feedback, "answer") => ("客户意见", "Customer feedback"),
        (DocKind::Feedback, "handling") => ("处理", "Handling"),
        (_, "signature") => ("客户签字", "Customer's signature"),
        _ => ("其他", "Other"),
    };
    s.t(zh, en).to_string()
}

/// Fields that mean something to an auditor only: hashes, image sizes and types, the ids of
/// customer and product files and survey campaigns, raw answers.
fn audit_only(spec: &fields::FieldSpec) -> bool {
    spec.ty == FieldType::Sha256
        || spec.path.ends_with("blob_bytes")
        || spec.path.ends_with("blob_mime")
        || matches!(
            spec.path,
            "request.customer_id"
                | "request.product_id"
                | "answer.campaign_id"
                | "answer.customer_id"
                | "answer.responses"
        )
}

/// A field's value as people read it: times in company time, money in yuan, codes in words,
/// people by name, linked records as links.
fn shown_value(
    s: &Session,
    spec: &fields::FieldSpec,
    v: &FieldValue,
    names: &HashMap<Uuid, String>,
    tz: chrono_tz::Tz,
) -> Markup {
    let text = v.as_text().unwrap_or_default();
    match (spec.ty, v) {
        (FieldType::Money, FieldValue::Int(n)) => html! { "¥" (yuan_text(*n)) },
        (_, FieldValue::Int(n)) => html! { (n) },
        (FieldType::Instant, _) => match chrono::DateTime::parse_from_rfc3339(text) {
            Ok(at) => html! { (local(tz, at.with_timezone(&chrono::Utc))) },
            Err(_) => html! { (text) },
        },
        (FieldType::Id, _) => {
            let id = Uuid::parse_str(text).ok();
            match spec.path {
                "receipt.visit_id" | "answer.visit_id" => html! {
                    a href={ "/web/records/" (text) } { (s.t("查看服务单", "Open the visit")) }
                },
                "form.original_case" => html! {
                    a href={ "/web/complaints/" (text) } { (s.t("查看原投诉", "Open the original case")) }
                },
                _ => html! {
                    (id.and_then(|u| names.get(&u)).map(String::as_str).unwrap_or(s.t("(未知)", "(unknown)")))
                },
            }
        }
        (FieldType::Choice(_), _) => html! { (code_words(s, text)) },
        _ if matches!(
            spec.path,
            "status.state" | "custody.location" | "case.state" | "handling.state"
        ) =>
        {
            html! { (state_words(s, text)) }
        }
        _ => html! { (text) },
    }
}

/// The signed fields whose values differ from when the customer signed: the record as it was
/// at the change that wrote the signature's digest, compared field by field.
fn changed_since_signing(
    doc: &RecordDoc,
    changes: &[(crate::db::docs::ChangeRow, i64)],
) -> Vec<&'static str> {
    use fieldloop_client_core::model::doc::SIGNED_SECTIONS;
    if !doc.changed_after_signing() {
        return Vec::new();
    }
    let am = doc.automerge();
    let signed_at = changes.iter().rev().find_map(|(c, _)| {
        let change = automerge::ReadDoc::get_change_by_hash(am, &c.hash)?;
        let patches = am.diff(change.deps(), &[change.hash()]);
        touched_paths(&patches)
            .iter()
            .any(|p| p.ends_with("signed_digest"))
            .then_some(c.hash)
    });
    let Some(hash) = signed_at else {
        return Vec::new();
    };
    let Ok(then) = am
        .fork_at(&[hash])
        .map_err(|e| e.to_string())
        .and_then(|d| RecordDoc::from_automerge(d).map_err(|e| e.to_string()))
    else {
        return Vec::new();
    };
    fields::fields(doc.kind())
        .iter()
        .filter(|f| {
            let section = f.path.split('.').next().unwrap_or_default();
            SIGNED_SECTIONS.contains(&section) && f.ty != FieldType::Photos
        })
        .filter(|f| doc.get(f.path) != then.get(f.path))
        .map(|f| f.path)
        .collect()
}

/// One record as its form: each section's fields with their labels, concurrent values side by
/// side, notes as their entries, signatures and photos, which signed field changed after
/// signing, the merged history by person and device name, and the office's steps; the raw
/// fields, ids and change hashes behind "details".
pub async fn record(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<Uuid>,
    Query(flash): Query<Flash>,
) -> Response {
    let row = match state.db.doc(id).await {
        Ok(Some(r)) if s.p.sees(&r.region, r.created_by, r.assignee) => r,
        Ok(_) => return not_found(&s),
        Err(e) => return error_page(&s, e.into()),
    };
    let doc = match row.record() {
        Ok(d) => d,
        Err(e) => return error_page(&s, AppError::internal(e)),
    };
    let loaded = async {
        let changes = state.db.doc_changes(id).await?;
        let names = names(&state).await?;
        let regions = state.db.region_names().await?;
        let mut devices = HashMap::new();
        for d in changes.iter().filter_map(|(c, _)| c.device_id) {
            if let std::collections::hash_map::Entry::Vacant(slot) = devices.entry(d)
                && let Some(device) = state.db.device(d).await?
            {
                slot.insert(device.name);
            }
        }
        Ok::<_, AppError>((changes, names, regions, devices))
    }
    .await;
    let (changes, names, regions, devices) = match loaded {
        Ok(l) => l,
        Err(e) => return error_page(&s, e),
    };
    let tz = state.config.timezone;
    let kind = doc.kind();
    let changed = changed_since_signing(&doc, &changes);
    let number = ["receipt.number", "case.number"]
        .iter()
        .find_map(|p| doc.get(p).and_then(|v| v.as_text().map(str::to_string)))
        .filter(|n| !n.is_empty());
    let office = match kind {
        DocKind::Visit => visit_office_section(&state, &s, &doc).await,
        DocKind::Receipt => custody_section(&state, &s, &doc).await,
        _ => Ok(Markup::default()),
    };
    let office = match office {
        Ok(o) => o,
        Err(e) => return error_page(&s, e),
    };
    let label = |f: &fields::FieldSpec| s.t(f.label_zh, f.label_en).to_string();
    let signatures: Vec<(&fields::FieldSpec, String)> = fields::fields(kind)
        .iter()
        .filter(|f| f.ty == FieldType::Sha256 && f.path.ends_with("blob_sha256"))
        .filter_map(|f| {
            let sha = doc.get(f.path)?.as_text()?.to_string();
            (sha.len() == 64).then_some((f, sha))
        })
        .collect();
    let body = html! {
        p.meta {
            @if let Some(n) = &number { strong #record-number { (n) } " · " }
            (regions.get(doc.region()).map(String::as_str).unwrap_or(doc.region()))
        }
        @if !changed.is_empty() {
            div.flash.err #changed-after-signing {
                (s.t("客户签字后,以下已签字段被修改:", "Signed fields changed after the customer signed: "))
                @for (i, path) in changed.iter().enumerate() {
                    @if i > 0 { "、" }
                    strong { (fields::spec(kind, path).map(label).unwrap_or_default()) }
                }
            }
        }
        (form_sections(&s, &doc, &names, tz, &changed))
        @if !signatures.is_empty() {
            section.signatures {
                h2 { (s.t("签名", "Signatures")) }
                @for (f, sha) in &signatures {
                    figure.signature {
                        img src={ "/web/blobs/" (sha) } alt=(label(f));
                        figcaption {
                            (label(f))
                            @if !changed.is_empty() { " " span.badge.conflict { (s.t("签字后已修改", "changed after signing")) } }
                        }
                    }
                }
            }
        }
        (photos_section(&s, &doc, tz))
        (office)
        @if kind == DocKind::Complaint {
            p { a href={ "/web/complaints/" (id) } { (s.t("投诉案件页", "Complaint case page")) } }
        }
        (history_section(&s, &doc, &changes, &names, &devices, tz))
        (audit_details(&s, &doc, &changes, tz))
    };
    page(&s, kind_label(&s, kind), &flash, body).into_response()
}

/// The form's sections in table order, each a grid of label and value.
fn form_sections(
    s: &Session,
    doc: &RecordDoc,
    names: &HashMap<Uuid, String>,
    tz: chrono_tz::Tz,
    changed: &[&str],
) -> Markup {
    let kind = doc.kind();
    let values: HashMap<&str, FieldValue> = doc.values().into_iter().collect();
    let mut sections: Vec<(&str, Vec<&'static fields::FieldSpec>)> = Vec::new();
    for f in fields::fields(kind) {
        if audit_only(f) || f.ty == FieldType::Photos {
            continue;
        }
        let present = if f.ty == FieldType::Notes {
            !doc.note_entries(f.path).is_empty()
        } else {
            values.contains_key(f.path)
        };
        if !present {
            continue;
        }
        let section = f.path.split('.').next().unwrap_or_default();
        match sections.last_mut() {
            Some((name, list)) if *name == section => list.push(f),
            _ => sections.push((section, vec![f])),
        }
    }
    html! {
        @for (section, specs) in &sections {
            section.sheet id={ "sheet-" (section) } {
                h2 { (section_title(s, kind, section)) }
                dl.form-grid {
                    @for f in specs {
                        dt { (s.t(f.label_zh, f.label_en)) }
                        dd.changed[changed.contains(&f.path)] {
                            @if f.ty == FieldType::Notes {
                                @for entry in doc.note_entries(f.path) {
                                    p.note {
                                        (entry.text)
                                        @if let Some(at) = chrono::DateTime::from_timestamp(entry.at, 0).filter(|_| entry.at > 0) {
                                            " " small.meta { (local(tz, at)) }
                                        }
                                    }
                                }
                            } @else {
                                @let all = doc.get_all(f.path);
                                @if all.len() > 1 {
                                    span.badge.conflict { (s.t("并发修改", "Concurrent values")) } " "
                                    @for v in &all {
                                        span.concurrent { (shown_value(s, f, v, names, tz)) }
                                    }
                                } @else if let Some(v) = values.get(f.path) {
                                    (shown_value(s, f, v, names, tz))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A record's photos (a visit's or a complaint form's evidence), each with its caption and
/// the time it was taken, in company time.
fn photos_section(s: &Session, doc: &RecordDoc, tz: chrono_tz::Tz) -> Markup {
    let photos: Vec<_> = fields::fields(doc.kind())
        .iter()
        .filter(|f| f.ty == FieldType::Photos)
        .flat_map(|f| doc.photos(f.path))
        .collect();
    if photos.is_empty() {
        return html! {};
    }
    html! {
        section.photos #photos {
            h2 { (s.t("照片", "Photos")) }
            @for photo in &photos {
                @let caption = if photo.caption.is_empty() { s.t("照片", "Photo").to_string() } else { photo.caption.clone() };
                figure.photo {
                    a href={ "/web/blobs/" (photo.sha256) } {
                        img src={ "/web/blobs/" (photo.sha256) } alt=(caption) loading="lazy";
                    }
                    figcaption {
                        (caption) br;
                        small {
                            (s.t("拍摄于", "taken")) " "
                            (chrono::DateTime::from_timestamp(photo.taken_at, 0).map(|at| local(tz, at)).unwrap_or_default())
                            " · " (format!("{:.0} KB", photo.bytes as f64 / 1024.0))
                        }
                    }
                }
            }
        }
    }
}

/// What each change touched, by field label; a record's first change reads "created".
fn touched_labels(s: &Session, doc: &RecordDoc, hash: &automerge::ChangeHash) -> String {
    let am = doc.automerge();
    let kind = doc.kind();
    let Some(change) = automerge::ReadDoc::get_change_by_hash(am, hash) else {
        return String::new();
    };
    let patches = am.diff(change.deps(), &[change.hash()]);
    let created = change.deps().is_empty();
    let mut seen = Vec::new();
    for p in touched_paths(&patches) {
        // A new record's empty notes and photo lists are made with it, not written.
        if let Some(f) = fields::spec(kind, &p)
            && !audit_only(f)
            && !(created && f.ty.is_entries())
        {
            let l = s.t(f.label_zh, f.label_en).to_string();
            if !seen.contains(&l) {
                seen.push(l);
            }
        }
    }
    let mut out = if created {
        s.t("创建", "created").to_string()
    } else {
        String::new()
    };
    if !seen.is_empty() {
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&seen.join(s.t("、", ", ")));
    }
    out
}

/// The merged history as people read it: when the office received each change, who made it,
/// on which device, and which fields it touched.
fn history_section(
    s: &Session,
    doc: &RecordDoc,
    changes: &[(crate::db::docs::ChangeRow, i64)],
    names: &HashMap<Uuid, String>,
    devices: &HashMap<Uuid, String>,
    tz: chrono_tz::Tz,
) -> Markup {
    html! {
        h2 { (s.t("合并历史", "Merged history")) }
        table #history {
            thead { tr {
                th { (s.t("收到时间", "Received")) }
                th { (s.t("用户", "User")) }
                th { (s.t("设备", "Device")) }
                th { (s.t("改动", "What changed")) }
            } }
            tbody {
                @for (c, received_at) in changes {
                    tr {
                        td { (local_ms(tz, *received_at)) }
                        td { (names.get(&c.user_id).map(String::as_str).unwrap_or(s.t("(未知)", "(unknown)"))) }
                        td {
                            @match c.device_id {
                                Some(d) => (devices.get(&d).map(String::as_str).unwrap_or(s.t("手机", "phone"))),
                                None => (s.t("后台", "back office")),
                            }
                        }
                        td { (touched_labels(s, doc, &c.hash)) }
                    }
                }
            }
        }
    }
}

/// For auditors: the record's id, every stored field with its path and raw value, and each
/// change's hash, device id and the device's own clock.
fn audit_details(
    s: &Session,
    doc: &RecordDoc,
    changes: &[(crate::db::docs::ChangeRow, i64)],
    tz: chrono_tz::Tz,
) -> Markup {
    html! {
        details #audit {
            summary { (s.t("审计详情(字段路径、编号、摘要)", "Details for auditors (paths, ids, digests)")) }
            p.meta { (s.t("记录编号", "Record id")) " " code { (doc.id()) } }
            table #fields {
                thead { tr { th { (s.t("字段", "Field")) } th { (s.t("路径", "Path")) } th { (s.t("存储值", "Stored value")) } } }
                tbody {
                    @for (path, value) in doc.values() {
                        tr {
                            td { (fields::spec(doc.kind(), path).map(|f| s.t(f.label_zh, f.label_en)).unwrap_or(path)) }
                            td { code { (path) } }
                            td { code { @match &value { FieldValue::Int(n) => (n), FieldValue::Text(t) => (t) } } }
                        }
                    }
                }
            }
            table #changes {
                thead { tr {
                    th { (s.t("变更", "Change")) } th { (s.t("设备编号", "Device id")) }
                    th { (s.t("设备时间", "Device time")) } th { (s.t("收到时间", "Received")) }
                } }
                tbody {
                    @for (c, received_at) in changes {
                        tr {
                            td { code { (c.hash) } }
                            td { code { (c.device_id.map(|d| d.to_string()).unwrap_or_default()) } }
                            td { (local_ms(tz, c.device_time)) }
                            td { (local_ms(tz, *received_at)) }
                        }
                    }
                }
            }
        }
    }
}
