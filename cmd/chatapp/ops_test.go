package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp"
)

// scrape reads /metrics into series text (name{labels}, as exposed) →
// value.
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	r := do(t, http.MethodGet, base+"/metrics", nil, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", r.Status, truncate(r.Body))
	}
	out := map[string]float64{}
	lines := bufio.NewScanner(bytes.NewReader(r.Body))
	for lines.Scan() {
		line := lines.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// checkSeries fails unless each series has its wanted value.
func checkSeries(t *testing.T, got map[string]float64, want map[string]float64) {
	t.Helper()
	for series, v := range want {
		if g, ok := got[series]; !ok || g != v {
			t.Errorf("%s = %v (exposed: %v), want %v", series, g, ok, v)
		}
	}
}

// TestMetricsCountTraffic sends over REST and the socket, makes a 400 and
// an error frame, and reads the counters back from /metrics.
func TestMetricsCountTraffic(t *testing.T) {
	s := startServer(t, ServeConfig{Metrics: true})
	ada := dial(t, s.URL, "ada", originalQuery("ada", "ops"))
	bob := dial(t, s.URL, "bob", originalQuery("bob", "ops"))
	cy := dial(t, s.URL, "cy", originalQuery("cy", "ops"))
	dee := dial(t, s.URL, "dee", originalQuery("dee", "elsewhere"))

	checkSeries(t, scrape(t, s.URL), map[string]float64{
		"chatapp_connections_open": 4,
		"chatapp_rooms":            2,
	})

	const restSends = 5
	for i := range restSends {
		putMessage(t, s.URL, "ops", "ada", "Ada", "hello "+strconv.Itoa(i))
	}
	bob.send(`{"action":"sendmessage","text":"over the socket"}`)
	for _, c := range []*wsClient{ada, bob, cy} {
		for range restSends + 1 {
			c.nextMessage()
		}
	}
	if r := do(t, http.MethodPut, s.URL+"/chat", `{"text":"no room"}`, jsonHeader); r.Status != http.StatusBadRequest {
		t.Fatalf("PUT without room_id: %d %s", r.Status, r.Body)
	}
	cy.send(`{"action":"dance"}`)
	if code := cy.nextError(); code != chatapp.EINVALID {
		t.Fatalf("error frame code %q, want invalid", code)
	}

	sends := float64(restSends + 1)
	checkSeries(t, scrape(t, s.URL), map[string]float64{
		"chatapp_messages_sent_total": sends,
		// Every send is one message fan-out, stored once.
		`chatapp_broadcast_duration_seconds_count{kind="message"}`:         sends,
		`chatapp_store_duration_seconds_count{operation="create_message"}`: sends,
		// Three sockets of the room got each message, and cy its error frame.
		"chatapp_deliveries_total":                               3*sends + 1,
		"chatapp_delivery_failures_total":                        0,
		`chatapp_errors_total{code="invalid",route="PUT /chat"}`: 1,
		`chatapp_errors_total{code="invalid",route="$default"}`:  1,
	})

	// The gauges follow closes.
	dee.close()
	eventually(t, "the gauges count the close", func() bool {
		m := scrape(t, s.URL)
		return m["chatapp_connections_open"] == 3 && m["chatapp_rooms"] == 1
	})
}

// TestMetricsOffServesNoMetrics: without Metrics, /metrics is the web
// page's 404, and the chat works the same.
func TestMetricsOffServesNoMetrics(t *testing.T) {
	s := startServer(t, ServeConfig{})
	putMessage(t, s.URL, "ops", "ada", "Ada", "hello")
	if r := do(t, http.MethodGet, s.URL+"/metrics", nil, nil); r.Status != http.StatusNotFound {
		t.Errorf("GET /metrics without metrics: %d, want 404", r.Status)
	}
}

func TestHealthzAnswersWhileTheStoreDoes(t *testing.T) {
	s := startServer(t, ServeConfig{})
	r := do(t, http.MethodGet, s.URL+"/healthz", nil, nil)
	if r.Status != http.StatusOK || string(r.Body) != `{"status":"ok"}` {
		t.Fatalf("GET /healthz: %d %s, want 200 {\"status\":\"ok\"}", r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want JSON", ct)
	}

	// The store going away turns the answer to 503; closing it twice (again
	// at the end of the test) is harmless.
	if err := s.store.Close(); err != nil {
		t.Fatal(err)
	}
	r = do(t, http.MethodGet, s.URL+"/healthz", nil, nil)
	if r.Status != http.StatusServiceUnavailable {
		t.Fatalf("GET /healthz with the store closed: %d %s, want 503", r.Status, r.Body)
	}
	if code := checkErrorBody(t, "GET /healthz", r.Body); code != chatapp.EUNAVAILABLE {
		t.Errorf("error code %q, want %q", code, chatapp.EUNAVAILABLE)
	}
}

// slowStore never answers before its context ends.
type slowStore struct{ chatapp.MessageStore }

func (slowStore) FindMessages(ctx context.Context, _ chatapp.MessageFilter) (chatapp.MessagePage, error) {
	<-ctx.Done()
	return chatapp.MessagePage{}, ctx.Err()
}

func TestHealthzGivesUpOnASlowStore(t *testing.T) {
	h := healthHandler(slowStore{}, nil, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("GET /healthz on a store that does not answer: %d, want 503", rec.Code)
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("the handler returned before the deadline")
	}
}

func TestPprofIsOffByDefault(t *testing.T) {
	s := startServer(t, ServeConfig{})
	if r := do(t, http.MethodGet, s.URL+"/debug/pprof/", nil, nil); r.Status != http.StatusNotFound {
		t.Errorf("GET /debug/pprof/ without --pprof: %d, want 404", r.Status)
	}
}

// TestPprofServesLoopbackCallers: every pprof endpoint answers, under the
// server's write timeout, except the command line, which may hold
// --auth-secret: 404.
func TestPprofServesLoopbackCallers(t *testing.T) {
	s := startServer(t, ServeConfig{Pprof: true})
	r := do(t, http.MethodGet, s.URL+"/debug/pprof/", nil, nil)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), "goroutine") {
		t.Fatalf("GET /debug/pprof/: %d %s", r.Status, truncate(r.Body))
	}
	for _, path := range []string{"goroutine?debug=1", "heap", "symbol", "profile?seconds=1", "trace?seconds=0.1"} {
		if r := do(t, http.MethodGet, s.URL+"/debug/pprof/"+path, nil, nil); r.Status != http.StatusOK || len(r.Body) == 0 {
			t.Errorf("GET /debug/pprof/%s: %d %s", path, r.Status, truncate(r.Body))
		}
	}
	for _, path := range []string{"cmdline", "cmdline/"} {
		r := do(t, http.MethodGet, s.URL+"/debug/pprof/"+path, nil, nil)
		if r.Status != http.StatusNotFound {
			t.Errorf("GET /debug/pprof/%s: %d %s, want 404", path, r.Status, truncate(r.Body))
		}
		if strings.Contains(string(r.Body), "chatapp") || strings.Contains(string(r.Body), "test.") {
			t.Errorf("GET /debug/pprof/%s shows the command line: %s", path, truncate(r.Body))
		}
	}
}

