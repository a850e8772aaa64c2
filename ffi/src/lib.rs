//! The phone SDK: what a technician's or clerk's app calls, through UniFFI, for Kotlin, Swift
//! and Python. It adapts types and errors only; every rule lives in client-core.

use fieldloop_client_core::clock::device_now;
use std::str::FromStr;
use std::sync::Arc;

use fieldloop_client_core::Error as CoreError;
use fieldloop_client_core::model::money::parse_yuan;
use fieldloop_client_core::model::{DocKind, FieldValue, RecordDoc, fields};
use fieldloop_client_core::photo::PhotoOptions;
use fieldloop_client_core::store::Store;
use fieldloop_client_core::sync::{Progress, SyncClient, SyncOptions, check_connection};
use fieldloop_client_core::wire::ErrorCode;
use uuid::Uuid;

uniffi::setup_scaffolding!();

/// Every error the SDK returns. `Offline` and `ServerBusy` may succeed if tried again later;
/// the others will not until something changes (sign in again, fix the input).
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum FieldloopError {
    /// No connection, or it broke. Retry later; nothing was lost.
    #[error("offline: {reason}")]
    Offline { reason: String },
    /// The server is overloaded or failing. Retry later.
    #[error("server busy: {reason}")]
    ServerBusy { reason: String },
    /// Wrong credentials, or the session expired or was revoked: sign in again.
    #[error("not signed in ({code}): {reason}")]
    Unauthorized { code: String, reason: String },
    /// The server refused the request; retrying will not help.
    #[error("refused ({code}): {reason}")]
    Refused { code: String, reason: String },
    /// What was entered does not fit (money, dates, missing signature...).
    #[error("invalid input: {reason}")]
    InvalidInput { reason: String },
    #[error("not found: {reason}")]
    NotFound { reason: String },
    /// The phone's storage failed (full, damaged).
    #[error("storage: {reason}")]
    Storage { reason: String },
    /// The space for photos waiting for upload is full: sync, then add the photo again.
    #[error("photo space full: {reason}")]
    QuotaFull { reason: String },
    /// A fault inside the SDK itself (not the phone's storage, not the network): report it.
    #[error("internal: {reason}")]
    Internal { reason: String },
}

impl From<CoreError> for FieldloopError {
    fn from(e: CoreError) -> Self {
        let reason = e.to_string();
        match e {
            CoreError::Offline(_) => FieldloopError::Offline { reason },
            CoreError::ServerBusy { .. } => FieldloopError::ServerBusy { reason },
            CoreError::Unauthorized { code, .. } => FieldloopError::Unauthorized { code, reason },
            CoreError::Refused { code, .. } => FieldloopError::Refused { code, reason },
            CoreError::DocumentRefused(r) => FieldloopError::Refused {
                code: r.code.as_str().into(),
                reason,
            },
            CoreError::Invalid(_) => FieldloopError::InvalidInput { reason },
            CoreError::NotFound(_) => FieldloopError::NotFound { reason },
            CoreError::Storage(_) => FieldloopError::Storage { reason },
            CoreError::QuotaFull(_) => FieldloopError::QuotaFull { reason },
            CoreError::Internal(_) => FieldloopError::Internal { reason },
        }
    }
}

/// Every code the server sends (`wire::ErrorCode`), so an app can switch on what went wrong
/// instead of comparing strings. [`error_code`] reads it from an error.
#[uniffi::remote(Enum)]
pub enum ErrorCode {
    InvalidInput,
    MalformedBody,
    BodyTooLarge,
    NoRoute,
    MissingToken,
    InvalidToken,
    TokenExpired,
    BadCredentials,
    AccountDisabled,
    InvalidRefreshToken,
    RefreshTokenExpired,
    RefreshTokenReplayed,
    RefreshTokenRevoked,
    SessionRevoked,
    DeviceRevoked,
    Forbidden,
    NotFound,
    UsernameTaken,
    ActorTaken,
    Stale,
    HashMismatch,
    QuotaExceeded,
    InternalRecord,
    CaseClosed,
    AlreadyNumbered,
    NotAccepted,
    WrongDepartment,
    WrongStep,
    AboveAuthority,
    NotReady,
    NotClosed,
    ComplaintNotValid,
    NoApprovedReturn,
    AlreadyOpened,
    AlreadyDone,
    AlreadyConfirmed,
    QuantityMismatch,
    AmountMismatch,
    AlreadyDispatched,
    OutOfWarranty,
    MissingCategory,
    NoFee,
    AlreadyLogged,
    AlreadyArchived,
    WrongRole,
    WrongState,
    AlreadyVoided,
    CampaignClosed,
    FeedbackClosed,
    AlreadyLinked,
    ChangedMeanwhile,
    TooManyAttempts,
    Busy,
    Internal,
    Unknown,
}

