package servertest

import "testing"

func TestSinceVersion(t *testing.T) {
	fixed := []string{"3.7.3", "3.8.4", "3.9.2"}
	for _, tc := range []struct {
		version string
		want    bool
	}{
		{"3.8.0-${mvngit.commit.id}, built on 2023-02-08 18:21 UTC", false},
		{"3.8.4-9316c2a7a97e1666d8f4593f34dd6fc36ecc436c, built on 2024-02-12 22:16 UTC", true},
		{"3.8.6-abc, built on …", true},
		{"3.9.1-x, built on …", false},
		{"3.9.2-x, built on …", true},
		{"3.7.2-x, built on …", false},
		{"3.6.4-x, built on …", false},
		{"3.10.0-x, built on …", true},
		{"4.0.0-x, built on …", true},
		{"3.8.0-zkgo, built on 2026-11-28 08:00 UTC", true},
	} {
		got, err := sinceVersion(tc.version, fixed...)
		if err != nil || got != tc.want {
			t.Errorf("%q: %v, %v; want %v", tc.version, got, err, tc.want)
		}
	}
	if _, err := sinceVersion("unknown", fixed...); err == nil {
		t.Error("a version without a release number was taken")
	}
}
