# shellcheck shell=bash
# Helpers shared by the compat and bench scripts: free ports, a zkserver
# ensemble, zoo.cfg files, starting Apache ZooKeeper or zkserver in the
# foreground of a background job, waiting until a server serves, stopping it.

ZK_HOME=${ZK_HOME:-/usr/share/zookeeper}
ZKCLI=${ZKCLI:-$ZK_HOME/bin/zkCli.sh}
ZKSERVER_SH=${ZKSERVER_SH:-$ZK_HOME/bin/zkServer.sh}
# python3-kazoo lives in the system Python.
PY=${PY:-/usr/bin/python3}
[ -x "$PY" ] || PY=python3

# zk_free_port prints a TCP port free on 127.0.0.1 at this moment.
zk_free_port() {
  # Below the kernel's ephemeral range (32768 and up), where no client
  # connection's own port can take it before the server binds it.
  "$PY" -c '
import random, socket
for _ in range(1000):
    p = random.randint(20000, 32767)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
else:
    raise SystemExit("no free port in 20000-32767")
'
}

# zk_ensemble_up DIR LOG [OBSERVERS [ARGS...]] starts a zkserver ensemble of
# 3 voting members (and OBSERVERS observers, default 0) with `bin/zk ensemble
# up` in DIR (ARGS go to it too: --set KEY=VALUE), trying up to three base ports (one may be taken between
# choosing it and binding it); it sets ZK_ENS_BASE to the base port used
# and ZK_ENS to the connect string (voters first, then observers). On
# failure LOG holds the last attempt's output and it returns 1.
zk_ensemble_up() {
  local dir=$1 log=$2 observers=${3:-0}
  shift 3 || shift $#
  for _ in 1 2 3; do
    ZK_ENS_BASE=$(zk_free_port)
    if bin/zk ensemble up -n 3 --observers "$observers" --base-port "$ZK_ENS_BASE" --dir "$dir" "$@" >"$log" 2>&1; then
      ZK_ENS=$(bin/zk ensemble connect-string --dir "$dir")
      return 0
    fi
    bin/zk ensemble down --dir "$dir" --purge >/dev/null 2>&1 || true
  done
  return 1
}

# zk_write_cfg DIR PORT [KEY=VALUE...] writes DIR/zoo.cfg for a standalone
# server on 127.0.0.1:PORT with dataDir DIR/data; extra lines are appended.
zk_write_cfg() {
  local dir=$1 port=$2
  shift 2
  mkdir -p "$dir/data"
  {
    echo "tickTime=2000"
    echo "dataDir=$dir/data"
    echo "clientPort=$port"
    echo "clientPortAddress=127.0.0.1"
    echo "forceSync=yes"
    echo "admin.enableServer=false"
    echo "4lw.commands.whitelist=*"
    local kv
    for kv in "$@"; do echo "$kv"; done
  } >"$dir/zoo.cfg"
}

# zk_start KIND DIR [ZKSERVER_BIN] starts Apache ZooKeeper (KIND=apache,
# through Debian's zkServer.sh start-foreground, so with its JVM settings)
# or zkserver (KIND=zkserver) on DIR/zoo.cfg, output to DIR/server.log, and
# sets ZK_PID to the server's pid (zkServer.sh execs java, so it is the JVM).
zk_start() {
  local kind=$1 dir=$2 bin=${3:-bin/zkserver}
  case "$kind" in
    apache)
      # ZOO_LOG_DIR is fixed by Debian's zkEnv.sh; the server logs nothing
      # there anyway (slf4j NOP binder), so only stdout/stderr matter.
      "$ZKSERVER_SH" start-foreground "$dir/zoo.cfg" >"$dir/server.log" 2>&1 </dev/null &
      ;;
    zkserver)
      "$bin" start-foreground "$dir/zoo.cfg" >"$dir/server.log" 2>&1 </dev/null &
      ;;
    *)
      echo "zk_start: unknown kind $kind" >&2
      return 2
      ;;
  esac
  ZK_PID=$!
}

# zk_4lw ADDR WORD prints the server's answer to a four-letter word (empty
# when nobody answers).
zk_4lw() {
  local host=${1%:*} port=${1##*:} word=$2
  (
    exec 3<>"/dev/tcp/$host/$port" || exit 0
    printf '%s' "$word" >&3
    timeout 5 cat <&3
  ) 2>/dev/null || true
}

# zk_wait_serving ADDR PID SECONDS polls srvr until the server reports a
# Mode line; fails when PID dies or the time is up.
zk_wait_serving() {
  local addr=$1 pid=$2 secs=$3
  local deadline=$((SECONDS + secs))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "server (pid $pid) exited before serving" >&2
      return 1
    fi
    if zk_4lw "$addr" srvr | grep -q '^Mode: '; then
      return 0
    fi
    sleep 0.05
  done
  echo "server on $addr not serving after ${secs}s" >&2
  return 1
}

# zk_stop PID stops a server: SIGTERM, then SIGKILL after 10 s.
zk_stop() {
  local pid=$1 i
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# zk_stop_pid PID stops a server that is not a child of this shell.
zk_stop_pid() {
  local pid=$1 i
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
}
