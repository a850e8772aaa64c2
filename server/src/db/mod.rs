//! The only module that speaks SQL. One code path for both engines through `sqlx::Any`: every
//! column is TEXT, BIGINT or bytes, times are unix milliseconds and money is integer fen, so
//! the same statements run unchanged on SQLite and PostgreSQL (see ARCHITECTURE.md).

pub mod access_cache;
pub mod accounts;
pub mod alerts;
pub mod complaints;
pub mod docs;
pub mod feedback;
pub mod masters;
pub mod service;
pub mod web;

use std::path::Path;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyPool, Executor, Row, Transaction};

/// Which engine the server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub engine: Engine,
    /// SQLite writers of this process take turns here before `BEGIN IMMEDIATE`.
    writers: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Remembered access reads, on SQLite only (see [`access_cache`]).
    access_cache: Option<std::sync::Arc<access_cache::AccessCache>>,
}

pub type Tx = Transaction<'static, Any>;

/// A write transaction. On SQLite, the writers of this process queue on a mutex before taking
/// the database's write lock: SQLite's own busy wait sleeps in steps of up to 100 ms, leaving the
/// lock idle while fifty devices' batches wait for it; queued here, the next writer starts the
/// moment the last one ends. The turn is held until the transaction commits or rolls back.
pub struct WriteTx {
    tx: Tx,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl std::ops::Deref for WriteTx {
    type Target = Tx;
    fn deref(&self) -> &Tx {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Tx {
        &mut self.tx
    }
}

impl WriteTx {
    /// A transaction that takes no turn (PostgreSQL, or one that only reads).
    pub fn without_turn(tx: Tx) -> WriteTx {
        WriteTx { tx, _turn: None }
    }
    pub async fn commit(self) -> sqlx::Result<()> {
        self.tx.commit().await
    }
    pub async fn rollback(self) -> sqlx::Result<()> {
        self.tx.rollback().await
    }
}

/// Migrations, oldest first: (version, SQLite text, PostgreSQL text).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        include_str!("../../../migrations/sqlite/0001_foundation.sql"),
        include_str!("../../../migrations/postgres/0001_foundation.sql"),
    ),
    (
        2,
        include_str!("../../../migrations/sqlite/0002_complaints.sql"),
        include_str!("../../../migrations/postgres/0002_complaints.sql"),
    ),
    (
        3,
        include_str!("../../../migrations/sqlite/0003_service.sql"),
        include_str!("../../../migrations/postgres/0003_service.sql"),
    ),
    (
        4,
        include_str!("../../../migrations/sqlite/0004_feedback.sql"),
        include_str!("../../../migrations/postgres/0004_feedback.sql"),
    ),
    (
        5,
        include_str!("../../../migrations/sqlite/0005_web.sql"),
        include_str!("../../../migrations/postgres/0005_web.sql"),
    ),
    (
        6,
        include_str!("../../../migrations/sqlite/0006_long_notes.sql"),
        include_str!("../../../migrations/postgres/0006_long_notes.sql"),
    ),
    (
        7,
        include_str!("../../../migrations/sqlite/0007_feedback_visits.sql"),
        include_str!("../../../migrations/postgres/0007_feedback_visits.sql"),
    ),
    (
        8,
        include_str!("../../../migrations/sqlite/0008_receipt_visits.sql"),
        include_str!("../../../migrations/postgres/0008_receipt_visits.sql"),
    ),
    (
        9,
        include_str!("../../../migrations/sqlite/0009_light_records.sql"),
        include_str!("../../../migrations/postgres/0009_light_records.sql"),
    ),
    (
        10,
        include_str!("../../../migrations/sqlite/0010_account_admin.sql"),
        include_str!("../../../migrations/postgres/0010_account_admin.sql"),
    ),
    (
        11,
        include_str!("../../../migrations/sqlite/0011_regions.sql"),
        include_str!("../../../migrations/postgres/0011_regions.sql"),
    ),
    (
        12,
        include_str!("../../../migrations/sqlite/0012_alerts.sql"),
        include_str!("../../../migrations/postgres/0012_alerts.sql"),
    ),
    (
        13,
        include_str!("../../../migrations/sqlite/0013_device_numbers.sql"),
        include_str!("../../../migrations/postgres/0013_device_numbers.sql"),
    ),
    (
        14,
        include_str!("../../../migrations/sqlite/0014_alert_words_en.sql"),
        include_str!("../../../migrations/postgres/0014_alert_words_en.sql"),
    ),
];

