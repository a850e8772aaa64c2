//! Fieldloop's server: accounts and devices, the sync endpoint that merges devices' Automerge
//! changes under field ownership, the feed, blobs, and the back-office API.
//!
//! `app(state)` builds the whole router; tests call it in process or bind it to port 0.

pub mod access;
pub mod app;
pub mod auth;
pub mod clock;
pub mod config;
pub mod db;
pub mod doc_cache;
pub mod error;
pub mod export;
pub mod http;
pub mod merge;
pub mod metrics;
pub mod records;
pub mod throttle;
pub mod web;
pub mod workflow;

use std::sync::Arc;

use axum::Router;

pub use config::Config;
pub use db::Db;

pub use clock::{Clock, ManualClock, SystemClock};

/// Everything a request handler needs, shared: every request and middleware holds a clone,
/// so a clone is one reference count, not one per part.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`AppState`].
#[derive(Debug, Clone)]
pub struct Shared {
    pub db: Db,
    pub keys: Arc<auth::Keys>,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    /// Recently merged documents, built (see [`doc_cache`]).
    pub docs: Arc<doc_cache::DocCache>,
    /// One permit per core for deciding sync batches (CPU-bound work off the async threads).
    pub deciders: Arc<tokio::sync::Semaphore>,
    /// Permits for hashing passwords (`Config::password_hashers`): sign-ins beyond them wait,
    /// then are told the server is busy.
    pub hashers: Arc<tokio::sync::Semaphore>,
    /// The threads that hash passwords, as many as there are permits.
    pub hash_pool: auth::HashPool,
    /// Failed sign-ins per account and client address (see [`throttle`]).
    pub sign_ins: Arc<throttle::SignInLimits>,
    /// What `/metrics` reports (see [`metrics`]).
    pub metrics: metrics::Metrics,
    /// Alert keys this process has written to the outbox (see [`app::alerts`]).
    pub alerts_written: Arc<app::alerts::Written>,
    /// The HTTP client that calls the alert robots.
    pub alert_http: reqwest::Client,
}

impl AppState {
    /// Connects, migrates and loads the signing secret (made once per database, so every server
    /// instance on one PostgreSQL signs alike).
    pub async fn open(config: Config) -> anyhow::Result<AppState> {
        let db = Db::connect(&config.database_url).await?;
        db.migrate(SystemClock.now().timestamp_millis()).await?;
        db.secure_files(&config.database_url)?;
        let fresh: [u8; 32] = rand::random();
        let secret = match &config.jwt_secret {
            Some(s) => s.clone(),
            None => {
                db.setting_or_init("jwt_secret", &hex::encode(fresh))
                    .await?
            }
        };
        Ok(AppState(Arc::new(Shared {
            db,
            keys: Arc::new(auth::Keys::from_secret(secret.as_bytes())),
            docs: Arc::new(doc_cache::DocCache::new(config.doc_cache)),
            deciders: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
            hashers: Arc::new(tokio::sync::Semaphore::new(config.password_hashers)),
            hash_pool: auth::HashPool::new(config.password_hashers)?,
            sign_ins: Arc::default(),
            metrics: metrics::Metrics::new(),
            alerts_written: Arc::default(),
            alert_http: alert_client()?,
            config: Arc::new(config),
            clock: Arc::new(SystemClock),
        })))
    }

    /// The same state reckoning business time by `clock` (tests that walk through weeks).
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> AppState {
        let mut shared = Arc::unwrap_or_clone(self.0);
        shared.clock = clock;
        AppState(Arc::new(shared))
    }

    /// A registered device as the database has it now: a revocation takes effect on the
    /// device's next request, on every server instance.
    pub async fn device(&self, id: uuid::Uuid) -> sqlx::Result<Option<db::accounts::Device>> {
        self.db.device(id).await
    }

    /// Business time: what deadlines and numbers are reckoned from.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Business time as the database keeps it: unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }
}

/// The client for WeCom's and DingTalk's robots: Mozilla's roots (bundled), short timeouts, no
/// redirects.
fn alert_client() -> anyhow::Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let roots: Vec<reqwest::Certificate> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .filter_map(|der| reqwest::Certificate::from_der(der).ok())
        .collect();
    Ok(reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(15))
        .connect_timeout(std::time::Duration::from_secs(5))
        .tls_certs_only(roots)
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    http::router(state).0
}

/// The OpenAPI description of [`app`], generated from the same route table.
pub fn openapi() -> utoipa::openapi::OpenApi {
    http::api_description()
}

/// Runs the server until `shutdown` completes: binds `config.addr`, serves, and drains in-flight
/// requests before returning.
pub async fn run(
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = config.addr.clone();
    // The address first: a port in use ends the start before anything else is touched.
    let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            anyhow::anyhow!(
                "cannot listen on {addr}: another program (perhaps another fieldloop-server) listens there; stop it, or choose another address (--addr, FIELDLOOP_ADDR)"
            )
        } else {
            anyhow::anyhow!("cannot listen on {addr}: {e}")
        }
    })?;
    // One server per SQLite data folder: a second one would fight the first for the file.
    let _lock = db::Db::lock_sqlite_folder(&config.database_url)?;
    let state = AppState::open(config).await?;
    tracing::info!(addr = %listener.local_addr()?, engine = state.db.engine.name(), "fieldloop-server listening");
    // Overdue complaint steps raise their notifications even when nobody opens the list.
    let sweeper = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            let mut minutes: u64 = 0;
            loop {
                tick.tick().await;
                minutes += 1;
                state.sign_ins.forget_recovered();
                if let Err(e) = app::complaints::sweep_overdue(&state, None, state.now()).await {
                    tracing::warn!(error = e.message, "overdue sweep failed");
                }
                // Uploads whose record never came, once an hour.
                if minutes % 60 == 1 {
                    match app::blobs::sweep_unreferenced(&state).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(deleted = n, "unreferenced blobs swept"),
                        Err(e) => tracing::warn!(error = e.message, "blob sweep failed"),
                    }
                }
            }
        })
    };
    // Request latencies folded into their histograms (see `Metrics::upkeep`).
    let upkeep = {
        let metrics = state.metrics.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
            loop {
                tick.tick().await;
                metrics.upkeep();
            }
        })
    };
    // Deadline alerts: swept and sent every FIELDLOOP_ALERT_TICK_SECS.
    let alerts = {
        let state = state.clone();
        tokio::spawn(async move {
            let every = std::time::Duration::from_secs(state.config.alert_tick_secs);
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match app::alerts::tick(&state).await {
                    Ok(d) if d.messages > 0 || d.rows_failed > 0 => {
                        tracing::info!(
                            messages = d.messages,
                            sent = d.rows_sent,
                            retried = d.rows_retried,
                            failed = d.rows_failed,
                            "alerts delivered"
                        );
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = e.message, "alert tick failed"),
                }
            }
        })
    };
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    sweeper.abort();
    upkeep.abort();
    alerts.abort();
    tracing::info!("stopped");
    Ok(())
}
