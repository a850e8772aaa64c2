#!/usr/bin/env bash
# Compiles the phone SDK's generated Kotlin bindings (JVM) and runs ffi/tests/kotlin against a
# real server on SQLite. Installs what it uses once: the Kotlin compiler from npm
# (`kotlin-compiler`, into target/tools) and JNA from Debian (`libjna-java`).
# Needs the bindings (scripts/bindings.sh) and the server (cargo build -p fieldloop-server).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
tools="$target/tools/kotlin"
kotlin="$tools/node_modules/kotlin-compiler"
if [ ! -x "$kotlin/bin/kotlinc-jvm" ]; then
    echo "installing the Kotlin compiler (npm kotlin-compiler 2.4.20) into $tools"
    mkdir -p "$tools"
    npm install --prefix "$tools" --no-audit --no-fund --loglevel=error kotlin-compiler@2.4.20 >/dev/null
fi
if [ ! -f /usr/share/java/jna.jar ]; then
    echo "installing JNA (libjna-java)"
    as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libjna-java >/dev/null
fi
lib="$kotlin/lib"
deps="/usr/share/java/jna.jar:$lib/kotlinx-coroutines-core-jvm.jar"
out="$target/kotlin-check"
rm -rf "$out" && mkdir -p "$out"
# The generated bindings, then the check program with every warning an error.
"$kotlin/bin/kotlinc-jvm" -nowarn -cp "$deps" "$target/bindings/kotlin/uniffi/fieldloop_ffi/fieldloop_ffi.kt" \
    -d "$out/sdk.jar" 2>&1 | grep -v '^warning:' || true
[ -f "$out/sdk.jar" ] || { echo "the Kotlin bindings do not compile" >&2; exit 1; }
"$kotlin/bin/kotlinc-jvm" -Werror -cp "$deps:$out/sdk.jar" ffi/tests/kotlin/PhoneSdkCheck.kt -d "$out/check.jar"

data="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export FIELDLOOP_DATA="$data" FIELDLOOP_ADDR="127.0.0.1:$port" FIELDLOOP_ADMIN_PASSWORD="admin-password-for-tests"
server="$target/debug/fieldloop-server"
"$server" create-admin admin >/dev/null
"$server" serve >"$data/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.2
done
started=$(date +%s)
java -Djna.library.path="$target/debug" -cp "$out/check.jar:$out/sdk.jar:$deps:$lib/kotlin-stdlib.jar" \
    PhoneSdkCheckKt "http://127.0.0.1:$port" "admin-password-for-tests"
echo "the Kotlin check ran in $(( $(date +%s) - started )) s"
