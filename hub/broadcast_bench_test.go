package hub_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/awslambda/invoke"
	"github.com/chatapp-dev/chatapp/gateway"
	"github.com/chatapp-dev/chatapp/handler"
	"github.com/chatapp-dev/chatapp/hub"
	"github.com/chatapp-dev/chatapp/sqlite"
)

// roomOfSockets opens n real WebSockets, through the gateway wired to the
// real handlers and store, into room "big" as user "u", and calls received
// once for every frame any of them reads. It returns the hub that holds
// them.
func roomOfSockets(b *testing.B, n int, received func()) *hub.Hub {
	b.Helper()
	db, err := sqlite.Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	sockets := hub.New(slog.New(slog.DiscardHandler))
	h := &handler.Handler{Messages: db, Connections: db, Notifier: sockets, Rooms: sockets, Logger: slog.New(slog.DiscardHandler)}
	cfg := gateway.Config{Hub: sockets, Logger: h.Logger}
	cfg.REST, cfg.WebSocket = invoke.InProcess(h)
	gw := gateway.New(cfg)
	srv := httptest.NewServer(gw)
	ctx, cancel := context.WithCancel(context.Background())
	var readers sync.WaitGroup
	b.Cleanup(func() { cancel(); srv.Close(); gw.Close(); readers.Wait(); db.Close() })
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws?room_id=big&user_id=u"
	for i := range n {
		c, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			b.Fatalf("dial %d: %v", i, err)
		}
		readers.Go(func() {
			defer c.CloseNow()
			for {
				if _, _, err := c.Read(ctx); err != nil {
					return
				}
				received()
			}
		})
	}
	for deadline := time.Now().Add(10 * time.Second); joined(sockets, "big") < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d sockets joined", joined(sockets, "big"), n)
		}
	}
	return sockets
}

// joined counts the sockets the hub holds in room.
func joined(sockets *hub.Hub, room string) int { return sockets.MemberCount(room) }

var roomPush = chatapp.Push{Kind: chatapp.PushMessage, Data: []byte(`{"id":"01K0000000000000000000000","room_id":"big","timestamp":1764067200000,"message":"hello, this is a chat message of ordinary length","user_id":"42","name":"Ada"}`)}

// BenchmarkHubBroadcast is Hub.Broadcast to a room of 1,000 real sockets:
// the send path's share, queueing the frame on every socket. It waits for
// every socket to read each frame before the next, off the clock, so the
// queues stay empty.
func BenchmarkHubBroadcast(b *testing.B) {
	var delivered sync.WaitGroup
	sockets := roomOfSockets(b, 1000, delivered.Done)
	b.ReportAllocs()
	for b.Loop() {
		delivered.Add(1000)
		d, err := sockets.Broadcast(context.Background(), "big", roomPush)
		if err != nil || d.Delivered != 1000 {
			b.Fatalf("delivered %d, failed %d, %v", d.Delivered, d.Failed, err)
		}
		b.StopTimer()
		delivered.Wait()
		b.StartTimer()
	}
}

// BenchmarkHubBroadcastDelivered is one frame to a room of 1,000 real
// sockets until every client has read it: queueing, the write loops, the
// loopback and the clients' reads.
func BenchmarkHubBroadcastDelivered(b *testing.B) {
	var delivered sync.WaitGroup
	sockets := roomOfSockets(b, 1000, delivered.Done)
	b.ReportAllocs()
	for b.Loop() {
		delivered.Add(1000)
		if _, err := sockets.Broadcast(context.Background(), "big", roomPush); err != nil {
			b.Fatal(err)
		}
		delivered.Wait()
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "frames/s")
}
