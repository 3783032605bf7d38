#!/usr/bin/env python3
"""Exercise a ZooKeeper server with kazoo (python3-kazoo) and check the results.

Usage: kazoo_compat.py --server 127.0.0.1:PORT

CRUD with versions and Stat, ephemerals, sequential znodes, one-shot watches,
the DataWatch and ChildrenWatch recipes, the Lock and Election recipes and
transactions (multi). Expected values are Apache ZooKeeper 3.8.0's answers
(the suite passes against it: scripts/compat.sh --target apache). Exit status
0 when every check passed, 1 otherwise; every failure says what differed.
"""

import argparse
import queue
import subprocess
import sys
import threading
import time
import traceback

from kazoo.client import KazooClient
from kazoo.exceptions import (BadVersionError, NoChildrenForEphemeralsError,
                              NodeExistsError, NoNodeError, NotEmptyError,
                              NoAuthError, RolledBackError, RuntimeInconsistency)
from kazoo.security import make_digest_acl

ROOT = "/kzcompat"
WAIT = 10.0  # seconds to wait for an asynchronous event

failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
    return cond


def equal(got, want, what):
    return check(got == want, "%s: got %r, want %r" % (what, got, want))


def raises(exc, fn, what):
    global checks
    checks += 1
    try:
        r = fn()
    except exc:
        return True
    except Exception as e:  # noqa: BLE001 - report whatever came instead
        failures.append("%s: raised %s(%s), want %s" % (what, type(e).__name__, e, exc.__name__))
        return False
    failures.append("%s: returned %r, want %s" % (what, r, exc.__name__))
    return False


def client(server):
    c = KazooClient(hosts=server, timeout=10.0)
    c.start(timeout=15)
    # On an ensemble a new session may land on a member that has not yet
    # applied what another session just wrote; sync catches it up, as
    # ZooKeeper prescribes for reads across clients.
    c.sync("/")
    return c


def crud(c):
    P = ROOT + "/a"
    equal(c.create(P, b"hello"), P, "create returns the path")
    raises(NodeExistsError, lambda: c.create(P, b"x"), "create of an existing znode")
    data, st = c.get(P)
    equal(data, b"hello", "get data")
    equal((st.version, st.cversion, st.aversion, st.dataLength, st.numChildren, st.ephemeralOwner),
          (0, 0, 0, 5, 0, 0), "stat of a new znode (version, cversion, aversion, dataLength, numChildren, ephemeralOwner)")
    check(st.czxid == st.mzxid == st.pzxid, "new znode: czxid %x, mzxid %x, pzxid %x, want all equal" % (st.czxid, st.mzxid, st.pzxid))
    _, parent = c.get(ROOT)
    equal((parent.pzxid, parent.cversion, parent.numChildren), (st.czxid, 1, 1),
          "parent after a child create (pzxid, cversion, numChildren)")
    st2 = c.set(P, b"world")
    equal((st2.version, st2.dataLength, st2.czxid), (1, 5, st.czxid), "set: version, dataLength, czxid")
    check(st2.mzxid > st.mzxid, "set advances mzxid (%x -> %x)" % (st.mzxid, st2.mzxid))
    raises(BadVersionError, lambda: c.set(P, b"x", version=0), "set with a stale version")
    equal(c.set(P, b"w2", version=1).version, 2, "set with the right version")
    equal(c.exists(ROOT + "/nope"), None, "exists of a missing znode")
    raises(NoNodeError, lambda: c.get(ROOT + "/nope"), "get of a missing znode")
    equal(c.get_children(ROOT), ["a"], "get_children")
    raises(NoNodeError, lambda: c.create(ROOT + "/q/r", b""), "create without its parent")
    c.create(ROOT + "/x/y/z", b"deep", makepath=True)
    equal(c.get(ROOT + "/x/y/z")[0], b"deep", "create with makepath")
    raises(NotEmptyError, lambda: c.delete(ROOT + "/x"), "delete of a znode with children")
    raises(BadVersionError, lambda: c.delete(P, version=7), "delete with a stale version")
    c.delete(ROOT + "/x", recursive=True)
    equal(c.exists(ROOT + "/x"), None, "recursive delete")
    raises(NoNodeError, lambda: c.delete(ROOT + "/x"), "delete of a missing znode")
    # A request frame may hold up to 1 MiB - 1 byte (jute.maxbuffer):
    # 1,000,000 bytes of data fit and read back whole.
    value = bytes(i % 251 for i in range(1000000))
    c.create(ROOT + "/big", value)
    check(c.get(ROOT + "/big")[0] == value, "a 1,000,000-byte value reads back whole")


