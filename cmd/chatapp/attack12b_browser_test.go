// Attacks on the web page's client algorithm (issue 12, item 5): what the
// page does when the server refuses its handshakes for a while.

package main

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestAttackBrowserFullServerStopsReconnecting: FAILS. A server at its
// connection cap answers a handshake 503 (retryable: the Go client and
// Unity retry it, as the spec retries any 5xx), while its REST API
// answers. A page cannot see the 503: its probe (GET /chat/users) passes,
// so it counts the handshake as refused, and after 3 in a row (a few
// seconds of backoff) it stops for good, telling the user to change their
// display name or close tabs. A place that frees up a moment later is
// never taken: the page stays disconnected until it is reloaded. The same
// holds for any handshake refused for a while by something the probe does
// not ask about (API Gateway's handshake throttling, 429, after a mass
// reconnect; the per-user quota held by connections not yet swept).
func TestAttackBrowserFullServerStopsReconnecting(t *testing.T) {
	t.Parallel() // its own server and browser tab
	srv := startServer(t, ServeConfig{Limits: Limits{Connections: 1}})
	occupier := dial(t, srv.URL, "occupier", originalQuery("occupier", "elsewhere"))

	tb := newTab(t, newBrowser(t), "ada", srv.URL)
	tb.do("join a room of a full server",
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#join-form")),
		chromedp.SetValue(chromedp.CSS("#room"), "full"),
		chromedp.Clear(chromedp.CSS("#name")),
		chromedp.SendKeys(chromedp.CSS("#name"), "Ada"),
		chromedp.Click(chromedp.CSS("#join")),
		chromedp.WaitVisible(chromedp.CSS("#chat-view")),
	)
	time.Sleep(8 * time.Second) // the server is full for 8 s
	state := eval[string](tb, `document.getElementById("status").dataset.state`)
	occupier.close() // a place frees up
	t.Logf("status while the server was full: %q", state)
	tb.waitConnected() // FAILS: status "refused" for good
}

// TestAttackBrowserHungPutBlocksTheComposer: FAILS. The page's requests
// have no timeout (fetch has none of its own), where the Go client's give
// up after 30 s and Unity's after 10 s, and are tried again. A PUT whose
// answer never comes (a half-open connection after a network change, a
// stuck proxy) is never tried again nor given up: the composer stays
// "sending", Send stays disabled whatever is typed, and the page sends
// nothing more until the room is left.
func TestAttackBrowserHungPutBlocksTheComposer(t *testing.T) {
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
	time.Sleep(35 * time.Second) // past the Go client's request timeout
	disabled := eval[bool](ada, `(() => {
		const input = document.getElementById("input");
		input.value = "something else";
		input.dispatchEvent(new Event("input", { bubbles: true }));
		return document.getElementById("send").disabled;
	})()`)
	if n := puts.Load(); n == 1 && disabled {
		t.Fatalf("35 s after its PUT hung: %d PUT, no retry, no failure shown, Send disabled:%s", n, ada.state())
	}
}
