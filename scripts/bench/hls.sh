#!/usr/bin/env bash
# HLS on loopback (issue 6): how long from `shoal hls publish` of a SECONDS_SRC-second
# source until a player could start at the edge, and the time to first byte of a
# segment at the edge for a hit, a miss filled through the swarm (the edge's peer
# agent) and a miss filled straight from the origin (a second edge without --peer).
#
#   SECONDS_SRC=60 SIZE=1280x720 LADDER=720p,360p SEGMENT=4 REPEAT=5 scripts/bench/hls.sh
#
# "playable" = master.m3u8, the first rendition's media playlist, its init segment and
# its first segment all fetched completely from the edge's plain-HTTP port, polled
# every 100 ms from the moment publish starts. TTFB is curl's time_starttransfer for
# REPEAT segments nobody has fetched yet (median and max), each MISS checked by X-Cache;
# the hit is the same segment asked again. One run; the machine is described first.
set -euo pipefail

SECONDS_SRC=${SECONDS_SRC:-60}
SIZE=${SIZE:-1280x720}
LADDER=${LADDER:-720p,360p}
SEGMENT=${SEGMENT:-4}
REPEAT=${REPEAT:-5}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHOAL=${SHOAL_BIN:-$ROOT/build/shoal}
[ -x "$SHOAL" ] || cmake --build "$ROOT/build" --target shoal >/dev/null

WORK=$(mktemp -d /tmp/shoal-bench-hls.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.2f}')"; }

echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo)," \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r)"
echo "ffmpeg: $(ffmpeg -version | head -1 | cut -d' ' -f1-3); load at start: $(cut -d' ' -f1-3 /proc/loadavg)"

t0=$(now)
ffmpeg -v error -y -f lavfi -i "testsrc2=size=$SIZE:rate=30" -f lavfi -i sine=frequency=440 \
  -t "$SECONDS_SRC" -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -b:a 128k \
  "$WORK/source.mp4"
echo "source: ${SECONDS_SRC} s ${SIZE}, $(stat -c %s "$WORK/source.mp4") bytes, made in $(elapsed "$t0" "$(now)") s"

