package nemesis

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zkgo/zkgo/server/storage"
)

// Nemesis injects one fault at a time into a Cluster, each for a random
// while, then heals it; every choice comes from one seeded generator.
type Nemesis struct {
	c    *Cluster
	rng  *rand.Rand
	logf func(format string, args ...any)

	mu   sync.Mutex
	slow map[string]time.Duration // log dir → delay per Append
	// Counts of each action taken, for the report.
	Actions map[string]int
	// stacked counts the faults in force that were not healed yet.
	stacked int
}

// NewNemesis arms the slow-disk seam for c's members.
func NewNemesis(c *Cluster, seed uint64, logf func(string, ...any)) *Nemesis {
	n := &Nemesis{c: c, rng: rand.New(rand.NewPCG(seed, 0x6e656d)), logf: logf, slow: map[string]time.Duration{}, Actions: map[string]int{}}
	storage.SetAppendDelay(func(dir string) time.Duration {
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.slow[dir]
	})
	return n
}

// Close disarms the slow-disk seam.
func (n *Nemesis) Close() { storage.SetAppendDelay(nil) }

func (n *Nemesis) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(n.rng.Int64N(int64(hi-lo)+1))
}

func (n *Nemesis) shuffled() []int {
	ids := n.c.IDs()
	n.rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	return ids
}

// Step injects one random fault, keeps it for a while, heals it, and
// leaves the ensemble healthy for a short while. It returns an error only
// when a member failed by itself or could not start.
func (n *Nemesis) Step(stop <-chan struct{}) error {
	c := n.c
	hold := n.between(200*time.Millisecond, 1500*time.Millisecond)
	var crashed []int
	var what string
	r := n.rng.IntN(100)
	switch {
	case r < 15: // a minority cut off
		ids := n.shuffled()
		k := 1 + n.rng.IntN(max(1, (len(ids)-1)/2))
		c.Net.Partition(ids[:k], ids[k:])
		what = fmt.Sprintf("partition minority %v | %v", ids[:k], ids[k:])
	case r < 27: // the leader alone
		l := c.Leader()
		if l == 0 {
			l = n.shuffled()[0]
		}
		rest := slices.DeleteFunc(c.IDs(), func(id int) bool { return id == l })
		c.Net.Partition([]int{l}, rest)
		what = fmt.Sprintf("isolate leader %d", l)
	case r < 37: // two sides that only a bridge member joins
		ids := n.shuffled()
		half := (len(ids) - 1) / 2
		a, b := ids[1:1+half], ids[1+half:]
		c.Net.Partition(a, b)
		what = fmt.Sprintf("bridge %d between %v and %v", ids[0], a, b)
	case r < 52: // a member crashes (the leader one time in three)
		id := n.shuffled()[0]
		if n.rng.IntN(3) == 0 {
			if l := c.Leader(); l != 0 {
				id = l
			}
		}
		crashed = []int{id}
		what = fmt.Sprintf("crash %d", id)
	case r < 57: // a majority crashes: no quorum for a while
		ids := n.shuffled()
		crashed = ids[:len(ids)/2+1]
		what = fmt.Sprintf("crash majority %v", crashed)
	case r < 60: // everyone crashes and restarts
		crashed = c.IDs()
		what = "crash all"
	case r < 80 || c.Bin != "": // lossy, slow network (processes: no slow disk)
		f := Faults{
			Drop:      float64(n.rng.IntN(50)) / 1000,
			Duplicate: float64(n.rng.IntN(50)) / 1000,
			Delay:     time.Duration(n.rng.IntN(2000)) * time.Microsecond,
			Jitter:    time.Duration(1+n.rng.IntN(3000)) * time.Microsecond,
		}
		c.Net.SetFaults(f)
		what = "network " + f.String()
	default: // a slow disk
		id := n.shuffled()[0]
		d := n.between(2*time.Millisecond, 60*time.Millisecond)
		n.mu.Lock()
		n.slow[c.Member(id).LogDir] = d
		n.mu.Unlock()
		what = fmt.Sprintf("slow disk on %d: %s per append", id, d)
	}
	kind, _, _ := strings.Cut(what, " ")
	n.mu.Lock()
	n.Actions[kind]++
	n.mu.Unlock()
	for _, id := range crashed {
		if err := c.Crash(id); err != nil {
			return err
		}
	}
	n.logf("nemesis: %s for %s", what, hold.Round(time.Millisecond))
	t := time.NewTimer(hold)
	select {
	case <-stop:
	case <-t.C:
	}
	// One time in three the fault stays and the next one comes on top
	// (at most three at once).
	n.stacked++
	if n.stacked < 3 && n.rng.IntN(3) == 0 {
		n.logf("nemesis: (not healed)")
		return c.Failed()
	}
	if err := n.Heal(); err != nil {
		return err
	}
	t = time.NewTimer(n.between(50*time.Millisecond, 600*time.Millisecond))
	select {
	case <-stop:
	case <-t.C:
	}
	return c.Failed()
}

// Heal removes every fault and starts every member that is down.
func (n *Nemesis) Heal() error {
	n.stacked = 0
	n.c.Net.Heal()
	n.c.Net.SetFaults(Faults{})
	n.mu.Lock()
	clear(n.slow)
	n.mu.Unlock()
	for _, id := range n.c.IDs() {
		if err := n.c.Start(id); err != nil {
			return err
		}
	}
	return nil
}
