//! The sync engine: signs in, registers the device, uploads blobs before the changes that
//! reference them, pulls the feed, and exchanges changes in batches. Each acknowledged batch is
//! stored before the next is sent, so a sync cut at any point resumes where it stopped and
//! re-sending is harmless (changes are content addressed).

use std::io::Write as _;
use std::str::FromStr;
use std::time::Duration;

use automerge::{Change, ChangeHash};
use flate2::Compression;
use flate2::write::GzEncoder;
use reqwest::StatusCode;
use uuid::Uuid;

use crate::model::ownership::Author;
use crate::model::{DocKind, Refusal};
use crate::store::{ServerUpdate, Store, heads_from_text};
use crate::wire::{
    Bytes, DeviceInfo, DocPush, ErrorBody, FeedPage, LoginRequest, RefreshRequest, RegisterDevice,
    SyncRequest, SyncResponse, TokenPair, UserInfo, Verdict,
};
use crate::{Error, Result};

/// How far a sync has come; reported after every batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub docs_done: u64,
    pub docs_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
}

/// What a sync did.
#[derive(Debug, Clone, Default)]
pub struct SyncReport {
    pub pushed: usize,
    pub pulled: usize,
    pub blobs_uploaded: usize,
    pub refused: Vec<(Uuid, Refusal)>,
}

/// Tuning for a sync client.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Documents per request.
    pub batch_docs: usize,
    /// Requests sent ahead of the answer being stored. Three keep a batch at each stage at
    /// once: the server deciding one, writing another, and this device storing a third.
    pub in_flight: usize,
    /// Attempts per request when the network or server fails.
    pub attempts: u32,
    /// First back-off delay; doubled after each failed attempt.
    pub backoff: Duration,
    pub timeout: Duration,
    /// More certificate authorities to trust, PEM (a company's own CA), besides the bundled
    /// public ones.
    pub extra_roots_pem: Option<String>,
    /// Allow `http://` to a server that is not on this machine. Off: a phone never sends its
    /// password, tokens or customers' signatures in the clear over a network.
    pub allow_plain_http: bool,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            batch_docs: 150,
            in_flight: 3,
            attempts: 4,
            backoff: Duration::from_millis(200),
            timeout: Duration::from_secs(60),
            extra_roots_pem: None,
            allow_plain_http: false,
        }
    }
}

/// Talks to one server on behalf of one device store.
#[derive(Debug, Clone)]
pub struct SyncClient {
    http: reqwest::Client,
    base: String,
    store: Store,
    options: SyncOptions,
    /// Held while a refresh token is traded: requests in flight together that all find their
    /// access token expired refresh once (a second trade of the same refresh token would be a
    /// replay, which revokes the sign-in).
    refreshing: std::sync::Arc<tokio::sync::Mutex<()>>,
}

fn parse_heads(heads: &[String]) -> Result<Vec<ChangeHash>> {
    heads
        .iter()
        .map(|h| {
            ChangeHash::from_str(h).map_err(|e| Error::Refused {
                code: "bad_heads".into(),
                message: e.to_string(),
            })
        })
        .collect()
}

fn parse_changes(changes: Vec<Bytes>) -> Result<Vec<Change>> {
    changes
        .into_iter()
        .map(|b| {
            Change::from_bytes(b.0).map_err(|e| Error::Refused {
                code: "bad_change".into(),
                message: e.to_string(),
            })
        })
        .collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::with_capacity(bytes.len() / 3), Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

/// Installs rustls' ring provider for this process (the first call; later ones do nothing).
/// Every reqwest client of a process that links client-core is built after it.
pub fn install_tls_provider() {
    // Err means a provider is installed already, which is all that is needed.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Checks what a client is given before anything is stored or sent: the server address (see
/// [`check_server_url`]) and the company's certificate authorities, returned parsed.
pub fn check_connection(url: &str, options: &SyncOptions) -> Result<Vec<reqwest::Certificate>> {
    check_server_url(url, options.allow_plain_http)?;
    match &options.extra_roots_pem {
        None => Ok(Vec::new()),
        Some(pem) => reqwest::Certificate::from_pem_bundle(pem.as_bytes())
            .ok()
            .filter(|certs| !certs.is_empty())
            .ok_or_else(|| {
                Error::Invalid("the extra certificate authorities are not PEM certificates".into())
            }),
    }
}

/// A server URL a device may use: http or https with a host; plain http only to this machine
/// (loopback), unless `allow_plain_http`.
pub fn check_server_url(url: &str, allow_plain_http: bool) -> Result<()> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| Error::Invalid(format!("'{url}' is not a server address: {e}")))?;
    let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
        return Err(Error::Invalid(format!("'{url}' names no server")));
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback || allow_plain_http => Ok(()),
        "http" => Err(Error::Invalid(format!(
            "'{url}' is plain http to another machine: use https, so that passwords and signatures are not sent in the clear"
        ))),
        other => Err(Error::Invalid(format!(
            "'{url}': a server is reached over https (or http), not {other}"
        ))),
    }
}

