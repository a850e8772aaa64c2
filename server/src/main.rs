//! `fieldloop-server`: `serve` (default), `migrate`, `create-admin USERNAME`.

use std::io::BufRead as _;

use anyhow::{Context, bail};
use fieldloop_client_core::model::Role;
use fieldloop_server::auth::hash_password;
use fieldloop_server::db::accounts::User;
use fieldloop_server::{AppState, Clock as _, Config, Db, SystemClock};
use tracing_subscriber::EnvFilter;

const USAGE: &str = "usage: fieldloop-server [serve | migrate | create-admin USERNAME]

  serve                 run the server (default). DATABASE_URL picks the database: by default
                        embedded SQLite in ./data (FIELDLOOP_DATA); postgres://... for PostgreSQL.
                        FIELDLOOP_ADDR sets the address (default 127.0.0.1:8080).
  migrate               apply database migrations and exit.
  create-admin NAME     create an admin account; the password is read from
                        FIELDLOOP_ADMIN_PASSWORD or, if unset, from the first line of stdin.";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,tower_http=info")),
        )
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = Config::from_env()?;
    match args.first().map(String::as_str) {
        None | Some("serve") => serve(config).await,
        Some("migrate") => {
            let db = Db::connect(&config.database_url).await?;
            let applied = db.migrate(SystemClock.now().timestamp_millis()).await?;
            println!("{applied} migration(s) applied on {}", db.engine.name());
            Ok(())
        }
        Some("create-admin") => {
            let username = args.get(1).context(USAGE)?;
            create_admin(config, username).await
        }
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown command '{other}'\n{USAGE}"),
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    fieldloop_server::run(config, shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

async fn create_admin(config: Config, username: &str) -> anyhow::Result<()> {
    let password = match std::env::var("FIELDLOOP_ADMIN_PASSWORD") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    let username =
        fieldloop_server::auth::normalize_username(username).map_err(anyhow::Error::msg)?;
    fieldloop_server::auth::check_new_password(&password, &username).map_err(anyhow::Error::msg)?;
    let username = username.as_str();
    let state = AppState::open(config).await?;
    if state.db.user_by_username(username).await?.is_some() {
        bail!("the username '{username}' is taken");
    }
    let user = User {
        id: uuid::Uuid::now_v7(),
        username: username.to_string(),
        display_name: username.to_string(),
        password_hash: hash_password(&password)?,
        role: Role::Admin,
        region: None,
        active: true,
    };
    state.db.create_user(&user, state.now_ms()).await?;
    println!("admin '{username}' created ({})", user.id);
    Ok(())
}
