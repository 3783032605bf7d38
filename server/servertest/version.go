package servertest

import (
	"fmt"
	"strings"
)

// Since reports whether the server at addr behaves as the Apache releases
// given do and later ones (one per minor line, such as "3.8.4", "3.9.2"; a
// minor line newer than all of them counts as having the change, an older
// one as not). zkgo always does: it answers as the newest 3.8. The version
// is srvr's.
func Since(addr string, releases ...string) (bool, error) {
	st, err := Srvr(addr)
	if err != nil {
		return false, err
	}
	return sinceVersion(st.Version, releases...)
}

// sinceVersion is Since for a srvr version line.
func sinceVersion(version string, releases ...string) (bool, error) {
	if strings.Contains(version, "zkgo") {
		return true, nil
	}
	v, err := parseRelease(version)
	if err != nil {
		return false, fmt.Errorf("srvr version %q: %w", version, err)
	}
	newest := [3]int{}
	for _, r := range releases {
		fix, err := parseRelease(r)
		if err != nil {
			return false, err
		}
		if v[0] == fix[0] && v[1] == fix[1] {
			return v[2] >= fix[2], nil
		}
		if compare(fix, newest) > 0 {
			newest = fix
		}
	}
	return compare(v, newest) > 0, nil
}

// ExistsChecksRead reports whether the server at addr refuses exists on a
// znode the client may not read (NOAUTH), as Apache does since 3.7.3,
// 3.8.4 and 3.9.2 (ZOOKEEPER-2590); older servers (Debian's 3.8.0) answer
// with the Stat.
func ExistsChecksRead(addr string) (bool, error) {
	return Since(addr, "3.7.3", "3.8.4", "3.9.2")
}

func parseRelease(s string) ([3]int, error) {
	var v [3]int
	_, err := fmt.Sscanf(s, "%d.%d.%d", &v[0], &v[1], &v[2])
	return v, err
}

func compare(a, b [3]int) int {
	for i := range a {
		if a[i] != b[i] {
			return a[i] - b[i]
		}
	}
	return 0
}
