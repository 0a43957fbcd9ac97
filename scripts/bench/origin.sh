#!/usr/bin/env bash
# Origin throughput on loopback: push and pull a blob (1 GiB by default) through the
# CLI, against `openssl dgst -sha256` of the same file, the ceiling for anything that
# must hash every byte. Measured twice: with origin data and pulled file on tmpfs
# (/dev/shm: Shoal's own cost) and on the disk (/var/tmp: what the disk allows, whose
# durable write rate `dd conv=fsync` shows). Median of RUNS runs per figure; CPU is
# the CLI's and the origin's together (user + system), per GiB moved.
#
#   scripts/bench/origin.sh [SIZE_MIB] [RUNS]
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

size_mib=${1:-1024}
runs=${2:-3}
dirs=${SHOAL_BENCH_DIRS:-"/dev/shm/shoal-bench-origin /var/tmp/shoal-bench-origin"}
shoal_build
trap 'kill "${ORIGIN_PID:-}" 2>/dev/null || true; wait 2>/dev/null || true; for d in $dirs; do rm -rf "$d"; done' EXIT


# timed TIMES CPUS CMD...: runs CMD, appending its wall seconds to the array TIMES and
# the CPU seconds of it and the origin together to the array CPUS.
timed() {
  local -n times=$1 cpus=$2
  shift 2
  local t0 t1 o0 o1 TIMEFORMAT='%U %S'
  o0=$(shoal_cpu_seconds "$ORIGIN_PID")
  t0=$(shoal_now)
  { time "$@" >/dev/null; } 2>"$work/cpu"
  t1=$(shoal_now)
  o1=$(shoal_cpu_seconds "$ORIGIN_PID")
  times+=("$(shoal_elapsed "$t0" "$t1")")
  cpus+=("$(awk -v c="$(shoal_child_cpu "$work/cpu")" -v a="$o0" -v b="$o1" 'BEGIN { print c + b - a }')")
}

bench_in() {
  local work=$1 bytes hash_times=() push_times=() pull_times=() push_cpu=() pull_cpu=() t0 t1 digest
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
    timed push_times push_cpu "$SHOAL_BIN" push "$work/blob.bin" --origin "$ORIGIN_URL" --quiet \
      --state-dir "$work/state"
    timed pull_times pull_cpu "$SHOAL_BIN" pull "$digest" -o "$work/pulled" --origin "$ORIGIN_URL" --quiet
    kill "$ORIGIN_PID"; wait "$ORIGIN_PID" 2>/dev/null || true
    echo "$work run $run: openssl ${hash_times[-1]}s push ${push_times[-1]}s pull ${pull_times[-1]}s" >&2
  done
  local h p l hr pr lr pc lc
  pc=$(shoal_per_gib "$(printf '%s\n' "${push_cpu[@]}" | shoal_median)" "$bytes")
  lc=$(shoal_per_gib "$(printf '%s\n' "${pull_cpu[@]}" | shoal_median)" "$bytes")
  h=$(printf '%s\n' "${hash_times[@]}" | shoal_median)
  p=$(printf '%s\n' "${push_times[@]}" | shoal_median)
  l=$(printf '%s\n' "${pull_times[@]}" | shoal_median)
  hr=$(shoal_rate "$bytes" "$h"); pr=$(shoal_rate "$bytes" "$p"); lr=$(shoal_rate "$bytes" "$l")
  printf '%-26s %-18s %10s %8s\n' "openssl dgst -sha256" "$work" "$hr" 1.00
  printf '%-26s %-18s %10s %8s %10s\n' "shoal push (CLI->origin)" "$work" "$pr" "$(shoal_ratio "$pr" "$hr")" "$pc"
  printf '%-26s %-18s %10s %8s %10s\n' "shoal pull (origin->CLI)" "$work" "$lr" "$(shoal_ratio "$lr" "$hr")" "$lc"
  rm -rf "$work"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "blob: $size_mib MiB, median of $runs runs, loopback"
printf '%-26s %-18s %10s %8s %10s\n' method storage MiB/s ratio "CPU-s/GiB"
for d in $dirs; do bench_in "$d"; done
for d in $dirs; do
  mkdir -p "$d"
  rate=$(dd if=/dev/zero of="$d/dd.bin" bs=1M count="$size_mib" conv=fsync 2>&1 | awk -F, '/copied/ { print $NF }')
  printf '%-26s %-18s %10s\n' "dd conv=fsync (write)" "$d" "$rate"
  rm -rf "$d"
done
