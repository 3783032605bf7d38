package textable

import (
	"errors"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	tests := []struct {
		name   string
		header []string
		rows   [][]string
		want   string
	}{
		{
			name:   "columns padded to the widest cell plus two spaces, no trailing spaces",
			header: []string{"ID", "ROLE", "CLIENT"},
			rows: [][]string{
				{"1", "leader", "127.0.0.1:2181"},
				{"10", "follower", "-"},
			},
			want: "ID  ROLE      CLIENT\n" +
				"1   leader    127.0.0.1:2181\n" +
				"10  follower  -\n",
		},
		{
			name:   "header printed as given, not title-cased",
			header: []string{"LATENCY MIN/AVG/MAX", "apache 3.8"},
			rows:   [][]string{{"0/0.5/3", "x"}},
			want: "LATENCY MIN/AVG/MAX  apache 3.8\n" +
				"0/0.5/3              x\n",
		},
		{
			name:   "header only",
			header: []string{"NAME", "TYPE"},
			want:   "NAME  TYPE\n",
		},
		{
			name:   "cells trimmed, empty last cell leaves no trailing space",
			header: []string{"A", "B", "C"},
			rows:   [][]string{{"  x  ", "y", ""}, {"long cell", "", "z"}},
			want: "A          B  C\n" +
				"x          y\n" +
				"long cell     z\n",
		},
		{
			name:   "short row gets empty cells",
			header: []string{"A", "B"},
			rows:   [][]string{{"only"}},
			want:   "A     B\nonly\n",
		},
		{
			name:   "wide runes counted by display width, long cells not wrapped",
			header: []string{"K", "V"},
			rows:   [][]string{{"≥ 2×", strings.Repeat("w", 120)}, {"日本", "v"}},
			want: "K     V\n" +
				"≥ 2×  " + strings.Repeat("w", 120) + "\n" +
				"日本  v\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := Write(&b, tc.header, tc.rows); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Errorf("got:\n%q\nwant:\n%q", b.String(), tc.want)
			}
		})
	}
}

type failWriter struct{ writes int }

func (f *failWriter) Write(p []byte) (int, error) {
	f.writes++
	return 0, errors.New("disk full")
}

func TestWriteReturnsWriterError(t *testing.T) {
	w := &failWriter{}
	err := Write(w, []string{"A"}, [][]string{{"1"}, {"2"}})
	if err == nil || err.Error() != "disk full" {
		t.Fatalf("err = %v, want disk full", err)
	}
	if w.writes != 1 {
		t.Errorf("%d writes, want the table in one write", w.writes)
	}
}
