package metrics

import (
	"iter"

	"github.com/prometheus/client_golang/prometheus"
)

// Hub is what the gauges read of the live connections (hub.Hub): both
// are counted when scraped, not on every change.
type Hub interface {
	// Sockets counts the open sockets and the closing ones, kept until
	// their $disconnect has run.
	Sockets() (open, closing int)
	Rooms() int // rooms with a joined connection
}

// PanicCounts is one part of the server that recovers from panics (the
// gateway, the hub), with its counts by where they happened.
type PanicCounts interface {
	Panics() iter.Seq2[string, uint64]
}

// WatchHub exports the hub's open and closing connections and its rooms
// as gauges.
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
	)
}

// WatchPanics exports the panics the parts recovered from as
// chatapp_panics_total{where}: http (a request), socket (a connection's
// read loop), writer, timer, integration (a route's function).
func (m *Metrics) WatchPanics(parts ...PanicCounts) {
	if m == nil {
		return
	}
	m.registry.MustRegister(panicCollector{parts: parts, desc: prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "panics_total"),
		"Panics the server recovered from, by where: http (a request), socket (a connection's read loop), writer, timer, integration (a route's function).",
		[]string{"where"}, nil)})
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

// panicCollector reads the parts' panic counts when scraped.
type panicCollector struct {
	parts []PanicCounts
	desc  *prometheus.Desc
}

func (c panicCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c panicCollector) Collect(ch chan<- prometheus.Metric) {
	// A site two parts both count is one series, their sum: a repeated
	// label set would fail the whole scrape.
	total := map[string]uint64{}
	var sites []string
	for _, part := range c.parts {
		for where, n := range part.Panics() {
			if _, ok := total[where]; !ok {
				sites = append(sites, where)
			}
			total[where] += n
		}
	}
	for _, where := range sites {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(total[where]), where)
	}
}
