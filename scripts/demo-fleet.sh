#!/usr/bin/env bash
# make demo-fleet: the whole stack on loopback, from Debian packages.
#   - three regtest monerods peered as a star (node0 dials node1 and node2),
#     node0 mining a block every few seconds and relaying it;
#   - the exporter answering for all three through /probe, with a config file
#     of one module;
#   - Prometheus scraping /probe for each node and the exporter's /metrics,
#     with the mixin's alert rules rendered for the demo (alerts/gen: the
#     rules as generated, every for: cut to DEMO_ALERT_FOR, the last block's
#     age to DEMO_LAST_BLOCK_MAX_AGE);
#   - Alertmanager, Prometheus' alertmanager.
# With DEMO_FAULTS=1, node2 is cut off from the fleet, then mines a fork of
# its own, then is reconnected and reorganises, on a timer, so that alerts go
# pending, firing and resolved. Ctrl-C (or any error) stops everything it
# started. With DEMO_RUN_SECONDS=N it stops by itself N seconds after
# printing the URLs.
set -euo pipefail
# The whole script is one command, read before it runs: editing or checking
# out another version of this file while a demo runs cannot derail it.
{
cd "$(dirname "$0")/.."

PORT_BASE="${DEMO_PORT_BASE:-38100}" # node i: P2P on PORT_BASE+10i, RPC on PORT_BASE+10i+1
LISTEN="${DEMO_LISTEN:-127.0.0.1:18092}"
PROM_LISTEN="${DEMO_PROMETHEUS_LISTEN:-127.0.0.1:19090}"
AM_LISTEN="${DEMO_ALERTMANAGER_LISTEN:-127.0.0.1:19093}"
BLOCK_EVERY="${DEMO_BLOCK_SECONDS:-5}"
SCRAPE_EVERY="${DEMO_SCRAPE_SECONDS:-5}"
ALERT_FOR="${DEMO_ALERT_FOR:-30s}"
LAST_BLOCK_MAX_AGE="${DEMO_LAST_BLOCK_MAX_AGE:-1m}"
FAULTS="${DEMO_FAULTS:-0}"
STALL_AFTER="${DEMO_STALL_AFTER:-60}"  # seconds after the URLs until node2 is cut off
FORK_AFTER="${DEMO_FORK_AFTER:-150}"   # seconds after that until it mines its own fork
HEAL_AFTER="${DEMO_HEAL_AFTER:-90}"    # seconds after that until it is reconnected
RUN_SECONDS="${DEMO_RUN_SECONDS:-0}"   # 0: until Ctrl-C
DIR="${DEMO_DIR:-$PWD/.demo-fleet}"
EXPORTER="${DEMO_EXPORTER:-./monero_exporter}"
GO="${GO:-go}"
NODES=3
# The Monero donation address: any valid mainnet address receives regtest blocks.
ADDRESS=44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A

say() { echo "$(date +%T) $*"; }
die() { echo "demo-fleet: $*" >&2; exit 1; }

# Debian's packages, installed when missing if we may.
alertmanager_bin=$(command -v prometheus-alertmanager || command -v alertmanager || true)
missing=()
command -v monerod >/dev/null || missing+=(monero)
command -v prometheus >/dev/null || missing+=(prometheus)
[ -n "$alertmanager_bin" ] || missing+=(prometheus-alertmanager)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing the missing Debian packages: ${missing[*]}"
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
    alertmanager_bin=$(command -v prometheus-alertmanager || command -v alertmanager)
  else
    die "missing: install them (Debian: sudo apt-get install ${missing[*]}) and run make demo-fleet again"
  fi
fi
[ -x "$EXPORTER" ] || die "$EXPORTER is not there: make demo-fleet builds it"

rpc_port() { echo $((PORT_BASE + 10 * $1 + 1)); }
p2p_port() { echo $((PORT_BASE + 10 * $1)); }
host_port() { echo "${1##*:}"; }
ports=("$(host_port "$LISTEN")" "$(host_port "$PROM_LISTEN")" "$(host_port "$AM_LISTEN")")
for i in $(seq 0 $((NODES - 1))); do ports+=("$(rpc_port "$i")" "$(p2p_port "$i")"); done
for p in "${ports[@]}"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    die "port $p on 127.0.0.1 is taken (another demo?): stop it or choose other ports with DEMO_PORT_BASE, DEMO_LISTEN, DEMO_PROMETHEUS_LISTEN, DEMO_ALERTMANAGER_LISTEN"
  fi
done

# The directory is wiped at each start: refuse one that is not ours.
if [ -e "$DIR" ] && [ ! -e "$DIR/.demo-fleet" ] && [ -n "$(ls -A "$DIR")" ]; then
  die "$DIR exists and is not a demo-fleet directory: set DEMO_DIR to a new one"
fi
rm -rf "$DIR" && mkdir -p "$DIR" && touch "$DIR/.demo-fleet"

# The servers run in sessions of their own (setsid, which keeps the PID):
# Ctrl-C in a terminal reaches this script alone, which stops them in order,
# instead of racing them to exit.
#
# The script's own loops (node0's miner, the faults' timer) run in process
# groups of their own (spawn_loop): the cleanup stops each loop with all it
# runs at that moment (a curl, a sleep, a command substitution) by its
# group, and waits until the group is empty.
#
# Everything started goes into pids (its name into names, a loop's group
# into loops too). The cleanup first stops the loops, then the servers,
# each by PID, waiting for it. Only live children of this shell are
# signalled, so that a PID reused after one of ours exited is left alone.
pids=()
names=()
loops=()
started() { pids+=("$1"); names+=("$2"); }
spawn_loop() { # spawn_loop NAME FUNCTION
  set -m # only to give the loop its own process group
  (
    set +m
    "$2"
  ) &
  set +m
  started $! "$1"
  loops+=($!)
}
name_of() {
  for i in "${!pids[@]}"; do [ "${pids[$i]}" = "$1" ] && echo "${names[$i]}"; done
}
alive() { # alive PID: a child of this shell that has not exited (from /proc)
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  read -r -a stat <<<"${stat##*) }" # state ppid ...
  [ "${stat[0]}" != Z ] && [ "${stat[1]}" = $$ ]
}
running() { # running PID...: those of PID... that are alive
  local p
  for p; do alive "$p" && echo "$p"; done
  return 0
}
stop() { # stop SECONDS PID...: SIGTERM, then SIGKILL after SECONDS
  local seconds=$1 p
  shift
  for p in $(running "$@"); do
    kill -CONT "$p" 2>/dev/null || true
    kill -TERM "$p" 2>/dev/null || true
  done
  for _ in $(seq $((seconds * 10))); do
    [ -z "$(running "$@")" ] && return 0
    sleep 0.1
  done
  for p in $(running "$@"); do
    echo "$(name_of "$p") ignored SIGTERM for ${seconds}s: killing it" >&2
    kill -KILL "$p" 2>/dev/null || true
  done
}
group_running() { # group_running PGID: a process of that group, not a zombie, is left
  cat /proc/[0-9]*/stat 2>/dev/null |
    awk -v g="$1" '{ sub(/.*\) /, "") } $3 == g && $1 != "Z" { found = 1 } END { exit !found }'
}
stop_loops() { # each running loop's group: SIGTERM, then SIGKILL after 10 s
  local g left groups
  groups=$(running "${loops[@]}") # a loop that ended by itself left nothing
  for g in $groups; do kill -TERM -- "-$g" 2>/dev/null || true; done
  for _ in $(seq 100); do
    left=0
    for g in $groups; do group_running "$g" && left=1; done
    [ "$left" = 0 ] && return 0
    sleep 0.1
  done
  for g in $groups; do
    group_running "$g" || continue
    echo "$(name_of "$g") still runs 10s after SIGTERM: killing it" >&2
    kill -KILL -- "-$g" 2>/dev/null || true
  done
}
cleanup() {
  local status=${1:-$?}
  trap - EXIT INT TERM
  stop_loops
  # monerod takes 1-3 s to stop.
  stop 20 "${pids[@]}"
  wait 2>/dev/null || true
  echo "demo-fleet stopped: nothing it started is running (logs and data in $DIR)"
  exit "$status"
}
# A script started with SIGINT ignored (in the background of another
# script, say) cannot trap it: Ctrl-C will not reach it, say how to stop it.
if [ -n "$(trap -p INT)" ]; then
  echo "demo-fleet: SIGINT is ignored in this shell (started in the background?): stop it with kill $$" >&2
fi
trap cleanup EXIT
trap 'cleanup 130' INT
trap 'cleanup 143' TERM

rpc() { # rpc NODE METHOD PARAMS
  curl -sS --max-time 30 "http://127.0.0.1:$(rpc_port "$1")/json_rpc" \
    -d "{\"jsonrpc\":\"2.0\",\"id\":\"0\",\"method\":\"$2\",\"params\":$3}"
}
post() { # post NODE PATH BODY
  curl -sS --max-time 10 "http://127.0.0.1:$(rpc_port "$1")$2" -d "$3"
}
field() { # the first value of a JSON field, from monerod's one-field-a-line JSON
  sed -n "s/.*\"$1\": *\"\{0,1\}\([^\",}]*\).*/\1/p" | head -1
}
mine() { # mine NODE N: prints the status
  rpc "$1" generateblocks "{\"amount_of_blocks\":$2,\"wallet_address\":\"$ADDRESS\"}" 2>/dev/null | field status
}
height() { curl -sS --max-time 10 "http://127.0.0.1:$(rpc_port "$1")/get_height" 2>/dev/null | field height; }
top_hash() { curl -sS --max-time 10 "http://127.0.0.1:$(rpc_port "$1")/get_height" 2>/dev/null | field hash; }
hash_at() { rpc "$1" get_block_header_by_height "{\"height\":$2}" 2>/dev/null | field hash; }
# until SECONDS WHAT CMD...: runs CMD every half second until it succeeds.
until_ok() {
  local seconds=$1 what=$2
  shift 2
  for _ in $(seq $((seconds * 2))); do
    "$@" && return 0
    for p in "${pids[@]}"; do
      alive "$p" || die "$(name_of "$p") exited while waiting for $what; see its log in $DIR"
    done
    sleep 0.5
  done
  die "waited ${seconds}s for $what; see the logs in $DIR"
}

# The fleet: node0 dials the others; each other node takes node0's
# connection and dials nobody (a node accepts one inbound connection from
# 127.0.0.1).
say "starting $NODES regtest monerods"
for i in $(seq 0 $((NODES - 1))); do
  peers=()
  if [ "$i" = 0 ]; then
    for j in $(seq 1 $((NODES - 1))); do peers+=(--add-exclusive-node "127.0.0.1:$(p2p_port "$j")"); done
  else
    peers=(--add-exclusive-node "127.0.0.1:$(p2p_port 0)" --out-peers 0)
  fi
  setsid monerod --regtest --fixed-difficulty 1 --non-interactive --no-igd --no-zmq \
    --disable-dns-checkpoints --check-updates disabled --rpc-ssl disabled --allow-local-ip \
    --data-dir "$DIR/node$i" --rpc-bind-ip 127.0.0.1 --rpc-bind-port "$(rpc_port "$i")" \
    --p2p-bind-ip 127.0.0.1 --p2p-bind-port "$(p2p_port "$i")" "${peers[@]}" \
    >"$DIR/node$i.log" 2>&1 &
  started $! "node$i (monerod)"
done

# The demo's alert rules, rendered meanwhile: the mixin's rules as generated
# (alerts added to alerts/config.yml appear here too), with demo durations.
cat >"$DIR/alerts-overlay.yml" <<YAML
# The demo's changes to alerts/config.yml: regtest blocks come every ${BLOCK_EVERY}s.
lastBlockTooOld: {maxAge: $LAST_BLOCK_MAX_AGE}
YAML
# MoneroTooFewPeers is left out: no node of a star of three on loopback can
# have the 4 peers it asks for.
"$GO" run ./alerts/gen -config alerts/config.yml -overlay "$DIR/alerts-overlay.yml" \
  -max-for "$ALERT_FOR" -without MoneroTooFewPeers -out "$DIR/monero-alerts.yml" \
  || die "rendering the demo's alert rules failed"

for i in $(seq 0 $((NODES - 1))); do
  until_ok 60 "node$i's RPC" curl -fs --max-time 1 -o /dev/null "http://127.0.0.1:$(rpc_port "$i")/get_height"
done
connected() { [ "$(curl -sS --max-time 5 "http://127.0.0.1:$(rpc_port 0)/get_info" 2>/dev/null | field outgoing_connections_count)" = $((NODES - 1)) ]; }
until_ok 60 "node0 to connect to the others" connected
# generateblocks answers BUSY until node0 counts as synchronized with its peers.
mined() { [ "$(mine 0 10)" = OK ]; }
until_ok 60 "node0 to mine its first blocks" mined
same_height() {
  local h0
  h0=$(height 0)
  [ -n "$h0" ] || return 1
  for i in $(seq 1 $((NODES - 1))); do [ "$(height "$i")" = "$h0" ] || return 1; done
}
until_ok 60 "the blocks to reach every node" same_height
say "the fleet is at height $(height 0); node0 mines a block every ${BLOCK_EVERY}s"

miner() {
  while :; do
    sleep "$BLOCK_EVERY"
    mine 0 1 >/dev/null || true
  done
}
spawn_loop "node0's miner" miner

targets=()
for i in $(seq 0 $((NODES - 1))); do targets+=("127.0.0.1:$(rpc_port "$i")"); done

# The exporter: one module for the fleet's nodes. Its health thresholds
# match the demo's alerts. A peer's height in get_connections is refreshed
# only every minute or so, when a block comes every few seconds: the peers
# check (a peer counts when within max_blocks_behind of us) must allow for
# two minutes of blocks. The fleet's nodes are each other's reference nodes
# (a target is not compared with itself), so that node2's fork is caught
# against the others: monero_reference_agrees and MoneroChainFork.
cat >"$DIR/monero_exporter.yml" <<YAML
# Written by scripts/demo-fleet.sh: the module of the demo's regtest nodes.
modules:
  demo:
    allowed_targets: ["127.0.0.0/8"]
    references: [$(IFS=,; echo "${targets[*]}")]
    health:
      last_block_max_age: $LAST_BLOCK_MAX_AGE
      min_peers: 1
      max_blocks_behind: $((120 / BLOCK_EVERY + 10))
      checks: [monerod, last_block, peers, sync]
YAML
setsid "$EXPORTER" --config.file "$DIR/monero_exporter.yml" --web.listen-address "$LISTEN" \
  --monerod.rpc-url "${targets[0]}" >"$DIR/exporter.log" 2>&1 &
started $! "the exporter"

cat >"$DIR/alertmanager.yml" <<YAML
# Written by scripts/demo-fleet.sh: no notifier; the alerts show on the web page.
route:
  receiver: demo
  group_by: [alertname, instance]
  group_wait: 5s
  group_interval: 10s
  repeat_interval: 1h
receivers:
  - name: demo
YAML
# No cluster port: a lone Alertmanager needs none.
setsid "$alertmanager_bin" --config.file "$DIR/alertmanager.yml" --storage.path "$DIR/alertmanager-data" \
  --web.listen-address "$AM_LISTEN" --web.external-url "http://$AM_LISTEN/" \
  --cluster.listen-address= >"$DIR/alertmanager.log" 2>&1 &
started $! "Alertmanager"

{
  cat <<YAML
# Written by scripts/demo-fleet.sh, after examples/prometheus-probe.yml.
global:
  scrape_interval: ${SCRAPE_EVERY}s
  scrape_timeout: ${SCRAPE_EVERY}s
  evaluation_interval: ${SCRAPE_EVERY}s

rule_files:
  - monero-alerts.yml

alerting:
  alertmanagers:
    - static_configs:
        - targets: ['$AM_LISTEN']

scrape_configs:
  # The nodes, through the exporter's /probe; the job the alerts select.
  - job_name: monero
    metrics_path: /probe
    params:
      module: [demo]
    static_configs:
YAML
  for i in $(seq 0 $((NODES - 1))); do
    printf "      - targets: ['%s']\n        labels: {node: node%d}\n" "${targets[$i]}" "$i"
  done
  cat <<YAML
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: $LISTEN

  # The exporter's own metrics.
  - job_name: monero_exporter
    static_configs:
      - targets: ['$LISTEN']
YAML
} >"$DIR/prometheus.yml"
if command -v promtool >/dev/null; then
  promtool check config "$DIR/prometheus.yml" >"$DIR/promtool.log" 2>&1 \
    || { cat "$DIR/promtool.log" >&2; die "promtool check config failed"; }
fi
setsid prometheus --config.file "$DIR/prometheus.yml" --storage.tsdb.path "$DIR/prometheus-data" \
  --web.listen-address "$PROM_LISTEN" --web.external-url "http://$PROM_LISTEN/" \
  >"$DIR/prometheus.log" 2>&1 &
started $! "Prometheus"

until_ok 30 "the exporter" curl -fs --max-time 2 -o /dev/null "http://$LISTEN/-/healthy"
until_ok 30 "Alertmanager" curl -fs --max-time 2 -o /dev/null "http://$AM_LISTEN/-/ready"
until_ok 60 "Prometheus" curl -fs --max-time 2 -o /dev/null "http://$PROM_LISTEN/-/ready"
# Debian's Prometheus serves its classic web pages under /classic (it ships
# without the React UI that upstream serves at /alerts).
ui=
if ! curl -fs --max-time 2 -o /dev/null "http://$PROM_LISTEN/alerts" \
  && curl -fs --max-time 2 -o /dev/null "http://$PROM_LISTEN/classic/alerts"; then
  ui=/classic
fi
targets_up() { # the nodes' probes and the exporter's /metrics
  curl -fs --max-time 2 "http://$PROM_LISTEN/api/v1/query" --data-urlencode 'query=count(up == 1)' 2>/dev/null \
    | grep -q "\"$((NODES + 1))\"\]"
}
until_ok 60 "Prometheus to scrape the $NODES nodes through /probe and the exporter" targets_up

probe_url() { echo "http://$LISTEN/probe?target=${targets[$1]}&module=demo"; }
health_url() { echo "http://$LISTEN/health?target=${targets[$1]}&module=demo"; }
cat <<MSG

The demo fleet is running: $NODES regtest monerods (node0 mines a block every ${BLOCK_EVERY}s),
the exporter answering for them through /probe, Prometheus with the mixin's alerts (every
for: at most $ALERT_FOR, last block older than $LAST_BLOCK_MAX_AGE), and Alertmanager.
  Prometheus alerts:  http://$PROM_LISTEN$ui/alerts
  Prometheus targets: http://$PROM_LISTEN$ui/targets
  Alertmanager:       http://$AM_LISTEN/
  Exporter:           http://$LISTEN/  (its own metrics: http://$LISTEN/metrics)
MSG
for i in $(seq 0 $((NODES - 1))); do echo "  node$i probe:        $(probe_url "$i")"; done
for i in $(seq 0 $((NODES - 1))); do echo "  node$i health:       $(health_url "$i")"; done
echo "  Logs and data:      $DIR"
if [ "$FAULTS" = 1 ]; then
  echo "Faults on: node2 is cut off in ${STALL_AFTER}s, forks ${FORK_AFTER}s later, and is reconnected ${HEAL_AFTER}s after that."
else
  echo "Run with DEMO_FAULTS=1 to watch node2 stall, fork and recover, and the alerts with it."
fi
echo "Press Ctrl-C (or kill $$) to stop."
echo

# The faults, on a timer: node2 is cut off from the fleet (its tip goes
# stale), then mines blocks of its own while still cut off (a cut-off node
# that was synchronized stays synchronized, so generateblocks works: a fork),
# then is reconnected and reorganises onto the fleet's longer chain.
faults() {
  set +e # a failed call is reported, not fatal
  local n=$((NODES - 1)) h fork_from fork_hash h0 inpeers
  sleep "$STALL_AFTER"
  post "$n" /in_peers '{"in_peers":0}' >/dev/null
  post "$n" /out_peers '{"out_peers":0}' >/dev/null
  h=$(height "$n")
  say "node$n stalled: cut off from the fleet (in_peers 0), its tip stays at height $h while node0 mines on."
  say "  watch MoneroNoPeers and MoneroHealthCheckFailing (check=peers) go pending, then firing after $ALERT_FOR;"
  say "  MoneroLastBlockTooOld and the last_block check follow once its tip is older than $LAST_BLOCK_MAX_AGE."
  sleep "$FORK_AFTER"
  fork_from=$(height "$n")
  say "node$n forks: still cut off, it mines its own blocks from height $fork_from on, one every $((2 * BLOCK_EVERY))s."
  say "  its tip is fresh again: MoneroLastBlockTooOld and the last_block check resolve, yet it follows"
  say "  another chain than node0 and node1: watch MoneroChainFork (monero_reference_agrees == 0) fire."
  local status
  status=$(mine "$n" 1)
  [ "$status" = OK ] || say "  node$n answered generateblocks with '${status:-nothing}': it mines no fork"
  fork_hash=$(hash_at "$n" "$fork_from")
  [ -n "$fork_hash" ] && say "  node$n's block at height $fork_from: $fork_hash; node0's: $(hash_at 0 "$fork_from")"
  local end=$((SECONDS + HEAL_AFTER))
  while [ $SECONDS -lt $end ]; do
    sleep $((end - SECONDS < 2 * BLOCK_EVERY ? end - SECONDS : 2 * BLOCK_EVERY))
    [ $SECONDS -lt $end ] && mine "$n" 1 >/dev/null
  done
  # node2 reorganises only onto a longer chain: make sure the fleet's is.
  h0=$(height 0)
  h=$(height "$n")
  if [ -n "$h0" ] && [ -n "$h" ] && [ "$h" -ge "$h0" ]; then mine 0 $((h - h0 + 2)) >/dev/null; fi
  inpeers=$(post "$n" /in_peers '{"in_peers":16}' | field status)
  say "node$n reconnected (in_peers $inpeers): node0 dials it again within 10s, and it reorganises onto the"
  say "  fleet's longer chain, dropping its own blocks. Watch every alert resolve."
  for _ in $(seq 120); do
    sleep 0.5
    h0=$(top_hash 0)
    if [ -n "$h0" ] && [ "$(top_hash "$n")" = "$h0" ]; then
      say "node$n is back on the fleet's chain at height $(height "$n"); its block at height $fork_from is now $(hash_at "$n" "$fork_from")."
      say "The faults are over."
      return 0
    fi
  done
  say "node$n has not caught up with node0 after 60s; see $DIR/node$n.log"
}
if [ "$FAULTS" = 1 ]; then
  spawn_loop "the faults' timer" faults
fi

# Until Ctrl-C, DEMO_RUN_SECONDS, or a part of the stack exiting.
services=()
for i in "${!pids[@]}"; do
  case "${names[$i]}" in "the faults' timer" | "node0's miner") ;; *) services+=("${pids[$i]}") ;; esac
done
timer=
if [ "$RUN_SECONDS" -gt 0 ]; then
  sleep "$RUN_SECONDS" &
  timer=$!
  started "$timer" "the DEMO_RUN_SECONDS timer"
fi
ended=
wait -n -p ended "${services[@]}" $timer || true
if [ -n "$timer" ] && [ "$ended" = "$timer" ]; then
  say "DEMO_RUN_SECONDS=$RUN_SECONDS passed: stopping"
  exit 0
fi
die "$(name_of "$ended") exited; see its log in $DIR"
exit
}
