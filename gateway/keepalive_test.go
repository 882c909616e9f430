package gateway

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/gobwas/ws"
)

const (
	pingFrame = `{"action":"ping"}`
	pongFrame = `{"type":"pong"}`
)

// TestMockRouteAnswers: a mock route answers its sender with its frame, as
// API Gateway answers a two-way route with a MOCK integration, and runs no
// function; the action is matched exactly, as other routes are.
func TestMockRouteAnswers(t *testing.T) {
	var g *Gateway
	var invoked atomic.Int64
	echo := echoRoutes(&g)["$default"]
	ts := startServer(t, Config{
		MockRoutes: map[string]string{"ping": pongFrame},
		WebSocket: map[string]WebSocketFunc{
			"$default": func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
				invoked.Add(1)
				return echo(ctx, ev)
			},
		},
	})
	g = ts.g
	c := dialRaw(t, ts, 0)
	for _, frame := range []string{pingFrame, `{"action":"ping","seq":7}`} {
		c.write(rawFrame(true, ws.OpText, uint64(len(frame)), false, []byte(frame)))
		f, err := c.next()
		if err != nil || f.Header.OpCode != ws.OpText || string(f.Payload) != pongFrame {
			t.Fatalf("%s: got %v %q (%v), want the text frame %s", frame, f.Header.OpCode, f.Payload, err, pongFrame)
		}
	}
	if n := invoked.Load(); n != 0 {
		t.Errorf("the mock route invoked a function %d times, want none", n)
	}
	// Another case is another action: $default gets it.
	c.echo(`{"action":"Ping"}`)
	if n := invoked.Load(); n != 1 {
		t.Errorf("$default invoked %d times, want 1", n)
	}
}

// TestIdleTimeoutCountsMessagesNotPings: a socket whose client sends only
// the keepalive message outlives the idle timeout many times over; one
// whose client sends only WebSocket pings is closed at it (1001), as a
// silent one is: AWS documents no more than that API Gateway closes a
// connection idle for 10 minutes, so only messages may count.
func TestIdleTimeoutCountsMessagesNotPings(t *testing.T) {
	const idle = time.Second
	ts := startServer(t, Config{IdleTimeout: idle, MockRoutes: map[string]string{"ping": pongFrame}})
	keeper := dialRaw(t, ts, 0)
	pinger := dialRaw(t, ts, 0)
	silent := dialRaw(t, ts, 0)
	appPing := rawFrame(true, ws.OpText, uint64(len(pingFrame)), false, []byte(pingFrame))
	wsPing := rawFrame(true, ws.OpPing, 4, false, []byte("ping"))
	start := time.Now()
	for time.Since(start) < 3*idle {
		keeper.write(appPing)
		if f, err := keeper.next(); err != nil || string(f.Payload) != pongFrame {
			t.Fatalf("after %v: keeper got %v %q (%v), want %s", time.Since(start), f.Header.OpCode, f.Payload, err, pongFrame)
		}
		// The server may have closed it already: a failed write is fine.
		pinger.conn.SetWriteDeadline(time.Now().Add(rawWait))
		pinger.conn.Write(wsPing)
		time.Sleep(idle / 5)
	}
	keeper.echo("still open after " + time.Since(start).String())
	silent.expectClose(ws.StatusGoingAway)
	// The pinger's close must be there already, sent while it still
	// pinged: read past its pongs to it, with no time for an idle timeout
	// counted from its last ping.
	pinger.conn.SetReadDeadline(time.Now().Add(idle / 2))
	for {
		f, err := ws.ReadFrame(pinger.in)
		if err != nil {
			t.Fatalf("the client that only pinged was not closed while it pinged (%v): pings kept it from the idle timeout", err)
		}
		if f.Header.OpCode == ws.OpClose {
			if code, reason := ws.ParseCloseFrameData(f.Payload); code != ws.StatusGoingAway {
				t.Fatalf("the client that only pinged was closed with %d %q, want 1001", code, reason)
			}
			break
		}
	}
}

// TestMockRouteCannotShadowAFunction: a route key may not be both.
func TestMockRouteCannotShadowAFunction(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New accepted a route that is both a mock and a function's")
		}
	}()
	New(Config{
		MockRoutes: map[string]string{"ping": pongFrame},
		WebSocket: map[string]WebSocketFunc{"ping": func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
		}},
	})
}