/// The server's code of a refused or unauthorised call; `Unknown` for the SDK's own errors
/// (offline, storage, input checked on the phone) and for codes newer than this SDK.
#[uniffi::export]
pub fn error_code(error: &FieldloopError) -> ErrorCode {
    match error {
        FieldloopError::Refused { code, .. } | FieldloopError::Unauthorized { code, .. } => {
            ErrorCode::parse(code)
        }
        _ => ErrorCode::Unknown,
    }
}

/// Can trying the same call again later help?
#[uniffi::export]
pub fn is_retryable(error: &FieldloopError) -> bool {
    matches!(
        error,
        FieldloopError::Offline { .. } | FieldloopError::ServerBusy { .. }
    )
}

type Result<T> = std::result::Result<T, FieldloopError>;

fn invalid(reason: impl Into<String>) -> FieldloopError {
    FieldloopError::InvalidInput {
        reason: reason.into(),
    }
}

fn parse_id(id: &str) -> Result<Uuid> {
    Uuid::parse_str(id).map_err(|_| invalid(format!("'{id}' is not a record id")))
}

fn now() -> i64 {
    device_now().timestamp()
}

/// The signed-in user.
#[derive(Debug, Clone, uniffi::Record)]
pub struct User {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: String,
    /// Empty for head office.
    pub region: String,
}

/// A value to write into a field: text, or a whole number (counts, money in fen). Money
/// typed by a person goes through `yuan` ("1234.50") and is checked to the fen.
#[derive(Debug, Clone, uniffi::Record)]
pub struct FieldInput {
    pub path: String,
    pub text: Option<String>,
    pub number: Option<i64>,
    pub yuan: Option<String>,
}

/// A field as the app shows it.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Field {
    pub path: String,
    pub label_zh: String,
    pub label_en: String,
    /// Text, or the number written as text.
    pub value: String,
    /// All values written at the same time on different phones, the shown one first; empty
    /// when there is no conflict.
    pub conflicts: Vec<String>,
}

/// A photo of a record, as stored on the phone (resized, without the camera's metadata).
#[derive(Debug, Clone, uniffi::Record)]
pub struct Photo {
    /// The stored JPEG's SHA-256: the photo's name.
    pub sha256: String,
    pub bytes: u64,
    pub caption: String,
    /// When it was taken (unix seconds): the camera's time, else when it was added.
    pub taken_at: i64,
    /// False while it waits on the phone for the next sync.
    pub uploaded: bool,
}

/// One record on the phone.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Record {
    pub id: String,
    /// visit, receipt, complaint or feedback.
    pub kind: String,
    pub region: String,
    pub fields: Vec<Field>,
    pub changed_after_signing: bool,
}

/// Something to show the technician: a new job, or a repaired product ready to return.
#[derive(Debug, Clone, uniffi::Record)]
pub struct PhoneAlert {
    /// Pass to `acknowledge_alert` once shown.
    pub key: String,
    /// `dispatch` or `handback`.
    pub kind: String,
    pub record_id: String,
    /// What to show, in Chinese.
    pub text: String,
    /// A next-day priority job (§2.8).
    pub priority: bool,
}

/// A record the server refused, kept on the phone with the reason.
#[derive(Debug, Clone, uniffi::Record)]
pub struct RefusedRecord {
    pub id: String,
    pub kind: String,
    pub code: String,
    pub path: String,
    pub message: String,
}

/// What a sync did.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SyncSummary {
    pub pushed: u64,
    pub pulled: u64,
    pub blobs_uploaded: u64,
    pub refused: Vec<RefusedRecord>,
}

/// Told how far a sync has come, after each batch.
#[uniffi::export(callback_interface)]
pub trait SyncProgress: Send + Sync {
    fn on_progress(&self, docs_done: u64, docs_total: u64, bytes_done: u64, bytes_total: u64);
}

fn value_text(v: &FieldValue) -> String {
    match v {
        FieldValue::Text(t) => t.clone(),
        FieldValue::Int(n) => n.to_string(),
    }
}

