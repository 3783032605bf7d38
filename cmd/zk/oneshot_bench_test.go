package main

import (
	"os"
	"os/exec"
	"testing"

	"github.com/go-zookeeper/zk"
)

// BenchmarkOneShotGet measures the wall time of a whole `zk get /p`
// process (start, connect, read, close, exit). The server is $ZK_TEST_SERVER
// or an in-process zkgo server.
//
//	go test ./cmd/zk -run '^$' -bench OneShot -benchtime 50x
func BenchmarkOneShotGet(b *testing.B) {
	bin := zkBin(b)
	addr := testServer(b)
	prepareBenchNode(b, addr)
	b.ResetTimer()
	for b.Loop() {
		out, err := exec.Command(bin, "-server", addr, "get", "/bench-get").Output()
		if err != nil || string(out) != "hello\n" {
			b.Fatalf("zk get: %q %v", out, err)
		}
	}
}

// BenchmarkOneShotGetZkCli is the same with Apache's zkCli.sh, for
// comparison; it needs ZKCLI=/usr/share/zookeeper/bin/zkCli.sh.
func BenchmarkOneShotGetZkCli(b *testing.B) {
	zkcli := os.Getenv("ZKCLI")
	if zkcli == "" {
		b.Skip("set ZKCLI=/path/to/zkCli.sh")
	}
	addr := testServer(b)
	prepareBenchNode(b, addr)
	b.ResetTimer()
	for b.Loop() {
		if err := exec.Command(zkcli, "-server", addr, "get", "/bench-get").Run(); err != nil {
			b.Fatalf("zkCli.sh get: %v", err)
		}
	}
}

func prepareBenchNode(b *testing.B, addr string) {
	conn := oracle(b, addr)
	_ = conn.Delete("/bench-get", -1)
	if _, err := conn.Create("/bench-get", []byte("hello"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		b.Fatal(err)
	}
}
