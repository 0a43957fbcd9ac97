#!/bin/sh
# Starts redis-server as the master or as a replica of the current master. A restarted
# pod asks the sentinels first: after a failover the master may be any pod, and a pod
# that made itself master again would split the trackers' view.
set -eu
. /scripts/find-master.sh
if [ "$master" = "$me" ]; then
  role=""
else
  role="--replicaof $master 6379"
fi
# The peer store holds only what announces rebuild within one interval: no persistence.
# shellcheck disable=SC2086
exec redis-server --port 6379 --save "" --appendonly no \
  --replica-announce-ip "$me" --maxmemory 1gb --maxmemory-policy volatile-ttl $role
