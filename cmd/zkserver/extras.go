package main

import (
	"log/slog"

	"github.com/zkgo/zkgo/server"
	"github.com/zkgo/zkgo/server/admin"
	"github.com/zkgo/zkgo/server/config"
)

// startExtras starts the AdminServer and the Prometheus endpoint as
// configured. As in Apache, an AdminServer that cannot start stops the
// server, with one line naming the setting to change.
func startExtras(cfg *config.Config, srv *server.Server, logger *slog.Logger) (func(), error) {
	a := admin.New(cfg, srv.View(), logger)
	if err := a.Start(); err != nil {
		return nil, err
	}
	if addr := a.Addr(); addr != "" {
		logger.Info("admin server", "addr", addr)
	}
	if addr := a.MetricsAddr(); addr != "" {
		logger.Info("metrics", "addr", addr)
	}
	return func() { a.Close() }, nil
}
