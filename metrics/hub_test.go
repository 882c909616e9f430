package metrics

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chatapp-dev/chatapp/gateway"
)

// TestPanicsCountedFromTheGateway: a panic the gateway recovers from, on a
// real server, is counted in chatapp_panics_total by where it happened,
// and the server answers the next request.
func TestPanicsCountedFromTheGateway(t *testing.T) {
	gw := gateway.New(gateway.Config{
		Logger: slog.New(slog.DiscardHandler),
		Fallback: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/panic" {
				panic("test: the handler panics")
			}
		}),
	})
	m := New()
	m.WatchHub(gw.Hub())
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
