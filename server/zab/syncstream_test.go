package zab

import (
	"io"
	"testing"

	"github.com/zkgo/zkgo/server/storage"
)

func z(epoch, c int64) int64 { return makeZxid(epoch, c) }

func openLog(t *testing.T, snapshot int64, zxids ...int64) *storage.Store {
	t.Helper()
	st, err := storage.Open(t.TempDir(), "", storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if snapshot > 0 {
		err := st.WriteSnapshot(snapshot, func(w io.Writer) error { _, err := w.Write([]byte("s")); return err })
		if err != nil {
			t.Fatal(err)
		}
	}
	var es []storage.Entry
	for _, x := range zxids {
		es = append(es, storage.Entry{Zxid: x, Data: []byte{1}})
	}
	if err := st.Append(es); err != nil {
		t.Fatal(err)
	}
	return st
}

// decideSync follows LearnerHandler.syncFollower: DIFF when the learner's
// last zxid is in the leader's history, TRUNC when the learner has txns
// the leader does not (then DIFF from the truncation point), SNAP when the
// log does not reach back far enough or the diff is too long.
func TestDecideSync(t *testing.T) {
	var hist []int64
	for c := int64(1); c <= 10; c++ {
		hist = append(hist, z(1, c))
	}
	for c := int64(1); c <= 5; c++ {
		hist = append(hist, z(3, c))
	}
	full := openLog(t, 0, hist...)
	purged := openLog(t, z(1, 5), hist[5:]...) // log starts at (1,6), snapshot at (1,5)
	tests := []struct {
		name    string
		st      *storage.Store
		peer    int64
		maxDiff int
		mode    syncMode
		from    int64
		planD   int64
		mem     []int64
		epoch   int64
		wantErr bool
	}{
		{name: "in sync", st: full, peer: z(3, 5), mode: syncDiff, from: z(3, 5)},
		{name: "behind in this epoch", st: full, peer: z(3, 2), mode: syncDiff, from: z(3, 2)},
		{name: "behind an epoch", st: full, peer: z(1, 10), mode: syncDiff, from: z(1, 10)},
		{name: "empty learner", st: full, peer: 0, mode: syncDiff, from: 0},
		{name: "empty learner, diff too long", st: full, peer: 0, maxDiff: 5, mode: syncSnap},
		{name: "uncommitted tail of an old epoch", st: full, peer: z(1, 12), mode: syncTrunc, from: z(1, 10)},
		{name: "epoch the leader never saw", st: full, peer: z(2, 3), mode: syncTrunc, from: z(1, 10)},
		{name: "ahead of the leader", st: full, peer: z(3, 7), mode: syncTrunc, from: z(3, 5)},
		{name: "from a future epoch", st: full, peer: z(5, 1), epoch: 4, wantErr: true},
		{name: "at the leader's snapshot", st: purged, peer: z(1, 5), mode: syncDiff, from: z(1, 5)},
		{name: "before the purged log", st: purged, peer: z(1, 3), mode: syncSnap},
		{name: "empty learner, log purged", st: purged, peer: 0, mode: syncSnap},
		{name: "in the unlogged proposals", st: full, planD: z(3, 3), mem: []int64{z(3, 4), z(3, 5)}, peer: z(3, 4), mode: syncDiff, from: z(3, 4)},
		{name: "diverged below the unlogged proposals", st: full, planD: z(3, 3), mem: []int64{z(3, 4), z(3, 5)}, peer: z(2, 9), mode: syncTrunc, from: z(1, 10)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			maxDiff := tc.maxDiff
			if maxDiff == 0 {
				maxDiff = 1000
			}
			p := &Peer{store: tc.st, cfg: Config{MaxDiffEntries: maxDiff}}
			plan := syncPlan{peerLast: tc.peer, planD: z(3, 5), planP: z(3, 5), epoch: 4}
			if tc.planD != 0 {
				plan.planD = tc.planD
			}
			for _, m := range tc.mem {
				plan.mem = append(plan.mem, storage.Entry{Zxid: m})
			}
			if tc.epoch != 0 {
				plan.epoch = tc.epoch
			}
			mode, from, err := p.decideSync(plan)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("got %s from 0x%x, want an error", mode, from)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if mode != tc.mode || (mode != syncSnap && from != tc.from) {
				t.Errorf("got %s from 0x%x, want %s from 0x%x", mode, from, tc.mode, tc.from)
			}
		})
	}
}