"$SHOAL" up --peers 2 --data "$WORK/cluster" --quiet >"$WORK/up.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$WORK/cluster/cluster.json" ] && break; sleep 0.1; done
read -r ORIGIN EDGE < <(python3 -c "
import json; c = json.load(open('$WORK/cluster/cluster.json'))
print(c['origin']['url'], c['edge']['plain_url'])")

# A second edge without a peer agent: its misses come straight from the origin.
"$SHOAL" edge --listen 127.0.0.1:0 --data "$WORK/edge2" --origin "$ORIGIN" >"$WORK/edge2.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q '"listening"' "$WORK/edge2.log" && break; sleep 0.1; done
EDGE2=$(python3 -c "
import json
for l in open('$WORK/edge2.log'):
    if '\"listening\"' in l: print('http://' + json.loads(l)['addr'])")

fetch() { curl -sf -o /dev/null "$1"; }
playable() {
  local master media first
  master=$(curl -sf "$EDGE/hls/bench/master.m3u8") || return 1
  first=$(echo "$master" | grep -m1 'index.m3u8') || return 1
  media=$(curl -sf "$EDGE/hls/bench/$first") || return 1
  local dir=${first%/index.m3u8}
  local init seg
  init=$(echo "$media" | sed -n 's/.*URI="\([^"]*\)".*/\1/p' | head -1)
  seg=$(echo "$media" | grep -m1 '\.m4s$')
  fetch "$EDGE/hls/bench/$dir/$init" && fetch "$EDGE/hls/bench/$dir/$seg"
}

t0=$(now)
"$SHOAL" hls publish "$WORK/source.mp4" --name bench --origin "$ORIGIN" --ladder "$LADDER" \
  --segment-seconds "$SEGMENT" --quiet >"$WORK/publish.out" 2>"$WORK/publish.err" &
PUB=$!
PIDS+=($PUB)
t_play=""
while kill -0 "$PUB" 2>/dev/null || [ -z "$t_play" ]; do
  if [ -z "$t_play" ] && playable; then t_play=$(now); break; fi
  sleep 0.1
done
wait "$PUB"
t_pub=$(now)
[ -n "$t_play" ] || { until playable; do sleep 0.1; done; t_play=$(now); }
publish_s=$(elapsed "$t0" "$t_pub")
playable_s=$(python3 -c "print(f'{max($t_play, $t_pub) - $t0:.2f}')")
t1=$(now)
"$SHOAL" hls publish "$WORK/source.mp4" --name bench --origin "$ORIGIN" --ladder "$LADDER" \
  --segment-seconds "$SEGMENT" --quiet >/dev/null 2>&1
republish_s=$(elapsed "$t1" "$(now)")

# Segments by rendition from the package (not yet fetched by either edge, but the
# first segment of the first rendition, which `playable` fetched).
mapfile -t SEGS < <(curl -sf "$EDGE/hls/bench/master.m3u8" | grep index.m3u8 | while read -r p; do
  dir=${p%/index.m3u8}
  curl -sf "$EDGE/hls/bench/$p" | grep '\.m4s$' | tail -n +2 | sed "s|^|$dir/|"
done)
ttfb() {  # url -> "ttfb_ms x_cache bytes"
  curl -s -o /dev/null -D "$WORK/h" -w '%{time_starttransfer} %{size_download}' "$1" |
    python3 -c "
import sys
t, n = sys.stdin.read().split()
cache = [l.split(':', 1)[1].strip() for l in open('$WORK/h') if l.lower().startswith('x-cache')]
print(f'{float(t) * 1000:.2f} {cache[0] if cache else \"-\"} {n}')"
}
: >"$WORK/ttfb"
for i in $(seq 0 $((REPEAT - 1))); do
  a=${SEGS[$i]}
  b=${SEGS[$((i + REPEAT))]}
  echo "origin $(ttfb "$EDGE2/hls/bench/$a")" >>"$WORK/ttfb"
  echo "swarm $(ttfb "$EDGE/hls/bench/$b")" >>"$WORK/ttfb"
  echo "hit $(ttfb "$EDGE/hls/bench/$b")" >>"$WORK/ttfb"
done

python3 - "$WORK/ttfb" "$publish_s" "$playable_s" "$republish_s" "$SECONDS_SRC" "$SIZE" "$LADDER" <<'EOF'
import json, statistics, sys
path, publish, playable, republish, secs, size, ladder = sys.argv[1:]
rows = {}
for line in open(path):
    kind, ms, cache, n = line.split()
    rows.setdefault(kind, []).append((float(ms), cache, int(n)))
want = {"origin": "MISS", "swarm": "MISS", "hit": "HIT"}
print(f"\npublish of a {secs} s {size} source ({ladder}): command {publish} s, "
      f"playable at the edge {playable} s, publishing again {republish} s\n")
print("| segment request | X-Cache | TTFB median (ms) | TTFB max (ms) | segment bytes (median) |")
print("| --- | --- | ---: | ---: | ---: |")
labels = {"hit": "hit", "swarm": "miss, filled through the swarm", "origin": "miss, filled from the origin"}
for kind in ("hit", "swarm", "origin"):
    r = rows.get(kind, [])
    caches = {c for _, c, _ in r}
    ok = caches == {want[kind]}
    ms = [x for x, _, _ in r]
    print(f"| {labels[kind]} | {','.join(sorted(caches))}{'' if ok else ' (unexpected)'} | "
          f"{statistics.median(ms):.2f} | {max(ms):.2f} | {int(statistics.median(n for *_, n in r))} |")
    print(json.dumps({"bench": "hls", "request": kind, "x_cache_ok": ok, "n": len(ms),
                      "ttfb_median_ms": round(statistics.median(ms), 2),
                      "ttfb_max_ms": round(max(ms), 2)}), file=sys.stderr)
print(json.dumps({"bench": "hls", "publish_s": float(publish), "playable_s": float(playable),
                  "republish_s": float(republish), "source_s": int(secs), "size": size,
                  "ladder": ladder}), file=sys.stderr)
EOF
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
