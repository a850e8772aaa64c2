#!/usr/bin/env bash
# Builds the phone library as apps ship it (the `phone` profile: LTO, one code unit, stripped)
# and fails when it passes 12 MiB, the size the phone SDK keeps to.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --quiet --profile phone -p fieldloop-ffi
lib="$target/phone/libfieldloop_ffi.so"
size=$(stat -c %s "$lib")
limit=$((12 * 1024 * 1024))
awk -v s="$size" -v l="$limit" 'BEGIN { printf "phone library: %d bytes (%.2f MiB; at most %.2f MiB)\n", s, s / 1048576, l / 1048576 }'
if [ "$size" -gt "$limit" ]; then
    echo "the phone library is larger than 12 MiB" >&2
    exit 1
fi
