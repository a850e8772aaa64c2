#!/usr/bin/env bash
# Runs every test of the project. PostgreSQL at 127.0.0.1:5432 is used when it runs; under CI
# (CI=true) it must, and it is started if it is installed but stopped.
set -euo pipefail
cd "$(dirname "$0")/.."

pg_up() {
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -h 127.0.0.1 -p 5432 -q
    else
        (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
    fi
}

if ! pg_up && command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi
if ! pg_up; then
    if [ "${CI:-}" = "true" ]; then
        echo "PostgreSQL is not reachable at 127.0.0.1:5432; CI runs the server suite on it" >&2
        exit 1
    fi
    echo "note: PostgreSQL is not reachable; its test variants will be skipped"
fi

# The back office's browser tests drive Debian's Chromium through ChromeDriver; screenshots of
# Chinese pages need CJK fonts (best effort).
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    echo "installing chromium and chromium-driver for the browser tests"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
if ! fc-list 2>/dev/null | grep -qi 'cjk'; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null ||
        echo "note: no CJK fonts; screenshots will show boxes for Chinese text"
fi

# Dependencies: licences, banned and duplicate versions, sources (deny.toml). The advisory
# database is fetched from outside this network, so advisories are checked only when asked
# (FIELDLOOP_ADVISORIES=1, on a machine that reaches it).
if ! command -v cargo-deny >/dev/null 2>&1; then
    echo "installing cargo-deny (once) for the dependency checks"
    cargo install --locked --quiet cargo-deny
fi
cargo deny --log-level error check licenses bans sources
if [ "${FIELDLOOP_ADVISORIES:-}" = "1" ]; then
    cargo deny --log-level error check advisories
fi

cargo test --workspace

# The phone SDK: no PostgreSQL or TLS server code may end up in the phone library.
if cargo tree -p fieldloop-ffi -e normal --prefix none | grep -iE 'sqlx-postgres|axum|hyper-server|tokio-postgres'; then
    echo "the phone library links server or PostgreSQL code" >&2
    exit 1
fi
# The API against its own description (schemathesis, as an admin and as a technician).
cargo build -p fieldloop-server
bash scripts/schema-check.sh

# Kotlin, Swift and Python bindings from the built library; the Python suite drives them
# against a real server.
cargo build -p fieldloop-server
bash scripts/bindings.sh
# pytest from PyPI; on a Debian Python that refuses user installs (PEP 668), the same package
# with the override, and Debian's own pytest as the last resort.
if ! python3 -c 'import pytest' 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check -r ffi/tests/python/requirements.txt ||
        python3 -m pip install --quiet --disable-pip-version-check --break-system-packages -r ffi/tests/python/requirements.txt ||
        { apt-get update -qq && apt-get install -y -qq python3-pytest; }
fi
python3 -m pytest -q ffi/tests/python
# The generated Kotlin compiles, and a Kotlin program drives the SDK against a real server.
bash scripts/kotlin-check.sh
# The phone library as shipped stays within its size.
bash scripts/phone-size.sh
# The deployment recipe (deploy/): nginx with a test CA in front of two instances on one
# PostgreSQL database, a phone syncing through it while one instance stops.
if pg_up; then
    bash scripts/deploy-check.sh
else
    echo "note: PostgreSQL is not reachable; the deployment check is skipped"
fi
