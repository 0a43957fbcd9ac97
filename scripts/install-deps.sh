#!/usr/bin/env bash
# Installs every Debian 12 package Shoal needs to build, test and benchmark.
# Idempotent and quick when nothing is missing: only absent packages reach apt-get.
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake ninja-build pkg-config ccache git
  libboost-dev libboost-program-options-dev
  libssl-dev openssl
  libtorrent-rasterbar-dev
  libnghttp2-dev
  libngtcp2-dev libngtcp2-crypto-gnutls-dev libnghttp3-dev libgnutls28-dev
  libgtest-dev libgmock-dev
  clang libclang-rt-14-dev
  libjemalloc-dev nlohmann-json3-dev
)
TEST_PKGS=(curl nghttp2-client aria2 python3-libtorrent e2fsprogs util-linux procps python3 iproute2 skopeo)
# Benchmarks only (scripts/bench): the baselines Shoal is measured against.
BENCH_PKGS=(nginx-light wrk)

want=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}" "${BENCH_PKGS[@]}")
if [ "${1:-}" = "--build-only" ]; then want=("${BUILD_PKGS[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}); run as root" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
stamp=/var/lib/apt/periodic/shoal-update-stamp
if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +360 2>/dev/null)" ]; then
  apt-get update -q
  mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi
apt-get install -y -q --no-install-recommends "${missing[@]}"
