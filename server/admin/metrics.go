package admin

import (
	"cmp"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/zkgo/zkgo/fourletter"
	"github.com/zkgo/zkgo/internal/metric"
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
		case metric.Values:
			// Apache's Prometheus summaries: count, sum and the median;
			// the 0.9 and 0.99 quantiles too where Apache keeps
			// percentiles (its ADVANCED summaries).
			if seen[m.Name] {
				continue
			}
			seen[m.Name] = true
			q := map[float64]float64{0.5: float64(x.P50)}
			if x.Percentiles {
				q[0.9], q[0.99] = float64(x.P90), float64(x.P99)
			}
			pm, err := prometheus.NewConstSummary(prometheus.NewDesc(m.Name, cmp.Or(m.Help, m.Name), nil, nil), uint64(x.Count), float64(x.Sum), q)
			if err == nil {
				ch <- pm
			}
			continue
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
