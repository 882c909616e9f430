package metrics

import (
	"context"
	"testing"

	"github.com/chatapp-dev/chatapp"
)

// benchRoomSize is the room the benchmark pretends to broadcast to. The
// hub's own fan-out to real sockets is gateway's BenchmarkHubBroadcast.
const benchRoomSize = 1000

// BenchmarkNotifierOverhead is the wrapper's own cost, over a Notifier that
// does nothing: what the wrapper adds does not depend on what it wraps.
func BenchmarkNotifierOverhead(b *testing.B) {
	fake := &fakeNotifier{delivery: chatapp.Delivery{Connections: make([]*chatapp.Connection, benchRoomSize), Delivered: benchRoomSize}}
	for _, bc := range []struct {
		name     string
		notifier chatapp.Notifier
	}{
		{"bare", fake},
		{"instrumented", New().Notifier(fake)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			push := chatapp.Push{Kind: chatapp.PushMessage}
			b.ReportAllocs()
			for b.Loop() {
				bc.notifier.Broadcast(ctx, "bench", push)
			}
		})
	}
}
