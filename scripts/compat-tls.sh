#!/usr/bin/env bash
# compat-tls.sh: Apache ZooKeeper 3.8's own client (ZooKeeperMain, what
# zkCli.sh runs) over TLS against a server's secureClientPort, with PEM key
# and trust stores and client certificates (x509 scheme, superUser), plus a
# four-letter word over TLS (openssl s_client), with ssl.clientAuth need,
# want and none, and with JKS and PKCS12 stores made by keytool and openssl.
# Prints "N passed, N failed".
#
#   scripts/compat-tls.sh                   build zkserver, start it with TLS on free ports, test it
#   scripts/compat-tls.sh --target apache   the same against Apache ZooKeeper 3.8 (checks the expectations)
#
# Debian's zkCli.sh puts only zookeeper.jar on the class path, which lacks
# the Netty modules ClientCnxnSocketNetty needs; this script runs the same
# main class with Debian's netty jars added. Certificates are made with
# openssl in a temporary directory; the server is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

target=zkserver
while [ $# -gt 0 ]; do
  case "$1" in
    --target) target=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "compat-tls.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$target" in zkserver|apache) ;; *) echo "compat-tls.sh: --target zkserver or apache" >&2; exit 2 ;; esac

scripts/install-apache-zk.sh
if ! command -v openssl >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "compat-tls.sh: installing openssl"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q openssl >/dev/null
  else
    echo "compat-tls.sh: openssl is needed (apt-get install openssl)" >&2; exit 1
  fi
fi

