#!/usr/bin/env python3
"""Drive Apache ZooKeeper's own zkCli.sh against a server and check its output.

Usage: zkcli_compat.py --server 127.0.0.1:PORT [--zkcli PATH]

Every expectation below was taken from Apache ZooKeeper 3.8.0 (Debian
package) answering the same commands (see compat/README.md); the server under
test must give the same output. Only the parts that differ between two runs of
Apache itself (times, zxids, session ids) are matched by pattern or by
relation (e.g. "mZxid equals cZxid").

Exit status 0 when every check passed, 1 otherwise; each failure prints the
command, what was expected and what came back.
"""

import argparse
import base64
import hashlib
import os
import re
import subprocess
import sys
import time

ROOT = "/zkcompat"
STAT_KEYS = ["cZxid", "ctime", "mZxid", "mtime", "pZxid", "cversion",
             "dataVersion", "aclVersion", "ephemeralOwner", "dataLength",
             "numChildren"]
HEX = re.compile(r"^0x[0-9a-f]+$")
# java.util.Date.toString(), e.g. "Thu Nov 26 13:06:12 UTC 2026".
DATE = re.compile(r"^[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d [A-Za-z0-9+:-]+ \d{4}$")
CONNECT_NOISE = ("WATCHER::", "WatchedEvent state:SyncConnected type:None path:null",
                 "Welcome to ZooKeeper!", "JLine support is disabled",
                 "JLine support is enabled")


class Run:
    """The result of one zkCli.sh invocation, noise removed."""

    def __init__(self, args, rc, out, err):
        self.args, self.rc, self.out, self.err = args, rc, out, err

    def __str__(self):
        return "rc=%d\n  stdout: %r\n  stderr: %r" % (self.rc, self.out, self.err)


class Suite:
    def __init__(self, server, zkcli):
        self.server = server
        self.zkcli = zkcli
        self.failures = []
        self.checks = 0
        self.saved = {}

    # -- running zkCli.sh ------------------------------------------------

    def cli(self, *args, stdin=None, timeout_ms=None):
        cmd = [self.zkcli, "-server", self.server]
        if timeout_ms:
            cmd += ["-timeout", str(timeout_ms)]
        cmd += list(args)
        p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120)
        out = [l for l in p.stdout.splitlines()
               if l.strip() and not l.startswith("Connecting to ") and l not in CONNECT_NOISE]
        err = [l for l in p.stderr.splitlines() if l.strip() and not l.startswith("SLF4J:")]
        return Run(" ".join(args) if stdin is None else "<stdin> " + stdin.replace("\n", "; "),
                   p.returncode, out, err)

    # -- checking --------------------------------------------------------

    def fail(self, run, what):
        self.failures.append("zkCli.sh %s\n  %s\n  got %s" % (run.args, what, run))

    def expect(self, args, rc=0, out=(), err=(), stat=None, timeout_ms=None):
        """Run zkCli.sh args; check exit code, stdout lines, stderr lines and,
        when stat is given, the stat block that ends stdout."""
        self.checks += 1
        run = self.cli(*args, timeout_ms=timeout_ms)
        lines = run.out
        st = None
        if stat is not None:
            lines, st = split_stat(run.out)
            if st is None:
                self.fail(run, "expected a stat block (%s) at the end of stdout" % ", ".join(STAT_KEYS))
                return run, None
        if run.rc != rc:
            self.fail(run, "expected exit code %d" % rc)
        elif not match_lines(lines, out):
            self.fail(run, "expected stdout %r" % [show(x) for x in out])
        elif not match_lines(run.err, err):
            self.fail(run, "expected stderr %r" % [show(x) for x in err])
        elif st is not None:
            problem = check_stat(st, stat, self.saved)
            if problem:
                self.fail(run, "stat: " + problem)
        return run, st

    def interactive(self, commands, out_contains=(), err_exact=None, out_absent=(), rc=0):
        """Feed commands to one zkCli.sh session on stdin (one session, so
        addauth and watches carry over). stdout must contain every line of
        out_contains (asynchronous watch events make the order free), stderr
        must equal err_exact when given."""
        self.checks += 1
        run = self.cli(stdin="\n".join(commands + ["quit"]) + "\n")
        missing = [show(x) for x in out_contains if not any(line_ok(l, x) for l in run.out)]
        present = [x for x in out_absent if x in run.out]
        if run.rc != rc:
            self.fail(run, "expected exit code %d (that of the last command)" % rc)
        elif missing:
            self.fail(run, "stdout is missing %r" % missing)
        elif present:
            self.fail(run, "stdout must not contain %r" % present)
        elif err_exact is not None and not match_lines(run.err, err_exact):
            self.fail(run, "expected stderr %r" % [show(x) for x in err_exact])
        return run


