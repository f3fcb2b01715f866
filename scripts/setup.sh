#!/usr/bin/env bash
# Installs the Debian 12 packages sta needs, and only those that are missing.
#   scripts/setup.sh build   compilers, CMake and libraries
#   scripts/setup.sh test    build + what the tests use (libtorrent, clang
#                            for fuzzing, chromium for the dashboard test,
#                            dpkg-dev for the package test)
#   scripts/setup.sh bench   build + iperf3, opentracker, libtorrent, aria2,
#                            transmission-cli and transmission-daemon to compare with
set -euo pipefail

profile=${1:-build}
packages=(g++ cmake ninja-build pkg-config libboost1.81-dev libboost-json1.81-dev
          libboost-url1.81-dev libssl-dev libxxhash-dev libgtest-dev libgmock-dev
          libbenchmark-dev libcli11-dev)
case "$profile" in
  build) ;;
  test) packages+=(python3 python3-libtorrent clang libclang-rt-14-dev chromium dpkg-dev opentracker openssl) ;;
  bench) packages+=(python3 python3-libtorrent iperf3 opentracker openssl transmission-daemon aria2 transmission-cli) ;;
  *) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
echo "setup: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