fn to_record(doc: &RecordDoc) -> Record {
    let fields = doc
        .values()
        .into_iter()
        .map(|(path, value)| {
            let spec = fields::spec(doc.kind(), path);
            let all = doc.get_all(path);
            Field {
                path: path.to_string(),
                label_zh: spec.map(|s| s.label_zh).unwrap_or_default().to_string(),
                label_en: spec.map(|s| s.label_en).unwrap_or_default().to_string(),
                value: value_text(&value),
                conflicts: if all.len() > 1 {
                    all.iter().map(value_text).collect()
                } else {
                    Vec::new()
                },
            }
        })
        .collect();
    Record {
        id: doc.id().to_string(),
        kind: doc.kind().code().to_string(),
        region: doc.region().to_string(),
        fields,
        changed_after_signing: doc.changed_after_signing(),
    }
}

fn to_writes(inputs: &[FieldInput]) -> Result<Vec<(&str, FieldValue)>> {
    inputs
        .iter()
        .map(|i| {
            let value = match (&i.text, i.number, &i.yuan) {
                (Some(t), None, None) => FieldValue::Text(t.clone()),
                (None, Some(n), None) => FieldValue::Int(n),
                (None, None, Some(y)) => FieldValue::Int(parse_yuan(y).map_err(invalid)?),
                _ => {
                    return Err(invalid(format!(
                        "'{}': give exactly one of text, number or yuan",
                        i.path
                    )));
                }
            };
            Ok((i.path.as_str(), value))
        })
        .collect()
}

/// The SDK's handle: one per store file.
#[derive(uniffi::Object)]
pub struct FieldloopClient {
    client: SyncClient,
    photos: PhotoOptions,
}

/// How the phone reaches its server, beyond the address.
#[derive(Debug, Clone, Default, uniffi::Record)]
pub struct ConnectOptions {
    /// The company's own certificate authorities (PEM), trusted besides the public ones.
    pub extra_roots_pem: Option<String>,
    /// Allow `http://` to a server on another machine (a test network); otherwise only https,
    /// or http to this device itself.
    pub allow_plain_http: bool,
    /// A stored photo's longest side in pixels (320 to 8000; 1600 when not given).
    #[uniffi(default = None)]
    pub photo_longest_side: Option<u32>,
    /// A stored photo's JPEG quality (30 to 100; 80 when not given).
    #[uniffi(default = None)]
    pub photo_quality: Option<u8>,
    /// How many bytes of photos may wait on the phone for upload (200 MiB when not given).
    #[uniffi(default = None)]
    pub photo_waiting_quota_bytes: Option<u64>,
}

/// Opens (or creates) the phone's store at `store_path`, talking to `server_url` (https, or
/// http to this device itself).
#[uniffi::export(async_runtime = "tokio")]
pub async fn open_client(store_path: String, server_url: String) -> Result<Arc<FieldloopClient>> {
    open_client_with(store_path, server_url, ConnectOptions::default()).await
}

/// As [`open_client`], with a company certificate authority or plain http allowed.
#[uniffi::export(async_runtime = "tokio")]
pub async fn open_client_with(
    store_path: String,
    server_url: String,
    options: ConnectOptions,
) -> Result<Arc<FieldloopClient>> {
    let defaults = PhotoOptions::default();
    let photos = PhotoOptions {
        longest_side: options.photo_longest_side.unwrap_or(defaults.longest_side),
        quality: options.photo_quality.unwrap_or(defaults.quality),
        waiting_quota_bytes: options
            .photo_waiting_quota_bytes
            .unwrap_or(defaults.waiting_quota_bytes),
    };
    photos.check()?;
    let sync_options = SyncOptions {
        extra_roots_pem: options.extra_roots_pem,
        allow_plain_http: options.allow_plain_http,
        ..SyncOptions::default()
    };
    // The address and authorities are checked before the store is opened: bad ones create no
    // file.
    check_connection(&server_url, &sync_options)?;
    let store = Store::open(&store_path).await?;
    let client = SyncClient::with_options(&server_url, store, sync_options)?;
    Ok(Arc::new(FieldloopClient { client, photos }))
}

impl FieldloopClient {
    async fn author(&self) -> Result<fieldloop_client_core::model::ownership::Author> {
        Ok(self.client.author().await?)
    }

    async fn my_id(&self) -> Result<uuid::Uuid> {
        Ok(self
            .client
            .user()
            .await?
            .ok_or_else(|| FieldloopError::Unauthorized {
                code: "not_signed_in".into(),
                reason: "sign in first".into(),
            })?
            .id)
    }

