package apachefile

import (
	"bufio"
	"hash"
	"hash/adler32"
	"io"
	"slices"
	"strings"

	"github.com/zkgo/zkgo/server/tree"
	"github.com/zkgo/zkgo/server/wire"
)

// WriteSnapshot writes s in Apache 3.8's snapshot format (see the package
// comment), for Apache to load at start-up as snapshot.<s.Zxid>: the
// nodes parents first (Apache links each to a parent it has read), the
// root as "", each distinct ACL once in the cache.
func WriteSnapshot(w io.Writer, s *Snapshot) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	sum := adler32.New()
	out := io.MultiWriter(bw, sum)
	e := wire.NewEncoder(make([]byte, 0, 1<<16))
	flush := func() error {
		_, err := out.Write(e.Bytes())
		e.Reset()
		return err
	}
	e.Int(snapMagic)
	e.Int(2)
	e.Long(-1) // dbid
	e.Int(int32(len(s.Sessions)))
	for _, se := range s.Sessions {
		e.Long(se.ID)
		e.Int(se.Timeout)
	}
	nodes := slices.Clone(s.Nodes)
	slices.SortFunc(nodes, func(a, b Node) int { return strings.Compare(apachePath(a.Path), apachePath(b.Path)) })
	index := map[string]int64{}
	var lists [][]wire.ACL
	keys := make([]int64, len(nodes))
	for i, n := range nodes {
		k := tree.ACLKey(n.ACL)
		idx, ok := index[k]
		if !ok {
			idx = int64(len(lists) + 1)
			index[k] = idx
			lists = append(lists, n.ACL)
		}
		keys[i] = idx
	}
	e.Int(int32(len(lists)))
	for i, l := range lists {
		e.Long(int64(i + 1))
		wire.EncodeACLs(e, l)
	}
	for i, n := range nodes {
		e.String(apachePath(n.Path))
		e.Buffer(n.Node.Data)
		e.Long(keys[i])
		st := n.Node
		e.Long(st.Czxid)
		e.Long(st.Mzxid)
		e.Long(st.Ctime)
		e.Long(st.Mtime)
		e.Int(st.Version)
		e.Int(st.Cversion)
		e.Int(st.Aversion)
		e.Long(st.Owner)
		e.Long(st.Pzxid)
		if e.Len() > 1<<16 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	e.String("/")
	if err := sealTo(e, flush, sum); err != nil {
		return err
	}
	if d := s.Digest; d != nil {
		e.Long(d.Zxid)
		e.Int(d.Version)
		e.Long(d.Digest)
		if err := sealTo(e, flush, sum); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// sealTo writes what e holds, then SnapStream's seal: the Adler32 of
// everything written so far and the path "/".
func sealTo(e *wire.Encoder, flush func() error, sum hash.Hash32) error {
	if err := flush(); err != nil {
		return err
	}
	e.Long(int64(sum.Sum32()))
	e.String("/")
	return flush()
}

// apachePath is a path as Apache's DataTree keys it: the root is "".
func apachePath(p string) string {
	if p == "/" {
		return ""
	}
	return p
}
