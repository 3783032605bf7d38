package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/internal/testwait"
	"github.com/zkgo/zkgo/server/config"
)

type quietZKLogger struct{}

func (quietZKLogger) Printf(string, ...any) {}

// startPipelineServer runs a standalone server on dataDir (forceSync on, so
// every group commit writes and syncs the WAL).
func startPipelineServer(t *testing.T, dataDir string, opts ...func(*config.Config)) (*Server, string, func()) {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir, cfg.DataLogDir = dataDir, dataDir
	cfg.TickTime = 200 * time.Millisecond
	cfg.MinSessionTimeout, cfg.MaxSessionTimeout = 400*time.Millisecond, 4*time.Second
	cfg.ForceSync = true
	cfg.AdminEnableServer, cfg.MetricsEnabled = false, false
	for _, o := range opts {
		o(cfg)
	}
	logger := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	s, err := New(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(context.Background(), ln) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			s.Close()
			if err := <-done; err != nil && !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return s, ln.Addr().String(), stop
}

func connectZK(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	c, ev, err := zk.Connect([]string{addr}, 4*time.Second, zk.WithLogger(quietZKLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.State == zk.StateHasSession {
				go func() {
					for range ev {
					}
				}()
				return c
			}
		case <-deadline:
			t.Fatal("no session within 10s")
		}
	}
}

func isNotReadOnly(err error) bool { return err != nil && strings.Contains(err.Error(), "-119") }

// TestLogWriteFailureRefusesWrites: when the txn log cannot be written (a
// full disk, injected below the WAL), writes under load get NOTREADONLY and
// are not applied, reads and the connections go on, srvr/mntr say
// read-only; writes resume by themselves once the disk takes them, the
// prep state was rolled back (sequence numbers and versions continue from
// what was logged), and every acknowledged write survives a restart.
func TestLogWriteFailureRefusesWrites(t *testing.T) {
	dir := t.TempDir()
	s, addr, stop := startPipelineServer(t, dir)
	c := connectZK(t, addr)
	if _, err := c.Create("/seq", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	first, err := c.Create("/seq/s-", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		t.Fatal(err)
	}

	const writers = 4
	var mu sync.Mutex
	acked := map[string]int{}   // node -> last acknowledged value
	refused := map[string]int{} // node -> refused writes
	var refusedTotal, ackedAfterHeal int
	healed := make(chan struct{})
	stopWriters := make(chan struct{})
	var wg sync.WaitGroup
	errc := make(chan error, writers)
	for w := range writers {
		wc := connectZK(t, addr)
		p := fmt.Sprintf("/w%d", w)
		if _, err := wc.Create(p, []byte("0"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; ; i++ {
				select {
				case <-stopWriters:
					errc <- nil
					return
				default:
				}
				_, err := wc.Set(p, []byte(fmt.Sprint(i)), -1)
				mu.Lock()
				switch {
				case err == nil:
					acked[p] = i
					select {
					case <-healed:
						ackedAfterHeal++
					default:
					}
				case isNotReadOnly(err):
					refused[p]++
					refusedTotal++
				default:
					mu.Unlock()
					errc <- fmt.Errorf("set %s: %w", p, err)
					return
				}
				mu.Unlock()
			}
		}()
	}
	testwait.For(t, "writes acknowledged", func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) == writers })

	s.store.InjectWriteError(syscall.ENOSPC)
	testwait.For(t, "writes refused", func() bool { mu.Lock(); defer mu.Unlock(); return refusedTotal >= 20 })
	if st := s.View().Stats(); st.Mode != "read-only" {
		t.Errorf("srvr Mode while refusing = %q, want read-only", st.Mode)
	}
	if m := s.logFaultMetrics(); m[0].Value != int64(1) {
		t.Errorf("mntr zk_zkgo_writes_refused = %v, want 1", m[0].Value)
	}
	// Reads and the client's own connection go on; its writes fail.
	mu.Lock()
	snapshot := map[string]int{}
	for p, v := range acked {
		snapshot[p] = v
	}
	mu.Unlock()
	for p := range snapshot {
		data, _, err := c.Get(p)
		if err != nil {
			t.Fatalf("read %s while refusing writes: %v", p, err)
		}
		if n, err := strconv.Atoi(string(data)); err != nil || n < snapshot[p] {
			t.Errorf("read %s = %s, but %d was acknowledged", p, data, snapshot[p])
		}
	}
	if _, err := c.Create("/seq/s-", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll)); !isNotReadOnly(err) {
		t.Fatalf("sequential create while refusing: %v, want NOTREADONLY (-119)", err)
	}
	if _, err := c.Create("/never", nil, 0, zk.WorldACL(zk.PermAll)); !isNotReadOnly(err) {
		t.Fatalf("create while refusing: %v, want NOTREADONLY (-119)", err)
	}

	// A new session is a write: its handshake is refused (closed) again
	// and again, and succeeds once the disk heals.
	nc, ev, err := zk.Connect([]string{addr}, 4*time.Second, zk.WithLogger(quietZKLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for closed := 0; closed < 3; {
		select {
		case e := <-ev:
			switch e.State {
			case zk.StateHasSession:
				t.Fatal("a new session was created while writes are refused")
			case zk.StateDisconnected:
				closed++
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the refused handshake neither closed nor succeeded")
		}
	}

	s.store.InjectWriteError(nil)
	close(healed)
	for got := false; !got; {
		select {
		case e := <-ev:
			got = e.State == zk.StateHasSession
		case <-time.After(20 * time.Second):
			t.Fatal("no new session after the disk healed")
		}
	}
	go func() {
		for range ev {
		}
	}()
	testwait.For(t, "writes accepted again", func() bool {
		select {
		case err := <-errc:
			t.Fatalf("writer: %v", err)
		default:
		}
		mu.Lock()
		defer mu.Unlock()
		return ackedAfterHeal >= 20
	})
	if st := s.View().Stats(); st.Mode != "standalone" {
		t.Errorf("srvr Mode after the disk healed = %q, want standalone", st.Mode)
	}
	close(stopWriters)
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	// The refused sequential create consumed no sequence number.
	second, err := c.Create("/seq/s-", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		t.Fatal(err)
	}
	if first != "/seq/s-0000000000" || second != "/seq/s-0000000001" {
		t.Errorf("sequential creates around the refusal: %s, %s; want s-0000000000, s-0000000001", first, second)
	}
	if ok, _, _ := c.Exists("/never"); ok {
		t.Error("a refused create was applied")
	}
	t.Logf("refused %d writes; per node %v", refusedTotal, refused)

	// With no write coming, the state ends by itself once the disk heals.
	s.store.InjectWriteError(syscall.ENOSPC)
	if _, err := c.Create("/never", nil, 0, zk.WorldACL(zk.PermAll)); !isNotReadOnly(err) {
		t.Fatalf("create on a full disk: %v, want NOTREADONLY (-119)", err)
	}
	s.store.InjectWriteError(nil)
	testwait.For(t, "srvr Mode standalone without a write", func() bool { return s.View().Stats().Mode == "standalone" })
	if _, err := c.Create("/after", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create after the probe ended the refusal: %v", err)
	}

	stop()
	_, addr, _ = startPipelineServer(t, dir)
	c2 := connectZK(t, addr)
	for p, v := range acked {
		data, _, err := c2.Get(p)
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != fmt.Sprint(v) {
			t.Errorf("after restart %s = %s, last acknowledged %d", p, data, v)
		}
	}
	if ok, _, _ := c2.Exists("/never"); ok {
		t.Error("a refused create is there after restart")
	}
}

// TestInlineAndGroupCommitInterleave: writes committed by their own
// connection's reader (a lone write, commitInline) and writes group-committed
// by the log loop (several clients at once) interleave without reordering or
// loss. Clients stop one after another, so the run goes from 6 concurrent
// writers down to one; every set's Stat must show the next version of its
// node and an mzxid above the client's previous one, and after a restart every
// node holds its last acknowledged value.
func TestInlineAndGroupCommitInterleave(t *testing.T) {
	dir := t.TempDir()
	s, addr, stop := startPipelineServer(t, dir)
	const clients = 6
	conns := make([]*zk.Conn, clients)
	for i := range conns {
		conns[i] = connectZK(t, addr)
		if _, err := conns[i].Create(fmt.Sprintf("/n%d", i), []byte("0"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Go(func() {
			path := fmt.Sprintf("/n%d", i)
			var prev int64
			for n := 1; n <= 60*(i+1); n++ {
				st, err := conns[i].Set(path, []byte(strconv.Itoa(n)), -1)
				if err != nil {
					errs <- fmt.Errorf("%s set %d: %w", path, n, err)
					return
				}
				if int(st.Version) != n {
					errs <- fmt.Errorf("%s set %d: version %d", path, n, st.Version)
					return
				}
				if st.Mzxid <= prev {
					errs <- fmt.Errorf("%s set %d: mzxid 0x%x after 0x%x", path, n, st.Mzxid, prev)
					return
				}
				prev = st.Mzxid
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if s.inlined.Load() == 0 {
		t.Fatal("no write was committed inline, though the last client wrote alone")
	}
	if s.inlined.Load() >= int64(60*clients*(clients+1)/2) {
		t.Fatal("every write was committed inline, though six clients wrote at once")
	}
	stop()
	_, addr, _ = startPipelineServer(t, dir)
	c := connectZK(t, addr)
	for i := range clients {
		data, st, err := c.Get(fmt.Sprintf("/n%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if want := strconv.Itoa(60 * (i + 1)); string(data) != want || int(st.Version) != 60*(i+1) {
			t.Errorf("/n%d after restart: %q version %d, want %q version %d", i, data, st.Version, want, 60*(i+1))
		}
	}
}
