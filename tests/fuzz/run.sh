#!/usr/bin/env bash
# Runs every built libFuzzer target for a bounded time on a copy of its seed
# corpus, as many at once as there are cores (each target uses one), then
# reports them in order. Usage: tests/fuzz/run.sh BUILD_DIR SECONDS
set -euo pipefail
build=$1
seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/sta-fuzz-XXXXXX")
trap 'rm -rf "$work"' EXIT
parallel=$(nproc)

# Runs one target; its exit status goes to NAME.rc, so the runner itself
# never fails (a failure is reported below).
fuzz_one() {
  local bin=$1 name=${1##*/fuzz_}
  mkdir -p "$work/$name"
  cp -r "$here/corpus/$name/." "$work/$name/" 2>/dev/null || true
  local rc=0
  "$bin" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
    -artifact_prefix="$work/$name-" "$work/$name" > "$work/$name.log" 2>&1 || rc=$?
  echo "$rc" > "$work/$name.rc"
}

targets=("$build"/tests/fuzz/fuzz_*)
echo "fuzz: ${#targets[@]} targets for ${seconds}s each, ${parallel} at a time"
for bin in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do wait -n || true; done
  fuzz_one "$bin" &
done
wait

status=0
for bin in "${targets[@]}"; do
  name=${bin##*/fuzz_}
  if [ "$(cat "$work/$name.rc")" != 0 ]; then
    echo "fuzz: $name FAILED"; tail -40 "$work/$name.log"
    status=1
  else
    echo "fuzz: $name: $(grep -E "^Done|#[0-9]+.*DONE" "$work/$name.log" | tail -1 || true)"
  fi
done
exit $status