def ephemerals(c, server):
    c2 = client(server)
    try:
        sid = c2.client_id[0]
        E = ROOT + "/eph"
        c2.create(E, b"e", ephemeral=True)
        c.sync(E)  # c's member may not have applied c2's create yet
        st = c.exists(E)
        check(st is not None and st.ephemeralOwner == sid,
              "ephemeralOwner: got %s, want session 0x%x" % (st and hex(st.ephemeralOwner), sid))
        raises(NoChildrenForEphemeralsError, lambda: c2.create(E + "/child", b""), "child of an ephemeral")
        deleted = threading.Event()
        c.exists(E, watch=lambda ev: ev.type == "DELETED" and deleted.set())
        c2.create(ROOT + "/es")
        seq = c2.create(ROOT + "/es/e-", b"", ephemeral=True, sequence=True)
        equal(seq, ROOT + "/es/e-0000000000", "ephemeral sequential name")
    finally:
        c2.stop()
        c2.close()
    # closeSession is a transaction: its ephemerals are gone once stop()
    # returns (on an ensemble, once c's member has caught up: sync).
    c.sync(ROOT)
    equal(c.exists(E), None, "ephemeral after its session closed")
    equal(c.exists(seq), None, "ephemeral sequential after its session closed")
    check(deleted.wait(WAIT), "exists watch on an ephemeral fires DELETED when its session closes")


def sequential(c):
    S = ROOT + "/seq"
    c.create(S)
    names = [c.create(S + "/n-", b"", sequence=True) for _ in range(3)]
    equal(names, [S + "/n-0000000000", S + "/n-0000000001", S + "/n-0000000002"], "sequential names")
    c.delete(names[1])
    equal(c.create(S + "/n-", b"", sequence=True), S + "/n-0000000003", "a delete does not reuse a sequence number")
    equal(c.create(S + "/m-", b"", sequence=True), S + "/m-0000000004", "the counter is per parent, not per prefix")
    equal(c.exists(S).cversion, 6, "parent cversion counts creates and deletes")
    equal(sorted(c.get_children(S)), ["m-0000000004", "n-0000000000", "n-0000000002", "n-0000000003"], "children")


def watches(c, server):
    c2 = client(server)
    try:
        W = ROOT + "/w"
        events = queue.Queue()
        c.exists(W, watch=events.put)
        c2.create(W, b"1")
        ev = events.get(timeout=WAIT)
        equal((ev.type, ev.path), ("CREATED", W), "exists watch on create")
        c.get(W, watch=events.put)
        c.get_children(W, watch=events.put)
        c2.set(W, b"2")
        ev = events.get(timeout=WAIT)
        equal((ev.type, ev.path), ("CHANGED", W), "data watch on set")
        c2.create(W + "/c", b"")
        ev = events.get(timeout=WAIT)
        equal((ev.type, ev.path), ("CHILD", W), "child watch on create")
        c2.set(W, b"3")
        time.sleep(0.3)  # a one-shot watch must not fire twice; give it a chance
        check(events.empty(), "one-shot watch fired again: %r" % (None if events.empty() else events.get()))
        # Both a data and an exists watch: one notification per znode change.
        c.get(W, watch=events.put)
        c.exists(W, watch=events.put)
        c2.set(W, b"4")
        ev = events.get(timeout=WAIT)
        equal(ev.type, "CHANGED", "data+exists watch")
        time.sleep(0.3)
        # kazoo registers one callback per path and kind, so it may call
        # both; what matters is that no second event arrives.
        extra = []
        while not events.empty():
            extra.append(events.get())
        check(all(e.type == "CHANGED" for e in extra), "unexpected extra events %r" % extra)
        c.get(W, watch=events.put)
        c2.delete(W, recursive=True)
        ev = events.get(timeout=WAIT)
        equal((ev.type, ev.path), ("DELETED", W), "data watch on delete")

        # DataWatch recipe: called with the current value, then on every change.
        D = ROOT + "/dw"
        seen = queue.Queue()
        c.DataWatch(D, lambda data, stat: seen.put((data, stat.version if stat else None)))
        equal(seen.get(timeout=WAIT), (None, None), "DataWatch initial call on a missing znode")
        c2.create(D, b"a")
        equal(seen.get(timeout=WAIT), (b"a", 0), "DataWatch after create")
        c2.set(D, b"b")
        equal(seen.get(timeout=WAIT), (b"b", 1), "DataWatch after set")
        c2.delete(D)
        equal(seen.get(timeout=WAIT), (None, None), "DataWatch after delete")

        # ChildrenWatch recipe.
        C = ROOT + "/cw"
        c.create(C)
        kids = queue.Queue()
        c.ChildrenWatch(C, lambda ch: kids.put(sorted(ch)))
        equal(kids.get(timeout=WAIT), [], "ChildrenWatch initial call")
        c2.create(C + "/x")
        equal(kids.get(timeout=WAIT), ["x"], "ChildrenWatch after a create")
        c2.create(C + "/y")
        equal(kids.get(timeout=WAIT), ["x", "y"], "ChildrenWatch after a second create")
        c2.delete(C + "/x")
        equal(kids.get(timeout=WAIT), ["y"], "ChildrenWatch after a delete")
    except queue.Empty:
        failures.append("watches: an expected event did not arrive within %.0fs:\n%s" % (WAIT, traceback.format_exc()))
    finally:
        c2.stop()
        c2.close()


