#!/usr/bin/env bash
# The CDN edge against nginx: `shoal edge` and nginx configured as a caching reverse
# proxy (scripts/bench/nginx-edge.conf.in) in front of the same Shoal origin, serving
# the same two cached blobs (1 KiB and 1 MiB of random bytes) on the same machine:
#
#   HTTP/2 over TLS: h2load -n N -c CONNS -m STREAMS -t 1 https://127.0.0.1:PORT/blobs/<d>
#   HTTP/1.1 plain:  wrk -t1 -c CONNS -d WRK_SECONDS http://127.0.0.1:PORT/blobs/<d>
#
# For each run: requests per second (from h2load, or wrk's own count and duration), the
# server's CPU seconds during the run (utime + stime of every one of its processes from
# /proc/PID/stat: the edge; nginx's master, worker and cache manager) per 10,000
# requests; how busy that kept its CPU (CPU seconds / wall seconds; about 100% means the
# server was the bottleneck); and the same for the load generator (its CPU seconds from
# the shell's `times`; near 100% with the server well under it means the client set the
# pace, and then CPU per request is the figure to compare). /proc/stat tells whether
# anything else used the two CPUs or the hypervisor stole time: the script counts such
# disturbed runs and says so under the table. Every run must answer every request 2xx
# with the whole body (h2load: 0 failed, errored or timed out, data bytes >= N x size;
# wrk: no socket errors, no non-2xx/3xx, bytes read >= requests x size) or the script
# fails. Each measurement is repeated REPEAT times, alternating edge and nginx (and which
# goes first), and the table shows medians.
#
# Fairness:
# - One worker each: `shoal edge --threads 1`, nginx `worker_processes 1`. Both servers
#   are pinned with taskset to SERVER_CPU (default 1), the load generator (one h2load or
#   wrk thread) to LOAD_CPU (default 0), so on 2 cores neither server competes with the
#   client. Only one server is loaded at a time; the other idles on the same CPU.
# - Same TLS: the same P-256 certificate and key, TLS 1.2 and 1.3, OpenSSL defaults for
#   ciphers and groups on both; what h2load negotiated (protocol, cipher, key exchange,
#   ALPN) is recorded for every run, and a difference between the two is reported.
#   Neither uses kernel TLS. nginx has ssl_session_cache; resumption hardly matters here
#   (CONNS handshakes per run).
# - Access logs: by default neither logs requests (the edge runs with --log-level warn,
#   nginx with access_log off), so the figures are the serving path alone, without disk
#   writes whose write-back lands on whichever CPU the kernel picks. ACCESS_LOG=1 makes
#   both log every request to a file in the work directory instead: the edge's JSON line
#   on stdout (opened O_APPEND) and an nginx log_format with the same fields; each does
#   one write(2) per request. The script then checks that each logged every request and
#   empties both logs after each run.
# - nginx as it is deployed as a cache: sendfile, tcp_nopush, open_file_cache,
#   proxy_cache_lock, keep-alive to the origin, keepalive_requests high enough never to
#   close h2load's or wrk's connections. The edge keeps small blobs in RAM (--mem-cache,
#   EDGE_MEM_CACHE); nginx serves its cache files from the page cache, which the
#   warm-up fills.
#
#   scripts/bench/edge.sh
#
# Environment: REPEAT (3); H2_N_SMALL (500000 requests of 1 KiB) and H2_N_LARGE (10000
# of 1 MiB), each about 5 s or more on one 2.x GHz core; CONNS (16); STREAMS (10 per
# HTTP/2 connection); WRK_SECONDS (10); SERVER_CPU (1); LOAD_CPU (0); ACCESS_LOG (0);
# EDGE_MEM_CACHE (256MiB); SERVERS ("edge nginx"; one of them alone measures just that
# one); CASES ("h2-small h2-large h1-small h1-large"; a subset measures only those, so
# that more repeats of one case fit the time). QUICK=1 is a smoke test: one repeat of tiny runs. SHOAL_BIN=path uses that
# binary instead of building build/shoal. Work files go to a fresh directory under
# $TMPDIR (default /tmp), removed on exit with every process the script started.
#
# Output on stdout: the machine, the settings, a markdown table of medians, then one JSON
# object per run. Progress goes to stderr.
set -euo pipefail
env_bin=${SHOAL_BIN:-}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib.sh
source "$here/../lib.sh"

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
  REPEAT=${REPEAT:-1} H2_N_SMALL=${H2_N_SMALL:-2000} H2_N_LARGE=${H2_N_LARGE:-200} WRK_SECONDS=${WRK_SECONDS:-1}
