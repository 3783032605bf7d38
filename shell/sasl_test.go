package shell

import (
	"errors"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkgo/zkgo/server/config"
	"github.com/zkgo/zkgo/server/servertest"
)

func saslServer(t *testing.T) string {
	t.Helper()
	return servertest.Start(t, servertest.WithConfig(func(c *config.Config) {
		c.SASL.Users = map[string]string{"bob": "bobsecret"}
		c.SASL.Provider = true
	})).Addr()
}

// A login shows as zkCli.sh shows it: SaslAuthenticated right after the
// session's SyncConnected; the session holds sasl:bob.
func TestSASLLoginEvents(t *testing.T) {
	addr := saslServer(t)
	cs, err := ParseConnectString(addr)
	if err != nil {
		t.Fatal(err)
	}
	cs.SASL = &SASLLogin{User: "bob", Password: "bobsecret"}
	c, err := Dial(testCtx(t), cs, 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var states []zk.State
	deadline := time.After(10 * time.Second)
	for len(states) < 2 {
		for _, ev := range c.Events() {
			if ev.Type == zk.EventSession {
				states = append(states, ev.State)
			}
		}
		if len(states) >= 2 {
			break
		}
		select {
		case <-c.Notify():
		case <-deadline:
			t.Fatalf("session events %v", states)
		}
	}
	if states[0] != zk.StateHasSession || states[1] != zk.StateSaslAuthenticated {
		t.Fatalf("session events %v, want HasSession then SaslAuthenticated", states)
	}
	if _, _, err := c.Conn.Get("/"); err != nil {
		t.Fatal(err)
	}
}

// A refused login ends the wait for a session at once, with ErrSASL.
func TestSASLLoginRefused(t *testing.T) {
	addr := saslServer(t)
	cs, _ := ParseConnectString(addr)
	cs.SASL = &SASLLogin{User: "bob", Password: "wrong"}
	_, err := Dial(testCtx(t), cs, 10*time.Second, nil)
	if !errors.Is(err, ErrSASL) {
		t.Fatalf("Dial: %v, want ErrSASL", err)
	}
}

func TestParseSASL(t *testing.T) {
	t.Setenv("ZK_SASL_PASSWORD", "env")
	for in, want := range map[string]SASLLogin{"bob:pw": {"bob", "pw"}, "bob:a:b": {"bob", "a:b"}, "bob": {"bob", "env"}, "bob:": {"bob", ""}} {
		l, err := ParseSASL(in)
		if err != nil || *l != want {
			t.Errorf("%q: %+v %v", in, l, err)
		}
	}
	if _, err := ParseSASL(":pw"); err == nil {
		t.Error("no user")
	}
}
