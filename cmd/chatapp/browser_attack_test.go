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