fi
REPEAT=${REPEAT:-3}
H2_N_SMALL=${H2_N_SMALL:-500000}
H2_N_LARGE=${H2_N_LARGE:-10000}
CONNS=${CONNS:-16}
STREAMS=${STREAMS:-10}
WRK_SECONDS=${WRK_SECONDS:-10}
SERVER_CPU=${SERVER_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
ACCESS_LOG=${ACCESS_LOG:-0}
EDGE_MEM_CACHE=${EDGE_MEM_CACHE:-256MiB}
SERVERS=${SERVERS:-"edge nginx"}
CASES=${CASES:-"h2-small h2-large h1-small h1-large"}

die() {
  echo "edge.sh: $*" >&2
  exit 1
}
for v in REPEAT H2_N_SMALL H2_N_LARGE CONNS STREAMS WRK_SECONDS SERVER_CPU LOAD_CPU; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, not \"${!v}\""
done
for v in REPEAT H2_N_SMALL H2_N_LARGE CONNS STREAMS WRK_SECONDS; do
  [ "${!v}" -ge 1 ] || die "$v must be at least 1"
done
[[ $ACCESS_LOG =~ ^[01]$ ]] || die "ACCESS_LOG must be 0 or 1, not \"$ACCESS_LOG\""
read -r -a servers <<<"$SERVERS"
[ "${#servers[@]}" -ge 1 ] || die "SERVERS is empty"
for v in "${servers[@]}"; do
  [ "$v" = edge ] || [ "$v" = nginx ] || die "SERVERS lists \"$v\": only edge and nginx are known"
done
with() { [[ " ${servers[*]} " == *" $1 "* ]]; }
cases=()
for c in $CASES; do
  case $c in
    h2-small | h2-large | h1-small | h1-large) cases+=("${c%-*} ${c#*-}") ;;
    *) die "CASES lists \"$c\": only h2-small, h2-large, h1-small and h1-large are known" ;;
  esac
done
[ "${#cases[@]}" -ge 1 ] || die "CASES is empty"

# nginx lives in /usr/sbin, which a non-root PATH may lack.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/sbin ;; esac
need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 not found (Debian package $2): run scripts/install-deps.sh as root"
}
need nginx nginx-light
need h2load nghttp2-client
need wrk wrk
need curl curl
need openssl openssl
need taskset util-linux
need pgrep procps
need python3 python3
nginx_build=$(nginx -V 2>&1)
for m in http_ssl_module http_v2_module; do
  grep -q -- "--with-$m" <<<"$nginx_build" ||
    die "this nginx lacks $m: install nginx-light (scripts/install-deps.sh)"
done

if [ -n "$env_bin" ]; then SHOAL_BIN=$env_bin; else shoal_build; fi
[ -x "$SHOAL_BIN" ] || die "no shoal binary at $SHOAL_BIN"
if with edge; then
  "$SHOAL_BIN" edge --help >/dev/null 2>&1 || die "$SHOAL_BIN has no working 'edge' command"
fi

pin_note=
if [ "$(nproc)" -lt 2 ]; then
  SERVER_CPU=0 LOAD_CPU=0
  pin_note=" (only one CPU: server and load generator share it)"
fi
for c in "$SERVER_CPU" "$LOAD_CPU"; do
  taskset -c "$c" true 2>/dev/null || die "cannot pin to CPU $c (allowed: $(taskset -cp $$ | cut -d: -f2))"
done
HZ=$(getconf CLK_TCK)

work=$(mktemp -d "${TMPDIR:-/tmp}/shoal-bench-edge.XXXXXX")
PIDS=()         # every server started, stopped on exit
NGINX_KIDS=()   # nginx's workers, in case the master goes first
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  for p in "${NGINX_KIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helpers

