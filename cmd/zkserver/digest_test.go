package main

import (
	"bytes"
	"strings"
	"testing"
)

// zkserver digest prints what Apache's DigestAuthenticationProvider main
// prints, "user:password->user:digest" (known answers from Python's
// hashlib), with -alg as digestAlg; bad input is a usage error.
func TestDigestCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"digest", "bob:secret", "u:p"}, 0, "bob:secret->bob:fyVmFCwVbTJYrznoSu1koqYEYF0=\nu:p->u:" + "Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ=\n"},
		{[]string{"digest", "bob:secret", "-alg", "SHA-256"}, 0, "bob:secret->bob:huAluaVu3uER4LIpielGv9Qqk5x3YVDr6I2R/mXf2wE=\n"},
		{[]string{"digest"}, 2, ""},
		{[]string{"digest", "-alg"}, 2, ""},
		{[]string{"digest", "-alg", "MD2", "a:b"}, 2, ""},
	} {
		var out, errb bytes.Buffer
		code := run(tc.args, &out, &errb)
		if code != tc.code || out.String() != tc.out {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d, %q", tc.args, code, out.String(), errb.String(), tc.code, tc.out)
		}
		if code != 0 && strings.Count(errb.String(), "\n") != 1 {
			t.Errorf("%v: stderr %q, want one line", tc.args, errb.String())
		}
	}
}
