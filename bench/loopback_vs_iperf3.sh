#!/usr/bin/env bash
# Single-stream loopback TCP: sta reactors vs Debian's iperf3, one run each,
# back to back. Usage: bench/loopback_vs_iperf3.sh BUILD_DIR [SECONDS]
set -euo pipefail
build=${1:-build/default}
seconds=${2:-10}
port=$((20000 + RANDOM % 20000))

iperf3 -s -B 127.0.0.1 -p "$port" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1  # waiting for iperf3 to listen, not synchronising a test
done
iperf=$(iperf3 -c 127.0.0.1 -p "$port" -t "$seconds" -J | /usr/bin/python3 -c \
  'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 8)')
sta=$("$build/bench/sta-bench" loopback --connections 1 --seconds "$seconds" --json | /usr/bin/python3 -c \
  'import json,sys; print(json.load(sys.stdin)["bytes_per_sec"])')
/usr/bin/python3 - "$iperf" "$sta" <<'PY'
import sys
iperf, sta = map(float, sys.argv[1:])
print(f"iperf3 single stream: {iperf / 2**30:.2f} GiB/s")
print(f"sta-bench loopback:   {sta / 2**30:.2f} GiB/s")
print(f"ratio sta/iperf3:     {sta / iperf:.2f}x (target >= 0.90)")
PY
