//! Documents: each stored once (a compacted save plus the changes merged since), the change
//! log (who sent each change, without its bytes), the feed and the field projection.

use std::collections::HashMap;

use fieldloop_client_core::model::DocKind;
use sqlx::Row;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{Db, Tx};
use crate::access::Scope;

/// A document's row: who may see it, and the document itself: its compacted save and the raw
/// changes merged since.
#[derive(Debug, Clone)]
pub struct DocRow {
    pub id: Uuid,
    pub kind: DocKind,
    pub region: String,
    pub created_by: Uuid,
    pub assignee: Option<Uuid>,
    pub snapshot: Vec<u8>,
    pub chunks: Vec<u8>,
    pub heads: String,
    pub seq: i64,
}

impl DocRow {
    /// The stored document, built: the save, then the changes since.
    pub fn automerge(&self) -> Result<automerge::Automerge, String> {
        let damaged =
            |e: automerge::AutomergeError| format!("stored document {} is damaged: {e}", self.id);
        let mut doc = automerge::Automerge::load(&self.snapshot).map_err(damaged)?;
        // Loading checks every change's hash: a stored save that does not hold what it says is
        // refused here, never served.
        if !self.chunks.is_empty() {
            doc.load_incremental(&self.chunks).map_err(damaged)?;
        }
        Ok(doc)
    }

    /// The stored record, built.
    pub fn record(&self) -> Result<fieldloop_client_core::model::RecordDoc, String> {
        fieldloop_client_core::model::RecordDoc::from_automerge(self.automerge()?)
            .map_err(|e| format!("stored document {} is damaged: {e}", self.id))
    }
}

/// How a merged document is stored: `snapshot` and `chunks` as [`DocRow`] holds them.
#[derive(Debug, Clone, Default)]
pub struct Stored {
    pub snapshot: Vec<u8>,
    pub chunks: Vec<u8>,
}

impl Stored {
    /// The stored form after merging `new_changes` (raw chunks) into `existing`: appended to
    /// its chunks, or, when the chunks would outgrow the snapshot (or there is none), the
    /// whole document saved again by `save`. (Saving again at an eighth of the snapshot stored
    /// a once-edited visit in ~660 bytes instead of ~780, but made one-field edits ~25%
    /// slower, measured in the benchmark's s3: not worth it.)
    pub fn after(
        existing: Option<&DocRow>,
        new_changes: &[&[u8]],
        save: impl FnOnce() -> Vec<u8>,
    ) -> Stored {
        if let Some(row) = existing {
            let added: usize = new_changes.iter().map(|c| c.len()).sum();
            if row.chunks.len() + added <= row.snapshot.len() {
                let mut chunks = Vec::with_capacity(row.chunks.len() + added);
                chunks.extend_from_slice(&row.chunks);
                for c in new_changes {
                    chunks.extend_from_slice(c);
                }
                return Stored {
                    snapshot: row.snapshot.clone(),
                    chunks,
                };
            }
        }
        Stored {
            snapshot: save(),
            chunks: Vec::new(),
        }
    }
}

/// One accepted change, as the change log keeps it: who sent it and when (its bytes are in
/// the document).
#[derive(Debug, Clone)]
pub struct ChangeRow {
    pub hash: automerge::ChangeHash,
    pub actor: automerge::ActorId,
    pub actor_seq: i64,
    pub user_id: Uuid,
    pub device_id: Option<Uuid>,
    pub device_time: i64,
}

/// A document's heads as stored: the hashes' bytes one after another.
fn heads_bytes(text: &str) -> Vec<u8> {
    fieldloop_client_core::wire::heads_from_text(text)
        .iter()
        .flat_map(|h| h.0)
        .collect()
}

/// Stored heads as the text the rest of the server passes around (`wire::heads_to_text`).
fn heads_text(bytes: &[u8]) -> String {
    let heads: Vec<automerge::ChangeHash> = bytes
        .chunks_exact(32)
        .filter_map(|c| automerge::ChangeHash::try_from(c).ok())
        .collect();
    fieldloop_client_core::wire::heads_to_text(&heads)
}

