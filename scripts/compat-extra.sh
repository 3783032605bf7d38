#!/usr/bin/env bash
# make compat, after compat.sh: more real clients against zkserver.
#
#   scripts/compat-extra.sh                  every suite against zkserver (standalone and a 3-member ensemble)
#   scripts/compat-extra.sh --target apache  the suites themselves against Apache ZooKeeper 3.8
#   scripts/compat-extra.sh --only climt,recipes,curator,gozk,diff,sasl
#
# Suites:
#   climt    Apache's C client shell cli_mt (Debian's zookeeper-bin):
#            compat/climt_compat.py, standalone and ensemble; its transcript is
#            compared line by line with the one an Apache server gives.
#   recipes  kazoo's recipes with several clients: compat/kazoo_recipes.py,
#            standalone and ensemble.
#   gozk     github.com/go-zookeeper/zk v1.0.4's own test suite (its
#            integration tests start standalone servers and 3-node clusters
#            through zkServer.sh; compat/gozk/zkServer.sh runs zkserver).
#            GOZK_SKIP=<go test -skip pattern> leaves tests out.
#   curator  Apache Curator 5.4 (Debian's libcurator-recipes-java) on ZooKeeper's
#            Java client: compat/CuratorCompat.java, the framework (creates of
#            every mode, protection, orSetData, TTL, versions, watches including
#            persistent recursive ones, transactions, ACLs, namespaces, session
#            expiry, container reaping) and 16 recipes (locks, semaphore,
#            leader latch and selector, atomic long, shared count, barriers,
#            caches, persistent node, queue, group member), standalone and on
#            the ensemble, where it also SIGKILLs the leader (the session,
#            its ephemeral and its lock survive, and every acknowledged write).
#   sasl     SASL (DIGEST-MD5) logins of kazoo and of zkCli.sh (the Java
#            client, its JAAS file in CLIENT_JVMFLAGS): compat/sasl_compat.py
#            against a standalone server and a 3-member ensemble with a JAAS
#            Server section, the sasl ACL scheme and a superUser.
#   diff     test/differential: random operation sequences against Apache 3.8
#            and zkserver, every reply compared (DIFF_SEEDS, DIFF_STEPS);
#            standalone, then ensembles of 3 voters (a client on each) and
#            of 3 voters and an observer (a client on the observer); the
#            keys of mntr, conf and srvr on each role of such ensembles;
#            local sessions; and ServerMetrics values (watchers fired per
#            event, connect requests, update latencies) after one scenario.
#
# Prints "<suite>: N passed, N failed" per suite and exits 1 on any failure.
# Installs what it needs (zookeeper, zookeeper-bin, python3-kazoo) through
# scripts/install-apache-zk.sh. Servers run on free ports with temporary
# data directories and are stopped at the end whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
user_py=${PY:-}
. scripts/lib.sh

target=zkserver
only=climt,recipes,curator,gozk,diff,sasl
DIFF_SEEDS=${DIFF_SEEDS:-60}
DIFF_STEPS=${DIFF_STEPS:-200}
while [ $# -gt 0 ]; do
  case "$1" in
    --target) target=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set /{/^#/p}' "$0"; exit 0 ;;
    *) echo "compat-extra.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$target" in zkserver|apache) ;; *) echo "compat-extra.sh: --target zkserver or apache" >&2; exit 2 ;; esac
want() { case ",$only," in *",$1,"*) return 0 ;; esac; return 1; }

