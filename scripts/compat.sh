#!/usr/bin/env bash
# make compat: runs Apache ZooKeeper's zkCli.sh and a kazoo script against a
# server and fails on any difference from Apache's behaviour.
#
#   scripts/compat.sh                   build zkserver, start it on a free port, test it
#   scripts/compat.sh --target apache   the same against Apache ZooKeeper 3.8 (checks the suite)
#   scripts/compat.sh --server H:P      test a server that is already running
#
# The server this script starts runs with a temporary dataDir and is stopped
# at the end whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

target=zkserver
server=
only=
while [ $# -gt 0 ]; do
  case "$1" in
    --target) target=$2; shift 2 ;;
    --server) server=$2; shift 2 ;;
    --only) only=$2; shift 2 ;; # zkcli or kazoo
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "compat.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

scripts/install-apache-zk.sh

tmp=
ZK_PID=
cleanup() {
  zk_stop "$ZK_PID"
  [ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "$server" ]; then
  tmp=$(mktemp -d /tmp/zkcompat.XXXXXX)
  port=$(zk_free_port)
  server=127.0.0.1:$port
  # Extended types on, so that create -t (TTL) behaves the same on Apache.
  zk_write_cfg "$tmp" "$port" extendedTypesEnabled=true
  if [ "$target" = zkserver ]; then
    if [ ! -x bin/zkserver ] || [ -n "$(find cmd server fourletter -newer bin/zkserver -name '*.go' 2>/dev/null | head -1)" ]; then
      go build -o bin/zkserver ./cmd/zkserver
    fi
  fi
  echo "compat: starting $target on $server (dataDir $tmp/data)"
  zk_start "$target" "$tmp"
  if ! zk_wait_serving "$server" "$ZK_PID" 60; then
    echo "--- server log ($tmp/server.log) ---" >&2
    tail -50 "$tmp/server.log" >&2 || true
    exit 1
  fi
fi

status=0
if [ -z "$only" ] || [ "$only" = zkcli ]; then
  echo "compat: zkCli.sh against $server"
  "$PY" compat/zkcli_compat.py --server "$server" --zkcli "$ZKCLI" || status=1
fi
if [ -z "$only" ] || [ "$only" = kazoo ]; then
  echo "compat: kazoo against $server"
  "$PY" compat/kazoo_compat.py --server "$server" || status=1
fi
if [ -n "$ZK_PID" ] && ! kill -0 "$ZK_PID" 2>/dev/null; then
  echo "compat: the server died during the run" >&2
  status=1
fi
if [ "$status" != 0 ] && [ -n "$tmp" ]; then
  echo "--- last lines of the server log ---" >&2
  tail -30 "$tmp/server.log" >&2 || true
fi
if [ "$status" = 0 ]; then echo "compat: PASS ($target)"; else echo "compat: FAIL ($target)" >&2; fi
exit "$status"
