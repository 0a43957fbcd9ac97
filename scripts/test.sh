#!/usr/bin/env bash
# Installs what is missing, builds Shoal with AddressSanitizer + UndefinedBehaviorSanitizer,
# and runs every test through ctest: the quick unit tests first, then integration and
# end-to-end tests, slow ones last. Non-zero exit on any failure.
#
#   scripts/test.sh              everything
#   scripts/test.sh -L unit      only tests with a ctest label (extra args go to ctest)
#
# CI runs this through .ci/run with CI=true in the environment (this script sets nothing):
# a test that needs a tool scripts/install-deps.sh installs then fails instead of skipping
# (tests/integration/shoal_harness.py: require_tool).
set -euo pipefail
cd "$(dirname "$0")/.."

# Layering: the components see the HTTP stack only through http/exchange.h, http/server.h,
# http/client.h, http/offload.h and the protocol-neutral helpers in http/, never through
# the protocol internals in http/h1, h2, h3 and mux.
if layering=$(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]http/(h1|h2|h3|mux)/' \
                origin tracker peer edge); then
  echo "test.sh: origin/tracker/peer/edge must not include http/{h1,h2,h3,mux}/ internals:" >&2
  echo "$layering" >&2
  exit 1
fi

scripts/install-deps.sh
build_dir=${SHOAL_TEST_BUILD_DIR:-build-asan}
if [ ! -f "$build_dir/build.ninja" ]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSHOAL_SANITIZE=ON >/dev/null
fi
cmake --build "$build_dir" -j "$(nproc)"

export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=16:detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
jobs=$(nproc)

if [ $# -gt 0 ]; then
  exec ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" "$@"
fi
ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" -L unit

# Every parser gets a short libFuzzer run (clang, its own build directory).
fuzz_dir=${SHOAL_FUZZ_BUILD_DIR:-build-fuzz}
if [ ! -f "$fuzz_dir/build.ninja" ]; then
  CXX=clang++ cmake -S . -B "$fuzz_dir" -G Ninja -DSHOAL_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$fuzz_dir" -j "$jobs"
ctest --test-dir "$fuzz_dir" --output-on-failure -j "$jobs" -L fuzz
ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" -LE "unit|slow"
# The fan-out test measures how much the origin sends, which depends on how fast the
# peers are next to the origin: a sanitizer build slows Shoal's code but not
# libtorrent's, so that test runs against an optimised build (SHOAL_PERF_BIN).
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build build -j "$jobs" --target shoal
SHOAL_PERF_BIN=$PWD/build/shoal ctest --test-dir "$build_dir" --output-on-failure -j 1 -L slow
