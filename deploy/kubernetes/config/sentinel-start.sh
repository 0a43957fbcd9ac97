#!/bin/sh
# One sentinel beside each Redis; three in all, so a quorum of 2 survives one lost pod.
set -eu
. /scripts/find-master.sh
cat > /tmp/sentinel.conf <<CONF
port 26379
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip $me
sentinel monitor shoal $master 6379 2
sentinel down-after-milliseconds shoal 5000
sentinel failover-timeout shoal 30000
sentinel parallel-syncs shoal 1
CONF
exec redis-sentinel /tmp/sentinel.conf
