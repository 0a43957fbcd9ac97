#!/usr/bin/env bash
# HTTP/3 against HTTP/2 on one `shoal edge`, and against ngtcp2's own example server,
# in one run on loopback (issue 5 item 7):
#
#   1. Many small requests: `shoal get URL --http3|--http2 --parallel C --requests N
#      --streams 1 --json` (the same load generator for both protocols) for a 1 KiB and
#      a 1 MiB object. For each run: requests/s; the edge's CPU seconds (utime + stime
#      of the process, from /proc/PID/stat before and after) per 10,000 requests; how
#      busy that kept it (CPU s / wall s, 1.00 = one core); and requests/s per core =
#      requests/s / busy, the issue's metric (goal: HTTP/3 at least 0.70 of HTTP/2).
#   2. One big transfer (1 GiB by default) from the edge: `shoal get URL >/dev/null`
#      (not `-o /dev/null`, which writes /dev/null.part and renames it over /dev/null)
#      over HTTP/3 and over HTTP/2, and Debian's `gtlsclient` (ngtcp2 0.12 example client)
#      over HTTP/3.
#   3. The reference: the same file served by Debian's `gtlsserver` (ngtcp2 0.12 example
#      server, GnuTLS) to the same `gtlsclient`. Goal: Shoal's HTTP/3 transfer at least
#      as fast as this. The edge sends a client on this host 16 KiB datagrams (the
#      loopback MTU is known; http/h3/datagram_size.h), gtlsserver by default 1452-byte
#      ones, and datagram size sets the client's cost per byte. So a second gtlsserver
#      runs with the edge's size, --max-udp-payload-size=16376, to compare like with
#      like, and --max-gso-dgrams=4: its default of 64 makes bursts over the 65507
#      bytes one GSO send may carry, which fail (with 16384-byte datagrams it took
#      122 s for 256 MiB).
#
#   scripts/bench/h3.sh [--requests N] [--big-size 1GiB] [--out FILE]
#
# --requests N: requests per run for the 1 KiB object (default 20000); the 1 MiB runs
# make N/10 (at least 100). --big-size: the big object (KiB, MiB or GiB suffix; default
# 1GiB). --out FILE: one JSON object per measurement, one per line (default: none; the
# lines are printed after the table either way).
#
# Set-up: a self-signed P-256 certificate; `shoal origin` and `shoal edge` (TLS port,
# with HTTP/3 on the same UDP port, and a plain port for /metrics), the objects pushed
# with `shoal push` and each fetched once through the edge so every measured request is
# a cache hit. The edge's shoal_edge_misses_total must not move during the measured runs
# and shoal_edge_hits_total must grow by at least the number of requests made, or the
# script fails; so must any failed request, short transfer or wrong digest (shoal get
# hashes every body whose path names a digest; gtlsclient's copies are hashed after the
# clock stops).
#
# Fairness: one event-loop thread for the edge (--threads 1; gtlsserver is one thread
# too), pinned with taskset to SERVER_CPU (1); every client pinned to LOAD_CPU (0), so the
# server never shares its core with the load generator. `shoal get --parallel C` runs C
# connections, one thread and one request in flight each (--streams 1: Shoal's HTTP/3
# client keeps one request in flight per connection, so HTTP/2 gets the same). TLS is
# the libraries' defaults on both sides (OpenSSL for HTTP/2, GnuTLS for QUIC; the
# certificate is the same for the edge and gtlsserver). Work files (certificate, origin store, edge cache, downloads) go to
# a fresh directory under $TMPDIR, default /dev/shm (tmpfs), removed on exit with every
# process the script started.
#
# Every measurement is made REPEAT times (default 3), in rounds (the four load runs, then
# the five transfers), every other round in reverse order; the tables show medians, the
# JSON lines every run. /proc/stat says how much of the CPUs other work took during each
# run ("others_busy"); the script notes it under the tables when that was over 10%.
#
# Warm-up transfer: in every round the first gtlsclient transfer after other work (a
# load run, a `shoal get` transfer) ran at about half speed with twice the CPU per
# byte on both sides, whichever server it came from, and the next one at full speed
# (no extra losses; the cause is on the client's side and was not found). With the
# servers taking turns at going first, that decided the medians. So each round
# starts its pair of gtlsclient transfers with an unmeasured one from gtlsserver,
# hashed and removed like the measured ones.
#
# Environment: SHOAL_BIN (default: build/shoal, built with `cmake --build build --target
# shoal` when stale; the script runs a private copy of it); REPEAT (3); PARALLEL (8
# connections); STREAMS (1); SERVER_CPU (1); LOAD_CPU (0); EDGE_THREADS (1); GTLS_CLIENT
# (gtlsclient), GTLS_SERVER (gtlsserver). With the defaults a run took 3.5 minutes on
# the machine of docs/BENCHMARKS.md while others compiled on it. Progress goes to
# stderr; the tables and the JSON lines to stdout.
set -Eeuo pipefail
env_bin=${SHOAL_BIN:-}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib.sh
source "$here/../lib.sh"

