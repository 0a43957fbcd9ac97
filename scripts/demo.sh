#!/usr/bin/env bash
# Shoal's main job on one machine: installs what is missing, builds, starts a cluster
# (tracker, origin, 4 peer agents) with `shoal up`, pushes a generated 512 MiB artifact
# to the origin, pulls it on every peer at once through the swarm, verifies every copy
# and says how long each peer took and how many bytes came from the origin and how many
# from other peers. Quick and idempotent on a second run.
#
# SHOAL_DEMO_MIB (512), SHOAL_DEMO_PEERS (4) and SHOAL_DEMO_DIR (/tmp/shoal-demo) change
# the size, the number of peers and the work directory; SHOAL_BIN names a binary to use
# instead of building build/shoal.
set -euo pipefail
user_bin=${SHOAL_BIN:-} # lib.sh sets SHOAL_BIN to build/shoal: keep the caller's choice
source "$(dirname "$0")/lib.sh"

size_mib=${SHOAL_DEMO_MIB:-512}
npeers=${SHOAL_DEMO_PEERS:-4}
work=${SHOAL_DEMO_DIR:-/tmp/shoal-demo}
cluster=$work/cluster
if ! [ "$npeers" -ge 1 ] 2>/dev/null; then
  echo "SHOAL_DEMO_PEERS must be a number of peers, at least 1 (is \"$npeers\")" >&2
  exit 1
fi
mkdir -p "$work"

mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

echo "== installing dependencies (only what is missing)"
"$SHOAL_ROOT/scripts/install-deps.sh"
if [ -n "$user_bin" ]; then
  SHOAL_BIN=$user_bin
  echo "== using $SHOAL_BIN (SHOAL_BIN)"
else
  echo "== building build/shoal"
  shoal_build
fi

# A cluster left running by a demo that was killed outright (kill -9 skips the trap
# below) still holds $cluster; stop it rather than leave it running next to ours.
if [ -f "$cluster/cluster.json" ]; then
  old=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' "$cluster/cluster.json" || true)
  if [ -n "$old" ] && tr '\0' ' ' <"/proc/$old/cmdline" 2>/dev/null | grep -q ' up '; then
    echo "== stopping the cluster a killed demo left running (pid $old)"
    kill -TERM "$old" 2>/dev/null || true
    while kill -0 "$old" 2>/dev/null; do sleep 0.1; done
  fi
fi
# Peers keep what they pulled in their cache: a fresh cluster makes every run download.
# origin/ and origin.log are what the demo left before it used `shoal up`.
rm -rf "$cluster" "$work/up.log" "$work/pulled" "$work/state" "$work/origin" "$work/origin.log"
mkdir -p "$work/pulled"

up_pid=
pull_pids=()
# Pulls still running (Ctrl-C half-way) go first, then the cluster: on SIGTERM `shoal up`
# stops every component and removes cluster.json. A script's background jobs may ignore
# the terminal's SIGINT, so each is stopped here explicitly.
stop_cluster() {
  local p
  for p in "${pull_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$up_pid" ]; then
    kill -TERM "$up_pid" 2>/dev/null || true
    wait "$up_pid" 2>/dev/null || true
  fi
  wait 2>/dev/null || true
}
trap stop_cluster EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$SHOAL_BIN" up --peers "$npeers" --data "$cluster" --quiet >"$work/up.log" 2>&1 &
up_pid=$!
# cluster.json appears once every component listens; shoal up gives up after 30 s.
for _ in $(seq 600); do
  [ -f "$cluster/cluster.json" ] && break
  if ! kill -0 "$up_pid" 2>/dev/null; then
    echo "!! shoal up exited before the cluster was ready:" >&2
    cat "$work/up.log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ ! -f "$cluster/cluster.json" ]; then
  echo "!! no $cluster/cluster.json after 60 s" >&2
  exit 1
