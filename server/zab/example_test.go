package zab_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/zkgo/zkgo/server/storage"
	"github.com/zkgo/zkgo/server/zab"
)

// counterSM is the smallest StateMachine: it counts applied txns.
type counterSM struct {
	mu      sync.Mutex
	n, last int64
	applied chan int64
}

func (s *counterSM) Apply(e storage.Entry) {
	s.mu.Lock()
	s.n, s.last = s.n+1, e.Zxid
	s.mu.Unlock()
	s.applied <- e.Zxid // the server would answer the client waiting for e.Zxid here
}
func (s *counterSM) Snapshot(w io.Writer) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := fmt.Fprintf(w, "%d", s.n)
	return s.last, err
}
func (s *counterSM) Restore(zxid int64, r io.Reader) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = zxid
	_, err := fmt.Fscan(r, &s.n)
	return err
}
func (s *counterSM) LastApplied() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// A standalone server is an ensemble of one: Run elects it at once, and
// Propose commits and applies on the same path an ensemble uses.
func Example() {
	dir, _ := os.MkdirTemp("", "zab-example")
	defer os.RemoveAll(dir)
	st, err := storage.Open(dir, "", storage.Options{ForceSync: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close()
	sm := &counterSM{applied: make(chan int64, 1)}
	serving := make(chan struct{}, 1)
	p, err := zab.New(zab.Config{MyID: 1, TickTime: 100 * time.Millisecond, Store: st, SM: sm})
	if err != nil {
		fmt.Println(err)
		return
	}
	p.OnStateChange(func(s zab.Status) {
		if s.Serving {
			serving <- struct{}{}
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	<-serving
	zxid, err := p.Propose([]byte("create /a"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("proposed 0x%x, applied 0x%x\n", zxid, <-sm.applied)
	fmt.Println(p.Status().PeerState)
	// Output:
	// proposed 0x100000001, applied 0x100000001
	// leading - broadcast
}
