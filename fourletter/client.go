package fourletter

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// MaxReply bounds how much of a reply Query reads (a dump or cons of a big
// server can be large, but never this large in practice).
const MaxReply = 64 << 20

// Query connects to addr ("host:port"), sends the four-letter word and
// returns everything the server writes until it closes the connection.
// The context's deadline (or cancellation) bounds the whole exchange.
func Query(ctx context.Context, addr, word string) (string, error) {
	return QueryTLS(ctx, addr, word, nil)
}

// QueryTLS is Query over TLS (a server's secureClientPort), or plain when
// tc is nil.
func QueryTLS(ctx context.Context, addr, word string, tc *tls.Config) (string, error) {
	if len(word) != 4 {
		return "", fmt.Errorf("4lw %q: a four-letter word has 4 letters", word)
	}
	var d interface {
		DialContext(context.Context, string, string) (net.Conn, error)
	} = &net.Dialer{}
	if tc != nil {
		d = &tls.Dialer{Config: tc}
	}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("4lw %s to %s: %w", word, addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// Close the connection when ctx is cancelled so blocked I/O returns.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if _, err := io.WriteString(conn, word); err != nil {
		return "", fmt.Errorf("4lw %s to %s: write: %w", word, addr, ctxErr(ctx, err))
	}
	// Half-close like Apache's FourLetterWordMain would not; servers close
	// after replying, so just read until EOF.
	b, err := io.ReadAll(io.LimitReader(conn, MaxReply))
	if err != nil {
		return string(b), fmt.Errorf("4lw %s to %s: read: %w", word, addr, ctxErr(ctx, err))
	}
	return string(b), nil
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// Srvr is the parsed output of srvr (or the stats part of stat).
type Srvr struct {
	Version     string  // "3.8.0-…, built on …" as printed after "Zookeeper version: "
	LatencyMin  int64   // ms
	LatencyAvg  float64 // ms
	LatencyMax  int64   // ms
	Received    int64
	Sent        int64
	Connections int64
	Outstanding int64
	Zxid        int64
	Mode        string // standalone, leader, follower, observer, read-only
	NodeCount   int64
	// Proposal sizes are printed by leaders only; -1 when absent.
	ProposalLast, ProposalMin, ProposalMax int64
	// ReadOnly is set when stat printed its READ-ONLY line.
	ReadOnly bool
}

// ErrNotServing is returned by ParseSrvr when the server answered that it
// is not currently serving requests.
var ErrNotServing = errors.New("this ZooKeeper instance is not currently serving requests")

// ParseSrvr parses the output of srvr or stat. Unknown lines are ignored;
// a reply without a Mode line is an error.
func ParseSrvr(text string) (Srvr, error) {
	s := Srvr{ProposalLast: -1, ProposalMin: -1, ProposalMax: -1}
	if strings.HasPrefix(text, notServing) {
		return s, ErrNotServing
	}
	if strings.HasSuffix(strings.TrimSpace(text), "is not executed because it is not in the whitelist.") {
		return s, fmt.Errorf("parse srvr: %s", strings.TrimSpace(text))
	}
	var errs []error
	num := func(key, v string) int64 {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("parse srvr: %s: %w", key, err))
		}
		return n
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), MaxReply)
	haveMode := false
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "READ-ONLY mode") {
			s.ReadOnly = true
			continue
		}
		key, val, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		switch key {
		case "Zookeeper version":
			s.Version = val
		case "Latency min/avg/max":
			p := strings.Split(val, "/")
			if len(p) != 3 {
				errs = append(errs, fmt.Errorf("parse srvr: latency %q", val))
				continue
			}
			s.LatencyMin = num("latency min", p[0])
			avg, err := strconv.ParseFloat(strings.TrimSpace(p[1]), 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("parse srvr: latency avg: %w", err))
			}
			s.LatencyAvg = avg
			s.LatencyMax = num("latency max", p[2])
		case "Received":
			s.Received = num(key, val)
		case "Sent":
			s.Sent = num(key, val)
		case "Connections":
			s.Connections = num(key, val)
		case "Outstanding":
			s.Outstanding = num(key, val)
		case "Zxid":
			z, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(val), "0x"), 16, 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("parse srvr: zxid: %w", err))
			}
			s.Zxid = int64(z)
		case "Mode":
			s.Mode = strings.TrimSpace(val)
			haveMode = true
		case "Node count":
			s.NodeCount = num(key, val)
		case "Proposal sizes last/min/max":
			p := strings.Split(val, "/")
			if len(p) == 3 {
				s.ProposalLast = num("proposal last", p[0])
				s.ProposalMin = num("proposal min", p[1])
				s.ProposalMax = num("proposal max", p[2])
			}
		}
	}
	if !haveMode && len(errs) == 0 {
		errs = append(errs, errors.New("parse srvr: no Mode line in reply"))
	}
	return s, errors.Join(errs...)
}

// ParseMntr parses mntr output: one "key<TAB>value" per line. Lines
// without a tab are ignored.
func ParseMntr(text string) (map[string]string, error) {
	if strings.HasPrefix(text, notServing) {
		return nil, ErrNotServing
	}
	if strings.HasSuffix(strings.TrimSpace(text), "is not executed because it is not in the whitelist.") {
		return nil, fmt.Errorf("parse mntr: %s", strings.TrimSpace(text))
	}
	m := make(map[string]string)
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(strings.TrimRight(line, "\r"), "\t")
		if !ok || k == "" {
			continue
		}
		m[k] = v
	}
	if len(m) == 0 {
		return nil, errors.New("parse mntr: empty reply")
	}
	return m, nil
}
