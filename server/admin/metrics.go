package admin

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/zkgo/zkgo/fourletter"
)

// viewCollector exports the View's mntr values at scrape time: every
// numeric value becomes a gauge (a counter when the server marks it so),
// under Apache's metric names without the zk_ prefix (znode_count,
// avg_latency, packets_received, …), as Apache's
// PrometheusMetricsProvider names them. String values (version,
// server_state, peer_state) are not exported.
type viewCollector struct{ v fourletter.View }

// Describe sends nothing: the set of metrics depends on the server's
// mode, so this is an unchecked collector.
func (viewCollector) Describe(chan<- *prometheus.Desc) {}

func (c viewCollector) Collect(ch chan<- prometheus.Metric) {
	seen := map[string]bool{}
	for _, m := range fourletter.MonitorValues(c.v) {
		var f float64
		switch x := m.Value.(type) {
		case int64:
			f = float64(x)
		case int:
			f = float64(x)
		case float64:
			f = x
		default:
			continue
		}
		if seen[m.MntrName()] {
			continue
		}
		seen[m.MntrName()] = true
		help := m.Help
		if help == "" {
			help = m.Name
		}
		typ := prometheus.GaugeValue
		if m.Counter {
			typ = prometheus.CounterValue
		}
		var labels, values []string
		if m.Key != "" {
			// A set's members are one metric with Apache's label "key".
			labels, values = []string{"key"}, []string{m.Key}
		}
		pm, err := prometheus.NewConstMetric(prometheus.NewDesc(m.Name, help, labels, nil), typ, f, values...)
		if err != nil {
			continue // an invalid name from the server: skip it, never fail a scrape
		}
		ch <- pm
	}
}

// newRegistry builds the per-server registry: the View's values plus the
// Go runtime and process collectors (zkgo's counterpart of Apache's
// metricsProvider.exportJvmInfo).
func newRegistry(v fourletter.View) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(viewCollector{v: v})
	reg.MustRegister(collectors.NewGoCollector())
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
