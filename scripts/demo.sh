#!/usr/bin/env bash
# make demo: a throw-away regtest monerod on loopback, a block mined every few
# seconds, and the exporter in front of it. Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."

RPC_PORT="${DEMO_RPC_PORT:-38081}"
P2P_PORT="${DEMO_P2P_PORT:-38080}"
LISTEN="${DEMO_LISTEN:-127.0.0.1:18091}"
BLOCK_EVERY="${DEMO_BLOCK_SECONDS:-5}"
# The Monero donation address: any valid mainnet address receives regtest blocks.
ADDRESS=44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A
DIR="$PWD/.demo"

if ! command -v monerod >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "monerod is missing: installing Debian's monero package"
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q monero
  else
    echo "monerod is missing: install it (Debian: sudo apt-get install monero) and run make demo again" >&2
    exit 1
  fi
fi

rm -rf "$DIR" && mkdir -p "$DIR"
pids=()
cleanup() {
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "demo stopped"
}
trap cleanup EXIT INT TERM

monerod --regtest --offline --fixed-difficulty 1 --non-interactive --no-igd --no-zmq \
  --disable-dns-checkpoints --check-updates disabled --rpc-ssl disabled \
  --data-dir "$DIR/monerod" --rpc-bind-ip 127.0.0.1 --rpc-bind-port "$RPC_PORT" \
  --p2p-bind-ip 127.0.0.1 --p2p-bind-port "$P2P_PORT" >"$DIR/monerod.log" 2>&1 &
pids+=($!)

rpc() {
  curl -fsS --max-time 60 "http://127.0.0.1:$RPC_PORT/json_rpc" \
    -d "{\"jsonrpc\":\"2.0\",\"id\":\"0\",\"method\":\"$1\",\"params\":$2}"
}
for _ in $(seq 60); do
  curl -fsS --max-time 1 "http://127.0.0.1:$RPC_PORT/get_height" >/dev/null 2>&1 && break
  kill -0 "${pids[0]}" 2>/dev/null || { echo "monerod exited; see $DIR/monerod.log" >&2; tail -5 "$DIR/monerod.log" >&2; exit 1; }
  sleep 0.5
done
rpc generateblocks "{\"amount_of_blocks\":10,\"wallet_address\":\"$ADDRESS\"}" >/dev/null

(while sleep "$BLOCK_EVERY"; do
  rpc generateblocks "{\"amount_of_blocks\":1,\"wallet_address\":\"$ADDRESS\"}" >/dev/null 2>&1 || true
done) &
pids+=($!)

# A lone --offline node has no peers (and opens no P2P port): /health counts
# only the checks such a node can pass; /metrics still shows the peers check.
./monero_exporter --monerod.rpc-url "127.0.0.1:$RPC_PORT" --web.listen-address "$LISTEN" \
  --health.checks monerod,last_block,sync >"$DIR/exporter.log" 2>&1 &
pids+=($!)
sleep 1
kill -0 "${pids[2]}" 2>/dev/null || { echo "the exporter exited; see $DIR/exporter.log" >&2; cat "$DIR/exporter.log" >&2; exit 1; }

cat <<MSG

monero_exporter is running against a regtest monerod (a block every ${BLOCK_EVERY}s).
  Landing page:   http://$LISTEN/
  Metrics:        http://$LISTEN/metrics
  Health (probe): http://$LISTEN/health
  Old JSON API:   http://$LISTEN/api/v1
  monerod RPC:    http://127.0.0.1:$RPC_PORT  (logs in $DIR)
Press Ctrl-C to stop.
MSG
wait "${pids[2]}"
