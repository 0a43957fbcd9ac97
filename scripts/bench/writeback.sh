#!/usr/bin/env bash
# The origin in front of S3 (Ceph's RADOS Gateway on loopback, tests/support/rgw.sh):
#
#   write-back: an origin's write-back of a blob (SIZE_MIB, default 1024) to the bucket,
#               from the push's acknowledgement until shoal_origin_writeback_pending is 0,
#               against boto3's upload_file of the same file (multipart, its default 10
#               threads) in the same run. Goal (issue 19): at least 0.8x boto3's rate.
#   cold fan-out: the blob only in the bucket, an origin with an empty disk, N agents
#               (default 8) fetching it at once through the swarm, against the same with
#               the origin already holding it (warm).
#
# CPU seconds of the origin and of radosgw (from /proc) are reported per GiB beside the
# wall times. Everything shares this host's cores, RGW included.
#
#   scripts/bench/writeback.sh [SIZE_MIB] [AGENTS] [RUNS]
set -euo pipefail
env_bin=${SHOAL_BIN:-}
source "$(dirname "$0")/../lib.sh"

size_mib=${1:-1024}
agents=${2:-8}
runs=${3:-2}
if [ -n "$env_bin" ]; then SHOAL_BIN=$env_bin; else shoal_build; fi
command -v radosgw >/dev/null || { echo "radosgw is missing: scripts/install-deps.sh --test" >&2; exit 1; }
python3 -c 'import boto3' 2>/dev/null || { echo "python3-boto3 is missing" >&2; exit 1; }

