#!/usr/bin/env python3
"""Run kazoo's recipes (python3-kazoo) with several clients against a server
and check what each recipe promises.

Usage: kazoo_recipes.py --server H:P[,H:P...]

Lock (mutual exclusion under contention, hand-over when the holder's
session closes), ReadLock/WriteLock, Semaphore, Election (exactly one
leader, fail-over when its session closes), Barrier and DoubleBarrier,
Queue and LockingQueue, Counter, Party and ShallowParty, transactions, and
the DataWatch/ChildrenWatch watchers. On an ensemble client i talks to
member i mod n, so every recipe works across members. Expected behaviour is
kazoo's documented one, which the script also passes against Apache
ZooKeeper 3.8 (scripts/compat-extra.sh --target apache). Prints
"kazoo-recipes: N passed, N failed"; exit status 1 on any failure.
"""

import argparse
import sys
import threading
import time
import traceback

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NoNodeError, RolledBackError, RuntimeInconsistency
from kazoo.recipe.barrier import Barrier, DoubleBarrier
from kazoo.recipe.counter import Counter
from kazoo.recipe.election import Election
from kazoo.recipe.lock import Lock, LockTimeout, ReadLock, Semaphore, WriteLock
from kazoo.recipe.party import Party, ShallowParty
from kazoo.recipe.queue import LockingQueue, Queue
from kazoo.recipe.watchers import ChildrenWatch, DataWatch

ROOT = "/kzrecipes"
WAIT = 15.0

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


def until(cond, timeout=WAIT):
    """Polls cond until it holds or the time is up; returns its last value."""
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v or time.time() >= deadline:
            return v
        time.sleep(0.02)


class Clients:
    def __init__(self, server):
        self.members = server.split(",")
        self.all = []

    def new(self, i):
        c = KazooClient(hosts=self.members[i % len(self.members)], timeout=10.0)
        c.start(timeout=15)
        c.sync("/")
        self.all.append(c)
        return c

    def close(self, c):
        try:
            c.stop()
            c.close()
        except Exception:  # noqa: BLE001 - closing twice is fine
            pass

    def close_all(self):
        for c in self.all:
            self.close(c)


def run_threads(fns):
    errs = []

    def wrap(fn):
        def run():
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - reported as a failure
                errs.append("%s: %s" % (type(e).__name__, e))
        return run
    ts = [threading.Thread(target=wrap(fn), daemon=True) for fn in fns]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    return errs + ["thread still running" for t in ts if t.is_alive()]


def t_lock(cl):
    P = ROOT + "/lock"
    c = [cl.new(i) for i in range(3)]
    l0, l1 = Lock(c[0], P, "one"), Lock(c[1], P, "two")
    check(l0.acquire(timeout=WAIT), "lock: first contender acquires")
    check(not l1.acquire(blocking=False), "lock: second contender cannot acquire while held")
    try:
        l1.acquire(timeout=0.3)
        check(False, "lock: acquire with timeout while held should raise LockTimeout")
    except LockTimeout:
        check(True, "")
    got = threading.Event()
    th = threading.Thread(target=lambda: (l1.acquire(timeout=WAIT) and got.set()), daemon=True)
    th.start()
    check(until(lambda: sorted(l0.contenders()) == ["one", "two"]),
          "lock: contenders while the second waits: %r" % (l0.contenders(),))
    check(not got.is_set(), "lock: waiter does not hold the lock while the first holds it")
    l0.release()
    check(got.wait(WAIT), "lock: waiter acquires after release")
    th.join(WAIT)
    # Hand-over when the holder's session closes.
    l2 = Lock(c[2], P, "three")
    got2 = threading.Event()
    th = threading.Thread(target=lambda: (l2.acquire(timeout=WAIT) and got2.set()), daemon=True)
    th.start()
    until(lambda: len(l1.contenders()) == 2)
    check(not got2.is_set(), "lock: third waits")
    cl.close(c[1])
    check(got2.wait(WAIT), "lock: waiter acquires when the holder's session closes")
    th.join(WAIT)
    l2.release()
    # Mutual exclusion under contention: read-modify-write of a shared
    # value inside the lock, from 3 clients x 2 threads.
    c[1] = cl.new(1)
    V = ROOT + "/lockval"
    c[0].create(V, b"0")
    inside = [0]
    overlap = [False]
    mu = threading.Lock()

    def worker(cli, name):
        lk = Lock(cli, P, name)
        for _ in range(8):
            with lk:
                with mu:
                    inside[0] += 1
                    if inside[0] > 1:
                        overlap[0] = True
                data, st = cli.get(V)
                cli.set(V, str(int(data) + 1).encode(), version=st.version)
                with mu:
                    inside[0] -= 1
    errs = run_threads([lambda i=i: worker(c[i % 3], "w%d" % i) for i in range(6)])
    equal(errs, [], "lock: contention workers raised")
    check(not overlap[0], "lock: two holders at once")
    c[0].sync(V)
    equal(c[0].get(V)[0], b"48", "lock: 6 workers x 8 guarded increments")


