# The three ways scripts/bench/swarm.sh moves a blob across the test bed, and what they
# share. Host 1 is the source; hosts 2..N+1 receive. Sourced by swarm.sh, which sets
# TB, SB_WORK, SB_RUN, SB_BLOB, SB_BYTES, SB_HEX, SB_DIGEST, SB_SRC, SB_TIMEOUT, SHOAL_BIN.
# shellcheck shell=bash

sb_addr() { echo "10.213.0.$1"; }
# The receiving hosts of a run of N: hosts 2..N+1, or from SB_FIRST on (the fleet keeps
# hosts 1-8 for origins, trackers and Redis).
sb_receivers() { seq "${SB_FIRST:-2}" $(($1 + ${SB_FIRST:-2} - 1)); }
# Bytes the sending hosts' links have sent (host 1, or the fleet's origins).
sb_source_tx() {
  local h t=0
  for h in ${SB_SOURCES:-1}; do t=$((t + $(sb_tx_bytes "$h"))); done
  echo "$t"
}
sb_exec() { "$TB" exec "$@"; }

# sb_bg HOST LOG CMD...: runs CMD in HOST's namespace in the background.
sb_bg() {
  local h=$1 log=$2
  shift 2
  "$TB" exec "$h" "$@" >"$log" 2>&1 &
}

# Bytes HOST's link has sent, frames included.
sb_tx_bytes() { sb_exec "$1" cat /sys/class/net/eth0/statistics/tx_bytes; }

# sb_wait HOST SECONDS CMD...: until CMD (run in HOST) succeeds.
sb_wait() {
  local h=$1 deadline=$((SECONDS + $2))
  shift 2
  until sb_exec "$h" "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "swarm.sh: host $h: '$*' did not succeed within the time allowed" >&2
      return 1
    fi
    sleep 0.1
  done
}

# sb_metric HOST URL NAME [LABEL]: the sum of NAME's samples at URL/metrics (those whose
# labels contain LABEL, e.g. source="origin"), seen from HOST.
# sb_origin_sent URL: piece bytes the origin has sent, over BitTorrent and the HTTP hand-out.
sb_origin_sent() {
  echo $(( $(sb_metric 1 "$1" shoal_origin_bt_uploaded_bytes) + $(sb_metric 1 "$1" shoal_origin_handout_bytes_total) ))
}

sb_metric() {
  sb_exec "$1" curl -sf "$2/metrics" | awk -v n="$3" -v l="${4:-}" '
    index($1, n) == 1 && (substr($1, length(n) + 1, 1) == "{" || length($1) == length(n)) &&
      (l == "" || index($1, l) > 0) { s += $NF }
    END { printf "%.0f\n", s }'
}

# sb_pull_all N FUNC: runs "FUNC HOST" for every receiver at once and waits for all.
# $SB_RUN/pull.HOST gets "exit-status seconds-since-start".
sb_pull_all() {
  local n=$1 fn=$2 h pids=() t0
  t0=$EPOCHREALTIME
  for h in $(sb_receivers "$n"); do
    (
      rc=0
      "$fn" "$h" || rc=$?
      awk -v a="$t0" -v b="$EPOCHREALTIME" -v rc="$rc" 'BEGIN { printf "%d %.3f\n", rc, b - a }' >"$SB_RUN/pull.$h"
    ) &
    pids+=($!)
  done
  wait "${pids[@]}" || true
}

# Copies' places, per method, as printf patterns over the host number.
sb_copy_path() {
  case $1 in
    shoal | fleet) echo "$SB_RUN/peer%d/blobs/sha256/${SB_HEX:0:2}/$SB_HEX" ;;
    nginx) echo "$SB_RUN/out%d" ;;
    aria2) echo "$SB_RUN/aria%d/blob.bin" ;;
  esac
}