def lock(c, server):
    c2 = client(server)
    try:
        L = ROOT + "/lock"
        l1 = c.Lock(L, "one")
        l2 = c2.Lock(L, "two")
        check(l1.acquire(timeout=WAIT), "first client takes the lock")
        equal(l2.acquire(blocking=False), False, "second client cannot take a held lock")
        got = threading.Event()

        def waiter():
            # Its clock starts before the contenders loop below, which may
            # take WAIT itself.
            if l2.acquire(timeout=2 * WAIT):
                got.set()

        t = threading.Thread(target=waiter)
        t.start()
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and len(l1.contenders()) < 2:
            time.sleep(0.02)
        equal(l1.contenders(), ["one", "two"], "lock contenders in order")
        check(not got.is_set(), "the waiter must not hold the lock before it is released")
        l1.release()
        t.join(2 * WAIT + 1)
        check(got.is_set(), "the waiter gets the lock once it is released")
        l2.release()
        c.sync(L)
        equal(c.get_children(L), [], "no lock znodes left after release")
    finally:
        c2.stop()
        c2.close()


def election(c, server):
    c2 = client(server)
    try:
        P = ROOT + "/election"
        e1 = c.Election(P, "one")
        e2 = c2.Election(P, "two")
        leader = queue.Queue()
        stop1, stop2 = threading.Event(), threading.Event()
        t1 = threading.Thread(target=e1.run, args=(lambda: (leader.put("one"), stop1.wait(WAIT * 3)),))
        t1.start()
        equal(leader.get(timeout=WAIT), "one", "first candidate is elected")
        t2 = threading.Thread(target=e2.run, args=(lambda: (leader.put("two"), stop2.wait(WAIT * 3)),))
        t2.start()
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and len(e1.contenders()) < 2:
            time.sleep(0.02)
        equal(e1.contenders(), ["one", "two"], "election contenders, leader first")
        check(leader.empty(), "second candidate must wait while the first leads")
        stop1.set()  # the first leader abdicates
        equal(leader.get(timeout=WAIT), "two", "second candidate elected after the first abdicates")
        stop2.set()
        t1.join(WAIT)
        t2.join(WAIT)
    except queue.Empty:
        failures.append("election: no leader within %.0fs" % WAIT)
    finally:
        c2.stop()
        c2.close()


def transactions(c):
    T = ROOT + "/txn"
    c.create(T, b"v0")
    t = c.transaction()
    t.create(T + "/1", b"x")
    t.create(T + "/2")
    t.check(T, 0)
    t.set_data(T, b"v1")
    res = t.commit()
    equal(res[:3], [T + "/1", T + "/2", True], "multi results: create paths and check")
    check(hasattr(res[3], "version") and res[3].version == 1, "multi set_data result is the new stat, got %r" % (res[3],))
    s1, s2 = c.exists(T + "/1"), c.exists(T + "/2")
    equal(s1.czxid, s2.czxid, "every op of a multi has one zxid")
    equal(c.exists(T).mzxid, s1.czxid, "the set in the multi has the same zxid")

    t = c.transaction()
    t.create(T + "/3")
    t.check(T, 99)
    t.delete(T + "/1")
    res = t.commit()
    equal([type(r) for r in res], [RolledBackError, BadVersionError, RuntimeInconsistency],
          "failed multi: per-op results")
    equal(c.exists(T + "/3"), None, "nothing of a failed multi is applied (create)")
    check(c.exists(T + "/1") is not None, "nothing of a failed multi is applied (delete)")
    equal(c.transaction().commit(), [], "an empty multi succeeds")


