#!/usr/bin/env bash
# The built-in default job: a local swarm on loopback. `sta tracker`, a
# seeder (`sta serve`) and a downloader (`sta get`, with live progress) move
# a generated file, and `sta verify` checks the copy.
# Usage: scripts/demo.sh BUILD_DIR   (STA_DEMO_MIB sets the size, default 512)
set -euo pipefail
build=${1:-build/default}
sta="$build/tools/sta"
mib=${STA_DEMO_MIB:-512}
source "$(dirname "$0")/lib/work_dir.sh" demo

echo "demo: generating $mib MiB of data in $work"
mkdir -p "$work/seed"
head -c $((mib << 20)) /dev/urandom > "$work/seed/demo.bin"

# The tracker picks a free port and prints its URLs on its first line. The
# file exists before the tracker starts, so the wait below never reads a
# missing file.
: > "$work/tracker.out"
"$sta" tracker --listen 127.0.0.1:0 --threads 1 > "$work/tracker.out" &
pids+=($!)
until read -r ready < "$work/tracker.out" && [[ -n "$ready" ]]; do
  kill -0 "${pids[0]}" || { echo "demo: the tracker did not start" >&2; exit 1; }
  sleep 0.1
done
announce=$(sed -E 's/.*announce (http[^,]+),.*/\1/' <<< "$ready")
echo "demo: $ready"

"$sta" create "$work/seed/demo.bin" -a "$announce" -o "$work/demo.torrent"
"$sta" info "$work/demo.torrent"

echo "demo: seeding from 127.0.0.2, downloading on 127.0.0.3"
"$sta" serve "$work/demo.torrent" "$work/seed" --listen 127.0.0.2:0 --no-dht 2> "$work/serve.err" &
pids+=($!)
"$sta" get "$work/demo.torrent" -o "$work/down" --listen 127.0.0.3:0 --no-dht -e

echo "demo: sta verify"
"$sta" verify "$work/demo.torrent" "$work/down"
