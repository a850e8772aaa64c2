#!/usr/bin/env bash
# Generates the phone SDK's bindings from the built library:
#   $CARGO_TARGET_DIR/bindings/{kotlin,swift,python}/ (target/ by default)
# Usage: bash scripts/bindings.sh [--release]
set -euo pipefail
cd "$(dirname "$0")/.."
profile=debug
flag=()
if [ "${1:-}" = "--release" ]; then
    profile=release
    flag=(--release)
fi
target="${CARGO_TARGET_DIR:-target}"
cargo build -p fieldloop-ffi "${flag[@]}"
cargo build -p fieldloop-uniffi-bindgen
lib="$target/$profile/libfieldloop_ffi.so"
for lang in python kotlin swift; do
    rm -rf "$target/bindings/$lang"
    "$target/debug/uniffi-bindgen" generate --library "$lib" --language "$lang" \
        --out-dir "$target/bindings/$lang" --no-format
done
cp "$lib" "$target/bindings/python/"
echo "bindings written to $target/bindings/ (kotlin, swift, python)"
