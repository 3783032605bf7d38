package server

import (
	"strings"
	"testing"

	"github.com/zkgo/zkgo/server/wire"
)

// A reply is encoded into one buffer of the size it needs: the read path
// allocates it once per request.
func TestReplyDoesNotGrow(t *testing.T) {
	s := &Server{}
	names := []string{strings.Repeat("n", 50), "b", strings.Repeat("c", 200)}
	for _, tc := range []struct {
		name string
		code wire.Code
		body wire.Record
	}{
		{"getData", wire.CodeOK, &wire.GetDataResponse{Data: make([]byte, 1000)}},
		{"getData empty", wire.CodeOK, &wire.GetDataResponse{}},
		{"create2", wire.CodeOK, &wire.Create2Response{Path: "/" + strings.Repeat("p", 300)}},
		{"getChildren", wire.CodeOK, &wire.ChildrenResponse{Children: names}},
		{"getChildren2", wire.CodeOK, &wire.Children2Response{Children: names}},
		{"exists", wire.CodeOK, &wire.StatResponse{}},
		{"error", wire.CodeNoNode, nil},
	} {
		b := s.reply(7, tc.code, tc.body)
		if want := replyCap(tc.code, tc.body); cap(b) != want {
			t.Errorf("%s: %d bytes in a buffer of cap %d, sized %d: the buffer grew", tc.name, len(b), cap(b), want)
		}
	}
}
