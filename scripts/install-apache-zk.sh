#!/usr/bin/env bash
# Installs Apache ZooKeeper 3.8 (Debian package `zookeeper`) and, unless
# --no-kazoo is given, python3-kazoo, each only when missing; with
# --c-client also Debian's `zookeeper-bin` (the C client's cli_mt, in
# /usr/lib/zookeeper/bin); with --curator also Apache Curator 5.4
# (`libcurator-recipes-java`, jars in /usr/share/java). Idempotent: with
# everything present it runs no apt-get at all.
set -euo pipefail

kazoo=1
cclient=0
curator=0
for a in "$@"; do
  case "$a" in
    --no-kazoo) kazoo=0 ;;
    --c-client) cclient=1 ;;
    --curator) curator=1 ;;
    -h|--help) echo "usage: $0 [--no-kazoo] [--c-client] [--curator]"; exit 0 ;;
    *) echo "install-apache-zk.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done

# python3-kazoo installs into the system Python; a python3 earlier in PATH
# (pyenv, venv) would not see it.
py=/usr/bin/python3
[ -x "$py" ] || py=python3

want=()
if [ ! -x /usr/share/zookeeper/bin/zkCli.sh ] || [ ! -x /usr/share/zookeeper/bin/zkServer.sh ] || ! command -v java >/dev/null; then
  want+=(zookeeper)
fi
if [ "$kazoo" = 1 ] && ! "$py" -c 'import kazoo' >/dev/null 2>&1; then
  want+=(python3-kazoo)
fi
if [ "$cclient" = 1 ] && [ ! -x /usr/lib/zookeeper/bin/cli_mt ]; then
  want+=(zookeeper-bin)
fi
if [ "$curator" = 1 ] && [ ! -f /usr/share/java/curator-recipes.jar ]; then
  want+=(libcurator-recipes-java)
fi
if [ "${#want[@]}" = 0 ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  echo "install-apache-zk.sh: need ${want[*]} but this machine has no apt-get; install Apache ZooKeeper 3.8 (zkCli.sh, zkServer.sh under /usr/share/zookeeper/bin) and kazoo by hand" >&2
  exit 1
fi
sudo=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null; then
    sudo=(sudo)
  else
    echo "install-apache-zk.sh: need root (or sudo) to install ${want[*]}" >&2
    exit 1
  fi
fi
echo "install-apache-zk.sh: installing ${want[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${want[@]}" >&2
if [ ! -x /usr/share/zookeeper/bin/zkCli.sh ]; then
  echo "install-apache-zk.sh: zookeeper installed but /usr/share/zookeeper/bin/zkCli.sh is missing" >&2
  exit 1
fi
if [ "$curator" = 1 ] && [ ! -f /usr/share/java/curator-recipes.jar ]; then
  echo "install-apache-zk.sh: libcurator-recipes-java installed but /usr/share/java/curator-recipes.jar is missing" >&2
  exit 1
fi
if [ "$cclient" = 1 ] && [ ! -x /usr/lib/zookeeper/bin/cli_mt ]; then
  echo "install-apache-zk.sh: zookeeper-bin installed but /usr/lib/zookeeper/bin/cli_mt is missing" >&2
  exit 1
fi