def t_rwlock(cl):
    P = ROOT + "/rw"
    c = [cl.new(i) for i in range(3)]
    r0, r1, w = ReadLock(c[0], P), ReadLock(c[1], P), WriteLock(c[2], P)
    check(r0.acquire(timeout=WAIT), "rwlock: first reader")
    check(r1.acquire(timeout=WAIT), "rwlock: second reader at the same time")
    check(not w.acquire(blocking=False), "rwlock: writer excluded by readers")
    r0.release()
    r1.release()
    check(w.acquire(timeout=WAIT), "rwlock: writer after the readers")
    check(not ReadLock(c[0], P).acquire(blocking=False), "rwlock: reader excluded by the writer")
    w.release()


def t_semaphore(cl):
    P = ROOT + "/sem"
    c = [cl.new(i) for i in range(3)]
    s = [Semaphore(c[i], P, "s%d" % i, max_leases=2) for i in range(3)]
    check(s[0].acquire(timeout=WAIT), "semaphore: first lease")
    check(s[1].acquire(timeout=WAIT), "semaphore: second lease")
    check(not s[2].acquire(blocking=False), "semaphore: third refused with max_leases=2")
    c[2].sync(P)  # reads see other sessions' writes after a sync (ensemble)
    equal(sorted(s[2].lease_holders()), ["s0", "s1"], "semaphore: lease holders")
    s[0].release()
    check(s[2].acquire(timeout=WAIT), "semaphore: third gets the freed lease")
    c[0].sync(P)
    equal(sorted(s[0].lease_holders()), ["s1", "s2"], "semaphore: holders after hand-over")
    s[1].release()
    s[2].release()


def t_election(cl):
    P = ROOT + "/election"
    c = [cl.new(i) for i in range(3)]
    leaders = []
    active = set()
    overlaps = []
    mu = threading.Lock()
    stop = {i: threading.Event() for i in range(3)}

    def lead(i):
        def fn():
            with mu:
                # Exactly one leader: every earlier leader still running
                # must have resigned or lost its session already.
                overlaps.extend((j, i) for j in active if not stop[j].is_set())
                leaders.append(i)
                active.add(i)
            # Lead until told to stop or the session goes.
            while not stop[i].is_set() and c[i].connected:
                time.sleep(0.02)
            with mu:
                active.discard(i)
        return fn
    els = [Election(c[i], P, "cand%d" % i) for i in range(3)]
    ts = []
    for i in range(3):
        t = threading.Thread(target=lambda i=i: _quiet(lambda: els[i].run(lead(i))), daemon=True)
        t.start()
        ts.append(t)
    check(until(lambda: len(leaders) == 1 and len(els[0].contenders()) == 3), "election: one leader, 3 contenders")
    equal(sorted(els[0].contenders()), ["cand0", "cand1", "cand2"], "election: contenders")
    first = leaders[0]
    # Fail-over: the leader's session closes.
    stop[first].set()
    cl.close(c[first])
    check(until(lambda: len(leaders) == 2), "election: a new leader after the leader's session closed")
    check(len(leaders) >= 2 and leaders[1] != first, "election: the new leader is another candidate: %r" % leaders)
    rest = [i for i in range(3) if i != first]
    check(until(lambda: sorted(els[rest[0]].contenders()) == sorted("cand%d" % i for i in rest)),
          "election: contenders after fail-over")
    second = leaders[1] if len(leaders) > 1 else None
    if second is not None:
        stop[second].set()  # resigns: returns from run, leadership moves on
        check(until(lambda: len(leaders) == 3), "election: the last candidate leads after the second resigns")
        equal(leaders[2] if len(leaders) > 2 else None, [i for i in rest if i != second][0], "election: third leader")
    for i in range(3):
        stop[i].set()
    for t in ts:
        t.join(WAIT)
    equal(overlaps, [], "election: (old, new) leaders at the same time")


