#!/usr/bin/env bash
# A test bed of capped hosts on one machine: each host is a network namespace with one
# link (veth) to a switch (a Linux bridge inside its own namespace), capped in both
# directions by tc tbf. Nothing is created or changed outside the test bed's namespaces:
# the veth pairs are born inside them, addresses come from 10.213.0.0/24, which exists
# only on the test bed's bridge. Needs root (ip netns, tc), iproute2.
#
#   testbed.sh up --hosts N --rate RATE [--name NAME] [--burst BYTES]
#       hosts NAME-h1 … NAME-hN, host I at 10.213.0.I; RATE as tc takes it (200mbit).
#       Any earlier test bed of that NAME is torn down first.
#   testbed.sh down [--name NAME]    kill what runs in the hosts and remove them (idempotent)
#   testbed.sh rate I RATE [--name NAME]   change host I's cap (both directions)
#   testbed.sh cut I [--name NAME]         take host I's link down (the host is cut off)
#   testbed.sh restore I [--name NAME]     bring it back up
#   testbed.sh exec I CMD... [--name NAME must come before exec]
#   testbed.sh addr I                      print host I's address
#   testbed.sh list [--name NAME]          the hosts that exist
#
# The name defaults to $TESTBED_NAME or "shoaltb"; tests use their own so that test beds
# never collide. tbf's burst is at least 128 KiB or 4 ms at the rate, whichever is larger
# (smaller bursts split offloaded segments and double the CPU cost: docs/ARCHITECTURE.md,
# "Toolchain notes").
set -euo pipefail

name=${TESTBED_NAME:-shoaltb}
subnet=10.213.0

die() { echo "testbed: $*" >&2; exit 2; }

# rate_bits RATE: tc's rate syntax (kbit, mbit, gbit, bare bits per second) in bit/s.
rate_bits() {
  local r=${1,,}
  case $r in
    *gbit) echo $(( ${r%gbit} * 1000000000 )) ;;
    *mbit) echo $(( ${r%mbit} * 1000000 )) ;;
    *kbit) echo $(( ${r%kbit} * 1000 )) ;;
    *bit) echo "${r%bit}" ;;
    *[!0-9]*|'') die "rate '$1': expected e.g. 200mbit" ;;
    *) echo "$r" ;;
  esac
}

burst_for() {
  local bits burst
  bits=$(rate_bits "$1")
  burst=$(( bits / 8 / 250 ))          # 4 ms at the rate
  (( burst < 131072 )) && burst=131072
  echo "$burst"
}

sw() { echo "$name-sw"; }
host() { echo "$name-h$1"; }

# cap NS DEV RATE: tbf on DEV's egress inside NS. The queue holds 20 ms at the rate
# (bounded below by two bursts) so that TCP keeps the link busy without bufferbloat.
cap() {
  local ns=$1 dev=$2 rate=$3 burst=${BURST:-} bits limit
  [ -n "$burst" ] || burst=$(burst_for "$rate")
  bits=$(rate_bits "$rate")
  limit=$(( bits / 8 / 50 ))
  (( limit < 2 * burst )) && limit=$(( 2 * burst ))
  ip -n "$ns" link set "$dev" txqueuelen 1000
  tc -n "$ns" qdisc replace dev "$dev" root tbf rate "$rate" burst "$burst" limit "$limit"
}

existing_hosts() {
  ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$name-h[0-9]+$" | sed "s/^$name-h//" | sort -n |
    sed "s/^/$name-h/" || true
}

down() {
  local ns pids
  for ns in $(existing_hosts) "$(sw)"; do
    [ -e "/run/netns/$ns" ] || continue
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    if [ -n "$pids" ]; then
      # shellcheck disable=SC2086
      kill -TERM $pids 2>/dev/null || true
      for _ in $(seq 50); do
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        [ -z "$pids" ] && break
        sleep 0.1
      done
      # shellcheck disable=SC2086
      [ -n "$pids" ] && kill -KILL $pids 2>/dev/null || true
    fi
    ip netns delete "$ns" 2>/dev/null || true
  done
}

up() {
  local hosts=$1 rate=$2 i ns
  (( hosts >= 1 && hosts <= 250 )) || die "--hosts must be 1..250"
  rate_bits "$rate" >/dev/null
  down
  ip netns add "$(sw)"
  ip -n "$(sw)" link set lo up
  ip -n "$(sw)" link add br0 type bridge
  # No STP, no forwarding delay: a port forwards as soon as it is up.
  ip -n "$(sw)" link set br0 type bridge stp_state 0 forward_delay 0
  ip -n "$(sw)" link set br0 up
  for i in $(seq "$hosts"); do
    ns=$(host "$i")
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip link add "p$i" netns "$(sw)" type veth peer name eth0 netns "$ns"
    ip -n "$(sw)" link set "p$i" master br0
    ip -n "$(sw)" link set "p$i" up
    ip -n "$ns" addr add "$subnet.$i/24" dev eth0
    ip -n "$ns" link set eth0 up
    cap "$ns" eth0 "$rate"          # the host's upload
    cap "$(sw)" "p$i" "$rate"       # the host's download
  done
}

set_rate() {
  local i=$1 rate=$2
  [ -e "/run/netns/$(host "$i")" ] || die "no host $i in test bed $name"
  cap "$(host "$i")" eth0 "$rate"
  cap "$(sw)" "p$i" "$rate"
}

link() {
  local i=$1 state=$2
  [ -e "/run/netns/$(host "$i")" ] || die "no host $i in test bed $name"
  ip -n "$(sw)" link set "p$i" "$state"
}

args=()
hosts= rate=
while [ $# -gt 0 ]; do
  case $1 in
    --name) name=$2; shift 2 ;;
    --hosts) hosts=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --burst) BURST=$2; shift 2 ;;
    exec) args+=("$1"); shift; break ;;
    *) args+=("$1"); shift ;;
  esac
done
[[ $name =~ ^[a-z][a-z0-9]{0,10}$ ]] || die "--name must be 1-11 lowercase letters/digits"
[ ${#args[@]} -gt 0 ] || die "usage: testbed.sh up|down|rate|cut|restore|exec|addr|list …"

case ${args[0]} in
  up) [ -n "$hosts" ] && [ -n "$rate" ] || die "up needs --hosts N --rate RATE"; up "$hosts" "$rate" ;;
  down) down ;;
  rate) set_rate "${args[1]:?host}" "${args[2]:?rate}" ;;
  cut) link "${args[1]:?host}" down ;;
  restore) link "${args[1]:?host}" up ;;
  addr) echo "$subnet.${args[1]:?host}" ;;
  list) existing_hosts ;;
  exec)
    i=${1:?host}
    shift
    exec ip netns exec "$(host "$i")" "$@"
    ;;
  *) die "unknown command ${args[0]}" ;;
esac
