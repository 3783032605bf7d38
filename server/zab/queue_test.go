package zab

import (
	"context"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/zkgo/zkgo/server/storage"
)

// appendHere logs on the caller when the appender is idle, reports the
// outcome before it returns, and declines while a batch is being
// written; mixed with append, the log keeps zxid order and onDurable
// never goes backwards.
func TestAppenderAppendHere(t *testing.T) {
	st := openLog(t, 0)
	var mu sync.Mutex
	var durables []int64
	ap := newAppender(st, 0, func(z int64) {
		mu.Lock()
		durables = append(durables, z)
		mu.Unlock()
	}, func(err error) { t.Errorf("append failed: %v", err) })
	defer ap.stop()

	e := func(c int64) storage.Entry { return storage.Entry{Zxid: z(1, c), Data: []byte{byte(c)}} }
	if !ap.appendHere(e(1)) {
		t.Fatal("appendHere on an idle appender declined")
	}
	mu.Lock()
	got := append([]int64(nil), durables...)
	mu.Unlock()
	if len(got) != 1 || got[0] != z(1, 1) {
		t.Fatalf("after appendHere returned, onDurable saw %x, want [%x]", got, z(1, 1))
	}

	// Bursts through the queue, each followed by an entry written on the
	// caller once the appender is idle again: order holds throughout.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for c := int64(2); c <= 200; c++ {
		if c%10 != 0 {
			ap.append(e(c))
			continue
		}
		for !ap.appendHere(e(c)) {
			if ctx.Err() != nil {
				t.Fatalf("the appender never became idle after %x", c-1)
			}
			runtime.Gosched()
		}
	}
	if err := ap.waitDurable(ctx, z(1, 200)); err != nil {
		t.Fatal(err)
	}
	var logged []int64
	if err := st.Replay(0, func(e storage.Entry) error {
		logged = append(logged, e.Zxid)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(logged) != 200 {
		t.Fatalf("log holds %d txns, want 200", len(logged))
	}
	for i, x := range logged {
		if x != z(1, int64(i+1)) {
			t.Fatalf("log entry %d is %x, want %x", i, x, z(1, int64(i+1)))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i := 1; i < len(durables); i++ {
		if durables[i] <= durables[i-1] {
			t.Fatalf("onDurable went from %x to %x", durables[i-1], durables[i])
		}
	}
	if last := durables[len(durables)-1]; last != z(1, 200) {
		t.Fatalf("last onDurable %x, want %x", last, z(1, 200))
	}
}

// recordingSM records the zxids applied; block, when set, holds Apply of
// that zxid until it is closed.
type recordingSM struct {
	mu      sync.Mutex
	applied []int64
	blockAt int64
	block   chan struct{}
	entered chan struct{}
}

func (m *recordingSM) Apply(e storage.Entry) {
	if e.Zxid == m.blockAt {
		close(m.entered)
		<-m.block
	}
	m.mu.Lock()
	m.applied = append(m.applied, e.Zxid)
	m.mu.Unlock()
}

func (m *recordingSM) Snapshot(io.Writer) (int64, error) { return 0, nil }
func (m *recordingSM) Restore(int64, io.Reader) error    { return nil }
func (m *recordingSM) LastApplied() int64                { return 0 }

func (m *recordingSM) list() []int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int64(nil), m.applied...)
}

// applyHere applies on the caller when the applier is idle; while the
// applier goroutine is busy it leaves the work to it; order holds.
func TestApplierApplyHere(t *testing.T) {
	sm := &recordingSM{blockAt: z(1, 2), block: make(chan struct{}), entered: make(chan struct{})}
	a := newApplier(&Peer{sm: sm})
	a.start()
	defer a.stop()
	e := func(c int64) []storage.Entry { return []storage.Entry{{Zxid: z(1, c)}} }

	a.add(e(1))
	a.applyHere()
	if got := sm.list(); len(got) != 1 || a.applied.Load() != z(1, 1) {
		t.Fatalf("after applyHere returned, applied %x (applied mark %x), want [%x]", got, a.applied.Load(), z(1, 1))
	}

	// The applier goroutine takes zxid 2 and blocks in Apply.
	a.enqueue(e(2))
	select {
	case <-sm.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the applier goroutine did not start applying")
	}
	a.add(e(3))
	a.applyHere() // busy: must not apply 3 ahead of 2
	if got := sm.list(); len(got) != 1 {
		t.Fatalf("applyHere applied while the applier was busy: %x", got)
	}
	close(sm.block)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.waitApplied(ctx, z(1, 3)); err != nil {
		t.Fatal(err)
	}
	want := []int64{z(1, 1), z(1, 2), z(1, 3)}
	got := sm.list()
	if len(got) != len(want) {
		t.Fatalf("applied %x, want %x", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("applied %x, want %x", got, want)
		}
	}
}

// send writes on the caller when the queue is idle and queues behind
// whatever is pending otherwise: the peer gets every packet, in order.
func TestSendQueueSendKeepsOrder(t *testing.T) {
	a, b := net.Pipe()
	local, remote := NewStreamConn(a), NewStreamConn(b)
	defer remote.Close()
	q := newSendQueue()
	done := make(chan struct{})
	go func() {
		defer close(done)
		q.writeLoop(local)
	}()
	got := make(chan int64, 100)
	go func() {
		for {
			f, err := remote.Recv()
			if err != nil {
				close(got)
				return
			}
			p, err := UnmarshalPacket(f)
			if err != nil {
				t.Errorf("bad packet: %v", err)
				close(got)
				return
			}
			got <- p.Zxid
		}
	}()
	// Wait until the writer has registered the connection, so that send
	// can write directly.
	deadline := time.Now().Add(10 * time.Second)
	for {
		q.mu.Lock()
		ready := q.conn != nil
		q.mu.Unlock()
		if ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("writeLoop did not start")
		}
		time.Sleep(time.Millisecond)
	}
	for i := int64(1); i <= 60; i++ {
		if i%4 == 0 {
			q.push(Packet{Type: PacketAck, Zxid: i})
		} else {
			q.send(Packet{Type: PacketAck, Zxid: i})
		}
	}
	for i := int64(1); i <= 60; i++ {
		select {
		case x, ok := <-got:
			if !ok {
				t.Fatalf("connection ended after %d packets", i-1)
			}
			if x != i {
				t.Fatalf("packet %d arrived as number %d", x, i)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("packet %d did not arrive", i)
		}
	}
	q.close()
	<-done
}
