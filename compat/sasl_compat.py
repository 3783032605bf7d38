#!/usr/bin/env python3
"""SASL (DIGEST-MD5) logins of real clients: kazoo (python3-kazoo with
pure-sasl) and Apache's zkCli.sh (ZooKeeper's Java client, its JAAS file
given in CLIENT_JVMFLAGS), against a server whose JAAS Server section has
the users bob (bobsecret) and super (adminsecret), with
authProvider.1=SASLAuthenticationProvider and superUser=super.

Usage: sasl_compat.py --server H:P --zkcli PATH --dir DIR

DIR receives the clients' JAAS files. The expectations are Apache 3.8's:
scripts/compat-extra.sh --target apache runs the script against it.
Prints "sasl: N passed, N failed"; exit status 1 on any failure.
"""

import argparse
import os
import subprocess
import sys
import time
import traceback

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import ConnectionClosedError, NoAuthError
from kazoo.security import make_acl

failures = []
checks = 0
NODE = "/sasl-compat"


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
    return cond


def kazoo(server, user=None, password=None):
    opts = None
    if user is not None:
        opts = {"mechanism": "DIGEST-MD5", "username": user, "password": password}
    return KazooClient(hosts=server, sasl_options=opts, timeout=10)


def kazoo_checks(server):
    su = kazoo(server, "super", "adminsecret")
    su.start(timeout=15)
    try:
        if su.exists(NODE):  # left by an earlier run on this server
            su.delete(NODE)
    finally:
        su.stop()
        su.close()

    bob = kazoo(server, "bob", "bobsecret")
    bob.start(timeout=15)
    try:
        bob.create(NODE, b"secret data", acl=[make_acl("sasl", "bob", all=True)])
        check(bob.get(NODE)[0] == b"secret data", "kazoo: bob reads his node")
        acl, _ = bob.get_acls(NODE)
        check(len(acl) == 1 and acl[0].id.scheme == "sasl" and acl[0].id.id == "bob",
              "kazoo: the node's ACL is sasl:bob, got %r" % (acl,))
    finally:
        bob.stop()
        bob.close()

    anon = kazoo(server)
    anon.start(timeout=15)
    try:
        try:
            anon.get(NODE)
            check(False, "kazoo: an anonymous client read bob's node")
        except NoAuthError:
            check(True, "")
    finally:
        anon.stop()
        anon.close()

    # A wrong password: the server answers AUTHFAILED and drops the
    # connection. kazoo has reported CONNECTED before its login; it then
    # reports the session LOST, closes, and every call fails.
    bad = kazoo(server, "bob", "wrong")
    states = []
    bad.add_listener(states.append)
    try:
        bad.start(timeout=5)
    except Exception:
        pass
    deadline = time.time() + 15
    while KazooState.LOST not in states and time.time() < deadline:
        time.sleep(0.02)
    check(KazooState.LOST in states and not bad.connected,
          "kazoo: a wrong password: states %r, connected %r" % (states, bad.connected))
    try:
        bad.exists("/")
        check(False, "kazoo: a client with a wrong password could call exists")
    except ConnectionClosedError:
        check(True, "")
    try:
        bad.stop()
        bad.close()
    except Exception:
        pass

    su = kazoo(server, "super", "adminsecret")
    su.start(timeout=15)
    try:
        check(su.get(NODE)[0] == b"secret data", "kazoo: superUser reads bob's node")
    finally:
        su.stop()
        su.close()


def zkcli(zkcli_path, server, jaas, *cmd):
    env = dict(os.environ)
    env["CLIENT_JVMFLAGS"] = "-Djava.security.auth.login.config=" + jaas
    out = subprocess.run([zkcli_path, "-server", server] + list(cmd), env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    return out.stdout.decode("utf-8", "replace")


def jaas_file(path, user, password):
    with open(path, "w") as f:
        f.write('Client {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n'
                '  username="%s"\n  password="%s";\n};\n' % (user, password))
    return path


def zkcli_checks(zkcli_path, server, d):
    good = jaas_file(os.path.join(d, "bob.conf"), "bob", "bobsecret")
    bad = jaas_file(os.path.join(d, "bad.conf"), "bob", "wrong")
    out = zkcli(zkcli_path, server, good, "whoami")
    check("state:SaslAuthenticated" in out, "zkCli.sh: no SaslAuthenticated event:\n" + out[-800:])
    check("\nsasl: bob\n" in out, "zkCli.sh whoami does not show sasl: bob:\n" + out[-800:])
    out = zkcli(zkcli_path, server, good, "get", NODE)
    check("\nsecret data\n" in out, "zkCli.sh as bob cannot read the node:\n" + out[-800:])
    out = zkcli(zkcli_path, server, bad, "whoami")
    check("state:AuthFailed" in out, "zkCli.sh with a wrong password: no AuthFailed event:\n" + out[-800:])
    check("sasl: bob" not in out, "zkCli.sh with a wrong password is sasl: bob:\n" + out[-800:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--zkcli", required=True)
    ap.add_argument("--dir", required=True)
    a = ap.parse_args()
    for name, f in (("kazoo", lambda: kazoo_checks(a.server)),
                    ("zkCli.sh", lambda: zkcli_checks(a.zkcli, a.server, a.dir))):
        try:
            f()
        except Exception:
            failures.append("%s raised %s" % (name, traceback.format_exc()))
    for f in failures:
        print("FAIL:", f)
    print("sasl: %d passed, %d failed" % (checks - len([f for f in failures if " raised " not in f]), len(failures)))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