# free_ports N: N distinct free loopback ports (nginx cannot pick its own, and the edge
# says which port it got only at log level info).
free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# wait_http URL PID NAME LOG: until URL answers anything at all over HTTP.
wait_http() {
  local code
  for _ in $(seq 200); do
    code=$(curl -sk -o /dev/null -w '%{http_code}' --max-time 1 "$1" 2>/dev/null || true)
    [ -n "$code" ] && [ "$code" != 000 ] && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.05
  done
  echo "edge.sh: $3 did not start (nothing answers $1); its log:" >&2
  tail -n 30 "$4" >&2 || true
  exit 1
}

# proc_ticks PID: utime + stime of the whole process in clock ticks; -1 once it is gone.
proc_ticks() {
  local s f
  s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo -1; return; }
  s=${s##*) }  # the name, in parentheses, may hold spaces; field 3 onward follows
  read -r -a f <<<"$s"
  echo $((f[11] + f[12]))
}

# server_pids SERVER: every process of the server (nginx: master and its children).
server_pids() {
  if [ "$1" = edge ]; then
    echo "$EDGE_PID"
  else
    { echo "$NGINX_PID"; pgrep -P "$NGINX_PID" || true; } | tr '\n' ' '

  fi
}

# cpu_ticks N: "busy steal total" clock ticks of CPU N so far, from /proc/stat (busy:
# user, nice, system, irq and softirq, of every process; steal: time the hypervisor gave
# to someone else).
cpu_ticks() {
  awk -v c="cpu$1" '$1 == c { t = 0; for (i = 2; i <= 9; i++) t += $i; print $2 + $3 + $4 + $7 + $8, $9, t }' /proc/stat
}
# cpu_since "BUSY0 STEAL0 TOTAL0" N: "busy steal" shares of CPU N since that reading.
cpu_since() {
  local b0 s0 t0 b1 s1 t1
  read -r b0 s0 t0 <<<"$1"
  read -r b1 s1 t1 <<<"$(cpu_ticks "$2")"
  awk -v b=$((b1 - b0)) -v s=$((s1 - s0)) -v t=$((t1 - t0)) 'BEGIN { if (t <= 0) t = 1; printf "%.3f %.3f", b / t, s / t }'
}
# children_cpu: CPU seconds of this shell's finished children so far (the load
# generator's, once it has exited), from the times builtin, which must run in this
# shell, not in a $(...) subshell.
children_cpu() {
  times >"$work/times"
  CHILDREN_CPU=$(awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, a, "m"); s += a[1] * 60 + a[2] } printf "%.3f", s }' "$work/times")
}

# measure_start SERVER / measure_end: between the two, the server's CPU seconds (M_CPU),
# the wall seconds (M_WALL) and the load generator's CPU seconds (M_LOAD_CPU); how busy
# each of the two CPUs was with everything on it (M_SCPU_ALL, M_LCPU_ALL: well above
# the server's or load generator's own share means something else ran there) and the
# steal on them (M_STEAL, the larger of the two). A server process that exits in
# between counts until its last reading.
measure_start() {
  local p
  read -r -a M_PIDS <<<"$(server_pids "$1")"
  M_T0=()
  for p in "${M_PIDS[@]}"; do M_T0+=("$(proc_ticks "$p")"); done
  children_cpu
  M_C0=$CHILDREN_CPU
  M_L0=$(cpu_ticks "$LOAD_CPU")
  M_S0=$(cpu_ticks "$SERVER_CPU")
  M_W0=$(shoal_now)
}
measure_end() {
  local i t d=0 ls ss
  children_cpu
  M_W1=$(shoal_now)
  read -r M_LCPU_ALL ls <<<"$(cpu_since "$M_L0" "$LOAD_CPU")"
  read -r M_SCPU_ALL ss <<<"$(cpu_since "$M_S0" "$SERVER_CPU")"
  for i in "${!M_PIDS[@]}"; do
    t=$(proc_ticks "${M_PIDS[$i]}")
    if [ "$t" -ge 0 ] && [ "${M_T0[$i]}" -ge 0 ]; then d=$((d + t - M_T0[i])); fi
  done
  M_CPU=$(awk -v t="$d" -v hz="$HZ" 'BEGIN { printf "%.3f", t / hz }')
  M_WALL=$(awk -v a="$M_W0" -v b="$M_W1" 'BEGIN { printf "%.3f", b - a }')
  M_LOAD_CPU=$(awk -v a="$M_C0" -v b="$CHILDREN_CPU" 'BEGIN { printf "%.3f", b - a }')
  M_STEAL=$(awk -v a="$ls" -v b="$ss" 'BEGIN { print (a > b ? a : b) }')
}

