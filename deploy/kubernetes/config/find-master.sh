# Sourced by the start scripts: sets $me (this pod's stable name) and $master (the
# master's name as the sentinels know it, or pod 0 when no sentinel answers yet).
me="$(hostname).shoal-redis"
master=""
for i in 0 1 2; do
  master=$(redis-cli -h "shoal-redis-$i.shoal-redis" -p 26379 --raw \
             sentinel get-master-addr-by-name shoal 2>/dev/null | head -n 1) || true
  [ -n "$master" ] && break
done
[ -n "$master" ] || master="shoal-redis-0.shoal-redis"
