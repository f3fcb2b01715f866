#!/usr/bin/env bash
# Runs every benchmark; each prints ratios measured within its own run.
# Usage: bench/run_all.sh BUILD_DIR
set -euo pipefail
build=${1:-build/default}
here=$(dirname "$0")
"$build/bench/sta_codec_bench" --benchmark_min_time=0.2
"$build/bench/sta_reactor_bench" --benchmark_min_time=0.2
"$here/create_vs_openssl.sh" "$build"
"$here/loopback_vs_iperf3.sh" "$build"
"$build/bench/sta-bench" swarm --size 1GiB
"$build/bench/sta_send_paths_bench" 1024 5
"$here/tracker_vs_opentracker.sh" "$build"
"$build/bench/sta-bench" swarm --against libtorrent
# aria2 and Transmission move 5-50 MB/s on this loopback: less data, one round.
for client in aria2 transmission; do "$build/bench/sta-bench" swarm --against "$client" --size 128MiB --rounds 1; done
/usr/bin/python3 "$here/node_many_torrents.py" "$build/tools/sta"
python3 "$here/rate_limit_accuracy.py" "$build/tools/sta"