alive() {
  local pid=$EDGE_PID log=$work/edge.log
  if [ "$1" = nginx ]; then pid=$NGINX_PID log=$work/nginx-error.log; fi
  kill -0 "$pid" 2>/dev/null && return 0
  echo "edge.sh: $1 exited during the benchmark; its log:" >&2
  tail -n 30 "$log" >&2 || true
  exit 1
}

pct() { awk -v b="$1" 'BEGIN { print b * 100 }'; }
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
size_label() { if [ "$1" = small ]; then echo "1 KiB"; else echo "1 MiB"; fi; }

# ---------------------------------------------------------------- setup

echo "edge.sh: work directory $work" >&2
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 7 \
  -keyout "$work/key.pem" -out "$work/cert.pem" -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1 ||
  die "openssl could not make a self-signed certificate"

head -c 1024 /dev/urandom >"$work/small.bin"
head -c 1048576 /dev/urandom >"$work/large.bin"
declare -A DIGEST BYTES
shoal_start_origin "$work/origin"
PIDS+=("$ORIGIN_PID")
for s in small large; do
  DIGEST[$s]=$("$SHOAL_BIN" push "$work/$s.bin" --origin "$ORIGIN_URL" --quiet --state-dir "$work/state")
  [ "${DIGEST[$s]}" = "sha256:$(shoal_sha256 "$work/$s.bin")" ] ||
    die "push of $s.bin printed ${DIGEST[$s]}, not its SHA-256"
  BYTES[$s]=$(stat -c %s "$work/$s.bin")
done

read -r E_TLS E_PLAIN N_TLS N_PLAIN <<<"$(free_ports 4)"

EDGE_PID='' NGINX_PID=''
if with edge; then
  edge_level=warn
  [ "$ACCESS_LOG" = 1 ] && edge_level=info
  # >> opens the log O_APPEND, so emptying it between runs is safe (like nginx's logs).
  taskset -c "$SERVER_CPU" "$SHOAL_BIN" edge --listen "127.0.0.1:$E_TLS" --plain-listen "127.0.0.1:$E_PLAIN" \
    --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" --origin "$ORIGIN_URL" --data "$work/edge" \
    --threads 1 --mem-cache "$EDGE_MEM_CACHE" --log-level "$edge_level" >>"$work/edge.log" 2>&1 &
  EDGE_PID=$!
  PIDS+=("$EDGE_PID")
  wait_http "http://127.0.0.1:$E_PLAIN/metrics" "$EDGE_PID" "shoal edge" "$work/edge.log"
fi

