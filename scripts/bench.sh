#!/usr/bin/env bash
# make bench: zkserver against Apache ZooKeeper 3.8 on this machine, one
# after the other, same zoo.cfg and load; prints one table and writes
# bench/results/last.{json,svg,txt}, then measures this machine's latency
# floor (bench/cmd/echofloor) into bench/results/floor.txt. Arguments go to
# zkcompare, e.g.
#   scripts/bench.sh -quick
#   scripts/bench.sh -duration 10s -clients 1,8,32,64 -ensemble on
# (zkcompare -h lists them). The default run takes about 6 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-apache-zk.sh --no-kazoo
mkdir -p bin
# The binaries as `make build` makes them: static (CGO_ENABLED=0), which
# is what start-up and the one-shot CLI should be timed with.
CGO_ENABLED=0 go build -o bin/zk ./cmd/zk
CGO_ENABLED=0 go build -o bin/zkserver ./cmd/zkserver
go build -o bin/zkcompare ./bench/cmd/zkcompare
go build -o bin/echofloor ./bench/cmd/echofloor
bin/zkcompare "$@"

# What a server that does no work at all gets from the same load shape here:
# the floor under the p99 rows of a Go server on this machine.
out=bench/results prev=
for a in "$@"; do
	case "$a" in -out=*) out=${a#-out=} ;; esac
	[ "$prev" = -out ] && out=$a
	prev=$a
done
{
	echo "echofloor (an echo server and closed-loop clients, no ZooKeeper, no disk) — $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	bin/echofloor -clients 1,8,32
} | tee "$out/floor.txt"
