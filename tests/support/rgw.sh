#!/bin/bash
# rgw.sh start|stop|gateway-stop|gateway-start DIR: a throw-away one-node Ceph cluster
# (one mon, one memstore OSD, no mgr) and a RADOS Gateway on 127.0.0.1, as plain
# processes under DIR, for tests of the S3 backend. `start` prints shell assignments
# (also kept in DIR/env): S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION. `stop`
# ends exactly the daemons recorded in DIR/pids, one at a time (radosgw hangs when its
# OSD and mon go first), then removes DIR. gateway-stop and gateway-start take the S3
# endpoint away and bring it back on the same port with the data kept (an outage).
# Environment: RGW_PORT (default a free port), RGW_MEMSTORE_BYTES
# (default 3 GiB: memstore holds about twice the live data in RAM), RGW_TIMEOUT (60 s).
set -euo pipefail

ACCESS_KEY=shoaltestaccesskey
SECRET_KEY=shoal/test/secret/key/0123456789abcdefgh

die() {
  echo "rgw.sh: $*" >&2
  for f in "$DIR"/log/*; do [ -s "$f" ] && { echo "== $f" >&2; tail -n 8 "$f" >&2; }; done
  stop_daemons
  exit 1
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Retries `cmd` every 0.3 s until it succeeds or the timeout passes.
await() {
  local what=$1 end=$((SECONDS + ${RGW_TIMEOUT:-60})); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || die "timed out waiting for $what"
    sleep 0.3
  done
}

write_conf() {
  cat > "$DIR/ceph.conf" <<EOF
[global]
fsid = $(cat /proc/sys/kernel/random/uuid)
mon host = v2:127.0.0.1:$MON_PORT
public addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
# radosgw waits forever in init under auth none without it
ms mon client mode = crc
keyring = /dev/null
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
log to stderr = false
osd pool default size = 1
osd pool default min size = 1
# one OSD: small pools, else RGW's pools pass the PG limit
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon max pg per osd = 1000
mon data avail warn = 1
mon data avail crit = 0
# commit map changes at once: start-up in ~3 s instead of ~15 s
paxos propose interval = 0.05
paxos min wait = 0.01
[mon.a]
mon data = $DIR/mon
[osd.0]
osd data = $DIR/osd
osd objectstore = memstore
memstore device bytes = ${RGW_MEMSTORE_BYTES:-3221225472}
osd class load list = *
osd class default list = *
[client.rgw.t]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw thread pool size = 64
rgw gc obj min wait = 30
rgw gc processor period = 30
EOF
}

# Daemons run in the foreground (-f) as our own children, so their pids are known
# without pid files and one that dies during init is noticed.
run_daemon() {
  local name=$1; shift
  setsid "$@" -f -c "$DIR/ceph.conf" </dev/null >"$DIR/log/$name.out" 2>&1 &
  echo "$name $!" >> "$DIR/pids"
}

start() {
  [ ! -e "$DIR" ] || [ -z "$(ls -A "$DIR")" ] || { echo "rgw.sh: $DIR is not empty" >&2; exit 2; }
  mkdir -p "$DIR"/{run,log,mon,osd}
  DIR=$(cd "$DIR" && pwd)
  MON_PORT=$(free_port)
  RGW_PORT=${RGW_PORT:-$(free_port)}
  write_conf
  export CEPH_ARGS="--conf $DIR/ceph.conf"
  monmaptool --create --fsid "$(awk '/^fsid/ {print $3}' "$DIR/ceph.conf")" \
    --addv a "v2:127.0.0.1:$MON_PORT" "$DIR/monmap" >/dev/null 2>&1 || die "monmaptool failed"
  ceph-mon -i a --mkfs --monmap "$DIR/monmap" >"$DIR/log/mkfs.out" 2>&1 || die "ceph-mon --mkfs failed"
  run_daemon mon ceph-mon -i a
  await "the mon" ceph --connect-timeout 3 quorum_status
  local uuid; uuid=$(cat /proc/sys/kernel/random/uuid)
  [ "$(ceph osd new "$uuid" 2>>"$DIR/log/cli.err")" = 0 ] || die "ceph osd new failed"
  ceph-osd -i 0 --mkfs --osd-uuid "$uuid" >>"$DIR/log/mkfs.out" 2>&1 || die "ceph-osd --mkfs failed"
  run_daemon osd ceph-osd -i 0
  await "the OSD" sh -c 'ceph osd stat -f json | grep -q "\"num_up_osds\":1"'
  radosgw-admin user create --uid=shoal --display-name=shoal --access-key="$ACCESS_KEY" \
    --secret-key="$SECRET_KEY" >/dev/null 2>>"$DIR/log/cli.err" || die "radosgw-admin user create failed"
  start_gateway
  printf 'S3_ENDPOINT=http://127.0.0.1:%s\nS3_ACCESS_KEY=%s\nS3_SECRET_KEY=%s\nS3_REGION=us-east-1\n' \
    "$RGW_PORT" "$ACCESS_KEY" "$SECRET_KEY" | tee "$DIR/env"
}

start_gateway() {
  RGW_PORT=${RGW_PORT:-$(awk '/beast endpoint/ {sub(/.*:/, ""); print}' "$DIR/ceph.conf")}
  run_daemon rgw radosgw -n client.rgw.t
  local rgw_pid; rgw_pid=$(awk '$1 == "rgw" {print $2}' "$DIR/pids" | tail -n 1)
  await "radosgw on 127.0.0.1:$RGW_PORT" sh -c \
    "kill -0 $rgw_pid && curl -sf -m 3 -o /dev/null http://127.0.0.1:$RGW_PORT/"
}

# A pid is ours while its command line names our ceph.conf (pids get reused).
ours() { tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null | grep -qF "$DIR/ceph.conf"; }

stop_daemon() {
  local pid end
  pid=$(awk -v n="$1" '$1 == n {print $2}' "$DIR/pids" | tail -n 1)
  [ -n "$pid" ] && ours "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  end=$((SECONDS + 10))
  while ours "$pid"; do
    [ $SECONDS -lt $end ] || kill -KILL "$pid" 2>/dev/null
    sleep 0.1
  done
}

stop_daemons() {
  [ -f "$DIR/pids" ] || return 0
  local name
  for name in rgw osd mon; do stop_daemon $name; done
  rm -f "$DIR/pids"
}

usage() { echo "usage: rgw.sh start|stop|gateway-stop|gateway-start DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
DIR=$2
if [ "$1" != start ]; then
  [ -f "$DIR/ceph.conf" ] || { echo "rgw.sh: $DIR holds no cluster" >&2; exit 1; }
  DIR=$(cd "$DIR" && pwd)
  export CEPH_ARGS="--conf $DIR/ceph.conf"
fi
case $1 in
  start) start ;;
  stop) stop_daemons; rm -rf -- "$DIR" ;;
  gateway-stop) stop_daemon rgw ;;
  gateway-start) start_gateway ;;
  *) usage ;;
esac
