# The fleet method of scripts/bench/swarm.sh (--fleet): a ring of 3 origins (hosts 1-3),
# 2 trackers over Redis (hosts 4-5), a Redis master (6) and replica (7) with a sentinel on
# hosts 6-8, and an agent on every receiver from host 9 on. The same layout as the fleet
# fault tests (tests/integration/fleet_harness.py). Sourced by swarm.sh after
# swarm-methods.sh.
# shellcheck shell=bash

sb_fleet_layout() {
  SB_FIRST=9
  SB_SOURCES="1 2 3"
}

sb_fleet_urls() {
  local port=$1 hosts=$2 h urls=()
  for h in $hosts; do urls+=("http://$(sb_addr "$h"):$port"); done
  (IFS=,; echo "${urls[*]}")
}

sb_run_fleet() {
  local n=$1 h origins trackers store
  origins=$(sb_fleet_urls 4100 "1 2 3")
  trackers=$(sb_fleet_urls 4200 "4 5")
  store="redis-sentinel://$(sb_addr 6):26379,$(sb_addr 7):26379,$(sb_addr 8):26379/shoal"
  sb_bg 6 "$SB_RUN/redis6.log" redis-server --bind "$(sb_addr 6)" --port 6379 --save "" \
    --appendonly no --protected-mode no --dir "$SB_RUN"
  sb_bg 7 "$SB_RUN/redis7.log" redis-server --bind "$(sb_addr 7)" --port 6379 --save "" \
    --appendonly no --protected-mode no --dir "$SB_RUN" --replicaof "$(sb_addr 6)" 6379
  for h in 6 7 8; do
    printf 'bind %s\nport 26379\nprotected-mode no\nsentinel monitor shoal %s 6379 2\nsentinel down-after-milliseconds shoal 1000\nsentinel failover-timeout shoal 5000\n' \
      "$(sb_addr "$h")" "$(sb_addr 6)" >"$SB_RUN/sentinel$h.conf"
    sb_bg "$h" "$SB_RUN/sentinel$h.log" redis-sentinel "$SB_RUN/sentinel$h.conf"
  done
  sb_wait 7 30 sh -c "redis-cli -h $(sb_addr 7) role | grep -q slave"
  for h in 4 5; do
    # shellcheck disable=SC2086
    sb_bg "$h" "$SB_RUN/tracker$h.log" "$SHOAL_BIN" tracker --listen "$(sb_addr "$h"):4200" \
      --origin "$origins" --peer-store "$store" ${SHOAL_TRACKER_FLAGS:-}
  done
  for h in 1 2 3; do
    # shellcheck disable=SC2086
    sb_bg "$h" "$SB_RUN/origin$h.log" "$SHOAL_BIN" origin --listen "$(sb_addr "$h"):4100" \
      --data "$SB_RUN/origin$h" --origins "$origins" --self "http://$(sb_addr "$h"):4100" \
      --tracker "$trackers" --bt-listen "$(sb_addr "$h"):6881" ${SHOAL_ORIGIN_FLAGS:-}
  done
  for h in $(sb_receivers "$n"); do
    # shellcheck disable=SC2086
    sb_bg "$h" "$SB_RUN/peer$h.log" "$SHOAL_BIN" peer --listen 127.0.0.1:4300 --data "$SB_RUN/peer$h" \
      --origin "$origins" --tracker "$trackers" --bt-listen "$(sb_addr "$h"):6881" ${SHOAL_PEER_FLAGS:-}
  done
  for h in 1 2 3; do sb_wait "$h" 30 curl -sf "http://$(sb_addr "$h"):4100/health"; done
  for h in 4 5; do sb_wait "$h" 30 curl -sf "http://$(sb_addr "$h"):4200/health"; done
  for h in $(sb_receivers "$n"); do sb_wait "$h" 30 curl -sf http://127.0.0.1:4300/health; done
  sb_exec 1 "$SHOAL_BIN" push "$SB_BLOB" --origin "$origins" --quiet --state-dir "$SB_RUN/state" >/dev/null
  SB_EXTRA=
  sb_pull_all "$n" sb_shoal_pull
}
