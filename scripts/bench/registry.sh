#!/usr/bin/env bash
# Registry fan-out on loopback: N hosts pull the same multi-layer OCI image (1 GiB in 8
# layers by default) with skopeo at the same time, for each N in $N, two ways:
#
#   swarm:  a fresh `shoal up --peers N --edge=false` cluster; the image pushed to its origin
#           with skopeo; once the origin seeds every blob, N concurrent
#           `skopeo copy docker://PEER/bench/image:v1 dir:OUT`, one to each peer agent's /v2/,
#           so every layer reaches the peers through the swarm.
#   origin: then, on the same cluster, N concurrent skopeo pulls straight from the origin's
#           /v2/ (plain HTTP, N copies).
#
# "all done" runs from starting the N pulls until the last one ends; a pull's time runs
# from that same start to its own end (p50 is the lower median). The origin's upload is
# what it sent while the pulls ran: BitTorrent payload (shoal_origin_bt_uploaded_bytes,
# before and after, read until it settles) plus HTTP response bodies (the bytes_out of
# every request line the origin logged during the window, its own /metrics excluded).
# "upload / image" divides that by the image's size (every blob, manifest included: what
# one pull moves). Every pull must exit 0, and every file in its dir: named by a hex
# digest must hash to that name; those are counted against the image's layers + config.
# Everything runs on one host, so the origin, the peers and the skopeo clients share its
# cores: on loopback nothing is bandwidth-limited and times are CPU-bound.
#
#   SIZE_MIB=1024 LAYERS=8 N="2 4 8" REPEAT=1 scripts/bench/registry.sh
#
# Knobs (environment): SIZE_MIB image payload (default 1024), LAYERS (default 8), N one
# count or a list (default 4), REPEAT runs per N, each on a fresh cluster; with more than
# one the figures are medians over runs (default 1). GZIP_LEVEL of the generated layers
# (default 0: stored deflate blocks; the bytes are random, so compression buys nothing and
# level 1 only makes the build slower). SHOAL_BIN=path uses that binary instead of
# build/shoal (built only if missing). SHOAL_BENCH_TIMEOUT caps each skopeo command
# (seconds, default 1800). Data goes to a fresh directory under $TMPDIR (default /tmp),
# removed on exit; the image layout is built once and reused for every N. When a pull
# fails, the cluster's logs are kept in $TMPDIR/shoal-bench-registry-logs-nN-rR.PID.
set -euo pipefail
env_bin=${SHOAL_BIN:-}
source "$(dirname "$0")/../lib.sh"

size_mib=${SIZE_MIB:-1024}
layers=${LAYERS:-8}
counts=${N:-4}
repeat=${REPEAT:-1}
gzip_level=${GZIP_LEVEL:-0}
timeout=${SHOAL_BENCH_TIMEOUT:-1800}
if [ -n "$env_bin" ]; then
  SHOAL_BIN=$env_bin
elif [ ! -x "$SHOAL_BIN" ]; then
  shoal_build