die() {
  echo "h3.sh: $*" >&2
  exit 1
}

requests=20000
big_size=1GiB
out_file=
while [ $# -gt 0 ]; do
  case $1 in
    --requests) requests=${2:?--requests needs a number}; shift 2 ;;
    --requests=*) requests=${1#*=}; shift ;;
    --big-size) big_size=${2:?--big-size needs a size}; shift 2 ;;
    --big-size=*) big_size=${1#*=}; shift ;;
    --out) out_file=${2:?--out needs a file}; shift 2 ;;
    --out=*) out_file=${1#*=}; shift ;;
    -h | --help) sed -n '2,/^set -E/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument \"$1\" (usage: h3.sh [--requests N] [--big-size 1GiB] [--out FILE])" ;;
  esac
done
[[ $requests =~ ^[0-9]+$ ]] && [ "$requests" -ge 1 ] || die "--requests must be a whole number >= 1"
# size_bytes 1GiB -> 1073741824 (B, KiB, MiB, GiB; K/M/G taken as binary too).
size_bytes() {
  local v=$1 n u
  [[ $v =~ ^([0-9]+)([KMG]?)(i?B)?$ ]] || die "cannot read size \"$v\" (e.g. 512MiB, 1GiB)"
  n=${BASH_REMATCH[1]} u=${BASH_REMATCH[2]}
  case $u in K) n=$((n * 1024)) ;; M) n=$((n * 1048576)) ;; G) n=$((n * 1073741824)) ;; esac
  echo "$n"
}
big_bytes=$(size_bytes "$big_size")
[ "$big_bytes" -ge 1048576 ] || die "--big-size must be at least 1MiB"
[ $((big_bytes % 1048576)) -eq 0 ] || die "--big-size must be a whole number of MiB"
small_requests=$requests
large_requests=$((requests / 10))
[ "$large_requests" -ge 100 ] || large_requests=100

PARALLEL=${PARALLEL:-8}
STREAMS=${STREAMS:-1}
SERVER_CPU=${SERVER_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
EDGE_THREADS=${EDGE_THREADS:-1}
REPEAT=${REPEAT:-3}
GTLS_CLIENT=${GTLS_CLIENT:-gtlsclient}
GTLS_SERVER=${GTLS_SERVER:-gtlsserver}
for v in PARALLEL STREAMS SERVER_CPU LOAD_CPU EDGE_THREADS REPEAT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, not \"${!v}\""
done
for v in PARALLEL STREAMS EDGE_THREADS REPEAT; do [ "${!v}" -ge 1 ] || die "$v must be at least 1"; done

case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/sbin ;; esac
need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 not found (Debian package $2)"
}
need "$GTLS_CLIENT" ngtcp2-client
need "$GTLS_SERVER" ngtcp2-server
need openssl openssl
need curl curl
need taskset util-linux
need python3 python3

if [ -n "$env_bin" ]; then SHOAL_BIN=$env_bin; else shoal_build; fi
[ -x "$SHOAL_BIN" ] || die "no shoal binary at $SHOAL_BIN"
"$SHOAL_BIN" edge --help 2>&1 | grep -q -- --http3 || die "$SHOAL_BIN edge has no --http3"

if [ "$(nproc)" -lt 2 ]; then SERVER_CPU=0 LOAD_CPU=0; fi
for c in "$SERVER_CPU" "$LOAD_CPU"; do
  taskset -c "$c" true 2>/dev/null || die "cannot pin to CPU $c"
done
HZ=$(getconf CLK_TCK)

tmp_root=${TMPDIR:-/dev/shm}
work=$(mktemp -d "$tmp_root/shoal-bench-h3.XXXXXX")
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'echo "h3.sh: line $LINENO: \"$BASH_COMMAND\" failed" >&2' ERR
echo "h3.sh: work directory $work ($(stat -f -c %T "$work"))" >&2
# A private copy: a build that relinks build/shoal during the run does not change it.
cp "$SHOAL_BIN" "$work/shoal"
BIN_TIME=$(date -u -r "$SHOAL_BIN" +%FT%TZ)
SHOAL_BIN_ORIG=$SHOAL_BIN
SHOAL_BIN=$work/shoal

# ---------------------------------------------------------------- helpers