if with nginx; then
  user_line="# not root: nginx runs as the user who started it"
  [ "$(id -u)" -eq 0 ] && user_line="user $(id -un) $(id -gn);  # root: workers stay root too, to read $work"
  nginx_log=off
  [ "$ACCESS_LOG" = 1 ] && nginx_log="$work/nginx-access.log shoal_bench"
  mkdir -p "$work/nginx"
  sed -e "s|@USER@|$user_line|" -e "s|@WORK@|$work|g" -e "s|@ACCESS_LOG@|$nginx_log|" \
    -e "s|@ORIGIN@|${ORIGIN_URL#http://}|" -e "s|@TLS_PORT@|$N_TLS|" -e "s|@PLAIN_PORT@|$N_PLAIN|" \
    -e "s|@CERT@|$work/cert.pem|" -e "s|@KEY@|$work/key.pem|" "$here/nginx-edge.conf.in" >"$work/nginx.conf"
  nginx_globals="daemon off; pid $work/nginx.pid; error_log $work/nginx-error.log;"
  nginx -t -q -p "$work" -c "$work/nginx.conf" -g "$nginx_globals" 2>"$work/nginx-t.log" || {
    cat "$work/nginx-t.log" >&2
    die "nginx rejected $work/nginx.conf (from scripts/bench/nginx-edge.conf.in)"
  }
  taskset -c "$SERVER_CPU" nginx -p "$work" -c "$work/nginx.conf" -g "$nginx_globals" >>"$work/nginx-error.log" 2>&1 &
  NGINX_PID=$!
  PIDS+=("$NGINX_PID")

  wait_http "http://127.0.0.1:$N_PLAIN/" "$NGINX_PID" nginx "$work/nginx-error.log"
  read -r -a NGINX_KIDS <<<"$(pgrep -P "$NGINX_PID" | tr '\n' ' ')"
fi

declare -A TLS_URL PLAIN_URL CACHE_HEADER LOGFILE
TLS_URL[edge]="https://127.0.0.1:$E_TLS"
PLAIN_URL[edge]="http://127.0.0.1:$E_PLAIN"
CACHE_HEADER[edge]=x-cache
LOGFILE[edge]=$work/edge.log
TLS_URL[nginx]="https://127.0.0.1:$N_TLS"
PLAIN_URL[nginx]="http://127.0.0.1:$N_PLAIN"
CACHE_HEADER[nginx]=x-cache-status
LOGFILE[nginx]=$work/nginx-access.log

# ---------------------------------------------------------------- warm-up

# fetch SERVER URL VERSION SIZE: GET into $work/got, headers into $work/hdr; prints the cache
# header's value; fails unless 200, the HTTP version wanted, and the right bytes.
fetch() {
  local server=$1 url=$2 want=$3 size=$4 out vflag=--http1.1
  [ "$want" = 2 ] && vflag=--http2
  out=$(curl -sk "$vflag" --max-time 30 -o "$work/got" -D "$work/hdr" -w '%{http_code} %{http_version}' "$url") ||
    die "$server: GET $url failed (curl exit $?)"
  [ "$out" = "200 $want" ] || die "$server: GET $url answered '$out' (HTTP status and version), want '200 $want'"
  [ "sha256:$(shoal_sha256 "$work/got")" = "${DIGEST[$size]}" ] || die "$server: GET $url returned other bytes"
  tr -d '\r' <"$work/hdr" | awk -v h="${CACHE_HEADER[$server]}:" 'tolower($1) == h { print $2 }'
}

for server in "${servers[@]}"; do
  for s in small large; do
    path="/blobs/${DIGEST[$s]}"
    first=$(fetch "$server" "${TLS_URL[$server]}$path" 2 "$s")
    second=$(fetch "$server" "${TLS_URL[$server]}$path" 2 "$s")
    plain=$(fetch "$server" "${PLAIN_URL[$server]}$path" 1.1 "$s")
    echo "warm-up $server $(size_label "$s"): ${CACHE_HEADER[$server]} $first, then $second (HTTP/2), $plain (HTTP/1.1)" >&2
    if [ "$second" != HIT ] || [ "$plain" != HIT ]; then
      die "$server does not serve $(size_label "$s") from its cache after a GET (${CACHE_HEADER[$server]}: '$second' over TLS, '$plain' plain)"
    fi
  done
done
if [ "$ACCESS_LOG" = 1 ]; then
  for server in "${servers[@]}"; do : >"${LOGFILE[$server]}"; done
fi

