// CuratorCompat drives a server with Apache Curator 5.4 (Debian's
// libcurator-*-java, on ZooKeeper's 3.8 Java client) and checks what
// Curator's framework and recipes promise their users.
//
//   java -cp <jars> compat/CuratorCompat.java --server H:P[,H:P...]
//
// scripts/compat-extra.sh (suite "curator") builds the class path and runs
// it against zkserver standalone, a zkserver ensemble and, with --target
// apache, Apache ZooKeeper 3.8 itself, which every check passes too. On an
// ensemble, client i is given only member i mod n, so that contention and
// watches cross members. Prints "ok NAME" or "FAIL NAME: why" per check,
// then "curator: N passed, N failed"; exits 1 on any failure.

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.api.CuratorEvent;
import org.apache.curator.framework.api.CuratorEventType;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.framework.api.transaction.CuratorTransactionResult;
import org.apache.curator.framework.api.transaction.OperationType;
import org.apache.curator.framework.recipes.atomic.AtomicValue;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.framework.recipes.barriers.DistributedBarrier;
import org.apache.curator.framework.recipes.barriers.DistributedDoubleBarrier;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.recipes.cache.NodeCache;
import org.apache.curator.framework.recipes.cache.PathChildrenCache;
import org.apache.curator.framework.recipes.cache.PathChildrenCacheEvent;
import org.apache.curator.framework.recipes.cache.TreeCache;
import org.apache.curator.framework.recipes.cache.TreeCacheEvent;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderSelector;
import org.apache.curator.framework.recipes.leader.LeaderSelectorListenerAdapter;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreV2;
import org.apache.curator.framework.recipes.locks.Lease;
import org.apache.curator.framework.recipes.nodes.GroupMember;
import org.apache.curator.framework.recipes.nodes.PersistentNode;
import org.apache.curator.framework.recipes.queue.DistributedQueue;
import org.apache.curator.framework.recipes.queue.QueueBuilder;
import org.apache.curator.framework.recipes.queue.QueueConsumer;
import org.apache.curator.framework.recipes.queue.QueueSerializer;
import org.apache.curator.framework.recipes.shared.SharedCount;
import org.apache.curator.framework.recipes.shared.SharedCountListener;
import org.apache.curator.framework.recipes.shared.SharedCountReader;
import org.apache.curator.framework.recipes.shared.VersionedValue;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.retry.RetryNTimes;
import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;

public class CuratorCompat {
    static final String ROOT = "/curatorcompat";
    static final long WAIT_MS = 20_000;
    static final long CHECK_MS = 90_000;

    static String[] members;
    /** The server's container check interval; 0: unknown, not checked. */
    static long containerCheckMs;
    /** With both set, "failover" SIGKILLs the leader with `zk ensemble kill`. */
    static String ensembleDir;
    static String zkBin;
    static final List<CuratorFramework> opened = new CopyOnWriteArrayList<>();

    interface Check {
        void run() throws Exception;
    }

    static class Failure extends Exception {
        Failure(String msg) {
            super(msg);
        }
    }

