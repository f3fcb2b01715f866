#!/usr/bin/env bash
# `sta create` hashing rate on every core vs one core of SHA-1, one run.
# Usage: bench/create_vs_openssl.sh BUILD_DIR [SIZE]
set -euo pipefail
build=${1:-build/default}
size=${2:-1GiB}
echo "== openssl speed -evp sha1 (one core, 1 MiB blocks) =="
openssl speed -evp sha1 -bytes 1048576 -seconds 3 2>/dev/null | tail -1
echo "== sta-bench hash --size $size (alternating with in-process EVP SHA-1 of a cache-hot block and of the file) =="
"$build/bench/sta-bench" hash --size "$size" --rounds 5
