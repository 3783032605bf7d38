package zabtest

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/zkgo/zkgo/server/storage"
)

// FSM is a StateMachine that records every entry it applied, in order.
type FSM struct {
	mu      sync.Mutex
	entries []storage.Entry
	last    int64
	errs    []string
}

// NewFSM returns an empty FSM.
func NewFSM() *FSM { return &FSM{} }

// Apply records e; an entry out of zxid order is recorded as an error.
func (f *FSM) Apply(e storage.Entry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e.Zxid <= f.last {
		f.errs = append(f.errs, fmt.Sprintf("apply 0x%x after 0x%x", e.Zxid, f.last))
	}
	f.entries = append(f.entries, storage.Entry{Zxid: e.Zxid, Data: slices.Clone(e.Data)})
	f.last = e.Zxid
}

// Snapshot writes the entries: count, then zxid, length, data of each.
func (f *FSM) Snapshot(w io.Writer) (int64, error) {
	f.mu.Lock()
	es := slices.Clone(f.entries)
	last := f.last
	f.mu.Unlock()
	bw := bufio.NewWriter(w)
	var b [12]byte
	binary.BigEndian.PutUint64(b[:], uint64(len(es)))
	if _, err := bw.Write(b[:8]); err != nil {
		return 0, err
	}
	for _, e := range es {
		binary.BigEndian.PutUint64(b[:], uint64(e.Zxid))
		binary.BigEndian.PutUint32(b[8:], uint32(len(e.Data)))
		if _, err := bw.Write(b[:]); err != nil {
			return 0, err
		}
		if _, err := bw.Write(e.Data); err != nil {
			return 0, err
		}
	}
	return last, bw.Flush()
}

// Restore replaces the entries with a snapshot's.
func (f *FSM) Restore(zxid int64, r io.Reader) error {
	var b [12]byte
	if _, err := io.ReadFull(r, b[:8]); err != nil {
		return fmt.Errorf("fsm restore: %w", err)
	}
	n := binary.BigEndian.Uint64(b[:])
	var es []storage.Entry
	for range n {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return fmt.Errorf("fsm restore: %w", err)
		}
		d := make([]byte, binary.BigEndian.Uint32(b[8:]))
		if _, err := io.ReadFull(r, d); err != nil {
			return fmt.Errorf("fsm restore: %w", err)
		}
		es = append(es, storage.Entry{Zxid: int64(binary.BigEndian.Uint64(b[:])), Data: d})
	}
	f.mu.Lock()
	f.entries, f.last = es, zxid
	f.mu.Unlock()
	return nil
}

// LastApplied is the zxid of the last entry applied or restored.
func (f *FSM) LastApplied() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

// Entries returns a copy of what was applied.
func (f *FSM) Entries() []storage.Entry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.entries)
}

// Errors lists the order violations seen.
func (f *FSM) Errors() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.errs)
}
