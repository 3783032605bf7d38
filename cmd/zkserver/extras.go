package main

import (
	"log/slog"

	"github.com/zkgo/zkgo/server"
	"github.com/zkgo/zkgo/server/config"
)

// startExtras starts the AdminServer and metrics endpoint when configured.
func startExtras(cfg *config.Config, srv *server.Server, logger *slog.Logger) (func(), error) {
	return func() {}, nil
}
