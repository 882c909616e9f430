package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/gateway"
)

// benchRoomSize is the room the fan-out benchmarks broadcast to.
const benchRoomSize = 1000

// BenchmarkBroadcast compares gateway.Hub.Broadcast to a room of 1000 real
// sockets with the same call through the Notifier wrapper. After each
// broadcast the timer stops until the clients have read every frame: each
// timed call starts with idle queues, and the allocations counted are the
// broadcast's, not the writers'. Run it with
//
//	go test -run '^$' -bench Broadcast -benchtime 3000x ./metrics
func BenchmarkBroadcast(b *testing.B) {
	hub, received := roomOfSockets(b, benchRoomSize)
	for _, bc := range []struct {
		name     string
		notifier chatapp.Notifier
	}{
		{"hub", hub},
		{"instrumented", New().Notifier(hub)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			push := chatapp.Push{Kind: chatapp.PushMessage, Data: []byte(`{"id":"01KAZ3F4J7Q9V2C8N6M5T0R1WX","room_id":"bench","timestamp":1764067200000,"message":"Hello World","user_id":"42","name":"Ada"}`)}
			ctx := context.Background()
			want := received.Load()
			b.ReportAllocs()
			for b.Loop() {
				d, _ := bc.notifier.Broadcast(ctx, "bench", push)
				if d.Delivered != benchRoomSize {
					b.Fatalf("delivered to %d sockets, want %d", d.Delivered, benchRoomSize)
				}
				want += benchRoomSize
				b.StopTimer()
				waitFor(b, received, want)
				b.StartTimer()
			}
		})
	}
}

// BenchmarkNotifierOverhead is the wrapper's own cost, over a Notifier that
// does nothing.
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

// roomOfSockets serves a gateway whose $connect joins every socket to the
// room "bench", dials n clients that count the frames they read, and
// returns the gateway's hub once all have joined.
func roomOfSockets(b *testing.B, n int) (*gateway.Hub, *atomic.Int64) {
	b.Helper()
	var tracked chatapp.ConnectionStore
	g := gateway.New(gateway.Config{
		Logger: slog.New(slog.DiscardHandler),
		WebSocket: map[string]gateway.WebSocketFunc{
			"$connect": func(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
				id := req.RequestContext.ConnectionID
				err := tracked.CreateConnection(ctx, &chatapp.Connection{ID: id, RoomID: "bench", UserID: "u" + id})
				return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, err
			},
		},
	})
	tracked = g.Hub().TrackConnections(nopConnections{})
	srv := httptest.NewServer(g)
	b.Cleanup(func() { g.Close(); srv.Close() })

	received := &atomic.Int64{}
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	for i := range n {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		conn, _, err := websocket.Dial(ctx, url+"?c="+strconv.Itoa(i), nil)
		cancel()
		if err != nil {
			b.Fatalf("dial socket %d: %v", i, err)
		}
		go func() {
			for {
				if _, _, err := conn.Read(context.Background()); err != nil {
					return
				}
				received.Add(1)
			}
		}()
		b.Cleanup(func() { conn.CloseNow() })
	}
	if d, _ := g.Hub().Broadcast(context.Background(), "bench", chatapp.Push{Data: []byte("{}")}); d.Delivered != n {
		b.Fatalf("room has %d sockets, want %d", d.Delivered, n)
	}
	waitFor(b, received, int64(n))
	return g.Hub(), received
}

// waitFor waits until the clients have read want frames in all.
func waitFor(b *testing.B, received *atomic.Int64, want int64) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for received.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("clients read %d frames, want %d", received.Load(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// nopConnections is a connection store that keeps nothing: the hub's
// index is all a broadcast reads.
type nopConnections struct{}

func (nopConnections) CreateConnection(context.Context, *chatapp.Connection) error { return nil }
func (nopConnections) DeleteConnection(context.Context, string) error              { return nil }
func (nopConnections) FindConnection(context.Context, string) (*chatapp.Connection, error) {
	return nil, chatapp.Errorf(chatapp.ENOTFOUND, "no connection")
}
func (nopConnections) FindConnectionsByRoom(context.Context, string) ([]*chatapp.Connection, error) {
	return nil, nil
}
