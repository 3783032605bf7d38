#!/usr/bin/env bash
# make compat: runs Apache ZooKeeper's zkCli.sh and a kazoo script against a
# server and fails on any difference from Apache's behaviour.
#
#   scripts/compat.sh                          build zkserver, start it on a free port, test it
#   scripts/compat.sh --target apache          the same against Apache ZooKeeper 3.8 (checks the suite)
#   scripts/compat.sh --target ensemble        3 zkserver members (zk ensemble up), plus a failover
#   scripts/compat.sh --target apache-ensemble 3 Apache members, plus a failover
#   scripts/compat.sh --server H:P[,H:P...]    test servers that are already running
#
# The servers this script starts run with temporary data directories and
# are stopped at the end whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
user_py=${PY:-}
. scripts/lib.sh

target=zkserver
server=
only=
while [ $# -gt 0 ]; do
  case "$1" in
    --target) target=$2; shift 2 ;;
    --server) server=$2; shift 2 ;;
    --only) only=$2; shift 2 ;; # zkcli or kazoo
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "compat.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

scripts/install-apache-zk.sh
# The install may just have brought the system Python (with kazoo).
if [ -z "$user_py" ] && [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; fi

tmp=
ZK_PID=
ens_dir=
apache_pids=()
kazoo_args=()
cleanup() {
  zk_stop "$ZK_PID"
  if [ -n "$ens_dir" ]; then
    bin/zk ensemble down --dir "$ens_dir" --purge >/dev/null 2>&1 || true
  fi
  local f
  for f in "${apache_pids[@]}"; do
    [ -f "$f" ] && zk_stop_pid "$(cat "$f")"
  done
  [ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

build_zkserver() {
  if [ ! -x bin/zkserver ] || [ ! -x bin/zk ] || [ -n "$(find cmd server internal fourletter shell ensemble -newer bin/zkserver -name '*.go' 2>/dev/null | head -1)" ]; then
    go build -o bin/zkserver ./cmd/zkserver
    go build -o bin/zk ./cmd/zk
  fi
}

if [ -z "$server" ]; then
  tmp=$(mktemp -d /tmp/zkcompat.XXXXXX)
  case "$target" in
    zkserver|apache)
      port=$(zk_free_port)
      server=127.0.0.1:$port
      # Extended types on, so that create -t (TTL) behaves the same on Apache.
      zk_write_cfg "$tmp" "$port" extendedTypesEnabled=true
      [ "$target" = zkserver ] && build_zkserver
      echo "compat: starting $target on $server (dataDir $tmp/data)"
      zk_start "$target" "$tmp"
      if ! zk_wait_serving "$server" "$ZK_PID" 60; then
        echo "--- server log ($tmp/server.log) ---" >&2
        tail -50 "$tmp/server.log" >&2 || true
        exit 1
      fi
      ;;
    ensemble)
      build_zkserver
      ens_dir=$tmp/ensemble
      if ! zk_ensemble_up "$ens_dir" "$tmp/up.log"; then
        echo "compat: zk ensemble up failed:" >&2; cat "$tmp/up.log" >&2; exit 1
      fi
      server=$ZK_ENS
      echo "compat: zkserver ensemble on $server"
      kazoo_args=(--base-port "$ZK_ENS_BASE"
        --failover-kill "bin/zk ensemble kill {id} --dir $ens_dir"
        --failover-start "bin/zk ensemble start {id} --dir $ens_dir")
      ;;
    apache-ensemble)
      ports=()
      for _ in 1 2 3 4 5 6 7 8 9; do ports+=("$(zk_free_port)"); done
      # Client ports must be consecutive for --base-port: use base..base+2.
      base=$(zk_free_port)
      lines=()
      for i in 1 2 3; do
        lines+=("server.$i=127.0.0.1:${ports[$((i * 2))]}:${ports[$((i * 2 + 1))]};127.0.0.1:$((base + i - 1))")
      done
      server=127.0.0.1:$base,127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2))
      for i in 1 2 3; do
        d=$tmp/m$i
        zk_write_cfg "$d" "$((base + i - 1))" extendedTypesEnabled=true initLimit=10 syncLimit=5 "${lines[@]}"
        echo "$i" >"$d/data/myid"
        (ZK_PID=; zk_start apache "$d"; echo "$ZK_PID" >"$d/pid")
        apache_pids+=("$d/pid")
      done
      for i in 1 2 3; do
        zk_wait_serving "127.0.0.1:$((base + i - 1))" "$(cat "$tmp/m$i/pid")" 90 || { tail -30 "$tmp/m$i/server.log" >&2; exit 1; }
      done
      echo "compat: Apache ensemble on $server"
      kazoo_args=(--base-port "$base"
        --failover-kill "kill -9 \$(cat $tmp/m{id}/pid)"
        --failover-start "cd $PWD && . scripts/lib.sh && zk_start apache $tmp/m{id} && echo \$ZK_PID > $tmp/m{id}/pid && disown")
      ;;
    *)
      echo "compat.sh: unknown target $target (zkserver, apache, ensemble, apache-ensemble)" >&2
      exit 2
      ;;
  esac
fi

status=0
if [ -z "$only" ] || [ "$only" = zkcli ]; then
  # Every zkCli.sh command is a new session: on an ensemble, keep them on
  # one member, or a read could land on a member that has not applied the
  # previous command's write yet (ZooKeeper orders reads per session only).
  zkcli_args=(--server "${server%%,*}")
  case "$server" in *,*) zkcli_args+=(--ensemble) ;; esac
  echo "compat: zkCli.sh against ${server%%,*}"
  "$PY" compat/zkcli_compat.py "${zkcli_args[@]}" --zkcli "$ZKCLI" || status=1
fi
if [ -z "$only" ] || [ "$only" = kazoo ]; then
  echo "compat: kazoo against $server"
  "$PY" compat/kazoo_compat.py --server "$server" "${kazoo_args[@]}" || status=1
fi
if [ -n "$ZK_PID" ] && ! kill -0 "$ZK_PID" 2>/dev/null; then
  echo "compat: the server died during the run" >&2
  status=1
fi
if [ "$status" != 0 ] && [ -n "$tmp" ]; then
  for f in "$tmp"/server.log "$tmp"/m*/server.log "$tmp"/ensemble/server*/*.log; do
    [ -f "$f" ] || continue
    echo "--- last lines of $f ---" >&2
    tail -20 "$f" >&2 || true
  done
fi
if [ "$status" = 0 ]; then echo "compat: PASS ($target)"; else echo "compat: FAIL ($target)" >&2; fi
exit "$status"
