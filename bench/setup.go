package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/zkgo/zkgo/server/wire"
)

// maxBatchBytes bounds the payload of one multi used for setup and
// cleanup, well below the 1 MiB jute.maxbuffer of a default server.
const maxBatchBytes = 512 << 10

// maxBatchOps bounds the number of operations in one multi.
const maxBatchOps = 1000

// setup creates the root, one directory per worker, the key set (split
// among the workers, created with multi batches) and the watch znodes.
func (r *run) setup(ctx context.Context) error {
	cfg := &r.cfg
	if err := r.workers[0].conn.create(cfg.Root, nil); err != nil {
		if errors.Is(err, wire.ErrNodeExists) {
			return fmt.Errorf("setup: %s already exists (left by an earlier run? delete it or pass another root)", cfg.Root)
		}
		return fmt.Errorf("setup: create %s: %w", cfg.Root, err)
	}
	r.rootOK = true
	r.log.Debug("created root", "path", cfg.Root)

	if cfg.Op.usesKeys() {
		r.keys = make([]string, cfg.Keys)
		for i := range r.keys {
			r.keys[i] = cfg.Root + "/k" + strconv.Itoa(i)
		}
	}
	value := make([]byte, cfg.Size)
	errs := make([]error, len(r.workers))
	var wg sync.WaitGroup
	for _, w := range r.workers {
		wg.Go(func() {
			if ctx.Err() != nil {
				errs[w.id] = fmt.Errorf("setup: %w", ctx.Err())
				return
			}
			if err := w.conn.create(w.dir, nil); err != nil {
				errs[w.id] = fmt.Errorf("setup: create %s: %w", w.dir, err)
				return
			}
			w.dirOK = true
			if cfg.Op == OpWatch {
				if err := w.conn.create(w.dir+"/watch", value); err != nil {
					errs[w.id] = fmt.Errorf("setup: create %s/watch: %w", w.dir, err)
					return
				}
			}
			var mine []string
			for i := w.id; i < len(r.keys); i += len(r.workers) {
				mine = append(mine, r.keys[i])
			}
			batch := batchSize(cfg.Size)
			for len(mine) > 0 {
				n := min(batch, len(mine))
				ops := make([]wire.Op, n)
				for j, p := range mine[:n] {
					ops[j] = wire.Op{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: p, Data: value, ACL: worldACL}}
				}
				if err := w.conn.multi(ops); err != nil {
					errs[w.id] = fmt.Errorf("setup: create %d keys under %s: %w", n, cfg.Root, err)
					return
				}
				w.keysOK = append(w.keysOK, mine[:n]...)
				mine = mine[n:]
			}
		})
	}
	wg.Wait()
	return firstOf(errs)
}

// batchSize is how many znodes of size bytes one multi creates.
func batchSize(size int) int {
	return max(1, min(maxBatchOps, maxBatchBytes/(size+128)))
}

// cleanup deletes everything the run created, the workers in parallel,
// then the root. It tolerates znodes that are already gone.
func (r *run) cleanup() error {
	errs := make([]error, len(r.workers))
	var wg sync.WaitGroup
	for _, w := range r.workers {
		if w == nil || w.conn == nil {
			continue
		}
		wg.Go(func() { errs[w.id] = w.cleanup(r.cfg.Op) })
	}
	wg.Wait()
	err := firstOf(errs)
	if r.rootOK && err == nil {
		if derr := r.workers[0].conn.delete(r.cfg.Root); derr != nil && !errors.Is(derr, wire.ErrNoNode) {
			err = fmt.Errorf("cleanup: delete %s: %w", r.cfg.Root, derr)
		}
	}
	return err
}

func (w *worker) cleanup(op Op) error {
	if w.conn.broken {
		if err := w.conn.reconnect(context.Background()); err != nil {
			return fmt.Errorf("cleanup: client %d: reconnect %s: %w", w.id, w.server, err)
		}
	}
	var paths []string
	paths = append(paths, w.keysOK...)
	w.keysOK = nil
	switch op {
	case OpCreate:
		var b []byte
		for i := range w.seq {
			b = appendIndexPath(b[:0], w.dir, i)
			paths = append(paths, string(b))
		}
	case OpDelete:
		paths = append(paths, w.leftover...)
	case OpWatch:
		paths = append(paths, w.dir+"/watch")
	}
	if w.dirOK {
		paths = append(paths, w.dir)
	}
	if err := deleteAll(w.conn, paths); err != nil {
		return fmt.Errorf("cleanup: client %d: %w", w.id, err)
	}
	w.dirOK = false
	return nil
}

// deleteAll deletes paths in order, children before their parent, using
// multi batches; a batch that fails (a znode already gone) is retried one
// by one, ignoring NoNode.
func deleteAll(conn *client, paths []string) error {
	for len(paths) > 0 {
		n := min(maxBatchOps, len(paths))
		ops := make([]wire.Op, n)
		for i, p := range paths[:n] {
			ops[i] = wire.Op{Type: wire.OpDelete, Req: &wire.PathVersionRequest{Path: p, Version: -1}}
		}
		if err := conn.multi(ops); err != nil {
			for _, p := range paths[:n] {
				if err := conn.delete(p); err != nil && !errors.Is(err, wire.ErrNoNode) {
					return fmt.Errorf("delete %s: %w", p, err)
				}
			}
		}
		paths = paths[n:]
	}
	return nil
}