def show(x):
    return x.pattern if isinstance(x, re.Pattern) else x


def line_ok(line, want):
    if isinstance(want, re.Pattern):
        return want.fullmatch(line) is not None
    return line == want


def match_lines(got, want):
    return len(got) == len(want) and all(line_ok(g, w) for g, w in zip(got, want))


def split_stat(lines):
    """Return (lines before the stat block, dict of the block) when stdout
    ends with the 11 stat lines in Apache's order, else (lines, None)."""
    if len(lines) < len(STAT_KEYS):
        return lines, None
    tail = lines[-len(STAT_KEYS):]
    st = {}
    for key, line in zip(STAT_KEYS, tail):
        k, sep, v = line.partition(" = ")
        if k != key or not sep:
            return lines, None
        st[k] = v
    return lines[:-len(STAT_KEYS)], st


def check_stat(st, want, saved):
    """Formats first, then the wanted values: an int or str is compared as
    text, "=key" means equal to that key of this stat, ">key" greater (as a
    zxid), "@name" equal to a value saved earlier, "!0x0" not 0x0; a key
    "save:name" stores st[value] under name."""
    for k in ("cZxid", "mZxid", "pZxid", "ephemeralOwner"):
        if not HEX.match(st[k]):
            return "%s = %r is not 0x<hex>" % (k, st[k])
    for k in ("ctime", "mtime"):
        if not DATE.match(st[k]):
            return "%s = %r is not a java.util.Date string" % (k, st[k])
    for k in ("cversion", "dataVersion", "aclVersion", "dataLength", "numChildren"):
        if not re.fullmatch(r"-?\d+", st[k]):
            return "%s = %r is not an integer" % (k, st[k])
    for k, w in want.items():
        if k.startswith("save:"):
            saved[k[5:]] = st[w]
            continue
        got = st[k]
        if isinstance(w, str) and w.startswith("="):
            if got != st[w[1:]]:
                return "%s = %s, want equal to %s = %s" % (k, got, w[1:], st[w[1:]])
        elif isinstance(w, str) and w.startswith(">"):
            if int(got, 16) <= int(st[w[1:]], 16):
                return "%s = %s, want greater than %s = %s" % (k, got, w[1:], st[w[1:]])
        elif isinstance(w, str) and w.startswith("@"):
            if got != saved.get(w[1:]):
                return "%s = %s, want %s = %s" % (k, got, w[1:], saved.get(w[1:]))
        elif isinstance(w, str) and w.startswith("!"):
            if got == w[1:]:
                return "%s = %s, want anything else" % (k, got)
        elif got != str(w):
            return "%s = %s, want %s" % (k, got, w)
    return None


