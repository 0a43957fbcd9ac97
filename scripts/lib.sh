# Shared by the scripts: building the release binary and running an origin in the background.
# shellcheck shell=bash

SHOAL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHOAL_BIN="$SHOAL_ROOT/build/shoal"

# Configures build/ once, then lets ninja decide what is stale.
shoal_build() {
  if [ ! -f "$SHOAL_ROOT/build/build.ninja" ]; then
    cmake -S "$SHOAL_ROOT" -B "$SHOAL_ROOT/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  cmake --build "$SHOAL_ROOT/build" -j "$(nproc)" --target shoal >/dev/null
}

# shoal_start COMMAND LOG [flags...]: starts `shoal COMMAND` on a free loopback port,
# logging to LOG; sets SHOAL_PID and SHOAL_URL once it listens.
shoal_start() {
  local command=$1 log=$2
  shift 2
  "$SHOAL_BIN" "$command" --listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
  SHOAL_PID=$!
  for _ in $(seq 100); do
    SHOAL_URL=$(grep -m1 -o '"url":"[^"]*"' "$log" 2>/dev/null | cut -d'"' -f4 || true)
    [ -n "$SHOAL_URL" ] && return 0
    kill -0 "$SHOAL_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "shoal $command did not start:" >&2
  cat "$log" >&2
  return 1
}

# shoal_start_origin DATA_DIR [flags...]: starts an origin on a free loopback port,
# sets ORIGIN_PID and ORIGIN_URL.
shoal_start_origin() {
  local data=$1
  shift
  mkdir -p "$data"
  shoal_start origin "$data.log" --data "$data" "$@"
  ORIGIN_PID=$SHOAL_PID
  ORIGIN_URL=$SHOAL_URL
}

# Generates SIZE_MIB of incompressible data at PATH unless it is already there.
shoal_make_artifact() {
  local path=$1 size_mib=$2
  if [ ! -f "$path" ] || [ "$(stat -c %s "$path")" -ne $((size_mib * 1024 * 1024)) ]; then
    # AES-CTR of zeros: incompressible and fast. head closing the pipe early is the
    # normal end here, so pipefail must not turn openssl's SIGPIPE into a failure.
    (
      set +o pipefail
      openssl enc -aes-128-ctr -pass pass:shoal -nosalt -pbkdf2 </dev/zero 2>/dev/null |
        head -c $((size_mib * 1024 * 1024)) >"$path.part"
    )
    mv "$path.part" "$path"
  fi
}

shoal_sha256() { openssl dgst -sha256 -r "$1" | cut -c1-64; }

# Seconds since the epoch with nanoseconds, for timing.
shoal_now() { date +%s.%N; }
shoal_rate() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", b / 1048576 / s }'; }

# A loopback port that was free a moment ago (a ring's members must know each other's
# ports before they start, so port 0 will not do).
shoal_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# CPU seconds (user + system) a process has used so far, from /proc.
shoal_cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0
}

# The CPU seconds of each thread of process PID so far, summed by thread name, a line
# each: NAME USER SYSTEM. Where a process spends its time, for benchmarks that split it.
# Threads that ended count under "(ended)" (the process's total less its live threads).
shoal_thread_cpu() {
  local t
  { cat "/proc/$1/stat"; for t in /proc/"$1"/task/*/stat; do cat "$t" 2>/dev/null; done; } |
    awk -v hz="$(getconf CLK_TCK)" '{
      i = index($0, ") "); name = substr($0, index($0, "(") + 1, i - index($0, "(") - 1)
      $0 = substr($0, i + 2)  # fields from the state on: utime is $12, stime $13
      if (NR == 1) { tu = $12 / hz; ts = $13 / hz; next }
      u[name] += $12 / hz; s[name] += $13 / hz; lu += $12 / hz; ls += $13 / hz
    } END {
      for (n in u) printf "%s %.2f %.2f\n", n, u[n], s[n]
      printf "(ended) %.2f %.2f\n", tu - lu, ts - ls
    }' | sort
}

# What the threads of a process spent between two shoal_thread_cpu snapshots (files
# BEFORE and AFTER), per GiB of BYTES, as "name user+system" pairs on one line.
shoal_thread_cpu_per_gib() {
  awk -v bytes="$3" 'NR == FNR { u[$1] = $2; s[$1] = $3; next }  # names have no spaces
    { du = ($2 - u[$1]) * 1073741824 / bytes; ds = ($3 - s[$1]) * 1073741824 / bytes
      if (du + ds >= 0.01) printf "%s %.2f+%.2f  ", $1, du, ds }
    END { print "" }' "$1" "$2"
}

# The CPU seconds (user + system) of one child, from bash's `time` written with
# TIMEFORMAT='%U %S' to FILE: { time CMD; } 2>FILE.
shoal_child_cpu() { awk 'END { printf "%.3f", $1 + $2 }' "$1"; }

# shoal_start_ring N DIR [flags...]: N origins on free loopback ports forming one ring,
# data in DIR/origin-<i>; sets RING_URLS (comma-separated) and RING_PIDS (array).
shoal_start_ring() {
  local n=$1 dir=$2 ports=() urls=() i
  shift 2
  for i in $(seq "$n"); do ports+=("$(shoal_free_port)"); urls+=("http://127.0.0.1:${ports[-1]}"); done
  RING_URLS=$(IFS=,; echo "${urls[*]}")
  RING_PIDS=()
  for i in $(seq 0 $((n - 1))); do
    mkdir -p "$dir/origin-$((i + 1))"
    "$SHOAL_BIN" origin --listen "127.0.0.1:${ports[$i]}" --data "$dir/origin-$((i + 1))" \
      --origins "$RING_URLS" --self "${urls[$i]}" "$@" >"$dir/origin-$((i + 1)).log" 2>&1 &
    RING_PIDS+=($!)
  done
  for i in $(seq 0 $((n - 1))); do
    for _ in $(seq 100); do
      curl -sf "${urls[$i]}/health" >/dev/null && break
      sleep 0.05
    done
  done
}

# Arithmetic for the benchmarks, in awk (bash has no floating point).
shoal_elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
shoal_ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b == 0 ? 0 : a / b) }'; }
# CPU seconds spent on BYTES, per GiB.
shoal_per_gib() { awk -v s="$1" -v b="$2" 'BEGIN { printf "%.2f", s * 1073741824 / b }'; }
# The middle of the numbers on stdin (the lower middle one for an even count).
shoal_median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# shoal_metric URL NAME: one sample from URL/metrics (NAME with its labels, as
# Prometheus prints it), as an integer; 0 when absent. printf: awk would print large
# byte counts as 5.36871e+08.
shoal_metric() {
  curl -sf "$1/metrics" | awk -v m="$2" '$1 == m { v = $2 } END { printf "%.0f\n", v }'
}
