//! The server as its own process, for tests that kill it (SIGKILL) in the middle of work.
//! Configured like `fieldloop-server serve` (DATABASE_URL / FIELDLOOP_DATA, FIELDLOOP_ADDR).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = fieldloop_server::Config::from_env()?;
    fieldloop_server::run(config, std::future::pending()).await
}