# wrk reports its totals through this hook, exactly, not rounded for display.
cat >"$work/report.lua" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("shoal-bench requests=%d bytes=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write, e.status, e.timeout))
end
EOF

# ---------------------------------------------------------------- runs

declare -A RPS CPU10K BUSY LOADBUSY TLSINFO
JSON=()
DISTURBED=0  # runs during which other work used either CPU, or the hypervisor stole time

# logged_requests SERVER: request lines in its access log, which is then emptied.
logged_requests() {
  local n
  n=$(grep -c '"msg":"request"' "${LOGFILE[$1]}" || true)
  : >"${LOGFILE[$1]}"
  echo "${n:-0}"
}

run_h2() {
  local server=$1 size=$2 rep=$3 n url out rps reqs tls data
  n=$H2_N_SMALL
  [ "$size" = large ] && n=$H2_N_LARGE
  url="${TLS_URL[$server]}/blobs/${DIGEST[$size]}"
  out="$work/h2load.out"
  measure_start "$server"
  taskset -c "$LOAD_CPU" h2load -n "$n" -c "$CONNS" -m "$STREAMS" -t 1 "$url" >"$out" 2>&1 || {
    cat "$out" >&2
    die "$server: h2load failed"
  }
  measure_end
  alive "$server"
  # "requests: N total, N started, N done, N succeeded, 0 failed, 0 errored, 0 timeout"
  read -r reqs bad < <(tr -d ',' <"$out" | awk '/^requests:/ { for (i = 2; i < NF; i += 2) v[$(i + 1)] = $i
    print v["succeeded"] + 0, v["failed"] + v["errored"] + v["timeout"] }')
  local ok2xx
  ok2xx=$(tr -d ',' <"$out" | awk '/^status codes:/ { for (i = 3; i < NF; i += 2) if ($(i + 1) == "2xx") print $i }')
  data=$(sed -n 's/^traffic:.*(\([0-9]*\)) data.*/\1/p' "$out")
  rps=$(tr -d ',' <"$out" | awk '/^finished in/ { print $4 }')
  tls="$(awk -F': ' '/^TLS Protocol:/ { p = $2 } /^Cipher:/ { c = $2 } /^Server Temp Key:/ { k = $2 }
    /^Application protocol:/ { a = $2 } END { print p, c, k, a }' "$out")"
  if [ "${reqs:-0}" != "$n" ] || [ "${bad:-1}" != 0 ] || [ "${ok2xx:-0}" != "$n" ] ||
    [ "${data:-0}" -lt $((n * BYTES[$size])) ] || [ -z "$rps" ] || [[ $tls != *" h2" ]]; then
    cat "$out" >&2
    die "$server HTTP/2 $(size_label "$size"): want $n requests succeeded with 2xx, 0 failed/errored/timeout, >= $((n * BYTES[$size])) data bytes over h2"
  fi
  record "$server" h2 "$size" "$rep" "$n" "$rps" "$tls"
}

run_h1() {
  local server=$1 size=$2 rep=$3 url out line reqs bytes us errs rps
  url="${PLAIN_URL[$server]}/blobs/${DIGEST[$size]}"
  out="$work/wrk.out"
  measure_start "$server"
  taskset -c "$LOAD_CPU" wrk -t 1 -c "$CONNS" -d "${WRK_SECONDS}s" -s "$work/report.lua" "$url" >"$out" 2>&1 || {
    cat "$out" >&2
    die "$server: wrk failed"
  }
  measure_end
  alive "$server"
  line=$(grep '^shoal-bench ' "$out" || true)
  reqs=$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<"$line")
  bytes=$(sed -n 's/.* bytes=\([0-9]*\).*/\1/p' <<<"$line")
  us=$(sed -n 's/.* duration_us=\([0-9]*\).*/\1/p' <<<"$line")
  errs=$(awk '{ s = 0; for (i = 5; i <= NF; i++) { split($i, kv, "="); s += kv[2] } print s }' <<<"$line")
  if [ -z "$line" ] || [ "${reqs:-0}" -eq 0 ] || [ "${errs:-1}" != 0 ] ||
    [ "${bytes:-0}" -lt $((reqs * BYTES[$size])) ]; then
    cat "$out" >&2
    die "$server HTTP/1.1 $(size_label "$size"): want no socket errors, no non-2xx/3xx, >= $((${reqs:-0} * BYTES[$size])) bytes read"
  fi
  rps=$(awk -v r="$reqs" -v us="$us" 'BEGIN { printf "%.2f", r / (us / 1e6) }')
  record "$server" h1 "$size" "$rep" "$reqs" "$rps" ""
}

