package shell

import (
	"fmt"
	_ "unsafe" // for go:linkname

	"github.com/go-zookeeper/zk"
)

// go-zookeeper v1.0.4 has no API for the opcodes ZooKeeper added in 3.5/3.6
// (whoAmI, getEphemerals, getAllChildrenNumber, addWatch, removeWatches),
// but its request path encodes and decodes any struct of jute fields by
// reflection. We reach that path with a linkname to (*zk.Conn).request so
// the request goes out on the session's own connection (these ops answer
// about the session: its auth, its ephemerals, its watches). The signature
// must match go-zookeeper's; TestExtraOps exercises every op so an upgrade
// that changes it fails loudly in tests, not in users' hands.
//
//go:linkname zkRequest github.com/go-zookeeper/zk.(*Conn).request
func zkRequest(c *zk.Conn, opcode int32, req any, res any, recvFunc func(unsafePtr, unsafePtr, error)) (int64, error)

type unsafePtr = *struct{}

// Opcodes from ZooDefs.OpCode (3.8).
const (
	opRemoveWatches        = 18
	opGetEphemerals        = 103
	opGetAllChildrenNumber = 104
	opAddWatch             = 106
	opWhoAmI               = 107
)

// WatcherType values of removeWatches (Watcher.WatcherType in 3.8).
const (
	WatcherChildren int32 = 1
	WatcherData     int32 = 2
	WatcherAny      int32 = 3
)

// AddWatchMode values (AddWatchMode.java).
const (
	AddWatchPersistent          int32 = 0
	AddWatchPersistentRecursive int32 = 1
)

// ClientInfo is one identity of the session (whoAmI).
type ClientInfo struct {
	AuthScheme string
	User       string
}

type pathRequest struct{ Path string }
type emptyStruct struct{}
type whoAmIResponse struct{ ClientInfo []ClientInfo }
type getEphemeralsResponse struct{ Ephemerals []string }
type getAllChildrenNumberResponse struct{ TotalNumber int32 }
type addWatchRequest struct {
	Path string
	Mode int32
}
type removeWatchesRequest struct {
	Path string
	Type int32
}

// codeErrors maps codes go-zookeeper does not know.
var codeErrors = map[string]string{
	"unknown error: -121": "No such watcher",
	"unknown error: -6":   "Unimplemented",
	"unknown error: -7":   "OperationTimeout",
	"unknown error: -8":   "BadArguments",
	"unknown error: -125": "QuotaExceeded",
	"unknown error: -13":  "NewConfigNoQuorum",
	"unknown error: -14":  "ReconfigInProgress",
}

// KeeperError is a server error code go-zookeeper reports only as
// "unknown error: N", named as ZooKeeper's KeeperException.Code does.
type KeeperError struct{ Name string }

func (e *KeeperError) Error() string { return e.Name }

func wrapUnknown(err error) error {
	if err == nil {
		return nil
	}
	if n, ok := codeErrors[err.Error()]; ok {
		return &KeeperError{Name: n}
	}
	return err
}

// WhoAmI returns the identities the server attached to this session.
func (c *Client) WhoAmI() ([]ClientInfo, error) {
	res := &whoAmIResponse{}
	if _, err := zkRequest(c.Conn, opWhoAmI, &emptyStruct{}, res, nil); err != nil {
		return nil, fmt.Errorf("whoami: %w", wrapUnknown(err))
	}
	return res.ClientInfo, nil
}

// GetEphemerals lists the session's ephemeral nodes under prefix (a path
// prefix, not only a parent: "/a" matches "/ab" too, as in ZooKeeper).
func (c *Client) GetEphemerals(prefix string) ([]string, error) {
	res := &getEphemeralsResponse{}
	if _, err := zkRequest(c.Conn, opGetEphemerals, &pathRequest{Path: c.abs(prefix)}, res, nil); err != nil {
		return nil, wrapUnknown(err)
	}
	out := make([]string, 0, len(res.Ephemerals))
	for _, p := range res.Ephemerals {
		out = append(out, c.strip(p))
	}
	return out, nil
}

// GetAllChildrenNumber counts all descendants of p.
func (c *Client) GetAllChildrenNumber(p string) (int32, error) {
	res := &getAllChildrenNumberResponse{}
	if _, err := zkRequest(c.Conn, opGetAllChildrenNumber, &pathRequest{Path: c.abs(p)}, res, nil); err != nil {
		return 0, wrapUnknown(err)
	}
	return res.TotalNumber, nil
}

// AddWatch sets a persistent or persistent-recursive watch on p. Its events
// arrive on the session's event queue. The client sets it again after a
// reconnect (go-zookeeper does not; see rewatch.go).
func (c *Client) AddWatch(p string, mode int32) error {
	c.mu.Lock()
	c.persistent = true
	c.mu.Unlock()
	_, err := zkRequest(c.Conn, opAddWatch, &addWatchRequest{Path: c.abs(p), Mode: mode}, &emptyStruct{}, nil)
	if err == nil {
		c.mu.Lock()
		// A path has one persistent mode per watcher: the last one set.
		c.persistentWatches[c.abs(p)] = mode
		c.mu.Unlock()
	}
	return wrapUnknown(err)
}

// RemoveWatches asks the server to remove the session's watches of type wt
// on p.
func (c *Client) RemoveWatches(p string, wt int32) error {
	_, err := zkRequest(c.Conn, opRemoveWatches, &removeWatchesRequest{Path: c.abs(p), Type: wt}, &emptyStruct{}, nil)
	if err == nil && wt != WatcherChildren {
		c.mu.Lock()
		delete(c.persistentWatches, c.abs(p))
		c.mu.Unlock()
	}
	return wrapUnknown(err)
}
