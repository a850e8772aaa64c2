//! Test harness: a real server on a loopback port over a real database (a SQLite file in a
//! temporary folder, or a fresh PostgreSQL database), and real devices with their own SQLite
//! stores talking HTTP to it.

pub mod browser;
pub mod office;
pub mod proxy;
pub mod robots;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use fieldloop_client_core::model::Role;
use fieldloop_client_core::store::Store;
use fieldloop_client_core::sync::{SyncClient, SyncOptions};
use fieldloop_client_core::wire::UserInfo;
use fieldloop_server::auth::{hash_password, user_info};
use fieldloop_server::db::accounts::User;
use fieldloop_server::{AppState, Clock, Config, ManualClock, app};
use sqlx::Executor;
use std::sync::Arc;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The database engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server the suite uses (`FIELDLOOP_TEST_PG`, default the local one).
pub fn pg_admin_url() -> String {
    std::env::var("FIELDLOOP_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn pg_url_for(db: &str) -> String {
    let admin = pg_admin_url();
    match admin.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{db}"),
        None => format!("{admin}/{db}"),
    }
}

/// Makes a fresh PostgreSQL database, or says why it cannot. Under CI an unreachable
/// PostgreSQL is a failure, never a skip.
pub async fn fresh_pg_database() -> anyhow::Result<Option<String>> {
    sqlx::any::install_default_drivers();
    let admin = match sqlx::AnyPool::connect(&pg_admin_url()).await {
        Ok(pool) => pool,
        Err(e) if std::env::var("CI").is_err() => {
            eprintln!("PostgreSQL unreachable ({e}); skipping the PostgreSQL variant outside CI");
            return Ok(None);
        }
        Err(e) => return Err(e).context("PostgreSQL must be reachable under CI"),
    };
    let name = format!("fl_test_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await?;
    admin.close().await;
    Ok(Some(name))
}

async fn drop_pg_database(name: &str) {
    if let Ok(admin) = sqlx::AnyPool::connect(&pg_admin_url()).await {
        let _ = admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .await;
        admin.close().await;
    }
}

/// A running server.
pub struct TestServer {
    pub state: AppState,
    pub addr: SocketAddr,
    pub database_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    pg_database: Option<String>,
    pub dir: TempDir,
}

impl TestServer {
    /// Starts a server on a new database of `engine`; `None` if PostgreSQL is not available
    /// outside CI.
    pub async fn start(engine: Engine) -> anyhow::Result<Option<TestServer>> {
        Self::start_with(engine, |_| {}).await
    }

    /// A server whose business time is `clock`. Tokens expire by that clock too, so the
    /// sign-ins of a test that walks a case through weeks are made to last a year.
    pub async fn start_clocked(
        engine: Engine,
        clock: Arc<ManualClock>,
    ) -> anyhow::Result<Option<TestServer>> {
        Self::start_clocked_with(engine, clock, |c| {
            c.access_ttl_secs = 366 * 86_400;
            c.refresh_ttl_secs = 366 * 86_400;
        })
        .await
    }

    /// A server whose business time is `clock`, with its configuration tweaked.
    pub async fn start_clocked_with(
        engine: Engine,
        clock: Arc<ManualClock>,
        tweak: impl Fn(&mut Config),
    ) -> anyhow::Result<Option<TestServer>> {
        let Some(mut server) = Self::start_with(engine, &tweak).await? else {
            return Ok(None);
        };
        server.stop().await;
        let mut config = Config::for_database(&server.database_url);
        tweak(&mut config);
        let dir = std::mem::replace(&mut server.dir, tempfile::tempdir()?);
        let mut next = Self::serve(config, "127.0.0.1:0".parse()?, dir, Some(clock)).await?;
        next.pg_database = server.pg_database.take();
        Ok(Some(next))
    }

    pub async fn start_with(
        engine: Engine,
        tweak: impl FnOnce(&mut Config),
    ) -> anyhow::Result<Option<TestServer>> {
        let dir = tempfile::tempdir()?;
        let (url, pg) = match engine {
            Engine::Sqlite => (
                fieldloop_server::Db::sqlite_url_in(&dir.path().join("server"))?,
                None,
            ),
            Engine::Postgres => match fresh_pg_database().await? {
                Some(name) => (pg_url_for(&name), Some(name)),
                None => return Ok(None),
            },
        };
        let mut config = Config::for_database(&url);
        tweak(&mut config);
        let mut server = Self::serve(config, "127.0.0.1:0".parse()?, dir, None).await?;
        server.pg_database = pg;
        Ok(Some(server))
    }

    /// A second server instance on the same database (several instances behind a balancer).
    pub async fn another_instance(&self) -> anyhow::Result<TestServer> {
        Self::serve(
            Config::for_database(&self.database_url),
            "127.0.0.1:0".parse()?,
            tempfile::tempdir()?,
            Some(self.state.clock.clone()),
        )
        .await
    }

    async fn serve(
        config: Config,
        addr: SocketAddr,
        dir: TempDir,
        clock: Option<Arc<dyn Clock>>,
    ) -> anyhow::Result<TestServer> {
        let database_url = config.database_url.clone();
        let mut state = AppState::open(config).await?;
        if let Some(clock) = clock {
            state = state.with_clock(clock);
        }
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let router = app(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
        });
        Ok(TestServer {
            state,
            addr,
            database_url,
            shutdown: Some(tx),
            task: Some(task),
            pg_database: None,
            dir,
        })
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server and starts it again on the same address and database.
    pub async fn restart(mut self) -> anyhow::Result<TestServer> {
        self.stop().await;
        self.state.db.pool.close().await;
        let config = Config::for_database(&self.database_url);
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir()?);
        let clock = Some(self.state.clock.clone());
        let mut next = Self::serve(config, self.addr, dir, clock).await?;
        next.pg_database = self.pg_database.take();
        Ok(next)
    }

    async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Creates an account straight in the database.
    pub async fn user(
        &self,
        username: &str,
        role: Role,
        region: Option<&str>,
    ) -> anyhow::Result<UserInfo> {
        let user = User {
            id: uuid::Uuid::now_v7(),
            username: username.into(),
            display_name: username.into(),
            password_hash: hash_password(&format!("{username}-password-for-tests"))?,
            role,
            region: region.map(str::to_string),
            active: true,
        };
        self.state
            .db
            .create_user(&user, self.state.now_ms())
            .await?;
        // Its region on the managed list, as an admin would have added it first.
        if let Some(code) = region {
            self.region(code).await?;
        }
        Ok(user_info(&user))
    }

    /// A regional office on the managed list, named as an admin would name it, if it is not
    /// there yet.
    pub async fn region(&self, code: &str) -> anyhow::Result<()> {
        let name = match code {
            "wuhan" => "武汉办事处",
            "shanghai" => "上海办事处",
            "beijing" => "北京办事处",
            "xian" => "西安办事处",
            "chengdu" => "成都办事处",
            other => other,
        };
        let region = fieldloop_server::db::masters::Region {
            code: code.into(),
            name: name.into(),
        };
        self.state
            .db
            .add_region(&region, self.state.now_ms())
            .await?;
        Ok(())
    }

    /// A signed-in device with its own store file, registered to `username` (password is
    /// `<username>-password-for-tests`).
    pub async fn device(&self, username: &str) -> anyhow::Result<TestDevice> {
        self.device_at(&self.base(), username).await
    }

    /// A device that reaches the server through `base` (a proxy, another instance).
    pub async fn device_at(&self, base: &str, username: &str) -> anyhow::Result<TestDevice> {
        self.device_with(base, username, fast_options()).await
    }

    /// A device that reaches the server through `base` with these sync options.
    pub async fn device_with(
        &self,
        base: &str,
        username: &str,
        options: SyncOptions,
    ) -> anyhow::Result<TestDevice> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("device.sqlite");
        let store = Store::open(&path).await?;
        let client = SyncClient::with_options(base, store, options)?;
        client
            .login(username, &format!("{username}-password-for-tests"))
            .await?;
        client
            .register_device(&format!("{username}'s phone"))
            .await?;
        Ok(TestDevice {
            client,
            path,
            _dir: dir,
        })
    }

    /// Stops the server and drops its PostgreSQL database.
    pub async fn finish(mut self) {
        self.stop().await;
        self.state.db.pool.close().await;
        if let Some(name) = self.pg_database.take() {
            drop_pg_database(&name).await;
        }
    }
}

