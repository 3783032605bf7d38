package admin

import (
	"context"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/zkgo/zkgo/fourletter"
	"github.com/zkgo/zkgo/server/config"
)

// Admin is one server's AdminServer and metrics endpoint.
type Admin struct {
	cfg    *config.Config
	view   fourletter.View
	log    *slog.Logger
	reg    *prometheus.Registry
	prefix string // admin.commandURL, e.g. "/commands"

	mu      sync.Mutex
	servers []*http.Server
	addrs   map[string]string // "admin" / "metrics" -> real listen address
	wg      sync.WaitGroup
	started bool
	closed  bool
}

// New prepares the AdminServer for cfg (admin.*, metricsProvider.*,
// pprof.enabled), rendering from v. Nothing listens until Start.
func New(cfg *config.Config, v fourletter.View, logger *slog.Logger) *Admin {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	prefix := strings.TrimRight(cfg.AdminCommandURL, "/")
	if prefix == "" {
		prefix = config.DefaultAdminCommandURL
	}
	return &Admin{
		cfg:    cfg,
		view:   v,
		log:    logger.With("component", "admin"),
		reg:    newRegistry(v),
		prefix: prefix,
		addrs:  map[string]string{},
	}
}

// Registry is the Prometheus registry of this server (one per server,
// never the global one), for callers that want to add their own
// collectors before Start.
func (a *Admin) Registry() *prometheus.Registry { return a.reg }

// Handler serves the AdminServer's routes: <commandURL>[/<name>],
// /metrics and, with pprof.enabled, /debug/pprof/.
func (a *Admin) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(a.prefix, a.serveCommand)
	mux.HandleFunc(a.prefix+"/", a.serveCommand)
	mux.Handle("/metrics", a.metricsHandler())
	if a.cfg.PprofEnabled {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

func (a *Admin) metricsHandler() http.Handler {
	return promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Start listens on the admin address (when admin.enableServer) and on the
// metrics address (when metrics are enabled) and serves in the
// background. A listen error is returned as one line naming the address
// and the setting to change; nothing is left listening then.
func (a *Admin) Start() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return errors.New("admin server: already closed")
	}
	if a.started {
		return errors.New("admin server: already started")
	}
	a.started = true
	type endpoint struct {
		name, addr, hint string
		handler          http.Handler
	}
	var eps []endpoint
	if a.cfg.AdminEnableServer {
		eps = append(eps, endpoint{"admin", a.cfg.AdminAddr(), "admin.serverPort, or admin.enableServer=false", a.Handler()})
	}
	if a.cfg.MetricsEnabled {
		mux := http.NewServeMux()
		mux.Handle("/metrics", a.metricsHandler())
		eps = append(eps, endpoint{"metrics", a.cfg.MetricsAddr(), "metricsProvider.httpPort", mux})
	}
	var lns []net.Listener
	for _, ep := range eps {
		ln, err := net.Listen("tcp", ep.addr)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return fmt.Errorf("%s server: cannot listen on %s: %v (change %s)", ep.name, ep.addr, listenCause(err), ep.hint)
		}
		lns = append(lns, ln)
	}
	for i, ep := range eps {
		ln := lns[i]
		srv := &http.Server{
			Handler:           ep.handler,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       a.cfg.AdminIdleTimeout,
			ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
		}
		a.servers = append(a.servers, srv)
		a.addrs[ep.name] = ln.Addr().String()
		a.log.Info("listening", "endpoint", ep.name, "addr", ln.Addr().String())
		a.wg.Go(func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.log.Error("serve failed", "endpoint", ep.name, "err", err)
			}
		})
	}
	return nil
}

// listenCause strips net.OpError's "listen tcp addr:" prefix, keeping
// e.g. "bind: address already in use".
func listenCause(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		var sys *os.SyscallError
		if errors.As(op.Err, &sys) {
			return fmt.Errorf("%s: %v", sys.Syscall, sys.Err)
		}
		return op.Err
	}
	return err
}

// Addr is the AdminServer's actual listen address ("" when not
// listening); with admin.serverPort=0 it holds the port chosen.
func (a *Admin) Addr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.addrs["admin"]
}

// MetricsAddr is the metrics endpoint's actual listen address ("" when
// not listening).
func (a *Admin) MetricsAddr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.addrs["metrics"]
}

// Close stops the listeners, gives in-flight requests a second to
// finish, and waits for the serving goroutines. It is idempotent.
func (a *Admin) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	servers := a.servers
	a.addrs = map[string]string{}
	a.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var errs []error
	for _, s := range servers {
		if err := s.Shutdown(ctx); err != nil {
			errs = append(errs, s.Close())
		}
	}
	a.wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("admin server: close: %w", err)
	}
	return nil
}

// serveCommand is JettyAdminServer.CommandServlet: the command list, or
// one command as JSON (status 200 even for errors, as Apache).
func (a *Admin) serveCommand(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "HTTP method "+r.Method+" is not supported by this URL", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, a.prefix), "/")
	if name == "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		var b strings.Builder
		for _, n := range primaryNames() {
			fmt.Fprintf(&b, "<a href=\"%s\">%s</a>\n<br/>\n", html.EscapeString(a.prefix+"/"+n), html.EscapeString(n))
		}
		_, _ = w.Write([]byte(b.String()))
		return
	}
	args := map[string]string{}
	for k, vs := range r.URL.Query() {
		if len(vs) > 0 {
			args[k] = vs[0]
		}
	}
	body := renderJSON(runCommand(name, a.view, args))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(body))
}
