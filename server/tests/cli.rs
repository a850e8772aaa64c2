//! The command line as an IT department meets it: `--version`, `--help` on every command with
//! no side effect, one-line errors without a backtrace, backup and restore refusals.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

fn server(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fieldloop-server"))
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("FIELDLOOP_DATA")
        .env_remove("FIELDLOOP_ADDR")
        .env("RUST_BACKTRACE", "1")
        .env("FIELDLOOP_ADMIN_PASSWORD", "an admin password long enough")
        .output()
        .expect("the server binary runs")
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn help_and_version_only_print() {
    let dir = tempfile::tempdir().unwrap();
    let out = server(dir.path(), &["--version"]);
    assert!(out.status.success());
    assert!(
        text(&out).starts_with("fieldloop-server "),
        "{}",
        text(&out)
    );
    for command in ["serve", "migrate", "create-admin", "backup", "restore"] {
        let out = server(dir.path(), &[command, "--help"]);
        assert!(out.status.success(), "{command}: {}", text(&out));
        assert!(text(&out).contains("Usage: fieldloop-server"), "{command}");
    }
    // Nothing was started or created: no data folder, no admin named --help.
    let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(entries.is_empty(), "{entries:?}");
}

#[test]
fn mistakes_end_with_one_line_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Tried: an unknown command, a missing argument, a backup over an existing file, a backup
    // of PostgreSQL, a restore into a folder that has a database, a restore of a file that is
    // not a backup, a restore of a file that does not exist.
    let out = server(dir.path(), &["bogus"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!text(&out).contains("backtrace"), "{}", text(&out));
    let out = server(dir.path(), &["create-admin"]);
    assert_eq!(out.status.code(), Some(2));

    let out = server(dir.path(), &["--data", "d", "create-admin", "boss"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = server(dir.path(), &["--data", "d", "backup", "one.sqlite"]);
    assert!(out.status.success(), "{}", text(&out));
    let before = std::fs::metadata(dir.path().join("one.sqlite"))
        .unwrap()
        .len();
    let refusals: [(&[&str], &str); 5] = [
        (&["--data", "d", "backup", "one.sqlite"], "exists already"),
        (
            &[
                "--database-url",
                "postgres://postgres@127.0.0.1:5432/none",
                "backup",
                "pg.sqlite",
            ],
            "pg_dump",
        ),
        (
            &["--data", "d", "restore", "one.sqlite"],
            "holds a database already",
        ),
        (&["--data", "e", "restore", "Cargo.toml"], "no backup file"),
        (
            &["--data", "e", "restore", "d/../missing.sqlite"],
            "no backup file",
        ),
    ];
    for (args, says) in refusals {
        let out = server(dir.path(), args);
        let said = text(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {said}");
        assert!(said.contains(says), "{args:?}: {said}");
        assert_eq!(said.trim().lines().count(), 1, "one line: {said}");
        assert!(!said.contains("backtrace"), "{said}");
    }
    std::fs::write(dir.path().join("junk.sqlite"), b"not a database").unwrap();
    let out = server(dir.path(), &["--data", "e", "restore", "junk.sqlite"]);
    assert!(
        text(&out).contains("is not a Fieldloop backup"),
        "{}",
        text(&out)
    );
    assert!(!dir.path().join("e/fieldloop.sqlite").exists());
    assert_eq!(
        std::fs::metadata(dir.path().join("one.sqlite"))
            .unwrap()
            .len(),
        before,
        "the existing backup was not overwritten"
    );
    // The good path: restore into an empty folder, and the admin is there.
    let out = server(dir.path(), &["--data", "r", "restore", "one.sqlite"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = server(dir.path(), &["--data", "r", "create-admin", "boss"]);
    assert!(text(&out).contains("is taken"), "{}", text(&out));
}

/// Runs the server with `args` and waits at most `secs` for it to end: (exit code, output).
/// `None` if it was still running (then it is killed).
fn run_for(dir: &Path, args: &[&str], secs: u64) -> Option<(Option<i32>, String)> {
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_fieldloop-server"))
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("FIELDLOOP_DATA")
        .env_remove("FIELDLOOP_ADDR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server binary runs");
    let deadline = fieldloop_server::clock::monotonic() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            return Some((status.code(), text(&out)));
        }
        if fieldloop_server::clock::monotonic() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_start_that_cannot_work_ends_within_seconds_naming_why() {
    let dir = tempfile::tempdir().unwrap();
    // Tried: a port in use, a second server on one SQLite folder, PostgreSQL not listening,
    // a PostgreSQL database that does not exist.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, said) = run_for(dir.path(), &["--data", "a", "--addr", &addr, "serve"], 15)
        .expect("ends by itself");
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains(&format!("cannot listen on {addr}")), "{said}");

    let first_addr = format!("127.0.0.1:{}", free_port());
    let mut first = Command::new(env!("CARGO_BIN_EXE_fieldloop-server"))
        .args(["--data", "b", "--addr", &first_addr, "serve"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let up = (0..200).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        std::net::TcpStream::connect(&first_addr).is_ok()
    });
    let second_addr = format!("127.0.0.1:{}", free_port());
    let second = run_for(
        dir.path(),
        &["--data", "b", "--addr", &second_addr, "serve"],
        15,
    );
    let _ = first.kill();
    let _ = first.wait();
    assert!(up, "the first server started");
    let (code, said) = second.expect("the second ends by itself");
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains("another fieldloop-server is running"),
        "{said}"
    );

    let started = fieldloop_server::clock::monotonic();
    let (code, said) = run_for(
        dir.path(),
        &[
            "--database-url",
            "postgres://postgres:secret@127.0.0.1:1/x",
            "serve",
        ],
        20,
    )
    .expect("ends by itself");
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains("cannot reach PostgreSQL at postgres://postgres@127.0.0.1:1/x"),
        "{said}"
    );
    assert!(!said.contains("secret"), "no password in messages: {said}");
    assert!(started.elapsed().as_secs() < 15);

    let (code, said) = run_for(
        dir.path(),
        &[
            "--database-url",
            "postgres://postgres@127.0.0.1:5432/fieldloop_no_such_database",
            "serve",
        ],
        20,
    )
    .expect("ends by itself");
    assert_eq!(code, Some(1), "{said}");
    let reachable = !said.contains("cannot reach");
    if reachable || std::env::var("CI").as_deref() == Ok("true") {
        assert!(said.contains("does not exist; create it"), "{said}");
    }
}

/// Off a terminal (a journal, a file), each log line is one JSON object; the access log line of
/// a request names its method, path, status and time. A bad `FIELDLOOP_LOG_FORMAT` ends the
/// start with one line.
#[test]
fn logs_off_a_terminal_are_json_lines() {
    use std::io::{Read as _, Write as _};
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fieldloop-server"))
        .args(["--data", "d", "serve"])
        .current_dir(dir.path())
        .env("FIELDLOOP_LOG_FORMAT", "xml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("FIELDLOOP_LOG_FORMAT is text or json, not 'xml'"),
        "{}",
        text(&out)
    );

    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_fieldloop-server"))
        .args(["--data", "d", "--addr", &addr, "serve"])
        .current_dir(dir.path())
        .env_remove("FIELDLOOP_LOG_FORMAT")
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut answered = String::new();
    for _ in 0..200 {
        if let Ok(mut stream) = std::net::TcpStream::connect(&addr) {
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            stream.read_to_string(&mut answered).unwrap();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    let logs = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        !logs.contains('\u{1b}'),
        "no colour codes in a log file: {logs}"
    );
    let access = lines
        .iter()
        .find(|l| l["span"]["path"] == "/healthz" && l["fields"]["status"] == 200)
        .unwrap_or_else(|| panic!("no access line for /healthz in {logs}"));
    assert_eq!(access["span"]["method"], "GET");
    assert_eq!(access["level"], "INFO");
    assert!(access["fields"]["latency"].is_string(), "{access}");
}