scripts/install-apache-zk.sh --c-client --curator
if [ -z "$user_py" ] && [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; fi
CLI_MT=${CLI_MT:-/usr/lib/zookeeper/bin/cli_mt}
# Curator and ZooKeeper's Java client, from Debian's packages.
CURATOR_CP=
for j in curator-client curator-framework curator-recipes zookeeper zookeeper-jute guava slf4j-api slf4j-nop; do
  CURATOR_CP=$CURATOR_CP${CURATOR_CP:+:}/usr/share/java/$j.jar
done
# How often the standalone servers look for empty containers (Apache reads
# it only as a JVM system property); the curator suite waits for them.
CONTAINER_CHECK_MS=500

tmp=$(mktemp -d /tmp/zkcompat-extra.XXXXXX)
std_pid=
ref_pid=
ens_dir=
cleanup() {
  zk_stop "$std_pid"
  zk_stop "$ref_pid"
  if [ -n "$ens_dir" ]; then
    bin/zk ensemble down --dir "$ens_dir" --purge >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$target" = zkserver ]; then
  if [ ! -x bin/zkserver ] || [ ! -x bin/zk ] || [ -n "$(find cmd server internal fourletter shell ensemble -newer bin/zkserver -name '*.go' 2>/dev/null | head -1)" ]; then
    echo "compat-extra: building bin/zkserver and bin/zk"
    go build -o bin/zkserver ./cmd/zkserver
    go build -o bin/zk ./cmd/zk
  fi
fi

summary=()
status=0
# report SUITE LOG: takes the log's last "N passed, N failed" line; prints
# the log when the suite failed or printed no such line.
report() {
  local suite=$1 log=$2 rc=$3 line
  line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$log" | tail -1 | sed -E 's/.*: ([0-9]+ passed, [0-9]+ failed.*)/\1/' || true)
  if [ -z "$line" ]; then line="0 passed, 1 failed (no result line; exit status $rc)"; fi
  summary+=("$suite: $line")
  if [ "$rc" != 0 ] || ! grep -qE ' 0 failed' <<<"$line"; then
    status=1
    echo "--- $suite failed; its output (last 60 lines of $log): ---"
    tail -60 "$log"
    echo "---"
  fi
}

# start_standalone KIND DIR: a standalone server on a free port; prints its address.
start_standalone() {
  local kind=$1 dir=$2 port
  port=$(zk_free_port)
  zk_write_cfg "$dir" "$port" extendedTypesEnabled=true "znode.container.checkIntervalMs=$CONTAINER_CHECK_MS"
  ZK_PID=
  SERVER_JVMFLAGS="-Dznode.container.checkIntervalMs=$CONTAINER_CHECK_MS" zk_start "$kind" "$dir"
  echo "$ZK_PID" >"$dir/pid"
  if ! zk_wait_serving "127.0.0.1:$port" "$ZK_PID" 90 >&2; then
    tail -30 "$dir/server.log" >&2
    return 1
  fi
  echo "127.0.0.1:$port"
}

# go-zookeeper's suite: it starts ~40 servers and 3-node clusters of its own.
run_gozk() {
  local mod dir bin log=$tmp/gozk.log zkbin=$PWD/bin/zkserver
  mod=$(go mod download -json github.com/go-zookeeper/zk@v1.0.4 | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  if [ -z "$mod" ] || [ ! -d "$mod" ]; then
    echo "compat-extra: go mod download github.com/go-zookeeper/zk@v1.0.4 gave no module directory" >"$log"
    return 1
  fi
  dir=$tmp/gozk/zk
  mkdir -p "$tmp/gozk"
  cp -r "$mod" "$dir"
  chmod -R u+w "$dir"
  cp compat/gozk/zz_zkgo_harness_test.go.txt "$dir/zz_zkgo_harness_test.go"
  sed -i 's/_, ok := FLWSrvr(serverAddrs, time.Second)/_, ok := zkgoServing(serverAddrs, time.Second)/' "$dir/server_help_test.go"
  if ! grep -q zkgoServing "$dir/server_help_test.go"; then
    echo "compat-extra: could not patch go-zookeeper's waitForStart (server_help_test.go changed?)" >&2
    return 1
  fi
  if [ "$target" = zkserver ]; then
    bin=$PWD/compat/gozk
  else
    bin=$ZK_HOME/bin
  fi
  # No exclusions: every test passes against Apache 3.8 and zkserver.
  # ZK_VERSION enables the two reconfig tests (they skip without it).
  # TestIntegration_IncrementalReconfig (remove the leader, then add a
  # server) once failed 5 runs in 12 against zkserver; fixed in zab, it
  # passed 25 of 25. GOZK_SKIP (a go test -skip pattern) can leave tests
  # out of a run.
  local skip=()
  [ -n "${GOZK_SKIP:-}" ] && skip=(-skip "$GOZK_SKIP")
  (cd "$dir" && ZK_VERSION=3.8.0 ZKGO_ZKSERVER=$zkbin ZOOKEEPER_BIN_PATH=$bin \
    go test -count=1 -timeout 600s -v "${skip[@]}" . >"$log" 2>&1)
}
gozk_result() {
  local log=$tmp/gozk.log rc=$1 pass fail skip integ
  pass=$(grep -c '^--- PASS' "$log" || true)
  fail=$(grep -c '^--- FAIL' "$log" || true)
  skip=$(grep -c '^--- SKIP' "$log" || true)
  integ=$(grep -c '^--- PASS: TestIntegration_' "$log" || true)
  if [ "$rc" != 0 ] && [ "$fail" = 0 ]; then fail=1; fi
  echo "gozk: $pass passed, $fail failed ($integ of them integration tests against $target servers, $skip skipped)" >"$tmp/gozk.summary"
  if [ "$fail" != 0 ]; then grep -E '^(--- FAIL|\s+\S+_test.go:[0-9]+: )' "$log" | grep -v ZKERR | tail -40 >>"$tmp/gozk.summary"; fi
  cat "$tmp/gozk.summary" >>"$log"
}
# It runs alone: its fail-over tests wait at most 4 s for each event, which
# a machine busy starting JVMs and ensembles does not always meet.
if want gozk; then
  echo "compat-extra: go-zookeeper v1.0.4's own tests against $target"
  rc=0
  run_gozk || rc=$?
  gozk_result "$rc"
  report "go-zookeeper" "$tmp/gozk.log" "$rc"
fi

std=
ref=
ens=
if want climt || want recipes || want curator; then
  mkdir -p "$tmp/std"
  std=$(start_standalone "$target" "$tmp/std")
  std_pid=$(cat "$tmp/std/pid")
  echo "compat-extra: $target standalone on $std"
  if [ "$target" = zkserver ]; then
    if want climt; then
      mkdir -p "$tmp/ref"
      ref=$(start_standalone apache "$tmp/ref")
      ref_pid=$(cat "$tmp/ref/pid")
      echo "compat-extra: Apache standalone on $ref (cli_mt's reference transcript)"
    fi
    ens_dir=$tmp/ensemble
    # One observer beside the 3 voters: client i of a suite talks to
    # member i mod 4, so some go through the observer.
    if ! zk_ensemble_up "$ens_dir" "$tmp/up.log" 1; then
      echo "compat-extra: zk ensemble up failed:" >&2; cat "$tmp/up.log" >&2; exit 1
    fi
    ens=$ZK_ENS
    echo "compat-extra: zkserver ensemble on $ens"
  fi
fi

if want climt; then
  ref_args=()
  [ -n "$ref" ] && ref_args=(--reference "$ref")
  rc=0; "$PY" compat/climt_compat.py --cli "$CLI_MT" --server "$std" "${ref_args[@]}" >"$tmp/climt.log" 2>&1 || rc=$?
  report "climt ($target standalone)" "$tmp/climt.log" "$rc"
  if [ -n "$ens" ]; then
    rc=0; "$PY" compat/climt_compat.py --cli "$CLI_MT" --server "$ens" "${ref_args[@]}" >"$tmp/climt-ens.log" 2>&1 || rc=$?
    report "climt (zkserver ensemble)" "$tmp/climt-ens.log" "$rc"
  fi
fi
if want recipes; then
  rc=0; "$PY" compat/kazoo_recipes.py --server "$std" >"$tmp/recipes.log" 2>&1 || rc=$?
  report "kazoo-recipes ($target standalone)" "$tmp/recipes.log" "$rc"
  if [ -n "$ens" ]; then
    rc=0; "$PY" compat/kazoo_recipes.py --server "$ens" >"$tmp/recipes-ens.log" 2>&1 || rc=$?
    report "kazoo-recipes (zkserver ensemble)" "$tmp/recipes-ens.log" "$rc"
  fi
fi
if want curator; then
  rc=0; java -cp "$CURATOR_CP" compat/CuratorCompat.java --server "$std" --container-check-ms "$CONTAINER_CHECK_MS" \
    >"$tmp/curator.log" 2>&1 || rc=$?
  report "curator ($target standalone)" "$tmp/curator.log" "$rc"
  if [ -n "$ens" ]; then
    # Last on the ensemble: it kills the leader (and starts it again).
    rc=0; java -cp "$CURATOR_CP" compat/CuratorCompat.java --server "$ens" --ensemble-dir "$ens_dir" --zk bin/zk \
      >"$tmp/curator-ens.log" 2>&1 || rc=$?
    report "curator (zkserver ensemble)" "$tmp/curator-ens.log" "$rc"
  fi
fi
# The clients are done with these servers: free the cores for the rest.
zk_stop "$std_pid"; std_pid=
zk_stop "$ref_pid"; ref_pid=
if [ -n "$ens_dir" ]; then bin/zk ensemble down --dir "$ens_dir" --purge >/dev/null 2>&1 || true; ens_dir=; fi

if want sasl; then
  # Apache reads the JAAS file's name only as a JVM property; zkserver as
  # a zoo.cfg key.
  sdir=$tmp/sasl
  mkdir -p "$sdir"
  cat >"$sdir/jaas.conf" <<'EOJ'
Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_super="adminsecret"
    user_bob="bobsecret";
};
QuorumServer {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_zkquorum="quorumsecret";
};
QuorumLearner {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    username="zkquorum"
    password="quorumsecret";
};
EOJ
  port=$(zk_free_port)
  keys=(authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider superUser=super)
  [ "$target" = zkserver ] && keys+=("java.security.auth.login.config=$sdir/jaas.conf")
  zk_write_cfg "$sdir" "$port" "${keys[@]}"
  ZK_PID=
  SERVER_JVMFLAGS="-Djava.security.auth.login.config=$sdir/jaas.conf" zk_start "$target" "$sdir"
  std_pid=$ZK_PID
  rc=0
  if zk_wait_serving "127.0.0.1:$port" "$ZK_PID" 90; then
    echo "compat-extra: SASL logins of kazoo and zkCli.sh against $target on 127.0.0.1:$port"
    "$PY" compat/sasl_compat.py --server "127.0.0.1:$port" --zkcli "$ZKCLI" --dir "$sdir" >"$tmp/sasl.log" 2>&1 || rc=$?
  else
    rc=1; tail -30 "$sdir/server.log" >"$tmp/sasl.log"
  fi
  report "sasl ($target standalone)" "$tmp/sasl.log" "$rc"
  zk_stop "$std_pid"; std_pid=
  if [ "$target" = zkserver ]; then
    # The same on a 3-member ensemble, each client on any member, whose
    # members log in to each other (quorum.auth.*, the JAAS file's
    # QuorumServer and QuorumLearner sections).
    ens_dir=$tmp/sasl-ensemble
    rc=0
    keys+=(quorum.auth.enableSasl=true quorum.auth.learnerRequireSasl=true quorum.auth.serverRequireSasl=true)
    if zk_ensemble_up "$ens_dir" "$tmp/sasl-up.log" 0 "${keys[@]/#/--set=}"; then
      echo "compat-extra: SASL logins against a zkserver ensemble on $ZK_ENS (members log in to each other)"
      "$PY" compat/sasl_compat.py --server "$ZK_ENS" --zkcli "$ZKCLI" --dir "$sdir" >"$tmp/sasl-ens.log" 2>&1 || rc=$?
      for m in "$ens_dir"/server*/zkserver.log; do
        if grep -q 'msg="member logged in".*user=zkquorum' "$m"; then
          echo "ok   $(basename "$(dirname "$m")") accepted a member's quorum login" >>"$tmp/sasl-ens.log"
        else
          echo "FAIL $(basename "$(dirname "$m")") logged no member's quorum login" >>"$tmp/sasl-ens.log"; rc=1
        fi
      done
    else
      rc=1; cat "$tmp/sasl-up.log" >"$tmp/sasl-ens.log"
    fi
    report "sasl (zkserver ensemble)" "$tmp/sasl-ens.log" "$rc"
    bin/zk ensemble down --dir "$ens_dir" --purge >/dev/null 2>&1 || true; ens_dir=
  fi
fi

if want diff && [ "$target" = zkserver ]; then
  echo "compat-extra: differential test, Apache 3.8 vs zkserver ($DIFF_SEEDS seeds x $DIFF_STEPS steps)"
  rc=0
  ZKGO_DIFF_APACHE=1 ZKGO_DIFF_SEEDS=$DIFF_SEEDS ZKGO_DIFF_STEPS=$DIFF_STEPS \
    go test -count=1 -timeout 20m -v -run '^TestDifferential$' ./test/differential/ >"$tmp/diff.log" 2>&1 || rc=$?
  report "differential" "$tmp/diff.log" "$rc"
  for kind in "Ensemble:3 voters" "Observer:3 voters and an observer"; do
    echo "compat-extra: differential test, ensembles of ${kind#*:}, Apache 3.8 vs zkserver ($DIFF_SEEDS seeds x $DIFF_STEPS steps)"
    rc=0
    ZKGO_DIFF_APACHE=1 ZKGO_DIFF_SEEDS=$DIFF_SEEDS ZKGO_DIFF_STEPS=$DIFF_STEPS \
      go test -count=1 -timeout 20m -v -run "^TestDifferential${kind%%:*}\$" ./test/differential/ >"$tmp/diff-${kind%%:*}.log" 2>&1 || rc=$?
    report "differential (${kind#*:})" "$tmp/diff-${kind%%:*}.log" "$rc"
  done
  echo "compat-extra: four-letter words of a leader, follower and observer, Apache 3.8 vs zkserver"
  rc=0
  ZKGO_DIFF_APACHE=1 go test -count=1 -timeout 5m -v -run '^TestFourLetterWordsByRole$' ./test/differential/ >"$tmp/4lw-roles.log" 2>&1 || rc=$?
  report "four-letter words by role" "$tmp/4lw-roles.log" "$rc"
  echo "compat-extra: local sessions on a follower, Apache 3.8 vs zkserver"
  rc=0
  ZKGO_DIFF_APACHE=1 go test -count=1 -timeout 5m -v -run '^TestLocalSessionsMatchApache$' ./test/differential/ >"$tmp/local-sessions.log" 2>&1 || rc=$?
  report "local sessions" "$tmp/local-sessions.log" "$rc"
  echo "compat-extra: ServerMetrics values after one scenario, Apache 3.8 vs zkserver"
  rc=0
  ZKGO_DIFF_APACHE=1 go test -count=1 -timeout 5m -v -run '^TestServerMetricsMatchApache$' ./test/differential/ >"$tmp/server-metrics.log" 2>&1 || rc=$?
  report "server metrics" "$tmp/server-metrics.log" "$rc"
fi


echo "compat-extra: summary ($target)"
for s in "${summary[@]}"; do echo "  $s"; done
if [ "$status" = 0 ]; then echo "compat-extra: PASS ($target)"; else echo "compat-extra: FAIL ($target)"; fi
exit "$status"