    public static void main(String[] args) throws Exception {
        String server = null;
        for (int i = 0; i < args.length; i++) {
            if (i + 1 >= args.length) {
                usage();
            }
            switch (args[i]) {
                case "--server" -> server = args[++i];
                case "--container-check-ms" -> containerCheckMs = Long.parseLong(args[++i]);
                case "--ensemble-dir" -> ensembleDir = args[++i];
                case "--zk" -> zkBin = args[++i];
                default -> usage();
            }
        }
        if (server == null) {
            usage();
        }
        members = server.split(",");

        Map<String, Check> checks = new java.util.LinkedHashMap<>();
        checks.put("connect", CuratorCompat::connect);
        checks.put("create-parents", CuratorCompat::createParents);
        checks.put("create-containers", CuratorCompat::createContainers);
        checks.put("create-modes", CuratorCompat::createModes);
        checks.put("create-protection", CuratorCompat::createProtection);
        checks.put("create-stat-and-orSetData", CuratorCompat::createStatOrSetData);
        checks.put("create-ttl", CuratorCompat::createTTL);
        checks.put("setData-versions", CuratorCompat::setDataVersions);
        checks.put("delete", CuratorCompat::delete);
        checks.put("watchers", CuratorCompat::watchers);
        checks.put("persistent-recursive-watch", CuratorCompat::persistentRecursiveWatch);
        checks.put("background", CuratorCompat::background);
        checks.put("transaction", CuratorCompat::transaction);
        checks.put("acl", CuratorCompat::acl);
        checks.put("namespace", CuratorCompat::namespace);
        checks.put("session-expiry", CuratorCompat::sessionExpiry);
        checks.put("InterProcessMutex", CuratorCompat::mutex);
        checks.put("InterProcessSemaphoreV2", CuratorCompat::semaphore);
        checks.put("InterProcessReadWriteLock", CuratorCompat::readWriteLock);
        checks.put("LeaderLatch", CuratorCompat::leaderLatch);
        checks.put("LeaderSelector", CuratorCompat::leaderSelector);
        checks.put("DistributedAtomicLong", CuratorCompat::atomicLong);
        checks.put("SharedCount", CuratorCompat::sharedCount);
        checks.put("DistributedBarrier", CuratorCompat::barrier);
        checks.put("DistributedDoubleBarrier", CuratorCompat::doubleBarrier);
        checks.put("CuratorCache", CuratorCompat::curatorCache);
        checks.put("PathChildrenCache", CuratorCompat::pathChildrenCache);
        checks.put("NodeCache", CuratorCompat::nodeCache);
        checks.put("TreeCache", CuratorCompat::treeCache);
        checks.put("PersistentNode", CuratorCompat::persistentNode);
        checks.put("DistributedQueue", CuratorCompat::queue);
        checks.put("GroupMember", CuratorCompat::groupMember);

        if (containerCheckMs > 0) {
            checks.put("container-reaped", CuratorCompat::containerReaped);
        }
        if (ensembleDir != null && zkBin != null) {
            checks.put("leader-failover", CuratorCompat::leaderFailover);
        }

        try (CuratorFramework c = client(0)) {
            c.delete().quietly().deletingChildrenIfNeeded().forPath(ROOT);
            c.create().forPath(ROOT);
        }
        int passed = 0, failed = 0;
        ExecutorService runner = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r);
            t.setDaemon(true);
            return t;
        });
        for (Map.Entry<String, Check> e : checks.entrySet()) {
            String why = null;
            Future<?> f = runner.submit(() -> {
                e.getValue().run();
                return null;
            });
            try {
                f.get(CHECK_MS, TimeUnit.MILLISECONDS);
            } catch (TimeoutException te) {
                f.cancel(true);
                why = "did not finish within " + CHECK_MS / 1000 + " s";
            } catch (java.util.concurrent.ExecutionException ee) {
                Throwable t = ee.getCause();
                why = t instanceof Failure ? t.getMessage() : t.toString();
            }
            for (CuratorFramework c : opened) {
                c.close();
            }
            opened.clear();
            if (why == null) {
                passed++;
                System.out.println("ok " + e.getKey());
            } else {
                failed++;
                System.out.println("FAIL " + e.getKey() + ": " + why);
            }
            System.out.flush();
        }
        try (CuratorFramework c = client(0)) {
            c.delete().quietly().deletingChildrenIfNeeded().forPath(ROOT);
        } catch (Exception e) {
            System.out.println("cleanup: " + e);
        }
        System.out.println("curator: " + passed + " passed, " + failed + " failed");
        System.exit(failed == 0 ? 0 : 1);
    }

    static void usage() {
        System.err.println("usage: CuratorCompat --server H:P[,H:P...] [--container-check-ms N] [--ensemble-dir DIR --zk ZK]");
        System.exit(2);
    }

    // ---- helpers ----

    /** A started, connected client on member i mod n, closed after the check. */
    static CuratorFramework client(int i) throws Exception {
        return client(i, null, null);
    }

    static CuratorFramework client(int i, String auth, String namespace) throws Exception {
        CuratorFrameworkFactory.Builder b = CuratorFrameworkFactory.builder()
                .connectString(members[i % members.length])
                .sessionTimeoutMs(15_000)
                .connectionTimeoutMs(10_000)
                .retryPolicy(new ExponentialBackoffRetry(100, 10, 2_000));
        if (auth != null) {
            b.authorization("digest", auth.getBytes(StandardCharsets.UTF_8));
        }
        if (namespace != null) {
            b.namespace(namespace);
        }
        CuratorFramework c = b.build();
        opened.add(c);
        c.start();
        if (!c.blockUntilConnected((int) WAIT_MS, TimeUnit.MILLISECONDS)) {
            throw new Failure("client " + i + " did not connect to " + members[i % members.length]);
        }
        return c;
    }

    /**
     * Brings c's server up to date with the leader for p. Curator's
     * sync().forPath runs in the background even without inBackground, so
     * this waits for the callback: a read through c after it sees every
     * write acknowledged before the call, whichever member took the write.
     */
    static void sync(CuratorFramework c, String p) throws Exception {
        BlockingQueue<CuratorEvent> done = new LinkedBlockingQueue<>();
        c.sync().inBackground((cl, e) -> done.add(e)).forPath(p);
        CuratorEvent e = done.poll(WAIT_MS, TimeUnit.MILLISECONDS);
        check(e != null, "sync of " + p + " did not finish");
        equal(e.getResultCode(), 0, "result code of the sync of " + p);
    }

    static void check(boolean cond, String what) throws Failure {
        if (!cond) {
            throw new Failure(what);
        }
    }

    static void equal(Object got, Object want, String what) throws Failure {
        if (!java.util.Objects.equals(got, want)) {
            throw new Failure(what + ": got " + got + ", want " + want);
        }
    }

    static void until(BooleanSupplier cond, String what) throws Exception {
        long deadline = System.currentTimeMillis() + WAIT_MS;
        while (!cond.getAsBoolean()) {
            if (System.currentTimeMillis() > deadline) {
                throw new Failure("timed out waiting for " + what);
            }
            Thread.sleep(10);
        }
    }

    interface IndexedCheck {
        void run(int i) throws Exception;
    }

    /** Runs body(0..n-1) on n threads at once and fails with what they threw. */
    static void concurrently(int n, IndexedCheck body) throws Exception {
        List<Thread> ts = new ArrayList<>();
        List<Throwable> errs = new CopyOnWriteArrayList<>();
        for (int i = 0; i < n; i++) {
            int k = i;
            ts.add(new Thread(() -> {
                try {
                    body.run(k);
                } catch (Throwable e) {
                    errs.add(e);
                }
            }));
        }
        ts.forEach(Thread::start);
        for (Thread t : ts) {
            t.join(CHECK_MS);
        }
        check(errs.isEmpty(), "errors: " + errs);
    }

    static <T> T take(BlockingQueue<T> q, String what) throws Exception {
        T v = q.poll(WAIT_MS, TimeUnit.MILLISECONDS);
        if (v == null) {
            throw new Failure("timed out waiting for " + what);
        }
        return v;
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String s(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    static <E extends Exception> E expect(Class<E> want, Check op, String what) throws Exception {
        try {
            op.run();
        } catch (Exception e) {
            if (want.isInstance(e)) {
                return want.cast(e);
            }
            throw new Failure(what + ": got " + e + ", want " + want.getSimpleName());
        }
        throw new Failure(what + ": succeeded, want " + want.getSimpleName());
    }

    static String path(String name) {
        return ROOT + "/" + name;
    }

    static String last10(String p) {
        return p.length() < 10 ? "" : p.substring(p.length() - 10);
    }

    static boolean tenDigits(String p) {
        return last10(p).matches("[0-9]{10}");
    }

    // ---- the framework ----

    static void connect() throws Exception {
        for (int i = 0; i < members.length; i++) {
            CuratorFramework c = client(i);
            ZooKeeper zk = c.getZookeeperClient().getZooKeeper();
            check(zk.getSessionId() != 0, "member " + i + ": session id 0");
            check(zk.getSessionTimeout() > 0, "member " + i + ": negotiated timeout " + zk.getSessionTimeout());
            check(c.checkExists().forPath("/") != null, "member " + i + ": / does not exist");
            check(c.checkExists().forPath("/zookeeper") != null, "member " + i + ": /zookeeper does not exist");
        }
    }

    static void createParents() throws Exception {
        CuratorFramework c = client(0);
        String p = path("parents/a/b/c");
        equal(c.create().creatingParentsIfNeeded().forPath(p, b("leaf")), p, "created path");
        equal(s(c.getData().forPath(p)), "leaf", "data of the leaf");
        Stat a = c.checkExists().forPath(path("parents/a"));
        check(a != null, "parent a missing");
        equal(a.getNumChildren(), 1, "children of a");
        equal(a.getEphemeralOwner(), 0L, "a's ephemeralOwner");
        // A parent Curator creates has Curator's default data: empty.
        equal(c.getData().forPath(path("parents/a")).length, 0, "a's data length");
        equal(c.getChildren().forPath(path("parents/a/b")), List.of("c"), "children of b");
        expect(KeeperException.NodeExistsException.class,
                () -> c.create().creatingParentsIfNeeded().forPath(p), "create of an existing leaf");
        expect(KeeperException.NoNodeException.class,
                () -> c.create().forPath(path("parents/x/y")), "create without its parent");
    }

    static void createContainers() throws Exception {
        CuratorFramework c = client(0);
        String p = path("containers/p/leaf");
        c.create().creatingParentContainersIfNeeded().forPath(p, b("v"));
        Stat st = c.checkExists().forPath(path("containers/p"));
        check(st != null, "container parent missing");
        equal(st.getEphemeralOwner(), 0L, "container's ephemeralOwner");
        equal(st.getNumChildren(), 1, "container's children");
        // A container itself, created explicitly.
        String ct = path("containers/explicit");
        c.create().withMode(CreateMode.CONTAINER).forPath(ct);
        c.create().forPath(ct + "/child");
        equal(c.getChildren().forPath(ct), List.of("child"), "children of the container");
        expect(KeeperException.NoChildrenForEphemeralsException.class,
                () -> {
                    c.create().withMode(CreateMode.EPHEMERAL).forPath(path("containers/eph"));
                    c.create().forPath(path("containers/eph/x"));
                }, "child of an ephemeral");
    }

    static void createModes() throws Exception {
        CuratorFramework c = client(0);
        long sid = c.getZookeeperClient().getZooKeeper().getSessionId();
        String e = c.create().creatingParentsIfNeeded().withMode(CreateMode.EPHEMERAL).forPath(path("modes/e"));
        equal(c.checkExists().forPath(e).getEphemeralOwner(), sid, "ephemeralOwner of an ephemeral");
        String s1 = c.create().withMode(CreateMode.PERSISTENT_SEQUENTIAL).forPath(path("modes/s-"));
        String s2 = c.create().withMode(CreateMode.PERSISTENT_SEQUENTIAL).forPath(path("modes/s-"));
        String es = c.create().withMode(CreateMode.EPHEMERAL_SEQUENTIAL).forPath(path("modes/es-"));
        check(tenDigits(s1) && tenDigits(s2) && tenDigits(es), "sequential names: " + s1 + " " + s2 + " " + es);
        // The counter is the parent's cversion: e, s1, s2 and es were its
        // 1st to 4th children.
        equal(last10(s1), "0000000001", "first sequence number");
        equal(last10(s2), "0000000002", "second sequence number");
        equal(last10(es), "0000000003", "third sequence number");
        equal(c.checkExists().forPath(es).getEphemeralOwner(), sid, "ephemeralOwner of an ephemeral sequential");
        List<String> kids = new ArrayList<>(c.getChildren().forPath(path("modes")));
        Collections.sort(kids);
        equal(kids, List.of("e", "es-0000000003", "s-0000000001", "s-0000000002"), "children");
        // Ephemerals go with the session.
        c.close();
        CuratorFramework d = client(1);
        until(() -> {
            try {
                return d.checkExists().forPath(e) == null && d.checkExists().forPath(es) == null;
            } catch (Exception x) {
                return false;
            }
        }, "the ephemerals to go with their session");
        check(d.checkExists().forPath(s1) != null, "a persistent sequential node went with the session");
    }

    static void createProtection() throws Exception {
        CuratorFramework c = client(0);
        c.create().forPath(path("prot"));
        String p = c.create().withProtection().withMode(CreateMode.EPHEMERAL_SEQUENTIAL).forPath(path("prot/lock-"), b("x"));
        String name = p.substring(p.lastIndexOf('/') + 1);
        check(name.startsWith("_c_") && name.contains("-lock-") && tenDigits(name), "protected name " + name);
        equal(c.getChildren().forPath(path("prot")), List.of(name), "children");
        equal(s(c.getData().forPath(p)), "x", "data");
    }

    static void createStatOrSetData() throws Exception {
        CuratorFramework c = client(0);
        String p = path("stat");
        Stat st = new Stat();
        c.create().storingStatIn(st).forPath(p, b("12345"));
        check(st.getCzxid() > 0 && st.getCzxid() == st.getMzxid() && st.getMzxid() == st.getPzxid(),
                "czxid/mzxid/pzxid of a new node: " + st);
        equal(st.getVersion(), 0, "version");
        equal(st.getDataLength(), 5, "dataLength");
        check(st.getCtime() > 0 && st.getCtime() == st.getMtime(), "ctime/mtime: " + st);
        c.create().orSetData().forPath(p, b("second"));
        Stat st2 = new Stat();
        equal(s(c.getData().storingStatIn(st2).forPath(p)), "second", "data after orSetData");
        equal(st2.getVersion(), 1, "version after orSetData");
        equal(st2.getCzxid(), st.getCzxid(), "czxid after orSetData");
        check(st2.getMzxid() > st.getMzxid(), "mzxid did not grow");
        String q = c.create().orSetData().forPath(path("stat-new"), b("n"));
        equal(q, path("stat-new"), "orSetData of a new node");
    }

    static void createTTL() throws Exception {
        CuratorFramework c = client(0);
        String p = path("ttl");
        c.create().withTtl(60_000).withMode(CreateMode.PERSISTENT_WITH_TTL).forPath(p, b("t"));
        Stat st = c.checkExists().forPath(p);
        check(st != null, "TTL node missing");
        equal(s(c.getData().forPath(p)), "t", "data");
        String sq = c.create().withTtl(60_000).withMode(CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL).forPath(path("ttl-"));
        check(tenDigits(sq), "sequential TTL name " + sq);
        // A TTL node is not ephemeral and may have children.
        equal(st.getEphemeralOwner(), 0L, "ephemeralOwner of a TTL node");
        c.create().forPath(p + "/child");
        equal(c.getChildren().forPath(p), List.of("child"), "children of a TTL node");
    }

    static void setDataVersions() throws Exception {
        CuratorFramework c = client(0);
        String p = path("versions");
        c.create().forPath(p, b("0"));
        Stat st = c.setData().withVersion(0).forPath(p, b("1"));
        equal(st.getVersion(), 1, "version after a set");
        expect(KeeperException.BadVersionException.class,
                () -> c.setData().withVersion(0).forPath(p, b("2")), "set with a stale version");
        st = c.setData().withVersion(-1).forPath(p, b("3"));
        equal(st.getVersion(), 2, "version after an unconditional set");
        expect(KeeperException.NoNodeException.class,
                () -> c.setData().forPath(path("versions-missing"), b("x")), "set of a missing node");
        CuratorFramework d = client(1);
        Stat st2 = new Stat();
        sync(d, p);
        equal(s(d.getData().storingStatIn(st2).forPath(p)), "3", "data on another member after sync");
        equal(st2.getVersion(), 2, "version on another member");
    }

    static void delete() throws Exception {
        CuratorFramework c = client(0);
        String p = path("del");
        c.create().creatingParentsIfNeeded().forPath(p + "/a/b/c");
        c.create().forPath(p + "/d");
        expect(KeeperException.NotEmptyException.class, () -> c.delete().forPath(p), "delete of a node with children");
        expect(KeeperException.BadVersionException.class, () -> c.delete().withVersion(5).forPath(p + "/d"),
                "delete with a wrong version");
        c.delete().withVersion(0).forPath(p + "/d");
        c.delete().deletingChildrenIfNeeded().forPath(p);
        check(c.checkExists().forPath(p) == null, "tree still there after deletingChildrenIfNeeded");
        expect(KeeperException.NoNodeException.class, () -> c.delete().forPath(p), "delete of a missing node");
        c.delete().quietly().forPath(p);
        c.create().forPath(p);
        c.delete().guaranteed().forPath(p);
        check(c.checkExists().forPath(p) == null, "node still there after a guaranteed delete");
    }

    static void watchers() throws Exception {
        CuratorFramework c = client(0);
        CuratorFramework w = client(1);
        String p = path("watch");
        BlockingQueue<WatchedEvent> events = new LinkedBlockingQueue<>();
        Watcher rec = events::add;
        check(w.checkExists().usingWatcher(rec).forPath(p) == null, "node exists before its creation");
        c.create().forPath(p, b("1"));
        WatchedEvent ev = take(events, "NodeCreated");
        equal(ev.getType(), Watcher.Event.EventType.NodeCreated, "event type");
        equal(ev.getPath(), p, "event path");

        w.getData().usingWatcher(rec).forPath(p);
        c.setData().forPath(p, b("2"));
        ev = take(events, "NodeDataChanged");
        equal(ev.getType(), Watcher.Event.EventType.NodeDataChanged, "event type");
        // One-shot: a second change without a new watch gives nothing.
        c.setData().forPath(p, b("3"));

        w.getChildren().usingWatcher(rec).forPath(p);
        c.create().forPath(p + "/kid");
        ev = take(events, "NodeChildrenChanged");
        equal(ev.getType(), Watcher.Event.EventType.NodeChildrenChanged, "event type (the set of a fired watch must not fire again)");
        equal(ev.getPath(), p, "event path");

        w.getData().usingWatcher(rec).forPath(p + "/kid");
        c.delete().forPath(p + "/kid");
        ev = take(events, "NodeDeleted");
        equal(ev.getType(), Watcher.Event.EventType.NodeDeleted, "event type");
        equal(ev.getPath(), p + "/kid", "event path");
        check(events.poll(200, TimeUnit.MILLISECONDS) == null, "an extra event: " + events);
    }

    static void persistentRecursiveWatch() throws Exception {
        CuratorFramework c = client(0);
        CuratorFramework w = client(1);
        String p = path("prw");
        c.create().forPath(p);
        BlockingQueue<WatchedEvent> events = new LinkedBlockingQueue<>();
        w.watchers().add().withMode(AddWatchMode.PERSISTENT_RECURSIVE).usingWatcher((Watcher) events::add).forPath(p);
        c.create().forPath(p + "/a");
        c.create().forPath(p + "/a/b", b("x"));
        c.setData().forPath(p + "/a/b", b("y"));
        c.setData().forPath(p + "/a/b", b("z"));
        c.delete().forPath(p + "/a/b");
        String[][] want = {
                {"NodeCreated", p + "/a"},
                {"NodeCreated", p + "/a/b"},
                {"NodeDataChanged", p + "/a/b"},
                {"NodeDataChanged", p + "/a/b"},
                {"NodeDeleted", p + "/a/b"},
        };
        for (String[] wv : want) {
            WatchedEvent ev = take(events, wv[0] + " " + wv[1]);
            equal(ev.getType().name() + " " + ev.getPath(), wv[0] + " " + wv[1], "event");
        }
        // A recursive watch reports no child events.
        check(events.poll(200, TimeUnit.MILLISECONDS) == null, "an extra event: " + events);

        BlockingQueue<WatchedEvent> pevents = new LinkedBlockingQueue<>();
        w.watchers().add().withMode(AddWatchMode.PERSISTENT).usingWatcher((Watcher) pevents::add).forPath(p);
        c.create().forPath(p + "/c");
        c.setData().forPath(p, b("d"));
        equal(take(pevents, "NodeChildrenChanged").getType(), Watcher.Event.EventType.NodeChildrenChanged, "persistent watch, child added");
        equal(take(pevents, "NodeDataChanged").getType(), Watcher.Event.EventType.NodeDataChanged, "persistent watch, data set");
    }

    static void background() throws Exception {
        CuratorFramework c = client(0);
        BlockingQueue<CuratorEvent> events = new LinkedBlockingQueue<>();
        String p = path("bg");
        c.create().inBackground((cl, ev) -> events.add(ev)).forPath(p, b("v"));
        CuratorEvent ev = take(events, "the create's callback");
        equal(ev.getType(), CuratorEventType.CREATE, "event type");
        equal(ev.getResultCode(), 0, "result code");
        equal(ev.getName(), p, "created name");
        c.getData().inBackground((cl, e) -> events.add(e)).forPath(p);
        ev = take(events, "the getData's callback");
        equal(ev.getType(), CuratorEventType.GET_DATA, "event type");
        equal(s(ev.getData()), "v", "data");
        equal(ev.getStat().getDataLength(), 1, "stat's dataLength");
        c.getData().inBackground((cl, e) -> events.add(e)).forPath(path("bg-missing"));
        ev = take(events, "the failing getData's callback");
        equal(ev.getResultCode(), KeeperException.Code.NONODE.intValue(), "result code of a missing node");
        c.sync().inBackground((cl, e) -> events.add(e)).forPath(p);
        ev = take(events, "the sync's callback");
        equal(ev.getType(), CuratorEventType.SYNC, "event type");
        equal(ev.getResultCode(), 0, "sync's result code");
        c.getChildren().inBackground((cl, e) -> events.add(e)).forPath(ROOT);
        ev = take(events, "the getChildren's callback");
        check(ev.getChildren().contains("bg"), "children of the root: " + ev.getChildren());
    }

    static void transaction() throws Exception {
        CuratorFramework c = client(0);
        String p = path("txn");
        c.create().forPath(p, b("0"));
        CuratorOp create = c.transactionOp().create().forPath(p + "/a", b("a"));
        CuratorOp set = c.transactionOp().setData().forPath(p, b("1"));
        CuratorOp chk = c.transactionOp().check().withVersion(1).forPath(p);
        CuratorOp seq = c.transactionOp().create().withMode(CreateMode.PERSISTENT_SEQUENTIAL).forPath(p + "/s-");
        List<CuratorTransactionResult> rs = c.transaction().forOperations(create, set, chk, seq);
        equal(rs.size(), 4, "results");
        equal(rs.get(0).getType(), OperationType.CREATE, "result 0 type");
        equal(rs.get(0).getResultPath(), p + "/a", "result 0 path");
        equal(rs.get(1).getType(), OperationType.SET_DATA, "result 1 type");
        equal(rs.get(1).getResultStat().getVersion(), 1, "result 1 version");
        equal(rs.get(2).getType(), OperationType.CHECK, "result 2 type");
        check(tenDigits(rs.get(3).getResultPath()), "sequential name in a transaction: " + rs.get(3).getResultPath());

        // A failing operation: nothing of the transaction happens.
        CuratorOp create2 = c.transactionOp().create().forPath(p + "/b");
        CuratorOp badCheck = c.transactionOp().check().withVersion(7).forPath(p);
        CuratorOp del = c.transactionOp().delete().forPath(p + "/a");
        KeeperException ke = expect(KeeperException.class,
                () -> c.transaction().forOperations(create2, badCheck, del), "transaction with a wrong version");
        equal(ke.code(), KeeperException.Code.BADVERSION, "the transaction's error");
        check(c.checkExists().forPath(p + "/b") == null, "a failed transaction created a node");
        check(c.checkExists().forPath(p + "/a") != null, "a failed transaction deleted a node");
        List<org.apache.zookeeper.OpResult> results = ke.getResults();
        check(results != null && results.size() == 3, "per-operation results: " + results);
        equal(((org.apache.zookeeper.OpResult.ErrorResult) results.get(0)).getErr(), KeeperException.Code.OK.intValue(), "result of the op before the failure");
        equal(((org.apache.zookeeper.OpResult.ErrorResult) results.get(1)).getErr(), KeeperException.Code.BADVERSION.intValue(), "result of the failing op");
        equal(((org.apache.zookeeper.OpResult.ErrorResult) results.get(2)).getErr(), KeeperException.Code.RUNTIMEINCONSISTENCY.intValue(), "result of the op after the failure");
    }

    static void acl() throws Exception {
        CuratorFramework owner = client(0, "alice:secret", null);
        CuratorFramework other = client(1);
        CuratorFramework wrong = client(1, "alice:wrong", null);
        String p = path("acl");
        List<ACL> acl = List.of(
                new ACL(ZooDefs.Perms.ALL, new Id("digest", DigestAuthenticationProvider.generateDigest("alice:secret"))),
                new ACL(ZooDefs.Perms.READ, ZooDefs.Ids.ANYONE_ID_UNSAFE));
        owner.create().withACL(acl).forPath(p, b("s"));
        equal(owner.getACL().forPath(p), acl, "ACL read back");
        sync(other, p);
        equal(s(other.getData().forPath(p)), "s", "world read");
        expect(KeeperException.NoAuthException.class, () -> other.setData().forPath(p, b("x")), "write without auth");
        expect(KeeperException.NoAuthException.class, () -> wrong.setData().forPath(p, b("x")), "write with a wrong password");
        owner.setData().forPath(p, b("t"));
        // CREATOR_ALL_ACL: the creator's authenticated ids.
        String q = path("acl-creator");
        owner.create().withACL(ZooDefs.Ids.CREATOR_ALL_ACL).forPath(q, b("c"));
        List<ACL> got = owner.getACL().forPath(q);
        equal(got, List.of(new ACL(ZooDefs.Perms.ALL, new Id("digest", DigestAuthenticationProvider.generateDigest("alice:secret")))),
                "ACL of a creator-only node");
        sync(other, q);
        expect(KeeperException.NoAuthException.class, () -> other.getData().forPath(q), "read of a creator-only node");
        expect(KeeperException.InvalidACLException.class,
                () -> other.create().withACL(ZooDefs.Ids.CREATOR_ALL_ACL).forPath(path("acl-noauth")),
                "CREATOR_ALL_ACL without auth");
        owner.setACL().withACL(ZooDefs.Ids.OPEN_ACL_UNSAFE).forPath(q);
        sync(other, q);
        equal(s(other.getData().forPath(q)), "c", "read after setACL");
        Stat st = other.checkExists().forPath(q);
        equal(st.getAversion(), 1, "aversion after setACL");
    }

    static void namespace() throws Exception {
        CuratorFramework ns = client(0, null, ROOT.substring(1) + "/ns");
        CuratorFramework plain = client(1);
        ns.create().creatingParentsIfNeeded().forPath("/a/b", b("v"));
        sync(plain, path("ns/a/b"));
        equal(s(plain.getData().forPath(path("ns/a/b"))), "v", "data under the namespace's path");
        equal(ns.getChildren().forPath("/a"), List.of("b"), "children through the namespace");
        String seq = ns.create().withMode(CreateMode.PERSISTENT_SEQUENTIAL).forPath("/a/s-");
        check(seq.startsWith("/a/s-") && tenDigits(seq), "a namespaced create returns the path without the namespace: " + seq);
    }

    static void sessionExpiry() throws Exception {
        CuratorFramework c = client(0);
        BlockingQueue<ConnectionState> states = new LinkedBlockingQueue<>();
        c.getConnectionStateListenable().addListener((cl, st) -> states.add(st));
        String e = c.create().withMode(CreateMode.EPHEMERAL).forPath(path("expiry"));
        ZooKeeper zk = c.getZookeeperClient().getZooKeeper();
        long sid = zk.getSessionId();
        // Another connection takes the session over and closes it: what
        // Curator's own tests do to expire a session on a real server.
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper killer = new ZooKeeper(members[members.length - 1], 15_000, ev -> {
            if (ev.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
            }
        }, sid, zk.getSessionPasswd());
        try {
            check(connected.await(WAIT_MS, TimeUnit.MILLISECONDS), "the second connection did not attach to the session");
            equal(killer.getSessionId(), sid, "session id of the second connection");
        } finally {
            killer.close();
        }
        // The takeover may drop c's connection first, and c may reconnect
        // to its still valid session (RECONNECTED) before the close makes
        // it LOST: wait for a RECONNECTED after the LOST.
        List<ConnectionState> seen = new ArrayList<>();
        while (!seen.contains(ConnectionState.LOST)
                || seen.lastIndexOf(ConnectionState.RECONNECTED) < seen.indexOf(ConnectionState.LOST)) {
            seen.add(take(states, "LOST then RECONNECTED, after " + seen));
        }
        long sid2 = c.getZookeeperClient().getZooKeeper().getSessionId();
        check(sid2 != sid && sid2 != 0, "session after expiry: 0x" + Long.toHexString(sid2));
        check(c.checkExists().forPath(e) == null, "the expired session's ephemeral is still there");
        c.create().withMode(CreateMode.EPHEMERAL).forPath(e);
        equal(c.checkExists().forPath(e).getEphemeralOwner(), sid2, "owner of an ephemeral made after expiry");
    }

    /** Containers left empty are deleted by the server (Curator's locks rely on it). */
    static void containerReaped() throws Exception {
        CuratorFramework c = client(0);
        String parent = path("reap/p");
        c.create().creatingParentContainersIfNeeded().forPath(parent + "/leaf");
        // An InterProcessMutex's lock directory is a container as well.
        String lockPath = path("reap/lock");
        InterProcessMutex m = new InterProcessMutex(c, lockPath);
        m.acquire();
        m.release();
        // A container that never had a child stays.
        c.create().withMode(CreateMode.CONTAINER).forPath(path("reap/never"));
        c.delete().forPath(parent + "/leaf");
        long deadline = System.currentTimeMillis() + 4 * containerCheckMs + WAIT_MS;
        while (c.checkExists().forPath(parent) != null || c.checkExists().forPath(lockPath) != null) {
            check(System.currentTimeMillis() < deadline, "empty containers still there after "
                    + (4 * containerCheckMs + WAIT_MS) + " ms: " + c.getChildren().forPath(path("reap")));
            Thread.sleep(20);
        }
        check(c.checkExists().forPath(path("reap/never")) != null, "a container that never had children was deleted");
    }

    /** The answer of a four-letter word, "" when nobody answers. */
    static String fourLetter(String hostPort, String word) {
        int colon = hostPort.lastIndexOf(':');
        try (java.net.Socket sock = new java.net.Socket()) {
            sock.connect(new java.net.InetSocketAddress(hostPort.substring(0, colon),
                    Integer.parseInt(hostPort.substring(colon + 1))), 2_000);
            sock.setSoTimeout(2_000);
            sock.getOutputStream().write(b(word));
            return new String(sock.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        } catch (Exception e) {
            return "";
        }
    }

    static void zk(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(zkBin));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        check(p.waitFor(90, TimeUnit.SECONDS) && p.exitValue() == 0, String.join(" ", cmd) + " failed: " + out);
    }

    /**
     * SIGKILL of the leader: a client that knows every member keeps its
     * session (SUSPENDED, then RECONNECTED, never LOST), its ephemeral and
     * its lock, and every acknowledged write survives, on the new leader and
     * on the killed member once it is back.
     */
    static void leaderFailover() throws Exception {
        int leader = -1;
        for (int i = 0; i < members.length; i++) {
            if (fourLetter(members[i], "srvr").contains("Mode: leader")) {
                leader = i;
            }
        }
        check(leader >= 0, "no member says it leads");
        CuratorFramework c = CuratorFrameworkFactory.builder()
                .connectString(String.join(",", members))
                .sessionTimeoutMs(30_000)
                .connectionTimeoutMs(10_000)
                .retryPolicy(new ExponentialBackoffRetry(100, 20, 1_000))
                .build();
        opened.add(c);
        c.start();
        check(c.blockUntilConnected((int) WAIT_MS, TimeUnit.MILLISECONDS), "did not connect");
        BlockingQueue<ConnectionState> states = new LinkedBlockingQueue<>();
        c.getConnectionStateListenable().addListener((cl, st) -> states.add(st));
        String p = path("failover");
        c.create().forPath(p);
        int writes = 200;
        for (int i = 0; i < writes; i++) {
            c.create().forPath(p + "/w" + i, b(Integer.toString(i)));
        }
        String e = c.create().withMode(CreateMode.EPHEMERAL).forPath(p + "-ephemeral");
        InterProcessMutex m = new InterProcessMutex(c, path("failover-lock"));
        check(m.acquire(WAIT_MS, TimeUnit.MILLISECONDS), "lock");
        long sid = c.getZookeeperClient().getZooKeeper().getSessionId();

        zk("ensemble", "kill", Integer.toString(leader + 1), "--dir", ensembleDir);
        try {
            // Writes go on once a new leader is elected (Curator retries).
            c.setData().forPath(p, b("after"));
            equal(s(c.getData().forPath(p)), "after", "data written after the kill");
            List<ConnectionState> seen = new ArrayList<>();
            states.drainTo(seen);
            check(!seen.contains(ConnectionState.LOST), "states " + seen + ": the session was lost");
            equal(c.getZookeeperClient().getZooKeeper().getSessionId(), sid, "session after the fail-over");
            check(c.checkExists().forPath(e) != null, "the ephemeral went with the old leader");
            check(m.isAcquiredInThisProcess(), "the lock was lost");
            equal(c.getChildren().forPath(path("failover-lock")).size(), 1, "lock nodes");
            List<String> kids = c.getChildren().forPath(p);
            equal(kids.size(), writes, "acknowledged creates after the fail-over");
            equal(c.checkExists().forPath(p).getNumChildren(), writes, "numChildren after the fail-over");
        } finally {
            zk("ensemble", "start", Integer.toString(leader + 1), "--dir", ensembleDir, "--wait", "60s");
        }
        // The member that was killed has everything once it is back.
        CuratorFramework back = client(leader);
        sync(back, p);
        equal(back.getChildren().forPath(p).size(), writes, "creates seen by the restarted member");
        equal(s(back.getData().forPath(p)), "after", "data seen by the restarted member");
        equal(s(back.getData().forPath(p + "/w" + (writes - 1))), Integer.toString(writes - 1), "last create seen by the restarted member");
        check(back.checkExists().forPath(e) != null, "the restarted member lost the ephemeral");
        m.release();
    }

    // ---- recipes ----

    static void mutex() throws Exception {
        String lockPath = path("mutex");
        String counter = path("mutex-counter");
        client(0).create().forPath(counter, b("0"));
        int n = 3, rounds = 15;
        AtomicInteger inside = new AtomicInteger();
        AtomicBoolean overlap = new AtomicBoolean();
        List<CuratorFramework> cs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            cs.add(client(i));
        }
        concurrently(n, i -> {
            CuratorFramework c = cs.get(i);
            InterProcessMutex m = new InterProcessMutex(c, lockPath);
            for (int r = 0; r < rounds; r++) {
                check(m.acquire(WAIT_MS, TimeUnit.MILLISECONDS), "acquire timed out");
                try {
                    if (inside.incrementAndGet() != 1) {
                        overlap.set(true);
                    }
                    sync(c, counter);
                    int v = Integer.parseInt(s(c.getData().forPath(counter)));
                    c.setData().forPath(counter, b(Integer.toString(v + 1)));
                    inside.decrementAndGet();
                } finally {
                    m.release();
                }
            }
        });
        check(!overlap.get(), "two holders at once");
        CuratorFramework reader = client(0);
        sync(reader, counter);
        equal(s(reader.getData().forPath(counter)), Integer.toString(n * rounds), "counter incremented under the lock");

        // Re-entrant for its holder; others time out while it is held.
        InterProcessMutex a = new InterProcessMutex(client(0), lockPath);
        InterProcessMutex other = new InterProcessMutex(client(1), lockPath);
        a.acquire();
        a.acquire();
        check(a.isAcquiredInThisProcess(), "holder does not know it holds the lock");
        check(!other.acquire(200, TimeUnit.MILLISECONDS), "a second client took a held lock");
        a.release();
        check(!other.acquire(200, TimeUnit.MILLISECONDS), "a second client took a lock still held once");
        a.release();
        check(other.acquire(WAIT_MS, TimeUnit.MILLISECONDS), "the lock was not handed over");
        other.release();

        // A holder whose session ends gives the lock up.
        CuratorFramework dying = client(2);
        InterProcessMutex d = new InterProcessMutex(dying, lockPath);
        d.acquire();
        CuratorFramework waiter = client(0);
        InterProcessMutex w = new InterProcessMutex(waiter, lockPath);
        CountDownLatch got = new CountDownLatch(1);
        Thread t = new Thread(() -> {
            try {
                if (w.acquire(WAIT_MS, TimeUnit.MILLISECONDS)) {
                    got.countDown();
                    w.release();
                }
            } catch (Exception e) {
                // reported by the latch
            }
        });
        t.start();
        check(!got.await(100, TimeUnit.MILLISECONDS), "the waiter took a held lock");
        dying.close();
        check(got.await(WAIT_MS, TimeUnit.MILLISECONDS), "the lock of a closed session was not handed over");
        t.join();
        // The lock's directory is a container: the server may have reaped it.
        CuratorFramework observer = client(1);
        sync(observer, ROOT);
        try {
            equal(observer.getChildren().forPath(lockPath), List.of(), "lock nodes left behind");
        } catch (KeeperException.NoNodeException gone) {
            // reaped
        }
    }

    static void semaphore() throws Exception {
        String p = path("semaphore");
        InterProcessSemaphoreV2 s0 = new InterProcessSemaphoreV2(client(0), p, 2);
        InterProcessSemaphoreV2 s1 = new InterProcessSemaphoreV2(client(1), p, 2);
        InterProcessSemaphoreV2 s2 = new InterProcessSemaphoreV2(client(2), p, 2);
        Lease l0 = s0.acquire(WAIT_MS, TimeUnit.MILLISECONDS);
        Lease l1 = s1.acquire(WAIT_MS, TimeUnit.MILLISECONDS);
        check(l0 != null && l1 != null, "two leases of two were not granted");
        check(s2.acquire(300, TimeUnit.MILLISECONDS) == null, "a third lease of two was granted");
        s0.returnLease(l0);
        Lease l2 = s2.acquire(WAIT_MS, TimeUnit.MILLISECONDS);
        check(l2 != null, "a returned lease was not granted again");
        equal(s(l2.getData()) != null, true, "lease data");
        s1.returnLease(l1);
        s2.returnLease(l2);
    }

    static void readWriteLock() throws Exception {
        String p = path("rwlock");
        InterProcessReadWriteLock a = new InterProcessReadWriteLock(client(0), p);
        InterProcessReadWriteLock b = new InterProcessReadWriteLock(client(1), p);
        InterProcessReadWriteLock w = new InterProcessReadWriteLock(client(2), p);
        check(a.readLock().acquire(WAIT_MS, TimeUnit.MILLISECONDS), "first reader");
        check(b.readLock().acquire(WAIT_MS, TimeUnit.MILLISECONDS), "second reader alongside the first");
        check(!w.writeLock().acquire(300, TimeUnit.MILLISECONDS), "writer got in while readers hold the lock");
        a.readLock().release();
        b.readLock().release();
        check(w.writeLock().acquire(WAIT_MS, TimeUnit.MILLISECONDS), "writer after the readers left");
        check(!a.readLock().acquire(300, TimeUnit.MILLISECONDS), "reader got in while the writer holds the lock");
        // The writer may also read (downgrade).
        check(w.readLock().acquire(WAIT_MS, TimeUnit.MILLISECONDS), "the writer's own read lock");
        w.readLock().release();
        w.writeLock().release();
        check(a.readLock().acquire(WAIT_MS, TimeUnit.MILLISECONDS), "reader after the writer left");
        a.readLock().release();
    }

    static void leaderLatch() throws Exception {
        String p = path("latch");
        List<LeaderLatch> latches = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            LeaderLatch l = new LeaderLatch(client(i), p, "p" + i);
            l.start();
            latches.add(l);
        }
        until(() -> latches.stream().filter(LeaderLatch::hasLeadership).count() == 1, "exactly one leader of three");
        LeaderLatch leader = latches.stream().filter(LeaderLatch::hasLeadership).findFirst().get();
        // start() creates the latch's node in the background.
        until(() -> {
            try {
                return leader.getParticipants().size() == 3;
            } catch (Exception e) {
                return false;
            }
        }, "three participants");
        equal(latches.get(0).getLeader().getId(), leader.getId(), "leader seen by participant 0");
        check(leader.await(1, TimeUnit.SECONDS), "await of the leader");
        leader.close();
        latches.remove(leader);
        until(() -> latches.stream().filter(LeaderLatch::hasLeadership).count() == 1, "a new leader after the old one left");
        until(() -> {
            try {
                return latches.get(0).getParticipants().size() == 2;
            } catch (Exception e) {
                return false;
            }
        }, "two participants left");
        for (LeaderLatch l : latches) {
            l.close();
        }
    }

    static void leaderSelector() throws Exception {
        String p = path("selector");
        AtomicInteger leaders = new AtomicInteger();
        AtomicInteger terms = new AtomicInteger();
        AtomicBoolean overlap = new AtomicBoolean();
        Map<String, Integer> termsOf = new ConcurrentHashMap<>();
        List<LeaderSelector> sels = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            String id = "s" + i;
            LeaderSelector s = new LeaderSelector(client(i), p, new LeaderSelectorListenerAdapter() {
                @Override
                public void takeLeadership(CuratorFramework c) throws Exception {
                    if (leaders.incrementAndGet() != 1) {
                        overlap.set(true);
                    }
                    termsOf.merge(id, 1, Integer::sum);
                    terms.incrementAndGet();
                    Thread.sleep(20);
                    leaders.decrementAndGet();
                }
            });
            s.setId(id);
            s.autoRequeue();
            s.start();
            sels.add(s);
        }
        until(() -> termsOf.size() == 3 && terms.get() >= 9, "every selector to lead (terms " + termsOf + ")");
        for (LeaderSelector s : sels) {
            s.close();
        }
        check(!overlap.get(), "two leaders at once");
    }

    static void atomicLong() throws Exception {
        String p = path("atomic");
        int n = 3, each = 30;
        List<DistributedAtomicLong> vs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            vs.add(new DistributedAtomicLong(client(i), p, new RetryNTimes(1000, 1)));
        }
        concurrently(n, i -> {
            for (int k = 0; k < each; k++) {
                AtomicValue<Long> r = vs.get(i).increment();
                check(r.succeeded(), "increment did not succeed");
                check(r.postValue() == r.preValue() + 1, "pre " + r.preValue() + " post " + r.postValue());
            }
        });
        CuratorFramework reader = client(0);
        sync(reader, p);
        DistributedAtomicLong v = new DistributedAtomicLong(reader, p, new RetryNTimes(10, 10));
        equal(v.get().postValue(), (long) (n * each), "value after concurrent increments");
        AtomicValue<Long> r = v.compareAndSet((long) (n * each), 7L);
        check(r.succeeded(), "compareAndSet with the current value failed");
        r = v.compareAndSet(99L, 8L);
        check(!r.succeeded(), "compareAndSet with a stale value succeeded");
        equal(v.get().postValue(), 7L, "value after compareAndSet");
    }

    static void sharedCount() throws Exception {
        String p = path("shared");
        SharedCount a = new SharedCount(client(0), p, 5);
        SharedCount b = new SharedCount(client(1), p, 5);
        BlockingQueue<Integer> seen = new LinkedBlockingQueue<>();
        b.addListener(new SharedCountListener() {
            @Override
            public void countHasChanged(SharedCountReader r, int newCount) {
                seen.add(newCount);
            }

            @Override
            public void stateChanged(CuratorFramework c, ConnectionState s) {
            }
        });
        a.start();
        b.start();
        equal(a.getCount(), 5, "seed");
        VersionedValue<Integer> vv = a.getVersionedValue();
        a.setCount(6);
        equal(take(seen, "the other client's listener"), 6, "count seen by the other client");
        check(!a.trySetCount(vv, 10), "trySetCount with a stale version succeeded");
        check(b.trySetCount(b.getVersionedValue(), 11) || b.trySetCount(b.getVersionedValue(), 11), "trySetCount with the current version failed");
        until(() -> a.getCount() == 11, "the first client to see 11");
        a.close();
        b.close();
    }

    static void barrier() throws Exception {
        String p = path("barrier");
        DistributedBarrier setter = new DistributedBarrier(client(0), p);
        CuratorFramework w = client(1);
        DistributedBarrier waiter = new DistributedBarrier(w, p);
        setter.setBarrier();
        sync(w, p);
        check(!waiter.waitOnBarrier(200, TimeUnit.MILLISECONDS), "passed a set barrier");
        CountDownLatch passed = new CountDownLatch(1);
        Thread t = new Thread(() -> {
            try {
                if (waiter.waitOnBarrier(WAIT_MS, TimeUnit.MILLISECONDS)) {
                    passed.countDown();
                }
            } catch (Exception e) {
                // reported by the latch
            }
        });
        t.start();
        setter.removeBarrier();
        check(passed.await(WAIT_MS, TimeUnit.MILLISECONDS), "the waiter did not pass a removed barrier");
        t.join();
    }

    static void doubleBarrier() throws Exception {
        String p = path("dbarrier");
        int n = 3;
        List<Thread> ts = new ArrayList<>();
        AtomicInteger entered = new AtomicInteger();
        AtomicInteger left = new AtomicInteger();
        AtomicBoolean early = new AtomicBoolean();
        List<Throwable> errs = new CopyOnWriteArrayList<>();
        List<DistributedDoubleBarrier> bs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            bs.add(new DistributedDoubleBarrier(client(i), p, n));
        }
        for (int i = 0; i < n; i++) {
            DistributedDoubleBarrier bar = bs.get(i);
            Thread t = new Thread(() -> {
                try {
                    check(bar.enter(WAIT_MS, TimeUnit.MILLISECONDS), "enter timed out");
                    if (entered.incrementAndGet() > n) {
                        early.set(true);
                    }
                    check(bar.leave(WAIT_MS, TimeUnit.MILLISECONDS), "leave timed out");
                    left.incrementAndGet();
                } catch (Throwable e) {
                    errs.add(e);
                }
            });
            ts.add(t);
            t.start();
            if (i < n - 1) {
                // Nobody enters until all are there.
                Thread.sleep(100);
                check(entered.get() == 0, "entered before all " + n + " arrived");
            }
        }
        for (Thread t : ts) {
            t.join(CHECK_MS);
        }
        check(errs.isEmpty(), "errors: " + errs);
        equal(left.get(), n, "members that left");
    }

    static void curatorCache() throws Exception {
        CuratorFramework c = client(0);
        String p = path("cache");
        c.create().forPath(p, b("root"));
        c.create().forPath(p + "/pre", b("1"));
        BlockingQueue<String> events = new LinkedBlockingQueue<>();
        CuratorFramework w = client(1);
        sync(w, p);
        CuratorCache cache = CuratorCache.build(w, p);
        cache.listenable().addListener(CuratorCacheListener.builder()
                .forCreates(n -> events.add("create " + n.getPath() + " " + s(n.getData())))
                .forChanges((o, n) -> events.add("change " + n.getPath() + " " + s(o.getData()) + "->" + s(n.getData())))
                .forDeletes(o -> events.add("delete " + o.getPath()))
                .forInitialized(() -> events.add("initialized"))
                .build());
        cache.start();
        List<String> initial = new ArrayList<>();
        for (String e = take(events, "the initial load"); !e.equals("initialized"); e = take(events, "initialized")) {
            initial.add(e);
        }
        Collections.sort(initial);
        equal(initial, List.of("create " + p + " root", "create " + p + "/pre 1"), "initial events");
        c.create().forPath(p + "/a", b("x"));
        equal(take(events, "create"), "create " + p + "/a x", "event");
        c.setData().forPath(p + "/a", b("y"));
        equal(take(events, "change"), "change " + p + "/a x->y", "event");
        c.create().forPath(p + "/a/deep", b("d"));
        equal(take(events, "create deep"), "create " + p + "/a/deep d", "event");
        c.delete().forPath(p + "/a/deep");
        equal(take(events, "delete"), "delete " + p + "/a/deep", "event");
        until(() -> cache.get(p + "/a").map(d -> "y".equals(s(d.getData()))).orElse(false), "the cache's copy of /a");
        equal(cache.size(), 3, "nodes in the cache");
        cache.close();
    }

    static void pathChildrenCache() throws Exception {
        CuratorFramework c = client(0);
        String p = path("pcc");
        c.create().forPath(p);
        BlockingQueue<String> events = new LinkedBlockingQueue<>();
        CuratorFramework w = client(1);
        sync(w, p);
        PathChildrenCache cache = new PathChildrenCache(w, p, true);
        cache.getListenable().addListener((cl, ev) -> {
            if (ev.getData() != null) {
                events.add(ev.getType() + " " + ev.getData().getPath() + " " + s(ev.getData().getData()));
            } else {
                events.add(ev.getType().toString());
            }
        });
        cache.start(PathChildrenCache.StartMode.POST_INITIALIZED_EVENT);
        equal(take(events, "INITIALIZED"), "INITIALIZED", "first event");
        c.create().forPath(p + "/k", b("1"));
        equal(take(events, "CHILD_ADDED"), PathChildrenCacheEvent.Type.CHILD_ADDED + " " + p + "/k 1", "event");
        c.setData().forPath(p + "/k", b("2"));
        equal(take(events, "CHILD_UPDATED"), PathChildrenCacheEvent.Type.CHILD_UPDATED + " " + p + "/k 2", "event");
        c.delete().forPath(p + "/k");
        equal(take(events, "CHILD_REMOVED"), PathChildrenCacheEvent.Type.CHILD_REMOVED + " " + p + "/k 2", "event");
        cache.close();
    }

    static void nodeCache() throws Exception {
        CuratorFramework c = client(0);
        String p = path("nodecache");
        NodeCache cache = new NodeCache(client(1), p);
        AtomicInteger changes = new AtomicInteger();
        cache.getListenable().addListener(changes::incrementAndGet);
        cache.start(true);
        check(cache.getCurrentData() == null, "data of a missing node");
        c.create().forPath(p, b("a"));
        until(() -> cache.getCurrentData() != null && "a".equals(s(cache.getCurrentData().getData())), "the created node");
        c.setData().forPath(p, b("b"));
        until(() -> cache.getCurrentData() != null && "b".equals(s(cache.getCurrentData().getData())), "the changed node");
        c.delete().forPath(p);
        until(() -> cache.getCurrentData() == null, "the deleted node");
        // NodeCache stores the new data before it calls its listeners, so the
        // third call may still be on its way when the cache already reads null.
        until(() -> changes.get() >= 3, "three listener calls (a, b, deleted)");
        cache.close();
    }

    static void treeCache() throws Exception {
        CuratorFramework c = client(0);
        String p = path("tree");
        c.create().creatingParentsIfNeeded().forPath(p + "/x/y", b("y"));
        BlockingQueue<String> events = new LinkedBlockingQueue<>();
        CuratorFramework w = client(1);
        sync(w, p);
        TreeCache cache = TreeCache.newBuilder(w, p).build();
        cache.getListenable().addListener((cl, ev) -> {
            if (ev.getType() == TreeCacheEvent.Type.INITIALIZED) {
                events.add("INITIALIZED");
            } else if (ev.getData() != null) {
                events.add(ev.getType() + " " + ev.getData().getPath());
            }
        });
        cache.start();
        List<String> initial = new ArrayList<>();
        for (String e = take(events, "the initial load"); !e.equals("INITIALIZED"); e = take(events, "INITIALIZED")) {
            initial.add(e);
        }
        Collections.sort(initial);
        equal(initial, List.of("NODE_ADDED " + p, "NODE_ADDED " + p + "/x", "NODE_ADDED " + p + "/x/y"), "initial events");
        c.create().forPath(p + "/x/z");
        equal(take(events, "NODE_ADDED"), "NODE_ADDED " + p + "/x/z", "event");
        c.setData().forPath(p + "/x/y", b("y2"));
        equal(take(events, "NODE_UPDATED"), "NODE_UPDATED " + p + "/x/y", "event");
        c.delete().deletingChildrenIfNeeded().forPath(p + "/x");
        List<String> removed = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            removed.add(take(events, "NODE_REMOVED"));
        }
        Collections.sort(removed);
        equal(removed, List.of("NODE_REMOVED " + p + "/x", "NODE_REMOVED " + p + "/x/y", "NODE_REMOVED " + p + "/x/z"), "events");
        equal(cache.getCurrentChildren(p), Map.of(), "children left in the cache");
        cache.close();
    }

    static void persistentNode() throws Exception {
        CuratorFramework c = client(0);
        CuratorFramework other = client(1);
        String p = path("pnode");
        PersistentNode node = new PersistentNode(c, CreateMode.EPHEMERAL, false, p, b("here"));
        node.start();
        check(node.waitForInitialCreate(WAIT_MS, TimeUnit.MILLISECONDS), "initial create");
        equal(node.getActualPath(), p, "actual path");
        sync(other, p);
        Stat st = other.checkExists().forPath(p);
        check(st != null, "the node is not visible to another client");
        long owner = st.getEphemeralOwner();
        other.delete().forPath(p);
        // The recipe puts it back.
        until(() -> {
            try {
                sync(other, p);
                return other.checkExists().forPath(p) != null;
            } catch (Exception e) {
                return false;
            }
        }, "the deleted node to be re-created");
        equal(other.checkExists().forPath(p).getEphemeralOwner(), owner, "owner of the re-created node");
        node.setData(b("changed"));
        until(() -> {
            try {
                sync(other, p);
                return "changed".equals(s(other.getData().forPath(p)));
            } catch (Exception e) {
                return false;
            }
        }, "setData through the recipe");
        node.close();
        until(() -> {
            try {
                sync(other, p);
                return other.checkExists().forPath(p) == null;
            } catch (Exception e) {
                return false;
            }
        }, "the node to go on close");
    }

    static void queue() throws Exception {
        String p = path("queue");
        BlockingQueue<String> got = new LinkedBlockingQueue<>();
        QueueSerializer<String> ser = new QueueSerializer<>() {
            @Override
            public byte[] serialize(String item) {
                return b(item);
            }

            @Override
            public String deserialize(byte[] bytes) {
                return s(bytes);
            }
        };
        QueueConsumer<String> consumer = new QueueConsumer<>() {
            @Override
            public void consumeMessage(String message) {
                got.add(message);
            }

            @Override
            public void stateChanged(CuratorFramework c, ConnectionState s) {
            }
        };
        DistributedQueue<String> consumerQ = QueueBuilder.builder(client(1), consumer, ser, p).buildQueue();
        DistributedQueue<String> producerQ = QueueBuilder.builder(client(0), null, ser, p).buildQueue();
        consumerQ.start();
        producerQ.start();
        int n = 20;
        for (int i = 0; i < n; i++) {
            producerQ.put("item-" + i);
        }
        List<String> items = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            items.add(take(got, "item " + i));
        }
        List<String> want = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            want.add("item-" + i);
        }
        equal(items, want, "items in the order they were put");
        CuratorFramework observer = client(2);
        until(() -> {
            try {
                return observer.getChildren().forPath(p).isEmpty();
            } catch (Exception e) {
                return false;
            }
        }, "the queue to be empty");
        producerQ.close();
        consumerQ.close();
    }

    static void groupMember() throws Exception {
        String p = path("group");
        GroupMember a = new GroupMember(client(0), p, "a", b("pa"));
        GroupMember bm = new GroupMember(client(1), p, "b", b("pb"));
        a.start();
        bm.start();
        until(() -> a.getCurrentMembers().size() == 2 && bm.getCurrentMembers().size() == 2, "two members seen by both");
        equal(s(a.getCurrentMembers().get("b")), "pb", "payload of b seen by a");
        bm.close();
        until(() -> a.getCurrentMembers().size() == 1, "b to leave");
        a.close();
    }
}
