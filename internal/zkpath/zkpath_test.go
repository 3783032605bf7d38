package zkpath

import "testing"

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