free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    t = socket.socket()                               # the port must be free for TCP
    t.bind(("127.0.0.1", 0))
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # and for UDP (HTTP/3)
    try:
        u.bind(("127.0.0.1", t.getsockname()[1]))
    except OSError:
        continue
    socks += [t, u]
print(" ".join(str(s.getsockname()[1]) for s in socks[0::2][: int(sys.argv[1])]))
EOF
}

# proc_ticks PID: utime + stime of the whole process (all threads) in clock ticks.
proc_ticks() {
  local s f
  s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo -1; return; }
  s=${s##*) }
  read -r -a f <<<"$s"
  echo $((f[11] + f[12]))
}
# all_ticks: "busy steal total" clock ticks of all CPUs so far (/proc/stat), to see
# whether anything else ran.
all_ticks() { awk '$1 == "cpu" { t = 0; for (i = 2; i <= 9; i++) t += $i; print $2 + $3 + $4 + $7 + $8, $9, t }' /proc/stat; }
children_cpu() {
  times >"$work/times"
  CHILDREN_CPU=$(awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, a, "m"); s += a[1] * 60 + a[2] } printf "%.3f", s }' "$work/times")
}

# metric NAME [LABEL]: the sum of the edge's samples of NAME (with LABEL in their labels).
metric() {
  local page
  page=$(curl -sf --max-time 10 "$EDGE_PLAIN/metrics") || {
    echo "h3.sh: the edge does not answer $EDGE_PLAIN/metrics (alive: $(kill -0 "$EDGE_PID" 2>/dev/null && echo yes || echo no)); its log:" >&2
    tail -n 20 "$work/edge.log" >&2
    return 1
  }
  awk -v n="$1" -v l="${2:-}" '
    index($1, n) == 1 && (substr($1, length(n) + 1, 1) == "{" || length($1) == length(n)) &&
      (l == "" || index($1, l) > 0) { s += $NF }
    END { printf "%.0f\n", s }' <<<"$page"
}

# measure_start PID / measure_end: M_CPU (the server's CPU seconds), M_WALL, M_LOAD_CPU
# (CPU seconds of this shell's children that finished in between: the client), M_ALL
# (busy share of both CPUs with everything on them, 1.00 = both fully busy), M_STEAL.
measure_start() {
  M_PID=$1
  M_T0=$(proc_ticks "$M_PID")
  children_cpu
  M_C0=$CHILDREN_CPU
  M_A0=$(all_ticks)
  M_HITS0=$(metric shoal_edge_hits_total)
  M_MISS0=$(metric shoal_edge_misses_total)
  M_W0=$(shoal_now)
}
measure_end() {
  local t1 b0 s0 a0 b1 s1 a1
  M_W1=$(shoal_now)
  edge_alive
  t1=$(proc_ticks "$M_PID")
  children_cpu
  read -r b0 s0 a0 <<<"$M_A0"
  read -r b1 s1 a1 <<<"$(all_ticks)"
  M_CPU=$(awk -v t=$((t1 - M_T0)) -v hz="$HZ" 'BEGIN { printf "%.3f", t / hz }')
  M_WALL=$(awk -v a="$M_W0" -v b="$M_W1" 'BEGIN { printf "%.3f", b - a }')
  M_LOAD_CPU=$(awk -v a="$M_C0" -v b="$CHILDREN_CPU" 'BEGIN { printf "%.3f", b - a }')
  M_ALL=$(awk -v b=$((b1 - b0)) -v t=$((a1 - a0)) 'BEGIN { printf "%.3f", (t > 0 ? b / t : 0) }')
  M_STEAL=$(awk -v s=$((s1 - s0)) -v t=$((a1 - a0)) 'BEGIN { printf "%.3f", (t > 0 ? s / t : 0) }')
  # What else used the CPUs: their busy share minus the server's and the client's.
  M_OTHER=$(awk -v a="$M_ALL" -v c="$M_CPU" -v l="$M_LOAD_CPU" -v w="$M_WALL" -v n="$(nproc)" \
    'BEGIN { o = a - (c + l) / (w * n); printf "%.3f", (o > 0 ? o : 0) }')
  M_HITS=$(($(metric shoal_edge_hits_total) - M_HITS0))
  M_MISSES=$(($(metric shoal_edge_misses_total) - M_MISS0))
}
# edge_alive: fails, saying how the edge ended and keeping its log, once it has exited.
edge_alive() {
  local st=0 keep
  kill -0 "$EDGE_PID" 2>/dev/null && return 0
  wait "$EDGE_PID" || st=$?
  keep="${TMPDIR:-/tmp}/shoal-bench-h3-edge.$$.log"
  cp "$work/edge.log" "$keep" 2>/dev/null || true
  if [ "$st" -gt 128 ]; then st="signal $(kill -l $((st - 128)) 2>/dev/null || echo $((st - 128)))"; else st="exit status $st"; fi
  die "shoal edge ended during the run ($st); its log (kept in $keep) ends: $(tail -n 5 "$work/edge.log" 2>/dev/null | tr '\n' ' ')"
}
# check_hits N WHAT: every one of N requests was a cache hit.
check_hits() {
  [ "$M_MISSES" -eq 0 ] || die "$2: the edge counted $M_MISSES cache misses (want every request a hit)"
  [ "$M_HITS" -ge "$1" ] || die "$2: the edge counted $M_HITS cache hits for $1 requests"
}