func TestPprofRefusesOtherMachines(t *testing.T) {
	h := loopbackOnly(pprofHandler())
	for remote, want := range map[string]int{
		"192.0.2.1:1234": http.StatusForbidden,
		"[::1]:1234":     http.StatusOK,
		"127.0.0.1:1234": http.StatusOK,
	} {
		req := httptest.NewRequest(http.MethodGet, "/debug/pprof/", nil)
		req.RemoteAddr = remote
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("GET /debug/pprof/ from %s: %d, want %d", remote, rec.Code, want)
		}
	}
}

// TestMetricsServeBannerListsTheEndpoints runs `chatapp serve` as the
// command line does: metrics on by default, pprof on request.
func TestMetricsServeBannerListsTheEndpoints(t *testing.T) {
	banner, _ := serveUntilBanner(t, "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--pprof", "--log-level", "error")
	for _, want := range []string{"/healthz", "/metrics", "/debug/pprof/"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner has no %s:\n%s", want, banner)
		}
	}
}

// TestProfileSecondsCapped: a CPU profile or trace may not ask for more
// than maxProfileSeconds, which net/http/pprof would honour past the
// server's write timeout.
func TestProfileSecondsCapped(t *testing.T) {
	var got string
	h := capSeconds(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r.URL.Query().Get("seconds") }))
	for query, want := range map[string]string{"seconds=100": "30", "seconds=1e9": "30", "seconds=5": "5", "": "", "seconds=x": "x"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/debug/pprof/profile?"+query, nil))
		if got != want {
			t.Errorf("?%s reached pprof as seconds=%q, want %q", query, got, want)
		}
	}
}

// TestProfileSecondsInABodyRefused: pprof reads seconds= from a POST
// body before the query, past capSeconds: /debug/pprof/ answers GET and
// HEAD only, with the JSON 405, and nothing reaches pprof (a profile of
// an hour would hold the connection past every timeout).
func TestProfileSecondsInABodyRefused(t *testing.T) {
	s := startServer(t, ServeConfig{Pprof: true})
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		r := do(t, method, s.URL+"/debug/pprof/profile", "seconds=3600",
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		checkJSONError(t, r, http.StatusMethodNotAllowed, chatapp.ENOTALLOWED)
		if allow := r.Header.Get("Allow"); allow != "GET, HEAD" {
			t.Errorf("%s: Allow %q, want GET, HEAD", method, allow)
		}
	}
	if r := do(t, http.MethodHead, s.URL+"/debug/pprof/", nil, nil); r.Status != http.StatusOK {
		t.Errorf("HEAD /debug/pprof/: %d, want 200", r.Status)
	}
}
