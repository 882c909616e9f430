package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chatapp-dev/chatapp"
)

// Regression tests from the attack review of issue 11 (the web page).

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

// TestBrowserServerRefusesName: the server decides names too. A name of a
// character newer than the server's Unicode passes the page's check; the
// handshake gets 400 ("name holds a control character"), but the probe
// (GET /chat/users?room_id=) does not look at the name and answers 200, so
// the page says "reconnecting" forever. It should stop with the server's
// word, as it does for a room (TestBrowserServerRefusesRoom).
func TestBrowserServerRefusesName(t *testing.T) {
	t.Parallel() // its own server and browser
	srv := startServer(t, ServeConfig{})
	front := newTokenCounter(t, srv.URL)
	browser := newBrowser(t)
	ada := newTab(t, browser, "ada", front.URL)
	ada.do("open the page", chromedp.Navigate(front.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#join-form")))
	name := "Ada " + string(newerLetter(t, ada))
	if err := chatapp.ValidateName(name); err == nil {
		t.Fatalf("the server takes name %q", name)
	}
	ada.fillJoinForm("lobby", name)
	// Three handshakes refused (0.5 s, 1 s and 2 s of backoff apart) are
	// time enough for the page to ask the server why and stop.
	refused := `document.getElementById("status").dataset.state === "refused"`
	deadline := time.Now().Add(browserWait)
	for ws, _ := handshakes(front); ws < 3 && !eval[bool](ada, refused) && time.Now().Before(deadline); ws, _ = handshakes(front) {
		time.Sleep(50 * time.Millisecond)
	}
	if state := eval[string](ada, `document.getElementById("status").dataset.state`); state != "refused" {
		ws, rest := handshakes(front)
		t.Errorf("after %d refused handshakes (%d REST probes) the page's state is %q, want refused with the server's message%s", ws, rest, state, ada.state())
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
	ada.waitJS("three links", `document.querySelectorAll("#messages a").length === 3`)
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
}
