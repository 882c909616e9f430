// The web page's client algorithm against a server that refuses its
// handshakes for a while, or never answers a request.

package main

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserFullServerStopsReconnecting: a server at its connection cap
// answers a handshake 503 (retried, as the spec retries any 5xx), while
// its REST API answers. A page cannot see the 503: its probe (GET
// /chat/users) passes. After 3 such refusals in a row the page says what
// may be wrong, and goes on trying at the backoff's cap: a place that frees
// up is taken. (It stopped for good, until reloaded.) The same holds for
// any handshake refused for a while by something the probe does not ask
// about (API Gateway's handshake throttling, 429, after a mass reconnect;
// the per-user quota held by connections not yet swept).
func TestBrowserFullServerStopsReconnecting(t *testing.T) {
	t.Parallel() // its own server and browser tab
	srv := startServer(t, ServeConfig{Limits: Limits{Connections: 1}})
	occupier := dial(t, srv.URL, "occupier", originalQuery("occupier", "elsewhere"))

	tb := newTab(t, newBrowser(t), "ada", srv.URL)
	tb.do("join a room of a full server",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#join-form")),
		chromedp.SetValue(chromedp.CSS("#room"), "full"),
		typeInto(chromedp.CSS("#name"), "Ada"),
		chromedp.Click(chromedp.CSS("#join")),
		chromedp.WaitVisible(chromedp.CSS("#chat-view")),
	)
	time.Sleep(8 * time.Second) // the server is full for 8 s
	state := eval[string](tb, `document.getElementById("status").dataset.state`)
	occupier.close() // a place frees up
	t.Logf("status while the server was full: %q", state)
	tb.waitConnected()
}

// TestBrowserHungPutBlocksTheComposer: the page's requests time out (fetch
// has no timeout of its own), as the Go client's and Unity's do, and are
// tried again: a PUT whose answer never comes (a half-open connection
// after a network change, a stuck proxy) does not keep the composer
// "sending" until the room is left.
func TestBrowserHungPutBlocksTheComposer(t *testing.T) {
	t.Parallel() // its own server and browser tab
	srv := startServer(t, ServeConfig{})
	release := make(chan struct{})
	var puts atomic.Int64
	front := newFront(t, srv.URL, func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/ws" || r.URL.Path == "/chat/users" {
			unavailable(w) // no socket: every send is a PUT
			return true
		}
		if r.Method != http.MethodPut {
			return false
		}
		puts.Add(1)
		select { // never answered
		case <-release:
		case <-r.Context().Done():
		}
		return true
	})
	t.Cleanup(func() { close(release) })
	ada := openJoinFormAt(t, front)
	ada.fillJoinForm("hung-put", "Ada")
	ada.waitJS("the page shows the room", `!document.getElementById("chat-view").hidden`)
	ada.fillComposer("first")
	ada.do("send", chromedp.Click(chromedp.CSS("#send")))
	// The request timeout (30 s), then the backoff before the retry.
	deadline := time.Now().Add(45 * time.Second)
	for puts.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := puts.Load(); n < 2 {
		t.Fatalf("45 s after its PUT hung: %d PUT, no retry:%s", n, ada.state())
	}
}
