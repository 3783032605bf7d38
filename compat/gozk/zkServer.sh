#!/bin/sh
# Stands in for Apache's bin/zkServer.sh in go-zookeeper's test harness
# (ZOOKEEPER_BIN_PATH): `zkServer.sh start-foreground CFG` runs zkserver on
# a copy of CFG with the harness's -Dzookeeper.* JVM flags (SERVER_JVMFLAGS:
# superDigest, extendedTypesEnabled, emulate353TTLNodes) appended as zoo.cfg
# keys. exec, so that the harness's kill reaches zkserver itself.
set -eu
if [ "${1:-}" != start-foreground ] || [ -z "${2:-}" ]; then
  echo "zkServer.sh (zkgo shim): usage: zkServer.sh start-foreground zoo.cfg" >&2
  exit 2
fi
cfg=$2
out=$cfg.zkgo
cp "$cfg" "$out"
for f in ${SERVER_JVMFLAGS:-}; do
  case "$f" in -Dzookeeper.*=*) echo "${f#-D}" >>"$out" ;; esac
done
exec "${ZKGO_ZKSERVER:?ZKGO_ZKSERVER must name the zkserver binary}" start-foreground "$out"