/// Sync options for tests: quick back-off.
pub fn fast_options() -> SyncOptions {
    SyncOptions {
        backoff: std::time::Duration::from_millis(20),
        ..SyncOptions::default()
    }
}

/// A device: a store file and its sync client.
pub struct TestDevice {
    pub client: SyncClient,
    pub path: PathBuf,
    _dir: TempDir,
}

impl TestDevice {
    pub fn store(&self) -> &Store {
        self.client.store()
    }

    /// Syncs until nothing is left to send (at most a few rounds).
    pub async fn sync(&self) -> anyhow::Result<fieldloop_client_core::sync::SyncReport> {
        Ok(self.client.sync(|_| {}).await?)
    }

    /// Closes the store and opens it again from its file, as after the app was killed.
    pub async fn reopen(&mut self, base: &str) -> anyhow::Result<()> {
        self.store().close().await;
        let store = Store::open(&self.path).await?;
        self.client = SyncClient::with_options(base, store, fast_options())?;
        Ok(())
    }
}

/// Defines a test that runs once on SQLite and once on PostgreSQL, for a body that starts its
/// own server (with a clock of its own, say) from the engine it is given.
#[macro_export]
macro_rules! each_engine {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() -> anyhow::Result<()> {
                super::$body($crate::Engine::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() -> anyhow::Result<()> {
                super::$body($crate::Engine::Postgres).await
            }
        }
    };
}

