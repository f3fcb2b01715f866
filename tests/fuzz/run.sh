#!/usr/bin/env bash
# Runs every built libFuzzer target for a bounded time on a copy of its seed
# corpus. Usage: tests/fuzz/run.sh BUILD_DIR SECONDS
set -euo pipefail
build=$1
seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/sta-fuzz-XXXXXX")
trap 'rm -rf "$work"' EXIT

status=0
for bin in "$build"/tests/fuzz/fuzz_*; do
  name=${bin##*/fuzz_}
  mkdir -p "$work/$name"
  cp -r "$here/corpus/$name/." "$work/$name/" 2>/dev/null || true
  echo "fuzz: $name for ${seconds}s"
  if ! "$bin" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
       -artifact_prefix="$work/" "$work/$name" > "$work/$name.log" 2>&1; then
    echo "fuzz: $name FAILED"; tail -40 "$work/$name.log"
    status=1
  else
    grep -E "^Done|#[0-9]+.*DONE" "$work/$name.log" | tail -1 || true
  fi
done
exit $status
