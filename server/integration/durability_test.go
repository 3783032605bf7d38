package integration

import (
	"fmt"
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/servertest"
	"github.com/zkgo/zkgo/server/wire"
)

type nodeState struct {
	data string
	stat wire.Stat
	acl  []wire.ACL
}

func (c *rawConn) snapshotTree(paths []string) map[string]nodeState {
	c.t.Helper()
	out := make(map[string]nodeState, len(paths))
	for _, p := range paths {
		data, st := c.getData(p)
		var r wire.GetACLResponse
		c.mustOK("getACL "+p, c.call(wire.OpGetACL, &wire.PathRequest{Path: p}, &r))
		out[p] = nodeState{data: string(data), stat: st, acl: r.ACL}
	}
	return out
}

// Everything acknowledged survives a restart: data, Stats (zxids, versions,
// cversion), ACLs, sequence counters, sessions with their ephemerals.
func TestRestartKeepsState(t *testing.T) {
	for _, tc := range []struct {
		name      string
		snapCount int
	}{
		{"log replay only", 100000},
		{"snapshots and log", 10},
	} {
		step(t, tc.name, func(t *testing.T) {
			s := newServer(t, servertest.WithConfig(func(c *config.Config) { c.SnapCount = tc.snapCount }))
			c := rawSession(t, s.Addr())
			c.addAuth("digest", "user1:12345")
			c.create("/d", []byte("root"), wire.ModePersistent)
			var paths []string
			for i := 0; i < 30; i++ {
				paths = append(paths, c.create("/d/n-", []byte(fmt.Sprint(i)), wire.ModePersistentSequential))
			}
			for i := 0; i < 30; i += 3 {
				c.setData(paths[i], "changed")
			}
			for i := 1; i < 30; i += 5 {
				c.delete(paths[i])
				paths[i] = ""
			}
			c.mustOK("secret", c.call(wire.OpCreate, &wire.CreateRequest{Path: "/d/secret", Data: []byte("s"), ACL: digestACL(wire.PermAll)}, nil))
			c.mustOK("setACL", c.call(wire.OpSetACL, &wire.SetACLRequest{Path: "/d", ACL: []wire.ACL{
				{Perms: wire.PermAll, ID: wire.ID{Scheme: "world", ID: "anyone"}},
				{Perms: wire.PermRead, ID: wire.ID{Scheme: "ip", ID: "127.0.0.1"}},
			}, Version: 0}, nil))
			c.mustOK("multi", c.call(wire.OpMulti, &wire.MultiRequest{Ops: []wire.Op{
				{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/d/m1", ACL: openACL}},
				{Type: wire.OpCreate, Req: &wire.CreateRequest{Path: "/d/m2", ACL: openACL}},
			}}, &wire.MultiResponse{}))
			c.mustOK("container", c.call(wire.OpCreateContainer, &wire.CreateRequest{Path: "/d/c", ACL: openACL, Flags: wire.ModeContainer}, &wire.Create2Response{}))
			c.mustOK("ttl", c.call(wire.OpCreateTTL, &wire.CreateTTLRequest{Path: "/d/t", ACL: openACL, Flags: wire.ModePersistentWithTTL, TTL: 1 << 30}, &wire.Create2Response{}))
			eph := c.create("/d/eph", []byte("e"), wire.ModeEphemeral)
			// A session that closed before the restart: its ephemeral is gone for good.
			gone := rawSession(t, s.Addr())
			gone.create("/d/gone", nil, wire.ModeEphemeral)
			gone.close()

			all := []string{"/", "/d", "/d/secret", "/d/m1", "/d/m2", "/d/c", "/d/t", eph}
			for _, p := range paths {
				if p != "" {
					all = append(all, p)
				}
			}
			before := c.snapshotTree(all)
			lastZxid := c.zxid()
			id, pw := c.SessionID, c.Passwd

			s.Restart()

			c2, resp := reattach(t, s.Addr(), id, pw)
			if resp.SessionID != id {
				t.Fatalf("session lost across restart: %+v", resp)
			}
			c2.addAuth("digest", "user1:12345")
			after := c2.snapshotTree(all)
			for _, p := range all {
				b, a := before[p], after[p]
				if a.data != b.data || a.stat != b.stat || fmt.Sprint(a.acl) != fmt.Sprint(b.acl) {
					t.Errorf("%s changed across restart:\n before %+v\n after  %+v", p, b, a)
				}
			}
			if st := after[eph].stat; st.EphemeralOwner != id {
				t.Errorf("ephemeral owner 0x%x, want 0x%x", st.EphemeralOwner, id)
			}
			wantCode(t, "closed session's ephemeral", c2.call(wire.OpExists, &wire.PathWatchRequest{Path: "/d/gone"}, nil), wire.CodeNoNode)
			// The sequence counter and the zxid go on from where they were.
			if p := c2.create("/d/n-", nil, wire.ModePersistentSequential); p != "/d/n-0000000037" {
				// 30 sequential + secret, m1, m2, c, t, eph, gone = 37 creates.
				t.Errorf("sequential after restart: %s", p)
			}
			if c2.zxid() <= lastZxid {
				t.Errorf("zxid after restart 0x%x, before 0x%x", c2.zxid(), lastZxid)
			}
			// The restarted server keeps a session's state: closing it now
			// deletes the ephemeral.
			c2.close()
			o := rawSession(t, s.Addr())
			wantCode(t, "ephemeral after close", o.call(wire.OpExists, &wire.PathWatchRequest{Path: eph}, nil), wire.CodeNoNode)
			s.Stop()
		})
	}
}

// Two restarts in a row with writes between them.
func TestRestartTwice(t *testing.T) {
	s := newServer(t)
	for round := 0; round < 3; round++ {
		c := rawSession(t, s.Addr())
		p := c.create("/r-", []byte(fmt.Sprint(round)), wire.ModePersistentSequential)
		if want := fmt.Sprintf("/r-%010d", round); p != want {
			t.Fatalf("round %d: %s, want %s", round, p, want)
		}
		for i := 0; i <= round; i++ {
			data, _ := c.getData(fmt.Sprintf("/r-%010d", i))
			if string(data) != fmt.Sprint(i) {
				t.Fatalf("round %d: /r-%010d = %q", round, i, data)
			}
		}
		c.close()
		s.Restart()
	}
}

// A session restored from disk that nobody re-attaches expires after its
// timeout, and its ephemerals go with it.
func TestRestoredSessionExpires(t *testing.T) {
	s := newServer(t)
	c := dialRaw(t, s.Addr())
	if _, err := c.handshake(&wire.ConnectRequest{TimeOut: 400, Passwd: make([]byte, 16), HasReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	c.create("/left", nil, wire.ModeEphemeral)
	s.Restart()
	watcher, _ := connect(t, s.Addr())
	ok, _, ch, err := watcher.ExistsW("/left")
	must(t, err)
	if ok {
		if e := nextEvent(t, ch); e.Path != "/left" || e.Type != zk.EventNodeDeleted {
			t.Fatalf("event %+v", e)
		}
	}
	if apacheMode() {
		// Apache 3.8 under load once closed this handshake without its
		// answer (1 run in dozens); what the suite checks is the answer.
		c2 := dialRaw(t, s.Addr())
		resp, err := c2.handshake(&wire.ConnectRequest{TimeOut: 4000, SessionID: c.SessionID, Passwd: c.Passwd, HasReadOnly: true})
		if err != nil {
			t.Logf("apache closed the re-attach without an answer (%v); trying once more", err)
			c2, resp = reattach(t, s.Addr(), c.SessionID, c.Passwd)
		}
		wantZeroSession(t, c2, resp)
		return
	}
	c2, resp := reattach(t, s.Addr(), c.SessionID, c.Passwd)
	wantZeroSession(t, c2, resp)
}