json_field() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); v=d
for k in sys.argv[2].split("."): v=v[k]
print(v)' "$1" "$2"; }

JSON=()
add_json() { JSON+=("$1"); [ -z "$out_file" ] || printf '%s\n' "$1" >>"$out_file"; }

# ---------------------------------------------------------------- setup

[ -z "$out_file" ] || : >"$out_file"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 7 \
  -keyout "$work/key.pem" -out "$work/cert.pem" -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1 ||
  die "openssl could not make a self-signed certificate"

mkdir -p "$work/src" "$work/htdocs" "$work/dl"
head -c 1024 /dev/urandom >"$work/src/small.bin"
head -c 1048576 /dev/urandom >"$work/src/large.bin"
echo "h3.sh: making the $big_size object" >&2
shoal_make_artifact "$work/htdocs/big.bin" $((big_bytes / 1048576))
declare -A DIGEST BYTES
DIGEST[big]="sha256:$(shoal_sha256 "$work/htdocs/big.bin")"
BYTES[big]=$big_bytes

shoal_start_origin "$work/origin"
PIDS+=("$ORIGIN_PID")
for s in small large big; do
  obj=$work/src/$s.bin
  [ "$s" = big ] && obj=$work/htdocs/big.bin
  d=$("$SHOAL_BIN" push "$obj" --origin "$ORIGIN_URL" --quiet --state-dir "$work/state")
  if [ "$s" = big ]; then
    [ "$d" = "${DIGEST[big]}" ] || die "push of big.bin printed $d, not its SHA-256"
  else
    [ "$d" = "sha256:$(shoal_sha256 "$obj")" ] || die "push of $s.bin printed $d, not its SHA-256"
    DIGEST[$s]=$d
    BYTES[$s]=$(stat -c %s "$obj")
  fi
done

read -r E_PORT E_PLAIN G_PORT G16_PORT <<<"$(free_ports 4)"
[ -n "$G16_PORT" ] || die "could not find free ports"
taskset -c "$SERVER_CPU" "$SHOAL_BIN" edge --listen "127.0.0.1:$E_PORT" --plain-listen "127.0.0.1:$E_PLAIN" \
  --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" --origin "$ORIGIN_URL" --data "$work/edge" \
  --threads "$EDGE_THREADS" --http3 --log-level warn >>"$work/edge.log" 2>&1 &
EDGE_PID=$!
PIDS+=("$EDGE_PID")
EDGE_URL="https://127.0.0.1:$E_PORT"
EDGE_PLAIN="http://127.0.0.1:$E_PLAIN"
for _ in $(seq 200); do
  curl -sf -o /dev/null --max-time 1 "$EDGE_PLAIN/metrics" && break
  kill -0 "$EDGE_PID" 2>/dev/null || { tail -n 30 "$work/edge.log" >&2; die "shoal edge exited"; }
  sleep 0.05
done
curl -sf -o /dev/null "$EDGE_PLAIN/metrics" || die "shoal edge did not answer $EDGE_PLAIN/metrics"

# gtlsserver serves htdocs/ (the same big file); it writes its debug output to stderr.
(cd "$work" && exec taskset -c "$SERVER_CPU" "$GTLS_SERVER" -q -d "$work/htdocs" 127.0.0.1 "$G_PORT" \
  "$work/key.pem" "$work/cert.pem" >"$work/gtlsserver.log" 2>&1) &
GTLS_PID=$!
PIDS+=("$GTLS_PID")
(cd "$work" && exec taskset -c "$SERVER_CPU" "$GTLS_SERVER" -q -d "$work/htdocs" --max-udp-payload-size=16376 --max-gso-dgrams=4 \
  127.0.0.1 "$G16_PORT" "$work/key.pem" "$work/cert.pem" >"$work/gtlsserver16k.log" 2>&1) &
GTLS16_PID=$!
PIDS+=("$GTLS16_PID")

get() { "$SHOAL_BIN" get "$@" --cacert "$work/cert.pem"; }

