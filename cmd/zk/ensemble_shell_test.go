package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/zkgo/zkgo/fourletter"
	"github.com/zkgo/zkgo/server/servertest"
)

// connectedMember returns the index of the member that has a client
// session connected (cons lists it with its sid), polling until one has.
func connectedMember(t *testing.T, addrs []string) int {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		for i, a := range addrs {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			out, err := fourletter.Query(ctx, a, "cons")
			cancel()
			if err == nil && strings.Contains(out, "sid=0x") {
				return i
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no member lists the shell's session in cons")
		}
		<-tick.C
	}
}

// TestShellEnsembleFailover: the shell connected to a 3-member ensemble
// survives the member it is connected to being stopped: the prompt goes
// CONNECTING then CONNECTED again, commands work afterwards and a
// persistent watch set before still fires.
func TestShellEnsembleFailover(t *testing.T) {
	e := servertest.StartEnsemble(t, 3, 0)
	addrs := e.Addrs()
	p := startPty(t, "-server", strings.Join(addrs, ","))
	pos := p.scr.waitFor(t, 0, "(CONNECTED) 0] ")
	pos = p.enter(pos, "create /fo v1")
	pos = p.scr.waitFor(t, pos, "Created /fo")
	pos = p.enter(pos, "addWatch /fo")
	pos = p.scr.waitFor(t, pos, "(CONNECTED) 2] ")

	victim := connectedMember(t, addrs)
	other := (victim + 1) % len(addrs)
	e.Servers[victim].Stop()
	pos = p.scr.waitFor(t, pos, "WatchedEvent state:Disconnected type:None path:null")
	pos = p.scr.waitFor(t, pos, "WatchedEvent state:SyncConnected type:None path:null")
	pos = p.scr.waitFor(t, pos, "(CONNECTED) 2] ")
	pos = p.enter(pos, "get /fo")
	pos = p.scr.waitFor(t, pos, "v1")
	pos = p.scr.waitFor(t, pos, "(CONNECTED) 3] ")

	// The persistent watch was set again on the new member: a change made
	// through another client shows up (changed until it does, as the
	// watch is set again just after the reconnect).
	conn := oracle(t, addrs[other])
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; !strings.Contains(p.scr.text()[pos:], "type:NodeDataChanged path:/fo"); i++ {
		if _, err := conn.Set("/fo", []byte{'a' + byte(i%26)}, -1); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the persistent watch did not fire after the failover; output:\n%q", p.scr.text())
		}
		select {
		case <-p.scr.more:
		case <-time.After(200 * time.Millisecond):
		}
	}
	pos = p.enter(pos, "delete /fo")
	p.scr.waitFor(t, pos, "(CONNECTED) 4] ")
	if ok, _, err := conn.Exists("/fo"); err != nil || ok {
		t.Errorf("/fo exists=%v err=%v after delete from the shell", ok, err)
	}
	p.quit()
}