fi
command -v skopeo >/dev/null || { echo "registry.sh needs skopeo" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/shoal-bench-registry.XXXXXX")
UP_PID=
CLUSTER_PIDS=()
PULL_PIDS=()
stop_cluster() {
  if [ -n "$UP_PID" ]; then
    kill -TERM "$UP_PID" 2>/dev/null || true
    wait "$UP_PID" 2>/dev/null || true
    UP_PID=
  fi
  # `shoal up` stops its tracker, origin and peers itself; any it left behind (it was
  # killed, say) are ours only if their command line still names our data directory.
  local p
  for p in "${CLUSTER_PIDS[@]}"; do
    if grep -qF "$work" "/proc/$p/cmdline" 2>/dev/null; then kill -TERM "$p" 2>/dev/null || true; fi
  done
  CLUSTER_PIDS=()
}
cleanup() {
  local p
  for p in "${PULL_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PULL_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  stop_cluster
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
maximum() { sort -g | tail -1; }

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

# log_bytes_out LOG OFFSET: the sum of bytes_out over the request lines LOG gained after
# byte OFFSET, /metrics requests excluded; "-" if it gained none.
log_bytes_out() {
  tail -c +$(($2 + 1)) "$1" | awk '
    /"msg":"request"/ && !/"path":"\/metrics"/ {
      if (match($0, /"bytes_out":[0-9]+/)) { s += substr($0, RSTART + 12, RLENGTH - 12); n++ }
    }
    END { if (n) printf "%.0f\n", s; else print "-" }'
}

# pull_all OUT_DIR HOST:PORT...: concurrent skopeo pulls of bench/image:v1, one per
# registry, into OUT_DIR/pullI; OUT_DIR/time.I holds "exitcode seconds" (seconds from
# the common start). Sets PULL_SECONDS to the wall time until the last ends.
pull_all() {
  local out=$1 i=0 t0 t1 reg done_pid rc
  shift
  mkdir -p "$out"
  local -A index=()
  PULL_PIDS=()
  t0=$(shoal_now)
  for reg in "$@"; do
    i=$((i + 1))
    skopeo --command-timeout "${timeout}s" copy --src-tls-verify=false \
      "docker://$reg/bench/image:v1" "dir:$out/pull$i" >"$out/pull$i.log" 2>&1 &
    PULL_PIDS+=("$!")
    index[$!]=$i
  done
  while :; do
    rc=0
    done_pid=
    wait -n -p done_pid "${!index[@]}" || rc=$?
    [ -n "$done_pid" ] || break
    t1=$(shoal_now)
    echo "$rc $(elapsed "$t0" "$t1")" >"$out/time.${index[$done_pid]}"
    unset "index[$done_pid]"
    [ "${#index[@]}" -gt 0 ] || break
  done
  PULL_PIDS=()
  PULL_SECONDS=$(elapsed "$t0" "$(shoal_now)")
}

# check_pulls OUT_DIR N LABEL: every pull exited 0 and holds the image: each file named by
# a 64-hex digest hashes to its name, and those are exactly the image's layers + config.
# Sets PULL_P50, PULL_MAX and VERIFIED (blobs checked over all pulls); removes the copies.
check_pulls() {
  local out=$1 n=$2 label=$3 bad=0 rc t f name got count names
  for i in $(seq "$n"); do
    read -r rc t <"$out/time.$i" || { rc=missing; t='?'; }
    if [ "$rc" != 0 ]; then
      echo "$label: pull $i exited $rc after ${t}s:" >&2
      tail -3 "$out/pull$i.log" >&2 || true
      bad=1
      continue
    fi
    count=0
    names=
    for f in "$out/pull$i"/*; do
      name=${f##*/}
      [[ $name =~ ^[0-9a-f]{64}$ ]] || continue
      got=$(shoal_sha256 "$f")
      if [ "$got" != "$name" ]; then
        echo "$label: pull $i: $name hashes to $got" >&2
        bad=1
      fi
      count=$((count + 1))
      names+="$name"$'\n'
    done
    if [ "$(sort <<<"${names%$'\n'}")" != "$(sort "$work/blobs.txt")" ]; then
      echo "$label: pull $i holds $count blobs, not the image's $(wc -l <"$work/blobs.txt") layers + config" >&2
      bad=1
    fi
    VERIFIED=$((VERIFIED + count))
    rm -rf "$out/pull$i"
  done
  PULL_P50=$(cut -d' ' -f2 "$out"/time.* | median)
  PULL_MAX=$(cut -d' ' -f2 "$out"/time.* | maximum)
  return "$bad"
}

# settled_bt ORIGIN_URL: the origin's BitTorrent upload once libtorrent has folded the
# last transfers into its counters (two reads a second apart agree; at most 30 s).
settled_bt() {
  local prev='' now
  for _ in $(seq 30); do
    now=$(metric "$1" shoal_origin_bt_uploaded_bytes)
    [ "$now" = "$prev" ] && break
    prev=$now
    sleep 1
  done
  echo "$now"
}

# The image: LAYERS layers of pseudo-random bytes, built once.
echo "building a $size_mib MiB image in $layers layers (gzip level $gzip_level)..." >&2
t0=$(shoal_now)
image_bytes=$(PYTHONPATH="$SHOAL_ROOT/tests/integration" python3 - "$work/image" "$size_mib" "$layers" \
  "$gzip_level" "$work/blobs.txt" <<'EOF'
import sys
import oci_image
out, size_mib, layers, level, blobs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
oci_image.GZIP_LEVEL = level
image = oci_image.make_image(out, oci_image.split_sizes(size_mib << 20, layers))
with open(blobs, "w") as f:
    for d in image.layer_digests + [image.config_digest]:
        f.write(d.removeprefix("sha256:") + "\n")
print(image.total_bytes)
EOF
)
echo "  built in $(elapsed "$t0" "$(shoal_now)")s: $image_bytes bytes" >&2
expected_blobs=$(wc -l <"$work/blobs.txt")

echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
echo "data: $work ($(df --output=fstype,source "$work" | tail -1 | tr -s ' ')); $(skopeo --version)"
echo "image: $size_mib MiB payload in $layers layers, $image_bytes bytes of blobs ($(mib "$image_bytes") MiB); N: $counts; $repeat run(s) per N, loopback"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (anything else running shares the $(nproc) cores)"

declare -A R_ALL R_P50 R_MAX R_UP R_BT R_HTTP R_OK R_VER R_FROM_ORIGIN R_FROM_PEERS R_PUSH
failed=0
for n in $counts; do
  for run in $(seq "$repeat"); do
    dir="$work/n$n-r$run"
    mkdir -p "$dir"
    "$SHOAL_BIN" up --peers "$n" --data "$dir/cluster" --edge=false --quiet >"$dir/up.log" 2>&1 &
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
    # Lines: the origin's URL, its log, the peers' URLs; then every pid the cluster runs.
    mapfile -t info < <(python3 -c 'import json, sys
c = json.load(open(sys.argv[1]))
print("\n".join([c["origin"]["url"], c["origin"]["log"]] + [p["url"] for p in c["peers"]]))
print(" ".join(str(x["pid"]) for x in [c["tracker"], c["origin"]] + c["peers"]))' "$dir/cluster/cluster.json")
    read -ra CLUSTER_PIDS <<<"${info[-1]}"
    origin=${info[0]}
    origin_log=${info[1]}
    peers=("${info[@]:2:$n}")
    [ "${#peers[@]}" -eq "$n" ] || { echo "cluster.json lists ${#peers[@]} peers, not $n" >&2; exit 1; }

    t0=$(shoal_now)
    if ! skopeo --command-timeout "${timeout}s" copy --dest-tls-verify=false \
        "oci:$work/image:latest" "docker://${origin#http://}/bench/image:v1" >"$dir/push.log" 2>&1; then
      echo "skopeo push to $origin failed:" >&2
      tail -5 "$dir/push.log" >&2
      exit 1
    fi
    push_s=$(elapsed "$t0" "$(shoal_now)")
    wait_for "$origin" shoal_origin_seeding_torrents "$(metric "$origin" shoal_store_blobs)" 300
    echo "N=$n run $run: pushed in ${push_s}s" >&2

    note=
    for method in swarm origin; do
      regs=()
      if [ "$method" = swarm ]; then
        for p in "${peers[@]}"; do regs+=("${p#http://}"); done
      else
        for _ in $(seq "$n"); do regs+=("${origin#http://}"); done
      fi
      echo "N=$n run $run $method: $n skopeo pulls at once" >&2
      bt0=$(metric "$origin" shoal_origin_bt_uploaded_bytes)
      log0=$(stat -c %s "$origin_log")
      pull_all "$dir/$method" "${regs[@]}"
      all_s=$PULL_SECONDS
      VERIFIED=0
      ok=1
      check_pulls "$dir/$method" "$n" "N=$n run $run $method" || { ok=0; note=1; }
      if [ "$method" = swarm ]; then bt1=$(settled_bt "$origin"); else bt1=$(metric "$origin" shoal_origin_bt_uploaded_bytes); fi
      bt=$((bt1 - bt0))
      http=$(log_bytes_out "$origin_log" "$log0")
      if [ "$http" = - ]; then
        echo "N=$n run $run $method: the origin logged no requests during the pulls" >&2
        exit 1
      fi
      up=$((bt + http))
      from_origin=0 from_peers=0
      if [ "$method" = swarm ]; then
        for p in "${peers[@]}"; do
          from_origin=$((from_origin + $(metric "$p" shoal_peer_downloaded_bytes_total 'source="origin"')))
          from_peers=$((from_peers + $(metric "$p" shoal_peer_downloaded_bytes_total 'source="peers"')))
        done
      fi
      key="$method $n"
      R_ALL[$key]+="$all_s "
      R_P50[$key]+="$PULL_P50 "
      R_MAX[$key]+="$PULL_MAX "
      R_UP[$key]+="$up "
      R_BT[$key]+="$bt "
      R_HTTP[$key]+="$http "
      R_OK[$key]=$(( ${R_OK[$key]:-1} && ok ))
      R_VER[$key]=$(( ${R_VER[$key]:-0} + VERIFIED ))
      R_FROM_ORIGIN[$key]+="$from_origin "
      R_FROM_PEERS[$key]+="$from_peers "
      R_PUSH[$key]+="$push_s "
      echo "  all done ${all_s}s (per pull p50 ${PULL_P50}s, max ${PULL_MAX}s); origin sent $bt B over BitTorrent" \
        "+ $http B over HTTP = $(ratio "$up" "$image_bytes") images; $VERIFIED blobs verified$(
        [ "$method" = swarm ] && echo "; peers got $from_origin B from the origin, $from_peers B from peers")" >&2
    done

    stop_cluster
    if [ -n "$note" ]; then
      failed=1
      kept="${TMPDIR:-/tmp}/shoal-bench-registry-logs-n$n-r$run.$$"
      mkdir -p "$kept"
      cp "$dir"/cluster/*.log "$dir"/cluster/cluster.json "$dir"/up.log "$dir"/push.log "$kept"/ 2>/dev/null || true
      for m in swarm origin; do
        mkdir -p "$kept/$m"
        cp "$dir/$m"/*.log "$dir/$m"/time.* "$kept/$m"/ 2>/dev/null || true
      done
      echo "N=$n run $run: logs kept in $kept" >&2
    fi
    rm -rf "$dir"
  done
done

echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
if [ "$repeat" -gt 1 ]; then echo "(medians over $repeat runs, each on a fresh cluster)"; fi
echo "| method | N | image MiB | all done s | pull p50 s | pull max s | origin upload bytes | upload / image | verified |"
echo "| :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :--- |"
med() { tr ' ' '\n' <<<"$1" | grep . | median; }
json=()
for n in $counts; do
  for method in swarm origin; do
    key="$method $n"
    all=$(med "${R_ALL[$key]}") p50=$(med "${R_P50[$key]}") max=$(med "${R_MAX[$key]}")
    up=$(med "${R_UP[$key]}") bt=$(med "${R_BT[$key]}") http=$(med "${R_HTTP[$key]}")
    fo=$(med "${R_FROM_ORIGIN[$key]}") fp=$(med "${R_FROM_PEERS[$key]}") push=$(med "${R_PUSH[$key]}")
    ok=${R_OK[$key]}
    ver=${R_VER[$key]}
    want=$((n * repeat * expected_blobs))
    verdict="$ver/$want blobs"
    if [ "$ok" != 1 ] || [ "$ver" -ne "$want" ]; then verdict="FAILED ($verdict)"; ok=0; failed=1; fi
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$method" "$n" "$(mib "$image_bytes")" \
      "$all" "$p50" "$max" "$up" "$(ratio "$up" "$image_bytes")" "$verdict"
    runs_json=$(tr ' ' '\n' <<<"${R_ALL[$key]}" | grep . | paste -sd, -)
    extra=
    if [ "$method" = swarm ]; then
      extra=$(printf ',"peers_from_origin_bytes":%s,"peers_from_peers_bytes":%s' "$fo" "$fp")
    fi
    json+=("$(printf '{"bench":"registry","method":"%s","n":%s,"size_mib":%s,"layers":%s,"image_bytes":%s,"runs":%s,"all_done_s":%s,"pull_p50_s":%s,"pull_max_s":%s,"origin_upload_bytes":%s,"origin_bt_bytes":%s,"origin_http_bytes":%s,"upload_per_image":%s%s,"push_s":%s,"all_done_runs_s":[%s],"blobs_verified":%s,"blobs_expected":%s,"ok":%s}' \
      "$method" "$n" "$size_mib" "$layers" "$image_bytes" "$repeat" "$all" "$p50" "$max" "$up" "$bt" "$http" \
      "$(ratio "$up" "$image_bytes")" "$extra" "$push" "$runs_json" "$ver" "$want" \
      "$([ "$ok" = 1 ] && echo true || echo false)")")
  done
done
echo
printf '%s\n' "${json[@]}"
exit "$failed"