fi
# python3 (installed by install-deps.sh) reads the JSON: "name url", one line per
# component, tracker and origin first.
mapfile -t rows < <(python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
for comp in [c["tracker"], c["origin"]] + c["peers"]: print(comp["name"], comp["url"])' "$cluster/cluster.json")
tracker_url=${rows[0]#* } origin_url=${rows[1]#* } peers=("${rows[@]:2}")
read -r edge_url edge_cert < <(python3 -c '
import json, sys
e = json.load(open(sys.argv[1]))["edge"]; print(e["url"], e["cert"])' "$cluster/cluster.json")
echo "== cluster up: tracker $tracker_url, origin $origin_url, ${#peers[@]} peer agents (logs in $cluster)"

shoal_make_artifact "$work/artifact.bin" "$size_mib"
bytes=$(stat -c %s "$work/artifact.bin")
expected="sha256:$(shoal_sha256 "$work/artifact.bin")"

t0=$(shoal_now)
digest=$("$SHOAL_BIN" push "$work/artifact.bin" --origin "$origin_url" --tag demo/artifact \
  --state-dir "$work/state" --quiet)
t1=$(shoal_now)
push_s=$(shoal_elapsed "$t0" "$t1")
echo "== pushed $size_mib MiB as $digest (tag demo/artifact) in ${push_s}s: $(shoal_rate "$bytes" "$push_s") MiB/s"
if [ "$digest" != "$expected" ]; then
  echo "!! digest mismatch: expected $expected, push said $digest" >&2
  exit 1
fi

# The origin hashes the blob into its metainfo in the background and only then seeds
# it; a peer asking earlier would find no seeder in the swarm.
for _ in $(seq 1200); do
  [ "$(shoal_metric "$origin_url" shoal_origin_seeding_torrents || true)" -ge 1 ] && break
  sleep 0.1
done
if [ "$(shoal_metric "$origin_url" shoal_origin_seeding_torrents)" -lt 1 ]; then
  echo "!! the origin is not seeding $digest after 120 s; see $cluster/origin.log" >&2
  exit 1
fi
echo "== the origin seeds it into the swarm $(shoal_elapsed "$t1" "$(shoal_now)")s after the push"

# Every peer at once: the point is that they share pieces instead of each taking a
# full copy from the origin. The pulls are direct children so that `wait -n -p`
# notes each one's end as it happens.
echo "== pulling demo/artifact on ${#peers[@]} peers at once"
declare -A name_of start_of end_of
# CPU of every process of the cluster (children of shoal up) and, through `times`, of
# the pulls this shell reaps: what the distribution cost in all.
cluster_cpu() {
  local p sum=0
  for p in $(ps --ppid "$up_pid" -o pid=); do sum=$(awk -v s="$sum" -v c="$(shoal_cpu_seconds "$p")" 'BEGIN { print s + c }'); done
  echo "$sum"
}
children_cpu() { times | tail -1 | awk '{ gsub(/[ms]/, " "); print $1 * 60 + $2 + $3 * 60 + $4 }'; }
cpu0=$(cluster_cpu) kids0=$(children_cpu)
t2=$(shoal_now)
for row in "${peers[@]}"; do
  read -r name url <<<"$row"
  start=$(shoal_now)
  "$SHOAL_BIN" pull demo/artifact -o "$work/pulled/$name" --peer "$url" --quiet &
  name_of[$!]=$name start_of[$name]=$start
  pull_pids+=("$!")
done
# pull_pids keeps only the pulls still running: wait warns about pids already reaped.
failed=0
while [ ${#pull_pids[@]} -gt 0 ]; do
  status=0
  done_pid=
  wait -n -p done_pid "${pull_pids[@]}" || status=$?
  [ -n "$done_pid" ] || { echo "!! lost track of the pulls (wait said $status)" >&2; exit 1; }
  end_of[${name_of[$done_pid]}]=$(shoal_now)
  if [ "$status" -ne 0 ]; then
    echo "!! pull on ${name_of[$done_pid]} failed (exit status $status)" >&2
    failed=1
  fi
  for i in "${!pull_pids[@]}"; do
    [ "${pull_pids[$i]}" = "$done_pid" ] && unset 'pull_pids[i]'
  done
  pull_pids=("${pull_pids[@]}")
done
t3=$(shoal_now)
cpu=$(awk -v a="$cpu0" -v b="$(cluster_cpu)" -v k0="$kids0" -v k1="$(children_cpu)" 'BEGIN { print b - a + k1 - k0 }')
[ "$failed" -eq 0 ] || exit 1

# shoal pull already checked the digest; hashing here again shows it independently.
for row in "${peers[@]}"; do
  read -r name _ <<<"$row"
  actual="sha256:$(shoal_sha256 "$work/pulled/$name")"
  if [ "$actual" != "$expected" ]; then
    echo "!! $name's copy hashes to $actual, not $expected" >&2
    exit 1
  fi
done
echo "== verified: all ${#peers[@]} copies hash to $expected"

# Peers sample their per-connection counters twice a second: let the last sample land.
# A connection that dropped mid-download can leave up to half a second of its bytes
# counted as "from peers"; the origin's own count in the last line is exact.
sleep 1
all_s=$(shoal_elapsed "$t2" "$t3")
echo "== ${#peers[@]} x $size_mib MiB in ${all_s}s: $(shoal_rate $((bytes * ${#peers[@]})) "$all_s") MiB/s in total, $(shoal_per_gib "$cpu" $((bytes * ${#peers[@]}))) CPU-s per GiB delivered (all processes)"
printf '   %-8s %8s %9s %14s %12s %12s\n' peer time MiB/s "from origin" "from peers" "to peers"
for row in "${peers[@]}"; do
  read -r name url <<<"$row"
  s=$(shoal_elapsed "${start_of[$name]}" "${end_of[$name]}")
  from_origin=$(shoal_metric "$url" 'shoal_peer_downloaded_bytes_total{source="origin"}')
  from_peers=$(shoal_metric "$url" 'shoal_peer_downloaded_bytes_total{source="peers"}')
  to_peers=$(shoal_metric "$url" shoal_peer_uploaded_bytes_total)
  printf '   %-8s %7ss %9s %10s MiB %8s MiB %8s MiB\n' "$name" "$s" "$(shoal_rate "$bytes" "$s")" \
    "$(mib "$from_origin")" "$(mib "$from_peers")" "$(mib "$to_peers")"
done
origin_sent=$(( $(shoal_metric "$origin_url" shoal_origin_bt_uploaded_bytes) + $(shoal_metric "$origin_url" shoal_origin_handout_bytes_total) ))
copies=$(awk -v o="$origin_sent" -v b="$bytes" 'BEGIN { printf "%.2f", o / b }')
echo "== the origin uploaded $(mib "$origin_sent") MiB into the swarm = $copies copies of the artifact for ${#peers[@]} peers"

# The CDN edge in front of peer1: HTTPS with HTTP/2, a miss filled from the swarm, then a hit.
echo "== the edge: curl --http2 --cacert $edge_cert $edge_url/blobs/$expected"
for attempt in 1 2; do
  out=$(curl -sS --http2 --cacert "$edge_cert" -o "$work/from-edge" -D "$work/edge-headers" \
    -w '%{http_code} HTTP/%{http_version} %{time_total}s %{speed_download}' "$edge_url/blobs/$expected")
  read -r code proto secs speed <<<"$out"
  cache=$(tr -d '\r' <"$work/edge-headers" | awk -F': ' 'tolower($1) == "x-cache" { print $2 }')
  echo "   GET #$attempt: $code $proto X-Cache: $cache in $secs ($(awk -v s="$speed" 'BEGIN { printf "%.0f", s / 1048576 }') MiB/s)"
done
actual="sha256:$(shoal_sha256 "$work/from-edge")"
[ "$actual" = "$expected" ] || { echo "!! the edge's copy hashes to $actual" >&2; exit 1; }
echo "== stopping the cluster; next: README.md's tour, or \`build/shoal up\` for a cluster you keep"
