package gateway_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/gateway"
)

// nopConnections stands for the table: the benchmark is the hub's, not the store's.
type nopConnections struct{}

func (nopConnections) CreateConnection(context.Context, *chatapp.Connection) error { return nil }
func (nopConnections) DeleteConnection(context.Context, string) error              { return nil }
func (nopConnections) FindConnection(context.Context, string) (*chatapp.Connection, error) {
	return nil, chatapp.Errorf(chatapp.ENOTFOUND, "not found")
}
func (nopConnections) FindConnectionsByRoom(context.Context, string) ([]*chatapp.Connection, error) {
	return nil, nil
}

// roomOfSockets opens n real WebSockets through the gateway into room "big"
// and calls received once for every frame any of them reads.
func roomOfSockets(b *testing.B, n int, received func()) *gateway.Gateway {
	b.Helper()
	var gw *gateway.Gateway
	gw = gateway.New(gateway.Config{WebSocket: map[string]gateway.WebSocketFunc{
		"$connect": func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			c := &chatapp.Connection{ID: ev.RequestContext.ConnectionID, RoomID: "big", UserID: "u", Timestamp: time.Now().UnixMilli()}
			return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, gw.Hub().TrackConnections(nopConnections{}).CreateConnection(ctx, c)
		},
	}})
	srv := httptest.NewServer(gw)
	ctx, cancel := context.WithCancel(context.Background())
	var readers sync.WaitGroup
	b.Cleanup(func() { cancel(); srv.Close(); gw.Close(); readers.Wait() })
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
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
	for deadline := time.Now().Add(10 * time.Second); gw.Hub().Len() < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d sockets joined", gw.Hub().Len(), n)
		}
	}
	return gw
}

var roomPush = chatapp.Push{Kind: chatapp.PushMessage, Data: []byte(`{"id":"01K0000000000000000000000","room_id":"big","timestamp":1764067200000,"message":"hello, this is a chat message of ordinary length","user_id":"42","name":"Ada"}`)}

// BenchmarkHubBroadcast is Hub.Broadcast to a room of 1,000 real sockets:
// the send path's share, queueing the frame on every socket. It waits for
// every socket to read each frame before the next, off the clock, so the
// queues stay empty.
func BenchmarkHubBroadcast(b *testing.B) {
	var delivered sync.WaitGroup
	gw := roomOfSockets(b, 1000, delivered.Done)
	b.ReportAllocs()
	for b.Loop() {
		delivered.Add(1000)
		d, err := gw.Hub().Broadcast(context.Background(), "big", roomPush)
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
	gw := roomOfSockets(b, 1000, delivered.Done)
	b.ReportAllocs()
	for b.Loop() {
		delivered.Add(1000)
		if _, err := gw.Hub().Broadcast(context.Background(), "big", roomPush); err != nil {
			b.Fatal(err)
		}
		delivered.Wait()
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "frames/s")
}