# Warm-up: each object once over HTTP/2 (a miss: the edge fills it from the origin), then
# once over HTTP/3 and once over HTTP/2 again, both of which must be hits.
echo "h3.sh: warming the edge's cache" >&2
for s in small large big; do
  url="$EDGE_URL/blobs/${DIGEST[$s]}"
  get "$url" --http2 --quiet >/dev/null || die "warm-up GET $url over HTTP/2 failed"
  h0=$(metric shoal_edge_hits_total) m0=$(metric shoal_edge_misses_total)
  get "$url" --http3 --quiet >/dev/null || die "warm-up GET $url over HTTP/3 failed"
  get "$url" --http2 --quiet >/dev/null || die "warm-up GET $url over HTTP/2 failed"
  h1=$(metric shoal_edge_hits_total) m1=$(metric shoal_edge_misses_total)
  [ $((h1 - h0)) -eq 2 ] && [ "$m1" -eq "$m0" ] ||
    die "$s: the edge does not serve it from its cache after one GET (hits +$((h1 - h0)), misses +$((m1 - m0)))"
done
for port in "$G_PORT" "$G16_PORT"; do
  gtls_ready=0
  for _ in $(seq 50); do  # gtlsserver says nothing when ready: poll it with the client
    if taskset -c "$LOAD_CPU" timeout 5 "$GTLS_CLIENT" -q --exit-on-all-streams-close --timeout=2s \
      127.0.0.1 "$port" "https://127.0.0.1:$port/nothing-here" >/dev/null 2>&1; then gtls_ready=1; break; fi
    kill -0 "$GTLS_PID" 2>/dev/null || { cat "$work/gtlsserver.log" >&2; die "gtlsserver exited"; }
    kill -0 "$GTLS16_PID" 2>/dev/null || { cat "$work/gtlsserver16k.log" >&2; die "gtlsserver (16 KiB) exited"; }
    sleep 0.1
  done
  [ "$gtls_ready" = 1 ] || die "gtlsserver does not answer gtlsclient on UDP port $port"
done

machine="$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr)"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
others_start=$(top -bn1 -w 200 | awk 'NR > 7 && $9 + 0 >= 10 { print $12 "(" $9 "%)" }' | tr '\n' ' ')

# ---------------------------------------------------------------- 1. load runs

declare -A V  # V["KEY|FIELD"]: the values of one figure over the repeats
acc() { V["$1|$2"]="${V["$1|$2"]:-} $3"; }
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
med() { tr ' ' '\n' <<<"${V["$1|$2"]:-}" | grep . | median; }
pct() { awk -v b="$1" 'BEGIN { printf "%.0f", b * 100 }'; }

