package server

import (
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/wire"
)

// TestWatchNotificationFollowsItsReply: a watch's notification never
// reaches the client before the reply of the read that set it. Clients
// register the watcher when that reply arrives (go-zookeeper, kazoo), so a
// notification sent first is dropped and the client waits for ever;
// kazoo's DoubleBarrier hung so in a CI run. Here a delete is applied
// between the exists that set the watch and the queueing of its reply.
func TestWatchNotificationFollowsItsReply(t *testing.T) {
	// A goroutine per connection: the hook below runs on the watcher's
	// reader and waits for another connection's write.
	_, addr, _ := startPipelineServer(t, t.TempDir(), func(c *config.Config) { c.ClientEventLoops = 0 })
	a, b := connectZK(t, addr), connectZK(t, addr)
	if _, err := b.Create("/n", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	// The exists reply may reach a before the hook's delete has its own
	// reply: the test waits for that too, so that closing b at its end
	// cannot fail the delete.
	var once sync.Once
	deleted := make(chan error, 1)
	hook := func(op int32) {
		if op == wire.OpExists {
			once.Do(func() { deleted <- b.Delete("/n", -1) })
		}
	}
	afterReadHook.Store(&hook)
	defer afterReadHook.Store(nil)
	ok, _, ch, err := a.ExistsW("/n")
	if err != nil || !ok {
		t.Fatalf("exists /n: %v, %v", ok, err)
	}
	select {
	case ev := <-ch:
		if ev.Type != zk.EventNodeDeleted || ev.Path != "/n" {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no NodeDeleted: the notification went out before the reply that set the watch")
	}
	select {
	case err := <-deleted:
		if err != nil {
			t.Fatalf("delete /n: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the delete has no reply")
	}
}
