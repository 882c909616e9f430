package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chatapp-dev/chatapp"
)

// The web page against hostile messages and a broken server: links that
// would freeze it or read as another address, and a catch-up that would
// loop forever. browser_test.go has the tab helpers.

// TestBrowserHostileLinksRenderFast: a message that is one long link ending
// in closing brackets (16 KiB of ")") must not freeze the page: trimming its
// end may not cost a split of the whole link per bracket (quadratic: ~3 s a
// message in V8, so a room of ten freezes every reader for half a minute).
func TestBrowserHostileLinksRenderFast(t *testing.T) {
	t.Parallel() // its own server and browser
	dir := t.TempDir()
	const room, n = "parens", 10
	head := "https://a.example/"
	text := head + strings.Repeat(")", chatapp.MaxMessageBytes-len(head))
	now := time.Now()
	var msgs []*chatapp.Message
	for i := range n {
		msgs = append(msgs, seeded(room, "mallory", "Mallory", text, now.Add(time.Duration(i-n)*time.Second)))
	}
	seed(t, dir, msgs...)
	srv := startServer(t, ServeConfig{DataDir: dir})
	browser := newBrowser(t)
	ada := newTab(t, browser, "ada", srv.URL)
	ada.do("open the page", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#join-form")))
	ada.fillJoinForm(room, "Ada")
	// Well within browserWait once the trim is linear (milliseconds).
	ada.waitJS(fmt.Sprintf("the %d messages are shown", n), countJS(text)+` === `+fmt.Sprint(n))
	if href := eval[string](ada, `document.querySelector("#messages a").getAttribute("href")`); href != head {
		t.Errorf("link href %q, want %q (the unopened brackets trimmed)", href, head)
	}
}

// TestBrowserLinkTextReadsAsItsAddress: a link shows where it goes, left
// to right. A right-to-left override (U+202E) before a link reverses it on
// screen: "\u202Ehttps://evil.example/moc.lapyap//:sptth" reads
// "https://paypal.com/elpmaxe.live//:sptth" and opens evil.example. The
// first character of every link ("h" of https) must be drawn left of its
// last.
func TestBrowserLinkTextReadsAsItsAddress(t *testing.T) {
	t.Parallel() // its own server and browser
	srv := startServer(t, ServeConfig{})
	browser := newBrowser(t)
	ada := newTab(t, browser, "ada", srv.URL)
	ada.join("bidi", "Ada")
	putMessage(t, srv.URL, "bidi", "mallory", "Mallory", "Your invoice: \u202Ehttps://evil.example/moc.lapyap//:sptth")
	putMessage(t, srv.URL, "bidi", "mallory", "Mallory", "\u2067https://evil.example/moc.lapyap\u2069 and https://evil.example/\u202Emoc.lapyap")
	// Invisible format characters (Cf) at a link's end are not its own.
	putMessage(t, srv.URL, "bidi", "mallory", "Mallory", "see https://a.example/x\u200b\u202e\u2066\ufeff\U000E0001. thanks")
	ada.waitJS("four links", `document.querySelectorAll("#messages a").length === 4`)
	reversed := eval[[]string](ada, `Array.from(document.querySelectorAll("#messages a")).filter((a) => {
		// The first and last characters drawn (not invisible format ones).
		const node = a.firstChild, text = node.data, r = document.createRange();
		const shown = [...text.matchAll(/\P{Cf}/gu)].map((m) => m.index);
		const left = (i) => { r.setStart(node, i); r.setEnd(node, i + 1); return r.getBoundingClientRect().left; };
		return left(shown[0]) >= left(shown[shown.length - 1]);
	}).map((a) => a.textContent + " → " + a.href)`)
	if len(reversed) > 0 {
		t.Errorf("links drawn right to left, reading as another address than theirs: %q", reversed)
	}
	last := eval[[]string](ada, `(() => { const a = [...document.querySelectorAll("#messages a")].pop(); return [a.textContent, a.getAttribute("href"), a.parentNode.textContent]; })()`)
	if want := []string{"https://a.example/x", "https://a.example/x", "see https://a.example/x\u200b\u202e\u2066\ufeff\U000E0001. thanks"}; !slices.Equal(last, want) {
		t.Errorf("link text, href and message %q, want %q", last, want)
	}
}

// newFront serves a server in front of backend that answers what
// intercept takes (it returns true) and proxies the rest, WebSocket
// handshakes included.
func newFront(t *testing.T, backend string, intercept func(w http.ResponseWriter, r *http.Request) bool) string {
	t.Helper()
	target, err := url.Parse(backend)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	lw := &testLogWriter{t: t}
	proxy.ErrorLog = log.New(lw, "front: ", 0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !intercept(w, r) {
			proxy.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(func() {
		srv.Close()
		lw.stop()
	})
	return srv.URL
}

// unavailable answers 503, as a server that is down behind a proxy.
func unavailable(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	w.Write([]byte(`{"error":{"code":"unavailable","message":"down"}}`))
}

// TestBrowserCatchUpStopsWhereItDoesNotAdvance: a broken server answers
// every catch-up page (GET /chat?after=) with has_more and a page that
// ends where it began. The page asked again at once, forever (a request
// loop with no pause); it stops after the page that does not advance.
func TestBrowserCatchUpStopsWhereItDoesNotAdvance(t *testing.T) {
	t.Parallel() // its own server and browser
	srv := startServer(t, ServeConfig{})
	const room = "stuck"
	putMessage(t, srv.URL, room, "grace", "Grace", "seeded")
	var live atomic.Bool // false: handshakes and probes fail, so the page loads the history first
	var afters atomic.Int32
	front := newFront(t, srv.URL, func(w http.ResponseWriter, r *http.Request) bool {
		switch after := r.URL.Query().Get("after"); {
		case !live.Load() && (r.URL.Path == "/ws" || r.URL.Path == "/chat/users"):
			unavailable(w)
		case r.Method == http.MethodGet && r.URL.Path == "/chat" && after != "":
			afters.Add(1)
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"has_more": true, "messages": []map[string]any{
				{"id": after, "room_id": room, "timestamp": 1, "message": "seeded", "user_id": "grace", "name": "Grace"},
			}})
		default:
			return false
		}
		return true
	})
	ada := openJoinFormAt(t, front)
	ada.fillJoinForm(room, "Ada")
	ada.waitJS("the history is shown while the socket is down", countJS("seeded")+" === 1")
	live.Store(true)
	ada.waitConnected() // and the catch-up after the seeded message begins
	deadline := time.Now().Add(browserWait)
	for afters.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(25 * time.Millisecond)
	}
	// A message sent and pushed back: the looping catch-up would have
	// asked many times meanwhile.
	ada.send("after the catch-up", false)
	ada.waitMessage("after the catch-up", "Ada")
	if n := afters.Load(); n != 1 {
		t.Errorf("the page asked for the page after the seeded message %d times, want once", n)
	}
}
