// Package metrics instruments the chat with Prometheus
// (github.com/prometheus/client_golang). It only decorates: the stores, the
// Notifier and the gateway's integrations are wrapped here, so the domain,
// the handlers and the gateway never see Prometheus.
//
// Every wrapper method of a nil *Metrics returns what it was given, so that
// a server started without metrics wires the same way.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every metric of the chat.
const namespace = "chatapp"

// latencyBuckets suit the fast paths: an in-memory broadcast or an SQLite
// read takes tens of microseconds, a DynamoDB call milliseconds.
var latencyBuckets = []float64{
	50e-6, 100e-6, 250e-6, 500e-6,
	1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1,
}

// Metrics is one server's collectors, in a registry of its own: two servers
// in one process (as in tests) never share counters.
type Metrics struct {
	registry *prometheus.Registry

	storeDuration *prometheus.HistogramVec
	storeErrors   *prometheus.CounterVec
	messagesSent  prometheus.Counter

	broadcastDuration *prometheus.HistogramVec
	deliveries        prometheus.Counter
	failedDeliveries  prometheus.Counter

	errors *prometheus.CounterVec
}

// New returns the collectors, registered with the Go runtime's and the
// process's.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		storeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "store_duration_seconds",
			Help:    "Latency of store operations, by operation.",
			Buckets: latencyBuckets,
		}, []string{"operation"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "store_errors_total",
			Help: "Store operations that failed, by operation (duplicate sends and missing rows are answers, not failures).",
		}, []string{"operation"}),
		messagesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "messages_sent_total",
			Help: "Messages stored (REST and WebSocket sends; idempotent replays excluded).",
		}),
		broadcastDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "broadcast_duration_seconds",
			Help:    "Latency of a room fan-out (Notifier.Broadcast, or BroadcastBatch of the sends that committed together), by push kind.",
			Buckets: latencyBuckets,
		}, []string{"kind"}),
		deliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "deliveries_total",
			Help: "Frames handed to a connection, by broadcasts and posts.",
		}),
		failedDeliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "delivery_failures_total",
			Help: "Frames not handed to a connection: gone, closing, or its queue overflowed.",
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "errors_total",
			Help: "Error answers of the functions (REST statuses, refused handshakes, error frames), by route and error code.",
		}, []string{"route", "code"}),
	}
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.storeDuration, m.storeErrors, m.messagesSent,
		m.broadcastDuration, m.deliveries, m.failedDeliveries,
		m.errors,
	)
	return m
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Registry is where the server's collectors are; tests gather from it.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// since is the seconds elapsed from start, as observations want them.
func since(start time.Time) float64 { return time.Since(start).Seconds() }
