package hostile

import (
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/wire"
)

// peakHeap samples the live heap (HeapAlloc right after a GC) until stop
// is called and returns the largest sample.
func peakHeap() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak.Load()
	}
}

// Clients that watch everything and never read: every change under /w
// queues a notification for each of them. The server must not buffer
// without bound: a client whose unsent output passes 4 × jute.maxbuffer is
// disconnected with a log line (zkgo's bound; Apache's NIOServerCnxn
// queues without one), its session stays, and a writer that reads its
// replies goes on.
func TestSlowReaderNotifications(t *testing.T) {
	const maxBuffer = 128 << 10 // bound: 512 KiB per connection
	e := start(t, func(c *config.Config) { c.JuteMaxBuffer = maxBuffer })
	if h, _ := e.session().call(wire.OpCreate, &wire.CreateRequest{Path: "/w", ACL: worldACL}); h.Err != wire.CodeOK {
		t.Fatalf("create /w: %v", h.Err)
	}
	const attackers = 3
	var slow []*raw
	for range attackers {
		c := e.dialFrom("", 4096)
		if resp, err := c.connect(&wire.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16)}); err != nil || resp.SessionID == 0 {
			t.Fatalf("connect: %+v %v", resp, err)
		}
		if h, _ := c.call(wire.OpAddWatch, &wire.AddWatchRequest{Path: "/w", Mode: wire.AddWatchPersistentRecursive}); h.Err != wire.CodeOK {
			t.Fatalf("addWatch: %v", h.Err)
		}
		slow = append(slow, c)
	}
	// A writer pipelines setData on nodes with long names (about 1 KiB per
	// notification) and reads its replies.
	w := e.session()
	name := "/w/" + strings.Repeat("n", 1000)
	if h, _ := w.call(wire.OpCreate, &wire.CreateRequest{Path: name, ACL: worldACL}); h.Err != wire.CodeOK {
		t.Fatalf("create: %v", h.Err)
	}
	stop := peakHeap()
	sent := 0
	disconnected := func() int {
		e.log.mu.Lock()
		defer e.log.mu.Unlock()
		n := 0
		for _, l := range e.log.lines {
			if strings.Contains(l, "client does not read its replies") {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(3 * ioTimeout) // a loaded machine writes slowly
	for disconnected() < attackers {
		if time.Now().After(deadline) {
			t.Fatalf("after %d writes (%d MiB of notifications per watcher) %d of %d slow readers were disconnected",
				sent, sent>>10, disconnected(), attackers)
		}
		// 100 writes in flight at a time: the write pipeline itself stays small.
		var batch []byte
		for range 100 {
			batch = append(batch, w.request(wire.OpSetData, &wire.SetDataRequest{Path: name, Data: []byte("d"), Version: -1})...)
		}
		if err := w.write(batch); err != nil {
			t.Fatalf("writer: %v", err)
		}
		for range 100 {
			f, err := w.readFrame()
			if err != nil {
				t.Fatalf("writer: %v", err)
			}
			d := wire.NewDecoder(f)
			var h wire.ReplyHeader
			h.Decode(d)
			if h.Err != wire.CodeOK {
				t.Fatalf("setData: %v", h.Err)
			}
		}
		sent += 100
	}
	peak := stop()
	t.Logf("%d writes; live heap peaked %d MiB over the start", sent, (peak-e.heap)>>20)
	// Each slow reader holds at most its queue (4 × jute.maxbuffer) plus a
	// batch of that size being written; the write pipeline and storage
	// (WAL records, the move into bbolt) hold tens of MiB for a while
	// under this write rate, whatever the readers do.
	limit := uint64(attackers*2*4*maxBuffer + 96<<20)
	if peak > e.heap+limit {
		t.Fatalf("heap peaked at %d MiB, %d MiB over the start (bound %d MiB)", peak>>20, (peak-e.heap)>>20, limit>>20)
	}
	// The slow readers' connections are closed; their sessions live on.
	for _, c := range slow {
		c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
		var err error
		for err == nil {
			_, err = c.readFrame()
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("a slow reader's connection is still open")
		}
		again := e.dial()
		if resp, err := again.connect(&wire.ConnectRequest{TimeOut: 4000, SessionID: c.session, Passwd: c.passwd}); err != nil || resp.SessionID != c.session {
			t.Fatalf("slow reader's session: %+v %v", resp, err)
		}
	}
	e.check()
	e.expectTree(map[string]*string{"/bystander": strp(strconv.Itoa(e.seq)), "/w": strp(""), name: strp("d")})
	e.expectHeap(32 << 20)
}

// A client that pipelines reads of a large node and never reads the
// replies: the server stops reading from it once its socket is full
// (replies are never queued beyond outLimit), so the client's writes
// block; the server's heap stays bounded and the others are served.
func TestSlowReaderRequests(t *testing.T) {
	e := start(t)
	c := e.session()
	big := make([]byte, 512<<10)
	if h, _ := c.call(wire.OpCreate, &wire.CreateRequest{Path: "/big", Data: big, ACL: worldACL}); h.Err != wire.CodeOK {
		t.Fatalf("create: %v", h.Err)
	}
	slow := e.dialFrom("", 4096)
	if resp, err := slow.connect(&wire.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16)}); err != nil || resp.SessionID == 0 {
		t.Fatalf("connect: %+v %v", resp, err)
	}
	received := func() int { return atoi(t, e.mntr()["zk_packets_received"]) }
	before := received()
	stop := peakHeap()
	// 2000 requests (42 KiB: the kernel's buffers take them all) asking
	// for 1000 MiB of replies.
	var batch []byte
	for range 2000 {
		batch = append(batch, slow.request(wire.OpGetData, &wire.PathWatchRequest{Path: "/big"})...)
	}
	if err := slow.write(batch); err != nil {
		t.Fatalf("write: %v", err)
	}
	// Other clients are served meanwhile (and the server gets time to
	// read whatever it would read).
	for range 50 {
		e.check()
	}
	peak := stop()
	// The bystander's 50 × 2 requests and the mntr queries count too.
	if n := received() - before; n > 500 {
		t.Fatalf("the server read %d requests of a client that reads no reply", n)
	}
	if peak > e.heap+32<<20 {
		t.Fatalf("live heap peaked %d MiB over the start", (peak-e.heap)>>20)
	}
	e.check()
	e.expectTree(map[string]*string{"/bystander": strp(strconv.Itoa(e.seq)), "/big": strp(string(big))})
	e.expectHeap(32 << 20)
}

