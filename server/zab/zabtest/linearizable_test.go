package zabtest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

type kvInput struct {
	write      bool
	key, value string
}

type kvOutput struct{ value string }

// kvModel is one register per key (ZooKeeper's setData/getData on a
// znode, reduced to its essence).
var kvModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range h {
			k := op.Input.(kvInput).key
			byKey[k] = append(byKey[k], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range byKey {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		in := input.(kvInput)
		if in.write {
			return true, in.value
		}
		return output.(kvOutput).value == state.(string), state
	},
	DescribeOperation: func(input, output any) string {
		in := input.(kvInput)
		if in.write {
			return fmt.Sprintf("put(%s, %s)", in.key, in.value)
		}
		return fmt.Sprintf("get(%s) -> %s", in.key, output.(kvOutput).value)
	},
}

// readKey returns the last value written to key in what f applied.
func readKey(f *FSM, key string) string {
	v := ""
	for _, e := range f.Entries() {
		if k, val, ok := strings.Cut(string(e.Data), "="); ok && k == key {
			v = val
		}
	}
	return v
}

// Writes go through the leader; reads go to any member after Sync, as a
// ZooKeeper client does with sync+get. The history, across a leader
// crash and restart, must be linearizable.
func TestLinearizableWithSync(t *testing.T) {
	c := newCluster(t, Options{Voters: 3})
	c.StartAll()
	c.WaitLeader(c.IDs)
	start := time.Now()
	now := func() int64 { return time.Since(start).Nanoseconds() }
	var mu sync.Mutex
	var ops []porcupine.Operation
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const clients, perClient = 4, 25
	var wg sync.WaitGroup
	for cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(cl), 42))
			for i := range perClient {
				key := fmt.Sprint("k", rng.IntN(2))
				if rng.IntN(2) == 0 {
					val := fmt.Sprintf("c%d-%d", cl, i)
					call := now()
					wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
					_, ok := c.tryWrite(wctx, key+"="+val)
					wcancel()
					ret := now()
					if !ok {
						ret = math.MaxInt64 // it may or may not have happened
					}
					mu.Lock()
					ops = append(ops, porcupine.Operation{ClientId: cl, Input: kvInput{true, key, val}, Call: call, Output: kvOutput{}, Return: ret})
					mu.Unlock()
					continue
				}
				running := c.Running()
				m := c.Member(running[rng.IntN(len(running))])
				if m == nil {
					continue
				}
				call := now()
				sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
				err := m.Peer.Sync(sctx)
				scancel()
				if err != nil {
					continue // a failed read tells nothing
				}
				v := readKey(m.FSM, key)
				ret := now()
				mu.Lock()
				ops = append(ops, porcupine.Operation{ClientId: cl, Input: kvInput{false, key, ""}, Call: call, Output: kvOutput{v}, Return: ret})
				mu.Unlock()
			}
		}()
	}
	// Nemesis: crash the leader while clients run, then bring it back.
	l := c.WaitLeader(c.IDs)
	c.WaitFor(30*time.Second, "some operations", func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(ops) < 20 {
			return fmt.Errorf("%d operations", len(ops))
		}
		return nil
	})
	c.Stop(l)
	c.WaitLeader(others(c.IDs, l))
	c.Start(l)
	wg.Wait()

	res, info := porcupine.CheckOperationsVerbose(kvModel, ops, 30*time.Second)
	if res == porcupine.Illegal {
		path := filepath.Join(t.TempDir(), "history.html")
		if dir := os.Getenv("ZABTEST_OUT"); dir != "" {
			path = filepath.Join(dir, "history.html")
		}
		if err := porcupine.VisualizePath(kvModel, info, path); err == nil {
			t.Logf("history: %s", path)
		}
		t.Fatalf("history of %d operations is not linearizable", len(ops))
	}
	t.Logf("%d operations, linearizability check: %s", len(ops), res)
	c.WaitLeader(c.IDs)
	checkAll(t, c, nil)
}