/// How long a start waits for the database before saying it cannot be reached.
const CONNECT_WITHIN: Duration = Duration::from_secs(10);

/// A database URL without its password, for messages and logs.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{}{user}{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.split('?').next().unwrap_or_default().to_string(),
    }
}

/// What a failed first connection means, in words an administrator can act on.
fn connect_error(url: &str, engine: Engine, e: &sqlx::Error) -> anyhow::Error {
    let shown = redacted(url);
    if let Some(db) = e.as_database_error() {
        match db.code().as_deref() {
            Some("3D000") => {
                return anyhow::anyhow!(
                    "the database named in {shown} does not exist; create it (createdb) or fix DATABASE_URL"
                );
            }
            Some("28P01" | "28000") => {
                return anyhow::anyhow!("the database refused the user or password of {shown}");
            }
            _ => {}
        }
    }
    match (engine, e) {
        (Engine::Sqlite, _) => anyhow::anyhow!(
            "cannot open the SQLite database {shown}: {e}; check that its folder exists and that this user may write to it"
        ),
        (Engine::Postgres, sqlx::Error::Io(io)) => anyhow::anyhow!(
            "cannot reach PostgreSQL at {shown}: {io}; is it running, and is the address right?"
        ),
        (Engine::Postgres, other) => anyhow::anyhow!("cannot connect to {shown}: {other}"),
    }
}

/// SQLite's `synchronous` level the server runs with. FULL: an acknowledged sync survives a
/// power cut, not only a process crash.
pub const SQLITE_SYNCHRONOUS: &str = "FULL";

