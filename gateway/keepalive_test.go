package gateway

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/gobwas/ws"

	"github.com/chatapp-dev/chatapp/protocol"
)

// pingFrame is the keepalive message; keepaliveRoutes is its mock route,
// answered protocol.PongFrame, as serve configures it
// (awslambda.WebSocketMockRoutes).
var (
	pingFrame       = `{"action":"` + protocol.ActionPing + `"}`
	keepaliveRoutes = map[string]string{protocol.ActionPing: protocol.PongFrame}
)

// TestMockRouteAnswers: a mock route answers its sender with its frame, as
// API Gateway answers a two-way route with a MOCK integration, and runs no
// function; the action is matched exactly, as other routes are.
func TestMockRouteAnswers(t *testing.T) {
	var g *Gateway
	var invoked atomic.Int64
	echo := echoRoutes(&g)["$default"]
	ts := startServer(t, Config{
		MockRoutes: keepaliveRoutes,
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
		if err != nil || f.Header.OpCode != ws.OpText || string(f.Payload) != protocol.PongFrame {
			t.Fatalf("%s: got %v %q (%v), want the text frame %s", frame, f.Header.OpCode, f.Payload, err, protocol.PongFrame)
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
//
// The keeper's keepalive goes every idle/10, so that a stalled scheduler
// has most of the idle timeout to catch up in. The pinger's frames are read
// as they come, and its close must have come while it still pinged (at
// about idle, the pings go on to 3×idle): had pings counted, it could come
// no sooner than an idle timeout after its last one.
func TestIdleTimeoutCountsMessagesNotPings(t *testing.T) {
	const idle = time.Second
	ts := startServer(t, Config{IdleTimeout: idle, MockRoutes: keepaliveRoutes})
	keeper := dialRaw(t, ts, 0)
	pinger := dialRaw(t, ts, 0)
	silent := dialRaw(t, ts, 0)
	appPing := rawFrame(true, ws.OpText, uint64(len(pingFrame)), false, []byte(pingFrame))
	wsPing := rawFrame(true, ws.OpPing, 4, false, []byte("ping"))

	type closed struct {
		at   time.Time
		code ws.StatusCode
		err  error
	}
	pingerClosed := make(chan closed, 1)
	go func() {
		pinger.conn.SetReadDeadline(time.Now().Add(3*idle + rawWait))
		for {
			f, err := ws.ReadFrame(pinger.in)
			if err != nil {
				pingerClosed <- closed{time.Now(), 0, err}
				return
			}
			if f.Header.OpCode == ws.OpClose {
				code, _ := ws.ParseCloseFrameData(f.Payload)
				pingerClosed <- closed{time.Now(), code, nil}
				return
			}
		}
	}()

	start := time.Now()
	for time.Since(start) < 3*idle {
		keeper.write(appPing)
		if f, err := keeper.next(); err != nil || string(f.Payload) != protocol.PongFrame {
			t.Fatalf("after %v: keeper got %v %q (%v), want %s", time.Since(start), f.Header.OpCode, f.Payload, err, protocol.PongFrame)
		}
		// The server may have closed it already: a failed write is fine.
		pinger.conn.SetWriteDeadline(time.Now().Add(rawWait))
		pinger.conn.Write(wsPing)
		time.Sleep(idle / 10)
	}
	stopped := time.Now() // the pings stopped
	keeper.echo("still open after " + time.Since(start).String())
	silent.expectClose(ws.StatusGoingAway)
	c := <-pingerClosed
	switch {
	case c.err != nil:
		t.Fatalf("the client that only pinged got no close frame: %v", c.err)
	case c.code != ws.StatusGoingAway:
		t.Fatalf("the client that only pinged was closed with %d, want 1001", c.code)
	case !c.at.Before(stopped):
		t.Fatalf("the client that only pinged was closed %v after its pings stopped, not while it pinged: pings kept it from the idle timeout", c.at.Sub(stopped))
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
		MockRoutes: keepaliveRoutes,
		WebSocket: map[string]WebSocketFunc{protocol.ActionPing: func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
		}},
	})
}
