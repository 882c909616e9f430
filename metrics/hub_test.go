package metrics

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"

	"github.com/chatapp-dev/chatapp/gateway"
	"github.com/chatapp-dev/chatapp/hub"
)

// TestPanicsCountedFromTheGateway: a panic the gateway recovers from, on a
// real server, is counted in chatapp_panics_total by where it happened,
// and the server answers the next request.
func TestPanicsCountedFromTheGateway(t *testing.T) {
	h := hub.New(slog.New(slog.DiscardHandler))
	gw := gateway.New(gateway.Config{
		Hub:    h,
		Logger: slog.New(slog.DiscardHandler),
		Fallback: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/panic" {
				panic("test: the handler panics")
			}
		}),
	})
	m := New()
	m.WatchHub(h)
	m.WatchPanics(gw, h)
	srv := httptest.NewServer(gw)
	defer func() { srv.Close(); gw.Close() }()
	for _, path := range []string{"/panic", "/panic", "/"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if got := counterValue(t, m, "chatapp_panics_total", map[string]string{"where": "http"}); got != 2 {
		t.Errorf(`chatapp_panics_total{where="http"} = %v, want 2`, got)
	}
	for _, where := range []string{"socket", "writer", "timer", "integration"} {
		if s := metric(t, m, "chatapp_panics_total", map[string]string{"where": where}); s == nil || s.GetCounter().GetValue() != 0 {
			t.Errorf(`chatapp_panics_total{where=%q}: %v, want a zero`, where, s)
		}
	}
}

// TestClosingSocketsCountedApart: a socket whose client has closed is
// kept by the gateway until its $disconnect has run; meanwhile it is
// counted in chatapp_connections_closing, not in chatapp_connections_open,
// and once $disconnect has run, in neither.
func TestClosingSocketsCountedApart(t *testing.T) {
	disconnecting, release := make(chan struct{}), make(chan struct{})
	h := hub.New(slog.New(slog.DiscardHandler))
	gw := gateway.New(gateway.Config{
		Hub:    h,
		Logger: slog.New(slog.DiscardHandler),
		WebSocket: map[string]gateway.WebSocketFunc{
			"$disconnect": func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
				close(disconnecting)
				<-release
				return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
			},
		},
	})
	m := New()
	m.WatchHub(h)
	srv := httptest.NewServer(gw)
	defer func() { srv.Close(); gw.Close() }()
	gauges := func() (open, closing float64) {
		return metric(t, m, "chatapp_connections_open", nil).GetGauge().GetValue(),
			metric(t, m, "chatapp_connections_closing", nil).GetGauge().GetValue()
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	if open, closing := gauges(); open != 1 || closing != 0 {
		t.Fatalf("a connection open: open %v, closing %v, want 1 and 0", open, closing)
	}
	conn.Close(websocket.StatusNormalClosure, "")
	select {
	case <-disconnecting:
	case <-ctx.Done():
		t.Fatal("$disconnect did not run")
	}
	if open, closing := gauges(); open != 0 || closing != 1 {
		t.Errorf("a connection closed, its $disconnect running: open %v, closing %v, want 0 and 1", open, closing)
	}
	close(release)
	for open, closing := gauges(); open != 0 || closing != 0; open, closing = gauges() {
		if ctx.Err() != nil {
			t.Fatalf("its $disconnect done: open %v, closing %v, want 0 and 0", open, closing)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