    async fn my_region(&self) -> Result<String> {
        let user = self
            .client
            .user()
            .await?
            .ok_or_else(|| FieldloopError::Unauthorized {
                code: "not_signed_in".into(),
                reason: "sign in first".into(),
            })?;
        user.region
            .ok_or_else(|| invalid("head office accounts do not record on a phone"))
    }

    async fn load(&self, id: &str) -> Result<RecordDoc> {
        self.client
            .store()
            .load(parse_id(id)?)
            .await?
            .ok_or_else(|| FieldloopError::NotFound {
                reason: format!("no record {id} on this phone"),
            })
    }

    async fn create(&self, kind: DocKind, fields: Vec<FieldInput>) -> Result<Record> {
        let region = self.my_region().await?;
        let author = self.author().await?;
        let writes = to_writes(&fields)?;
        // One transaction: a refused input leaves nothing behind, a kill no blank record.
        let doc = self
            .client
            .store()
            .create_with(kind, &region, author, &writes, now())
            .await?;
        Ok(to_record(&doc))
    }
}

/// A throwaway actor for checking writes against a blank record before creating the real one.
fn automerge_probe_actor() -> fieldloop_client_core::automerge::ActorId {
    fieldloop_client_core::automerge::ActorId::from([0u8; 16])
}

#[uniffi::export(async_runtime = "tokio")]
impl FieldloopClient {
    /// Signs in; the session is kept in the store.
    pub async fn login(&self, username: String, password: String) -> Result<User> {
        let u = self.client.login(&username, &password).await?;
        Ok(User {
            id: u.id.to_string(),
            username: u.username,
            display_name: u.display_name,
            role: u.role.code().into(),
            region: u.region.unwrap_or_default(),
        })
    }

    /// Registers this phone to the signed-in user (once; later calls return the same id).
    pub async fn register_device(&self, name: String) -> Result<String> {
        Ok(self.client.register_device(&name).await?.to_string())
    }

    /// Records of one kind on the phone ("visit", "receipt", "complaint", "feedback").
    pub async fn list_records(&self, kind: String) -> Result<Vec<Record>> {
        let kind = DocKind::from_str(&kind).map_err(invalid)?;
        let ids = self.client.store().list(Some(kind)).await?;
        let docs = self.client.store().load_many(&ids).await?;
        Ok(docs.iter().map(to_record).collect())
    }

    /// The jobs (service visits) on this phone: the ones dispatched to this technician.
    pub async fn list_jobs(&self) -> Result<Vec<Record>> {
        self.list_records("visit".into()).await
    }

    pub async fn read_record(&self, id: String) -> Result<Record> {
        Ok(to_record(&self.load(&id).await?))
    }

    /// Writes fields (visit form, parts, fees, outcome...) as one change. Nothing is written if
    /// any field is refused.
    pub async fn record_fields(&self, id: String, fields: Vec<FieldInput>) -> Result<Record> {
        let author = self.author().await?;
        let writes = to_writes(&fields)?;
        let doc = self
            .client
            .store()
            .edit(parse_id(&id)?, author, &writes, now())
            .await?;
        Ok(to_record(&doc))
    }

    /// Creates a service visit on the phone: a clerk registering a request (`request.*`), or a
    /// technician recording unplanned work on site (`form.*`); each writes only their own fields.
    pub async fn create_visit(&self, fields: Vec<FieldInput>) -> Result<Record> {
        self.create(DocKind::Visit, fields).await
    }

    /// The customer signs: the image, the signer's name and the phone's time, together with
    /// `completing` (e.g. `form.outcome`), as one change.
    pub async fn capture_signature(
        &self,
        id: String,
        image: Vec<u8>,
        mime: String,
        signer: String,
        completing: Vec<FieldInput>,
    ) -> Result<Record> {
        let author = self.author().await?;
        let sha = self.client.store().put_blob(&image, &mime).await?;
        let writes = to_writes(&completing)?;
        let doc = self
            .client
            .store()
            .sign(parse_id(&id)?, author, &sha, &signer, &writes, now())
            .await?;
        Ok(to_record(&doc))
    }

