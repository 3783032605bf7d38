// Package admin is zkgo's AdminServer: the HTTP interface Apache ZooKeeper
// 3.5+ serves with Jetty (admin.serverAddress:admin.serverPort, default
// 0.0.0.0:8080, base URL admin.commandURL, default /commands), and the
// Prometheus /metrics endpoint (metricsProvider.httpHost/httpPort, default
// 0.0.0.0:7000, also served on the admin port).
//
// GET <commandURL> lists the commands as Apache does (HTML links);
// GET <commandURL>/<name> runs one command, under its primary name or an
// alias (srvr, mntr, wchc, …), and answers JSON that always holds
// "command" and "error", pretty-printed as Apache's Jackson does. The
// AdminServer is not subject to 4lw.commands.whitelist. With
// pprof.enabled, /debug/pprof/ is served on the admin port.
//
// Everything is rendered from a fourletter.View; metrics are collected
// from it at scrape time into a registry of its own (never the global
// one). The package imports fourletter and server/config only. Each
// Admin owns its listeners and http.Servers; Close stops them and waits
// for their goroutines.
package admin
