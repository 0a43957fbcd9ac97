#!/usr/bin/env bash
# Distribution on a test bed of capped hosts (scripts/testbed/testbed.sh): one source host
# and N receiving hosts, each with its own link capped at RATE in both directions. For each
# N, one blob of SIZE goes from the source host to every receiver, all pulls started at
# once, three ways in the same run:
#
#   shoal:  tracker + origin on the source host, a peer agent on every receiver; the blob
#           is pushed to the origin, then each receiver fetches GET /blobs/<digest> from its
#           own agent (curl to the agent on the host's loopback): the agents use the swarm.
#   nginx:  every receiver downloads the file from one nginx on the source host (curl).
#   aria2:  a classic BitTorrent swarm: opentracker and a seeding aria2c on the source
#           host, aria2c on every receiver; torrent made by mktorrent with the piece size
#           Shoal's origin chose for the blob.
#
# Per method it prints one JSON line: all_s (from starting the pulls until every receiver
# holds a copy), p50_s and max_s over receivers, source_tx_bytes (bytes the source host's
# link sent, frames included, from its eth0 counters) and source_copies (that / SIZE),
# ideal_s = SIZE / RATE (one copy at link rate: the lower bound when the source sends at
# RATE) and ratio = all_s / ideal_s. Every copy is verified after the clock stops (sha256
# of each receiver's file); a wrong or missing copy fails the run. With more than one N,
# a PNG plot of all_s against N (gnuplot) goes to --plot.
#
#   scripts/bench/swarm.sh --hosts "4 8 16 32" --size 256MiB --rate 50mbit
#
# Options: --hosts "N..." receivers (default 4), --size S (MiB/GiB, default 256MiB),
# --rate R (tc syntax, default 50mbit), --total-rate T (in mbit: each N gets R = T / N
# instead), --methods "shoal nginx aria2" (default all three; also "fleet"), --fleet (the
# fleet alone: 3 origins on a ring, 2 trackers over Redis with Sentinel, receivers from
# host 9 on; scripts/bench/swarm-fleet.sh),
# --nginx-max-hosts M (nginx is skipped above M receivers: it needs N x SIZE / RATE, default
# 16), --out FILE (JSON lines, default $TMPDIR/shoal-swarm.jsonl, appended), --plot FILE
# (default docs/swarm.png when more than one N), --timeout SECONDS per method (default
# 1800). Environment: SHOAL_BIN (default build/shoal, built when missing), TESTBED_NAME
# (default sbench), SHOAL_PEER_FLAGS (extra flags for every peer agent), SHOAL_ORIGIN_FLAGS,
# SHOAL_TRACKER_FLAGS (every tracker, e.g. "--handout-order completeness"). Needs root.
set -euo pipefail
env_bin=${SHOAL_BIN:-}
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/swarm-methods.sh"
source "$(dirname "$0")/swarm-fleet.sh"

hosts_list=4 size_arg=256MiB rate=50mbit total_mbit= methods="shoal nginx aria2" nginx_max=16
out=${TMPDIR:-/tmp}/shoal-swarm.jsonl plot= timeout=1800
while [ $# -gt 0 ]; do
  case $1 in
    --hosts) hosts_list=$2; shift 2 ;;
    --size) size_arg=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --total-rate) total_mbit=${2%mbit}; shift 2 ;;
    --methods) methods=$2; shift 2 ;;
    --fleet) methods=fleet; shift ;;
    --nginx-max-hosts) nginx_max=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --plot) plot=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    *) echo "swarm.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "swarm.sh needs root (network namespaces, tc)" >&2; exit 1; }
case $size_arg in
  *GiB) size_mib=$(( ${size_arg%GiB} * 1024 )) ;;
  *MiB) size_mib=${size_arg%MiB} ;;
  *[!0-9]*) echo "--size: expected e.g. 256MiB or 1GiB" >&2; exit 2 ;;
  *) size_mib=$size_arg ;;