    /// Issues a take-back receipt (收据) for a visit: a number unique to this phone, the
    /// product's details, and the customer's signature.
    pub async fn issue_receipt(
        &self,
        visit_id: String,
        fields: Vec<FieldInput>,
        signature_image: Vec<u8>,
        mime: String,
        signer: String,
    ) -> Result<Record> {
        parse_id(&visit_id)?;
        let author = self.author().await?;
        let region = self.my_region().await?;
        let writes = to_writes(&fields)?;
        // Checked before the signature image is stored, so bad input leaves nothing behind.
        let probe = RecordDoc::create(
            DocKind::Receipt,
            Uuid::nil(),
            &region,
            automerge_probe_actor(),
            now(),
        )
        .map_err(|e| invalid(e.to_string()))?;
        probe
            .check(author, &writes)
            .map_err(|e| invalid(e.to_string()))?;
        let sha = self
            .client
            .store()
            .put_blob(&signature_image, &mime)
            .await?;
        // The number, the fields and the signature in one transaction.
        let doc = self
            .client
            .store()
            .issue_receipt(
                &region,
                author,
                parse_id(&visit_id)?,
                &writes,
                &sha,
                &signer,
                &device_now().to_rfc3339(),
                now(),
            )
            .await?;
        Ok(to_record(&doc))
    }

    /// The customer signs for the repaired product given back (§2.6 交还客户) on its take-back
    /// receipt, bound to the receipt as signed like the first signature. Refused, changing
    /// nothing, when the product is not back in stock yet, when the customer already signed for
    /// it, or when the image or the name is missing.
    pub async fn capture_handback_signature(
        &self,
        receipt_id: String,
        image: Vec<u8>,
        mime: String,
        signer: String,
    ) -> Result<Record> {
        let author = self.author().await?;
        let doc = self
            .client
            .store()
            .sign_handback(
                parse_id(&receipt_id)?,
                author,
                &image,
                &mime,
                &signer,
                now(),
            )
            .await?;
        Ok(to_record(&doc))
    }

    /// Adds a photo (a JPEG from the camera) to a visit's or a complaint form's evidence, with
    /// a caption. The phone makes it smaller (the client's photo options), keeps the time it
    /// was taken and drops the camera's other metadata (phone model, place); the photo waits
    /// on the phone and is uploaded by the next sync, before the record that shows it. Refused,
    /// changing nothing, for an empty file, one over 30 MB, one that is not a JPEG, a caption
    /// over 200 characters, a record of another kind, and (`QuotaFull`) when the photos
    /// waiting for upload fill their space.
    pub async fn add_photo(
        &self,
        record_id: String,
        image: Vec<u8>,
        caption: String,
    ) -> Result<Photo> {
        let author = self.author().await?;
        let id = parse_id(&record_id)?;
        let store = self.client.store();
        let entry = store
            .add_photo(
                id,
                author,
                "form.photos",
                &image,
                &caption,
                now(),
                &self.photos,
            )
            .await?;
        Ok(Photo {
            sha256: entry.sha256,
            bytes: entry.bytes.max(0) as u64,
            caption: entry.caption,
            taken_at: entry.taken_at,
            uploaded: false,
        })
    }

    /// A record's photos, oldest first, each saying whether it has been uploaded.
    pub async fn photos(&self, record_id: String) -> Result<Vec<Photo>> {
        let doc = self.load(&record_id).await?;
        let waiting: std::collections::HashSet<String> = self
            .client
            .store()
            .pending_blob_sizes()
            .await?
            .into_iter()
            .map(|(sha, _)| sha)
            .collect();
        Ok(doc
            .photos("form.photos")
            .into_iter()
            .map(|p| Photo {
                uploaded: !waiting.contains(&p.sha256),
                sha256: p.sha256,
                bytes: p.bytes.max(0) as u64,
                caption: p.caption,
                taken_at: p.taken_at,
            })
            .collect())
    }

    /// Fills a complaint form (客户投诉处理单) offline; set `form.submitted_at` to send it to quality.
    pub async fn fill_complaint(&self, fields: Vec<FieldInput>) -> Result<Record> {
        self.create(DocKind::Complaint, fields).await
    }

