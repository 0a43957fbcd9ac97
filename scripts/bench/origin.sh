#!/usr/bin/env bash
# Origin throughput on loopback: push and pull a blob (1 GiB by default) through the
# CLI and compare with `openssl dgst -sha256` of the same file, this machine's ceiling
# for anything that must hash every byte. Median of RUNS runs. Prints MiB/s and ratios.
#
#   scripts/bench/origin.sh [SIZE_MIB] [RUNS]
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

size_mib=${1:-1024}
runs=${2:-3}
work=${SHOAL_BENCH_DIR:-/tmp/shoal-bench-origin}
mkdir -p "$work"
shoal_build
shoal_make_artifact "$work/blob.bin" "$size_mib"
bytes=$(stat -c %s "$work/blob.bin")
trap 'kill "$ORIGIN_PID" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work/origin" "$work/pulled"' EXIT

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { print b - a }'; }

hash_times=() push_times=() pull_times=()
for run in $(seq "$runs"); do
  cat "$work/blob.bin" >/dev/null  # same warm page cache for every method
  t0=$(shoal_now); shoal_sha256 "$work/blob.bin" >/dev/null; t1=$(shoal_now)
  hash_times+=("$(elapsed "$t0" "$t1")")

  rm -rf "$work/origin" "$work/pulled" "$work/state"
  shoal_start_origin "$work/origin"
  t0=$(shoal_now)
  "$SHOAL_BIN" push "$work/blob.bin" --origin "$ORIGIN_URL" --quiet --state-dir "$work/state" >/dev/null
  t1=$(shoal_now)
  push_times+=("$(elapsed "$t0" "$t1")")
  digest="sha256:$(shoal_sha256 "$work/blob.bin")"
  t0=$(shoal_now)
  "$SHOAL_BIN" pull "$digest" -o "$work/pulled" --origin "$ORIGIN_URL" --quiet
  t1=$(shoal_now)
  pull_times+=("$(elapsed "$t0" "$t1")")
  kill "$ORIGIN_PID"; wait "$ORIGIN_PID" 2>/dev/null || true
  echo "run $run: openssl ${hash_times[-1]}s, push ${push_times[-1]}s, pull ${pull_times[-1]}s" >&2
done

h=$(printf '%s\n' "${hash_times[@]}" | median)
p=$(printf '%s\n' "${push_times[@]}" | median)
l=$(printf '%s\n' "${pull_times[@]}" | median)
hr=$(shoal_rate "$bytes" "$h"); pr=$(shoal_rate "$bytes" "$p"); lr=$(shoal_rate "$bytes" "$l")
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "blob: $size_mib MiB, median of $runs runs, loopback"
printf '%-28s %10s %8s\n' method MiB/s ratio
printf '%-28s %10s %8s\n' "openssl dgst -sha256" "$hr" 1.00
printf '%-28s %10s %8s\n' "shoal push (CLI -> origin)" "$pr" "$(awk -v a="$pr" -v b="$hr" 'BEGIN { printf "%.2f", a / b }')"
printf '%-28s %10s %8s\n' "shoal pull (origin -> CLI)" "$lr" "$(awk -v a="$lr" -v b="$hr" 'BEGIN { printf "%.2f", a / b }')"