// globalOutstandingLimit: while more requests than the limit are in
// flight server-wide, a connection that has requests of its own in flight
// is not read from (Apache 3.8: ServerCnxn.incrOutstandingAndCheckThrottle
// and ZooKeeperServer.shouldThrottle); a connection with none in flight is
// still read. So the count in flight (srvr's Outstanding, Apache's
// getInProcess) never passes the limit by more than one request per
// connection, and a client with nothing outstanding keeps being served.
func TestGlobalOutstandingLimit(t *testing.T) {
	const limit = 10
	e := start(t, func(c *config.Config) { c.GlobalOutstandingLimit = limit })
	const writers, each = 6, 400
	var peak atomic.Int64
	stopSampling := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		v := e.srv.View()
		for {
			if n := v.Stats().Outstanding; n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-stopSampling:
				return
			default:
				runtime.Gosched()
			}
		}
	}()
	errs := make(chan error, writers)
	for i := range writers {
		c := e.session()
		go func() {
			var batch []byte
			for j := range each {
				batch = append(batch, c.request(wire.OpCreate, &wire.CreateRequest{Path: fmt.Sprintf("/o%d-%d", i, j), ACL: worldACL})...)
			}
			go func() { _ = c.write(batch) }()
			for range each {
				f, err := c.readFrame()
				if err != nil {
					errs <- err
					return
				}
				d := wire.NewDecoder(f)
				var h wire.ReplyHeader
				h.Decode(d)
				if h.Err != wire.CodeOK {
					errs <- fmt.Errorf("create: %v", h.Err)
					return
				}
			}
			errs <- nil
		}()
	}
	e.check() // served during the flood: it has nothing in flight
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(stopSampling)
	sampler.Wait()
	// Each connection may add one request after the count fell to the
	// limit, the bystander included.
	if max := int64(limit + writers + 1); peak.Load() > max {
		t.Fatalf("%d requests in flight at the peak, limit %d with %d connections", peak.Load(), limit, writers+1)
	}
	if n := e.srv.View().Stats().Outstanding; n != 0 {
		t.Fatalf("%d requests still counted in flight after every reply", n)
	}
	e.check()
	changes := map[string]*string{"/bystander": strp(strconv.Itoa(e.seq))}
	for i := range writers {
		for j := range each {
			changes[fmt.Sprintf("/o%d-%d", i, j)] = strp("")
		}
	}
	e.expectTree(changes)
}