# run_load PROTO SIZE REP
run_load() {
  local proto=$1 size=$2 rep=$3 n url j reqs fails rps p50 p99 secs cpu10k busy cbusy per_core flag key
  n=$small_requests
  [ "$size" = large ] && n=$large_requests
  url="$EDGE_URL/blobs/${DIGEST[$size]}"
  flag=--http2
  [ "$proto" = h3 ] && flag=--http3
  measure_start "$EDGE_PID"
  j=$(taskset -c "$LOAD_CPU" "$SHOAL_BIN" get "$url" "$flag" --cacert "$work/cert.pem" \
    --parallel "$PARALLEL" --streams "$STREAMS" --requests "$n" --json) ||
    die "$proto $size: shoal get failed: $j"
  measure_end
  check_hits "$n" "$proto $size"
  reqs=$(json_field "$j" requests) fails=$(json_field "$j" failures)
  if [ "$reqs" -ne "$n" ] || [ "$fails" -ne 0 ]; then die "$proto $size: $fails of $reqs requests failed: $j"; fi
  [ "$(json_field "$j" protocol)" = "$proto" ] || die "$proto $size: shoal get used another protocol: $j"
  rps=$(json_field "$j" requests_per_second)
  secs=$(json_field "$j" seconds)
  p50=$(json_field "$j" latency_ms.p50) p99=$(json_field "$j" latency_ms.p99)
  cpu10k=$(awk -v c="$M_CPU" -v r="$n" 'BEGIN { printf "%.4f", c / r * 10000 }')
  busy=$(awk -v c="$M_CPU" -v w="$M_WALL" 'BEGIN { printf "%.3f", c / w }')
  cbusy=$(awk -v c="$M_LOAD_CPU" -v w="$M_WALL" 'BEGIN { printf "%.3f", c / w }')
  # requests/s per core of edge CPU = requests/s / (edge CPU s / wall s) = requests / edge CPU s.
  per_core=$(awk -v r="$n" -v c="$M_CPU" 'BEGIN { printf "%.1f", (c > 0 ? r / c : 0) }')
  key="$proto $size"
  acc "$key" rps "$rps"; acc "$key" cpu10k "$cpu10k"; acc "$key" busy "$busy"; acc "$key" per_core "$per_core"
  acc "$key" cbusy "$cbusy"; acc "$key" p50 "$p50"; acc "$key" p99 "$p99"; acc "$key" other "$M_OTHER"
  add_json "$(printf '{"bench":"h3","case":"load","repeat":%s,"server":"shoal edge","client":"shoal get","protocol":"%s","object_bytes":%s,"connections":%s,"streams":%s,"requests":%s,"failures":%s,"seconds":%s,"req_per_s":%s,"edge_cpu_s":%s,"wall_s":%s,"cpu_s_per_10k":%s,"edge_cpu_busy":%s,"req_per_s_per_core":%s,"client_cpu_s":%s,"client_cpu_busy":%s,"all_cpus_busy":%s,"others_busy":%s,"steal":%s,"latency_ms_p50":%s,"latency_ms_p99":%s,"edge_hits":%s,"edge_misses":%s}' \
    "$rep" "$proto" "${BYTES[$size]}" "$PARALLEL" "$STREAMS" "$n" "$fails" "$secs" "$rps" "$M_CPU" "$M_WALL" "$cpu10k" "$busy" "$per_core" \
    "$M_LOAD_CPU" "$cbusy" "$M_ALL" "$M_OTHER" "$M_STEAL" "$p50" "$p99" "$M_HITS" "$M_MISSES")"
  printf 'h3.sh: run %s/%s %s %-5s %6d req: %8.0f req/s, %.4f edge CPU s/10k, edge busy %3s%%, %8.0f req/s per core; client busy %3s%%; others %3s%% of the CPUs\n' \
    "$rep" "$REPEAT" "$proto" "$size" "$n" "$rps" "$cpu10k" "$(pct "$busy")" "$per_core" "$(pct "$cbusy")" "$(pct "$M_OTHER")" >&2
}

# ---------------------------------------------------------------- 2./3. one big transfer

# warm_gtlsclient: one unmeasured transfer from gtlsserver to gtlsclient (see the
# header: the first after other work runs at half speed whichever server it is from).
warm_gtlsclient() {
  local got
  rm -rf "$work/dl" && mkdir -p "$work/dl"
  taskset -c "$LOAD_CPU" "$GTLS_CLIENT" -q --exit-on-all-streams-close --download="$work/dl" \
    127.0.0.1 "$G_PORT" "https://127.0.0.1:$G_PORT/big.bin" >"$work/gtlsclient.log" 2>&1 ||
    die "warm-up gtlsclient transfer failed"
  got=$(find "$work/dl" -type f | head -1)
  [ -n "$got" ] && shoal_sha256 "$got" >/dev/null
  rm -rf "$work/dl"
}