def _quiet(fn):
    try:
        fn()
    except Exception:  # noqa: BLE001 - a candidate whose client was closed
        pass


def t_barrier(cl):
    P = ROOT + "/barrier"
    c = [cl.new(i) for i in range(3)]
    b0 = Barrier(c[0], P)
    b0.create()
    for x in c[1:]:
        x.sync(P)  # the barrier node reaches the other clients' members
    check(not Barrier(c[1], P).wait(timeout=0.3), "barrier: wait times out while the barrier stands")
    passed = []
    ts = [threading.Thread(target=lambda i=i: passed.append(Barrier(c[i], P).wait(timeout=WAIT)), daemon=True) for i in (1, 2)]
    for t in ts:
        t.start()
    until(lambda: False, timeout=0.2)  # both waiters set their watches (a short grace, not a timing assertion)
    equal(passed, [], "barrier: nobody passes before remove")
    b0.remove()
    for t in ts:
        t.join(WAIT)
    equal(passed, [True, True], "barrier: waiters pass after remove")
    check(Barrier(c[1], P).wait(timeout=1), "barrier: wait on a removed barrier returns at once")


def t_double_barrier(cl):
    P = ROOT + "/dbarrier"
    c = [cl.new(i) for i in range(3)]
    bs = [DoubleBarrier(c[i], P, 3, "m%d" % i) for i in range(3)]
    entered = []
    left = []
    mu = threading.Lock()
    # kazoo's enter() creates its member node before it watches "ready":
    # a member that entered and left at once could delete "ready" before a
    # slower one watched it, leaving that one waiting for ever. Members
    # leave once all have entered, as work between the two would.
    inside = threading.Barrier(3)

    def member(i):
        bs[i].enter()
        with mu:
            entered.append((i, len([x for x in entered])))
        try:
            inside.wait(timeout=WAIT)
        except threading.BrokenBarrierError:
            pass  # "all 3 entered" below reports it
        bs[i].leave()
        with mu:
            left.append(i)
    t0 = threading.Thread(target=lambda: member(0), daemon=True)
    t1 = threading.Thread(target=lambda: member(1), daemon=True)
    t0.start()
    t1.start()
    until(lambda: len(c[2].get_children(P) if c[2].exists(P) else []) >= 2)
    equal(entered, [], "double barrier: nobody enters before 3 members arrived")
    t2 = threading.Thread(target=lambda: member(2), daemon=True)
    t2.start()
    for t in (t0, t1, t2):
        t.join(WAIT * 2)
    equal(sorted(i for i, _ in entered), [0, 1, 2], "double barrier: all 3 entered")
    equal(sorted(left), [0, 1, 2], "double barrier: all 3 left")
    c[0].sync(P)
    equal([x for x in c[0].get_children(P) if not x.startswith("ready")] if c[0].exists(P) else [], [],
          "double barrier: no members left behind")


