package soak

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// A short soak against the real binary: a few seconds of load with a kill
// or two, every check passing, nothing lost. make soak runs it for long.
func TestShortSoak(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("soak reads /proc")
	}
	if testing.Short() {
		t.Skip("builds zkserver and runs an ensemble")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "zkserver")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/zkgo/zkgo/cmd/zkserver")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build zkserver: %v\n%s", err, out)
	}
	var out bytes.Buffer
	res, err := Run(ctx, Config{
		Zkserver: bin, Dir: t.TempDir(), Duration: 6 * time.Second,
		Clients: 3, Keys: 10, KillEvery: 2 * time.Second, MaxDown: time.Second,
		ReportEvery: 2 * time.Second, Seed: 1, Out: &out,
	})
	t.Log(out.String())
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed > 0 || res.Lost > 0 {
		t.Fatalf("%d checks failed (%v), %d lost writes", res.Failed, res.Failures, res.Lost)
	}
	if res.Kills == 0 || res.Acked == 0 || res.Passed == 0 {
		t.Fatalf("the run did nothing: %d kills, %d acknowledged writes, %d checks", res.Kills, res.Acked, res.Passed)
	}
	for _, want := range []string{"soak: seed=1", "rss MiB", "kill -9 member", "soak: lost writes: 0", "passed, 0 failed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
