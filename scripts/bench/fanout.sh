#!/usr/bin/env bash
# Fan-out on loopback: N hosts fetch the same blob (256 MiB by default) at the same
# time, for N in COUNTS, two ways:
#
#   swarm: a fresh `shoal up --peers N` cluster; one blob pushed to its origin; once the
#          origin seeds it, N concurrent curls, one to each peer agent's GET /blobs/<d>,
#          so every peer fetches it through the swarm. The origin's BitTorrent upload
#          (shoal_origin_bt_uploaded_bytes) and each peer's downloaded bytes by source
#          (shoal_peer_downloaded_bytes_total{source="origin"|"peers"}) are read after.
#   http:  the same blob, N concurrent curls straight to the same origin's GET /blobs/<d>;
#          the origin sends N copies (shoal_http_sent_bytes_total before and after).
#
# Wall time runs from starting the N curls until the last one ends. Every curl must
# answer 200 with the blob's size; one copy from the swarm is written to disk and its
# SHA-256 checked. Everything runs on one host, so both cases share its cores: on
# loopback nothing is bandwidth-limited and times are CPU-bound.
#
#   scripts/bench/fanout.sh [SIZE_MIB] [COUNTS]        e.g. fanout.sh 256 "1 4 8 16"
#
# SHOAL_BIN=path uses that binary instead of building build/shoal. Data goes to a fresh
# directory under $TMPDIR (default /tmp), removed on exit; the script says which file
# system that is. When a fetch fails, the cluster's logs are kept in
# $TMPDIR/shoal-bench-fanout-logs-nN.PID. SHOAL_BENCH_TIMEOUT caps each curl (seconds,
# default 1200).
set -euo pipefail
env_bin=${SHOAL_BIN:-}
source "$(dirname "$0")/../lib.sh"

size_mib=${1:-256}
counts=${2:-"1 4 8 16"}
timeout=${SHOAL_BENCH_TIMEOUT:-1200}
if [ -n "$env_bin" ]; then SHOAL_BIN=$env_bin; else shoal_build; fi

