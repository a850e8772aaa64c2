#!/usr/bin/env bash
# Fuzzes the API against its own description with schemathesis, as an admin and as a
# technician: no server error, no status or content type the description does not list, no
# answer outside its schema. A server of its own on loopback, with its own data folder; it is
# stopped whatever happens. Bounded: a few examples per operation, each request 10 s at most.
set -euo pipefail
cd "$(dirname "$0")/.."

server="${CARGO_TARGET_DIR:-target}/debug/fieldloop-server"
[ -x "$server" ] || cargo build -p fieldloop-server
if ! command -v schemathesis >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check schemathesis ||
        python3 -m pip install --quiet --disable-pip-version-check --break-system-packages schemathesis
fi

data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
export FIELDLOOP_DATA="$data/data" FIELDLOOP_ADDR="127.0.0.1:$port"
admin_password='schema check admin password'
FIELDLOOP_ADMIN_PASSWORD="$admin_password" "$server" create-admin admin >/dev/null
"$server" serve >"$data/server.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
    curl -sf "$base/healthz" >/dev/null && break
    sleep 0.1
done

token() {
    curl -sf "$base/api/auth/login" -H 'content-type: application/json' \
        -d "{\"username\":\"$1\",\"password\":\"$2\"}" |
        python3 -c 'import sys, json; print(json.load(sys.stdin)["access_token"])'
}
admin=$(token admin "$admin_password")
curl -sf "$base/api/regions" -H "authorization: Bearer $admin" -H 'content-type: application/json' \
    -d '{"code":"wuhan","name":"武汉办事处"}' >/dev/null
curl -sf "$base/api/users" -H "authorization: Bearer $admin" -H 'content-type: application/json' \
    -d '{"username":"tech_schema","display_name":"tech","password":"schema check technician password","role":"technician","region":"wuhan"}' >/dev/null
tech=$(token tech_schema 'schema check technician password')

# The technician first: the admin's run may disable and enable that account (the fuzzer finds
# its id), which ends its sessions.
for who in tech admin; do
    echo "schemathesis as $who"
    timeout 600 schemathesis run "$base/api/openapi.json" \
        -H "Authorization: Bearer ${!who}" \
        --phases examples,fuzzing -n 5 -w 2 --request-timeout 10 \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
done
