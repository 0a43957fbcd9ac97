#!/usr/bin/env bash
# What one peer agent costs per byte: a tracker, an origin and one agent on loopback; a
# blob (1 GiB by default) pushed to the origin, then pulled RUNS times, each time by a
# fresh agent (empty cache) through the swarm and the origin's hand-out, with
# `shoal pull --peer` (a fresh tracker and origin each time, the origin's data kept).
# Beside it, in the same run: `openssl dgst -sha256` of the same
# file (one hash pass, the least anything that checks every byte can cost) and curl
# straight from the origin's GET /blobs/<d> (no swarm, no check).
#
# Per run it prints wall time, MiB/s and the CPU seconds (user + system, from /proc) of
# the agent, the origin and the `shoal pull` client, each per GiB; the agent's bytes
# hashed by purpose and read back (its metrics); and how much the agent's RSS grew
# (peak VmHWM over the RSS it had before the pull); and the agent's CPU per thread name
# (shoal-disk: writes and piece checks; shoal-whole: the whole-blob SHA-256;
# shoal-handout: the origin's hand-out; shoal-alerts: libtorrent's events; the binary's
# own name: libtorrent's network thread and the HTTP server). The pulled file is checked.
#
#   scripts/bench/agent.sh [SIZE_MIB] [RUNS]         e.g. agent.sh 1024 3
#
# SHOAL_BIN=path uses that binary instead of building build/shoal. Data goes to a fresh
# directory under $TMPDIR (default /tmp), removed on exit. SHOAL_PEER_FLAGS adds flags
# to every agent.
set -euo pipefail
env_bin=${SHOAL_BIN:-}
source "$(dirname "$0")/../lib.sh"

size_mib=${1:-1024}
runs=${2:-3}
if [ -n "$env_bin" ]; then SHOAL_BIN=$env_bin; else shoal_build; fi

work=$(mktemp -d "${TMPDIR:-/tmp}/shoal-bench-agent.XXXXXX")
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# User and system CPU seconds of a process so far: hashing is user time, copies into and
# out of the page cache system time (on a VM, first touches of memory are costly there).
cpu_user() { awk -v hz="$(getconf CLK_TCK)" '{ print $14 / hz }' "/proc/$1/stat"; }
rss_kib() { awk -v k="$2" '$1 == k ":" { print $2 }' "/proc/$1/status"; }

shoal_make_artifact "$work/blob.bin" "$size_mib"
bytes=$(stat -c %s "$work/blob.bin")
digest="sha256:$(shoal_sha256 "$work/blob.bin")"

# A fresh tracker and origin (the origin keeps its data): the origin's hand-out ledger
# remembers which pieces it sent to earlier agents, and would send a new one pieces in
# a different order.
start_cluster() {
  shoal_start tracker "$work/tracker.log" --data "$work/tracker"
  tracker_pid=$SHOAL_PID tracker_url=$SHOAL_URL
  pids+=("$tracker_pid")
  shoal_start_origin "$work/origin" --tracker "$tracker_url"
  pids+=("$ORIGIN_PID")
}
stop_cluster() {
  kill "$tracker_pid" "$ORIGIN_PID"
  wait "$tracker_pid" "$ORIGIN_PID" 2>/dev/null || true
}
wait_seeding() {
  for _ in $(seq 1200); do
    [ "$(shoal_metric "$ORIGIN_URL" shoal_origin_seeding_torrents)" -ge 1 ] && return 0
    sleep 0.1
  done
  echo "the origin does not seed the blob" >&2
  return 1
}

start_cluster
"$SHOAL_BIN" push "$work/blob.bin" --origin "$ORIGIN_URL" --quiet --state-dir "$work/state" >/dev/null
wait_seeding
stop_cluster

echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
echo "blob: $size_mib MiB; data in $work ($(df --output=fstype "$work" | tail -1 | tr -d ' ')); $runs runs, a fresh agent each"
printf '%-22s %7s %7s %10s %10s %10s %8s %8s %8s %8s\n' what seconds MiB/s "agent CPU" "origin CPU" "client CPU" "piece" whole "read" "RSS+"
printf '%-22s %7s %7s %10s %10s %10s %8s %8s %8s %8s\n' "" "" "" "s/GiB" "s/GiB" "s/GiB" "hashed" hashed back MiB


