package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"slices"
	"testing"
)

// bigPayload is a txn of n bytes whose content depends on z.
func bigPayload(z int64, n int) []byte {
	b := bytes.Repeat([]byte{byte(z), byte(z >> 8)}, n/2+1)
	return b[:n]
}

// replayAll returns every entry Replay delivers after `after`.
func replayAll(t *testing.T, s *Store, after int64) []Entry {
	t.Helper()
	var got []Entry
	if err := s.Replay(after, func(e Entry) error { got = append(got, e); return nil }); err != nil {
		t.Fatalf("Replay(0x%x): %v", after, err)
	}
	return got
}

func sameEntries(t *testing.T, what string, got, want []Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d entries, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i].Zxid != want[i].Zxid || !bytes.Equal(got[i].Data, want[i].Data) {
			t.Fatalf("%s: entry %d is 0x%x (%d bytes), want 0x%x (%d bytes)", what, i,
				got[i].Zxid, len(got[i].Data), want[i].Zxid, len(want[i].Data))
		}
	}
}

// TestBlocksPackTxns: small txns of a range share one bolt value (the
// range's head); the txns after a full head get one value each.
func TestBlocksPackTxns(t *testing.T) {
	s := openNoMove(t, t.TempDir(), nil, 0)
	mustAppend(t, s, seq(1, 1, 600)...)
	s.flush(t)
	has := func(key uint64) bool {
		_, err := s.readBlock(s.bolt, key, key)
		return err == nil
	}
	for _, k := range []uint64{uint64(zx(1, 0)), uint64(zx(1, 0x100)), uint64(zx(1, 0x200))} {
		if !has(k) {
			t.Errorf("no head block under 0x%x", k)
		}
	}
	for _, k := range []uint64{uint64(zx(1, 1)), uint64(zx(1, 2)), uint64(zx(1, 0x101)), uint64(zx(1, 0x258))} {
		if has(k) {
			t.Errorf("a block under 0x%x, inside a head's range", k)
		}
	}
	// Large txns: the head takes them up to blockMaxBytes, then singles.
	var big []Entry
	for c := int64(1); c <= 10; c++ {
		big = append(big, Entry{Zxid: zx(2, c), Data: bigPayload(c, 100<<10)})
	}
	if err := s.Append(big); err != nil {
		t.Fatal(err)
	}
	s.flush(t)
	if !has(uint64(zx(2, 0))) || has(uint64(zx(2, 2))) || !has(uint64(zx(2, 3))) || !has(uint64(zx(2, 10))) {
		t.Errorf("large txns: want a head holding 2 txns, then single blocks")
	}
	sameEntries(t, "replay", replayAll(t, s, zx(1, 600)), big)
	sameEntries(t, "replay from a single", replayAll(t, s, zx(2, 4)), big[4:])
}

// TestTruncateFinishedAfterCrash: a TruncateAfter interrupted between its
// bolt transactions (the cut recorded, the blocks after it deleted, the
// head not yet rewritten) is finished by the next Open.
func TestTruncateFinishedAfterCrash(t *testing.T) {
	dir := t.TempDir()
	s := openNoMove(t, dir, nil, 0)
	mustAppend(t, s, seq(1, 1, 600)...)
	s.flush(t)
	// As TruncateAfter: the WAL goes first, then the cut is recorded.
	s.walMu.Lock()
	s.boltMu.Lock()
	err := s.dropWALLocked()
	s.boltMu.Unlock()
	s.walMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	if err := s.setStableLocked(truncateKey, uint64(zx(1, 0x120))+1); err != nil {
		t.Fatal(err)
	}
	s.mu.Unlock()
	if err := s.bolt.DeleteRange(uint64(zx(1, 0x101)), ^uint64(0)); err != nil {
		t.Fatal(err)
	}
	s.crash()
	s2 := openT(t, dir, "")
	if got := replayed(t, s2, 0); !slices.Equal(got, seq(1, 1, 0x120)) {
		t.Fatalf("after the finished truncation: %d entries, last 0x%x", len(got), s2.LastZxid())
	}
	mustAppend(t, s2, seq(2, 1, 3)...)
	_ = s2.Close()
	s3 := openT(t, dir, "")
	if got := replayed(t, s3, 0); !slices.Equal(got, append(seq(1, 1, 0x120), seq(2, 1, 3)...)) {
		t.Fatalf("after reopen: %d entries", len(got))
	}
}

