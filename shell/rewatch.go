package shell

import (
	"errors"
	"time"

	"github.com/go-zookeeper/zk"
)

// go-zookeeper v1.0.4 re-registers one-shot watches after a reconnect
// (setWatches, opcode 101) but not the persistent ones of addWatch: the
// Java client sends them in setWatches2 (opcode 105), and the server puts
// them back without firing anything. We do the same by sending addWatch
// again for each, on the same session, once the reconnect is done.

// sessionUp runs (with c.mu held) when the library reports a session. The
// first one is the session being created; later ones are reconnects, to the
// same server or another, of the same session unless it expired first.
func (c *Client) sessionUp() {
	if !c.hadSession {
		c.hadSession = true
		return
	}
	if len(c.persistentWatches) == 0 {
		return
	}
	// The callback runs on the library's connection goroutine: a request
	// sent from here would wait for a reply that goroutine has to read.
	go c.rewatch()
}

// sessionExpired forgets the persistent watches: the server dropped them
// with the session, and the next session starts without any (as in Java).
func (c *Client) sessionExpired() {
	clear(c.persistentWatches)
}

// rewatch sends addWatch again for every persistent watch. The library
// reports the session a moment before it can send on the new connection
// (its send loop is not started yet): a request in that window fails with
// ErrConnectionClosed, so that one error is retried briefly.
func (c *Client) rewatch() {
	c.mu.Lock()
	watches := make(map[string]int32, len(c.persistentWatches))
	for p, m := range c.persistentWatches {
		watches[p] = m
	}
	conn := c.Conn
	c.mu.Unlock()
	for p, mode := range watches {
		backoff := 5 * time.Millisecond
		for attempt := 0; ; attempt++ {
			// removewatches may have run meanwhile: do not bring it back.
			c.mu.Lock()
			_, still := c.persistentWatches[p]
			c.mu.Unlock()
			if !still {
				break
			}
			_, err := zkRequest(conn, opAddWatch, &addWatchRequest{Path: p, Mode: mode}, &emptyStruct{}, nil)
			if err == nil {
				c.logger.Debug("persistent watch set again after reconnect", "path", p, "mode", mode)
				break
			}
			if !errors.Is(err, zk.ErrConnectionClosed) || attempt >= 20 || c.State() != zk.StateHasSession {
				c.logger.Warn("cannot set persistent watch again after reconnect", "path", p, "err", err)
				break
			}
			select {
			case <-c.closed:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 200*time.Millisecond)
		}
	}
}

// PersistentWatches returns the persistent watches the client will set
// again after a reconnect (client path -> AddWatch mode).
func (c *Client) PersistentWatches() map[string]int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int32, len(c.persistentWatches))
	for p, m := range c.persistentWatches {
		out[c.strip(p)] = m
	}
	return out
}

// stateChan is closed at the next state change.
func (c *Client) stateChan() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stateCh
}
