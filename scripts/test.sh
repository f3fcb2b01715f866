#!/usr/bin/env bash
# Builds and runs every test: the normal build with -Werror, ASan+UBSan,
# TSan (engine tests), and each libFuzzer target for a bounded time.
# Assumes scripts/setup.sh test has run.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz_seconds=${STA_FUZZ_SECONDS:-30}
# The sanitizer runs need only what their tests run (benchmarks are left out).
test_targets=(sta_codec_tests sta_engine_tests sta_fixed_buffer_tests sta_http_tests sta_tracker_tests sta)

step() { printf '\n== %s ==\n' "$*"; }

step "build (RelWithDebInfo, -Werror)"
cmake --preset ci >/dev/null
cmake --build --preset ci
step "tests"
ctest --preset ci

step "build (ASan+UBSan)"
cmake --preset asan >/dev/null
cmake --build --preset asan --target "${test_targets[@]}"
step "tests under ASan+UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --preset asan -LE 'interop|package'

step "build (TSan)"
cmake --preset tsan >/dev/null
cmake --build --preset tsan --target "${test_targets[@]}"
step "engine tests under TSan"
TSAN_OPTIONS=halt_on_error=1 ctest --preset tsan -LE 'interop|package'

step "fuzzing (${fuzz_seconds}s per target)"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
tests/fuzz/run.sh build/fuzz "$fuzz_seconds"
