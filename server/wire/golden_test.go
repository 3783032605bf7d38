package wire

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// apacheFrames reads testdata/apache-3.8.0-frames.txt: frames captured
// from Apache ZooKeeper 3.8.0.
func apacheFrames(t *testing.T) map[string][]byte {
	t.Helper()
	f, err := os.Open("testdata/apache-3.8.0-frames.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, h, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("bad line %q", line)
		}
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = b
	}
	return out
}

func TestApacheConnectResponse(t *testing.T) {
	b := apacheFrames(t)["connect-response"]
	var r ConnectResponse
	if err := Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	pw, _ := hex.DecodeString("58234197054e329ef681207856a20413")
	want := ConnectResponse{TimeOut: 4000, SessionID: 0x0100001292460000, Passwd: pw, HasReadOnly: true}
	if r.ProtocolVersion != 0 || r.TimeOut != want.TimeOut || r.SessionID != want.SessionID ||
		!bytes.Equal(r.Passwd, want.Passwd) || r.ReadOnly || !r.HasReadOnly {
		t.Fatalf("decoded %+v, want %+v", r, want)
	}
	if enc := Marshal(&r); !bytes.Equal(enc, b) {
		t.Fatalf("re-encoded\n %x\nwant\n %x", enc, b)
	}
	// Without the readOnly byte (pre-3.4 peers) the record is one byte shorter.
	r.HasReadOnly = false
	if enc := Marshal(&r); !bytes.Equal(enc, b[:len(b)-1]) {
		t.Fatalf("without readOnly: %x", enc)
	}
}

func TestApacheMultiResponse(t *testing.T) {
	b := apacheFrames(t)["multi-response"]
	var r MultiResponse
	if err := Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	wantTypes := []int32{OpCreate, OpCreate2, OpCreate2, OpCreate, OpCheck, OpDelete}
	if len(r.Results) != len(wantTypes) {
		t.Fatalf("%d results", len(r.Results))
	}
	for i, res := range r.Results {
		if res.Type != wantTypes[i] || res.Err != CodeOK {
			t.Fatalf("result %d: %+v", i, res)
		}
	}
	if p := r.Results[0].Resp.(*CreateResponse).Path; p != "/m1" {
		t.Fatalf("result 0 path %q", p)
	}
	c2 := r.Results[1].Resp.(*Create2Response)
	if c2.Path != "/m2" || c2.Stat.Czxid != 3 || c2.Stat.Mzxid != 3 || c2.Stat.Pzxid != 3 || c2.Stat.EphemeralOwner != 0 || c2.Stat.Ctime != 0x1a21802cdd1 {
		t.Fatalf("result 1 %+v", c2)
	}
	if enc := Marshal(&r); !bytes.Equal(enc, b) {
		t.Fatalf("re-encoded\n %x\nwant\n %x", enc, b)
	}
}