fn uuid_bytes(bytes: &[u8]) -> sqlx::Result<Uuid> {
    Uuid::from_slice(bytes).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// A projected field value.
#[derive(Debug, Clone)]
pub struct FieldRow {
    pub path: String,
    pub value: String,
    pub value_int: Option<i64>,
}

/// A listed document.
#[derive(Debug, Clone)]
pub struct DocSummary {
    pub id: Uuid,
    pub kind: DocKind,
    pub region: String,
    pub assignee: Option<Uuid>,
    pub seq: i64,
    pub heads: String,
    pub updated_at: i64,
}

fn parse_uuid(text: &str) -> sqlx::Result<Uuid> {
    Uuid::parse_str(text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn parse_kind(text: &str) -> sqlx::Result<DocKind> {
    text.parse()
        .map_err(|e: String| sqlx::Error::Decode(e.into()))
}

fn doc_row(r: &AnyRow) -> sqlx::Result<DocRow> {
    Ok(DocRow {
        id: parse_uuid(&r.try_get::<String, _>(0)?)?,
        kind: parse_kind(&r.try_get::<String, _>(1)?)?,
        region: r.try_get(2)?,
        created_by: parse_uuid(&r.try_get::<String, _>(3)?)?,
        assignee: r
            .try_get::<Option<String>, _>(4)?
            .map(|s| parse_uuid(&s))
            .transpose()?,
        snapshot: r.try_get(5)?,
        chunks: r.try_get(6)?,
        heads: heads_text(&r.try_get::<Vec<u8>, _>(7)?),
        seq: r.try_get(8)?,
    })
}

fn summary_row(r: &AnyRow) -> sqlx::Result<DocSummary> {
    Ok(DocSummary {
        id: parse_uuid(&r.try_get::<String, _>(0)?)?,
        kind: parse_kind(&r.try_get::<String, _>(1)?)?,
        region: r.try_get(2)?,
        assignee: r
            .try_get::<Option<String>, _>(3)?
            .map(|s| parse_uuid(&s))
            .transpose()?,
        seq: r.try_get(4)?,
        heads: heads_text(&r.try_get::<Vec<u8>, _>(5)?),
        updated_at: r.try_get(6)?,
    })
}

/// What the records list asks for: a page of one kind, region and state, matching a text.
#[derive(Debug, Default)]
pub struct DocQuery<'a> {
    pub kind: Option<DocKind>,
    pub region: Option<&'a str>,
    /// A code of `status.state`, `custody.location`, `case.state` or `handling.state`.
    pub state: Option<&'a str>,
    /// Part of a customer's name or phone, a product serial, a receipt or case number.
    pub text: &'a str,
    /// Made on the server in [from, to), unix milliseconds.
    pub created_from: i64,
    pub created_to: i64,
    pub offset: i64,
    pub limit: i64,
}

/// One row of the records list.
#[derive(Debug)]
pub struct DocListRow {
    pub id: Uuid,
    pub kind: DocKind,
    pub region: String,
    pub updated_at: i64,
    pub customer: Option<String>,
    pub number: Option<String>,
    pub state: Option<String>,
    /// The technician of a visit or feedback answer.
    pub person: Option<Uuid>,
}

/// The fields a list row shows, each the first of its kind's paths that has a value.
const LIST_CUSTOMER: &[&str] = &[
    "request.customer_name",
    "receipt.customer_name",
    "form.customer_name",
    "answer.customer_name",
];
const LIST_NUMBER: &[&str] = &["receipt.number", "case.number"];
pub const LIST_STATE: &[&str] = &[
    "status.state",
    "custody.location",
    "case.state",
    "handling.state",
];
const LIST_PERSON: &[&str] = &["dispatch.technician", "answer.technician"];
/// What a search looks in.
const LIST_SEARCHED: &[&str] = &[
    "request.customer_name",
    "request.customer_phone",
    "request.product_serial",
    "receipt.customer_name",
    "receipt.product_serial",
    "receipt.number",
    "form.customer_name",
    "form.order_number",
    "case.number",
    "answer.customer_name",
];

/// The visibility filter, as SQL over `documents`, with the scope in $1/$2 of the caller's
/// parameters shifted by `SCOPE_PARAMS`.
const VISIBLE: &str = "($1 = 'all' OR ($1 = 'region' AND region = $2) OR ($1 = 'person' AND (created_by = $2 OR assignee = $2)))";

fn scope_params(scope: &Scope) -> (&'static str, String) {
    match scope {
        Scope::All => ("all", String::new()),
        Scope::Region(r) => ("region", r.clone()),
        Scope::Person(id) => ("person", id.to_string()),
    }
}

pub async fn load_doc(tx: &mut Tx, id: Uuid) -> sqlx::Result<Option<DocRow>> {
    let row = sqlx::query(
        "SELECT id, kind, region, created_by, assignee, snapshot, chunks, heads, seq FROM documents WHERE id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(doc_row).transpose()
}

/// Loads several documents' rows in one query.
pub async fn load_docs(tx: &mut Tx, ids: &[Uuid]) -> sqlx::Result<HashMap<Uuid, DocRow>> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT id, kind, region, created_by, assignee, snapshot, chunks, heads, seq FROM documents WHERE id IN ({})",
            placeholders(1, chunk.len())
        ));
        let mut query = sqlx::query(sql);
        for id in chunk {
            query = query.bind(id.to_string());
        }
        for row in query.fetch_all(&mut **tx).await? {
            let row = doc_row(&row)?;
            out.insert(row.id, row);
        }
    }
    Ok(out)
}

