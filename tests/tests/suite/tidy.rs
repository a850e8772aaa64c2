//! Invariants of ARCHITECTURE.md checked by reading the source tree, so that a broken rule
//! fails the suite instead of waiting for a reviewer.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace holds the tests crate")
        .to_path_buf()
}

/// Every `.rs` file under `dir` (or `dir` itself), with its text.
fn sources(dir: &str) -> Vec<(String, String)> {
    let start = root().join(dir);
    let mut out = Vec::new();
    let mut todo = vec![start];
    while let Some(path) = todo.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).expect("a source folder") {
                todo.push(entry.expect("a folder entry").path());
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("a source file");
            let name = path
                .strip_prefix(root())
                .unwrap_or(&path)
                .display()
                .to_string();
            out.push((name, text));
        }
    }
    assert!(!out.is_empty(), "no sources under {dir}");
    out
}

/// The code of a file without its `#[cfg(test)]` module (tests may use what the code may not);
/// nothing of a file that is a test module of its own (`tests.rs`).
fn code_of<'a>(file: &str, text: &'a str) -> &'a str {
    if file.ends_with("/tests.rs") {
        return "";
    }
    text.split("#[cfg(test)]").next().unwrap_or(text)
}

/// The pure modules do no IO, read no clock and draw no random numbers: no IO crate is named,
/// and neither is the clock or a random source.
#[test]
fn pure_modules_name_no_io_crate() {
    const PURE: &[&str] = &[
        "client-core/src/model",
        "client-core/src/wire.rs",
        "server/src/workflow",
        "server/src/merge.rs",
        "server/src/access.rs",
        "server/src/export.rs",
    ];
    const BANNED: &[&str] = &[
        "sqlx", "tokio", "reqwest", "axum", "uniffi", "hyper", "rand::", "clock::", "std::fs",
        "std::net", "std::env", "Utc::now", "::now_v7", "::new_v4",
    ];
    let mut broken = Vec::new();
    for dir in PURE {
        for (file, text) in sources(dir) {
            for banned in BANNED {
                if code_of(&file, &text).contains(banned) {
                    broken.push(format!("{file} names {banned}"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "pure modules doing IO: {broken:#?}");
}

/// Only `server/src/db` speaks SQL on the server.
#[test]
fn only_db_speaks_sql() {
    let mut broken = Vec::new();
    for (file, text) in sources("server/src") {
        if file.starts_with("server/src/db") {
            continue;
        }
        for needle in [
            "sqlx::query",
            "sqlx::raw_sql",
            "SELECT ",
            "INSERT INTO",
            "UPDATE ",
        ] {
            if code_of(&file, &text).contains(needle) {
                broken.push(format!("{file} has {needle}"));
            }
        }
    }
    assert!(broken.is_empty(), "SQL outside db: {broken:#?}");
}

/// The edges call the application layer and never each other: the pages build no axum
/// extractors to call an API handler, and the application layer knows nothing of HTTP.
#[test]
fn edges_call_the_application_not_each_other() {
    let mut broken = Vec::new();
    for (file, text) in sources("server/src/web") {
        for needle in [
            "Auth(s.p",
            "State(state.clone())",
            "crate::http::complaints",
            "crate::http::service",
            "crate::http::visits",
        ] {
            if code_of(&file, &text).contains(needle) {
                broken.push(format!("{file} has {needle}"));
            }
        }
    }
    for (file, text) in sources("server/src/app")
        .into_iter()
        .chain(sources("server/src/workflow"))
    {
        for needle in ["axum", "StatusCode", "crate::http", "crate::web"] {
            if code_of(&file, &text).contains(needle) {
                broken.push(format!("{file} has {needle}"));
            }
        }
    }
    assert!(broken.is_empty(), "edges calling each other: {broken:#?}");
}

/// Every field path a server module writes or reads by name is in the field table: a path
/// literal such as `"billing.issued_at"` that the table does not know is a typo that would
/// read nothing or be refused at run time.
#[test]
fn field_path_literals_are_in_the_field_table() {
    use fieldloop_client_core::model::{DocKind, fields};
    const KINDS: [DocKind; 4] = [
        DocKind::Visit,
        DocKind::Receipt,
        DocKind::Complaint,
        DocKind::Feedback,
    ];
    // Sections of the documents: a literal that starts with one of these and a dot is a path.
    let sections: std::collections::BTreeSet<String> = KINDS
        .iter()
        .flat_map(|k| fields::fields(*k).iter().map(|s| s.path.to_string()))
        .filter_map(|p| p.split('.').next().map(str::to_string))
        .collect();
    let known = |path: &str| KINDS.iter().any(|k| fields::spec(*k, path).is_some());
    let mut broken = Vec::new();
    let mut checked = 0;
    for dir in ["server/src/app", "server/src/web", "server/src/records"] {
        for (file, text) in sources(dir) {
            for literal in code_of(&file, &text).split('"').skip(1).step_by(2) {
                let Some((section, rest)) = literal.split_once('.') else {
                    continue;
                };
                let is_path = sections.contains(section)
                    && !rest.is_empty()
                    && rest.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.'
                    });
                if is_path {
                    checked += 1;
                    if !known(literal) {
                        broken.push(format!("{file}: \"{literal}\""));
                    }
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "paths not in the field table: {broken:#?}"
    );
    assert!(
        checked > 50,
        "only {checked} path literals found: the scan is broken"
    );
}

/// Pages are built with maud, which escapes every value: no page writes HTML tags into a
/// string (a `format!`, `write!` or string literal opening a tag), where one forgotten escape
/// would let a customer's name run as markup.
#[test]
fn pages_build_no_html_from_strings() {
    let mut wrong = Vec::new();
    for (file, text) in sources("server/src/web") {
        for (n, line) in code_of(&file, &text).lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            let opens_tag = ["\"<", "#\"<", "r#\"<"]
                .iter()
                .any(|quote| code.contains(quote));
            if opens_tag || code.contains("fn esc(") {
                wrong.push(format!("{file}:{}: {code}", n + 1));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "HTML built from strings:\n{}",
        wrong.join("\n")
    );
}
