#!/usr/bin/env bash
# Origin throughput on loopback: push and pull a blob (1 GiB by default) through the
# CLI, against `openssl dgst -sha256` of the same file, the ceiling for anything that
# must hash every byte. Measured twice: with origin data and pulled file on tmpfs
# (/dev/shm: Shoal's own cost) and on the disk (/var/tmp: what the disk allows, whose
# durable write rate `dd conv=fsync` shows). Median of RUNS runs per figure.
#
#   scripts/bench/origin.sh [SIZE_MIB] [RUNS]
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

size_mib=${1:-1024}
runs=${2:-3}
dirs=${SHOAL_BENCH_DIRS:-"/dev/shm/shoal-bench-origin /var/tmp/shoal-bench-origin"}
shoal_build
trap 'kill "${ORIGIN_PID:-}" 2>/dev/null || true; wait 2>/dev/null || true; for d in $dirs; do rm -rf "$d"; done' EXIT


bench_in() {
  local work=$1 bytes hash_times=() push_times=() pull_times=() t0 t1 digest
  mkdir -p "$work"
  shoal_make_artifact "$work/blob.bin" "$size_mib"
  bytes=$(stat -c %s "$work/blob.bin")
  digest="sha256:$(shoal_sha256 "$work/blob.bin")"
  for run in $(seq "$runs"); do
    cat "$work/blob.bin" >/dev/null  # the same warm page cache for every method
    t0=$(shoal_now); shoal_sha256 "$work/blob.bin" >/dev/null; t1=$(shoal_now)
    hash_times+=("$(shoal_elapsed "$t0" "$t1")")
    rm -rf "$work/origin" "$work/pulled" "$work/state"
    shoal_start_origin "$work/origin"
    t0=$(shoal_now)
    "$SHOAL_BIN" push "$work/blob.bin" --origin "$ORIGIN_URL" --quiet --state-dir "$work/state" >/dev/null
    t1=$(shoal_now)
    push_times+=("$(shoal_elapsed "$t0" "$t1")")
    t0=$(shoal_now)
    "$SHOAL_BIN" pull "$digest" -o "$work/pulled" --origin "$ORIGIN_URL" --quiet
    t1=$(shoal_now)
    pull_times+=("$(shoal_elapsed "$t0" "$t1")")
    kill "$ORIGIN_PID"; wait "$ORIGIN_PID" 2>/dev/null || true
    echo "$work run $run: openssl ${hash_times[-1]}s push ${push_times[-1]}s pull ${pull_times[-1]}s" >&2
  done
  local h p l hr pr lr
  h=$(printf '%s\n' "${hash_times[@]}" | shoal_median)
  p=$(printf '%s\n' "${push_times[@]}" | shoal_median)
  l=$(printf '%s\n' "${pull_times[@]}" | shoal_median)
  hr=$(shoal_rate "$bytes" "$h"); pr=$(shoal_rate "$bytes" "$p"); lr=$(shoal_rate "$bytes" "$l")
  printf '%-26s %-18s %10s %8s\n' "openssl dgst -sha256" "$work" "$hr" 1.00
  printf '%-26s %-18s %10s %8s\n' "shoal push (CLI->origin)" "$work" "$pr" "$(shoal_ratio "$pr" "$hr")"
  printf '%-26s %-18s %10s %8s\n' "shoal pull (origin->CLI)" "$work" "$lr" "$(shoal_ratio "$lr" "$hr")"
  rm -rf "$work"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "blob: $size_mib MiB, median of $runs runs, loopback"
printf '%-26s %-18s %10s %8s\n' method storage MiB/s ratio
for d in $dirs; do bench_in "$d"; done
for d in $dirs; do
  mkdir -p "$d"
  rate=$(dd if=/dev/zero of="$d/dd.bin" bs=1M count="$size_mib" conv=fsync 2>&1 | awk -F, '/copied/ { print $NF }')
  printf '%-26s %-18s %10s\n' "dd conv=fsync (write)" "$d" "$rate"
  rm -rf "$d"
done