work=$(mktemp -d /var/tmp/shoal-bench-writeback.XXXXXX)
PIDS=()
stop_all() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}
cleanup() {
  stop_all
  "$SHOAL_ROOT/tests/support/rgw.sh" stop "$work/rgw" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Every copy stays in memstore (RGW frees deleted multipart parts hours later).
eval "$(RGW_MEMSTORE_BYTES=$(((2 * runs + 2) * size_mib * 1048576)) "$SHOAL_ROOT/tests/support/rgw.sh" start "$work/rgw")"
rgw_pid=$(awk '$1 == "rgw" { print $2 }' "$work/rgw/pids" | tail -n 1)
printf '%s\n%s\n' "$S3_ACCESS_KEY" "$S3_SECRET_KEY" >"$work/creds"
s3() {  # s3 ACTION ARGS...: boto3 against the gateway
  python3 - "$@" <<EOF
import sys, boto3
c = boto3.client("s3", endpoint_url="$S3_ENDPOINT", region_name="$S3_REGION",
                 aws_access_key_id="$S3_ACCESS_KEY", aws_secret_access_key="$S3_SECRET_KEY")
a = sys.argv[1:]
if a[0] == "mb": c.create_bucket(Bucket=a[1])
elif a[0] == "cp": c.upload_file(a[1], a[2], a[3])
EOF
}
origin_flags() {
  echo --s3-endpoint "$S3_ENDPOINT" --s3-bucket "$1" --s3-region "$S3_REGION" --s3-credentials "$work/creds"
}

blob="$work/blob.bin"
shoal_make_artifact "$blob" "$size_mib"
bytes=$(stat -c %s "$blob")
digest="sha256:$(shoal_sha256 "$blob")"
key="blobs/sha256/${digest#sha256:}"

echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "data: $work ($(df --output=fstype "$work" | tail -1)); RGW: one memstore OSD; blob: $size_mib MiB; median of $runs runs (the lower middle one for an even count)"

# --- write-back against boto3 ---------------------------------------------------------
boto_s=() shoal_s=() shoal_cpu=() boto_rgw_cpu=() shoal_rgw_cpu=()
for run in $(seq "$runs"); do
  cat "$blob" >/dev/null
  s3 mb "boto-$run"
  r0=$(shoal_cpu_seconds "$rgw_pid"); t0=$(shoal_now)
  s3 cp "$blob" "boto-$run" "$key"
  t1=$(shoal_now); r1=$(shoal_cpu_seconds "$rgw_pid")
  boto_s+=("$(shoal_elapsed "$t0" "$t1")"); boto_rgw_cpu+=("$(shoal_elapsed "$r0" "$r1")")

  s3 mb "shoal-$run"
  # shellcheck disable=SC2046
  shoal_start_origin "$work/origin-$run" $(origin_flags "shoal-$run")
  PIDS+=("$ORIGIN_PID")
  "$SHOAL_BIN" push "$blob" --origin "$ORIGIN_URL" --quiet --state-dir "$work/state-$run" >/dev/null
  c0=$(shoal_cpu_seconds "$ORIGIN_PID"); r0=$(shoal_cpu_seconds "$rgw_pid"); t0=$(shoal_now)
  until [ "$(shoal_metric "$ORIGIN_URL" shoal_origin_writeback_bytes_total)" -ge "$bytes" ] &&
        [ "$(shoal_metric "$ORIGIN_URL" shoal_origin_writeback_pending)" -eq 0 ]; do
    kill -0 "$ORIGIN_PID" || { echo "the origin died" >&2; exit 1; }
    sleep 0.02
  done
  t1=$(shoal_now); c1=$(shoal_cpu_seconds "$ORIGIN_PID"); r1=$(shoal_cpu_seconds "$rgw_pid")
  shoal_s+=("$(shoal_elapsed "$t0" "$t1")"); shoal_cpu+=("$(shoal_elapsed "$c0" "$c1")")
  shoal_rgw_cpu+=("$(shoal_elapsed "$r0" "$r1")")
  stop_all
  rm -rf "$work/origin-$run" "$work/state-$run"
  echo "run $run: boto3 ${boto_s[-1]}s, shoal write-back ${shoal_s[-1]}s" >&2
done
b=$(printf '%s\n' "${boto_s[@]}" | shoal_median); s=$(printf '%s\n' "${shoal_s[@]}" | shoal_median)
br=$(shoal_rate "$bytes" "$b"); sr=$(shoal_rate "$bytes" "$s")
printf '%-34s %8s %8s %7s %16s %14s\n' "write-back to RGW" seconds MiB/s ratio "client CPU-s/GiB" "rgw CPU-s/GiB"
printf '%-34s %8s %8s %7s %16s %14s\n' "boto3 upload_file (10 threads)" "$b" "$br" 1.00 "-" \
  "$(shoal_per_gib "$(printf '%s\n' "${boto_rgw_cpu[@]}" | shoal_median)" "$bytes")"
printf '%-34s %8s %8s %7s %16s %14s\n' "shoal origin write-back" "$s" "$sr" "$(shoal_ratio "$sr" "$br")" \
  "$(shoal_per_gib "$(printf '%s\n' "${shoal_cpu[@]}" | shoal_median)" "$bytes")" \
  "$(shoal_per_gib "$(printf '%s\n' "${shoal_rgw_cpu[@]}" | shoal_median)" "$bytes")"

# --- a cold blob from the bucket to N agents, against a warm origin --------------------
# fan_out LABEL: tracker, the origin on the bucket, N agents; N concurrent curls through
# the agents; prints the wall time. With LABEL=warm the origin holds the blob first.
fan_out() {
  local label=$1 dir="$work/$1" t0 t1 i c0 c1 bad=0
  mkdir -p "$dir"
  shoal_start tracker "$dir/tracker.log" --data "$dir/tracker"
  PIDS+=("$SHOAL_PID"); local tracker=$SHOAL_URL
  # shellcheck disable=SC2046
  shoal_start_origin "$dir/origin" --tracker "$tracker" $(origin_flags cold)
  PIDS+=("$ORIGIN_PID")
  if [ "$label" = warm ]; then
    curl -sf -o /dev/null "$ORIGIN_URL/blobs/$digest"  # filled from the bucket once
  fi
  local peers=()
  for i in $(seq "$agents"); do
    shoal_start peer "$dir/peer-$i.log" --data "$dir/peer-$i" --origin "$ORIGIN_URL" --tracker "$tracker"
    PIDS+=("$SHOAL_PID"); peers+=("$SHOAL_URL")
  done
  c0=$(shoal_cpu_seconds "$ORIGIN_PID"); t0=$(shoal_now)
  local curls=()
  for i in "${!peers[@]}"; do
    curl -s -o /dev/null -w '%{http_code} %{size_download}\n' "${peers[$i]}/blobs/$digest" >"$dir/curl.$i" &
    curls+=("$!")
  done
  for p in "${curls[@]}"; do wait "$p" || bad=1; done
  t1=$(shoal_now); c1=$(shoal_cpu_seconds "$ORIGIN_PID")
  for i in "${!peers[@]}"; do
    [ "$(cat "$dir/curl.$i")" = "200 $bytes" ] || { echo "$label: agent $i: $(cat "$dir/curl.$i")" >&2; bad=1; }
  done
  stop_all
  rm -rf "$dir"
  [ "$bad" = 0 ] || return 1
  FAN_SECONDS=$(shoal_elapsed "$t0" "$t1"); FAN_CPU=$(shoal_elapsed "$c0" "$c1")
}
s3 mb cold
s3 cp "$blob" cold "$key"
cold_s=() warm_s=() cold_cpu=() warm_cpu=()
for run in $(seq "$runs"); do
  fan_out cold; cold_s+=("$FAN_SECONDS"); cold_cpu+=("$FAN_CPU")
  fan_out warm; warm_s+=("$FAN_SECONDS"); warm_cpu+=("$FAN_CPU")
  echo "run $run: cold ${cold_s[-1]}s, warm ${warm_s[-1]}s" >&2
done
c=$(printf '%s\n' "${cold_s[@]}" | shoal_median); w=$(printf '%s\n' "${warm_s[@]}" | shoal_median)
printf '\n%-34s %8s %8s %18s\n' "$agents agents pull the blob" seconds "x warm" "origin CPU-s/GiB"
printf '%-34s %8s %8s %18s\n' "warm origin (blob on its disk)" "$w" 1.00 \
  "$(shoal_per_gib "$(printf '%s\n' "${warm_cpu[@]}" | shoal_median)" "$bytes")"
printf '%-34s %8s %8s %18s\n' "cold origin (blob only in bucket)" "$c" "$(shoal_ratio "$c" "$w")" \
  "$(shoal_per_gib "$(printf '%s\n' "${cold_cpu[@]}" | shoal_median)" "$bytes")"
