//! The device's local store: one SQLite file holding documents (snapshot plus incremental
//! chunks), content-addressed blobs, the outbox (documents with unacknowledged changes) and
//! settings. Every call that returns `Ok` has committed with `synchronous=FULL`, so a process
//! killed right after loses nothing it was told was saved.

use std::path::Path;
use std::str::FromStr;

use automerge::{ActorId, Automerge, Change, ChangeHash};
use sqlx::Row;
use sqlx::SqliteConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use uuid::Uuid;

use crate::model::ownership::Author;
use crate::model::{DocKind, FieldType, FieldValue, PhotoEntry, RecordDoc, Refusal};
pub use crate::wire::{heads_from_text, heads_to_text, sha256_hex};
use crate::{Error, Result};

/// How many incremental chunks a document gathers before they are folded into its snapshot.
const COMPACT_AFTER_CHUNKS: i64 = 32;

/// A document waiting in the outbox, as the sync engine needs it.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: Uuid,
    pub synced_heads: Vec<ChangeHash>,
}

/// A document of the outbox with what the server has not acknowledged: the device's heads and
/// its unsent changes (raw bytes, in the order they were made).
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub id: Uuid,
    pub heads: Vec<ChangeHash>,
    pub changes: Vec<(ChangeHash, Vec<u8>)>,
}

/// A document the server refused, kept on the device with the server's reason.
#[derive(Debug, Clone)]
pub struct Quarantined {
    pub id: Uuid,
    pub kind: DocKind,
    pub refusal: Refusal,
}

/// What the server sent back for one document.
#[derive(Debug, Clone)]
pub struct ServerUpdate {
    pub id: Uuid,
    /// The kind the feed announced, for documents new to the device.
    pub kind: Option<DocKind>,
    pub changes: Vec<Change>,
    pub heads: Vec<ChangeHash>,
    /// The local changes this answer acknowledges (they leave the unsent list).
    pub acknowledged: Vec<ChangeHash>,
}

/// Heads as stored on the device: sorted, so two sets compare as text.
/// `$1, $2, ... $n`, for an `IN (...)` list.
fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn sorted_text(heads: &[ChangeHash]) -> String {
    let mut sorted = heads.to_vec();
    sorted.sort();
    heads_to_text(&sorted)
}

/// A stored blob.
#[derive(Debug, Clone)]
pub struct Blob {
    pub sha256: String,
    pub mime: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    actor: ActorId,
    /// The lock file held while the store is open: one client per store file.
    lock: std::sync::Arc<std::sync::Mutex<Option<std::fs::File>>>,
}

/// Takes `<store>.lock` for this client, or says that another client has the store open.
fn lock_store(path: &Path) -> Result<std::fs::File> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&name)
        .map_err(|e| Error::Storage(format!("the store's lock file cannot be made: {e}")))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Invalid(format!(
            "the store {} is open in another client; use that one, or shut it down first",
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::Storage(format!(
            "the store's lock file cannot be locked: {e}"
        ))),
    }
}

