package zkpath

import (
	"strconv"
	"testing"
	"unicode/utf16"
)

// The messages and positions of Apache 3.8's PathUtils.validatePath.
func TestValidate(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{"/", ""},
		{"/a/b-c_d.e", ""},
		{"/é/中", ""},
		{"/a/.b", ""},
		{"/a/b..", ""},
		{"", "Path length must be > 0"},
		{"a", "Path must start with / character"},
		{"/a/", "Path must not end with / character"},
		{"//", "Path must not end with / character"},
		{"/a//b", `Invalid path string "/a//b" caused by empty node name specified @3`},
		{"/a/./b", `Invalid path string "/a/./b" caused by relative paths not allowed @3`},
		{"/a/../b", `Invalid path string "/a/../b" caused by relative paths not allowed @4`},
		{"/.", `Invalid path string "/." caused by relative paths not allowed @1`},
		{"/..", `Invalid path string "/.." caused by relative paths not allowed @2`},
		{"/a\x00b", "Invalid path string \"/a\x00b\" caused by null character not allowed @2"},
		{"/a\x01", "Invalid path string \"/a\x01\" caused by invalid character @2"},
		{"/a\u0085", "Invalid path string \"/a\u0085\" caused by invalid character @2"},
		{"/\ue000", "Invalid path string \"/\ue000\" caused by invalid character @1"},
		{"/a\ufff0", "Invalid path string \"/a\ufff0\" caused by invalid character @2"},
		// Outside the BMP: a surrogate pair to Java, refused at its first half.
		{"/é😀x", "Invalid path string \"/é😀x\" caused by invalid character @2"},
		// Not UTF-8: U+FFFD once decoded.
		{"/a\xff", "Invalid path string \"/a\xff\" caused by invalid character @2"},
	} {
		got := ""
		if err := Validate(tc.path); err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("Validate(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

// The prep step validates every write's path: an ASCII path costs no
// allocation.
func TestValidateASCIIDoesNotAllocate(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = Validate("/app/locks/lock-0000000042") }); n != 0 {
		t.Fatalf("Validate of an ASCII path: %v allocations", n)
	}
}

func BenchmarkValidate(b *testing.B) {
	for b.Loop() {
		_ = Validate("/app/locks/lock-0000000042")
	}
}

// javaValidate is PathUtils.validatePath written over Java's chars, the
// plain way, to check Validate's one pass against.
func javaValidate(p string) string {
	switch {
	case p == "":
		return "Path length must be > 0"
	case p[0] != '/':
		return "Path must start with / character"
	case len(p) == 1:
		return ""
	case p[len(p)-1] == '/':
		return "Path must not end with / character"
	}
	var chars []uint16
	for _, r := range p {
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			chars = append(chars, uint16(r1), uint16(r2))
		} else {
			chars = append(chars, uint16(r)) // a byte that is not UTF-8 is U+FFFD
		}
	}
	lastc := uint16('/')
	for i := 1; i < len(chars); lastc, i = chars[i], i+1 {
		c := chars[i]
		reason := ""
		if c == 0 {
			reason = "null character not allowed"
		} else if c == '/' && lastc == '/' {
			reason = "empty node name specified"
		} else if c == '.' && lastc == '.' {
			if chars[i-2] == '/' && (i+1 == len(chars) || chars[i+1] == '/') {
				reason = "relative paths not allowed"
			}
		} else if c == '.' {
			if chars[i-1] == '/' && (i+1 == len(chars) || chars[i+1] == '/') {
				reason = "relative paths not allowed"
			}
		} else if c > 0 && c <= 0x1f || c >= 0x7f && c <= 0x9f || c >= 0xd800 && c <= 0xf8ff || c >= 0xfff0 {
			reason = "invalid character"
		}
		if reason != "" {
			return "Invalid path string \"" + p + "\" caused by " + reason + " @" + strconv.Itoa(i)
		}
	}
	return ""
}

// FuzzValidateMatchesJava: Validate's single pass says what the plain
// transcription of Java's loop says, for any input.
func FuzzValidateMatchesJava(f *testing.F) {
	for _, p := range []string{"/", "/a/./b", "/a/..", "/..a", "/a\x00", "/é😀", "/a\xff/b", "/\u0085", "/.", "/a//b"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got := ""
		if err := Validate(p); err != nil {
			got = err.Error()
		}
		if want := javaValidate(p); got != want {
			t.Fatalf("Validate(%q) = %q, Java's loop says %q", p, got, want)
		}
	})
}