def t_queue(cl):
    P = ROOT + "/queue"
    c = [cl.new(i) for i in range(2)]
    q0, q1 = Queue(c[0], P), Queue(c[1], P)
    q0.put(b"a")
    q0.put(b"b")
    q0.put(b"urgent", priority=1)
    q0.put(b"c")
    c[1].sync(P)
    equal(len(q1), 4, "queue: length")
    equal([q1.get() for _ in range(4)], [b"urgent", b"a", b"b", b"c"], "queue: priority then FIFO order")
    equal(q1.get(), None, "queue: get on empty queue")
    # Concurrent consumers never get the same item.
    for i in range(20):
        q0.put(str(i).encode())
    got = [[], []]

    def consume(k):
        while True:
            v = [q0, q1][k].get()
            if v is None:
                return
            got[k].append(v)
    equal(run_threads([lambda: consume(0), lambda: consume(1)]), [], "queue: consumers raised")
    equal(sorted(got[0] + got[1], key=int), [str(i).encode() for i in range(20)], "queue: every item consumed exactly once")

    L = ROOT + "/lqueue"
    lq0, lq1 = LockingQueue(c[0], L), LockingQueue(c[1], L)
    lq0.put_all([b"x", b"y"])
    lq0.put(b"z", priority=5)
    c[1].sync(L)
    equal(len(lq1), 3, "locking queue: length")
    equal(lq0.get(WAIT), b"z", "locking queue: first consumer gets the highest priority")
    equal(lq1.get(WAIT), b"x", "locking queue: second consumer skips the locked entry")
    check(lq0.holds_lock(), "locking queue: holds_lock")
    check(lq0.consume(), "locking queue: consume")
    check(lq1.release(), "locking queue: release puts the entry back")
    c[0].sync(L)
    equal(lq0.get(WAIT), b"x", "locking queue: released entry is got again")
    check(lq0.consume(), "locking queue: consume x")
    c[1].sync(L)
    equal(lq1.get(WAIT), b"y", "locking queue: last entry")
    check(lq1.consume(), "locking queue: consume y")
    c[0].sync(L)
    equal(len(lq0), 0, "locking queue: empty")
    equal(lq0.get(0.3), None, "locking queue: get on empty queue times out")


def t_counter(cl):
    P = ROOT + "/counter"
    c = [cl.new(i) for i in range(3)]

    def incr(cli):
        ct = Counter(cli, P)
        for _ in range(10):
            ct += 1
    equal(run_threads([lambda i=i: incr(c[i]) for i in range(3)]), [], "counter: incrementers raised")
    ct = Counter(c[0], P)
    c[0].sync(P)
    equal(ct.value, 30, "counter: 3 clients x 10 increments")
    ct -= 5
    equal(ct.value, 25, "counter: decrement")
    f = Counter(c[1], ROOT + "/fcounter", default=0.0)
    f += 2.5
    f += 0.25
    equal(f.value, 2.75, "counter: float counter")
    equal(f.pre_value, 2.5, "counter: pre_value")


def t_party(cl):
    c = [cl.new(i) for i in range(3)]
    for kind, cls in (("party", Party), ("shallow party", ShallowParty)):
        P = ROOT + "/" + kind.replace(" ", "")
        ps = [cls(c[i], P, "member%d" % i) for i in range(3)]
        for p in ps:
            p.join()
        for x in c:
            x.sync(P)
        equal(len(ps[0]), 3, "%s: size" % kind)
        equal(sorted(ps[1]), ["member0", "member1", "member2"], "%s: members" % kind)
        ps[1].leave()
        c[2].sync(P)  # ps[2] reads through c[2]
        equal(sorted(ps[2]), ["member0", "member2"], "%s: members after leave" % kind)
    # A member whose session closes leaves the party.
    c2 = cl.new(2)
    P = ROOT + "/party"
    Party(c2, P, "gone").join()
    c[0].sync(P)
    check("gone" in list(Party(c[0], P)), "party: new member listed")
    cl.close(c2)
    c[0].sync(P)
    check(until(lambda: "gone" not in list(Party(c[0], P))), "party: member gone with its session")


def t_transaction(cl):
    P = ROOT + "/txn"
    c = [cl.new(i) for i in range(2)]
    c[0].create(P, b"v0")
    t = c[0].transaction()
    t.create(P + "/a", b"1")
    t.set_data(P, b"v1", version=0)
    t.check(P, 1)
    t.create(P + "/b", b"2")
    t.delete(P + "/b")
    res = t.commit()
    equal(len(res), 5, "transaction: one result per op")
    equal(res[0], P + "/a", "transaction: create result is the path")
    check(hasattr(res[1], "version") and res[1].version == 1, "transaction: set_data result is a Stat: %r" % (res[1],))
    equal(res[2:], [True, P + "/b", True], "transaction: check, create, delete results")
    c[1].sync(P)
    equal(c[1].get(P)[0], b"v1", "transaction: applied, seen by another client")
    equal(sorted(c[1].get_children(P)), ["a"], "transaction: children after it")
    t = c[1].transaction()
    t.create(P + "/c", b"3")
    t.check(P, 0)  # stale version
    t.set_data(P, b"v2")
    res = t.commit()
    # Apache: ops before the failing one roll back, the ones after it are
    # RUNTIMEINCONSISTENCY.
    check(isinstance(res[0], RolledBackError) and isinstance(res[1], BadVersionError) and isinstance(res[2], RuntimeInconsistency),
          "transaction: failing check rolls back all: %r" % (res,))
    c[0].sync(P)
    equal((c[0].exists(P + "/c"), c[0].get(P)[0]), (None, b"v1"), "transaction: nothing of a failed transaction applied")
    t = c[0].transaction()
    t.delete(P + "/missing")
    res = t.commit()
    check(isinstance(res[0], NoNodeError), "transaction: delete of a missing znode: %r" % (res,))