esac
if [ -n "$env_bin" ]; then SHOAL_BIN=$env_bin; else shoal_build; fi
need=()
[[ " $methods " == *" nginx "* ]] && need+=(nginx)
[[ " $methods " == *" aria2 "* ]] && need+=(aria2c opentracker mktorrent)
[[ " $methods " == *" fleet "* ]] && need+=(redis-server redis-sentinel redis-cli)
for tool in "${need[@]}"; do
  command -v "$tool" >/dev/null || { echo "swarm.sh needs $tool (scripts/install-deps.sh)" >&2; exit 1; }
done

export TESTBED_NAME=${TESTBED_NAME:-sbench}
TB="$SHOAL_ROOT/scripts/testbed/testbed.sh"
SB_WORK=$(mktemp -d "${TMPDIR:-/tmp}/shoal-bench-swarm.XXXXXX")
chmod 755 "$SB_WORK"
cleanup() {
  "$TB" down || true
  rm -rf "$SB_WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SB_BLOB="$SB_WORK/blob.bin"
shoal_make_artifact "$SB_BLOB" "$size_mib"
SB_BYTES=$(stat -c %s "$SB_BLOB")
SB_HEX=$(shoal_sha256 "$SB_BLOB")
SB_DIGEST="sha256:$SB_HEX"
SB_TIMEOUT=$timeout
SB_SRC=10.213.0.1
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)" >&2
echo "blob: $size_mib MiB; data in $SB_WORK ($(df --output=fstype "$SB_WORK" | tail -1 | tr -d ' '))" >&2

for n in $hosts_list; do
  # --total-rate T: every link at T / N, so that N x R (what the bridge carries) stays
  # the same at every N and the CPU, shared by all hosts, never sets the pace.
  [ -n "$total_mbit" ] && rate="$((total_mbit / n))mbit"
  rate_bps=$(awk -v r="${rate,,}" 'BEGIN {
    m = 1; if (r ~ /gbit$/) m = 1e9; else if (r ~ /mbit$/) m = 1e6; else if (r ~ /kbit$/) m = 1e3
    sub(/[a-z]+$/, "", r); printf "%.0f", r * m }')
  ideal=$(awk -v b="$SB_BYTES" -v r="$rate_bps" 'BEGIN { printf "%.2f", b * 8 / r }')
  echo "N=$n: links at $rate both ways (tbf); ideal S/R = ${ideal}s" >&2
  for m in $methods; do
    if [ "$m" = nginx ] && [ "$n" -gt "$nginx_max" ]; then
      echo "N=$n nginx: skipped (over --nginx-max-hosts $nginx_max; its floor is N x S/R = $(awk -v n="$n" -v i="$ideal" 'BEGIN { printf "%.0f", n * i }')s)" >&2
      continue
    fi
    SB_FIRST=2 SB_SOURCES=1
    [ "$m" = fleet ] && sb_fleet_layout
    "$TB" up --hosts $((n + SB_FIRST - 1)) --rate "$rate"
    SB_RUN="$SB_WORK/n$n-$m"
    mkdir -p "$SB_RUN"
    chmod 755 "$SB_RUN"
    tx0=$(sb_source_tx)
    "sb_run_$m" "$n"
    tx=$(( $(sb_source_tx) - tx0 ))
    sb_verify "$n" "$m"
    line=$(sb_summary "$m" "$n" "$tx" "$ideal" "$rate_bps")
    echo "$line"
    echo "$line" >>"$out"
    echo "$line" >>"$SB_WORK/run.jsonl"
    "$TB" down
    rm -rf "$SB_RUN"
  done
done

if [ "$(wc -w <<<"$hosts_list")" -gt 1 ]; then
  sb_plot "$SB_WORK/run.jsonl" "${plot:-$SHOAL_ROOT/docs/swarm.png}" "$size_mib"
fi
