//! Server configuration, from the environment with sensible defaults.

use std::path::PathBuf;

use crate::db::Db;

#[derive(Debug, Clone)]
pub struct Config {
    /// `sqlite://...` or `postgres://...`.
    pub database_url: String,
    /// Where to listen, default `127.0.0.1:8080`.
    pub addr: String,
    /// The company's time zone: month boundaries, "the next day", "before the 10th".
    pub timezone: chrono_tz::Tz,
    /// Lifetime of access tokens.
    pub access_ttl_secs: i64,
    /// Lifetime of refresh tokens (technicians are offline for days).
    pub refresh_ttl_secs: i64,
    /// A fixed signing secret (`FIELDLOOP_JWT_SECRET`, or the file `FIELDLOOP_JWT_SECRET_FILE`
    /// names); by default one is made and kept in the database.
    pub jwt_secret: Option<String>,
    /// Approval authority by amount (§4.7.3).
    pub thresholds: crate::workflow::authority::Thresholds,
    /// Roles that dispatch service work (§2.2: the factory director).
    pub dispatchers: Vec<fieldloop_client_core::model::Role>,
    /// Mark the back office's cookies `Secure` (the default; off only on loopback, when told).
    pub cookie_secure: bool,
    /// How many recently merged documents are kept built in memory (0: none).
    pub doc_cache: usize,
    /// Passwords hashed at once (argon2 holds ~19 MiB each): a flood of sign-ins queues here
    /// instead of exhausting memory. Default: one per core.
    pub password_hashers: usize,
    /// How long a sign-in waits for a hasher before it is told the server is busy (503).
    pub password_wait_ms: u64,
    /// Bytes of uploaded blobs that no record refers to yet, per user: a phone uploads a
    /// signature or photo just before the record that uses it, so this is a little ahead.
    pub blob_quota_bytes: i64,
    /// Blobs no record refers to are deleted this many days after upload.
    pub blob_keep_days: i64,
    /// `FIELDLOOP_METRICS_TOKEN`: when set, `/metrics` answers those who send it as a bearer
    /// token; without it, clients on this machine (a local Prometheus or agent).
    pub metrics_token: Option<String>,
    /// `FIELDLOOP_PUBLIC_URL`: the back office's address as people open it, for the links in
    /// alerts (default `http://` and the listen address).
    pub public_url: String,
    /// `FIELDLOOP_SMTP_URL`: the mail relay for alerts (`smtps://user:pass@host:465`, or
    /// `smtp://host:25?tls=required`); no mail without it.
    pub smtp_url: Option<String>,
    /// `FIELDLOOP_MAIL_FROM`: the sender of alert mail.
    pub mail_from: String,
    /// `FIELDLOOP_ALERT_TICK_SECS`: how often deadlines are swept and alerts sent (default 30).
    pub alert_tick_secs: u64,
}

/// Whether the back office's cookies are `Secure`: always, unless the server is told
/// (`FIELDLOOP_COOKIE_SECURE=0`) that it serves plain HTTP, which is allowed on loopback only.
fn cookie_secure(addr: &str, setting: Option<&str>) -> anyhow::Result<bool> {
    match setting {
        None | Some("1" | "true") => Ok(true),
        Some("0" | "false") => {
            let loopback = addr
                .parse::<std::net::SocketAddr>()
                .map(|a| a.ip().is_loopback())
                .unwrap_or_else(|_| addr.starts_with("localhost:"));
            if loopback {
                Ok(false)
            } else {
                anyhow::bail!(
                    "FIELDLOOP_COOKIE_SECURE=0 is for plain HTTP on loopback only, not {addr}: serve the back office over HTTPS"
                )
            }
        }
        Some(other) => anyhow::bail!("FIELDLOOP_COOKIE_SECURE is 1 or 0, not '{other}'"),
    }
}

/// A setting that must be 1 or more.
fn positive(name: &str, n: i64) -> anyhow::Result<i64> {
    if n > 0 {
        Ok(n)
    } else {
        anyhow::bail!("{name} must be 1 or more, got {n}")
    }
}

/// One per core, at least one.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

