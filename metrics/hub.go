package metrics

import "github.com/prometheus/client_golang/prometheus"

// Hub is what the gauges read of the gateway's live connections
// (gateway.Hub): both are counted when scraped, not on every change.
type Hub interface {
	Len() int   // open sockets
	Rooms() int // rooms with a joined connection
}

// WatchHub exports the hub's open connections and rooms as gauges.
func (m *Metrics) WatchHub(h Hub) {
	if m == nil {
		return
	}
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Name: "connections_open",
			Help: "Open WebSocket connections.",
		}, func() float64 { return float64(h.Len()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Name: "rooms",
			Help: "Rooms with at least one connection.",
		}, func() float64 { return float64(h.Rooms()) }),
	)
}
