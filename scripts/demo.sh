#!/usr/bin/env bash
# Shoal's main job on one machine: installs what is missing, builds, starts an origin on
# loopback, pushes a generated 256 MiB artifact with the CLI, pulls it back, verifies the
# digest and says how fast each step was. Quick and idempotent on a second run.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

size_mib=${SHOAL_DEMO_MIB:-256}
work=${SHOAL_DEMO_DIR:-/tmp/shoal-demo}
mkdir -p "$work"

echo "== installing dependencies (only what is missing)"
"$SHOAL_ROOT/scripts/install-deps.sh"
echo "== building build/shoal"
shoal_build

rm -rf "$work/origin" "$work/origin.log" "$work/pulled"
trap 'kill "$ORIGIN_PID" 2>/dev/null || true; wait 2>/dev/null || true' EXIT
shoal_start_origin "$work/origin"
echo "== origin listening at $ORIGIN_URL (data in $work/origin)"

shoal_make_artifact "$work/artifact.bin" "$size_mib"
bytes=$(stat -c %s "$work/artifact.bin")
expected="sha256:$(shoal_sha256 "$work/artifact.bin")"

t0=$(shoal_now)
digest=$("$SHOAL_BIN" push "$work/artifact.bin" --origin "$ORIGIN_URL" --tag demo/artifact \
  --state-dir "$work/state")
t1=$(shoal_now)
"$SHOAL_BIN" pull demo/artifact -o "$work/pulled" --origin "$ORIGIN_URL"
t2=$(shoal_now)

actual="sha256:$(shoal_sha256 "$work/pulled")"
push_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
pull_s=$(awk -v a="$t1" -v b="$t2" 'BEGIN { print b - a }')
echo "== pushed $size_mib MiB as $digest (tag demo/artifact) in ${push_s}s: $(shoal_rate "$bytes" "$push_s") MiB/s"
echo "== pulled it back by tag in ${pull_s}s: $(shoal_rate "$bytes" "$pull_s") MiB/s"
if [ "$digest" != "$expected" ] || [ "$actual" != "$expected" ]; then
  echo "!! digest mismatch: expected $expected, push said $digest, pulled file is $actual" >&2
  exit 1
fi
echo "== verified: the pulled file hashes to $actual"
echo "== next: the tour in README.md runs an origin you keep"