# sb_verify N METHOD: every pull exited 0 and every receiver's copy hashes to the digest.
sb_verify() {
  local n=$1 m=$2 h rc t pattern got bad=0
  pattern=$(sb_copy_path "$m")
  for h in $(sb_receivers "$n"); do
    read -r rc t <"$SB_RUN/pull.$h" || rc=missing
    # shellcheck disable=SC2059
    got=$(shoal_sha256 "$(printf "$pattern" "$h")" 2>/dev/null || echo none)
    if [ "$rc" != 0 ] || [ "$got" != "$SB_HEX" ]; then
      echo "N=$n $m: host $h: pull exit $rc after ${t:-?}s, copy hashes to $got (want $SB_HEX)" >&2
      bad=1
    fi
  done
  if [ "$bad" -ne 0 ]; then
    mkdir -p "${TMPDIR:-/tmp}/shoal-bench-swarm-logs.$$"
    cp "$SB_RUN"/*.log "${TMPDIR:-/tmp}/shoal-bench-swarm-logs.$$/" 2>/dev/null || true
    echo "logs kept in ${TMPDIR:-/tmp}/shoal-bench-swarm-logs.$$" >&2
    return 1
  fi
}

# sb_summary METHOD N TX_BYTES IDEAL RATE_BPS: one JSON line.
sb_summary() {
  local m=$1 n=$2 tx=$3 ideal=$4 rate=$5
  cat "$SB_RUN"/pull.* | cut -d' ' -f2 | sort -g | awk -v m="$m" -v n="$n" -v tx="$tx" -v ideal="$ideal" -v rate="$rate" \
    -v size="$SB_BYTES" -v extra="${SB_EXTRA:-}" '
    { t[NR] = $1 }
    END {
      p50 = t[int((NR + 1) / 2)]; mx = t[NR]
      printf "{\"method\":\"%s\",\"hosts\":%d,\"size_bytes\":%.0f,\"rate_bps\":%.0f,\"ideal_s\":%.2f,", m, n, size, rate, ideal
      printf "\"all_s\":%.2f,\"p50_s\":%.2f,\"max_s\":%.2f,\"ratio\":%.3f,", mx, p50, mx, mx / ideal
      printf "\"source_tx_bytes\":%.0f,\"source_copies\":%.3f%s}\n", tx, tx / size, extra
    }'
}

# --- shoal: tracker + origin on host 1, an agent per receiver ---------------------------
sb_shoal_pull() {
  sb_exec "$1" curl -sf --max-time "$SB_TIMEOUT" -o /dev/null "http://127.0.0.1:4300/blobs/$SB_DIGEST"
}

sb_run_shoal() {
  local n=$1 h src="http://$SB_SRC:4100" trk="http://$SB_SRC:4200" piece up0
  # shellcheck disable=SC2086
  sb_bg 1 "$SB_RUN/tracker.log" "$SHOAL_BIN" tracker --listen "$SB_SRC:4200" --origin "$src" \
    ${SHOAL_TRACKER_FLAGS:-}
  sb_bg 1 "$SB_RUN/origin.log" "$SHOAL_BIN" origin --listen "$SB_SRC:4100" --data "$SB_RUN/origin" \
    --tracker "$trk" --bt-listen "$SB_SRC:6881" ${SHOAL_ORIGIN_FLAGS:-}
  for h in $(sb_receivers "$n"); do
    # shellcheck disable=SC2086
    sb_bg "$h" "$SB_RUN/peer$h.log" "$SHOAL_BIN" peer --listen 127.0.0.1:4300 --data "$SB_RUN/peer$h" \
      --origin "$src" --tracker "$trk" --bt-listen "$(sb_addr "$h"):6881" ${SHOAL_PEER_FLAGS:-}
  done
  sb_wait 1 30 curl -sf "$trk/metrics"
  sb_wait 1 30 curl -sf "$src/metrics"
  sb_exec 1 "$SHOAL_BIN" push "$SB_BLOB" --origin "$src" --quiet --state-dir "$SB_RUN/state" >/dev/null
  sb_wait 1 300 sh -c "curl -sf $src/metrics | grep -q '^shoal_origin_seeding_torrents 1'"
  for h in $(sb_receivers "$n"); do sb_wait "$h" 30 curl -sf http://127.0.0.1:4300/metrics; done
  piece=$(sb_exec 1 curl -sf "$src/blobs/$SB_DIGEST/metainfo" | grep -ao '12:piece lengthi[0-9]*e' | grep -o '[0-9]*e$' | tr -d e)
  up0=$(sb_origin_sent "$src")
  if [ -n "${SB_TRACE:-}" ]; then
    # Once a second: seconds, the origin's swarm status for the blob (to $SB_TRACE).
    ( t0=$EPOCHREALTIME; while sleep 1; do
        echo "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') $(sb_exec 1 curl -sf "$src/blobs/$SB_DIGEST/swarm")"
      done >"$SB_TRACE" ) &
    local tracer=$!
  fi
  sb_pull_all "$n" sb_shoal_pull
  [ -n "${SB_TRACE:-}" ] && kill "$tracer"
  sleep 1  # libtorrent folds payload counters in about once a second
  local from_origin=0 from_peers=0
  for h in $(sb_receivers "$n"); do
    from_origin=$((from_origin + $(sb_metric "$h" http://127.0.0.1:4300 shoal_peer_downloaded_bytes_total 'source="origin"')))
    from_peers=$((from_peers + $(sb_metric "$h" http://127.0.0.1:4300 shoal_peer_downloaded_bytes_total 'source="peers"')))
  done
  SB_EXTRA=",\"piece_bytes\":${piece:-0},\"origin_payload_bytes\":$(( $(sb_origin_sent "$src") - up0 ))"
  SB_EXTRA+=",\"peers_from_origin_bytes\":$from_origin,\"peers_from_peers_bytes\":$from_peers"
  # Why each hand-out piece went (ARCHITECTURE, "Hand-out"): first copies, again as a
  # piece nobody reported, again because a transfer was stuck, to an agent in its endgame,
  # to an agent that waited on a peer for it too long.
  local why
  for why in first unseen stuck endgame overdue; do
    SB_EXTRA+=",\"handout_$why\":$(sb_metric 1 "$src" shoal_origin_handout_pieces_total "reason=\"$why\"")"
  done
}

# --- nginx: one HTTP server on host 1 -----------------------------------------------------
sb_nginx_pull() {
  sb_exec "$1" curl -sf --max-time "$SB_TIMEOUT" -o "$SB_RUN/out$1" "http://$SB_SRC:8080/blob.bin"
}

sb_run_nginx() {
  local n=$1 conf="$SB_RUN/nginx.conf"
  mkdir -p "$SB_RUN/www"
  ln "$SB_BLOB" "$SB_RUN/www/blob.bin" 2>/dev/null || cp "$SB_BLOB" "$SB_RUN/www/blob.bin"
  cat >"$conf" <<EOF
daemon off;
user root;
worker_processes auto;
pid $SB_RUN/nginx.pid;
error_log $SB_RUN/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path $SB_RUN/tmp;
  proxy_temp_path $SB_RUN/tmp;
  fastcgi_temp_path $SB_RUN/tmp;
  uwsgi_temp_path $SB_RUN/tmp;
  scgi_temp_path $SB_RUN/tmp;
  server { listen $SB_SRC:8080; root $SB_RUN/www; }
}
EOF
  sb_bg 1 "$SB_RUN/nginx.log" nginx -c "$conf" -p "$SB_RUN"
  sb_wait 1 30 curl -sfI "http://$SB_SRC:8080/blob.bin"
  SB_EXTRA=
  sb_pull_all "$n" sb_nginx_pull
}

# --- aria2: opentracker + aria2c seeder on host 1, aria2c on every receiver ---------------
# Same piece size as Shoal's origin picks (core/torrent/metainfo.cc piece_size_for: at least
# 256 KiB, doubled while the blob has over 2048 pieces, at most 16 MiB).
sb_piece_size() {
  awk -v s="$1" 'BEGIN { p = 262144; while (p < 16777216 && (s + p - 1) / p > 2048) p *= 2; print p }'
}

sb_aria2_flags() {
  echo "--enable-dht=false --enable-dht6=false --bt-enable-lpd=false --enable-peer-exchange=true
    --seed-ratio=0.0 --seed-time=600 --check-integrity=true --file-allocation=none
    --bt-max-peers=0 --max-overall-upload-limit=0 --summary-interval=0 --console-log-level=warn
    --auto-save-interval=0 --bt-save-metadata=false"
}

sb_aria2_pull() {
  local h=$1 flags
  flags=$(sb_aria2_flags)
  mkdir -p "$SB_RUN/aria$h"
  # shellcheck disable=SC2086
  SB_DONE="$SB_RUN/done.$h" sb_exec "$h" aria2c $flags --dir "$SB_RUN/aria$h" \
    --listen-port 6881 --on-bt-download-complete="$SB_RUN/hook.sh" "$SB_RUN/blob.torrent" \
    >"$SB_RUN/aria$h.log" 2>&1 &
  local pid=$! deadline=$((SECONDS + SB_TIMEOUT))
  while [ ! -e "$SB_RUN/done.$h" ]; do
    kill -0 "$pid" 2>/dev/null || return 1
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.05
  done
}

sb_run_aria2() {
  local n=$1 piece log2=0 flags hash
  piece=$(sb_piece_size "$SB_BYTES")
  while [ $((1 << log2)) -lt "$piece" ]; do log2=$((log2 + 1)); done
  mkdir -p "$SB_RUN/seed" "$SB_RUN/ot"
  ln "$SB_BLOB" "$SB_RUN/seed/blob.bin" 2>/dev/null || cp "$SB_BLOB" "$SB_RUN/seed/blob.bin"
  mktorrent -l "$log2" -a "http://$SB_SRC:6969/announce" -o "$SB_RUN/blob.torrent" "$SB_RUN/seed/blob.bin" >/dev/null
  hash=$(aria2c -S "$SB_RUN/blob.torrent" | awk '/^Info Hash:/ { print $3 }')
  # opentracker drops to nobody and chroots into -d: the whitelist lives there.
  echo "$hash" >"$SB_RUN/ot/whitelist"
  chmod 755 "$SB_RUN/ot"
  chmod 644 "$SB_RUN/ot/whitelist"
  sb_bg 1 "$SB_RUN/opentracker.log" opentracker -i "$SB_SRC" -p 6969 -P 6969 -d "$SB_RUN/ot" -w whitelist
  printf '#!/bin/sh\ndate +%%s.%%N >"$SB_DONE"\n' >"$SB_RUN/hook.sh"
  chmod 755 "$SB_RUN/hook.sh"
  flags=$(sb_aria2_flags)
  # shellcheck disable=SC2086
  sb_bg 1 "$SB_RUN/seeder.log" aria2c $flags --dir "$SB_RUN/seed" --listen-port 6881 \
    "$SB_RUN/blob.torrent"
  # The seeder has checked its file and announced once the tracker's scrape counts it.
  local q
  q=$(sed 's/../%&/g' <<<"$hash")
  sb_wait 1 120 sh -c "curl -sf 'http://$SB_SRC:6969/scrape?info_hash=$q' | grep -aq '8:completei1e'"
  SB_EXTRA=",\"piece_bytes\":$piece"
  sb_pull_all "$n" sb_aria2_pull
}

# sb_plot JSONL PNG SIZE_MIB: all_s / ideal_s against N, one line per method, with the
# goal (1.25) and the floor (1.0).
sb_plot() {
  local in=$1 png=$2 dat
  command -v gnuplot >/dev/null || { echo "no gnuplot: plot skipped" >&2; return 0; }
  dat="$SB_WORK/plot"
  mkdir -p "$dat"
  for m in shoal nginx aria2; do
    grep "\"method\":\"$m\"" "$in" |
      sed -E 's/.*"hosts":([0-9]+).*"ideal_s":([0-9.]+).*"all_s":([0-9.]+).*/\1 \3 \2/' |
      awk '{ printf "%d %.3f\n", $1, $2 / $3 }' | sort -n >"$dat/$m.dat" || true
    [ -s "$dat/$m.dat" ] || echo "1 NaN" >"$dat/$m.dat"
  done
  gnuplot <<EOF
set terminal pngcairo size 900,560 font ",11"
set output "$png"
set title "$3 MiB from one host to N hosts, every link capped (tbf)"
set xlabel "receiving hosts (N)"
set ylabel "time until every host has a verified copy / (S/R)"
set logscale x 2
set logscale y
set xrange [3:40]
set yrange [0.9:12]
set key top left
set grid
plot "$dat/shoal.dat" using 1:2 with linespoints lw 2 pt 7 title "Shoal swarm", \
     "$dat/aria2.dat" using 1:2 with linespoints lw 2 pt 5 title "aria2c + opentracker", \
     "$dat/nginx.dat" using 1:2 with linespoints lw 2 pt 9 title "one nginx", \
     1.25 with lines dt 2 lc rgb "gray40" title "goal 1.25", \
     1 with lines dt 3 lc rgb "black" title "S/R"
EOF
  echo "plot: $png" >&2
}
