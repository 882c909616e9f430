package httperror

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chatapp-dev/chatapp"
)

func TestJSON(t *testing.T) {
	cases := []struct {
		name        string
		handler     http.HandlerFunc
		status      int
		contentType string
		body        string
	}{
		{"http.Error", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
			404, "application/json; charset=utf-8", `{"error":{"code":"not_found","message":"page not found"}}`},
		{"first line of a long text", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "An error has occurred while serving metrics:\n\ndetails", 500)
		}, 500, "application/json; charset=utf-8", `{"error":{"code":"internal","message":"An error has occurred while serving metrics:"}}`},
		{"no body, no type", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) },
			503, "application/json; charset=utf-8", `{"error":{"code":"unavailable","message":"service unavailable"}}`},
		{"JSON passes", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(409)
			w.Write([]byte(`{"error":{"code":"conflict","message":"x"}}`))
		}, 409, "application/json", `{"error":{"code":"conflict","message":"x"}}`},
		{"success passes", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("page"))
		}, 200, "text/html", "page"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			JSON(c.handler).ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
			if rec.Code != c.status || rec.Header().Get("Content-Type") != c.contentType || rec.Body.String() != c.body {
				t.Errorf("got %d %q %s, want %d %q %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body, c.status, c.contentType, c.body)
			}
		})
	}
}

// TestJSONNoSniff: every JSON error of this package says nosniff, so that
// no browser reads one as a page of another type.
func TestJSONNoSniff(t *testing.T) {
	for name, h := range map[string]http.Handler{
		"converted": JSON(http.NotFoundHandler()),
		"written": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			Write(w, chatapp.Errorf(chatapp.ENOTALLOWED, "no"))
		}),
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
		if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q, want nosniff", name, got)
		}
	}
}

// TestJSONFlushThenError: a flush sends the 200 (net/http writes the
// header on a flush); an error status after it cannot change that answer,
// and its JSON is not appended to the 200's body.
func TestJSONFlushThenError(t *testing.T) {
	srv := httptest.NewServer(JSON(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.(http.Flusher).Flush()
		http.Error(w, "too late", http.StatusInternalServerError)
	})))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.Contains(string(body), `"error"`) {
		t.Errorf("got %d %q, want the flushed 200 without a JSON error in it", resp.StatusCode, body)
	}
}

// TestRooted: a request whose path does not start with "/" (CONNECT
// host:port) gets the JSON 404, not a ServeMux's plain text; the others
// reach next with the server's own writer (a WebSocket upgrade hijacks it).
func TestRooted(t *testing.T) {
	var unwrapped atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		_, ok := w.(http.Hijacker)
		unwrapped.Store(ok)
		w.Write([]byte("ok"))
	})
	srv := httptest.NewServer(Rooted(mux))
	defer srv.Close()

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: "CONNECT"})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" ||
		string(body) != `{"error":{"code":"not_found","message":"page not found"}}` {
		t.Errorf("CONNECT example.com:443: %d %q %s, want the JSON 404", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}

	resp, err = srv.Client().Get(srv.URL + "/page")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !unwrapped.Load() {
		t.Errorf("GET /page: %d, the server's writer reached the handler: %v; want 200, true", resp.StatusCode, unwrapped.Load())
	}
}
