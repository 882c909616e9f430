package gateway

import "testing"

// BenchmarkSelectRoute is route selection ($request.body.action) on the
// frame of a WebSocket send, as every inbound frame goes through it.
func BenchmarkSelectRoute(b *testing.B) {
	g := routingGateway("$connect", "$disconnect", "$default", "sendmessage")
	frame := []byte(`{"action":"sendmessage","text":"hello, this is a chat message of ordinary length","idempotency_key":"0f8fad5b-d9cb-469f-a165-70867728950e"}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if got, _ := g.route(frame, true); got != "sendmessage" {
			b.Fatalf("route %q", got)
		}
	}
}