    /// The customer's answer at the end of a visit: a rating of the technician (1-5) and a
    /// comment, for a survey campaign if one is running (its id, or empty).
    pub async fn answer_survey(
        &self,
        visit_id: String,
        rating: u8,
        comment: String,
        campaign_id: String,
    ) -> Result<Record> {
        if !(1..=5).contains(&rating) {
            return Err(invalid(format!("a rating is 1 to 5, not {rating}")));
        }
        let visit = self.load(&visit_id).await?;
        let technician = visit
            .get("dispatch.technician")
            .and_then(|v| v.as_text().map(str::to_string))
            .unwrap_or_default();
        let mut fields = vec![
            FieldInput {
                path: "answer.kind".into(),
                text: Some("rating".into()),
                number: None,
                yuan: None,
            },
            FieldInput {
                path: "answer.visit_id".into(),
                text: Some(visit_id),
                number: None,
                yuan: None,
            },
            FieldInput {
                path: "answer.rating".into(),
                text: Some(rating.to_string()),
                number: None,
                yuan: None,
            },
            FieldInput {
                path: "answer.comment".into(),
                text: Some(comment),
                number: None,
                yuan: None,
            },
            FieldInput {
                path: "answer.answered_at".into(),
                text: Some(device_now().to_rfc3339()),
                number: None,
                yuan: None,
            },
        ];
        if !technician.is_empty() {
            fields.push(FieldInput {
                path: "answer.technician".into(),
                text: Some(technician),
                number: None,
                yuan: None,
            });
        }
        let customer = visit
            .get("request.customer_name")
            .and_then(|v| v.as_text().map(str::to_string))
            .unwrap_or_default();
        if !customer.is_empty() {
            fields.push(FieldInput {
                path: "answer.customer_name".into(),
                text: Some(customer),
                number: None,
                yuan: None,
            });
        }
        let campaign_id = campaign_id.trim();
        if !campaign_id.is_empty() {
            parse_id(campaign_id)?;
            fields.push(FieldInput {
                path: "answer.campaign_id".into(),
                text: Some(campaign_id.to_string()),
                number: None,
                yuan: None,
            });
        }
        self.create(DocKind::Feedback, fields).await
    }

    /// Syncs now: uploads signatures, sends what the phone recorded, receives new jobs.
    pub async fn sync_now(&self, progress: Box<dyn SyncProgress>) -> Result<SyncSummary> {
        let report = self
            .client
            .sync(|p: Progress| {
                progress.on_progress(p.docs_done, p.docs_total, p.bytes_done, p.bytes_total)
            })
            .await?;
        Ok(SyncSummary {
            pushed: report.pushed as u64,
            pulled: report.pulled as u64,
            blobs_uploaded: report.blobs_uploaded as u64,
            refused: report
                .refused
                .into_iter()
                .map(|(id, r)| RefusedRecord {
                    id: id.to_string(),
                    kind: String::new(),
                    code: r.code.as_str().into(),
                    path: r.path,
                    message: r.message,
                })
                .collect(),
        })
    }

    /// What the app should show: jobs newly dispatched to this technician and repaired
    /// products ready to return, as the last sync brought them; each until acknowledged.
    pub async fn alerts(&self) -> Result<Vec<PhoneAlert>> {
        let me = self.my_id().await?;
        Ok(self
            .client
            .store()
            .alerts(me)
            .await?
            .into_iter()
            .map(|a| PhoneAlert {
                key: a.key,
                kind: a.kind,
                record_id: a.record_id.to_string(),
                text: a.text,
                priority: a.priority,
            })
            .collect())
    }

    /// Marks an alert shown; it is not listed again. A key that is not an open alert is
    /// refused.
    pub async fn acknowledge_alert(&self, key: String) -> Result<()> {
        let me = self.my_id().await?;
        Ok(self.client.store().ack_alert(me, &key).await?)
    }

    /// Records the server refused, with its reasons; their data stays readable.
    pub async fn refused_records(&self) -> Result<Vec<RefusedRecord>> {
        Ok(self
            .client
            .store()
            .quarantined()
            .await?
            .into_iter()
            .map(|q| RefusedRecord {
                id: q.id.to_string(),
                kind: q.kind.code().into(),
                code: q.refusal.code.as_str().into(),
                path: q.refusal.path,
                message: q.refusal.message,
            })
            .collect())
    }

    /// Takes the server's version of a refused record and re-applies the user's permitted
    /// edits; returns the paths of edits that could not be kept.
    pub async fn recover_refused(&self, id: String) -> Result<Vec<String>> {
        let lost = self.client.recover(parse_id(&id)?).await?;
        Ok(lost.into_iter().map(|(path, _)| path).collect())
    }

    /// Closes the store (the app going away). Reopen with `open_client`.
    /// Closes the phone's store: call before the app lets go of the client. (Named so that it
    /// does not collide with Kotlin's `AutoCloseable.close`, which frees the object itself.)
    pub async fn shutdown(&self) {
        self.client.store().close().await;
    }
}

/// The Rust amount text for fen ("1234.50"), for display.
#[uniffi::export]
pub fn fen_to_yuan_text(fen: i64) -> String {
    fieldloop_client_core::model::money::fen_to_yuan(fen).to_string()
}
