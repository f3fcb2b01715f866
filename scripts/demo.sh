#!/usr/bin/env bash
# The built-in default job: a local demo on loopback that ends with a
# verified file. Usage: scripts/demo.sh BUILD_DIR
set -euo pipefail
build=${1:-build/default}
sta="$build/tools/sta"
work=$(mktemp -d "${TMPDIR:-/tmp}/sta-demo-XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "demo: generating 256 MiB of data in $work"
mkdir -p "$work/seed"
head -c $((256 << 20)) /dev/urandom > "$work/seed/demo.bin"

echo "demo: sta create"
"$sta" create "$work/seed/demo.bin" -a http://127.0.0.1:6969/announce -o "$work/demo.torrent"
"$sta" info "$work/demo.torrent"
echo "demo: magnet: $("$sta" magnet "$work/demo.torrent")"

echo "demo: sta verify"
"$sta" verify "$work/demo.torrent" "$work/seed"
