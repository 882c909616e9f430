package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chatapp-dev/chatapp"
)

// Notifier wraps the push path: the latency of each room fan-out, and the
// frames handed to connections or not. It costs one clock read, one
// observation and two counter additions per call, whatever the room's size.
func (m *Metrics) Notifier(next chatapp.Notifier) chatapp.Notifier {
	if m == nil {
		return next
	}
	n := &notifier{
		next:              next,
		messageBroadcast:  m.broadcastDuration.WithLabelValues("message"),
		presenceBroadcast: m.broadcastDuration.WithLabelValues("presence"),
		delivered:         m.deliveries,
		failed:            m.failedDeliveries,
	}
	if b, ok := next.(chatapp.BatchNotifier); ok {
		return &batchNotifier{n, b}
	}
	return n
}

// batchNotifier is the notifier of a BatchNotifier: a batch is one
// fan-out, observed once.
type batchNotifier struct {
	*notifier
	next chatapp.BatchNotifier
}

func (n *batchNotifier) BroadcastBatch(ctx context.Context, roomID string, pushes []chatapp.Push) ([]chatapp.Delivery, error) {
	start := time.Now()
	ds, err := n.next.BroadcastBatch(ctx, roomID, pushes)
	if len(pushes) > 0 {
		n.observe(pushes[0].Kind, start, ds...)
	}
	return ds, err
}

type notifier struct {
	next                                chatapp.Notifier
	messageBroadcast, presenceBroadcast prometheus.Observer
	delivered, failed                   prometheus.Counter
}

func (n *notifier) Broadcast(ctx context.Context, roomID string, push chatapp.Push) (chatapp.Delivery, error) {
	start := time.Now()
	d, err := n.next.Broadcast(ctx, roomID, push)
	n.observe(push.Kind, start, d)
	return d, err
}

// observe records one fan-out of kind begun at start, and its deliveries.
func (n *notifier) observe(kind chatapp.PushKind, start time.Time, ds ...chatapp.Delivery) {
	if kind == chatapp.PushPresence {
		n.presenceBroadcast.Observe(since(start))
	} else {
		n.messageBroadcast.Observe(since(start))
	}
	for _, d := range ds {
		n.delivered.Add(float64(d.Delivered))
		n.failed.Add(float64(d.Failed))
	}
}

func (n *notifier) Members(ctx context.Context, roomID string) ([]*chatapp.Connection, error) {
	return n.next.Members(ctx, roomID)
}

func (n *notifier) Disconnect(ctx context.Context, connectionID, reason string) error {
	return n.next.Disconnect(ctx, connectionID, reason)
}

func (n *notifier) Post(ctx context.Context, connectionID string, data []byte) error {
	err := n.next.Post(ctx, connectionID, data)
	if err != nil {
		n.failed.Inc()
	} else {
		n.delivered.Inc()
	}
	return err
}