work=$(mktemp -d "${TMPDIR:-/tmp}/shoal-bench-fanout.XXXXXX")
UP_PID=
CURL_PIDS=()
stop_cluster() {
  if [ -n "$UP_PID" ]; then
    kill -TERM "$UP_PID" 2>/dev/null || true
    wait "$UP_PID" 2>/dev/null || true
    UP_PID=
  fi
}
cleanup() {
  for p in "${CURL_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  stop_cluster
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
copies() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.2f", b / s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# metric URL NAME [LABEL]: the sum of NAME's samples (those whose labels contain LABEL,
# e.g. source="origin"), as an integer; 0 if absent.
metric() {
  local label=${3:-}
  curl -sf "$1/metrics" | awk -v n="$2" -v l="$label" '
    index($1, n) == 1 && (substr($1, length(n) + 1, 1) == "{" || length($1) == length(n)) &&
      (l == "" || index($1, l) > 0) { s += $NF }
    END { printf "%.0f\n", s }'
}

# wait_for URL NAME MIN SECONDS: until metric NAME reaches MIN.
wait_for() {
  local deadline=$((SECONDS + $4))
  while [ "$(metric "$1" "$2")" -lt "$3" ]; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "$2 at $1 did not reach $3 within $4s" >&2
      return 1
    fi
    sleep 0.1
  done
}

# fetch_all OUT_DIR KEEP URL...: concurrent curls, one per URL, to /dev/null (the first
# to OUT_DIR/copy.bin if KEEP is 1); each writes "http_code size time_total exitcode" to
# OUT_DIR/curl.I. Sets FETCH_SECONDS to the wall time until the last ends.
fetch_all() {
  local out=$1 keep=$2 i=0 t0 t1 url dest
  shift 2
  mkdir -p "$out"
  CURL_PIDS=()
  t0=$(shoal_now)
  for url in "$@"; do
    i=$((i + 1))
    dest=/dev/null
    if [ "$keep" = 1 ] && [ "$i" -eq 1 ]; then dest="$out/copy.bin"; fi
    curl -s --max-time "$timeout" -o "$dest" -w '%{http_code} %{size_download} %{time_total} %{exitcode}\n' \
      "$url" >"$out/curl.$i" 2>&1 &
    CURL_PIDS+=("$!")
  done
  for p in "${CURL_PIDS[@]}"; do wait "$p" || true; done
  t1=$(shoal_now)
  CURL_PIDS=()
  FETCH_SECONDS=$(elapsed "$t0" "$t1")
}

# check_fetches OUT_DIR N BYTES LABEL: every curl answered 200 with BYTES bytes. Prints
# the fastest and slowest curl on stderr.
check_fetches() {
  local out=$1 n=$2 bytes=$3 label=$4 bad=0 code size t rc
  for i in $(seq "$n"); do
    read -r code size t rc <"$out/curl.$i" || true
    if [ "$code" != 200 ] || [ "$size" != "$bytes" ] || [ "$rc" != 0 ]; then
      echo "$label: curl $i got HTTP ${code:-?} with ${size:-?} bytes after ${t:-?}s, curl exit ${rc:-?} (want 200, $bytes bytes, exit 0)" >&2
      bad=1
    fi
  done
  awk '{ t = $3 + 0; if (NR == 1 || t < lo) lo = t; if (t > hi) hi = t }
       END { printf "  per-curl time: fastest %.2fs, slowest %.2fs\n", lo, hi }' "$out"/curl.* >&2
  return "$bad"
}

blob="$work/blob.bin"
shoal_make_artifact "$blob" "$size_mib"
bytes=$(stat -c %s "$blob")
digest="sha256:$(shoal_sha256 "$blob")"

echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "data: $work ($(df --output=fstype,source "$work" | tail -1 | tr -s ' '))"
echo "blob: $size_mib MiB, one run per N, loopback; copies = bytes / blob size"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (anything else running shares the $(nproc) cores)"

rows=()
for n in $counts; do
  dir="$work/n$n"
  mkdir -p "$dir"
  "$SHOAL_BIN" up --peers "$n" --data "$dir/cluster" --quiet >"$dir/up.log" 2>&1 &
  UP_PID=$!
  for _ in $(seq 600); do
    [ -s "$dir/cluster/cluster.json" ] && break
    kill -0 "$UP_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ ! -s "$dir/cluster/cluster.json" ]; then
    echo "shoal up --peers $n did not start:" >&2
    cat "$dir/up.log" >&2
    exit 1
  fi
  # "url" comes in order: tracker, origin, then peer1..peerN.
  mapfile -t urls < <(python3 -c 'import json, sys
c = json.load(open(sys.argv[1]))
print("\n".join([c["tracker"]["url"], c["origin"]["url"]] + [p["url"] for p in c["peers"]]))' "$dir/cluster/cluster.json")
  origin=${urls[1]}
  peers=("${urls[@]:2}")
  [ "${#peers[@]}" -eq "$n" ] || { echo "cluster.json lists ${#peers[@]} peers, not $n" >&2; exit 1; }

  pushed=$("$SHOAL_BIN" push "$blob" --origin "$origin" --quiet --state-dir "$dir/state")
  [ "$pushed" = "$digest" ] || { echo "push printed $pushed, expected $digest" >&2; exit 1; }
  wait_for "$origin" shoal_origin_seeding_torrents 1 300

  # Swarm: one curl per peer agent.
  echo "N=$n swarm: $n curls, one per peer agent" >&2
  swarm_urls=()
  for p in "${peers[@]}"; do swarm_urls+=("$p/blobs/$digest"); done
  fetch_all "$dir/swarm" 1 "${swarm_urls[@]}"
  swarm_s=$FETCH_SECONDS
  note=
  check_fetches "$dir/swarm" "$n" "$bytes" "N=$n swarm" || note=" (swarm errors)"
  got=$(shoal_sha256 "$dir/swarm/copy.bin" 2>/dev/null || echo none)
  if [ "sha256:$got" != "$digest" ]; then
    echo "N=$n swarm: the copy from peer1 hashes to $got, not $digest" >&2
    note=" (swarm copy corrupt)"
  fi
  rm -f "$dir/swarm/copy.bin"
  # libtorrent folds transfer into its counters about once a second: read them until two
  # reads a second apart agree (at most 30 s).
  prev=
  for _ in $(seq 30); do
    # BitTorrent payload plus the HTTP hand-out (peer/handout_fetcher.h): all it sent.
    bt_up=$(( $(metric "$origin" shoal_origin_bt_uploaded_bytes) + $(metric "$origin" shoal_origin_handout_bytes_total) ))
    from_origin=0 from_peers=0 peer_up=0 cached=0
    for p in "${peers[@]}"; do
      from_origin=$((from_origin + $(metric "$p" shoal_peer_downloaded_bytes_total 'source="origin"')))
      from_peers=$((from_peers + $(metric "$p" shoal_peer_downloaded_bytes_total 'source="peers"')))
      peer_up=$((peer_up + $(metric "$p" shoal_peer_uploaded_bytes_total)))
      cached=$((cached + $(metric "$p" shoal_peer_cache_blobs)))
    done
    now="$bt_up $from_origin $from_peers $peer_up $cached"
    [ "$now" = "$prev" ] && break
    prev=$now
    sleep 1
  done
  echo "  ${swarm_s}s; origin BT upload $bt_up B; peers downloaded $from_origin B from the origin," \
    "$from_peers B from peers, uploaded $peer_up B; $cached of $n peers cache the blob" >&2

  # Plain HTTP: the same blob from the same origin, N times at once.
  echo "N=$n http: $n curls to the origin" >&2
  sent0=$(metric "$origin" shoal_http_sent_bytes_total)
  http_urls=()
  for _ in $(seq "$n"); do http_urls+=("$origin/blobs/$digest"); done
  fetch_all "$dir/http" 0 "${http_urls[@]}"
  http_s=$FETCH_SECONDS
  check_fetches "$dir/http" "$n" "$bytes" "N=$n http" || note="$note (http errors)"
  http_sent=$(($(metric "$origin" shoal_http_sent_bytes_total) - sent0))
  echo "  ${http_s}s; origin HTTP body bytes sent $http_sent B" >&2

  rows+=("$(printf '| %s | %s | %s | %s | %s | %s | %s | %s |' "$n$note" "$swarm_s" \
    "$(copies "$bt_up" "$bytes")" "$(copies "$from_origin" "$bytes")" "$(copies "$from_peers" "$bytes")" \
    "$http_s" "$(copies "$http_sent" "$bytes")" "$(ratio "$swarm_s" "$http_s")")")
  stop_cluster
  if [ -n "$note" ]; then
    # Keep the cluster's logs (not its data) for a look at what went wrong.
    kept="${TMPDIR:-/tmp}/shoal-bench-fanout-logs-n$n.$$"
    mkdir -p "$kept"
    cp "$dir"/cluster/*.log "$dir"/cluster/cluster.json "$dir"/up.log "$kept"/ 2>/dev/null || true
    cp -r "$dir/swarm" "$dir/http" "$kept"/ 2>/dev/null || true
    echo "N=$n: logs kept in $kept" >&2
  fi
  rm -rf "$dir"
done

echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| N | swarm s | origin BT upload (copies) | peers got from origin (copies) | peers got from peers (copies) | HTTP s | origin HTTP sent (copies) | swarm s / HTTP s |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows[@]}"
