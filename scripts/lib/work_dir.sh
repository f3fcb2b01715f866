# Sourced by scripts that run background processes in a temporary directory:
# makes $work, starts the $pids list, and on exit kills every pid in it and
# removes $work.  Usage: source scripts/lib/work_dir.sh NAME
work=$(mktemp -d "${TMPDIR:-/tmp}/sta-$1-XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
