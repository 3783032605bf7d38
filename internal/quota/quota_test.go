package quota

import "testing"

// The formats Apache's StatsTrack reads and writes, as zkCli.sh 3.8 shows
// them (listquota against Apache 3.8.0).
func TestStatsTrack(t *testing.T) {
	for _, tc := range []struct{ in, out string }{
		{"count=4,bytes=7", "count=4,bytes=7"},
		{"count=3,bytes=-1=;byteHardLimit=-1;countHardLimit=-1", "count=3,bytes=-1=;byteHardLimit=-1;countHardLimit=-1"},
		{"countHardLimit=5;count=1,,bytes=", "count=1,bytes=-1=;countHardLimit=5"},
		{"", "count=-1,bytes=-1"},
		// Apache throws on these; a txn must still apply, so they are skipped.
		{"count=x,junk,bytes=2", "count=-1,bytes=2"},
	} {
		if got := Parse([]byte(tc.in)).String(); got != tc.out {
			t.Errorf("Parse(%q).String() = %q, want %q", tc.in, got, tc.out)
		}
	}
}
