#!/usr/bin/env bash
# Control-plane capacity (docs/BENCHMARKS.md, "Control plane"): what one core of tracker
# and one core of origin carry, and from that the fleet a 3 s announce interval allows.
#  1. announces per tracker CPU-second: PEERS synthetic peers (10 000) in SWARMS swarms
#     (1 000), each announce with a PIECES-piece bitfield (4096), against the in-memory
#     store and against Redis; Redis commands per announce from INFO commandstats;
#  2. hand-out requests per origin CPU-second: AGENTS synthetic agents (1 000) asking for
#     pieces of one PIECES-piece blob, each reporting a random half as held or seen.
# wrk drives both (one thread, 64 connections); every server runs one worker thread, so
# CPU-seconds from /proc are per core. The machine has 2 cores: wrk takes one.
#
#   scripts/bench/control_plane.sh [SECONDS]        (HAVE_PARAM= sends no bitfields;
#                                                     SHOAL_BIN: another binary)
set -euo pipefail
env_bin=${SHOAL_BIN:-}
source "$(dirname "$0")/../lib.sh"

secs=${1:-10}
here=$(cd "$(dirname "$0")" && pwd)/control_plane
export CONTROL_PLANE_DIR=$here
work=${SHOAL_BENCH_DIR:-/var/tmp/shoal-bench-control}
export PEERS=${PEERS:-10000} SWARMS=${SWARMS:-1000} PIECES=${PIECES:-4096} AGENTS=${AGENTS:-1000}
export HAVE_PARAM=${HAVE_PARAM-shoal_have}
interval=3
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for tool in wrk redis-server redis-cli; do
  command -v "$tool" >/dev/null || { echo "control_plane.sh: needs $tool (scripts/install-deps.sh)" >&2; exit 1; }
done
rm -rf "$work" && mkdir -p "$work"
if [ -n "$env_bin" ]; then SHOAL_BIN=$env_bin; else shoal_build; fi

per() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f", a / b; else print "n/a" }'; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }
field() { sed -n "s/.*$1 \([0-9.]*\).*/\1/p" | tail -n 1; }

# run_wrk SCRIPT URL SECONDS: wrk's summary line (the scripts print it on stderr).
run_wrk() {
  wrk -t1 -c64 -d"$3s" --timeout 5s -s "$here/$1" "$2" 2>&1 >/dev/null | grep '^requests'
}

redis_port=$(shoal_free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
  --dir "$work" >"$work/redis.log" 2>&1 &
redis_pid=$!
pids+=("$redis_pid")
for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done

# redis_calls [COMMAND]: calls since the last CONFIG RESETSTAT, of COMMAND or of all
# commands (those a script runs included, but not INFO and CONFIG themselves).
redis_calls() {
  redis-cli -p "$redis_port" info commandstats | tr -d '\r' |
    awk -F'[=,:]' -v only="${1:+cmdstat_$1}" '/^cmdstat_/ && $1 != "cmdstat_info" && $1 != "cmdstat_config" &&
      (only == "" || $1 == only) { s += $3 } END { print s + 0 }'
}

# bench_tracker NAME [flags...]: prints "NAME announces/s per core, p99, failures, redis".
bench_tracker() {
  local name=$1
  shift
  shoal_start tracker "$work/tracker-$name.log" --threads 1 --peer-ttl 5m \
    --announce-interval "${interval}s"  "$@"
  local pid=$SHOAL_PID url=$SHOAL_URL
  pids+=("$pid")
  run_wrk announce.lua "$url" 3 >/dev/null  # every synthetic peer is in the store
  redis-cli -p "$redis_port" config resetstat >/dev/null
  local c0 r0 line c1 r1 n failed calls trips
  c0=$(shoal_cpu_seconds "$pid"); r0=$(shoal_cpu_seconds "$redis_pid")
  line=$(run_wrk announce.lua "$url" "$secs")
  c1=$(shoal_cpu_seconds "$pid"); r1=$(shoal_cpu_seconds "$redis_pid")
  calls=$(redis_calls); trips=$(( $(redis_calls evalsha) + $(redis_calls eval) ))
  n=$(echo "$line" | field requests); failed=$(echo "$line" | field failed)
  echo "tracker ($name): $n announces in ${secs}s, $(per "$n" "$secs")/s wall," \
       "$(per "$n" "$(minus "$c1" "$c0")") per tracker CPU-s ($(minus "$c1" "$c0") CPU-s)," \
       "redis $(minus "$r1" "$r0") CPU-s, $(awk -v c="$calls" -v n="$n" 'BEGIN { printf "%.2f", c / n }') Redis commands per announce" \
       "($(awk -v c="$trips" -v n="$n" 'BEGIN { printf "%.2f", c / n }') scripts; the rest run inside them)," \
       "failed $failed, p99 $(echo "$line" | field p99_ms) ms"
  TRACKER_RATE=$(per "$n" "$(minus "$c1" "$c0")")
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

bench_tracker memory
memory_rate=$TRACKER_RATE
bench_tracker redis --peer-store "redis://127.0.0.1:$redis_port/0"
redis_rate=$TRACKER_RATE

# The hand-out: one 1 GiB blob in 256 KiB pieces (4096 of them).
shoal_make_artifact "$work/blob.bin" $((PIECES / 4))
shoal_start_origin "$work/origin" --threads 1 --piece-size 256KiB 
pids+=("$ORIGIN_PID")
"$SHOAL_BIN" push "$work/blob.bin" --origin "$ORIGIN_URL" --quiet --state-dir "$work/state" >/dev/null
export DIGEST
DIGEST=sha256:$(shoal_sha256 "$work/blob.bin")
run_wrk handout.lua "$ORIGIN_URL" 5 >/dev/null  # every piece has left the origin once
c0=$(shoal_cpu_seconds "$ORIGIN_PID")
line=$(run_wrk handout.lua "$ORIGIN_URL" "$secs")
c1=$(shoal_cpu_seconds "$ORIGIN_PID")
n=$(echo "$line" | field requests)
handout_rate=$(per "$n" "$(minus "$c1" "$c0")")
mean_wait=$(echo "$line" | field mean_wait_ms)
echo "origin hand-out: $n requests in ${secs}s ($(echo "$line" | field pieces) pieces," \
     "$(echo "$line" | field waits) waits, mean hint ${mean_wait} ms, failed $(echo "$line" | field failed))," \
     "$handout_rate per origin CPU-s ($(minus "$c1" "$c0") CPU-s), p99 $(echo "$line" | field p99_ms) ms"

# An agent asks with two requests at a time and waits the hint after each wait answer:
# 2 / hint requests per second while it pulls.
agent_rate=$(awk -v w="$mean_wait" 'BEGIN { if (w < 20) w = 20; printf "%.2f", 2000 / w }')
echo "fleet per core at a ${interval}s announce interval: tracker $((memory_rate * interval)) hosts (memory)," \
     "$((redis_rate * interval)) hosts (Redis); origin $(awk -v r="$handout_rate" -v a="$agent_rate" 'BEGIN { printf "%.0f", r / a }') pulling agents" \
     "(at $agent_rate hand-out requests per agent-second)"
echo "15 000 hosts pulling one blob at once: $(awk -v r="$redis_rate" -v i="$interval" 'BEGIN { printf "%.2f", 15000 / i / r }') tracker cores (Redis)," \
     "$(awk -v r="$handout_rate" -v a="$agent_rate" 'BEGIN { printf "%.2f", 15000 * a / r }') origin cores"