impl Db {
    /// Connects to `url` (`sqlite://path` or `postgres://...`). For SQLite the file is created if
    /// missing and runs in WAL mode.
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        install_default_drivers();
        let engine = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Engine::Postgres
        } else if url.starts_with("sqlite:") {
            Engine::Sqlite
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite: or postgres:, got '{url}'");
        };
        let url = if engine == Engine::Sqlite && !url.contains('?') {
            format!("{url}?mode=rwc")
        } else {
            url.to_string()
        };
        let mut options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(30));
        if engine == Engine::Sqlite {
            options = options.max_connections(8).after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = FULL").await?;
                    conn.execute("PRAGMA busy_timeout = 30000").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    Ok(())
                })
            });
        } else {
            options = options.max_connections(16);
        }
        // A database that cannot be reached ends the start within seconds, naming it: one
        // connection is tried first (the pool would retry until its acquire timeout).
        use sqlx::Connection as _;
        match tokio::time::timeout(CONNECT_WITHIN, sqlx::AnyConnection::connect(&url)).await {
            Ok(Ok(conn)) => conn.close().await?,
            Ok(Err(e)) => return Err(connect_error(&url, engine, &e)),
            Err(_) => anyhow::bail!(
                "no answer from the database {} within {} s; is it running, and is the address right?",
                redacted(&url),
                CONNECT_WITHIN.as_secs()
            ),
        }
        let pool = options
            .connect(&url)
            .await
            .map_err(|e| connect_error(&url, engine, &e))?;
        Ok(Db {
            pool,
            engine,
            writers: std::sync::Arc::default(),
            access_cache: (engine == Engine::Sqlite).then(std::sync::Arc::default),
        })
    }

    /// The SQLite URL of a data folder, creating the folder (readable by this user only).
    pub fn sqlite_url_in(dir: &Path) -> anyhow::Result<String> {
        if !dir.exists() {
            create_private_dir(dir).map_err(|e| {
                anyhow::anyhow!("cannot create the data folder {}: {e}", dir.display())
            })?;
        }
        restrict(dir, 0o700)?;
        Ok(format!(
            "sqlite://{}",
            dir.join("fieldloop.sqlite").display()
        ))
    }

    /// For an SQLite database, takes the lock file beside it (`fieldloop.lock`) for as long as
    /// the returned file is kept: a second server on the same folder is refused at its start.
    /// `None` for PostgreSQL, which several instances share by design.
    pub fn lock_sqlite_folder(url: &str) -> anyhow::Result<Option<std::fs::File>> {
        if !url.starts_with("sqlite:") {
            return Ok(None);
        }
        let db = Path::new(
            url.trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:")
                .split('?')
                .next()
                .unwrap_or_default(),
        );
        let folder = db.parent().unwrap_or(Path::new("."));
        let path = folder.join("fieldloop.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot use the data folder {}: {e}; check that it exists and that this user may write to it",
                    folder.display()
                )
            })?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
                "another fieldloop-server is running on the data folder {}; stop it first (two servers on one SQLite folder would fight over it)",
                folder.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                anyhow::bail!("cannot lock {}: {e}", path.display())
            }
        }
    }

    /// Writes a consistent copy of the SQLite database, everything in it (records, accounts,
    /// signatures and photos), to `file`, while the server may be running (`VACUUM INTO`, a
    /// read transaction: writers go on). Returns the copy's size.
    pub async fn backup_to(&self, file: &Path) -> anyhow::Result<u64> {
        if self.engine != Engine::Sqlite {
            anyhow::bail!(
                "backup copies the embedded SQLite database; for PostgreSQL use pg_dump (README, \"Backup and restore\")"
            );
        }
        if file.exists() {
            anyhow::bail!(
                "{} exists already; give the backup a new file name",
                file.display()
            );
        }
        let text = file
            .to_str()
            .ok_or_else(|| anyhow::anyhow!("{} is not a usable file name", file.display()))?;
        sqlx::query("VACUUM INTO $1")
            .bind(text)
            .execute(&self.pool)
            .await
            .map_err(|e| anyhow::anyhow!("cannot write the backup to {}: {e}", file.display()))?;
        restrict(file, 0o600)?;
        Ok(std::fs::metadata(file)?.len())
    }

    /// Puts a backup written by [`backup_to`](Self::backup_to) in place as the SQLite database
    /// of `url`, which must not hold a database yet. The backup is checked first (SQLite's
    /// integrity check, and that it is a Fieldloop database); returns the database's path.
    pub async fn restore_into(url: &str, backup: &Path) -> anyhow::Result<std::path::PathBuf> {
        use sqlx::Connection as _;
        if !url.starts_with("sqlite:") {
            anyhow::bail!(
                "restore puts back an embedded SQLite database; for PostgreSQL use pg_restore (README, \"Backup and restore\")"
            );
        }
        let target = std::path::PathBuf::from(
            url.trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:")
                .split('?')
                .next()
                .unwrap_or_default(),
        );
        if target.metadata().is_ok_and(|m| m.len() > 0) {
            anyhow::bail!(
                "{} holds a database already; restore into an empty data folder",
                target.display()
            );
        }
        if !backup.is_file() {
            anyhow::bail!("there is no backup file {}", backup.display());
        }
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(backup)
            .read_only(true);
        let not_a_backup =
            |why: String| anyhow::anyhow!("{} is not a Fieldloop backup: {why}", backup.display());
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .map_err(|e| not_a_backup(e.to_string()))?;
        let check: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| not_a_backup(e.to_string()))?;
        if check != "ok" {
            return Err(not_a_backup(format!("damaged ({check})")));
        }
        let migrations: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM schema_migrations")
            .fetch_one(&mut conn)
            .await
            .map_err(|_| not_a_backup("it has no Fieldloop schema".into()))?;
        conn.close().await?;
        if migrations == 0 {
            return Err(not_a_backup("it has no Fieldloop schema".into()));
        }
        let part = target.with_extension("sqlite.part");
        std::fs::copy(backup, &part)?;
        restrict(&part, 0o600)?;
        std::fs::rename(&part, &target)?;
        Ok(target)
    }

    /// Makes an SQLite database's folder readable by this user only (0700) and its files
    /// (the database, its WAL and shared memory) 0600: they hold the password hashes and,
    /// unless it comes from elsewhere, the token signing secret. Wider modes are narrowed, with
    /// a warning naming the path. Nothing to do on PostgreSQL.
    pub fn secure_files(&self, url: &str) -> anyhow::Result<()> {
        if self.engine != Engine::Sqlite {
            return Ok(());
        }
        let path = url
            .trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:")
            .split('?')
            .next()
            .unwrap_or_default();
        if path.is_empty() || path == ":memory:" {
            return Ok(());
        }
        let file = Path::new(path);
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            restrict(dir, 0o700)?;
        }
        for suffix in ["", "-wal", "-shm"] {
            let f = std::path::PathBuf::from(format!("{path}{suffix}"));
            if f.exists() {
                restrict(&f, 0o600)?;
            }
        }
        Ok(())
    }

    /// Applies the migrations this build has and the database lacks. Safe when several server
    /// instances start at once on PostgreSQL (an advisory lock serialises them).
    pub async fn migrate(&self, at: i64) -> anyhow::Result<usize> {
        self.migrate_to(i64::MAX, at).await
    }

    /// [`migrate`](Self::migrate) up to and including migration `last` (an upgrade from an
    /// earlier release is tested this way).
    pub async fn migrate_to(&self, last: i64, at: i64) -> anyhow::Result<usize> {
        let mut applied = 0;
        let mut tx = self.pool.begin().await?;
        if self.engine == Engine::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(7340059)")
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
            .execute(&mut *tx)
            .await?;
        for (version, sqlite, postgres) in MIGRATIONS.iter().filter(|m| m.0 <= last) {
            let done = sqlx::query("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(*version)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            if done {
                continue;
            }
            let text = match self.engine {
                Engine::Sqlite => *sqlite,
                Engine::Postgres => *postgres,
            };
            sqlx::raw_sql(text).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(*version)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            applied += 1;
        }
        tx.commit().await?;
        Ok(applied)
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once, so a transaction
    /// never fails half-way trying to upgrade a read lock.
    pub async fn begin_write(&self) -> sqlx::Result<WriteTx> {
        match self.engine {
            Engine::Sqlite => {
                let turn = self.writers.clone().lock_owned().await;
                let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
                Ok(WriteTx {
                    tx,
                    _turn: Some(turn),
                })
            }
            Engine::Postgres => Ok(WriteTx::without_turn(self.pool.begin().await?)),
        }
    }

    /// Reads a setting, or stores `default` if none exists yet (first writer wins).
    pub async fn setting_or_init(&self, name: &str, default: &str) -> sqlx::Result<String> {
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(default)
        .execute(&self.pool)
        .await?;
        let row = sqlx::query("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.get(0))
    }

    /// The engine's own version string, for `/healthz`.
    pub async fn engine_version(&self) -> sqlx::Result<String> {
        let sql = match self.engine {
            Engine::Sqlite => "SELECT sqlite_version()",
            Engine::Postgres => "SELECT current_setting('server_version')",
        };
        let row = sqlx::query(sql).fetch_one(&self.pool).await?;
        Ok(row.get(0))
    }
}

/// Creates a folder (and its parents) readable by this user only from the start.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Narrows `path`'s permissions to `mode` if they are wider, saying so.
#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let current = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if current & !mode != 0 {
        tracing::warn!(
            path = %path.display(),
            was = format!("{current:o}"),
            now = format!("{mode:o}"),
            "data file or folder was readable by others; narrowed"
        );
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| anyhow::anyhow!("cannot restrict {}: {e}", path.display()))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) -> anyhow::Result<()> {
    Ok(())
}

/// Takes the next value of a named counter inside `tx`. On both engines the row stays locked
/// until `tx` ends, so counter order is commit order.
pub async fn next_counter(tx: &mut Tx, name: &str) -> sqlx::Result<i64> {
    sqlx::query("INSERT INTO counters (name, value) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .execute(&mut **tx)
        .await?;
    let row = sqlx::query("UPDATE counters SET value = value + 1 WHERE name = $1 RETURNING value")
        .bind(name)
        .fetch_one(&mut **tx)
        .await?;
    Ok(row.get(0))
}

/// Moves a counter on by `by` inside `tx` (after [`next_counter`] took its row lock).
pub async fn advance_counter(tx: &mut Tx, name: &str, by: i64) -> sqlx::Result<i64> {
    let row = sqlx::query("UPDATE counters SET value = value + $2 WHERE name = $1 RETURNING value")
        .bind(name)
        .bind(by)
        .fetch_one(&mut **tx)
        .await?;
    Ok(row.get(0))
}