for run in $(seq "$runs"); do
  start_cluster
  wait_seeding
  cat "$work/blob.bin" >/dev/null
  TIMEFORMAT='%U %S'
  { time shoal_sha256 "$work/blob.bin" >/dev/null; } 2>"$work/cpu"
  t0=$(shoal_now); shoal_sha256 "$work/blob.bin" >/dev/null; t1=$(shoal_now)
  s=$(shoal_elapsed "$t0" "$t1")
  printf '%-22s %7s %7s %10s %10s %10s\n' "openssl dgst -sha256" "$s" "$(shoal_rate "$bytes" "$s")" - - \
    "$(shoal_per_gib "$(shoal_child_cpu "$work/cpu")" "$bytes")"

  o0=$(shoal_cpu_seconds "$ORIGIN_PID")
  t0=$(shoal_now)
  { time curl -sf -o /dev/null "$ORIGIN_URL/blobs/$digest"; } 2>"$work/cpu"
  t1=$(shoal_now)
  o1=$(shoal_cpu_seconds "$ORIGIN_PID")
  s=$(shoal_elapsed "$t0" "$t1")
  printf '%-22s %7s %7s %10s %10s %10s\n' "curl from the origin" "$s" "$(shoal_rate "$bytes" "$s")" - \
    "$(shoal_per_gib "$(shoal_elapsed "$o0" "$o1")" "$bytes")" "$(shoal_per_gib "$(shoal_child_cpu "$work/cpu")" "$bytes")"

  shoal_start peer "$work/agent-$run.log" --data "$work/agent-$run" --origin "$ORIGIN_URL" \
    --tracker "$tracker_url" ${SHOAL_PEER_FLAGS:-}
  agent_pid=$SHOAL_PID agent_url=$SHOAL_URL
  pids+=("$agent_pid")
  rss0=$(rss_kib "$agent_pid" VmRSS)
  a0=$(shoal_cpu_seconds "$agent_pid"); o0=$(shoal_cpu_seconds "$ORIGIN_PID"); u0=$(cpu_user "$agent_pid")
  shoal_thread_cpu "$agent_pid" >"$work/threads0"
  t0=$(shoal_now)
  { time "$SHOAL_BIN" pull "$digest" -o "$work/pulled" --peer "$agent_url" --quiet; } 2>"$work/cpu"
  t1=$(shoal_now)
  a1=$(shoal_cpu_seconds "$agent_pid"); o1=$(shoal_cpu_seconds "$ORIGIN_PID"); u1=$(cpu_user "$agent_pid")
  hwm=$(rss_kib "$agent_pid" VmHWM)
  shoal_thread_cpu "$agent_pid" >"$work/threads1"
  s=$(shoal_elapsed "$t0" "$t1")
  [ "sha256:$(shoal_sha256 "$work/pulled")" = "$digest" ] || { echo "run $run: the pulled file does not match" >&2; exit 1; }
  piece=$(shoal_metric "$agent_url" 'shoal_peer_hashed_bytes_total{purpose="piece"}')
  whole=$(shoal_metric "$agent_url" 'shoal_peer_hashed_bytes_total{purpose="whole"}')
  back=$(shoal_metric "$agent_url" shoal_peer_read_back_bytes_total)
  printf '%-22s %7s %7s %10s %10s %10s %8s %8s %8s %8s\n' "shoal pull via agent" "$s" "$(shoal_rate "$bytes" "$s")" \
    "$(shoal_per_gib "$(shoal_elapsed "$a0" "$a1")" "$bytes")" \
    "$(shoal_per_gib "$(shoal_elapsed "$o0" "$o1")" "$bytes")" \
    "$(shoal_per_gib "$(shoal_child_cpu "$work/cpu")" "$bytes")" \
    "$(shoal_ratio "$piece" "$bytes")x" "$(shoal_ratio "$whole" "$bytes")x" "$(shoal_ratio "$back" "$bytes")x" \
    "$(( (hwm - rss0) / 1024 ))"
  printf '%-22s %7s %7s %10s\n' "  of which user" "" "" "$(shoal_per_gib "$(shoal_elapsed "$u0" "$u1")" "$bytes")"
  echo "  agent threads, user+system CPU-s/GiB: $(shoal_thread_cpu_per_gib "$work/threads0" "$work/threads1" "$bytes")"
  kill "$agent_pid"; wait "$agent_pid" 2>/dev/null || true
  stop_cluster
  rm -rf "$work/agent-$run" "$work/pulled"
done