tmp=$(mktemp -d /tmp/zkcompat-tls.XXXXXX)
ZK_PID=
cleanup() {
  zk_stop "$ZK_PID"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- certificates -------------------------------------------------------
cert() { # NAME SUBJECT EXTENSIONS [CA-PREFIX]
  local name=$1 subj=$2 ext=$3 ca=${4:-ca}
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/$name.key" \
    -out "$tmp/$name.csr" -subj "$subj" 2>/dev/null
  printf '%b' "$ext" >"$tmp/$name.ext"
  openssl x509 -req -in "$tmp/$name.csr" -CA "$tmp/$ca.pem" -CAkey "$tmp/$ca.key" -CAcreateserial \
    -out "$tmp/$name.crt" -days 1 -extfile "$tmp/$name.ext" 2>/dev/null
  # Apache's PEM key store: a PKCS#8 key and the certificate in one file.
  openssl pkcs8 -topk8 -nocrypt -in "$tmp/$name.key" -out "$tmp/$name.p8"
  cat "$tmp/$name.p8" "$tmp/$name.crt" >"$tmp/$name.pem"
}
for ca in ca rogue; do
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/$ca.key" \
    -out "$tmp/$ca.pem" -days 1 -subj "/CN=compat $ca" 2>/dev/null
done
cert server "/CN=localhost" 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n'
cert client "/C=DE/O=zkgo/CN=compat client" 'extendedKeyUsage=clientAuth\n'
cert admin "/CN=admin" 'extendedKeyUsage=clientAuth\n'
cert stranger "/C=DE/O=zkgo/CN=compat client" 'extendedKeyUsage=clientAuth\n' rogue
# The same keys in Java's stores, as operators have them: the server's as
# a JKS key store (keytool from openssl's PKCS12), the CA as a PKCS12 trust
# store (keytool -importcert), the client's as PKCS12, password in a file.
printf 'changeit\n' >"$tmp/pw"
for name in server client; do
  openssl pkcs12 -export -in "$tmp/$name.crt" -inkey "$tmp/$name.key" -name "$name" \
    -out "$tmp/$name.p12" -passout pass:changeit
done
keytool -importkeystore -srckeystore "$tmp/server.p12" -srcstoretype PKCS12 -srcstorepass changeit \
  -destkeystore "$tmp/server.jks" -deststoretype JKS -deststorepass changeit -destkeypass changeit -noprompt 2>/dev/null
keytool -importcert -noprompt -alias ca -file "$tmp/ca.pem" -keystore "$tmp/trust.p12" -storetype PKCS12 \
  -storepass changeit 2>/dev/null
# And a PEM key store whose key is encrypted, as Apache 3.8 on Java 17 can
# read it (PKCS#12's SHA-1 and 3DES; Java has no PBES2 SecretKeyFactory).
openssl pkcs8 -topk8 -v1 PBE-SHA1-3DES -in "$tmp/server.key" -passout pass:changeit -out "$tmp/server.enc"
cat "$tmp/server.enc" "$tmp/server.crt" >"$tmp/server-encrypted.pem"

# --- server -------------------------------------------------------------
port=$(zk_free_port)
sport=$(zk_free_port)
while [ "$sport" = "$port" ]; do sport=$(zk_free_port); done

# shellcheck disable=SC1091
CLASSPATH=$(. "$ZK_HOME/bin/zkEnv.sh" >/dev/null 2>&1; echo "$CLASSPATH")
NETTY=$(ls /usr/share/java/netty-*.jar | grep -v -- '-[0-9][0-9.]*Final\.jar$' | tr '\n' ':')
CP="$CLASSPATH:$NETTY"

if [ "$target" = zkserver ]; then
  if [ ! -x bin/zkserver ] || [ -n "$(find cmd server internal -newer bin/zkserver -name '*.go' 2>/dev/null | head -1)" ]; then
    go build -o bin/zkserver ./cmd/zkserver
  fi
fi

# start_server CLIENTAUTH [java|encrypted|unified]: (re)start the server
# with ssl.clientAuth set so, with the PEM stores or, given "java", the JKS
# key store and the PKCS12 trust store (their types from their
# extensions), given "encrypted", the PEM key store with an encrypted key,
# given "unified", client.portUnification on.
start_server() {
  zk_stop "$ZK_PID"
  ZK_PID=
  local stores=("ssl.keyStore.location=$tmp/server.pem" "ssl.keyStore.type=PEM"
    "ssl.trustStore.location=$tmp/ca.pem" "ssl.trustStore.type=PEM")
  case "${2:-}" in
    java) stores=("ssl.keyStore.location=$tmp/server.jks" "ssl.keyStore.password=changeit"
      "ssl.trustStore.location=$tmp/trust.p12" "ssl.trustStore.passwordPath=$tmp/pw") ;;
    encrypted) stores[0]="ssl.keyStore.location=$tmp/server-encrypted.pem"
      stores+=("ssl.keyStore.password=changeit") ;;
    unified) stores+=("client.portUnification=true") ;;
  esac
  zk_write_cfg "$tmp" "$port" \
    "secureClientPort=$sport" \
    "secureClientPortAddress=127.0.0.1" \
    "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory" \
    "${stores[@]}" \
    "ssl.clientAuth=$1" \
    "X509AuthenticationProvider.superUser=CN=admin"
  case "$target" in
    zkserver)
      zk_start zkserver "$tmp"
      ;;
    apache)
      # zkServer.sh's class path lacks Netty's modules too: run its main class.
      java -cp "$CP" -Dzookeeper.log.dir="$tmp" org.apache.zookeeper.server.quorum.QuorumPeerMain "$tmp/zoo.cfg" \
        >"$tmp/server.log" 2>&1 </dev/null &
      ZK_PID=$!
      ;;
  esac
  echo "compat-tls: $target, ssl.clientAuth=$1, ${2:-pem} stores, plain 127.0.0.1:$port, TLS 127.0.0.1:$sport"
  if ! zk_wait_serving "127.0.0.1:$port" "$ZK_PID" 60; then
    tail -50 "$tmp/server.log" >&2 || true
    exit 1
  fi
}

# --- checks -------------------------------------------------------------
passed=0
failed=0
check() { # NAME EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    printf 'FAIL %s\n  want: %q\n  got:  %q\n' "$1" "$2" "$3"
  fi
}

# cli CERT ARGS...: ZooKeeperMain over TLS with CERT's key store ("" for
# none; "plain" for a plain connection to the plain port), output without
# the connection chatter.
cli() {
  local certname=$1 ms=${CLI_TIMEOUT:-15000}
  shift
  local flags=(-cp "$CP")
  local server=${CLI_SERVER:-127.0.0.1:$sport}
  if [ "$certname" = plain ]; then
    server=127.0.0.1:$port
  else
    flags+=(-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty -Dzookeeper.client.secure=true
      "-Dzookeeper.ssl.trustStore.location=$tmp/ca.pem" -Dzookeeper.ssl.trustStore.type=PEM)
    case "$certname" in
      "") ;;
      *.p12) flags+=("-Dzookeeper.ssl.keyStore.location=$tmp/$certname" -Dzookeeper.ssl.keyStore.password=changeit) ;;
      *) flags+=("-Dzookeeper.ssl.keyStore.location=$tmp/$certname.pem" -Dzookeeper.ssl.keyStore.type=PEM) ;;
    esac
  fi
  timeout 60 java "${flags[@]}" org.apache.zookeeper.ZooKeeperMain -server "$server" -timeout "$ms" "$@" 2>&1 |
    grep -v -e '^SLF4J' -e '^Connecting to' -e '^WATCHER::' -e '^WatchedEvent state:SyncConnected' -e '^$' || true
}

