#!/usr/bin/env bash
# The programs the integration tests run: monerod and monero-wallet-rpc
# (Debian's monero), prometheus and promtool (prometheus), amtool and
# prometheus-alertmanager (prometheus-alertmanager), and curl (which the
# demo's script, run by TestDemoFleet, uses). As root with apt-get, install
# the packages that are missing; elsewhere say in one line what will be
# skipped and how to get it. With CI set, the tests fail instead of
# skipping, so a missing program is an error here too.
set -euo pipefail

declare -A pkg_of=(
  [monerod]=monero [monero-wallet-rpc]=monero
  [prometheus]=prometheus [promtool]=prometheus
  [amtool]=prometheus-alertmanager [prometheus-alertmanager]=prometheus-alertmanager
  [curl]=curl
)
missing=()
for prog in monerod monero-wallet-rpc prometheus promtool amtool prometheus-alertmanager curl; do
  command -v "$prog" >/dev/null || missing+=("${pkg_of[$prog]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing the Debian packages the integration tests need: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q "${missing[@]}" >/dev/null
  exit 0
fi

msg="the tests that need ${missing[*]} will be skipped; install them with: sudo apt-get install ${missing[*]}"
if [ -n "${CI:-}" ]; then
  echo "test-deps: CI is set and $msg" >&2
  exit 1
fi
echo "test-deps: $msg"
