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
  libhiredis-dev
)
TEST_PKGS=(curl nghttp2-client aria2 python3-libtorrent e2fsprogs util-linux procps python3 iproute2 skopeo
           ffmpeg chromium nodejs ngtcp2-server ngtcp2-client redis-server redis-sentinel strace)
# Standard BitTorrent clients that read Shoal's hybrid .torrent (test_bt_clients.py).
TEST_PKGS+=(qbittorrent-nox rtorrent)
# Storage backends (issue 19): Ceph's RADOS Gateway as the S3 store, boto3 as an
# independent S3 client, the CNCF registry as a pull-through upstream.
TEST_PKGS+=(ceph-mon ceph-osd radosgw ceph-common python3-boto3 docker-registry)
# Benchmarks only (scripts/bench): the baselines Shoal is measured against.
BENCH_PKGS=(nginx-light wrk opentracker mktorrent gnuplot-nox)

want=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}" "${BENCH_PKGS[@]}")
if [ "${1:-}" = "--build-only" ]; then want=("${BUILD_PKGS[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# kubectl renders deploy/kubernetes offline (kustomize) in the deploy test. Some machines
# carry Google's kubectl package, which owns the same path as Debian's kubernetes-client:
# install Debian's only when no kubectl is there.
if [ "${1:-}" != "--build-only" ] && ! command -v kubectl >/dev/null 2>&1; then
  missing+=(kubernetes-client)
fi
# The HLS tests' npm packages (hls.js, hls-parser, playwright-core), from package-lock.json.
# nodejs is the machine's own build (20, with npm bundled; Debian 12's is 18, too old).
npm_tools() {
  if [ "${1:-}" != "--build-only" ] && command -v npm >/dev/null 2>&1; then
    "$(dirname "$0")/../tests/e2e/hls/install.sh"
  fi
}

if [ ${#missing[@]} -eq 0 ]; then
  npm_tools "${1:-}"
  exit 0
fi

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
npm_tools "${1:-}"
