// Package servertest starts in-process zkgo servers for tests: each on
// 127.0.0.1 on a free port with its own data directory, stopped when the
// test ends. Production code never imports it.
package servertest

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/zkgo/zkgo/server"
	"github.com/zkgo/zkgo/server/config"
)

// Option adjusts the configuration before the server starts.
type Option func(*config.Config)

// WithConfig applies fn to the configuration.
func WithConfig(fn func(*config.Config)) Option { return Option(fn) }

// Server is a running test server.
type Server struct {
	t   testing.TB
	Cfg *config.Config
	// Logger, when set before a (re)start, is the server's logger.
	Logger *slog.Logger
	// TreeAstray, set by a test that changes the server's tree behind
	// the protocol's back, lets it count tree digest mismatches; any
	// other server that counted one when it stops fails its test (its
	// tree differed from a snapshot's or the leader's).
	TreeAstray bool

	srv  *server.Server
	addr string
	done chan error
}

// Start starts a standalone server: tickTime 200 ms (sessions of 0.4–4 s),
// forceSync off, every four-letter word enabled, admin server off.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	cfg := baseConfig(t)
	for _, o := range opts {
		o(cfg)
	}
	s := &Server{t: t, Cfg: cfg}
	s.start()
	t.Cleanup(s.Stop)
	return s
}

// baseConfig is the configuration every test server starts from.
func baseConfig(t testing.TB) *config.Config {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DataLogDir = cfg.DataDir
	cfg.TickTime = 200 * time.Millisecond
	cfg.MinSessionTimeout = 2 * cfg.TickTime
	cfg.MaxSessionTimeout = 20 * cfg.TickTime
	cfg.ForceSync = false
	cfg.AdminEnableServer = false
	cfg.MetricsEnabled = false
	cfg.ClientPort = 0
	return cfg
}

func (s *Server) start() {
	s.t.Helper()
	logger := slog.New(slog.DiscardHandler)
	if s.Logger != nil {
		logger = s.Logger
	} else if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(s.t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	srv, err := server.New(s.Cfg, logger)
	if err != nil {
		s.t.Fatalf("servertest: %v", err)
	}
	addr := "127.0.0.1:0"
	if s.addr != "" {
		addr = s.addr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		srv.Close()
		s.t.Fatalf("servertest: listen: %v", err)
	}
	s.addr = ln.Addr().String()
	s.srv = srv
	s.done = make(chan error, 1)
	go func() { s.done <- srv.Serve(context.Background(), ln) }()
}

// exited returns the error Serve ended with, if it has ended; the
// result stays in done for Stop.
func (s *Server) exited() error {
	select {
	case err := <-s.done:
		s.done <- err
		if err == nil {
			return errors.New("server stopped")
		}
		return err
	default:
		return nil
	}
}

// Addr returns "127.0.0.1:port".
func (s *Server) Addr() string { return s.addr }

// Server returns the running server.
func (s *Server) Server() *server.Server { return s.srv }

// Stop stops the server; it is safe to call twice.
func (s *Server) Stop() {
	if s.srv == nil {
		return
	}
	if n := digestMismatches(s.srv); n > 0 && !s.TreeAstray {
		s.t.Errorf("servertest: %s counted %d tree digest mismatches (digest_mismatches_count): its tree is not the one its txns make", s.addr, n)
	}
	s.srv.Close()
	<-s.done
	s.srv = nil
}

// Restart stops the server and starts it again on the same port and data.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// digestMismatches is srv's digest_mismatches_count.
func digestMismatches(srv *server.Server) int64 {
	for _, m := range srv.View().Metrics() {
		if n, ok := m.Value.(int64); ok && m.Name == "digest_mismatches_count" {
			return n
		}
	}
	return 0
}