/// The writes of a customer's signature on `doc` (§2.3, §2.5): `completing`, then the image
/// (a stored blob), the signer's name, the device's time, and the digest of the form as it
/// reads once `completing` is written.
fn signature_writes<'a>(
    doc: &RecordDoc,
    author: Author,
    blob: &Blob,
    signer: &str,
    completing: &[(&'a str, FieldValue)],
    unix_time: i64,
) -> Result<Vec<(&'a str, FieldValue)>> {
    if signer.trim().is_empty() {
        return Err(Error::Invalid("the signer's name is needed".into()));
    }
    let mut preview = doc.clone();
    if !completing.is_empty() {
        preview.set_many(author, completing, unix_time)?;
    }
    let signed_at = chrono::DateTime::from_timestamp(unix_time, 0)
        .unwrap_or_default()
        .to_rfc3339();
    let mut writes: Vec<(&'a str, FieldValue)> = completing.to_vec();
    writes.extend([
        (
            "signature.blob_sha256",
            FieldValue::Text(blob.sha256.clone()),
        ),
        (
            "signature.blob_bytes",
            FieldValue::Int(blob.bytes.len() as i64),
        ),
        ("signature.blob_mime", FieldValue::Text(blob.mime.clone())),
        (
            "signature.signer_name",
            FieldValue::Text(signer.trim().to_string()),
        ),
        ("signature.signed_at", FieldValue::Text(signed_at)),
        (
            "signature.signed_digest",
            FieldValue::Text(preview.signed_digest()),
        ),
    ]);
    Ok(writes)
}

impl Store {
    /// Opens (or creates) the store at `path`. The device's actor id is made on first open and
    /// kept for the life of the file.
    pub async fn open(path: impl AsRef<Path>) -> Result<Store> {
        let lock = lock_store(path.as_ref())?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(std::time::Duration::from_secs(10));
        // One connection: a phone writes little, and one writer never waits on itself.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        sqlx::raw_sql(include_str!("../../migrations/client/0001_device.sql"))
            .execute(&pool)
            .await?;
        sqlx::raw_sql(include_str!("../../migrations/client/0002_unsent.sql"))
            .execute(&pool)
            .await?;
        let actor = match Self::meta_get_in(&pool, "actor_id").await? {
            Some(hex) => ActorId::from_str(&hex).map_err(|e| Error::Storage(e.to_string()))?,
            None => {
                let bytes: [u8; 16] = rand::random();
                let actor = ActorId::from(bytes);
                Self::meta_set_in(&pool, "actor_id", &actor.to_hex_string()).await?;
                actor
            }
        };
        let store = Store {
            pool,
            actor,
            lock: std::sync::Arc::new(std::sync::Mutex::new(Some(lock))),
        };
        if Self::meta_get_in(&store.pool, "unsent_filled")
            .await?
            .is_none()
        {
            store.fill_unsent().await?;
        }
        Ok(store)
    }

    /// Once, for a store written before unsent changes were kept: lists the unacknowledged
    /// changes of every document in the outbox.
    async fn fill_unsent(&self) -> Result<()> {
        let pending = self.pending().await?;
        let ids: Vec<Uuid> = pending.iter().map(|p| p.id).collect();
        let docs = self.load_many(&ids).await?;
        let mut tx = self.pool.begin().await?;
        for (doc, p) in docs.iter().zip(&pending) {
            let am = doc.automerge();
            let known: Vec<ChangeHash> = p
                .synced_heads
                .iter()
                .copied()
                .filter(|h| crate::model::doc::has_change(am, h))
                .collect();
            Self::insert_unsent(&mut tx, doc.id(), &am.get_changes(&known)).await?;
        }
        sqlx::query("INSERT INTO meta (key, value) VALUES ('unsent_filled', '1') ON CONFLICT (key) DO NOTHING")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_unsent(
        conn: &mut SqliteConnection,
        id: Uuid,
        changes: &[Change],
    ) -> Result<()> {
        for c in changes {
            sqlx::query(
                "INSERT INTO unsent (doc_id, hash, bytes) VALUES ($1, $2, $3) ON CONFLICT (hash) DO NOTHING",
            )
            .bind(id.to_string())
            .bind(c.hash().to_string())
            .bind(c.raw_bytes())
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// Closes the file cleanly (the app going to the background may call this).
    pub async fn close(&self) {
        self.pool.close().await;
        // The store is free for another client once its connection is closed.
        self.lock.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// The Automerge actor id every change from this device carries.
    pub fn actor(&self) -> &ActorId {
        &self.actor
    }

    async fn meta_get_in(pool: &SqlitePool, key: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(pool)
            .await?;
        Ok(row.map(|r| r.get::<String, _>(0)))
    }

    async fn meta_set_in(pool: &SqlitePool, key: &str, value: &str) -> Result<()> {
        sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(pool)
            .await?;
        Ok(())
    }

    pub async fn meta_get(&self, key: &str) -> Result<Option<String>> {
        Self::meta_get_in(&self.pool, key).await
    }

    pub async fn meta_set(&self, key: &str, value: &str) -> Result<()> {
        Self::meta_set_in(&self.pool, key, value).await
    }

    pub async fn meta_delete(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM meta WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The next take-back receipt number of this device: `R-<device>-<serial>`, unique across
    /// devices without asking anyone (the device part comes from its actor id).
    pub async fn next_receipt_number(&self) -> Result<String> {
        let mut tx = self.pool.begin().await?;
        let number = self.take_receipt_number(&mut tx).await?;
        tx.commit().await?;
        Ok(number)
    }

    /// Takes the next receipt number inside the caller's transaction: it is used only if that
    /// transaction commits.
    async fn take_receipt_number(&self, conn: &mut SqliteConnection) -> Result<String> {
        let current: i64 = sqlx::query("SELECT value FROM meta WHERE key = 'receipt_serial'")
            .fetch_optional(&mut *conn)
            .await?
            .and_then(|r| r.get::<String, _>(0).parse().ok())
            .unwrap_or(0);
        let next = current + 1;
        sqlx::query("INSERT INTO meta (key, value) VALUES ('receipt_serial', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(next.to_string())
            .execute(&mut *conn)
            .await?;
        // Short enough to read out over the phone: the device's number from its registration
        // (R007-00012). A store that has not registered yet falls back to its actor id, which
        // is unique without asking anyone.
        let number: Option<i64> = sqlx::query("SELECT value FROM meta WHERE key = 'device_number'")
            .fetch_optional(&mut *conn)
            .await?
            .and_then(|r| r.get::<String, _>(0).parse().ok());
        Ok(match number {
            Some(n) => format!("R{n:03}-{next:05}"),
            None => {
                let device = self.actor.to_hex_string();
                format!("R-{}-{next:05}", &device[..device.len().min(10)])
            }
        })
    }

    /// Creates a record with its first fields, checked by the record's rules, and stores it in
    /// one transaction: a record is on the device whole, with its fields, or not at all.
    pub async fn create_with(
        &self,
        kind: DocKind,
        region: &str,
        author: Author,
        writes: &[(&str, FieldValue)],
        unix_time: i64,
    ) -> Result<RecordDoc> {
        let mut doc =
            RecordDoc::create(kind, Uuid::now_v7(), region, self.actor.clone(), unix_time)?;
        if !writes.is_empty() {
            doc.set_many(author, writes, unix_time)?;
        }
        crate::model::rules::check(&doc).map_err(|r| Error::Invalid(r.to_string()))?;
        let mut tx = self.pool.begin().await?;
        Self::insert_new(&mut tx, &doc, unix_time).await?;
        tx.commit().await?;
        Ok(doc)
    }

    /// Issues a take-back receipt (收据, §2.5) for `visit_id` in one transaction: the next
    /// receipt number of this device, the product's details (`writes`), the time, and the
    /// customer's signature over all of it. A failure anywhere leaves no receipt and uses no
    /// number.
    #[allow(clippy::too_many_arguments)]
    pub async fn issue_receipt(
        &self,
        region: &str,
        author: Author,
        visit_id: Uuid,
        writes: &[(&str, FieldValue)],
        blob_sha256: &str,
        signer: &str,
        issued_at: &str,
        unix_time: i64,
    ) -> Result<RecordDoc> {
        let blob = self.signature_image(blob_sha256).await?;
        let mut doc = RecordDoc::create(
            DocKind::Receipt,
            Uuid::now_v7(),
            region,
            self.actor.clone(),
            unix_time,
        )?;
        // The number is taken in the same transaction that stores the receipt.
        let mut tx = self.pool.begin().await?;
        let number = self.take_receipt_number(&mut tx).await?;
        let mut all: Vec<(&str, FieldValue)> = writes.to_vec();
        all.push(("receipt.visit_id", FieldValue::Text(visit_id.to_string())));
        all.push(("receipt.number", FieldValue::Text(number)));
        all.push(("receipt.issued_at", FieldValue::Text(issued_at.to_string())));
        let signed = signature_writes(&doc, author, &blob, signer, &all, unix_time)?;
        doc.set_many(author, &signed, unix_time)?;
        crate::model::rules::check(&doc).map_err(|r| Error::Invalid(r.to_string()))?;
        Self::insert_new(&mut tx, &doc, unix_time).await?;
        tx.commit().await?;
        Ok(doc)
    }

    /// Inserts a record new to this device, with its changes in the outbox.
    async fn insert_new(
        conn: &mut SqliteConnection,
        doc: &RecordDoc,
        unix_time: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO documents (id, kind, snapshot, heads, dirty, updated_at) VALUES ($1, $2, $3, $4, 1, $5)",
        )
        .bind(doc.id().to_string())
        .bind(doc.kind().code())
        .bind(doc.automerge().save())
        .bind(sorted_text(&doc.heads()))
        .bind(unix_time)
        .execute(&mut *conn)
        .await?;
        Self::insert_unsent(conn, doc.id(), &doc.automerge().get_changes(&[])).await
    }

    /// Creates a new record, stores it and puts it in the outbox.
    pub async fn create(&self, kind: DocKind, region: &str, unix_time: i64) -> Result<RecordDoc> {
        let id = Uuid::now_v7();
        let doc = RecordDoc::create(kind, id, region, self.actor.clone(), unix_time)?;
        self.adopt(&doc, unix_time).await?;
        Ok(doc)
    }

    /// Stores a record this device made elsewhere (an earlier version of the app, an import of
    /// its own backup) and puts it in the outbox. Every change must be this device's own, and
    /// the device must not hold the record yet.
    pub async fn adopt(&self, doc: &RecordDoc, unix_time: i64) -> Result<()> {
        let changes = doc.automerge().get_changes(&[]);
        if changes.iter().any(|c| c.actor_id() != &self.actor) {
            return Err(Error::Invalid(
                "a record made by another device cannot be adopted; sync it instead".into(),
            ));
        }
        let mut tx = self.pool.begin().await?;
        Self::insert_new(&mut tx, doc, unix_time).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Loads a record, or `None` if the device does not have it.
    pub async fn load(&self, id: Uuid) -> Result<Option<RecordDoc>> {
        let mut conn = self.pool.acquire().await?;
        self.load_in(&mut conn, id).await
    }

    /// Loads several records with two queries (snapshots, then chunks), in the order of `ids`;
    /// missing ids are skipped.
    pub async fn load_many(&self, ids: &[Uuid]) -> Result<Vec<RecordDoc>> {
        let mut out = Vec::with_capacity(ids.len());
        let mut conn = self.pool.acquire().await?;
        for chunk in ids.chunks(500) {
            let marks = placeholders(chunk.len());
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT id, snapshot FROM documents WHERE id IN ({marks})"
            ));
            let mut q = sqlx::query(sql);
            for id in chunk {
                q = q.bind(id.to_string());
            }
            let snapshots = q.fetch_all(&mut *conn).await?;
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT doc_id, bytes FROM chunks WHERE doc_id IN ({marks}) ORDER BY doc_id, seq"
            ));
            let mut q = sqlx::query(sql);
            for id in chunk {
                q = q.bind(id.to_string());
            }
            let mut chunks: std::collections::HashMap<String, Vec<Vec<u8>>> =
                std::collections::HashMap::new();
            for row in q.fetch_all(&mut *conn).await? {
                chunks.entry(row.get(0)).or_default().push(row.get(1));
            }
            for row in snapshots {
                let id: String = row.get(0);
                let snapshot: Vec<u8> = row.get(1);
                let mut doc =
                    Automerge::load(&snapshot).map_err(|e| Error::Storage(e.to_string()))?;
                for bytes in chunks.remove(&id).unwrap_or_default() {
                    doc.load_incremental(&bytes)
                        .map_err(|e| Error::Storage(e.to_string()))?;
                }
                doc.set_actor(self.actor.clone());
                out.push(RecordDoc::from_automerge(doc)?);
            }
        }
        let position: std::collections::HashMap<Uuid, usize> =
            ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        out.sort_by_key(|d| position.get(&d.id()).copied().unwrap_or(usize::MAX));
        Ok(out)
    }

    async fn load_in(&self, conn: &mut SqliteConnection, id: Uuid) -> Result<Option<RecordDoc>> {
        let Some(row) = sqlx::query("SELECT snapshot FROM documents WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&mut *conn)
            .await?
        else {
            return Ok(None);
        };
        let snapshot: Vec<u8> = row.get(0);
        let mut doc = Automerge::load(&snapshot).map_err(|e| Error::Storage(e.to_string()))?;
        let chunks = sqlx::query("SELECT bytes FROM chunks WHERE doc_id = $1 ORDER BY seq")
            .bind(id.to_string())
            .fetch_all(&mut *conn)
            .await?;
        for chunk in chunks {
            let bytes: Vec<u8> = chunk.get(0);
            doc.load_incremental(&bytes)
                .map_err(|e| Error::Storage(e.to_string()))?;
        }
        doc.set_actor(self.actor.clone());
        Ok(Some(RecordDoc::from_automerge(doc)?))
    }

    async fn load_required(&self, id: Uuid) -> Result<RecordDoc> {
        self.load(id)
            .await?
            .ok_or_else(|| Error::NotFound(id.to_string()))
    }

    /// Writes fields of a record as the device's user and stores the change before returning.
    pub async fn edit(
        &self,
        id: Uuid,
        author: Author,
        writes: &[(&str, FieldValue)],
        unix_time: i64,
    ) -> Result<RecordDoc> {
        let mut doc = self.load_required(id).await?;
        let before = doc.heads();
        doc.set_many(author, writes, unix_time)?;
        // The server runs the same rules; refusing here keeps an honest device out of quarantine.
        crate::model::rules::check(&doc).map_err(|r| Error::Invalid(r.to_string()))?;
        self.append(&doc, &before, true).await?;
        Ok(doc)
    }

    /// A signature image stored on this device, or why it cannot be used.
    async fn signature_image(&self, sha256: &str) -> Result<Blob> {
        self.blob(sha256)
            .await?
            .ok_or_else(|| Error::Invalid(format!("no stored signature image {sha256}")))
    }

    /// The customer signs the form (§2.3, §2.5): the signature image (a stored blob), the
    /// signer's name and the device's time are written in one change together with `completing`
    /// (e.g. the outcome), and the digest covers the form as signed, `completing` included.
    pub async fn sign(
        &self,
        id: Uuid,
        author: Author,
        blob_sha256: &str,
        signer: &str,
        completing: &[(&str, FieldValue)],
        unix_time: i64,
    ) -> Result<RecordDoc> {
        let blob = self.signature_image(blob_sha256).await?;
        let mut doc = self.load_required(id).await?;
        let before = doc.heads();
        let writes = signature_writes(&doc, author, &blob, signer, completing, unix_time)?;
        doc.set_many(author, &writes, unix_time)?;
        crate::model::rules::check(&doc).map_err(|r| Error::Invalid(r.to_string()))?;
        self.append(&doc, &before, true).await?;
        Ok(doc)
    }

    /// The customer signs for the repaired product given back (§2.6 交还客户) on its take-back
    /// receipt: the image, the signer's name, the device's time and the digest of the receipt
    /// as signed, stored with the image in one transaction. Only a receipt whose product the
    /// office has put back in stock (ready to return) takes it, and only once.
    pub async fn sign_handback(
        &self,
        receipt: Uuid,
        author: Author,
        image: &[u8],
        mime: &str,
        signer: &str,
        unix_time: i64,
    ) -> Result<RecordDoc> {
        let mut doc = self.load_required(receipt).await?;
        if doc.kind() != DocKind::Receipt {
            return Err(Error::Invalid(format!(
                "{receipt} is a {}, not a take-back receipt",
                doc.kind()
            )));
        }
        let text = |path: &str| {
            doc.get(path)
                .and_then(|v| v.as_text().map(str::to_string))
                .unwrap_or_default()
        };
        if !text("handback.signer_name").is_empty() {
            return Err(Error::Invalid(format!(
                "the customer already signed for this product on {}",
                text("handback.signed_at")
            )));
        }
        let location = text("custody.location");
        if location != "in_stock" {
            return Err(Error::Invalid(format!(
                "the product is not ready to be given back (it is {}); sync, and sign when the office has it in stock",
                if location.is_empty() {
                    "with the technician"
                } else {
                    location.as_str()
                }
            )));
        }
        if signer.trim().is_empty() {
            return Err(Error::Invalid("the signer's name is needed".into()));
        }
        let before = doc.heads();
        let signed_at = chrono::DateTime::from_timestamp(unix_time, 0)
            .unwrap_or_default()
            .to_rfc3339();
        let mut tx = self.pool.begin().await?;
        let sha = Self::insert_blob(&mut tx, image, mime).await?;
        let digest = doc.signed_digest();
        doc.set_many(
            author,
            &[
                ("handback.blob_sha256", FieldValue::Text(sha)),
                (
                    "handback.signer_name",
                    FieldValue::Text(signer.trim().to_string()),
                ),
                ("handback.signed_at", FieldValue::Text(signed_at)),
                ("handback.signed_digest", FieldValue::Text(digest)),
            ],
            unix_time,
        )?;
        crate::model::rules::check(&doc).map_err(|r| Error::Invalid(r.to_string()))?;
        Self::append_in(&mut tx, &doc, &before, true).await?;
        tx.commit().await?;
        Ok(doc)
    }

    /// Adds a photo to the photos field `path` of record `id` (`form.photos` of a visit or a
    /// complaint form): made ready first ([`crate::photo::prepare`]: upright, at most
    /// `options.longest_side`, JPEG again without the camera's metadata, the capture time kept),
    /// then the image, queued for upload, and the record's new entry are stored in one
    /// transaction. Refused, changing nothing, when the image is empty, too large or not a
    /// JPEG, when the caption is too long, or when the photos and signatures waiting for upload
    /// would pass `options.waiting_quota_bytes` ([`Error::QuotaFull`]).
    #[allow(clippy::too_many_arguments)]
    pub async fn add_photo(
        &self,
        id: Uuid,
        author: Author,
        path: &str,
        image: &[u8],
        caption: &str,
        unix_time: i64,
        options: &crate::photo::PhotoOptions,
    ) -> Result<PhotoEntry> {
        let mut doc = self.load_required(id).await?;
        if crate::model::fields::spec(doc.kind(), path).map(|s| s.ty) != Some(FieldType::Photos) {
            return Err(Error::Invalid(format!(
                "a {} takes no photos at '{path}'",
                doc.kind()
            )));
        }
        // Decoding and encoding take a moment on a phone: off the async threads.
        let (bytes, options_copy) = (image.to_vec(), *options);
        let prepared = tokio::task::spawn_blocking(move || {
            crate::photo::prepare(&bytes, &options_copy, crate::model::rules::COMPANY_ZONE)
        })
        .await
        .map_err(|e| Error::Internal(format!("preparing the photo failed: {e}")))??;
        let jpeg = prepared.jpeg;
        let mut entry = PhotoEntry {
            sha256: sha256_hex(&jpeg),
            bytes: jpeg.len() as i64,
            mime: "image/jpeg".into(),
            caption: caption.trim().to_string(),
            by: String::new(),
            taken_at: prepared.taken_at.unwrap_or(unix_time),
        };
        let before = doc.heads();
        doc.add_photo(author, path, &entry, unix_time)?;
        let mut tx = self.pool.begin().await?;
        let waiting: i64 =
            sqlx::query("SELECT COALESCE(SUM(LENGTH(bytes)), 0) FROM blobs WHERE uploaded = 0")
                .fetch_one(&mut *tx)
                .await?
                .get(0);
        let after = waiting as u64 + jpeg.len() as u64;
        if after > options.waiting_quota_bytes {
            return Err(Error::QuotaFull(format!(
                "photos and signatures waiting for upload hold {:.1} MB, and this photo would pass the phone's {:.0} MB; sync to upload them, then add it",
                waiting as f64 / 1_048_576.0,
                options.waiting_quota_bytes as f64 / 1_048_576.0
            )));
        }
        Self::insert_blob(&mut tx, &jpeg, "image/jpeg").await?;
        Self::append_in(&mut tx, &doc, &before, true).await?;
        tx.commit().await?;
        entry.by = doc.automerge().get_actor().to_hex_string();
        Ok(entry)
    }

    /// Stores what `doc` has beyond `before` as one chunk; `dirty` puts it in the outbox.
    async fn append(&self, doc: &RecordDoc, before: &[ChangeHash], dirty: bool) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        Self::append_in(&mut tx, doc, before, dirty).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn append_in(
        conn: &mut SqliteConnection,
        doc: &RecordDoc,
        before: &[ChangeHash],
        dirty: bool,
    ) -> Result<()> {
        let bytes = doc.automerge().save_after(before);
        if bytes.is_empty() {
            return Ok(());
        }
        if dirty {
            Self::insert_unsent(conn, doc.id(), &doc.automerge().get_changes(before)).await?;
        }
        let id = doc.id().to_string();
        sqlx::query("INSERT INTO chunks (doc_id, bytes) VALUES ($1, $2)")
            .bind(&id)
            .bind(bytes)
            .execute(&mut *conn)
            .await?;
        sqlx::query("UPDATE documents SET heads = $1, dirty = MAX(dirty, $2) WHERE id = $3")
            .bind(sorted_text(&doc.heads()))
            .bind(i64::from(dirty))
            .bind(&id)
            .execute(&mut *conn)
            .await?;
        let count: i64 = sqlx::query("SELECT COUNT(*) FROM chunks WHERE doc_id = $1")
            .bind(&id)
            .fetch_one(&mut *conn)
            .await?
            .get(0);
        if count >= COMPACT_AFTER_CHUNKS {
            sqlx::query("UPDATE documents SET snapshot = $1 WHERE id = $2")
                .bind(doc.automerge().save())
                .bind(&id)
                .execute(&mut *conn)
                .await?;
            sqlx::query("DELETE FROM chunks WHERE doc_id = $1")
                .bind(&id)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// Ids of all records on the device, optionally of one kind.
    pub async fn list(&self, kind: Option<DocKind>) -> Result<Vec<Uuid>> {
        let rows =
            sqlx::query("SELECT id FROM documents WHERE ($1 IS NULL OR kind = $1) ORDER BY id")
                .bind(kind.map(|k| k.code()))
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .iter()
            .filter_map(|r| Uuid::parse_str(&r.get::<String, _>(0)).ok())
            .collect())
    }

    /// The outbox: documents with changes the server has not acknowledged, quarantined ones left out.
    pub async fn pending(&self) -> Result<Vec<Pending>> {
        let rows = sqlx::query("SELECT id, synced_heads FROM documents WHERE dirty = 1 AND refusal IS NULL ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let id = Uuid::parse_str(&r.get::<String, _>(0)).ok()?;
                Some(Pending {
                    id,
                    synced_heads: heads_from_text(&r.get::<String, _>(1)),
                })
            })
            .collect())
    }

    /// The outbox with its unsent changes, read without loading any document. A document in the
    /// outbox with nothing unsent (the server has changes the device lacks) goes with its heads
    /// only, which asks for them.
    pub async fn outbox(&self) -> Result<Vec<Outgoing>> {
        let rows = sqlx::query(
            "SELECT d.id, d.heads, u.hash, u.bytes FROM documents d LEFT JOIN unsent u ON u.doc_id = d.id
             WHERE d.dirty = 1 AND d.refusal IS NULL ORDER BY d.id, u.seq",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<Outgoing> = Vec::new();
        for r in rows {
            let Ok(id) = Uuid::parse_str(&r.get::<String, _>(0)) else {
                continue;
            };
            if out.last().map(|o| o.id) != Some(id) {
                out.push(Outgoing {
                    id,
                    heads: heads_from_text(&r.get::<String, _>(1)),
                    changes: Vec::new(),
                });
            }
            if let Some(hash) = r.get::<Option<String>, _>(2) {
                let hash =
                    ChangeHash::from_str(&hash).map_err(|e| Error::Storage(e.to_string()))?;
                if let Some(o) = out.last_mut() {
                    o.changes.push((hash, r.get::<Vec<u8>, _>(3)));
                }
            }
        }
        Ok(out)
    }

    /// The device's own heads of each of `ids` it holds, read from the documents' rows: no
    /// document is loaded (a feed of thousands of records is compared this way).
    pub async fn heads_many(
        &self,
        ids: &[Uuid],
    ) -> Result<std::collections::HashMap<Uuid, Vec<ChangeHash>>> {
        let mut out = std::collections::HashMap::with_capacity(ids.len());
        let mut conn = self.pool.acquire().await?;
        for chunk in ids.chunks(500) {
            let marks = placeholders(chunk.len());
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT id, heads FROM documents WHERE id IN ({marks})"
            ));
            let mut q = sqlx::query(sql);
            for id in chunk {
                q = q.bind(id.to_string());
            }
            for row in q.fetch_all(&mut *conn).await? {
                let id: String = row.get(0);
                let id = Uuid::parse_str(&id).map_err(|e| Error::Storage(e.to_string()))?;
                out.insert(id, heads_from_text(&row.get::<String, _>(1)));
            }
        }
        Ok(out)
    }

    /// The server heads last acknowledged for a document (empty if never synced or unknown).
    pub async fn synced_heads(&self, id: Uuid) -> Result<Vec<ChangeHash>> {
        let row = sqlx::query("SELECT synced_heads FROM documents WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|r| heads_from_text(&r.get::<String, _>(0)))
            .unwrap_or_default())
    }

    /// Takes in what the server sent for one document; see [`apply_server_batch`](Self::apply_server_batch).
    pub async fn apply_server(
        &self,
        id: Uuid,
        kind: Option<DocKind>,
        changes: Vec<Change>,
        heads: &[ChangeHash],
    ) -> Result<()> {
        self.apply_server_batch(vec![ServerUpdate {
            id,
            kind,
            changes,
            heads: heads.to_vec(),
            acknowledged: Vec::new(),
        }])
        .await
    }

    /// Takes in what the server sent for a batch of documents, in one transaction, and records
    /// the server's heads. A document leaves the outbox only if the device has nothing the
    /// server lacks (an edit made while the sync was under way keeps it in).
    pub async fn apply_server_batch(&self, updates: Vec<ServerUpdate>) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        // Acknowledgements without new changes (the usual answer to an upload) are recorded
        // together: one statement per few hundred documents.
        let acknowledged: Vec<String> = updates
            .iter()
            .flat_map(|u| u.acknowledged.iter().map(|h| h.to_string()))
            .collect();
        for chunk in acknowledged.chunks(300) {
            let sql = sqlx::AssertSqlSafe(format!(
                "DELETE FROM unsent WHERE hash IN ({})",
                (1..=chunk.len())
                    .map(|i| format!("${i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            let mut q = sqlx::query(sql);
            for h in chunk {
                q = q.bind(h);
            }
            q.execute(&mut *tx).await?;
        }
        let (acks, full): (Vec<ServerUpdate>, Vec<ServerUpdate>) =
            updates.into_iter().partition(|u| u.changes.is_empty());
        for chunk in acks.chunks(300) {
            let rows = (0..chunk.len())
                .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = sqlx::AssertSqlSafe(format!(
                "WITH ack(id, server_heads) AS (VALUES {rows})
                 UPDATE documents SET synced_heads = ack.server_heads,
                     dirty = CASE WHEN documents.heads = ack.server_heads THEN 0 ELSE 1 END
                 FROM ack WHERE documents.id = ack.id"
            ));
            let mut q = sqlx::query(sql);
            for u in chunk {
                q = q.bind(u.id.to_string()).bind(sorted_text(&u.heads));
            }
            q.execute(&mut *tx).await?;
        }
        for update in full {
            self.apply_one(&mut tx, update).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn apply_one(&self, conn: &mut SqliteConnection, update: ServerUpdate) -> Result<()> {
        let id_text = update.id.to_string();
        let server_text = sorted_text(&update.heads);
        let local: Option<String> = sqlx::query("SELECT heads FROM documents WHERE id = $1")
            .bind(&id_text)
            .fetch_optional(&mut *conn)
            .await?
            .map(|r| r.get(0));
        match local {
            // Nothing new from the server: only the acknowledgement to record.
            Some(local_heads) if update.changes.is_empty() => {
                sqlx::query("UPDATE documents SET synced_heads = $1, dirty = $2 WHERE id = $3")
                    .bind(&server_text)
                    .bind(i64::from(local_heads != server_text))
                    .bind(&id_text)
                    .execute(&mut *conn)
                    .await?;
            }
            Some(_) => {
                let mut doc = self
                    .load_in(conn, update.id)
                    .await?
                    .ok_or_else(|| Error::NotFound(id_text.clone()))?;
                let before = doc.heads();
                // Changes of this device's own actor that reach the store this way (an older
                // copy restored, an app writing past the model) are sent on like any local
                // change: the server takes what it lacks and checks it.
                let own: Vec<Change> = update
                    .changes
                    .iter()
                    .filter(|c| c.actor_id() == &self.actor)
                    .cloned()
                    .collect();
                doc.automerge_mut()
                    .apply_changes(update.changes)
                    .map_err(|e| Error::Storage(e.to_string()))?;
                Self::insert_unsent(conn, update.id, &own).await?;
                Self::append_in(conn, &doc, &before, false).await?;
                sqlx::query("UPDATE documents SET synced_heads = $1, dirty = $2 WHERE id = $3")
                    .bind(&server_text)
                    .bind(i64::from(sorted_text(&doc.heads()) != server_text))
                    .bind(&id_text)
                    .execute(&mut *conn)
                    .await?;
            }
            // A document new to this device: store it whole.
            None => {
                if update.changes.is_empty() {
                    return Ok(());
                }
                // Kept as the changes arrived (Automerge loads a run of change chunks like a
                // snapshot): an office pulling thousands of records does not build each one
                // now, only the ones it opens. The heads are the changes nobody depends on.
                let hashes: std::collections::HashSet<ChangeHash> =
                    update.changes.iter().map(|c| c.hash()).collect();
                let deps: std::collections::HashSet<ChangeHash> = update
                    .changes
                    .iter()
                    .flat_map(|c| c.deps().iter().copied())
                    .collect();
                if let Some(kind) = update.kind
                    && deps.is_subset(&hashes)
                {
                    let heads: Vec<ChangeHash> = hashes.difference(&deps).copied().collect();
                    let local_text = sorted_text(&heads);
                    let snapshot: Vec<u8> = update
                        .changes
                        .iter()
                        .flat_map(|c| c.raw_bytes().iter().copied())
                        .collect();
                    sqlx::query(
                        "INSERT INTO documents (id, kind, snapshot, heads, synced_heads, dirty, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, 0)",
                    )
                    .bind(&id_text)
                    .bind(kind.code())
                    .bind(snapshot)
                    .bind(&local_text)
                    .bind(&server_text)
                    .bind(i64::from(local_text != server_text))
                    .execute(&mut *conn)
                    .await?;
                    return Ok(());
                }
                let mut am = Automerge::new().with_actor(self.actor.clone());
                am.apply_changes(update.changes)
                    .map_err(|e| Error::Storage(e.to_string()))?;
                let doc = RecordDoc::from_automerge(am)?;
                let local_text = sorted_text(&doc.heads());
                sqlx::query(
                    "INSERT INTO documents (id, kind, snapshot, heads, synced_heads, dirty, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, 0)",
                )
                .bind(&id_text)
                .bind(update.kind.unwrap_or(doc.kind()).code())
                .bind(doc.automerge().save())
                .bind(&local_text)
                .bind(&server_text)
                .bind(i64::from(local_text != server_text))
                .execute(&mut *conn)
                .await?;
            }
        }
        Ok(())
    }

    /// Marks a document as refused by the server. Its data stays readable on the device.
    pub async fn quarantine(&self, id: Uuid, refusal: &Refusal) -> Result<()> {
        let json = serde_json::to_string(refusal).map_err(|e| Error::Storage(e.to_string()))?;
        sqlx::query("UPDATE documents SET refusal = $1 WHERE id = $2")
            .bind(json)
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Documents the server refused, with its reasons.
    pub async fn quarantined(&self) -> Result<Vec<Quarantined>> {
        let rows = sqlx::query(
            "SELECT id, kind, refusal FROM documents WHERE refusal IS NOT NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let id = Uuid::parse_str(&r.get::<String, _>(0))
                .map_err(|e| Error::Storage(e.to_string()))?;
            let kind = DocKind::from_str(&r.get::<String, _>(1)).map_err(Error::Storage)?;
            let refusal: Refusal = serde_json::from_str(&r.get::<String, _>(2))
                .map_err(|e| Error::Storage(e.to_string()))?;
            out.push(Quarantined { id, kind, refusal });
        }
        Ok(out)
    }

    /// Replaces a quarantined document with the server's version plus the user's edits that the
    /// field table allows, made anew as fresh changes. Nothing the user typed is dropped silently:
    /// the edits that cannot be re-applied are returned.
    pub async fn rebuild_from_server(
        &self,
        id: Uuid,
        server_changes: Vec<Change>,
        server_heads: &[ChangeHash],
        author: Author,
        unix_time: i64,
    ) -> Result<Vec<(String, FieldValue)>> {
        // Read and replaced in one transaction: an edit cannot slip in between and be lost.
        let mut tx = self.pool.begin().await?;
        let local = self
            .load_in(&mut tx, id)
            .await?
            .ok_or_else(|| Error::NotFound(id.to_string()))?;
        let mut server = Automerge::new().with_actor(self.actor.clone());
        server
            .apply_changes(server_changes)
            .map_err(|e| Error::Storage(e.to_string()))?;
        let mut rebuilt = if server.get_heads().is_empty() {
            RecordDoc::create(
                local.kind(),
                id,
                local.region(),
                self.actor.clone(),
                unix_time,
            )?
        } else {
            RecordDoc::from_automerge(server)?
        };
        let mut kept = Vec::new();
        let mut lost = Vec::new();
        for (path, value) in local.values() {
            if rebuilt.get(path).as_ref() == Some(&value) {
                continue;
            }
            if rebuilt.check(author, &[(path, value.clone())]).is_ok() {
                kept.push((path, value));
            } else {
                lost.push((path.to_string(), value));
            }
        }
        if !kept.is_empty() {
            rebuilt.set_many(author, &kept, unix_time)?;
        }
        let dirty = rebuilt.heads() != server_heads;
        sqlx::query("DELETE FROM chunks WHERE doc_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        // The refused changes are never sent again; the rebuilt document's own are.
        sqlx::query("DELETE FROM unsent WHERE doc_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        Self::insert_unsent(&mut tx, id, &rebuilt.automerge().get_changes(server_heads)).await?;
        sqlx::query(
            "UPDATE documents SET snapshot = $1, heads = $5, synced_heads = $2, dirty = $3, refusal = NULL WHERE id = $4",
        )
            .bind(rebuilt.automerge().save())
            .bind(heads_to_text(server_heads))
            .bind(i64::from(dirty))
            .bind(id.to_string())
            .bind(sorted_text(&rebuilt.heads()))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(lost)
    }

    /// Stores a blob by its SHA-256 and queues it for upload. Storing the same bytes twice is harmless.
    pub async fn put_blob(&self, bytes: &[u8], mime: &str) -> Result<String> {
        let mut conn = self.pool.acquire().await?;
        Self::insert_blob(&mut conn, bytes, mime).await
    }

    async fn insert_blob(conn: &mut SqliteConnection, bytes: &[u8], mime: &str) -> Result<String> {
        if bytes.is_empty() {
            return Err(Error::Invalid("an empty image cannot be stored".into()));
        }
        if bytes.len() > crate::wire::MAX_BLOB_BYTES {
            return Err(Error::Invalid(format!(
                "the image is {} bytes, more than the {} allowed",
                bytes.len(),
                crate::wire::MAX_BLOB_BYTES
            )));
        }
        let sha = sha256_hex(bytes);
        sqlx::query("INSERT INTO blobs (sha256, mime, bytes) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING")
            .bind(&sha)
            .bind(mime)
            .bind(bytes)
            .execute(&mut *conn)
            .await?;
        Ok(sha)
    }

    pub async fn blob(&self, sha256: &str) -> Result<Option<Blob>> {
        let row = sqlx::query("SELECT sha256, mime, bytes FROM blobs WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| Blob {
            sha256: r.get(0),
            mime: r.get(1),
            bytes: r.get(2),
        }))
    }

    /// Blobs not yet uploaded, with their sizes in bytes.
    pub async fn pending_blob_sizes(&self) -> Result<Vec<(String, u64)>> {
        let rows = sqlx::query(
            "SELECT sha256, LENGTH(bytes) FROM blobs WHERE uploaded = 0 ORDER BY sha256",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1).max(0) as u64))
            .collect())
    }

    pub async fn mark_blob_uploaded(&self, sha256: &str) -> Result<()> {
        sqlx::query("UPDATE blobs SET uploaded = 1 WHERE sha256 = $1")
            .bind(sha256)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Something the app should show the technician: a job newly dispatched to them, or a product
/// taken back that the office has repaired and put in stock, ready to return (§2.6). Both
/// arrive through the feed; an alert stays until the app acknowledges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneAlert {
    /// Names the alert for good (`dispatch:<visit>:<technician>` or `handback:<receipt>`).
    pub key: String,
    /// `dispatch` or `handback`.
    pub kind: String,
    pub record_id: Uuid,
    /// What to show, in Chinese.
    pub text: String,
    /// A next-day priority job (§2.8).
    pub priority: bool,
}

const ACKED_ALERTS: &str = "acked_alerts";

impl Store {
    /// The alerts for the technician `me` that the app has not acknowledged, newest records
    /// last.
    pub async fn alerts(&self, me: Uuid) -> Result<Vec<PhoneAlert>> {
        let acked = self.acked_alerts().await?;
        let mut out = Vec::new();
        for kind in [DocKind::Visit, DocKind::Receipt] {
            let ids = self.list(Some(kind)).await?;
            for doc in self.load_many(&ids).await? {
                let text = |path: &str| {
                    doc.get(path)
                        .and_then(|v| v.as_text().map(str::to_string))
                        .unwrap_or_default()
                };
                let alert = match kind {
                    DocKind::Visit if text("dispatch.technician") == me.to_string() => {
                        let priority = text("dispatch.priority") == "priority";
                        Some(PhoneAlert {
                            key: format!("dispatch:{}:{me}", doc.id()),
                            kind: "dispatch".into(),
                            record_id: doc.id(),
                            text: format!(
                                "{}新派工:{} {}",
                                if priority { "【优先】" } else { "" },
                                text("request.customer_name"),
                                text("request.product_model")
                            ),
                            priority,
                        })
                    }
                    DocKind::Receipt
                        if text("custody.location") == "in_stock"
                            && text("handback.signer_name").is_empty() =>
                    {
                        Some(PhoneAlert {
                            key: format!("handback:{}", doc.id()),
                            kind: "handback".into(),
                            record_id: doc.id(),
                            text: format!(
                                "收据 {} 的产品已修好入库,可交还客户并请客户签收",
                                text("receipt.number")
                            ),
                            priority: false,
                        })
                    }
                    _ => None,
                };
                if let Some(a) = alert.filter(|a| !acked.contains(&a.key)) {
                    out.push(a);
                }
            }
        }
        Ok(out)
    }

    /// Marks an alert seen; it is not listed again. An unknown key is refused.
    pub async fn ack_alert(&self, me: Uuid, key: &str) -> Result<()> {
        if !self.alerts(me).await?.iter().any(|a| a.key == key) {
            return Err(Error::Invalid(format!("there is no open alert '{key}'")));
        }
        let mut acked = self.acked_alerts().await?;
        acked.push(key.to_string());
        let json = serde_json::to_string(&acked).map_err(|e| Error::Storage(e.to_string()))?;
        self.meta_set(ACKED_ALERTS, &json).await
    }

    async fn acked_alerts(&self) -> Result<Vec<String>> {
        match self.meta_get(ACKED_ALERTS).await? {
            Some(json) => serde_json::from_str(&json).map_err(|e| Error::Storage(e.to_string())),
            None => Ok(Vec::new()),
        }
    }
}
