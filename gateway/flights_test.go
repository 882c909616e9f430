package gateway

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/gobwas/ws"

	"github.com/chatapp-dev/chatapp"
)

// placing is a $default function that records the order frames reach it,
// says each is placed (chatapp.Placed), and then waits until released,
// as a send waits for its commit; $disconnect records itself.
type placing struct {
	mu      sync.Mutex
	log     []string
	running int
	most    int
	release chan struct{}
}

func (p *placing) routes() map[string]WebSocketFunc {
	return map[string]WebSocketFunc{
		"$default": func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			p.mu.Lock()
			p.log = append(p.log, ev.Body)
			p.running++
			p.most = max(p.most, p.running)
			p.mu.Unlock()
			chatapp.Placed(ctx)
			<-p.release
			p.mu.Lock()
			p.running--
			p.mu.Unlock()
			return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
		},
		"$disconnect": func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.log = append(p.log, fmt.Sprintf("$disconnect with %d running", p.running))
			return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
		},
	}
}

func (p *placing) snapshot() (log []string, running, most int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.log), p.running, p.most
}

// waitLog waits until the log holds n entries.
func (p *placing) waitLog(t *testing.T, n int) []string {
	t.Helper()
	for deadline := time.Now().Add(rawWait); ; time.Sleep(time.Millisecond) {
		log, _, _ := p.snapshot()
		if len(log) >= n {
			return log
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d frames routed, want %d: %q", len(log), n, log)
		}
	}
}

// TestPlacedFramesRunTogetherInOrder: a frame whose send is placed lets
// the next frame of its connection be routed while it still runs, in the
// order they came; at most maxFramesInFlight run at once, and the next one
// is routed when they end.
func TestPlacedFramesRunTogetherInOrder(t *testing.T) {
	p := &placing{release: make(chan struct{})}
	ts := startServer(t, Config{WebSocket: p.routes()})
	c := dialRaw(t, ts, 0)
	var want []string
	for i := range maxFramesInFlight + 1 {
		text := fmt.Sprintf("frame %02d", i)
		want = append(want, text)
		c.write(rawFrame(true, ws.OpText, uint64(len(text)), false, []byte(text)))
	}
	log := p.waitLog(t, maxFramesInFlight)
	time.Sleep(50 * time.Millisecond) // the one past the bound must not come
	if log, running, _ := p.snapshot(); len(log) != maxFramesInFlight || running != maxFramesInFlight {
		t.Fatalf("%d frames routed, %d running; want %d and %d", len(log), running, maxFramesInFlight, maxFramesInFlight)
	}
	close(p.release)
	log = p.waitLog(t, maxFramesInFlight+1)
	if !slices.Equal(log, want) {
		t.Errorf("routed %q, want %q", log, want)
	}
	if _, _, most := p.snapshot(); most != maxFramesInFlight {
		t.Errorf("%d ran at once, want at most %d", most, maxFramesInFlight)
	}
}

// TestDisconnectWaitsForFramesInFlight: a connection that closes while
// its placed frames still run gets its $disconnect after them.
func TestDisconnectWaitsForFramesInFlight(t *testing.T) {
	p := &placing{release: make(chan struct{})}
	ts := startServer(t, Config{WebSocket: p.routes()})
	c := dialRaw(t, ts, 0)
	for _, text := range []string{"a", "b"} {
		c.write(rawFrame(true, ws.OpText, 1, false, []byte(text)))
	}
	p.waitLog(t, 2)
	c.conn.Close()
	time.Sleep(50 * time.Millisecond) // $disconnect must not run yet
	if log, _, _ := p.snapshot(); len(log) != 2 {
		t.Fatalf("before the frames ended: %q", log)
	}
	close(p.release)
	if log := p.waitLog(t, 3); log[2] != "$disconnect with 0 running" {
		t.Errorf("log %q: $disconnect ran before the frames in flight ended", log)
	}
}

// TestExtraFramesAreBoundedGatewayWide: beyond one frame a connection,
// the frames in flight of all connections share the gateway's slots; a
// connection past them routes its next frame once its earlier ones end.
func TestExtraFramesAreBoundedGatewayWide(t *testing.T) {
	p := &placing{release: make(chan struct{})}
	ts := startServer(t, Config{WebSocket: p.routes()})
	ts.g.extraFrames = make(chan struct{}, 2) // before any frame
	a, b := dialRaw(t, ts, 0), dialRaw(t, ts, 0)
	for _, c := range []*rawClient{a, b} {
		for i := range 3 {
			text := fmt.Sprint(i)
			c.write(rawFrame(true, ws.OpText, uint64(len(text)), false, []byte(text)))
		}
	}
	p.waitLog(t, 4) // one each, and the two extra slots
	time.Sleep(50 * time.Millisecond)
	if log, running, _ := p.snapshot(); len(log) != 4 || running != 4 {
		t.Fatalf("%d routed, %d running; want 4 and 4 (one a connection, two extra)", len(log), running)
	}
	close(p.release)
	p.waitLog(t, 6)
	if _, _, most := p.snapshot(); most != 4 {
		t.Errorf("%d ran at once, want 4", most)
	}
}