impl Config {
    /// Reads `DATABASE_URL` (default: SQLite in `FIELDLOOP_DATA`, itself default `./data`),
    /// `FIELDLOOP_ADDR`, `FIELDLOOP_TIMEZONE`, `FIELDLOOP_ACCESS_TTL_SECS`,
    /// `FIELDLOOP_REFRESH_TTL_DAYS`, `FIELDLOOP_JWT_SECRET`, `FIELDLOOP_COOKIE_SECURE`,
    /// `FIELDLOOP_DOC_CACHE`, `FIELDLOOP_PASSWORD_HASHERS`, `FIELDLOOP_PASSWORD_WAIT_MS`,
    /// `FIELDLOOP_BLOB_QUOTA_MB`, `FIELDLOOP_BLOB_KEEP_DAYS` and `FIELDLOOP_METRICS_TOKEN`.
    pub fn from_env() -> anyhow::Result<Config> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) with each setting looked up by `lookup` (the command line's
    /// flags first, then the environment).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Config> {
        let var = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let database_url = match var("DATABASE_URL") {
            Some(url) => url,
            None => {
                let dir = PathBuf::from(var("FIELDLOOP_DATA").unwrap_or_else(|| "data".into()));
                Db::sqlite_url_in(&dir)?
            }
        };
        let timezone = var("FIELDLOOP_TIMEZONE")
            .unwrap_or_else(|| "Asia/Shanghai".into())
            .parse::<chrono_tz::Tz>()
            .map_err(|e| anyhow::anyhow!("FIELDLOOP_TIMEZONE: {e}"))?;
        let number = |name: &str, default: i64| -> anyhow::Result<i64> {
            match var(name) {
                Some(v) => v
                    .parse()
                    .map_err(|_| anyhow::anyhow!("{name} must be a whole number, got '{v}'")),
                None => Ok(default),
            }
        };
        Ok(Config {
            database_url,
            addr: var("FIELDLOOP_ADDR").unwrap_or_else(|| "127.0.0.1:8080".into()),
            timezone,
            access_ttl_secs: number("FIELDLOOP_ACCESS_TTL_SECS", 15 * 60)?,
            refresh_ttl_secs: number("FIELDLOOP_REFRESH_TTL_DAYS", 30)? * 86_400,
            jwt_secret: match (
                var("FIELDLOOP_JWT_SECRET"),
                var("FIELDLOOP_JWT_SECRET_FILE"),
            ) {
                (Some(secret), _) => Some(secret),
                (None, Some(path)) => Some(
                    std::fs::read_to_string(&path)
                        .map_err(|e| anyhow::anyhow!("FIELDLOOP_JWT_SECRET_FILE {path}: {e}"))?
                        .trim()
                        .to_string(),
                )
                .filter(|s| !s.is_empty()),
                (None, None) => None,
            },
            thresholds: thresholds_from_env()?,
            dispatchers: match var("FIELDLOOP_DISPATCHERS") {
                Some(list) => list
                    .split(',')
                    .map(|r| {
                        r.trim()
                            .parse()
                            .map_err(|e: String| anyhow::anyhow!("FIELDLOOP_DISPATCHERS: {e}"))
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?,
                None => vec![fieldloop_client_core::model::Role::FactoryDirector],
            },
            cookie_secure: cookie_secure(
                &var("FIELDLOOP_ADDR").unwrap_or_else(|| "127.0.0.1:8080".into()),
                var("FIELDLOOP_COOKIE_SECURE").as_deref(),
            )?,
            doc_cache: usize::try_from(number(
                "FIELDLOOP_DOC_CACHE",
                crate::doc_cache::DEFAULT_CAPACITY as i64,
            )?)
            .map_err(|_| anyhow::anyhow!("FIELDLOOP_DOC_CACHE must not be negative"))?,
            password_hashers: usize::try_from(number(
                "FIELDLOOP_PASSWORD_HASHERS",
                cores() as i64,
            )?)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| anyhow::anyhow!("FIELDLOOP_PASSWORD_HASHERS must be 1 or more"))?,
            password_wait_ms: u64::try_from(number("FIELDLOOP_PASSWORD_WAIT_MS", 2000)?)
                .map_err(|_| anyhow::anyhow!("FIELDLOOP_PASSWORD_WAIT_MS must not be negative"))?,
            blob_quota_bytes: positive(
                "FIELDLOOP_BLOB_QUOTA_MB",
                number("FIELDLOOP_BLOB_QUOTA_MB", 64)?,
            )? * 1024
                * 1024,
            blob_keep_days: positive(
                "FIELDLOOP_BLOB_KEEP_DAYS",
                number("FIELDLOOP_BLOB_KEEP_DAYS", 7)?,
            )?,
            public_url: var("FIELDLOOP_PUBLIC_URL").unwrap_or_else(|| {
                format!(
                    "http://{}",
                    var("FIELDLOOP_ADDR").unwrap_or_else(|| "127.0.0.1:8080".into())
                )
            }),
            smtp_url: var("FIELDLOOP_SMTP_URL"),
            mail_from: var("FIELDLOOP_MAIL_FROM")
                .unwrap_or_else(|| "Fieldloop <fieldloop@localhost>".into()),
            alert_tick_secs: u64::try_from(positive(
                "FIELDLOOP_ALERT_TICK_SECS",
                number("FIELDLOOP_ALERT_TICK_SECS", 30)?,
            )?)
            .unwrap_or(30),
            metrics_token: match var("FIELDLOOP_METRICS_TOKEN") {
                Some(t) if t.len() < 16 => anyhow::bail!(
                    "FIELDLOOP_METRICS_TOKEN must be at least 16 characters, so that it cannot be guessed"
                ),
                other => other,
            },
        })
    }

    /// A configuration for tests and tools: the given database, defaults otherwise.
    pub fn for_database(database_url: &str) -> Config {
        Config {
            database_url: database_url.to_string(),
            addr: "127.0.0.1:0".into(),
            timezone: chrono_tz::Asia::Shanghai,
            access_ttl_secs: 15 * 60,
            refresh_ttl_secs: 30 * 86_400,
            jwt_secret: None,
            thresholds: crate::workflow::authority::Thresholds::default(),
            dispatchers: vec![fieldloop_client_core::model::Role::FactoryDirector],
            cookie_secure: false,
            doc_cache: crate::doc_cache::DEFAULT_CAPACITY,
            password_hashers: cores(),
            password_wait_ms: 2000,
            blob_quota_bytes: 64 * 1024 * 1024,
            blob_keep_days: 7,
            metrics_token: None,
            public_url: "http://127.0.0.1:8080".into(),
            smtp_url: None,
            mail_from: "Fieldloop <fieldloop@localhost>".into(),
            alert_tick_secs: 30,
        }
    }

    /// The workflow's company rules.
    pub fn rules(&self) -> crate::workflow::complaint::Rules {
        crate::workflow::complaint::Rules {
            tz: self.timezone,
            thresholds: self.thresholds,
        }
    }
}