// TestBlocksRandomModel runs random appends (gaps, epochs, small and
// large txns), moves, truncations, purges, crashes and reopens against a
// model of the log; Replay from random points must match it throughout.
func TestBlocksRandomModel(t *testing.T) {
	rounds := 300
	if testing.Short() {
		rounds = 60
	}
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			dir := t.TempDir()
			s := openNoMove(t, dir, nil, 0)
			var model []Entry
			epoch, counter := int64(1), int64(0)
			last := func() int64 {
				if len(model) == 0 {
					return 0
				}
				return model[len(model)-1].Zxid
			}
			for r := range rounds {
				switch op := rng.IntN(20); {
				case op < 11: // append a batch
					var es []Entry
					for range 1 + rng.IntN(300) {
						switch rng.IntN(200) {
						case 0:
							epoch++
							counter = rng.Int64N(600)
						case 1:
							counter += 1 + rng.Int64N(300) // a gap
						}
						counter++
						z := zx(epoch, counter)
						size := rng.IntN(200)
						if rng.IntN(40) == 0 {
							size = rng.IntN(200 << 10)
						}
						es = append(es, Entry{Zxid: z, Data: bigPayload(z, size)})
					}
					if err := s.Append(es); err != nil {
						t.Fatalf("round %d: %v", r, err)
					}
					model = append(model, es...)
				case op < 14:
					s.flush(t)
				case op < 16 && len(model) > 0: // truncate
					z := model[rng.IntN(len(model))].Zxid
					if rng.IntN(4) == 0 {
						z-- // maybe not present
					}
					if err := s.TruncateAfter(z); err != nil {
						t.Fatalf("round %d: TruncateAfter(0x%x): %v", r, z, err)
					}
					n, _ := slices.BinarySearchFunc(model, z+1, func(e Entry, z int64) int { return int(max(-1, min(1, e.Zxid-z))) })
					model = model[:n]
					if len(model) > 0 {
						epoch, counter = model[len(model)-1].Zxid>>32, model[len(model)-1].Zxid&0xffffffff
					}
					epoch++ // ZAB: a new epoch after a TRUNC
					counter = 0
				case op < 18 && len(model) > 1: // purge
					z := model[rng.IntN(len(model))].Zxid
					if _, err := s.purgeLogThrough(uint64(z)); err != nil {
						t.Fatalf("round %d: purge through 0x%x: %v", r, z, err)
					}
					bound := min(z, last()-1)
					n, _ := slices.BinarySearchFunc(model, bound+1, func(e Entry, z int64) int { return int(max(-1, min(1, e.Zxid-z))) })
					model = model[n:]
				case op < 19: // crash
					s.crash()
					s = openNoMove(t, dir, nil, 0)
				default:
					_ = s.Close()
					s = openNoMove(t, dir, nil, 0)
				}
				if s.LastZxid() != last() {
					t.Fatalf("round %d: LastZxid 0x%x, model 0x%x", r, s.LastZxid(), last())
				}
				var from int64
				if len(model) > 0 && rng.IntN(2) == 0 {
					from = model[rng.IntN(len(model))].Zxid
				}
				n, _ := slices.BinarySearchFunc(model, from+1, func(e Entry, z int64) int { return int(max(-1, min(1, e.Zxid-z))) })
				sameEntries(t, fmt.Sprintf("round %d: Replay(0x%x)", r, from), replayAll(t, s, from), model[n:])
			}
		})
	}
}

func TestZxidCRC(t *testing.T) {
	for _, z := range []uint64{0, 1, 0x100000001, 0xfedcba9876543210, ^uint64(0)} {
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], z)
		if got, want := zxidCRC(z), crc32.Checksum(k[:], castagnoli); got != want {
			t.Errorf("zxidCRC(0x%x) = %08x, want %08x", z, got, want)
		}
	}
}

// TestDeletionFailsHalfWay: a TruncateAfter or Purge whose rewrite of the
// block holding the cut fails (after the other blocks were deleted) leaves
// an in-memory view that matches bolt (Replay reports no missing txn), and
// the truncation is finished by the next Open.
func TestDeletionFailsHalfWay(t *testing.T) {
	dir := t.TempDir()
	s := openNoMove(t, dir, nil, 0)
	mustAppend(t, s, seq(1, 1, 600)...)
	s.flush(t)
	// Purge through 0x120: the blocks before 0x100 go, the rewrite fails.
	s.faults.boltErr.Store(&ErrInjected)
	if _, err := s.purgeLogThrough(uint64(zx(1, 0x120))); !errors.Is(err, ErrInjected) {
		t.Fatalf("purge with a failing rewrite: %v", err)
	}
	if got := replayed(t, s, 0); !slices.Equal(got, seq(1, 0x100, 600)) {
		t.Fatalf("after the failed purge: %d entries from 0x%x", len(got), s.FirstZxid())
	}
	// Truncate after 0x150: the later blocks go, the rewrite fails.
	if err := s.TruncateAfter(zx(1, 0x150)); !errors.Is(err, ErrInjected) {
		t.Fatalf("truncate with a failing rewrite: %v", err)
	}
	if got := replayed(t, s, 0); !slices.Equal(got, seq(1, 0x100, 0x1ff)) {
		t.Fatalf("after the failed truncation: %d entries, last 0x%x", len(got), s.LastZxid())
	}
	if err := s.Append(entries(zx(2, 1))); err == nil {
		t.Fatal("Append succeeded while a truncation is half done")
	}
	s.faults.boltErr.Store(nil)
	s.crash()
	s2 := openT(t, dir, "")
	if got := replayed(t, s2, 0); !slices.Equal(got, seq(1, 0x100, 0x150)) {
		t.Fatalf("after reopen: %d entries, last 0x%x", len(got), s2.LastZxid())
	}
	mustAppend(t, s2, zx(2, 1))
	// A retried TruncateAfter finishes the cut in the same process.
	s3 := openNoMove(t, t.TempDir(), nil, 0)
	mustAppend(t, s3, seq(1, 1, 600)...)
	s3.flush(t)
	s3.faults.boltErr.Store(&ErrInjected)
	if err := s3.TruncateAfter(zx(1, 0x150)); !errors.Is(err, ErrInjected) {
		t.Fatalf("truncate with a failing rewrite: %v", err)
	}
	s3.faults.boltErr.Store(nil)
	if err := s3.TruncateAfter(zx(1, 0x150)); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s3, zx(2, 1))
	if got := replayed(t, s3, 0); !slices.Equal(got, append(seq(1, 1, 0x150), zx(2, 1))) {
		t.Fatalf("after the retried truncation: %d entries, last 0x%x", len(got), s3.LastZxid())
	}
}
