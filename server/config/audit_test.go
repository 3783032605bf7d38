package config

import (
	"slices"
	"strings"
	"testing"
)

func TestAuditKeys(t *testing.T) {
	c, err := ParseBytes("zoo.cfg", []byte("dataDir=/d\nclientPort=2181\nzookeeper.audit.enable=true\naudit.impl.class=org.apache.zookeeper.audit.Slf4jAuditLogger\n"))
	if err != nil || !c.AuditEnable || len(c.Warnings) != 0 {
		t.Fatalf("%v %v %q", err, c.AuditEnable, c.Warnings)
	}
	c, err = ParseBytes("zoo.cfg", []byte("dataDir=/d\nclientPort=2181\naudit.impl.class=com.example.Audit\n"))
	if err != nil || c.AuditEnable || !slices.ContainsFunc(c.Warnings, func(w string) bool { return strings.Contains(w, `"com.example.Audit" ignored`) }) {
		t.Fatalf("%v %v %q", err, c.AuditEnable, c.Warnings)
	}
}
