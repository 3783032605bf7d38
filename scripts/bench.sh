#!/usr/bin/env bash
# make bench: zkserver against Apache ZooKeeper 3.8 on this machine, one
# after the other, same zoo.cfg and load; prints one table and writes
# bench/results/last.{json,svg,txt}. Arguments go to zkcompare, e.g.
#   scripts/bench.sh -quick
#   scripts/bench.sh -duration 10s -clients 1,8,32,64 -ensemble on
# (zkcompare -h lists them). The default run takes about 6 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-apache-zk.sh --no-kazoo
mkdir -p bin
go build -o bin/zk ./cmd/zk
go build -o bin/zkserver ./cmd/zkserver
go build -o bin/zkcompare ./bench/cmd/zkcompare
exec bin/zkcompare "$@"
