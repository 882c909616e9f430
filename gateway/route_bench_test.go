package gateway

import "testing"

// BenchmarkSelectRoute is route selection ($request.body.action) on the
// frame of a WebSocket send, as every inbound frame goes through it.
func BenchmarkSelectRoute(b *testing.B) {
	routes := map[string]bool{"$connect": true, "$disconnect": true, "$default": true, "sendmessage": true}
	frame := []byte(`{"action":"sendmessage","text":"hello, this is a chat message of ordinary length","idempotency_key":"0f8fad5b-d9cb-469f-a165-70867728950e"}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if got := selectRoute(frame, false, routes); got != "sendmessage" {
			b.Fatalf("route %q", got)
		}
	}
}
