#!/usr/bin/env bash
# The deployment recipe, run: deploy/nginx.conf with a test certificate authority in front of
# two server instances on one PostgreSQL database; a phone (the Python SDK) syncs through it,
# one instance is stopped mid-load and the phone finishes on the other. Everything listens on
# 127.0.0.1 and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    echo "installing nginx for the deployment check"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
fi
# The package's own site would listen on port 80; only this check's nginx runs.
as_root systemctl disable --now nginx >/dev/null 2>&1 || as_root service nginx stop >/dev/null 2>&1 || true
PYTHONPATH="$target/bindings/python" FIELDLOOP_SERVER="$target/debug/fieldloop-server" \
    python3 ffi/tests/deploy_check.py
