#!/usr/bin/env bash
# sta tracker vs Debian's opentracker on loopback, loaded by the same
# generator (sta-bench tracker) in one run, over HTTP and over UDP (BEP 15),
# plus each tracker's memory after 1,000 swarms x 1,000 peers. Debian builds opentracker in whitelist mode, so
# both trackers get the same whitelist of the benchmark's swarms.
# Usage: bench/tracker_vs_opentracker.sh BUILD_DIR [SECONDS] [CONNECTIONS]
set -euo pipefail
build=${1:-build/default}
seconds=${2:-10}
connections=${3:-32}
bench="$build/bench/sta-bench"
sta="$build/tools/sta"
source "$(dirname "$0")/../scripts/lib/work_dir.sh" trackerbench
chmod 755 "$work"

"$bench" tracker --list-swarms --swarms 1000 > "$work/whitelist"

start_opentracker() {  # PORT: starts it in $work (its chroot; the whitelist path is relative to it)
  (cd "$work" && exec opentracker -i 127.0.0.1 -p "$1" -P "$1" -d "$work" -u nobody -w whitelist >/dev/null 2>&1) &
  pids+=($!)
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05  # waiting for a server to listen, not synchronising a test
  done
  echo "opentracker did not start" >&2
  exit 1
}
start_sta() {  # OUT_FILE extra args...; the announce URL ends up in OUT_FILE
  local out=$1; shift
  # The generator is thousands of peers on one address: the per-IP limits
  # (which opentracker does not have) are off, as for any load generator.
  "$sta" tracker --listen 127.0.0.1:0 --max-peers-per-ip 0 --max-new-swarms-per-ip 0 --max-connections-per-ip 0 \
    "$@" > "$out" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    grep -q "ready" "$out" 2>/dev/null && break
    sleep 0.05  # waiting for a server to listen, not synchronising a test
  done
}
url_in() { grep -o 'http://[^ ,]*/announce' "$1"; }
udp_url_in() { grep -o 'udp://[^ ,]*/announce' "$1"; }
field() { /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

ot_port=$((20000 + RANDOM % 20000))
start_opentracker "$ot_port"
ot_pid=${pids[-1]}
start_sta "$work/sta1.out" --whitelist "$work/whitelist"
sta_pid=${pids[-1]}
sta_url=$(url_in "$work/sta1.out")

echo "== announces: $connections keep-alive connections, ${seconds}s each, same generator =="
"$bench" tracker --url "http://127.0.0.1:$ot_port/announce" --seconds 1 --connections "$connections" >/dev/null
"$bench" tracker --url "$sta_url" --seconds 1 --connections "$connections" >/dev/null
ot=$("$bench" tracker --url "http://127.0.0.1:$ot_port/announce" --seconds "$seconds" --connections "$connections" --json)
st=$("$bench" tracker --url "$sta_url" --seconds "$seconds" --connections "$connections" --json)
echo "opentracker: $ot"
echo "sta tracker: $st"
ot_rps=$(echo "$ot" | field requests_per_sec)
st_rps=$(echo "$st" | field requests_per_sec)
/usr/bin/python3 -c "print(f'ratio sta/opentracker: {$st_rps / $ot_rps:.2f}x (target >= 1.5)')"

echo "== UDP announces: $connections sockets, one request in flight each, 3 alternating rounds of ${seconds}s, same generator =="
sta_udp=$(udp_url_in "$work/sta1.out")
ot_udp="udp://127.0.0.1:$ot_port/announce"
"$bench" tracker --udp --url "$ot_udp" --seconds 1 --connections "$connections" >/dev/null
"$bench" tracker --udp --url "$sta_udp" --seconds 1 --connections "$connections" >/dev/null
ratios=()
for round in 1 2 3; do
  ot=$("$bench" tracker --udp --url "$ot_udp" --seconds "$seconds" --connections "$connections" --json)
  st=$("$bench" tracker --udp --url "$sta_udp" --seconds "$seconds" --connections "$connections" --json)
  echo "round $round opentracker: $ot"
  echo "round $round sta tracker: $st"
  ratios+=("$(/usr/bin/python3 -c "print($(echo "$st" | field requests_per_sec) / $(echo "$ot" | field requests_per_sec))")")
done
/usr/bin/python3 -c "import statistics; r = [${ratios[0]}, ${ratios[1]}, ${ratios[2]}]; print(f'ratio sta/opentracker over UDP: {statistics.median(r):.2f}x median of {\", \".join(f\"{x:.2f}\" for x in r)} (target >= 1.5)')"
kill "$ot_pid" "$sta_pid"

echo "== memory after 1,000 swarms x 1,000 peers =="
ot_port=$((ot_port + 1))
start_opentracker "$ot_port"
ot_pid=${pids[-1]}
start_sta "$work/sta2.out"
sta_pid=${pids[-1]}
sta_url=$(url_in "$work/sta2.out")
echo "opentracker fill: $("$bench" tracker --url "http://127.0.0.1:$ot_port/announce" --fill --swarms 1000 --peers 1000 --connections "$connections")"
echo "sta tracker fill: $("$bench" tracker --url "$sta_url" --fill --swarms 1000 --peers 1000 --connections "$connections")"
echo "opentracker RSS: $(( $(rss_kib "$ot_pid") / 1024 )) MiB"
echo "sta tracker RSS: $(( $(rss_kib "$sta_pid") / 1024 )) MiB"