def acls(c, server):
    A = ROOT + "/acl"
    acl = make_digest_acl("user", "pass", all=True)
    c.create(A, b"secret", acl=[acl])
    raises(NoAuthError, lambda: c.get(A), "get without auth")
    c2 = KazooClient(hosts=server, timeout=10.0, auth_data=[("digest", "user:pass")])
    c2.start(timeout=15)
    c2.sync("/")
    try:
        equal(c2.get(A)[0], b"secret", "get with digest auth")
        acls_, _ = c2.get_acls(A)
        equal([(a.id.scheme, a.id.id, a.perms) for a in acls_], [("digest", acl.id.id, 31)], "getACL")
    finally:
        c2.stop()
        c2.close()
    c.add_auth("digest", "user:pass")
    equal(c.get(A)[0], b"secret", "get after add_auth")


def failover(c, server, kill_cmd, start_cmd, base_port):
    """Kill the member c is connected to: the session, its ephemeral and its
    watches must survive on another member (Apache: the client reconnects
    with its session id and password and re-registers watches)."""
    sid = c.client_id[0]
    E, D = ROOT + "/fo-eph", ROOT + "/fo-data"
    c.create(E, b"", ephemeral=True)
    c.create(D, b"0")
    # kazoo 2.8 hands one-shot watches a NONE event when the connection
    # drops (it does not re-register them); the DataWatch recipe sets its
    # watch again once reconnected, which is what applications rely on.
    seen_data = queue.Queue()
    c.DataWatch(D, lambda data, stat: seen_data.put(data))
    equal(seen_data.get(timeout=WAIT), b"0", "DataWatch before the failover")
    port = c._connection._socket.getpeername()[1]
    member = port - base_port + 1
    states = queue.Queue()
    c.add_listener(states.put)
    subprocess.run(kill_cmd.format(id=member, port=port), shell=True, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if c.connected and c._connection._socket is not None and \
                        c._connection._socket.getpeername()[1] != port:
                    break
            except OSError:
                pass  # the socket closed between the test and getpeername
            time.sleep(0.05)
        check(c.connected, "client reconnected to another member within 30 s after member %d was killed" % member)
        equal(c.client_id[0], sid, "session id after failover")
        check(c.exists(E) is not None, "the session's ephemeral survives the failover")
        c2 = client(server)
        try:
            c2.set(D, b"1")
        finally:
            c2.stop()
            c2.close()
        deadline = time.monotonic() + WAIT
        got = None
        while time.monotonic() < deadline and got != b"1":
            try:
                got = seen_data.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
        equal(got, b"1", "DataWatch sees a change made after the failover")
        equal(c.get(D)[0], b"1", "read after failover")
        seen = []
        while not states.empty():
            seen.append(states.get())
        check("LOST" not in seen, "session LOST during failover (states %r)" % seen)
    finally:
        if start_cmd:
            subprocess.run(start_cmd.format(id=member, port=port), shell=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", required=True)
    ap.add_argument("--failover-kill", help="shell command killing member {id} (client port {port})")
    ap.add_argument("--failover-start", help="shell command starting member {id} again")
    ap.add_argument("--base-port", type=int, default=0, help="client port of member 1 (member N is base+N-1)")
    a = ap.parse_args()
    c = client(a.server)
    try:
        if c.exists(ROOT):
            c.delete(ROOT, recursive=True)
        c.create(ROOT)
        for name, fn in [("crud", lambda: crud(c)), ("ephemerals", lambda: ephemerals(c, a.server)),
                         ("sequential", lambda: sequential(c)), ("watches", lambda: watches(c, a.server)),
                         ("lock", lambda: lock(c, a.server)), ("election", lambda: election(c, a.server)),
                         ("transactions", lambda: transactions(c)), ("acls", lambda: acls(c, a.server))] + (
                            [("failover", lambda: failover(c, a.server, a.failover_kill, a.failover_start, a.base_port))]
                            if a.failover_kill else []):
            before = len(failures)
            try:
                fn()
            except Exception:  # noqa: BLE001 - an unexpected error is a failure of that part
                failures.append("%s: unexpected exception:\n%s" % (name, traceback.format_exc()))
            print("kazoo compat: %-12s %s" % (name, "ok" if len(failures) == before else "FAIL"))
        c.delete(ROOT, recursive=True)
    finally:
        c.stop()
        c.close()
    for f in failures:
        print("FAIL " + f, file=sys.stderr)
    print("kazoo compat: %d checks, %d failed" % (checks, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