# record SERVER PROTO SIZE REP REQUESTS RPS TLS: keeps the run for the medians and its
# JSON line.
record() {
  local server=$1 proto=$2 size=$3 rep=$4 reqs=$5 rps=$6 tls=$7 key cpu10k busy lbusy logged=null
  key="$server $proto $size"
  cpu10k=$(awk -v c="$M_CPU" -v r="$reqs" 'BEGIN { printf "%.4f", c / r * 10000 }')
  busy=$(awk -v c="$M_CPU" -v w="$M_WALL" 'BEGIN { printf "%.3f", c / w }')
  lbusy=$(awk -v c="$M_LOAD_CPU" -v w="$M_WALL" 'BEGIN { printf "%.3f", c / w }')
  RPS[$key]="${RPS[$key]:-} $rps"
  CPU10K[$key]="${CPU10K[$key]:-} $cpu10k"
  BUSY[$key]="${BUSY[$key]:-} $busy"
  LOADBUSY[$key]="${LOADBUSY[$key]:-} $lbusy"
  if awk -v sa="$M_SCPU_ALL" -v s="$busy" -v la="$M_LCPU_ALL" -v l="$lbusy" -v st="$M_STEAL" \
    'BEGIN { exit !(sa - s > 0.15 || la - l > 0.15 || st > 0.05) }'; then
    DISTURBED=$((DISTURBED + 1))
  fi
  [ -n "$tls" ] && TLSINFO[$server]=$tls
  if [ "$ACCESS_LOG" = 1 ]; then
    logged=$(logged_requests "$server")
    # wrk stops mid-request when its time is up: those requests are served, not counted.
    [ "$logged" -ge "$reqs" ] || die "$server logged $logged requests of the $reqs served"
  fi
  JSON+=("$(printf '{"server":"%s","protocol":"%s","object_bytes":%s,"repeat":%s,"requests":%s,"req_per_s":%s,"server_cpu_s":%s,"wall_s":%s,"cpu_s_per_10k":%s,"server_cpu_busy":%s,"server_cpu_all_busy":%s,"load_gen_cpu_s":%s,"load_gen_cpu_busy":%s,"load_cpu_all_busy":%s,"steal":%s,"tls":"%s","access_log":%s,"logged_requests":%s}' \
    "$server" "$proto" "${BYTES[$size]}" "$rep" "$reqs" "$rps" "$M_CPU" "$M_WALL" "$cpu10k" "$busy" "$M_SCPU_ALL" "$M_LOAD_CPU" "$lbusy" "$M_LCPU_ALL" "$M_STEAL" "$tls" \
    "$ACCESS_LOG" "$logged")")
  printf 'run %s/%s %-5s %-8s %s: %8.0f req/s, %7.4f CPU s/10k req; CPU busy: server %3.0f%% (its CPU %3.0f%%), load generator %3.0f%% (its CPU %3.0f%%), steal %.0f%%\n' \
    "$rep" "$REPEAT" "$server" "$([ "$proto" = h2 ] && echo HTTP/2 || echo HTTP/1.1)" "$(size_label "$size")" \
    "$rps" "$cpu10k" "$(pct "$busy")" "$(pct "$M_SCPU_ALL")" "$(pct "$lbusy")" "$(pct "$M_LCPU_ALL")" "$(pct "$M_STEAL")" >&2
}

machine="$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr)"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "edge.sh: $REPEAT x ${#cases[@]} measurements per server; load average $load_start" >&2

for rep in $(seq "$REPEAT"); do
  order=("${servers[@]}")
  if [ $((rep % 2)) -eq 0 ] && [ "${#servers[@]}" -eq 2 ]; then order=("${servers[1]}" "${servers[0]}"); fi
  for c in "${cases[@]}"; do
    read -r proto size <<<"$c"
    for server in "${order[@]}"; do
      if [ "$proto" = h2 ]; then run_h2 "$server" "$size" "$rep"; else run_h1 "$server" "$size" "$rep"; fi
    done
  done
done

# ---------------------------------------------------------------- report

