package storage

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"testing"
)

// TestConcurrentUse runs appends against replays, snapshots, purges and
// size queries (run with -race). Every replay must see a gap-free prefix.
func TestConcurrentUse(t *testing.T) {
	s := openT(t, t.TempDir(), "")
	const n = 2000
	var wg sync.WaitGroup
	done := make(chan struct{})
	errc := make(chan error, 8)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for z := int64(1); z <= n; z += 10 {
			if err := s.Append(entries(seq(0, z, z+9)...)); err != nil {
				errc <- err
				return
			}
		}
	}()
	wg.Add(1)
	go func() { // replays: a prefix without holes
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			last := s.LastZxid()
			first := s.FirstZxid()
			var want int64
			err := s.Replay(0, func(e Entry) error {
				if want == 0 {
					if e.Zxid < first {
						return fmt.Errorf("replay began at 0x%x, FirstZxid was 0x%x", e.Zxid, first)
					}
					want = e.Zxid
				}
				if e.Zxid != want || !bytes.Equal(e.Data, payload(e.Zxid)) {
					return fmt.Errorf("replay: got 0x%x, want 0x%x", e.Zxid, want)
				}
				want++
				return nil
			})
			if err != nil {
				errc <- err
				return
			}
			if last > 0 && want-1 < last {
				errc <- fmt.Errorf("replay stopped at 0x%x, LastZxid was 0x%x", want-1, last)
				return
			}
		}
	}()
	wg.Add(1)
	go func() { // snapshots and purges
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			z := s.LastZxid()
			if err := s.WriteSnapshot(z, func(w io.Writer) error {
				_, err := w.Write(snapBody(z, 512))
				return err
			}); err != nil {
				errc <- err
				return
			}
			if i%3 == 2 {
				if err := s.Purge(3); err != nil {
					errc <- err
					return
				}
			}
			if _, r, ok, err := s.LatestSnapshot(); err != nil {
				errc <- err
				return
			} else if ok {
				_, _ = io.Copy(io.Discard, r)
				_ = r.Close()
			}
			_ = s.DataDirSize() + s.LogDirSize()
		}
	}()
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if s.LastZxid() != n {
		t.Fatalf("LastZxid = %d, want %d", s.LastZxid(), n)
	}
}
