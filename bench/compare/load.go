package compare

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/go-zookeeper/zk"
)

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// dial opens a go-zookeeper session on servers and waits for it.
func dial(ctx context.Context, servers []string, timeout time.Duration) (*zk.Conn, error) {
	conn, events, err := zk.Connect(servers, timeout, zk.WithLogInfo(false), zk.WithLogger(nopLogger{}))
	if err != nil {
		return nil, err
	}
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return conn, nil
			}
		case <-ctx.Done():
			conn.Close()
			return nil, fmt.Errorf("connect %v: %w", servers, ctx.Err())
		}
	}
}

// LoadPath is the znode Load creates number i under root as.
func LoadPath(root string, i int) string { return root + "/n" + strconv.Itoa(i) }

// Load creates root and n znodes of size bytes under it (root/n0 …), with
// multis of up to 1000 creates.
func Load(ctx context.Context, addr, root string, n, size int) error {
	conn, err := dial(ctx, []string{addr}, 30*time.Second)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	defer conn.Close()
	acl := zk.WorldACL(zk.PermAll)
	if _, err := conn.Create(root, nil, 0, acl); err != nil {
		return fmt.Errorf("load: create %s: %w", root, err)
	}
	value := make([]byte, size)
	for i := range value {
		value[i] = 'a' + byte(i%26)
	}
	const batch = 1000
	for i := 0; i < n; i += batch {
		if ctx.Err() != nil {
			return fmt.Errorf("load: %w", ctx.Err())
		}
		ops := make([]any, 0, batch)
		for j := i; j < min(n, i+batch); j++ {
			ops = append(ops, &zk.CreateRequest{Path: LoadPath(root, j), Data: value, Acl: acl})
		}
		res, err := conn.Multi(ops...)
		if err == nil {
			for _, r := range res {
				if r.Error != nil {
					err = r.Error
					break
				}
			}
		}
		if err != nil {
			return fmt.Errorf("load: create %s…: %w", LoadPath(root, i), err)
		}
	}
	return nil
}