def t_watchers(cl):
    P = ROOT + "/watched"
    c = [cl.new(i) for i in range(2)]
    seen = []
    mu = threading.Lock()

    def on_data(data, stat, event=None):
        with mu:
            seen.append((data, stat.version if stat else None))
    DataWatch(c[0], P, on_data)
    check(until(lambda: seen == [(None, None)]), "DataWatch: first call for a missing znode: %r" % seen)
    c[1].create(P, b"one")
    check(until(lambda: (b"one", 0) in seen), "DataWatch: sees the create")
    c[1].set(P, b"two")
    check(until(lambda: (b"two", 1) in seen), "DataWatch: sees the set")
    kids = []

    def on_children(ch):
        with mu:
            kids.append(sorted(ch))
    ChildrenWatch(c[0], P, on_children)
    check(until(lambda: kids and kids[-1] == []), "ChildrenWatch: first call")
    c[1].create(P + "/k1")
    check(until(lambda: kids and kids[-1] == ["k1"]), "ChildrenWatch: sees a child created: %r" % kids)
    c[1].create(P + "/k2", ephemeral=True)
    check(until(lambda: kids and kids[-1] == ["k1", "k2"]), "ChildrenWatch: sees a second child: %r" % kids)
    c[1].delete(P + "/k1")
    check(until(lambda: kids and kids[-1] == ["k2"]), "ChildrenWatch: sees a delete: %r" % kids)
    c[1].delete(P + "/k2")
    c[1].delete(P)
    check(until(lambda: (None, None) in seen[1:]), "DataWatch: sees the delete: %r" % seen)
    # A watcher that returns False stops watching.
    calls = []

    def once(data, stat):
        calls.append(data)
        return False
    c[1].create(P + "2", b"a")
    c[0].sync(P + "2")
    DataWatch(c[0], P + "2", once)
    c[1].set(P + "2", b"b")
    c[0].sync(P + "2")
    c[1].set(P + "2", b"c")
    c[0].sync(P + "2")
    until(lambda: False, timeout=0.2)
    equal(calls, [b"a"], "DataWatch returning False stops")


TESTS = [("lock", t_lock), ("rwlock", t_rwlock), ("semaphore", t_semaphore), ("election", t_election),
         ("barrier", t_barrier), ("double barrier", t_double_barrier), ("queue", t_queue),
         ("counter", t_counter), ("party", t_party), ("transaction", t_transaction),
         ("watchers", t_watchers)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", required=True)
    ap.add_argument("--only", help="comma-separated recipe names")
    args = ap.parse_args()
    only = set(args.only.split(",")) if args.only else None

    admin = KazooClient(hosts=args.server.split(",")[0], timeout=10.0)
    admin.start(timeout=15)
    admin.delete(ROOT, recursive=True) if admin.exists(ROOT) else None
    admin.ensure_path(ROOT)
    for name, fn in TESTS:
        if only and name not in only:
            continue
        cl = Clients(args.server)
        before = len(failures)
        start = time.time()
        try:
            fn(cl)
        except Exception as e:  # noqa: BLE001 - a broken recipe test is a failure, the others still run
            failures.append("%s raised %s: %s\n%s" % (name, type(e).__name__, e, traceback.format_exc(limit=3)))
        finally:
            cl.close_all()
        print("  %-15s %s (%.1fs)" % (name, "ok" if len(failures) == before else "FAIL", time.time() - start))
    admin.sync("/")
    admin.delete(ROOT, recursive=True)
    admin.stop()
    admin.close()
    for f in failures:
        print("FAIL " + f)
    print("kazoo-recipes: %d passed, %d failed" % (checks - len([f for f in failures if " raised " not in f]), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