/// Defines a test that runs once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! both_engines {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() -> anyhow::Result<()> {
                match $crate::TestServer::start($crate::Engine::Sqlite).await? {
                    Some(server) => super::$body(server).await,
                    None => Ok(()),
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() -> anyhow::Result<()> {
                match $crate::TestServer::start($crate::Engine::Postgres).await? {
                    Some(server) => super::$body(server).await,
                    None => Ok(()),
                }
            }
        }
    };
}

/// A client builder for the tests' own HTTP calls. The workspace's reqwest speaks TLS through
/// rustls with ring's provider, which a process installs before its first client is built.
pub fn http_builder() -> reqwest::ClientBuilder {
    fieldloop_client_core::sync::install_tls_provider();
    reqwest::Client::builder()
}

/// A plain client for the tests' own HTTP calls (see [`http_builder`]). A harness that cannot
/// build one cannot run any test, so it stops there.
#[allow(clippy::expect_used)]
pub fn http() -> reqwest::Client {
    http_builder().build().expect("an HTTP client")
}

/// Two requests raced on one thing: exactly one succeeded (200 or 201) and the other was
/// refused with 409 `code`. Returns the winner's body.
#[track_caller]
pub fn one_won(
    a: (u16, serde_json::Value),
    b: (u16, serde_json::Value),
    code: &str,
) -> serde_json::Value {
    let ok = |status: u16| status == 200 || status == 201;
    let (won, lost) = if ok(a.0) { (a, b) } else { (b, a) };
    assert!(ok(won.0), "neither succeeded: {won:?} {lost:?}");
    assert_eq!(
        (lost.0, lost.1["error"]["code"].clone()),
        (409, serde_json::json!(code)),
        "{won:?} {lost:?}"
    );
    won.1
}

/// A customer's signature as the phone captures it: a dark pen stroke on white, as a JPEG.
pub fn signature_jpeg() -> Vec<u8> {
    let (width, height) = (240u32, 80u32);
    let picture = image::RgbImage::from_fn(width, height, |x, y| {
        let t = f64::from(x) / f64::from(width);
        let pen = 40.0 + 22.0 * (t * 9.0).sin() * (1.0 - t) - 10.0 * (t * 3.0).cos();
        if (f64::from(y) - pen).abs() < 2.5 && (12..228).contains(&x) {
            image::Rgb([20, 30, 90])
        } else {
            image::Rgb([255, 255, 255])
        }
    });
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 85)
        .encode_image(&picture)
        .expect("a JPEG is encoded in memory");
    bytes
}

/// A message a page carried back in its address (`ok=` or `err=`), decoded; "" when none.
pub fn flash_of(location: &str, key: &str) -> String {
    reqwest::Url::parse("http://localhost/")
        .and_then(|base| base.join(location))
        .ok()
        .and_then(|url| {
            url.query_pairs()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_default()
}

pub fn now() -> i64 {
    fieldloop_client_core::clock::device_now().timestamp()
}

/// Signs in over HTTP and returns the access token.
pub async fn login_token(base: &str, username: &str) -> anyhow::Result<String> {
    let resp: serde_json::Value = crate::http()
        .post(format!("{base}/api/auth/login"))
        .json(
            &serde_json::json!({"username": username, "password": format!("{username}-password-for-tests")}),
        )
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(resp["access_token"]
        .as_str()
        .context("no access token")?
        .to_string())
}

/// A JSON request with a bearer token; returns the status and the JSON body (or Null).
pub async fn call(
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> anyhow::Result<(u16, serde_json::Value)> {
    let mut req = crate::http().request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    ))
}
