//! Fieldloop's benchmarks. Each scenario measures ours and a reference in the same run and
//! prints `bench <scenario>: ours=<v> <unit> ref=<v> <unit> ratio=<v> target=<op><v>`.
//! Run with `cargo run --release -p fieldloop-e2e --bin bench`.

use std::time::Instant;

use fieldloop_client_core::model::ownership::Author;
use fieldloop_client_core::model::{DocKind, FieldValue, Role};
use fieldloop_e2e::{Engine, TestServer, now};
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn line(scenario: &str, ours: f64, unit: &str, reference: f64, ref_unit: &str, target: &str) {
    let ratio = if reference > 0.0 {
        ours / reference
    } else {
        f64::NAN
    };
    println!(
        "bench {scenario}: ours={ours:.1} {unit} ref={reference:.1} {ref_unit} ratio={ratio:.2} target={target}"
    );
}

/// Single-row commits per second on a fresh SQLite file with the server's settings
/// (WAL, synchronous=FULL): the rate one-commit-per-document would be limited to.
async fn sqlite_commit_rate(dir: &std::path::Path, rows: usize) -> anyhow::Result<f64> {
    let options = SqliteConnectOptions::new()
        .filename(dir.join("reference.sqlite"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full);
    let mut conn = sqlx::SqliteConnection::connect_with(&options).await?;
    sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
        .execute(&mut conn)
        .await?;
    let body = vec![7u8; 1024];
    let started = Instant::now();
    for i in 0..rows {
        sqlx::query("INSERT INTO t (id, body) VALUES ($1, $2)")
            .bind(i as i64)
            .bind(&body)
            .execute(&mut conn)
            .await?;
    }
    Ok(rows as f64 / started.elapsed().as_secs_f64())
}

async fn upload_one_device(docs: usize) -> anyhow::Result<()> {
    let server = TestServer::start(Engine::Sqlite).await?.expect("sqlite");
    server.user("tech", Role::Technician, Some("wuhan")).await?;
    let dev = server.device("tech").await?;
    let tech = Author::Device(Role::Technician);
    for i in 0..docs {
        let doc = dev.store().create(DocKind::Visit, "wuhan", now()).await?;
        dev.store()
            .edit(
                doc.id(),
                tech,
                &[
                    (
                        "form.diagnosis",
                        FieldValue::Text(format!("hydraulic leak at fitting {i}")),
                    ),
                    ("form.travel_fen", FieldValue::Int(8_000 + i as i64)),
                    (
                        "form.arrived_at",
                        FieldValue::Text("2026-11-27T09:00:00+08:00".into()),
                    ),
                ],
                now(),
            )
            .await?;
    }
    let started = Instant::now();
    let mut marks = Vec::new();
    let report = dev
        .client
        .sync(|p| marks.push((p.docs_done, started.elapsed())))
        .await?;
    if std::env::var("BENCH_VERBOSE").is_ok() {
        eprintln!("progress marks: {marks:?}");
    }
    let ours = report.pushed as f64 / started.elapsed().as_secs_f64();
    assert_eq!(report.pushed, docs, "every document acknowledged");
    let reference = sqlite_commit_rate(server.dir.path(), docs).await?;
    line(
        "upload-1000-visits-1-device",
        ours,
        "docs/s",
        reference,
        "sqlite-commits/s",
        ">=1",
    );
    server.finish().await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    println!("load average at start: {}", load_average());
    upload_one_device(1000).await?;
    println!("load average at end: {}", load_average());
    Ok(())
}
