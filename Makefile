# zkgo — `make run` builds, starts a local 3-member ensemble and opens the zk
# shell on it; `make test` runs every unit and integration test (no Apache,
# no network).
GO           ?= go
BIN          ?= bin
TEST_TIMEOUT ?= 15m
# Servers make compat checks: zkserver standalone and a 3-member zkserver
# ensemble (apache and apache-ensemble check the suite itself).
COMPAT_TARGETS ?= zkserver ensemble
# Arguments for scripts/bench.sh, e.g. make bench BENCH_ARGS="--duration 5s --quick".
BENCH_ARGS   ?=
# How long make fuzz runs each fuzz target, and how long make soak runs.
FUZZTIME     ?= 30s
DURATION     ?= 10m

.PHONY: all build run standalone test compat bench fuzz soak crash fmt lint vet clean

all: build

# Static binaries: no cgo (the pure-Go resolver), nothing to install beside them.
build:
	CGO_ENABLED=0 $(GO) build -o $(BIN)/zk ./cmd/zk
	CGO_ENABLED=0 $(GO) build -o $(BIN)/zkserver ./cmd/zkserver

# Starts (or reports, if it already runs) a 3-member local ensemble with
# `zk ensemble up` (client ports 2181-2183, files in $TMPDIR/zkgo-$USER/ensemble)
# and opens the zk shell on all members. The servers keep running after the
# shell exits: `bin/zk ensemble down` stops them. `make standalone` runs one
# zkserver in the foreground on the embedded default configuration instead.
run: build
	$(BIN)/zk ensemble up
	$(BIN)/zk -server "$$($(BIN)/zk ensemble connect-string)"

standalone: build
	$(BIN)/zkserver start-foreground

# Every package's tests; testsum prints a line per package, failed tests'
# output, skipped tests with their reasons and "N passed, N failed, N skipped".
test:
	$(GO) vet ./...
	$(GO) build -o $(BIN)/testsum ./internal/cmd/testsum
	bash -o pipefail -c '$(GO) test -json -count=1 -timeout $(TEST_TIMEOUT) ./... | $(BIN)/testsum'

# Apache's zkCli.sh and kazoo against zkserver, standalone and as an ensemble
# with a failover; then more real clients (compat-extra.sh: the C client,
# kazoo's recipes, go-zookeeper's own tests, SASL logins of kazoo and
# zkCli.sh, the differential test against Apache) and Apache's Java client
# over TLS. Installs the Debian packages it needs when missing.
compat: build
	@set -e; for t in $(COMPAT_TARGETS); do scripts/compat.sh --target $$t; done
	@if [ -x scripts/compat-extra.sh ]; then scripts/compat-extra.sh; fi
	scripts/compat-tls.sh
	@echo "compat: the integration suite's expectations against Apache ZooKeeper 3.8 itself"
	ZKGO_IT_APACHE=1 $(GO) test -count=1 -timeout 10m ./server/integration/

# zkserver against Apache ZooKeeper 3.8, same machine, same configuration;
# results in bench/results/.
bench: build
	scripts/bench.sh $(BENCH_ARGS)

# Every fuzz target for FUZZTIME each (make test runs only their corpora).
fuzz:
	scripts/fuzz.sh $(FUZZTIME)

# The kill -9 suites for CRASH_ROUNDS rounds each (make test runs a few):
# SIGKILL under load, aimed at snapshots being written and at log purges.
CRASH_ROUNDS ?= 200
crash:
	ZKGO_CRASH_ROUNDS=$(CRASH_ROUNDS) $(GO) test -count=1 -v -run Kill9 -timeout 60m ./test/crash/

# A zkserver ensemble under mixed load with member kills for DURATION.
soak: build
	scripts/soak.sh $(DURATION)

vet:
	$(GO) vet ./...

fmt:
	gofmt -w .

lint:
	@out=$$(gofmt -l .); \
	if [ -n "$$out" ]; then echo "gofmt -l: these files need gofmt (make fmt):"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf $(BIN)
