package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestREADMEBrowserConsoleExample runs the README's browser console
// snippet in headless Chromium, as pasted into a console: what it logs
// holds the message it sent, shaped as the wscat session's message frame.
func TestREADMEBrowserConsoleExample(t *testing.T) {
	t.Parallel() // its own server and browser
	section := readmeAPI(t)
	snippets := codeBlocks(section, "js")
	if len(snippets) != 1 || !strings.Contains(snippets[0], "ws://"+readmeHost+"/") || !strings.Contains(snippets[0], "console.log(") {
		t.Fatalf("want one ```js block on ws://%s that logs with console.log, got %q", readmeHost, snippets)
	}
	session, err := parseWscat(codeBlocks(section, "console")[0])
	if err != nil || len(session.steps) < 2 {
		t.Fatalf("the wscat session: %v", err)
	}
	documented, err := parseDocumented(session.steps[1].frame) // the message frame that came back
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, ServeConfig{})
	tb := newTab(t, newBrowser(t), "console", s.URL)
	// The console of the chat page, as the README says (from about:blank
	// the snippet's socket never opened in headless Chromium).
	tb.do("open the chat page", chromedp.Navigate(s.URL+"/"))
	snippet := strings.ReplaceAll(snippets[0], "ws://"+readmeHost, wsURL(s.URL))
	// console.log records what it is given; the block keeps the snippet's
	// const to itself.
	eval[bool](tb, "window.logged = []; console.log = (v) => window.logged.push(v); {\n"+snippet+"\n}; true")
	tb.waitJS("the snippet logs a message", `window.logged.some((v) => v.message !== undefined)`)
	data := eval[string](tb, `JSON.stringify(window.logged.find((v) => v.message !== undefined))`)
	got, err := decodeStrict([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	frame, ok := got.(map[string]any)
	doc := documented.(map[string]any)
	if !ok {
		t.Fatalf("logged %s, want an object", data)
	}
	checkKeys(t, "the logged message", frame, keys(doc)...)
	if _, isString := frame["message"].(string); !isString {
		t.Errorf("logged %s: message is not a string", data)
	}
}
