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
