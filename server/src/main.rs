//! `fieldloop-server`: `serve` (the default), `migrate`, `create-admin`, `backup`, `restore`.
//! Every setting is a flag or an environment variable (the flag wins); `--help` on any command
//! only prints.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use fieldloop_client_core::model::Role;
use fieldloop_server::auth::hash_password;
use fieldloop_server::db::accounts::User;
use fieldloop_server::{AppState, Clock as _, Config, Db, SystemClock};
use tracing_subscriber::EnvFilter;

/// Fieldloop's server: the sync endpoint, the back office and its API.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Address to listen on.
    #[arg(long, env = "FIELDLOOP_ADDR", global = true)]
    addr: Option<String>,
    /// Data folder of the embedded SQLite database (used when no database URL is given).
    #[arg(long, env = "FIELDLOOP_DATA", global = true)]
    data: Option<PathBuf>,
    /// `postgres://...` for PostgreSQL, or `sqlite://...`; by default SQLite in the data folder.
    #[arg(long, env = "DATABASE_URL", global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply the database migrations this version has, then exit.
    Migrate,
    /// Create an admin account. The password comes from FIELDLOOP_ADMIN_PASSWORD, or is asked
    /// for without echo on a terminal, or read from the first line of standard input.
    CreateAdmin {
        /// The admin's user name.
        username: String,
    },
    /// Write a consistent copy of the SQLite database (records, accounts, signatures and
    /// photos) to FILE, while the server runs. For PostgreSQL use pg_dump (README).
    Backup {
        /// The file to write; it must not exist yet.
        file: PathBuf,
    },
    /// Put a backup made by `backup` into an empty data folder; start the server afterwards.
    Restore {
        /// A file written by `backup`.
        file: PathBuf,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Err(e) = init_logs() {
        eprintln!("error: {e:#}");
        return std::process::ExitCode::FAILURE;
    }
    match run(&cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // One line that names what failed, never a backtrace.
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs go to standard error: readable lines on a terminal, one JSON object per line otherwise
/// (a journal or a log collector), or as `FIELDLOOP_LOG_FORMAT` (`text` or `json`) says.
/// `RUST_LOG` sets the levels (default `info`).
fn init_logs() -> anyhow::Result<()> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let terminal = std::io::stderr().is_terminal();
    let json = match std::env::var("FIELDLOOP_LOG_FORMAT").ok().as_deref() {
        None | Some("") => !terminal,
        Some("json") => true,
        Some("text") => false,
        Some(other) => bail!("FIELDLOOP_LOG_FORMAT is text or json, not '{other}'"),
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        logs.json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        logs.with_ansi(terminal).init();
    }
    Ok(())
}

async fn run(cli: &Cli) -> anyhow::Result<()> {
    match cli.command.as_ref().unwrap_or(&Command::Serve) {
        Command::Serve => fieldloop_server::run(config(cli)?, shutdown_signal()).await,
        Command::Migrate => {
            let config = config(cli)?;
            let db = Db::connect(&config.database_url).await?;
            let applied = db.migrate(SystemClock.now().timestamp_millis()).await?;
            println!("{applied} migration(s) applied on {}", db.engine.name());
            Ok(())
        }
        Command::CreateAdmin { username } => create_admin(config(cli)?, username).await,
        Command::Backup { file } => {
            let config = config(cli)?;
            if !config.database_url.starts_with("sqlite:") {
                bail!(
                    "backup copies the embedded SQLite database; for PostgreSQL use pg_dump (README, \"Backup and restore\")"
                );
            }
            let db = Db::connect(&config.database_url).await?;
            let bytes = db.backup_to(file).await?;
            println!("backup written to {} ({bytes} bytes)", file.display());
            Ok(())
        }
        Command::Restore { file } => {
            if !file.is_file() {
                bail!("there is no backup file {}", file.display());
            }
            let url = database_url(cli)?;
            let target = Db::restore_into(&url, file).await?;
            println!(
                "restored into {}; start the server to use it",
                target.display()
            );
            Ok(())
        }
    }
}

/// The database URL the flags and environment name.
fn database_url(cli: &Cli) -> anyhow::Result<String> {
    match (&cli.database_url, &cli.data) {
        (Some(url), _) => Ok(url.clone()),
        (None, Some(dir)) => Db::sqlite_url_in(dir),
        (None, None) => Db::sqlite_url_in(Path::new("data")),
    }
}

/// The configuration: the flags first, then the environment.
fn config(cli: &Cli) -> anyhow::Result<Config> {
    let url = database_url(cli)?;
    Config::from_lookup(|name| match name {
        "DATABASE_URL" => Some(url.clone()),
        "FIELDLOOP_ADDR" => cli.addr.clone(),
        other => std::env::var(other).ok(),
    })
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

/// The new admin's password: the environment, else asked for without echo on a terminal,
/// else the first line of standard input.
fn admin_password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("FIELDLOOP_ADMIN_PASSWORD")
        && !p.is_empty()
    {
        return Ok(p);
    }
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    if terminal {
        eprint!("password for the new admin (15 characters or more): ");
        std::io::stderr().flush()?;
        echo(false);
    }
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if terminal {
        echo(true);
        eprintln!();
    }
    read?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Turns the terminal's echo off or on (`stty`, as shells do).
fn echo(on: bool) {
    let _ = std::process::Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(std::process::Stdio::inherit())
        .status();
}

async fn create_admin(config: Config, username: &str) -> anyhow::Result<()> {
    let username =
        fieldloop_server::auth::normalize_username(username).map_err(anyhow::Error::msg)?;
    let password = admin_password()?;
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
        password_hash: hash_password(&password).context("hashing the password")?,
        role: Role::Admin,
        region: None,
        active: true,
    };
    state.db.create_user(&user, state.now_ms()).await?;
    println!("admin '{username}' created ({})", user.id);
    Ok(())
}
