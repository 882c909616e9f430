package metrics

import (
	"iter"

	"github.com/prometheus/client_golang/prometheus"
)

// Hub is what the gauges read of the gateway's live connections
// (gateway.Hub): both are counted when scraped, not on every change.
type Hub interface {
	// Sockets counts the open sockets and the closing ones, kept until
	// their $disconnect has run.
	Sockets() (open, closing int)
	Rooms() int // rooms with a joined connection
	// Panics yields the panics the gateway recovered from, by where.
	Panics() iter.Seq2[string, uint64]
}

// WatchHub exports the hub's open and closing connections and its rooms
// as gauges, and the panics it recovered from as
// chatapp_panics_total{where}.
func (m *Metrics) WatchHub(h Hub) {
	if m == nil {
		return
	}
	m.registry.MustRegister(
		socketsCollector{hub: h,
			open: prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "connections_open"),
				"Open WebSocket connections (closing ones are chatapp_connections_closing).", nil, nil),
			closing: prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "connections_closing"),
				"WebSocket connections closed or closing whose $disconnect has not yet run.", nil, nil)},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Name: "rooms",
			Help: "Rooms with at least one connection.",
		}, func() float64 { return float64(h.Rooms()) }),
		panicCollector{hub: h, desc: prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "panics_total"),
			"Panics the gateway recovered from, by where: http (a request), socket (a connection's read loop), writer, timer, integration (a route's function).",
			[]string{"where"}, nil)},
	)
}

// socketsCollector reads both counts of the hub's sockets in one walk
// when scraped.
type socketsCollector struct {
	hub           Hub
	open, closing *prometheus.Desc
}

func (c socketsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.open; ch <- c.closing }

func (c socketsCollector) Collect(ch chan<- prometheus.Metric) {
	open, closing := c.hub.Sockets()
	ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(open))
	ch <- prometheus.MustNewConstMetric(c.closing, prometheus.GaugeValue, float64(closing))
}

// panicCollector reads the hub's panic counts when scraped.
type panicCollector struct {
	hub  Hub
	desc *prometheus.Desc
}

func (c panicCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c panicCollector) Collect(ch chan<- prometheus.Metric) {
	for where, n := range c.hub.Panics() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(n), where)
	}
}
