#!/usr/bin/env bash
# make soak DURATION=10m: a 3-member ensemble of bin/zkserver processes
# under mixed load from go-zookeeper clients, a random member killed with
# SIGKILL now and then, for DURATION; then every acknowledged write is
# checked on every member. Prints a table of ops, errors, RSS and open fds
# per member as it goes, and "soak: N passed, N failed" at the end; exits
# non-zero on a lost write or unbounded RSS/fd growth.
#
#   scripts/soak.sh [DURATION] [soak flags...]   e.g. scripts/soak.sh 5m -clients 8 -seed 42
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10m}
shift || true
[ -x bin/zkserver ] || make build
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/soak" ./test/soak/cmd/soak
"$tmp/soak" -zkserver bin/zkserver -duration "$duration" "$@"