# run_big SERVER CLIENT PROTO REP: one transfer of the big object, timed; the server's CPU.
run_big() {
  local server=$1 client=$2 proto=$3 rep=$4 pid url port path got mibs busy cbusy key
  if [ "$server" = gtlsserver ]; then pid=$GTLS_PID port=$G_PORT path=/big.bin
  elif [ "$server" = gtlsserver-16k ]; then pid=$GTLS16_PID port=$G16_PORT path=/big.bin
  else pid=$EDGE_PID port=$E_PORT path="/blobs/${DIGEST[big]}"; fi
  url="https://127.0.0.1:$port$path"
  rm -rf "$work/dl" && mkdir -p "$work/dl"
  measure_start "$pid"
  if [ "$client" = gtlsclient ]; then
    taskset -c "$LOAD_CPU" "$GTLS_CLIENT" -q --exit-on-all-streams-close --download="$work/dl" \
      127.0.0.1 "$port" "$url" >"$work/gtlsclient.log" 2>&1 || {
      tail -n 20 "$work/gtlsclient.log" >&2
      die "gtlsclient from $server failed"
    }
  else
    # Body to stdout, thrown away (-o /dev/null would rename a .part file over /dev/null).
    taskset -c "$LOAD_CPU" "$SHOAL_BIN" get "$url" "--http${proto#h}" --cacert "$work/cert.pem" --quiet >/dev/null ||
      die "shoal get $proto of the big object failed"
  fi
  measure_end
  kill -0 "$pid" 2>/dev/null || die "$server exited during the transfer"  # (the edge: edge_alive said how)
  if [ "$server" = edge ]; then check_hits 1 "$server $client $proto big"; fi
  if [ "$client" = gtlsclient ]; then
    got=$(find "$work/dl" -type f | head -1)
    if [ -z "$got" ] || [ "$(stat -c %s "$got")" -ne "$big_bytes" ]; then
      die "gtlsclient from $server: got $(stat -c %s "$got" 2>/dev/null || echo no) bytes, want $big_bytes"
    fi
    [ "sha256:$(shoal_sha256 "$got")" = "${DIGEST[big]}" ] || die "gtlsclient from $server: other bytes"
    rm -f "$got"
  fi  # shoal get hashed the body against the digest in its path, or failed
  mibs=$(awk -v b="$big_bytes" -v s="$M_WALL" 'BEGIN { printf "%.1f", b / 1048576 / s }')
  busy=$(awk -v c="$M_CPU" -v w="$M_WALL" 'BEGIN { printf "%.3f", c / w }')
  cbusy=$(awk -v c="$M_LOAD_CPU" -v w="$M_WALL" 'BEGIN { printf "%.3f", c / w }')
  key="$server|$client|$proto"
  acc "$key" secs "$M_WALL"; acc "$key" cpu "$M_CPU"; acc "$key" busy "$busy"
  acc "$key" ccpu "$M_LOAD_CPU"; acc "$key" cbusy "$cbusy"; acc "$key" other "$M_OTHER"
  add_json "$(printf '{"bench":"h3","case":"transfer","repeat":%s,"server":"%s","client":"%s","protocol":"%s","object_bytes":%s,"seconds":%s,"mib_per_s":%s,"server_cpu_s":%s,"server_cpu_busy":%s,"client_cpu_s":%s,"client_cpu_busy":%s,"all_cpus_busy":%s,"others_busy":%s,"steal":%s}' \
    "$rep" "$([ "$server" = edge ] && echo "shoal edge" || echo "$server")" "$client" "$proto" "$big_bytes" "$M_WALL" "$mibs" "$M_CPU" "$busy" "$M_LOAD_CPU" "$cbusy" "$M_ALL" "$M_OTHER" "$M_STEAL")"
  printf 'h3.sh: run %s/%s %-10s -> %-10s %s: %s s, %s MiB/s; server CPU %s s, client CPU %s s; others %s%% of the CPUs\n' \
    "$rep" "$REPEAT" "$server" "$client" "$proto" "$M_WALL" "$mibs" "$M_CPU" "$M_LOAD_CPU" "$(pct "$M_OTHER")" >&2
}

LOADS=("h3 small" "h2 small" "h3 large" "h2 large")
BIGS=("edge|shoal get|h3" "edge|shoal get|h2" "edge|gtlsclient|h3" "gtlsserver|gtlsclient|h3" "gtlsserver-16k|gtlsclient|h3")
echo "h3.sh: $REPEAT rounds: 4 load runs ($PARALLEL connections x $STREAMS streams; $small_requests x 1 KiB, $large_requests x 1 MiB), then 5 transfers of $big_size; every other round in reverse order" >&2
cat "$work/htdocs/big.bin" >/dev/null  # gtlsserver reads it from the page cache, like the edge
for rep in $(seq "$REPEAT"); do
  loads=("${LOADS[@]}") bigs=("${BIGS[@]}")
  if [ $((rep % 2)) -eq 0 ]; then
    loads=("h2 small" "h3 small" "h2 large" "h3 large")
    bigs=("gtlsserver-16k|gtlsclient|h3" "gtlsserver|gtlsclient|h3" "edge|gtlsclient|h3" "edge|shoal get|h2" "edge|shoal get|h3")
  fi
  for c in "${loads[@]}"; do
    read -r proto size <<<"$c"
    run_load "$proto" "$size" "$rep"
  done
  warmed=0
  for c in "${bigs[@]}"; do
    IFS='|' read -r server client proto <<<"$c"
    if [ "$client" = gtlsclient ] && [ "$warmed" = 0 ]; then
      warm_gtlsclient
      warmed=1
    fi
    run_big "$server" "$client" "$proto" "$rep"
  done
done

# ---------------------------------------------------------------- report

