package zabtest

import (
	"io"
	"testing"

	"github.com/zkgo/zkgo/server/storage"
)

// What a learner's store goes through when a leader sends SNAP twice, the
// second time from a leader whose applied state is older than the first
// snapshot (a new leader applies its log only once the ensemble has
// established it). The nemesis found members that could not restart
// after that: "no usable snapshot ... the txn log only holds the history
// after <first snapshot>". After SNAP the log starts at the new snapshot.
func TestSnapFromAnOlderLeaderStateRestarts(t *testing.T) {
	dir := t.TempDir()
	st, err := storage.Open(dir, "", storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	snap := func(z int64) {
		t.Helper()
		// The learner's SNAP: clear the log and snapshots, write the leader's.
		if err := st.TruncateAfter(0); err != nil {
			t.Fatal(err)
		}
		if err := st.WriteSnapshot(z, func(w io.Writer) error { _, err := w.Write([]byte("state")); return err }); err != nil {
			t.Fatal(err)
		}
	}
	appendRange := func(from, to int64) {
		t.Helper()
		var es []storage.Entry
		for z := from; z <= to; z++ {
			es = append(es, storage.Entry{Zxid: z, Data: []byte("x")})
		}
		if err := st.Append(es); err != nil {
			t.Fatal(err)
		}
	}
	snap(0x100000064)
	appendRange(0x100000065, 0x100000070)
	snap(0x100000032) // the second leader's applied state is older
	appendRange(0x100000033, 0x100000040)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = storage.Open(dir, "", storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	z, body, ok, err := st.LatestSnapshot()
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	if !ok || z != 0x100000032 {
		t.Fatalf("restart: snapshot 0x%x (ok %v), want 0x100000032", z, ok)
	}
	body.Close()
	n := 0
	if err := st.Replay(z, func(storage.Entry) error { n++; return nil }); err != nil || n != 14 {
		t.Fatalf("replay after the snapshot: %d entries, %v; want 14", n, err)
	}
}