// A client that watches what it writes and reads nothing: it pipelines
// setData on a node under its own persistent recursive watch, so every
// write queues a reply and a notification for itself. The server stops
// reading from it (its reader blocks on the full socket, or the client is
// dropped past the output bound), so its writes stall; memory stays
// bounded, every write that got in is applied once, and when its session
// (400 ms) expires for want of requests the connection is closed.
func TestSlowReaderOwnNotifications(t *testing.T) {
	const maxBuffer = 128 << 10
	e := start(t, func(c *config.Config) { c.JuteMaxBuffer = maxBuffer })
	c := e.dialFrom("", 4096)
	if resp, err := c.connect(&wire.ConnectRequest{TimeOut: 400, Passwd: make([]byte, 16)}); err != nil || resp.SessionID == 0 {
		t.Fatalf("connect: %+v %v", resp, err)
	}
	name := "/self" + strings.Repeat("s", 1000)
	if h, _ := c.call(wire.OpCreate, &wire.CreateRequest{Path: name, ACL: worldACL}); h.Err != wire.CodeOK {
		t.Fatalf("create: %v", h.Err)
	}
	if h, _ := c.call(wire.OpAddWatch, &wire.AddWatchRequest{Path: name, Mode: wire.AddWatchPersistentRecursive}); h.Err != wire.CodeOK {
		t.Fatalf("addWatch: %v", h.Err)
	}
	stop := peakHeap()
	var batch []byte
	for range 100 {
		batch = append(batch, c.request(wire.OpSetData, &wire.SetDataRequest{Path: name, Data: []byte("d"), Version: -1})...)
	}
	sent := 0
	for ; sent < 200000; sent += 100 {
		c.nc.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := c.nc.Write(batch); err != nil {
			break // the server stopped reading, or closed
		}
	}
	if sent >= 200000 {
		t.Fatalf("the server read %d writes (%d MiB of replies and notifications) from a client that reads nothing", sent, sent>>10)
	}
	e.check()
	peak := stop()
	if peak > e.heap+96<<20 {
		t.Fatalf("live heap peaked %d MiB over the start", (peak-e.heap)>>20)
	}
	// The session expires and its connection is closed.
	c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	if _, err := io.Copy(io.Discard, c.nc); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the stalled client's connection stayed open")
		}
	}
	// Writes that got in are applied once: the version counts them.
	_, st, err := e.by.Get(name)
	if err != nil || st.Version <= 0 || int(st.Version) > sent+100 {
		t.Fatalf("version %d after %d writes sent (%v)", st.Version, sent, err)
	}
	e.check()
	e.expectTree(map[string]*string{"/bystander": strp(strconv.Itoa(e.seq)), name: strp("d")})
	e.expectHeap(32 << 20)
}