start_server need
check "create over TLS" "Created /tls" "$(cli client create /tls hello)"
check "get over TLS" "hello" "$(cli client get /tls)"
check "whoami: the certificate is an x509 id" "Auth scheme: User
x509: CN=compat client,O=zkgo,C=DE
ip: 127.0.0.1" "$(cli client whoami)"
check "create with the auth scheme" "Created /mine" "$(cli client create /mine mine auth::cdrwa)"
check "the auth scheme expands to the x509 id" "'x509,'CN=compat client%2CO=zkgo%2CC=DE
: cdrwa" "$(cli client getAcl /mine)"
check "an x509 ACL naming another DN" "Created /adm" "$(cli client create /adm adm x509:CN=admin:cdrwa)"
check "x509 ACL denies" "Insufficient permission : /adm" "$(cli client get /adm)"
check "x509 ACL grants" "adm" "$(cli admin get /adm)"
check "superUser DN is super" "mine" "$(cli admin get /mine)"
check "whoami of the super user" "Auth scheme: User
super: 
x509: CN=admin
ip: 127.0.0.1" "$(cli admin whoami)"
check "plain client on the plain port, same tree" "hello" "$(cli plain get /tls)"
check "plain client and an x509 ACL" "Insufficient permission : /mine" "$(cli plain get /mine)"
check "ssl.clientAuth=need refuses a client without a certificate" "KeeperErrorCode = ConnectionLoss for /tls" "$(CLI_TIMEOUT=5000 cli "" get /tls)"
check "a certificate of another CA is refused" "KeeperErrorCode = ConnectionLoss for /tls" "$(CLI_TIMEOUT=5000 cli stranger get /tls)"
check "ruok over TLS" "imok" "$(printf ruok | timeout 10 openssl s_client -connect "127.0.0.1:$sport" -CAfile "$tmp/ca.pem" \
  -cert "$tmp/client.crt" -key "$tmp/client.key" -quiet 2>/dev/null || true)"

start_server want
check "clientAuth=want: no certificate is fine" "hello" "$(cli "" get /tls)"
check "clientAuth=want: no certificate, no x509 id" "Auth scheme: User
ip: 127.0.0.1" "$(cli "" whoami)"
check "clientAuth=want: a certificate still authenticates" "mine" "$(cli client get /mine)"
# The client's key manager offers no certificate the server's CA list
# does not name, so a foreign certificate makes an anonymous client.
check "clientAuth=want: a certificate of another CA is not sent" "Auth scheme: User
ip: 127.0.0.1" "$(cli stranger whoami)"

start_server none
check "clientAuth=none: the certificate is not asked for" "Auth scheme: User
ip: 127.0.0.1" "$(cli client whoami)"

start_server need java
check "JKS key store, PKCS12 trust store: get over TLS" "hello" "$(cli client.p12 get /tls)"
check "JKS key store, PKCS12 trust store: the certificate is an x509 id" "Auth scheme: User
x509: CN=compat client,O=zkgo,C=DE
ip: 127.0.0.1" "$(cli client.p12 whoami)"
check "JKS key store, PKCS12 trust store: a certificate of another CA is refused" \
  "KeeperErrorCode = ConnectionLoss for /tls" "$(CLI_TIMEOUT=5000 cli stranger get /tls)"

start_server need encrypted
check "PEM key store with an encrypted key: get over TLS" "hello" "$(cli client get /tls)"

start_server need unified
check "client.portUnification: TLS on the plain port" "x509: CN=compat client,O=zkgo,C=DE" \
  "$(CLI_SERVER=127.0.0.1:$port cli client whoami | grep x509)"
check "client.portUnification: plain on the plain port" "hello" "$(cli plain get /tls)"

echo "compat-tls ($target): $passed passed, $failed failed"
[ "$failed" -eq 0 ]
