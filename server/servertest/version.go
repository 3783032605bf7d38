package servertest

import (
	"fmt"
	"strings"
)

// ExistsChecksRead reports whether the server at addr refuses exists on a
// znode the client may not read (NOAUTH), as Apache does since 3.7.3,
// 3.8.4 and 3.9.2 (ZOOKEEPER-2590) and zkgo always does; older Apache
// servers (Debian's 3.8.0) answer with the Stat. Tests that run against
// either ask the server's srvr version.
func ExistsChecksRead(addr string) (bool, error) {
	st, err := Srvr(addr)
	if err != nil {
		return false, err
	}
	if strings.Contains(st.Version, "zkgo") {
		return true, nil
	}
	var major, minor, patch int
	if _, err := fmt.Sscanf(st.Version, "%d.%d.%d", &major, &minor, &patch); err != nil {
		return false, fmt.Errorf("srvr version %q: %w", st.Version, err)
	}
	switch {
	case major != 3:
		return major > 3, nil
	case minor == 7:
		return patch >= 3, nil
	case minor == 8:
		return patch >= 4, nil
	case minor == 9:
		return patch >= 2, nil
	}
	return minor > 9, nil
}