others_end=$(top -bn1 -w 200 | awk 'NR > 7 && $9 + 0 >= 10 { print $12 "(" $9 "%)" }' | tr '\n' ' ')
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
echo "machine: $machine; work files on $(stat -f -c %T "$work")"
echo "tools: $SHOAL_BIN_ORIG (linked $BIN_TIME; source tree at $(git -C "$SHOAL_ROOT" describe --always --dirty 2>/dev/null || echo '?')), $(dpkg-query -W -f '${Package} ${Version}' ngtcp2-server 2>/dev/null || echo gtlsserver), $(dpkg-query -W -f '${Package} ${Version}' ngtcp2-client 2>/dev/null || echo gtlsclient), $(openssl version | cut -d' ' -f1-2)"
echo "load average: $load_start at start, $(cut -d' ' -f1-3 /proc/loadavg) at end"
echo "other processes over 10% CPU: at start: ${others_start:-none}; at end: ${others_end:-none}"
echo "servers: shoal edge --threads $EDGE_THREADS and gtlsserver pinned to CPU $SERVER_CPU; clients pinned to CPU $LOAD_CPU; medians of $REPEAT runs"
echo "load runs: shoal get --http3|--http2 --parallel $PARALLEL --streams $STREAMS --requests N (N = $small_requests for 1 KiB, $large_requests for 1 MiB); transfers: one GET of $big_size each"
echo
echo "| protocol | object | requests | req/s | edge CPU s / 10k req | edge CPU busy | req/s per core | client CPU busy | latency p50 / p99 (ms) |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for c in "${LOADS[@]}"; do
  read -r proto size <<<"$c"
  printf '| %s | %s | %s | %.0f | %.4f | %s%% | **%.0f** | %s%% | %.2f / %.2f |\n' \
    "$([ "$proto" = h3 ] && echo HTTP/3 || echo HTTP/2)" "$([ "$size" = small ] && echo "1 KiB" || echo "1 MiB")" \
    "$([ "$size" = small ] && echo "$small_requests" || echo "$large_requests")" "$(med "$c" rps)" "$(med "$c" cpu10k)" \
    "$(pct "$(med "$c" busy)")" "$(med "$c" per_core)" "$(pct "$(med "$c" cbusy)")" "$(med "$c" p50)" "$(med "$c" p99)"
done
# MiB/s of the median transfer time (with an even REPEAT the medians are the lower middle values).
big_mibs() { awk -v b="$big_bytes" -v s="$(med "$1" secs)" 'BEGIN { printf "%.1f", b / 1048576 / s }'; }
echo
echo "| server | client | protocol | seconds | MiB/s | server CPU s (busy) | client CPU s (busy) |"
echo "| --- | --- | --- | ---: | ---: | ---: | ---: |"
for c in "${BIGS[@]}"; do
  IFS='|' read -r server client proto <<<"$c"
  printf '| %s | %s | %s | %.2f | %.1f | %.2f (%s%%) | %.2f (%s%%) |\n' \
    "$([ "$server" = edge ] && echo "shoal edge" || echo "$server")" "$client" "$proto" "$(med "$c" secs)" "$(big_mibs "$c")" \
    "$(med "$c" cpu)" "$(pct "$(med "$c" busy)")" "$(med "$c" ccpu)" "$(pct "$(med "$c" cbusy)")"
done
echo
echo "HTTP/3 / HTTP/2 requests/s per core (goal >= 0.70): 1 KiB $(ratio "$(med "h3 small" per_core)" "$(med "h2 small" per_core)")," \
  "1 MiB $(ratio "$(med "h3 large" per_core)" "$(med "h2 large" per_core)")" \
  "(plain requests/s: 1 KiB $(ratio "$(med "h3 small" rps)" "$(med "h2 small" rps)"), 1 MiB $(ratio "$(med "h3 large" rps)" "$(med "h2 large" rps)"))"
g=$(big_mibs "gtlsserver|gtlsclient|h3")
echo "one $big_size transfer, Shoal HTTP/3 / gtlsserver -> gtlsclient (goal >= 1.00): shoal get $(ratio "$(big_mibs "edge|shoal get|h3")" "$g")," \
  "gtlsclient $(ratio "$(big_mibs "edge|gtlsclient|h3")" "$g"); against gtlsserver with the edge's 16376-byte datagrams:" \
  "gtlsclient $(ratio "$(big_mibs "edge|gtlsclient|h3")" "$(big_mibs "gtlsserver-16k|gtlsclient|h3")"); Shoal HTTP/3 / HTTP/2 (shoal get): $(ratio "$(big_mibs "edge|shoal get|h3")" "$(big_mibs "edge|shoal get|h2")")"
others=$(for k in "${!V[@]}"; do if [[ $k == *"|other" ]]; then tr ' ' '\n' <<<"${V[$k]}"; fi; done | grep . | sort -g)
echo "other work on the CPUs during the runs (share of all CPUs beyond the server's and the client's): median $(median <<<"$others"), max $(tail -1 <<<"$others")"
if awk -v b="$(median <<<"$others")" 'BEGIN { exit !(b > 0.10) }'; then
  echo "NOTE: other work used more than 10% of the CPUs during the median run (see 'other processes' above): the figures are disturbed; re-run on a quiet machine."
fi
echo
printf '%s\n' "${JSON[@]}"
