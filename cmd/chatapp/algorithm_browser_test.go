// TestBrowserClientAlgorithm: the scenario of docs/protocol.md's "client
// algorithm" (runClientAlgorithm, algorithm_test.go) against the web page,
// in headless Chromium; algorithm_browser_steps_test.go checks the steps
// the scenario does not reach. browser_test.go has the tab helpers.

package main

import (
	"testing"

	"github.com/chromedp/chromedp"
)

func TestBrowserClientAlgorithm(t *testing.T) {
	t.Parallel() // its own server and browser tab
	runClientAlgorithm(t, startBrowserClient)
}

// browserAlgorithmClient drives the page in one tab.
type browserAlgorithmClient struct{ tb *tab }

// startBrowserClient opens the page from the proxy (base), as user "ada"
// (the id the page keeps in localStorage, set before it loads), and joins
// room.
func startBrowserClient(t *testing.T, base, room string) algorithmClient {
	tb := newTab(t, newBrowser(t), "ada", base)
	tb.do("set the user id", chromedp.Navigate(base+"/"),
		chromedp.Evaluate[chromedp.Void](`localStorage.setItem("chat.userId", "ada")`))
	tb.join(room, "Ada")
	return &browserAlgorithmClient{tb: tb}
}

// delivered reads the messages the list shows, top to bottom: each one's
// id (its data-id) and text.
func (b *browserAlgorithmClient) delivered(*testing.T) []deliveredMessage {
	rows := eval[[][]string](b.tb, `Array.from(document.querySelectorAll("#messages .message"),
		(m) => [m.dataset.id, m.querySelector(".text").textContent])`)
	out := make([]deliveredMessage, len(rows))
	for i, r := range rows {
		out[i] = deliveredMessage{ID: r[0], Text: r[1]}
	}
	return out
}

// sendSocket waits until the page is connected and free to send (Send is
// enabled once the text is in), then sends through the composer: the page
// sends on its open socket a frame that fits. It does not wait for the
// composer to empty, which waits on the send's confirmation.
func (b *browserAlgorithmClient) sendSocket(t *testing.T, text string) {
	t.Helper()
	b.tb.waitConnected()
	b.tb.fillComposer(text)
	b.tb.do("send "+text, chromedp.Click(chromedp.CSS("#send")))
}