/// `FIELDLOOP_APPROVAL_MARKETING_MAX` and `FIELDLOOP_APPROVAL_CHAIRMAN_MIN`, in yuan
/// (defaults 1000 and 5000: "1000元以内" marketing, "5000元以上" the chairman).
fn thresholds_from_env() -> anyhow::Result<crate::workflow::authority::Thresholds> {
    use fieldloop_client_core::model::money::parse_yuan;
    let mut t = crate::workflow::authority::Thresholds::default();
    if let Ok(v) = std::env::var("FIELDLOOP_APPROVAL_MARKETING_MAX") {
        t.marketing_max_fen =
            parse_yuan(&v).map_err(|e| anyhow::anyhow!("FIELDLOOP_APPROVAL_MARKETING_MAX: {e}"))?;
    }
    if let Ok(v) = std::env::var("FIELDLOOP_APPROVAL_CHAIRMAN_MIN") {
        t.chairman_min_fen =
            parse_yuan(&v).map_err(|e| anyhow::anyhow!("FIELDLOOP_APPROVAL_CHAIRMAN_MIN: {e}"))?;
    }
    t.validate().map_err(anyhow::Error::msg)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::cookie_secure;

    #[test]
    fn cookies_are_secure_unless_plain_http_on_loopback() {
        assert!(cookie_secure("0.0.0.0:8080", None).unwrap());
        assert!(cookie_secure("127.0.0.1:8080", None).unwrap());
        assert!(cookie_secure("10.0.0.5:8080", Some("1")).unwrap());
        assert!(!cookie_secure("127.0.0.1:8080", Some("0")).unwrap());
        assert!(!cookie_secure("[::1]:8080", Some("0")).unwrap());
        assert!(!cookie_secure("localhost:8080", Some("false")).unwrap());
        assert!(cookie_secure("0.0.0.0:8080", Some("0")).is_err());
        assert!(cookie_secure("127.0.0.1:8080", Some("yes")).is_err());
    }
}