/// Sync requests sent ahead, oldest first; any still running when a sync ends early (an error,
/// or the caller dropping it) are stopped.
#[derive(Default)]
struct InFlight(std::collections::VecDeque<tokio::task::JoinHandle<Result<SyncResponse>>>);

impl Drop for InFlight {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

impl SyncClient {
    pub fn new(base_url: &str, store: Store) -> Result<Self> {
        Self::with_options(base_url, store, SyncOptions::default())
    }

    /// A client for the server at `base_url` (`https://...`, or `http://` to this machine or
    /// with [`SyncOptions::allow_plain_http`]). A URL it cannot use is refused here, before
    /// anything is sent.
    pub fn with_options(base_url: &str, store: Store, options: SyncOptions) -> Result<Self> {
        let extra = check_connection(base_url, &options)?;
        install_tls_provider();
        let mut roots: Vec<reqwest::Certificate> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .filter_map(|der| reqwest::Certificate::from_der(der).ok())
            .collect();
        roots.extend(extra);
        // The bundled roots (and the company's own), not the platform's verifier: that one needs
        // setting up from Kotlin on Android, and the same trust on every phone is easier to
        // reason about. A redirect is followed only to https, so a password is never re-sent in
        // the clear.
        let http = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(Duration::from_secs(10))
            .tls_certs_only(roots)
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                if attempt.url().scheme() == "https" && attempt.previous().len() < 5 {
                    attempt.follow()
                } else {
                    attempt.stop()
                }
            }))
            .build()
            .map_err(|e| Error::Internal(format!("the HTTP client cannot be built: {e}")))?;
        Ok(SyncClient {
            http,
            base: base_url.trim_end_matches('/').to_string(),
            store,
            options,
            refreshing: std::sync::Arc::default(),
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The signed-in user, as the server described them at login.
    pub async fn user(&self) -> Result<Option<UserInfo>> {
        match self.store.meta_get("user").await? {
            Some(json) => Ok(Some(
                serde_json::from_str(&json).map_err(|e| Error::Storage(e.to_string()))?,
            )),
            None => Ok(None),
        }
    }

    /// The author to write as: the signed-in user's role.
    pub async fn author(&self) -> Result<Author> {
        let user = self.user().await?.ok_or_else(|| Error::Unauthorized {
            code: "not_signed_in".into(),
            message: "sign in first".into(),
        })?;
        Ok(Author::Device(user.role))
    }

    async fn error_from(resp: reqwest::Response) -> Error {
        let status = resp.status();
        let body: Option<ErrorBody> = resp.json().await.ok();
        let (code, message) = body
            .map(|b| (b.error.code.as_str().to_string(), b.error.message))
            .unwrap_or_else(|| ("http_error".into(), status.to_string()));
        if status == StatusCode::UNAUTHORIZED {
            Error::Unauthorized { code, message }
        } else if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            Error::ServerBusy {
                status: status.as_u16(),
                message,
            }
        } else {
            Error::Refused { code, message }
        }
    }

    async fn store_tokens(&self, pair: &TokenPair) -> Result<()> {
        self.store
            .meta_set("access_token", &pair.access_token)
            .await?;
        self.store
            .meta_set("refresh_token", &pair.refresh_token)
            .await?;
        let user = serde_json::to_string(&pair.user).map_err(|e| Error::Storage(e.to_string()))?;
        self.store.meta_set("user", &user).await
    }

    /// Signs in and keeps the tokens in the store.
    pub async fn login(&self, username: &str, password: &str) -> Result<UserInfo> {
        let resp = self
            .http
            .post(format!("{}/api/auth/login", self.base))
            .json(&LoginRequest {
                username: username.into(),
                password: password.into(),
            })
            .send()
            .await?;
        if !resp.status().is_success() {
            return Err(Self::error_from(resp).await);
        }
        let pair: TokenPair = resp.json().await?;
        self.store_tokens(&pair).await?;
        Ok(pair.user)
    }

    /// Trades the refresh token for a new pair (the old refresh token stops working).
    pub async fn refresh(&self) -> Result<()> {
        let token =
            self.store
                .meta_get("refresh_token")
                .await?
                .ok_or_else(|| Error::Unauthorized {
                    code: "not_signed_in".into(),
                    message: "sign in first".into(),
                })?;
        let resp = self
            .http
            .post(format!("{}/api/auth/refresh", self.base))
            .json(&RefreshRequest {
                refresh_token: token,
            })
            .send()
            .await?;
        if !resp.status().is_success() {
            return Err(Self::error_from(resp).await);
        }
        let pair: TokenPair = resp.json().await?;
        self.store_tokens(&pair).await
    }

    async fn access_token(&self) -> Result<String> {
        self.store
            .meta_get("access_token")
            .await?
            .ok_or_else(|| Error::Unauthorized {
                code: "not_signed_in".into(),
                message: "sign in first".into(),
            })
    }

    /// Registers this device to the signed-in user, binding the store's actor id. Idempotent for
    /// a device that already registered.
    pub async fn register_device(&self, name: &str) -> Result<Uuid> {
        if let Some(id) = self.store.meta_get("device_id").await? {
            return Uuid::parse_str(&id).map_err(|e| Error::Storage(e.to_string()));
        }
        let body = RegisterDevice {
            name: name.into(),
            actor_id: self.store.actor().to_hex_string(),
        };
        let info: DeviceInfo = self
            .send_json(|c, token| {
                c.post(format!("{}/api/devices", self.base))
                    .bearer_auth(token)
                    .json(&body)
            })
            .await?;
        if info.number > 0 {
            self.store
                .meta_set("device_number", &info.number.to_string())
                .await?;
        }
        self.store
            .meta_set("device_id", &info.id.to_string())
            .await?;
        Ok(info.id)
    }

    /// Sends a request with the access token, refreshing it once if it has expired, retrying with
    /// back-off when the network or the server fails.
    async fn send(
        &self,
        build: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response> {
        let mut delay = self.options.backoff;
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let token = self.access_token().await?;
            let outcome = match build(&self.http, &token).send().await {
                Ok(resp) if resp.status().is_success() => return Ok(resp),
                Ok(resp) => Self::error_from(resp).await,
                Err(e) => Error::from(e),
            };
            match outcome {
                Error::Unauthorized { ref code, .. } if code == "token_expired" && !refreshed => {
                    refreshed = true;
                    let _one_at_a_time = self.refreshing.lock().await;
                    // Another request may have refreshed meanwhile.
                    if self.access_token().await? == token {
                        self.refresh().await?;
                    }
                }
                e if e.retryable() && attempt < self.options.attempts => {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                e => return Err(e),
            }
        }
    }

    async fn send_json<T: serde::de::DeserializeOwned>(
        &self,
        build: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    ) -> Result<T> {
        let resp = self.send(build).await?;
        resp.json::<T>().await.map_err(Error::from)
    }

    async fn device_id(&self) -> Result<Uuid> {
        let id = self
            .store
            .meta_get("device_id")
            .await?
            .ok_or_else(|| Error::Refused {
                code: "device_not_registered".into(),
                message: "register this device first".into(),
            })?;
        Uuid::parse_str(&id).map_err(|e| Error::Storage(e.to_string()))
    }

    /// Uploads the blobs waiting (photos, signature images) before any change refers to them,
    /// counting their bytes in `state` and reporting after each.
    async fn upload_blobs(
        &self,
        state: &mut Progress,
        progress: &mut impl FnMut(Progress),
    ) -> Result<usize> {
        let pending = self.store.pending_blob_sizes().await?;
        state.bytes_total += pending.iter().map(|(_, n)| n).sum::<u64>();
        if !pending.is_empty() {
            progress(*state);
        }
        for (sha, size) in &pending {
            let Some(blob) = self.store.blob(sha).await? else {
                continue;
            };
            self.send(|c, token| {
                c.put(format!("{}/api/blobs/{}", self.base, blob.sha256))
                    .bearer_auth(token)
                    .header("content-type", blob.mime.clone())
                    .body(blob.bytes.clone())
            })
            .await?;
            self.store.mark_blob_uploaded(sha).await?;
            state.bytes_done += size;
            progress(*state);
        }
        Ok(pending.len())
    }

    /// Reads the feed from the stored cursor; returns the documents to pull and the new cursor.
    async fn read_feed(&self) -> Result<(Vec<(Uuid, DocKind)>, i64)> {
        let mut cursor: i64 = self
            .store
            .meta_get("feed_cursor")
            .await?
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let mut wanted = Vec::new();
        loop {
            let page: FeedPage = self
                .send_json(|c, token| {
                    c.get(format!("{}/api/feed?after={cursor}&limit=1000", self.base))
                        .bearer_auth(token)
                })
                .await?;
            let ids: Vec<Uuid> = page.items.iter().map(|i| i.id).collect();
            let mut held = self.store.heads_many(&ids).await?;
            for item in &page.items {
                let local = held.remove(&item.id).unwrap_or_default();
                let mut server = parse_heads(&item.heads)?;
                server.sort();
                let mut local_sorted = local;
                local_sorted.sort();
                if local_sorted != server {
                    wanted.push((item.id, item.kind));
                }
            }
            cursor = page.cursor;
            if !page.more {
                break;
            }
        }
        Ok((wanted, cursor))
    }

    /// Syncs everything: blobs, the outbox and the feed. `progress` is called after each batch.
    pub async fn sync(&self, mut progress: impl FnMut(Progress)) -> Result<SyncReport> {
        let device_id = self.device_id().await?;
        let (to_pull, new_cursor) = self.read_feed().await?;

        // Build the work list: the outbox with its changes, then the pulls.
        let mut work: Vec<(DocPush, Option<DocKind>)> = Vec::new();
        // The outbox's unsent changes as they were stored: no document is loaded to send them.
        let mut sent: std::collections::HashMap<Uuid, Vec<ChangeHash>> =
            std::collections::HashMap::new();
        for out in self.store.outbox().await? {
            sent.insert(out.id, out.changes.iter().map(|(h, _)| *h).collect());
            work.push((
                DocPush {
                    id: out.id,
                    heads: out.heads.iter().map(|h| h.to_string()).collect(),
                    changes: out.changes.into_iter().map(|(_, b)| Bytes(b)).collect(),
                },
                None,
            ));
        }
        let pull_ids: Vec<Uuid> = to_pull.iter().map(|(id, _)| *id).collect();
        let mut held = self.store.heads_many(&pull_ids).await?;
        let outgoing: std::collections::HashSet<Uuid> = work.iter().map(|(p, _)| p.id).collect();
        for (id, kind) in to_pull {
            if outgoing.contains(&id) {
                continue;
            }
            let heads = held
                .remove(&id)
                .unwrap_or_default()
                .iter()
                .map(|h| h.to_string())
                .collect();
            work.push((
                DocPush {
                    id,
                    heads,
                    changes: Vec::new(),
                },
                Some(kind),
            ));
        }

        let mut state = Progress {
            docs_total: work.len() as u64,
            bytes_total: work
                .iter()
                .map(|(p, _)| p.changes.iter().map(|c| c.0.len() as u64).sum::<u64>())
                .sum(),
            ..Progress::default()
        };
        // The blobs (photos, signature images) go up first: no change may refer to one the
        // server lacks. Their bytes count in the totals.
        let mut report = SyncReport {
            blobs_uploaded: self.upload_blobs(&mut state, &mut progress).await?,
            ..SyncReport::default()
        };
        progress(state);
        // Batches in flight (`in_flight`): the server decides the next while this device
        // stores the answer to the one before. Requests run as tasks of their own (they go on
        // while this one writes the store); answers are stored here, in order.
        let batches: Vec<&[(DocPush, Option<DocKind>)]> =
            work.chunks(self.options.batch_docs.max(1)).collect();
        let mut in_flight = InFlight::default();
        let mut started = 0;
        for &batch in &batches {
            while in_flight.0.len() < self.options.in_flight.max(1) && started < batches.len() {
                let client = self.clone();
                let docs = batches[started].iter().map(|(p, _)| p.clone()).collect();
                in_flight.0.push_back(tokio::spawn(async move {
                    client.post_batch(device_id, docs).await
                }));
                started += 1;
            }
            let Some(task) = in_flight.0.pop_front() else {
                break;
            };
            let response = task
                .await
                .map_err(|e| Error::Internal(format!("a sync request stopped: {e}")))??;
            let mut updates = Vec::with_capacity(batch.len());
            for (reply, (push, kind)) in response.docs.into_iter().zip(batch) {
                match reply.verdict {
                    Verdict::Accepted => {
                        if push.changes.is_empty() {
                            report.pulled += 1;
                        } else {
                            report.pushed += 1;
                        }
                        updates.push(ServerUpdate {
                            id: reply.id,
                            kind: *kind,
                            changes: parse_changes(reply.changes)?,
                            heads: parse_heads(&reply.heads)?,
                            acknowledged: sent.remove(&push.id).unwrap_or_default(),
                        });
                    }
                    Verdict::Rejected { refusal } => {
                        self.store.quarantine(reply.id, &refusal).await?;
                        report.refused.push((reply.id, refusal));
                    }
                }
                state.docs_done += 1;
                state.bytes_done += push.changes.iter().map(|c| c.0.len() as u64).sum::<u64>();
            }
            // One transaction per acknowledged batch.
            self.store.apply_server_batch(updates).await?;
            progress(state);
        }
        self.store
            .meta_set("feed_cursor", &new_cursor.to_string())
            .await?;
        Ok(report)
    }

    /// Sends one batch of the outbox and pulls, compressed.
    async fn post_batch(&self, device_id: Uuid, docs: Vec<DocPush>) -> Result<SyncResponse> {
        let request = SyncRequest { device_id, docs };
        let body = gzip(&serde_json::to_vec(&request).map_err(|e| Error::Internal(e.to_string()))?);
        self.send_json(|c, token| {
            c.post(format!("{}/api/sync", self.base))
                .bearer_auth(token)
                .header("content-type", "application/json")
                .header("content-encoding", "gzip")
                .body(body.clone())
        })
        .await
    }

    /// Recovers a refused document: takes the server's version and re-applies the user's edits
    /// that the rules allow as new changes. Returns the edits that could not be kept.
    pub async fn recover(&self, id: Uuid) -> Result<Vec<(String, crate::model::FieldValue)>> {
        let device_id = self.device_id().await?;
        let author = self.author().await?;
        let request = SyncRequest {
            device_id,
            docs: vec![DocPush {
                id,
                heads: Vec::new(),
                changes: Vec::new(),
            }],
        };
        let response: SyncResponse = self
            .send_json(|c, token| {
                c.post(format!("{}/api/sync", self.base))
                    .bearer_auth(token)
                    .json(&request)
            })
            .await?;
        let reply = response
            .docs
            .into_iter()
            .next()
            .ok_or_else(|| Error::ServerBusy {
                status: 0,
                message: "empty answer".into(),
            })?;
        let (changes, heads) = match reply.verdict {
            Verdict::Accepted => (parse_changes(reply.changes)?, parse_heads(&reply.heads)?),
            // The server never had it (a refused creation): start again from nothing.
            Verdict::Rejected { .. } => (Vec::new(), Vec::new()),
        };
        let now = crate::clock::device_now().timestamp();
        self.store
            .rebuild_from_server(id, changes, &heads, author, now)
            .await
    }

    /// A stored access token, for callers that talk to the rest of the API directly.
    pub async fn bearer(&self) -> Result<String> {
        self.access_token().await
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Heads text helper for callers that read `synced_heads` themselves.
    pub fn heads_from_text(text: &str) -> Vec<ChangeHash> {
        heads_from_text(text)
    }
}