/// The feed position each of these documents was last written at (absent: not stored yet).
pub async fn doc_seqs(tx: &mut Tx, ids: &[Uuid]) -> sqlx::Result<HashMap<Uuid, i64>> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT id, seq FROM documents WHERE id IN ({})",
            placeholders(1, chunk.len())
        ));
        let mut query = sqlx::query(sql);
        for id in chunk {
            query = query.bind(id.to_string());
        }
        for row in query.fetch_all(&mut **tx).await? {
            out.insert(parse_uuid(&row.try_get::<String, _>(0)?)?, row.try_get(1)?);
        }
    }
    Ok(out)
}

/// Everything a merge writes for one document, in the caller's transaction.
#[derive(Debug)]
pub struct DocWrite {
    pub id: Uuid,
    pub kind: DocKind,
    pub region: String,
    pub created_by: Uuid,
    pub assignee: Option<Uuid>,
    pub stored: Stored,
    pub heads: String,
    pub seq: i64,
    pub changes: Vec<ChangeRow>,
    pub fields: Vec<FieldRow>,
}

/// `$first, $first+1, ...` for `n` parameters.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($1, $2, $3), ($4, $5, $6), ...` for `rows` rows of `cols` parameters.
fn value_rows(rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", placeholders(r * cols + 1, cols)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The condition that a blob (aliased `b`) is referred to by no record's field: the paths of
/// the field table's blob fields, so the `(path, value)` index answers it.
fn unreferenced() -> String {
    use fieldloop_client_core::model::{DocKind, FieldType, fields};
    let mut paths: Vec<&str> = [
        DocKind::Visit,
        DocKind::Receipt,
        DocKind::Complaint,
        DocKind::Feedback,
    ]
    .iter()
    .flat_map(|k| fields::fields(*k).iter())
    .filter(|f| f.ty == FieldType::Sha256)
    .map(|f| f.path)
    .collect();
    paths.sort_unstable();
    paths.dedup();
    let list = paths
        .iter()
        .map(|p| format!("'{p}'"))
        .collect::<Vec<_>>()
        .join(", ");
    // Photos are projected one row each, `section.photos.<n>.blob_sha256`.
    format!(
        "NOT EXISTS (SELECT 1 FROM doc_fields f WHERE (f.path IN ({list}) OR f.path LIKE '%.photos.%.blob_sha256') AND f.value = b.sha256)"
    )
}

/// Rows per multi-row statement (SQLite allows 32,766 parameters, PostgreSQL 65,535).
const ROWS_PER_STATEMENT: usize = 50;

/// Stores merged documents: upserts their rows, appends their new changes (a change already
/// stored is skipped: content addressed) and replaces their field projection. A few statements
/// per batch, whatever its size.
pub async fn write_docs(tx: &mut Tx, writes: Vec<DocWrite>, at: i64) -> sqlx::Result<()> {
    let now = at;
    for chunk in writes.chunks(ROWS_PER_STATEMENT) {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO documents (id, kind, region, created_by, assignee, snapshot, chunks, heads, seq, change_count, created_at, updated_at)
             VALUES {} ON CONFLICT (id) DO UPDATE SET assignee = excluded.assignee, snapshot = excluded.snapshot,
             chunks = excluded.chunks, heads = excluded.heads, seq = excluded.seq,
             change_count = documents.change_count + excluded.change_count, updated_at = excluded.updated_at",
            value_rows(chunk.len(), 12)
        ));
        let mut q = sqlx::query(sql);
        for w in chunk {
            q = q
                .bind(w.id.to_string())
                .bind(w.kind.code())
                .bind(w.region.clone())
                .bind(w.created_by.to_string())
                .bind(w.assignee.map(|a| a.to_string()))
                .bind(w.stored.snapshot.clone())
                .bind(w.stored.chunks.clone())
                .bind(heads_bytes(&w.heads))
                .bind(w.seq)
                .bind(w.changes.len() as i64)
                .bind(now)
                .bind(now);
        }
        q.execute(&mut **tx).await?;
    }
    let changes: Vec<(Uuid, &ChangeRow)> = writes
        .iter()
        .flat_map(|w| w.changes.iter().map(move |c| (w.id, c)))
        .collect();
    for chunk in changes.chunks(ROWS_PER_STATEMENT) {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO changes (hash, doc_id, actor, actor_seq, user_id, device_id, device_time, received_at)
             VALUES {} ON CONFLICT (doc_id, hash) DO NOTHING",
            value_rows(chunk.len(), 8)
        ));
        let mut q = sqlx::query(sql);
        for (doc_id, c) in chunk {
            q = q
                .bind(c.hash.0.to_vec())
                .bind(doc_id.as_bytes().to_vec())
                .bind(c.actor.to_bytes().to_vec())
                .bind(c.actor_seq)
                .bind(c.user_id.as_bytes().to_vec())
                .bind(c.device_id.map(|d| d.as_bytes().to_vec()))
                .bind(c.device_time)
                .bind(now);
        }
        q.execute(&mut **tx).await?;
    }
    for chunk in writes.chunks(ROWS_PER_STATEMENT) {
        let sql = sqlx::AssertSqlSafe(format!(
            "DELETE FROM doc_fields WHERE doc_id IN ({})",
            placeholders(1, chunk.len())
        ));
        let mut q = sqlx::query(sql);
        for w in chunk {
            q = q.bind(w.id.to_string());
        }
        q.execute(&mut **tx).await?;
    }
    let fields: Vec<(String, &FieldRow)> = writes
        .iter()
        .flat_map(|w| w.fields.iter().map(move |f| (w.id.to_string(), f)))
        .collect();
    for chunk in fields.chunks(ROWS_PER_STATEMENT) {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO doc_fields (doc_id, path, value, value_int) VALUES {}",
            value_rows(chunk.len(), 4)
        ));
        let mut q = sqlx::query(sql);
        for (doc_id, f) in chunk {
            q = q
                .bind(doc_id.clone())
                .bind(f.path.clone())
                .bind(f.value.clone())
                .bind(f.value_int);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

pub async fn blob_exists(tx: &mut Tx, sha256: &str) -> sqlx::Result<bool> {
    Ok(sqlx::query("SELECT 1 FROM blobs WHERE sha256 = $1")
        .bind(sha256)
        .fetch_optional(&mut **tx)
        .await?
        .is_some())
}

impl Db {
    /// Documents visible in `scope` that changed after `after`, oldest change first.
    pub async fn feed(
        &self,
        scope: &Scope,
        after: i64,
        limit: i64,
    ) -> sqlx::Result<Vec<DocSummary>> {
        let (mode, value) = scope_params(scope);
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT id, kind, region, assignee, seq, heads, updated_at FROM documents
             WHERE {VISIBLE} AND seq > $3 ORDER BY seq LIMIT $4"
        ));
        let rows = sqlx::query(sql)
            .bind(mode)
            .bind(value)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(summary_row).collect()
    }

    /// Visible documents of one kind (or all kinds), newest first.
    pub async fn list_docs(
        &self,
        scope: &Scope,
        kind: Option<DocKind>,
        limit: i64,
    ) -> sqlx::Result<Vec<DocSummary>> {
        let (mode, value) = scope_params(scope);
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT id, kind, region, assignee, seq, heads, updated_at FROM documents
             WHERE {VISIBLE} AND ($3 = '' OR kind = $3) ORDER BY updated_at DESC, id LIMIT $4"
        ));
        let rows = sqlx::query(sql)
            .bind(mode)
            .bind(value)
            .bind(kind.map(|k| k.code()).unwrap_or(""))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(summary_row).collect()
    }

    /// A page of the records list: visible documents, newest first, filtered by kind, region,
    /// state and a search over the fields people find a record by; with the count of all that
    /// match.
    pub async fn find_docs(
        &self,
        scope: &Scope,
        q: &DocQuery<'_>,
    ) -> sqlx::Result<(Vec<DocListRow>, i64)> {
        let (mode, value) = scope_params(scope);
        let pick = |paths: &[&str]| {
            let list = paths
                .iter()
                .map(|p| format!("'{p}'"))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "(SELECT f.value FROM doc_fields f WHERE f.doc_id = documents.id AND f.path IN ({list}) LIMIT 1)"
            )
        };
        let list = |paths: &[&str]| {
            paths
                .iter()
                .map(|p| format!("'{p}'"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let filter = format!(
            "{VISIBLE} AND ($3 = '' OR kind = $3) AND ($4 = '' OR region = $4)
             AND ($5 = '' OR EXISTS (SELECT 1 FROM doc_fields f WHERE f.doc_id = documents.id
                  AND f.path IN ({states}) AND f.value = $5)
                  OR EXISTS (SELECT 1 FROM receipts r WHERE r.id = documents.id AND r.location = $5))
             AND ($6 = '' OR EXISTS (SELECT 1 FROM doc_fields f WHERE f.doc_id = documents.id
                  AND f.path IN ({searched}) AND LOWER(f.value) LIKE $6 ESCAPE '\\'))
             AND created_at >= $7 AND created_at < $8",
            states = list(LIST_STATE),
            searched = list(LIST_SEARCHED),
        );
        let pattern = if q.text.trim().is_empty() {
            String::new()
        } else {
            let escaped = q
                .text
                .trim()
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        };
        let kind = q.kind.map(|k| k.code()).unwrap_or("");
        // A receipt's place is kept by the custody register.
        let state = format!(
            "COALESCE((SELECT r.location FROM receipts r WHERE r.id = documents.id), {})",
            pick(LIST_STATE)
        );
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT id, kind, region, updated_at, {customer}, {number}, {state}, {person}
             FROM documents WHERE {filter} ORDER BY updated_at DESC, id LIMIT $9 OFFSET $10",
            customer = pick(LIST_CUSTOMER),
            number = pick(LIST_NUMBER),
            person = pick(LIST_PERSON),
        ));
        let rows = sqlx::query(sql)
            .bind(mode)
            .bind(value.clone())
            .bind(kind)
            .bind(q.region.unwrap_or(""))
            .bind(q.state.unwrap_or(""))
            .bind(pattern.clone())
            .bind(q.created_from)
            .bind(q.created_to)
            .bind(q.limit)
            .bind(q.offset)
            .fetch_all(&self.pool)
            .await?;
        let count_sql =
            sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM documents WHERE {filter}"));
        let total: i64 = sqlx::query(count_sql)
            .bind(mode)
            .bind(value)
            .bind(kind)
            .bind(q.region.unwrap_or(""))
            .bind(q.state.unwrap_or(""))
            .bind(pattern)
            .bind(q.created_from)
            .bind(q.created_to)
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        let rows = rows
            .iter()
            .map(|r| {
                Ok(DocListRow {
                    id: parse_uuid(&r.try_get::<String, _>(0)?)?,
                    kind: parse_kind(&r.try_get::<String, _>(1)?)?,
                    region: r.try_get(2)?,
                    updated_at: r.try_get(3)?,
                    customer: r.try_get(4)?,
                    number: r.try_get(5)?,
                    state: r.try_get(6)?,
                    person: r
                        .try_get::<Option<String>, _>(7)?
                        .and_then(|s| Uuid::parse_str(&s).ok()),
                })
            })
            .collect::<sqlx::Result<Vec<_>>>()?;
        Ok((rows, total))
    }

    /// One document's row if it exists, visible or not (callers check visibility).
    pub async fn doc(&self, id: Uuid) -> sqlx::Result<Option<DocRow>> {
        let row = sqlx::query(
            "SELECT id, kind, region, created_by, assignee, snapshot, chunks, heads, seq FROM documents WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(doc_row).transpose()
    }

    /// A document's changes in the order they arrived, each with its server arrival time.
    pub async fn doc_changes(&self, id: Uuid) -> sqlx::Result<Vec<(ChangeRow, i64)>> {
        let rows = sqlx::query(
            "SELECT hash, actor, actor_seq, user_id, device_id, device_time, received_at FROM changes
             WHERE doc_id = $1 ORDER BY received_at, actor, actor_seq",
        )
        .bind(id.as_bytes().to_vec())
        .fetch_all(&self.pool)
        .await?;
        let decode = |e: String| sqlx::Error::Decode(e.into());
        rows.iter()
            .map(|r| {
                let hash: Vec<u8> = r.try_get(0)?;
                let actor: Vec<u8> = r.try_get(1)?;
                Ok((
                    ChangeRow {
                        hash: automerge::ChangeHash::try_from(hash.as_slice())
                            .map_err(|e| decode(e.to_string()))?,
                        actor: automerge::ActorId::from(actor),
                        actor_seq: r.try_get(2)?,
                        user_id: uuid_bytes(&r.try_get::<Vec<u8>, _>(3)?)?,
                        device_id: r
                            .try_get::<Option<Vec<u8>>, _>(4)?
                            .map(|b| uuid_bytes(&b))
                            .transpose()?,
                        device_time: r.try_get(5)?,
                    },
                    r.try_get(6)?,
                ))
            })
            .collect()
    }

    pub async fn change_count(&self) -> sqlx::Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) FROM changes")
            .fetch_one(&self.pool)
            .await?
            .get(0))
    }

    pub async fn doc_fields(&self, id: Uuid) -> sqlx::Result<Vec<FieldRow>> {
        let rows = sqlx::query(
            "SELECT path, value, value_int FROM doc_fields WHERE doc_id = $1 ORDER BY path",
        )
        .bind(id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(FieldRow {
                    path: r.try_get(0)?,
                    value: r.try_get(1)?,
                    value_int: r.try_get(2)?,
                })
            })
            .collect()
    }

    /// Stores a blob; storing the same bytes again is harmless.
    pub async fn put_blob(
        &self,
        sha256: &str,
        mime: &str,
        bytes: &[u8],
        user: Uuid,
        at: i64,
    ) -> sqlx::Result<bool> {
        let inserted = sqlx::query(
            "INSERT INTO blobs (sha256, mime, size, bytes, uploaded_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(sha256)
        .bind(mime)
        .bind(bytes.len() as i64)
        .bind(bytes)
        .bind(user.to_string())
        .bind(at)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(inserted == 1)
    }

    pub async fn blob(&self, sha256: &str) -> sqlx::Result<Option<(String, Vec<u8>)>> {
        let row = sqlx::query("SELECT mime, bytes FROM blobs WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
    }

    /// The bytes of `user`'s blobs that no record refers to (yet): what the upload quota counts.
    pub async fn unreferenced_blob_bytes(&self, user: Uuid) -> sqlx::Result<i64> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM blobs b WHERE uploaded_by = $1 AND {}",
            unreferenced()
        )))
        .bind(user.to_string())
        .fetch_one(&self.pool)
        .await?;
        row.try_get::<i64, _>(0)
    }

    /// Deletes blobs that no record refers to and that were uploaded before `before` (unix
    /// ms); returns how many went.
    pub async fn delete_unreferenced_blobs(&self, before: i64) -> sqlx::Result<u64> {
        Ok(sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM blobs WHERE created_at < $1 AND sha256 IN (SELECT sha256 FROM blobs b WHERE {})",
            unreferenced()
        )))
        .bind(before)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// Who uploaded a blob, if it is stored.
    pub async fn blob_uploader(&self, sha256: &str) -> sqlx::Result<Option<Uuid>> {
        let row = sqlx::query("SELECT uploaded_by FROM blobs WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Uuid::parse_str(&r.try_get::<String, _>(0)?)
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))
        })
        .transpose()
    }
}