def digest(user, password):
    """Apache's DigestAuthenticationProvider: base64(sha1("user:password"))."""
    return base64.b64encode(hashlib.sha1(("%s:%s" % (user, password)).encode()).digest()).decode()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", required=True, help="host:port of the server under test")
    ap.add_argument("--zkcli", default=os.environ.get("ZKCLI", "/usr/share/zookeeper/bin/zkCli.sh"))
    ap.add_argument("--ensemble", action="store_true",
                    help="the server is a member of a 3-node ensemble (whose /zookeeper/config lists it)")
    a = ap.parse_args()
    s = Suite(a.server, a.zkcli)
    R = ROOT
    nonode = lambda p: "Node does not exist: " + p

    # A fresh server has no /zkcompat; a reused one gets it removed first.
    s.cli("deleteall", R)

    # --- create, ls, get, set, stat, delete -----------------------------
    s.expect(["create", R], err=["Created " + R])
    s.expect(["create", R + "/a", "hello"], err=["Created %s/a" % R])
    s.expect(["create", R + "/a", "again"], rc=1, err=["Node already exists: %s/a" % R])
    s.expect(["create", R + "/x/y/z"], rc=1, err=[nonode(R + "/x/y/z")])
    s.expect(["ls", R], out=["[a]"])
    s.expect(["get", R + "/a"], out=["hello"])
    s.expect(["get", "-s", R + "/a"], out=["hello"],
             stat={"mZxid": "=cZxid", "pZxid": "=cZxid", "cversion": 0, "dataVersion": 0,
                   "aclVersion": 0, "ephemeralOwner": "0x0", "dataLength": 5, "numChildren": 0,
                   "save:a_czxid": "cZxid"})
    s.expect(["ls", "-s", R], out=["[a]"],
             stat={"pZxid": "@a_czxid", "cversion": 1, "dataVersion": 0, "dataLength": 0,
                   "numChildren": 1, "ephemeralOwner": "0x0"})
    s.expect(["set", R + "/a", "world"])
    s.expect(["set", "-s", R + "/a", "world2"],
             stat={"cZxid": "@a_czxid", "mZxid": ">cZxid", "pZxid": "=cZxid", "dataVersion": 2,
                   "dataLength": 6, "numChildren": 0})
    s.expect(["set", "-v", "0", R + "/a", "x"], rc=1, err=["version No is not valid : %s/a" % R])
    s.expect(["set", "-v", "2", R + "/a", "world3"])
    s.expect(["stat", R + "/a"], stat={"cZxid": "@a_czxid", "dataVersion": 3, "dataLength": 6})
    s.expect(["get", R + "/a"], out=["world3"])
    s.expect(["stat", R + "/nope"], rc=1, err=[nonode(R + "/nope")])
    s.expect(["get", R + "/nope"], rc=1, err=[nonode(R + "/nope")])
    s.expect(["set", R + "/nope", "x"], rc=1, err=[nonode(R + "/nope")])
    s.expect(["delete", "-v", "7", R + "/a"], rc=1, err=["version No is not valid : %s/a" % R])
    s.expect(["delete", R], rc=1, err=["Node not empty: " + R])
    s.expect(["create", R + "/b"], err=["Created %s/b" % R])
    s.expect(["delete", "-v", "0", R + "/b"])
    s.expect(["delete", R + "/b"], rc=1, err=[nonode(R + "/b")])
    s.expect(["ls", "/zookeeper"], out=["[config, quota]"])

    # --- sequential and ephemeral --------------------------------------
    seq = R + "/seq"
    s.expect(["create", seq], err=["Created " + seq])
    s.expect(["create", "-s", seq + "/n-", "a"], err=["Created %s/n-0000000000" % seq])
    s.expect(["create", "-s", seq + "/n-", "b"], err=["Created %s/n-0000000001" % seq])
    s.expect(["create", "-s", seq + "/n-", "c"], err=["Created %s/n-0000000002" % seq])
    s.expect(["create", "-s", seq + "/n-", "d"], err=["Created %s/n-0000000003" % seq])
    s.expect(["delete", seq + "/n-0000000001"])
    # Deletes do not advance the sequence counter; cversion counts both.
    s.expect(["create", "-s", seq + "/n-", "e"], err=["Created %s/n-0000000004" % seq])
    s.expect(["stat", seq], stat={"cversion": 6, "numChildren": 4})
    s.expect(["ls", "-R", seq], out=[seq, seq + "/n-0000000000", seq + "/n-0000000002",
                                     seq + "/n-0000000003", seq + "/n-0000000004"])
    # Ephemerals of sessions that end with the process (zkCli.sh does not
    # close its session on exit); the short timeouts let them expire during
    # the run, checked at the end. /eph's is 10 s: the next zkCli.sh (a JVM
    # start on a busy machine) must still find it.
    s.expect(["create", "-e", R + "/eph", "x"], err=["Created %s/eph" % R], timeout_ms=10000)
    s.expect(["stat", R + "/eph"], stat={"ephemeralOwner": "!0x0", "dataLength": 1, "numChildren": 0})
    s.expect(["create", R + "/eseq"], err=["Created %s/eseq" % R])
    s.expect(["create", "-e", "-s", R + "/eseq/e-", "x"], err=["Created %s/eseq/e-0000000000" % R], timeout_ms=4000)
    s.expect(["create", "-e", "-s", R + "/eseq/e-", "x"], err=["Created %s/eseq/e-0000000001" % R], timeout_ms=4000)
    s.expect(["create", "-s", R + "/eseq/p-", "x"], err=["Created %s/eseq/p-0000000002" % R])
    ephemeral_start = time.monotonic()

    # --- container and TTL (extendedTypesEnabled=true in the config) ----
    s.expect(["create", "-c", R + "/cont"], err=["Created %s/cont" % R])
    s.expect(["stat", R + "/cont"], stat={"ephemeralOwner": "0x0", "dataLength": 0})
    s.expect(["create", "-t", "600000", R + "/ttl", "x"], err=["Created %s/ttl" % R])
    s.expect(["stat", R + "/ttl"], stat={"ephemeralOwner": "0x0", "dataLength": 1})

    # --- deleteall -----------------------------------------------------
    for p in ("/tree", "/tree/a", "/tree/a/b", "/tree/c"):
        s.expect(["create", R + p], err=["Created " + R + p])
    s.expect(["deleteall", R + "/tree"])
    s.expect(["ls", R + "/tree"], rc=1, err=[nonode(R + "/tree")])
    s.expect(["deleteall", R + "/tree"], rc=1, err=[nonode(R + "/tree")])

    # --- misc ----------------------------------------------------------
    s.expect(["sync", R], out=["Sync is OK"])
    s.expect(["getEphemerals", R], out=["[]"])
    s.expect(["whoami"], out=["Auth scheme: User", "ip: 127.0.0.1"])
    if a.ensemble:
        # An ensemble shows its membership (Apache 3.5+: QuorumVerifier text).
        s.expect(["config"], out=[re.compile(r"server\.1=127\.0\.0\.1:\d+:\d+:participant;127\.0\.0\.1:\d+"),
                                  re.compile(r"server\.2=.*"), re.compile(r"server\.3=.*"),
                                  re.compile(r"version=[0-9a-f]+")])
    else:
        # A standalone Apache 3.8 server has an empty /zookeeper/config.
        s.expect(["config"], out=[])

    # --- ACLs and addauth ----------------------------------------------
    d = digest("user", "pass")
    s.expect(["getAcl", R + "/a"], out=["'world,'anyone", ": cdrwa"])
    s.expect(["create", R + "/acl", "secret"], err=["Created %s/acl" % R])
    s.expect(["setAcl", R + "/acl", "digest:user:%s:cdrwa" % d])
    s.expect(["get", R + "/acl"], rc=1, err=["Insufficient permission : %s/acl" % R])
    s.expect(["getAcl", R + "/acl"], rc=1, err=["Insufficient permission : %s/acl" % R])
    s.expect(["set", R + "/acl", "x"], rc=1, err=["Insufficient permission : %s/acl" % R])
    s.expect(["setAcl", R + "/a", "foo:bar:cdrwa"], rc=1, err=["Acl is not valid : %s/a" % R])
    s.interactive(["addauth digest user:pass", "get %s/acl" % R, "getAcl -s %s/acl" % R, "whoami"],
                  out_contains=["secret", "'digest,'user:" + d, ": cdrwa", "aclVersion = 1",
                                "Auth scheme: User", "ip: 127.0.0.1", "digest: user"],
                  err_exact=[])
    s.interactive(["addauth digest user:wrong", "get %s/acl" % R],
                  out_absent=["secret"], rc=1, err_exact=["Insufficient permission : %s/acl" % R])
    s.interactive(["addauth digest user:pass", "create %s/authacl y auth::cdrwa" % R,
                   "getAcl %s/authacl" % R],
                  out_contains=["'digest,'user:" + d, ": cdrwa"],
                  err_exact=["Created %s/authacl" % R])
    s.expect(["get", R + "/authacl"], rc=1, err=["Insufficient permission : %s/authacl" % R])
    s.expect(["create", R + "/ro", "r"], err=["Created %s/ro" % R])
    s.expect(["setAcl", "-s", R + "/ro", "world:anyone:r"], stat={"aclVersion": 1, "dataLength": 1})
    s.expect(["get", R + "/ro"], out=["r"])
    s.expect(["set", R + "/ro", "w"], rc=1, err=["Insufficient permission : %s/ro" % R])
    s.expect(["create", R + "/ro/c"], rc=1, err=["Insufficient permission : %s/ro/c" % R])
    s.expect(["create", R + "/ip", "i"], err=["Created %s/ip" % R])
    s.expect(["setAcl", R + "/ip", "ip:127.0.0.1:cdrwa"])
    s.expect(["get", R + "/ip"], out=["i"])
    s.expect(["setAcl", R + "/ip", "ip:10.0.0.1:cdrwa"])
    s.expect(["get", R + "/ip"], rc=1, err=["Insufficient permission : %s/ip" % R])

    # --- quotas: the server counts the subtree in zookeeper_stats ---------
    q = R + "/quota"
    limits = "/zookeeper/quota%s/zookeeper_limits" % q
    s.expect(["create", q, "abc"], err=["Created " + q])
    s.expect(["create", q + "/a", "de"], err=["Created %s/a" % q])
    s.expect(["setquota", "-n", "2", q])
    s.expect(["listquota", q], out=["Output quota for %s count=2,bytes=-1=;byteHardLimit=-1;countHardLimit=-1" % q,
                                    "Output stat for %s count=2,bytes=5" % q],
             err=["absolute path is " + limits])
    s.expect(["create", q + "/b", "fghij"], err=["Created %s/b" % q])
    s.expect(["set", q + "/a", "d"])
    s.expect(["setquota", "-B", "3", q],
             out=["[Warning]: the count quota you create is less than the existing count:3",
                  "[Warning]: the bytes quota you create is less than the existing bytes:9"])
    s.expect(["listquota", q], out=["Output quota for %s count=2,bytes=-1=;byteHardLimit=3;countHardLimit=-1" % q,
                                    "Output stat for %s count=3,bytes=9" % q],
             err=["absolute path is " + limits])
    s.expect(["setquota", "-n", "9", q + "/a"], rc=1, err=["%s/a has a parent %s which has a quota" % (q, q)])
    s.expect(["delete", q + "/b"])
    s.expect(["delquota", "-n", q])
    s.expect(["listquota", q], out=["Output quota for %s count=-1,bytes=-1=;byteHardLimit=3;countHardLimit=-1" % q,
                                    "Output stat for %s count=2,bytes=4" % q],
             err=["absolute path is " + limits])
    s.expect(["delquota", q])
    s.expect(["listquota", q], err=["absolute path is " + limits, "quota for %s does not exist." % q])
    s.expect(["ls", "/zookeeper/quota"], out=["[]"])

    # --- watches ---------------------------------------------------------
    s.interactive(["get -w %s/a" % R, "set %s/a w" % R, "ls -w %s" % R, "create %s/w1" % R,
                   "stat -w %s/w2" % R, "create %s/w2" % R,
                   "addWatch %s/pw" % R, "create %s/pw" % R, "create %s/pw/c" % R,
                   # sync's callback runs on the event thread after the
                   # queued watch events: they are all printed before quit.
                   "sync %s" % R],
                  out_contains=["world3",
                                "WatchedEvent state:SyncConnected type:NodeDataChanged path:%s/a" % R,
                                "WatchedEvent state:SyncConnected type:NodeChildrenChanged path:%s" % R,
                                "WatchedEvent state:SyncConnected type:NodeCreated path:%s/w2" % R,
                                "WatchedEvent state:SyncConnected type:NodeCreated path:%s/pw" % R,
                                "WatchedEvent state:SyncConnected type:NodeCreated path:%s/pw/c" % R],
                  err_exact=["Created %s/w1" % R, "Node does not exist: %s/w2" % R, "Created %s/w2" % R, "Created %s/pw" % R,
                             "Created %s/pw/c" % R])

    # --- ephemerals expire with their session ------------------------------
    # Checked at least once: on a busy machine the checks above may take
    # longer than the deadline.
    while True:
        r = s.cli("ls", R + "/eseq")
        e = s.cli("stat", R + "/eph")
        gone = r.out == ["[p-0000000002]"] and e.rc == 1 and e.err == [nonode(R + "/eph")]
        if gone or time.monotonic() - ephemeral_start >= 40:
            break
    s.checks += 1
    if not gone:
        s.failures.append("ephemerals %s/eph and %s/eseq/e-* of 4 s sessions still there after 40 s "
                          "(ls %s/eseq: %s; stat %s/eph: %s)" % (R, R, R, r, R, e))
    # --- clean up --------------------------------------------------------
    # deleteall lists every znode, and /ip is unreadable from 127.0.0.1 now;
    # delete needs DELETE on the parent only.
    s.expect(["delete", R + "/ip"])
    s.interactive(["addauth digest user:pass", "deleteall %s" % R], err_exact=[])
    s.expect(["ls", R], rc=1, err=[nonode(R)])

    for f in s.failures:
        print("FAIL " + f, file=sys.stderr)
    print("zkCli.sh compat: %d checks, %d failed" % (s.checks, len(s.failures)))
    return 1 if s.failures else 0


if __name__ == "__main__":
    sys.exit(main())
