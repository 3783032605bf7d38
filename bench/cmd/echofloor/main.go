// Command echofloor measures the latency floor of this machine for a Go
// server and a Go load generator on the same cores: a server that answers
// every length-prefixed frame with a fixed frame at once (no ZooKeeper, no
// disk), in a process of its own, driven the way `zk bench` drives zkserver
// (closed loop, every client its own connection with one request in
// flight, one write and one read system call per request).
//
//	echofloor [-clients 1,8,32] [-server goroutines,loop] [-duration 5s] [-warmup 1s] [-size 200]
//
// It measures two servers: one with a goroutine per connection, and one
// event loop for all of them, as zkserver reads its clients (-server
// goroutines,loop). Whatever p99 they print is not the work of a server:
// it is how long the kernel and the Go runtime take to wake the two
// processes sharing the cores. bench/results/README.md compares it with
// zkgo's rows.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "echofloor:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("echofloor", flag.ContinueOnError)
	clients := fs.String("clients", "1,8,32", "client counts, comma-separated")
	duration := fs.Duration("duration", 5*time.Second, "measured time per client count")
	warmup := fs.Duration("warmup", time.Second, "unmeasured time before it")
	size := fs.Int("size", 200, "bytes of each answer (a getData answer of 100 bytes is about 200)")
	servers := fs.String("server", "goroutines,loop", "echo servers to measure: goroutines (one per connection), loop (one event loop, as zkserver)")
	serve := fs.String("serve", "", "internal: be the echo server, listening on this address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *size < 4 || *size > 1<<20 {
		return fmt.Errorf("-size %d: want 4 to 1048576", *size)
	}
	kinds := strings.Split(*servers, ",")
	for _, k := range kinds {
		if k != "goroutines" && k != "loop" {
			return fmt.Errorf("-server: %q is not goroutines or loop", k)
		}
	}
	if *serve != "" {
		ln, err := net.Listen("tcp", *serve)
		if err != nil {
			return err
		}
		if kinds[0] == "loop" {
			return serveLoop(ln, *size)
		}
		return serveEcho(ln, *size)
	}
	var counts []int
	for _, f := range strings.Split(*clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 4096 {
			return fmt.Errorf("-clients: %q is not a count from 1 to 4096", f)
		}
		counts = append(counts, n)
	}

	fmt.Fprintf(out, "%-11s %-8s %10s %9s %9s %9s %9s %9s\n", "SERVER", "CLIENTS", "OPS/S", "P50", "P90", "P99", "P99.9", "MAX")
	for _, kind := range kinds {
		if err := measure(out, kind, counts, *size, *warmup, *duration); err != nil {
			return err
		}
	}
	return nil
}

// measure starts one kind of echo server and prints a row per client count.
func measure(out io.Writer, kind string, counts []int, size int, warmup, duration time.Duration) error {
	addr, stop, err := startServer(kind, size)
	if err != nil {
		return err
	}
	defer stop()
	for _, n := range counts {
		lat, err := load(addr, n, warmup, duration)
		if err != nil {
			return err
		}
		slices.Sort(lat)
		q := func(f float64) string { return fmt.Sprintf("%.3fms", float64(lat[int(f*float64(len(lat)-1))])/1e6) }
		fmt.Fprintf(out, "%-11s %-8d %10.0f %9s %9s %9s %9s %9s\n", kind, n, float64(len(lat))/duration.Seconds(),
			q(.5), q(.9), q(.99), q(.999), q(1))
	}
	return nil
}

// startServer runs this program again as the server, in a process of its
// own as zkserver is, on a free port of 127.0.0.1.
func startServer(kind string, size int) (string, func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(exe, "-serve", addr, "-server", kind, "-size", strconv.Itoa(size))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr, stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("the echo server did not listen on %s: %w", addr, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// serveEcho answers every frame (4-byte big-endian length, then the
// body) with a frame of size bytes.
func serveEcho(ln net.Listener, size int) error {
	answer := make([]byte, size)
	binary.BigEndian.PutUint32(answer, uint32(size-4))
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			buf := make([]byte, 64<<10)
			for {
				if err := readFrame(c, buf); err != nil {
					return
				}
				if _, err := c.Write(answer); err != nil {
					return
				}
			}
		}()
	}
}

// load runs n closed-loop clients for warmup+measure and returns the
// latencies of the requests that started in the measured part.
func load(addr string, n int, warmup, measure time.Duration) ([]time.Duration, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now().Add(warmup)
	end := start.Add(measure)
	var (
		mu   sync.Mutex
		all  []time.Duration
		errs []error
		wg   sync.WaitGroup
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat, err := client(ctx, addr, start, end)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				cancel()
			}
			all = append(all, lat...)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, errors.New("no request finished in the measured time")
	}
	return all, nil
}

func client(ctx context.Context, addr string, start, end time.Time) ([]time.Duration, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	// A getData request of a short path: 4-byte length, xid, op, path, watch.
	req := make([]byte, 4+28)
	binary.BigEndian.PutUint32(req, 28)
	buf := make([]byte, 64<<10)
	lat := make([]time.Duration, 0, 1<<16)
	for ctx.Err() == nil {
		t0 := time.Now()
		if !t0.Before(end) {
			break
		}
		c.SetDeadline(t0.Add(5 * time.Second))
		if _, err := c.Write(req); err != nil {
			return nil, err
		}
		if err := readFrame(c, buf); err != nil {
			return nil, err
		}
		if !t0.Before(start) {
			lat = append(lat, time.Since(t0))
		}
	}
	return lat, nil
}

// readFrame reads one frame (4-byte big-endian length, then the body) into
// buf, which must hold the body.
func readFrame(r io.Reader, buf []byte) error {
	if _, err := io.ReadFull(r, buf[:4]); err != nil {
		return err
	}
	n := int(binary.BigEndian.Uint32(buf[:4]))
	if n > len(buf) {
		return fmt.Errorf("frame of %d bytes, more than %d", n, len(buf))
	}
	_, err := io.ReadFull(r, buf[:n])
	return err
}
