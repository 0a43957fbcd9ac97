#!/usr/bin/env bash
# A ring of origins on loopback (docs/BENCHMARKS.md, "Origin ring"):
#  1. push throughput of one blob (1 GiB by default) through a 3-origin ring with
#     write_quorum 2 against one origin alone, in the same run, with the CPU seconds
#     of every origin process per GiB;
#  2. time to repair REPAIR_MIB (4 GiB by default) after an origin of a 4-origin ring is
#     lost, against curl copying the same bytes (GET from a holder piped into a PUT to
#     the new owner) between the same processes.
#
#   scripts/bench/ring.sh [SIZE_MIB] [RUNS] [REPAIR_MIB]     (SKIP_PUSH=1: the repair part only)
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

size_mib=${1:-1024}
runs=${2:-3}
repair_mib=${3:-4096}
work=${SHOAL_BENCH_DIR:-/var/tmp/shoal-bench-ring}
shoal_build
cleanup() {
  for p in "${RING_PIDS[@]:-}" "${ORIGIN_PID:-}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { print b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
per_gib() { awk -v s="$1" -v b="$2" 'BEGIN { printf "%.2f", s / (b / 1073741824) }'; }
cpu_of() { local t=0 p; for p in "$@"; do t=$(awk -v a="$t" -v b="$(shoal_cpu_seconds "$p")" 'BEGIN { print a + b }'); done; echo "$t"; }

push_once() {  # URL: seconds of one `shoal push` of blob.bin
  local t0 t1
  rm -rf "$work/state"
  t0=$(shoal_now)
  "$SHOAL_BIN" push "$work/blob.bin" --origin "$1" --quiet --state-dir "$work/state" >/dev/null
  t1=$(shoal_now)
  elapsed "$t0" "$t1"
}

bench_push() {
  local one=() ring=() one_cpu=() ring_cpu=() bytes
  bytes=$(stat -c %s "$work/blob.bin")
  for run in $(seq "$runs"); do
    cat "$work/blob.bin" >/dev/null
    rm -rf "$work/single" "$work/ring"
    shoal_start_origin "$work/single"
    one+=("$(push_once "$ORIGIN_URL")")
    one_cpu+=("$(cpu_of "$ORIGIN_PID")")
    kill "$ORIGIN_PID"; wait "$ORIGIN_PID" 2>/dev/null || true
    shoal_start_ring 3 "$work/ring" --replicas 3 --write-quorum 2
    ring+=("$(push_once "${RING_URLS%%,*}")")
    ring_cpu+=("$(cpu_of "${RING_PIDS[@]}")")
    kill "${RING_PIDS[@]}"; wait "${RING_PIDS[@]}" 2>/dev/null || true
    RING_PIDS=()
    echo "run $run: one origin ${one[-1]}s (${one_cpu[-1]} CPU-s), ring ${ring[-1]}s (${ring_cpu[-1]} CPU-s)" >&2
  done
  local o r oc rc
  o=$(printf '%s\n' "${one[@]}" | median); r=$(printf '%s\n' "${ring[@]}" | median)
  oc=$(printf '%s\n' "${one_cpu[@]}" | median); rc=$(printf '%s\n' "${ring_cpu[@]}" | median)
  printf '%-40s %8s %10s %12s %8s\n' method seconds MiB/s "CPU-s/GiB" ratio
  printf '%-40s %8.2f %10s %12s %8s\n' "push, one origin" "$o" "$(shoal_rate "$bytes" "$o")" "$(per_gib "$oc" "$bytes")" 1.00
  printf '%-40s %8.2f %10s %12s %8s\n' "push, ring of 3 (quorum 2, 3 copies)" "$r" "$(shoal_rate "$bytes" "$r")" "$(per_gib "$rc" "$bytes")" "$(ratio "$o" "$r")"
}

# Seconds until every blob listed in $work/digests is on 3 of the surviving origins.
wait_repaired() {
  local t0=$1 dead=$2
  while :; do
    local short=0 d n i
    while read -r d; do
      n=0
      for i in 1 2 3 4; do
        if [ "$i" != "$dead" ] && [ -f "$work/ring/origin-$i/blobs/sha256/${d:7:2}/${d:7}" ]; then
          n=$((n + 1))
        fi
      done
      if [ "$n" -lt 3 ]; then short=$((short + 1)); fi
    done <"$work/digests"
    if [ "$short" -eq 0 ]; then break; fi
    sleep 0.2
  done
  elapsed "$t0" "$(shoal_now)"
}

bench_repair() {
  local part urls dead=4 moved=0 t0 repair curl_time
  rm -rf "$work/ring" "$work/parts"; mkdir -p "$work/parts"
  shoal_start_ring 4 "$work/ring" --repair-after 1s --repair-interval 1s --repair-rate 100GiB \
    --health-interval 200ms
  IFS=, read -r -a urls <<<"$RING_URLS"
  : >"$work/digests"
  # Distinct blobs: slices of one artifact (shoal_make_artifact's bytes depend on the size only).
  shoal_make_artifact "$work/parts/all.bin" "$repair_mib"
  split -b 256M -d "$work/parts/all.bin" "$work/parts/part-"
  rm "$work/parts/all.bin"
  for part in "$work"/parts/part-*; do
    "$SHOAL_BIN" push "$part" --origin "$RING_URLS" --quiet --state-dir "$work/state" >>"$work/digests"
  done
  sleep 3  # the background copies to the third owners drain
  # What the dead origin held must be copied again: its bytes are the repair's work.
  while read -r d; do
    if [ -f "$work/ring/origin-$dead/blobs/sha256/${d:7:2}/${d:7}" ]; then moved=$((moved + 256)); fi
  done <"$work/digests"
  kill -9 "${RING_PIDS[$((dead - 1))]}"
  t0=$(shoal_now)
  repair=$(wait_repaired "$t0" "$dead")
  # The baseline: curl moves the same bytes, one blob after another, from a live origin
  # into a fresh origin (the PUT is verified, fsynced and renamed there, like a copy).
  shoal_start_origin "$work/curl-target"
  local count=0 size=$((256 * 1048576))
  t0=$(shoal_now)
  while read -r d && [ "$count" -lt $((moved / 256)) ]; do
    curl -sf -H 'Shoal-Replica: 1' "${urls[0]}/blobs/$d" -o - |
      curl -sf -T - -H "Content-Length: $size" -H 'Transfer-Encoding:' \
        "$ORIGIN_URL/blobs/$d" -o /dev/null
    count=$((count + 1))
  done <"$work/digests"
  curl_time=$(elapsed "$t0" "$(shoal_now)")
  kill "$ORIGIN_PID"; wait "$ORIGIN_PID" 2>/dev/null || true
  printf '%-40s %8.2f %10s\n' "repair after a loss ($moved MiB to copy)" "$repair" "$(shoal_rate $((moved * 1048576)) "$repair")"
  printf '%-40s %8.2f %10s\n' "curl GET | curl PUT of the same bytes" "$curl_time" "$(shoal_rate $((moved * 1048576)) "$curl_time")"
  echo "(repair time includes noticing the loss: health checks every 200ms, repair_after 1s, walks every 1s)"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "blob: $size_mib MiB, median of $runs runs, loopback, data in $work"
mkdir -p "$work"
shoal_make_artifact "$work/blob.bin" "$size_mib"
[ "${SKIP_PUSH:-0}" = 1 ] || bench_push
bench_repair