med() { tr " " "\n" <<<"$1" | grep . | median || true; }
echo "machine: $machine"
echo "tools: $(nginx -v 2>&1 | sed 's/^nginx version: //'), $(h2load --version | head -1), wrk $(wrk -v 2>&1 | head -1 | awk '{ print $2 }'), $(openssl version | cut -d' ' -f1-2), shoal $(git -C "$SHOAL_ROOT" describe --always --dirty 2>/dev/null || echo '?')"
echo "load average: $load_start at start, $(cut -d' ' -f1-3 /proc/loadavg) at end (anything else running shares the cores)"
echo "servers: shoal edge --threads 1 (--mem-cache $EDGE_MEM_CACHE), nginx worker_processes 1 with proxy_cache; both pinned to CPU $SERVER_CPU, the load generator to CPU $LOAD_CPU$pin_note; access logs $([ "$ACCESS_LOG" = 1 ] && echo "on (both to a file)" || echo "off (both)")"
echo "load: HTTP/2 h2load -c $CONNS -m $STREAMS -t 1 over TLS, $H2_N_SMALL requests (1 KiB) / $H2_N_LARGE (1 MiB); HTTP/1.1 wrk -t 1 -c $CONNS -d ${WRK_SECONDS}s plain; median of $REPEAT runs each"
if with edge && with nginx; then
  echo "TLS negotiated: edge ${TLSINFO[edge]}; nginx ${TLSINFO[nginx]}"
  [ "${TLSINFO[edge]}" = "${TLSINFO[nginx]}" ] || echo "NOTE: the two servers negotiated different TLS parameters"
else
  echo "TLS negotiated: ${servers[0]} ${TLSINFO[${servers[0]}]}"
fi
echo
echo "| protocol | object | edge req/s | nginx req/s | edge / nginx | edge CPU s / 10k req | nginx CPU s / 10k req | edge CPU busy | nginx CPU busy | load generator CPU busy (edge / nginx runs) |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for c in "${cases[@]}"; do
  read -r proto size <<<"$c"
  label="HTTP/1.1 (wrk, plain)"
  [ "$proto" = h2 ] && label="HTTP/2 (h2load, TLS)"
  # A server left out of SERVERS shows as "-".
  awk -v l="$label" -v s="$(size_label "$size")" \
    -v er="$(med "${RPS[edge $proto $size]:-}")" -v nr="$(med "${RPS[nginx $proto $size]:-}")" \
    -v ec="$(med "${CPU10K[edge $proto $size]:-}")" -v nc="$(med "${CPU10K[nginx $proto $size]:-}")" \
    -v eb="$(med "${BUSY[edge $proto $size]:-}")" -v nb="$(med "${BUSY[nginx $proto $size]:-}")" \
    -v el="$(med "${LOADBUSY[edge $proto $size]:-}")" -v nl="$(med "${LOADBUSY[nginx $proto $size]:-}")" '
    function f(fmt, v) { return v == "" ? "-" : sprintf(fmt, v) }
    BEGIN {
      printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s |\n", l, s, f("%.0f", er), f("%.0f", nr),
        (er == "" || nr == "") ? "-" : sprintf("%.2f", er / nr), f("%.4f", ec), f("%.4f", nc),
        f("%.0f%%", eb == "" ? "" : eb * 100), f("%.0f%%", nb == "" ? "" : nb * 100),
        f("%.0f%%", el == "" ? "" : el * 100), f("%.0f%%", nl == "" ? "" : nl * 100)
    }'
done
echo
echo "CPU busy: CPU seconds / wall seconds of the run (100% = one CPU), for the server and for the load generator (h2load or wrk, one thread). A server well under 100% beside a load generator near 100% means the client set the pace: compare CPU s / 10k req then."
if [ "$DISTURBED" -gt 0 ]; then
  echo
  echo "NOTE: $DISTURBED of ${#JSON[@]} runs were disturbed: other work took more than 15% of the server's or the load generator's CPU, or the hypervisor stole more than 5% (compare server_cpu_all_busy with server_cpu_busy, load_cpu_all_busy with load_gen_cpu_busy, and steal below). Re-run on a quiet machine."
fi
echo
printf '%s\n' "${JSON[@]}"
