package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/auth"
	"github.com/chatapp-dev/chatapp/internal/component"
	"github.com/chatapp-dev/chatapp/sqlite"
)

// The web chat page (web/static), end to end: a real headless Chromium,
// driven over the DevTools protocol, against a real server in process.
// scripts/chromium.sh installs the browser.

const (
	// browserWait bounds every wait on a page: an action, a poll, a start.
	// A bound on a hang, held on a busy machine: catching up 150 messages of
	// 16 KiB beside a CPU hog and other tests took over 10 s.
	browserWait = 30 * time.Second
	// settle is how long a check that something did NOT happen (a second
	// copy of a message, a dialog) waits for it.
	settle = 300 * time.Millisecond
)

// chromiumPath finds the browser ($CHATAPP_CHROMIUM, Debian's chromium,
// or a Chromium or Chrome on PATH or in macOS's Applications), or skips the
// test (fails it in CI).
func chromiumPath(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("CHATAPP_CHROMIUM"), "/usr/bin/chromium"}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if path, err := exec.LookPath(name); err == nil {
			candidates = append(candidates, path)
		}
	}
	candidates = append(candidates, "/Applications/Chromium.app/Contents/MacOS/Chromium", "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome")
	for _, path := range candidates {
		if info, err := os.Stat(path); path != "" && err == nil && !info.IsDir() {
			return path
		}
	}
	component.Missing(t, "Chromium is missing: scripts/chromium.sh installs it with apt-get; elsewhere install Chromium or Chrome, or set CHATAPP_CHROMIUM")
	return ""
}

// sharedBrowser is the test binary's one headless Chromium. Every tab is in
// a browser context of its own (its own storage and cookies, closed with
// the tab), so tests sharing it stay apart; one start per test cost seconds
// each, and several at once on a busy machine could outlast any bound.
// TestMain stops it.
var sharedBrowser struct {
	once    sync.Once
	ctx     context.Context
	stop    func()
	dataDir string
	err     error
}

// browserStartWait bounds Chromium's one start, on a machine as busy as a
// test run makes it.
const browserStartWait = time.Minute

// newBrowser returns a context holding the shared headless Chromium,
// started on first use. Its tabs are made with newTab.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath(t)
	sharedBrowser.once.Do(func() { sharedBrowser.err = startSharedBrowser(path) })
	if sharedBrowser.err != nil {
		t.Fatal(sharedBrowser.err)
	}
	return sharedBrowser.ctx
}

func startSharedBrowser(path string) error {
	dir, err := os.MkdirTemp("", "chatapp-chromium-")
	if err != nil {
		return err
	}
	sharedBrowser.dataDir = dir
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(dir),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1280, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, "chromedp: "+format+"\n", args...) }
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(logf))
	sharedBrowser.ctx = ctx
	sharedBrowser.stop = func() {
		cancel()
		cancelAlloc()
		os.RemoveAll(dir)
	}
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("start chromium: %v", err)
		}
		return nil
	case <-time.After(browserStartWait):
		cancel()
		return fmt.Errorf("start chromium: no answer within %v", browserStartWait)
	}
}

// stopSharedBrowser ends Chromium, if a test started it.
func stopSharedBrowser() {
	if sharedBrowser.stop != nil {
		sharedBrowser.stop()
	}
}

// start runs the first action on a tab's chromedp context, which opens the
// tab. The tab lives as long as the context given to this first run, so it
// gets the unbounded ctx, and the wait is bounded here. On a hang it calls
// cancel, which closes the tab.
func start(t *testing.T, ctx context.Context, cancel context.CancelFunc, what string) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(browserStartWait):
		cancel()
		t.Fatalf("%s: no answer within %v", what, browserStartWait)
	}
}

// tab is one page of the browser, in a browser context of its own: its own
// localStorage, so its own chat user id.
type tab struct {
	t      *testing.T
	label  string
	ctx    context.Context
	cancel context.CancelFunc
	base   string // the server's URL

	mu      sync.Mutex
	dialogs []string      // messages of the JavaScript dialogs that opened
	watched chan struct{} // closed when the dialog watch stops; nil before it starts
	// accept makes the dialogs accepted (OK) instead of dismissed.
	accept atomic.Bool
}

// newTab opens a tab in a new browser context. Every JavaScript dialog it
// opens is recorded and dismissed (accepted once tb.accept is set).
func newTab(t *testing.T, browser context.Context, label, base string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	tb := &tab{t: t, label: label, ctx: ctx, cancel: cancel, base: base}
	t.Cleanup(tb.close)
	start(t, ctx, cancel, label+": open tab")

	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	tb.watched = make(chan struct{})
	go func() {
		defer close(tb.watched)
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.dialogs = append(tb.dialogs, string(ev.Type)+": "+ev.Message)
			tb.mu.Unlock()
			// An open dialog blocks the page: dismiss it.
			cctx, ccancel := context.WithTimeout(ctx, browserWait)
			chromedp.Call(cctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: tb.accept.Load()})
			ccancel()
		}
	}()
	return tb
}

// close closes the tab and its browser context, as closing it in the browser
// does: the page's WebSocket goes away.
func (tb *tab) close() {
	tb.cancel()
	if tb.watched != nil {
		<-tb.watched
	}
}

func (tb *tab) dialogsSeen() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.dialogs...)
}

// do runs actions on the tab, bounded by browserWait.
func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserWait)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %s: %v%s", tb.label, what, err, tb.state())
	}
}

// eval evaluates a JavaScript expression on the tab into T (with
// chromedp.EvalAwaitPromise, the value of the promise it gives).
func eval[T any](tb *tab, expr string, opts ...chromedp.EvaluateOption) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserWait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		tb.t.Fatalf("%s: evaluate %s: %v", tb.label, expr, err)
	}
	return v
}

// waitJS waits until the JavaScript expression is truthy.
func (tb *tab) waitJS(what, expr string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserWait+time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool]("!!("+expr+")",
		chromedp.WithPollingInterval(25*time.Millisecond),
		chromedp.WithPollingTimeout(browserWait)))
	if err != nil {
		tb.t.Fatalf("%s: waiting until %s: %v%s", tb.label, what, err, tb.state())
	}
}

// state describes the page for a failure message; it never fails itself.
func (tb *tab) state() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({
		url: location.href,
		status: document.getElementById("status").textContent,
		error: document.getElementById("error").hidden ? "" : document.getElementById("error-text").textContent,
		members: document.getElementById("member-count").textContent,
		messages: Array.from(document.querySelectorAll("#messages .message"),
			(m) => m.querySelector(".name").textContent + ": " + m.querySelector(".text").textContent),
	})`))
	if err != nil {
		return ""
	}
	return "\npage state: " + s
}

// js quotes a Go string as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// join opens the page, fills the join form and waits until the WebSocket is
// connected.
func (tb *tab) join(room, name string) {
	tb.t.Helper()
	tb.joinFrom("/", room, name)
}

// joinFrom is join from the page at path (with a query such as
// ?keepalive=2).
func (tb *tab) joinFrom(path, room, name string) {
	tb.t.Helper()
	tb.do("join "+room+" as "+name,
		chromedp.Navigate(tb.base+path),
		chromedp.WaitVisible(chromedp.CSS("#join-form")),
		chromedp.SetValue(chromedp.CSS("#room"), room),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("name").value = ""`),
		typeInto(chromedp.CSS("#name"), name),
		chromedp.Click(chromedp.CSS("#join")),
		chromedp.WaitVisible(chromedp.CSS("#chat-view")),
	)
	tb.waitConnected()
	if loc := eval[string](tb, "location.search"); !strings.Contains(loc, "room="+room) {
		tb.t.Errorf("%s: URL query after joining is %q, want the room in it", tb.label, loc)
	}
}

func (tb *tab) waitConnected() {
	tb.t.Helper()
	tb.waitJS("connected", `document.getElementById("status").dataset.state === "connected"`)
}

// enter presses Enter the way a keyboard does, without the extra char event
// of SendKeys("\n") (see chromedp's docs/API.md, example 20).
var enter = chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
	for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
		_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, input.DispatchKeyEventParams{
			Type: typ, Key: "Enter", Code: "Enter",
			WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13,
		})
		if err != nil {
			return err
		}
	}
	return nil
})

// send types text into the composer and sends it with Enter, or with the
// Send button when byButton.
func (tb *tab) send(text string, byButton bool) {
	tb.t.Helper()
	steps := []chromedp.Action[chromedp.Void]{typeInto(chromedp.CSS("#input"), text)}
	if byButton {
		steps = append(steps, chromedp.WaitEnabled(chromedp.CSS("#send")), chromedp.Click(chromedp.CSS("#send")))
	} else {
		steps = append(steps, enter)
	}
	tb.do("send "+text, steps...)
	tb.waitJS("the composer is empty after sending", `document.getElementById("input").value === ""`)
}

// typeInto types text into the element as keys, once it is focused. Not
// chromedp.SendKeys: it reads the node's attributes without the node's
// lock while chromedp's event loop updates them (a data race under -race,
// whenever the page changes the element's attributes as the keys start:
// the composer's height, the value chromedp.Clear sets).
func typeInto[S chromedp.Selectable](sel S, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(chromedp.Focus(sel), chromedp.KeyEvent(text))
}

// countJS is the number of shown messages whose text is exactly text.
func countJS(text string) string {
	return `Array.from(document.querySelectorAll("#messages .message .text")).filter((e) => e.textContent === ` + js(text) + `).length`
}

// waitMessage waits until the message text is shown, then checks that it is
// shown exactly once and by the sender name.
func (tb *tab) waitMessage(text, name string) {
	tb.t.Helper()
	tb.waitJS(fmt.Sprintf("%q is shown", text), countJS(text)+" > 0")
	time.Sleep(settle) // a duplicate would come now
	if n := eval[int](tb, countJS(text)); n != 1 {
		tb.t.Errorf("%s: %q shown %d times, want once%s", tb.label, text, n, tb.state())
	}
	got := eval[string](tb, `Array.from(document.querySelectorAll("#messages .message")).find((m) => m.querySelector(".text").textContent === `+js(text)+`).querySelector(".name").textContent`)
	if got != name {
		tb.t.Errorf("%s: %q shown as sent by %q, want %q", tb.label, text, got, name)
	}
}

// waitMembers waits until the member list and its count show the names.
func (tb *tab) waitMembers(names ...string) {
	tb.t.Helper()
	want := js(strings.Join(names, "|"))
	n := fmt.Sprint(len(names))
	tb.waitJS("the members are "+strings.Join(names, ", "),
		`document.getElementById("member-count").textContent === "`+n+`" &&
		 Array.from(document.querySelectorAll("#members .member"), (m) => m.textContent).sort().join("|") === `+want)
}

// TestBrowserChat: two people in one room, each in a browser context of its
// own, see each other's messages, the history after a reload, the member list
// following joins and leaves, and markup shown as text.
func TestBrowserChat(t *testing.T) {
	t.Parallel() // its own server and browser
	srv := startServer(t, ServeConfig{})
	browser := newBrowser(t)
	const room = "browser-room"

	ada := newTab(t, browser, "ada", srv.URL)
	ada.join(room, "Ada")
	ada.waitMembers("Ada")

	bob := newTab(t, browser, "bob", srv.URL)
	bob.join(room, "Bob")
	ada.waitMembers("Ada", "Bob")
	bob.waitMembers("Ada", "Bob")

	// Ada types; Bob sees it with her name, Ada sees it once.
	ada.send("Hello from Ada", false)
	bob.waitMessage("Hello from Ada", "Ada")
	ada.waitMessage("Hello from Ada", "Ada")
	bob.send("Hi Ada, Bob here", true)
	ada.waitMessage("Hi Ada, Bob here", "Bob")
	bob.waitMessage("Hi Ada, Bob here", "Bob")
	if own := eval[bool](ada, `document.querySelector("#messages .message.own .text").textContent === "Hello from Ada"`); !own {
		t.Errorf("ada: her own message is not marked .own%s", ada.state())
	}

	// A reload keeps the room (it is in the URL) and shows the history.
	bob.do("reload", chromedp.Reload())
	bob.waitConnected()
	bob.waitMessage("Hello from Ada", "Ada")
	bob.waitMessage("Hi Ada, Bob here", "Bob")
	if got := eval[string](bob, `document.getElementById("room-name").textContent`); got != room {
		t.Errorf("bob: room after reload %q, want %q", got, room)
	}
	ada.waitMembers("Ada", "Bob")

	// Markup in a message is text: no element, no script, no dialog.
	const attack = `<img src=x onerror=alert(1)>`
	bob.send(attack, false)
	for _, tb := range []*tab{ada, bob} {
		tb.waitMessage(attack, "Bob")
		if n := eval[int](tb, `document.querySelectorAll("#messages img").length`); n != 0 {
			t.Errorf("%s: %d img elements inside #messages, want none", tb.label, n)
		}
		if d := tb.dialogsSeen(); len(d) != 0 {
			t.Errorf("%s: JavaScript dialogs opened: %q", tb.label, d)
		}
	}
	// The dialog watch works: a real alert is seen (and dismissed).
	ada.do("probe alert", chromedp.Evaluate[chromedp.Void](`setTimeout(() => alert("probe"), 0)`))
	deadline := time.Now().Add(browserWait)
	for len(ada.dialogsSeen()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if d := ada.dialogsSeen(); len(d) != 1 || d[0] != "alert: probe" {
		t.Errorf("ada: dialogs %q, want just the probe alert", d)
	}

	// Bob closes his tab: Ada's member list drops him.
	bob.close()
	ada.waitMembers("Ada")
}

// TestBrowserSendsLargestMessage: a browser sends each message as one
// frame, and the largest valid text of characters that JSON escapes six
// bytes each (16 KiB of U+0001) is a ~96 KB frame, which API Gateway (and
// the gateway) closes with 1009. The page sends it by PUT instead: it is
// shown once to both, and the sender's socket stays up (a short message
// after it still goes over the WebSocket and arrives). A second copy of it
// would come before that message (on each socket, and the PUT is answered
// before the composer empties), so no wait is needed to look for one.
func TestBrowserSendsLargestMessage(t *testing.T) {
	t.Parallel() // its own server and browser
	srv := startServer(t, ServeConfig{})
	browser := newBrowser(t)
	const room = "big-room"
	ada := newTab(t, browser, "ada", srv.URL)
	ada.join(room, "Ada")
	bob := newTab(t, browser, "bob", srv.URL)
	bob.join(room, "Bob")
	ada.waitMembers("Ada", "Bob")

	text := strings.Repeat("\x01", chatapp.MaxMessageBytes)
	// Typing 16 KiB of a control character is not what SendKeys does: the
	// text is set, and the composer told, as typing would.
	ada.do("fill the composer", chromedp.Evaluate[chromedp.Void](`(() => {
		const input = document.getElementById("input");
		input.value = `+js(text)+`;
		input.dispatchEvent(new Event("input", { bubbles: true }));
	})()`), chromedp.WaitEnabled(chromedp.CSS("#send")), chromedp.Click(chromedp.CSS("#send")))
	for _, tb := range []*tab{ada, bob} {
		tb.waitJS("the largest message is shown", countJS(text)+" > 0")
	}
	// The PUT's answer empties the composer: typing before it would be
	// typing into the big text.
	ada.waitJS("the PUT is answered", `document.getElementById("input").value === ""`)
	ada.waitConnected()
	ada.send("after the big one", false)
	for _, tb := range []*tab{ada, bob} {
		tb.waitMessage("after the big one", "Ada")
		if n := eval[int](tb, countJS(text)); n != 1 {
			t.Errorf("%s: the largest message is shown %d times, want once%s", tb.label, n, tb.state())
		}
	}
}

// membersStateJS is what the member list says of itself ("" while live)
// and how opaque it is.
const membersStateJS = `(document.getElementById("members-state").hidden ? "" : document.getElementById("members-state").textContent) +
	"|" + getComputedStyle(document.getElementById("members")).opacity`

// TestBrowserReconnect restarts the server under an open page: the page says
// it is reconnecting, and its member list that it is offline (dimmed, not
// presented as live); it comes back by itself, catches up on what it missed
// and keeps sending and receiving.
func TestBrowserReconnect(t *testing.T) {
	t.Parallel() // its own server and browser
	dir := t.TempDir()
	srv := startServer(t, ServeConfig{DataDir: dir})
	addr := strings.TrimPrefix(srv.URL, "http://")
	browser := newBrowser(t)
	const room = "restart-room"

	ada := newTab(t, browser, "ada", srv.URL)
	ada.join(room, "Ada")
	ada.send("before the restart", false)
	ada.waitMessage("before the restart", "Ada")
	ada.waitMembers("Ada")
	if got := eval[string](ada, membersStateJS); got != "|1" {
		t.Errorf("connected: the member list says %q, want nothing and full opacity", got)
	}

	srv.close(t)
	ada.waitJS("reconnecting", `document.getElementById("status").dataset.state === "reconnecting"`)
	ada.waitJS("the member list says it is offline", membersStateJS+` === "offline · reconnecting|0.5"`)
	if got := eval[string](ada, `Array.from(document.querySelectorAll("#members .member"), (m) => m.textContent).join()`); got != "Ada" {
		t.Errorf("offline, the member list holds %q, want the last known members", got)
	}

	waitListenable(t, addr)
	srv2 := startServer(t, ServeConfig{DataDir: dir, Addr: addr})
	if srv2.URL != srv.URL {
		t.Fatalf("restarted on %s, want %s", srv2.URL, srv.URL)
	}
	// Sent while the page may still be away: it must catch up on it.
	putMessage(t, srv2.URL, room, "grace-1", "Grace", "while you were away")
	ada.waitConnected()
	ada.waitMessage("while you were away", "Grace")
	ada.waitJS("the member list is live again", membersStateJS+` === "|1"`)

	// The new socket is live both ways.
	putMessage(t, srv2.URL, room, "grace-1", "Grace", "after the restart")
	ada.waitMessage("after the restart", "Grace")
	ada.send("back again", true)
	ada.waitMessage("back again", "Ada")
	ada.waitMessage("before the restart", "Ada")
	if n := eval[int](ada, `document.querySelectorAll("#messages .message").length`); n != 4 {
		t.Errorf("ada: %d messages shown, want 4%s", n, ada.state())
	}
	if !eval[bool](ada, `document.getElementById("error").hidden`) {
		t.Errorf("ada: error banner shown after reconnecting%s", ada.state())
	}
}

// TestBrowserKeepAlive: a page that sends nothing keeps its WebSocket past
// the server's idle timeout, twice over, with the keepalive message (every
// half idle timeout here, with ?keepalive=2): the room shows the same
// connection all along, and it still gets pushes. The answer is awaited as
// long as the interval (under 30 s): that and the idle timeout both leave a
// loaded machine 2 s.
func TestBrowserKeepAlive(t *testing.T) {
	t.Parallel() // its own server and browser
	const idle = 4 * time.Second
	srv := startServer(t, ServeConfig{IdleTimeout: idle})
	browser := newBrowser(t)
	const room = "keepalive-room"
	ada := newTab(t, browser, "ada", srv.URL)
	ada.joinFrom("/?keepalive=2", room, "Ada")
	before := getUsers(t, srv.URL, room)
	time.Sleep(2 * idle)
	after := getUsers(t, srv.URL, room)
	if len(before) != 1 || len(after) != 1 || before[0].ConnectionID != after[0].ConnectionID {
		t.Fatalf("the room's connections went from %+v to %+v over %v with a %v idle timeout, want the same one%s", before, after, 2*idle, idle, ada.state())
	}
	putMessage(t, srv.URL, room, "grace-1", "Grace", "still with us")
	ada.waitMessage("still with us", "Grace")
}

// TestBrowserKeepAliveClamped: ?keepalive= comes from a link anyone can
// send, so the page clamps it. A delay a browser timer cannot hold
// (Infinity, or 2^31 ms and more, fires at once) made the page flood pings
// until the server closed it for its frame rate, and a tiny one gave the
// pong no time to come: both pages reconnected over and over.
func TestBrowserKeepAliveClamped(t *testing.T) {
	t.Parallel() // its own server and browser
	srv := startServer(t, ServeConfig{})
	browser := newBrowser(t)
	for _, keepalive := range []string{"Infinity", "2147484", "0.002"} {
		room := "clamp-" + strings.ReplaceAll(keepalive, ".", "-")
		tab := newTab(t, browser, "ada", srv.URL)
		tab.joinFrom("/?keepalive="+keepalive, room, "Ada")
		before := getUsers(t, srv.URL, room)
		time.Sleep(3 * time.Second)
		after := getUsers(t, srv.URL, room)
		if len(before) != 1 || len(after) != 1 || before[0].ConnectionID != after[0].ConnectionID {
			t.Errorf("?keepalive=%s: the room's connections went from %+v to %+v in 3s, want the same one%s", keepalive, before, after, tab.state())
		}
	}
}

// waitListenable waits until addr can be listened on again.
func waitListenable(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			ln.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("listen %s again: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBrowserScreenshots shows a conversation at desktop and phone width,
// checks that the layout holds, and saves a PNG of each (saveArtifact).
func TestBrowserScreenshots(t *testing.T) {
	t.Parallel() // its own server and browser
	const room = "design-review"
	dir := t.TempDir()
	now := time.Now()
	yesterday := time.Date(now.Year(), now.Month(), now.Day()-1, 17, 30, 0, 0, time.Local)
	seed(t, dir,
		seeded(room, "grace-h", "Grace", "Can we review the web client tomorrow morning?", yesterday),
		seeded(room, "grace-h", "Grace", "The issue list is at https://example.com/chatapp/issues/11.", yesterday.Add(time.Minute)),
	)
	srv := startServer(t, ServeConfig{DataDir: dir})
	browser := newBrowser(t)

	grace := dial(t, srv.URL, "grace", "room_id="+room+"&user_id=grace-h&name=Grace")
	ada := newTab(t, browser, "ada", srv.URL)
	ada.join(room, "Ada")
	ada.waitMembers("Ada", "Grace")

	say := func(text string) {
		t.Helper()
		grace.send(mustJSON(t, map[string]string{"action": "sendmessage", "text": text}))
		ada.waitJS(fmt.Sprintf("%q is shown", text), countJS(text)+" > 0")
	}
	say("Morning! Is the new web client ready for review?")
	ada.send("Yes: history, live messages, members and reconnects all work.", false)
	ada.send("Messages sit by the composer now, in runs and days, and links work.", false)
	say("Great. Does it work on a phone too?")
	ada.send("It does. On narrow screens the member list folds into the header.", false)
	say("<b>Markup</b> stays plain text, by the way.")

	for _, v := range []struct {
		name          string
		width, height int64
		mobile        bool
	}{
		{"web-desktop", 1280, 800, false},
		{"web-phone", 390, 844, true},
	} {
		var opts []chromedp.EmulateViewportOption
		if v.mobile {
			opts = append(opts, chromedp.EmulateMobile)
		}
		ada.do("viewport "+v.name,
			chromedp.EmulateViewport(v.width, v.height, opts...),
			chromedp.Evaluate[chromedp.Void](`new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))`, chromedp.EvalAwaitPromise),
		)
		checkLayout(t, ada, v.name, v.mobile)

		ctx, cancel := context.WithTimeout(ada.ctx, browserWait)
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		cancel()
		if err != nil {
			t.Fatalf("%s: screenshot: %v", v.name, err)
		}
		saveArtifact(t, v.name+".png", png)
	}

	// On the phone, the Members toggle opens the list above the conversation.
	ada.do("open the member list", chromedp.Click(chromedp.CSS("#members-toggle")))
	ada.waitJS("the member list is shown", `getComputedStyle(document.getElementById("sidebar")).display !== "none" &&
		document.getElementById("members-toggle").getAttribute("aria-expanded") === "true"`)
	ada.waitMembers("Ada", "Grace")
	if !eval[bool](ada, `document.getElementById("composer").getBoundingClientRect().bottom <= innerHeight + 1`) {
		t.Errorf("phone: the open member list pushes the composer off screen")
	}
}

// layout is what checkLayout measures on the page.
type layout struct {
	ViewportWidth  float64 `json:"viewportWidth"`
	ScrollWidth    float64 `json:"scrollWidth"`
	ComposerBottom float64 `json:"composerBottom"`
	ViewportHeight float64 `json:"viewportHeight"`
	SendRight      float64 `json:"sendRight"`
	SidebarShown   bool    `json:"sidebarShown"`
	ToggleShown    bool    `json:"toggleShown"`
	MessagesFit    bool    `json:"messagesFit"`
}

// checkLayout fails on a page that looks broken: content wider than the
// screen, the composer or the Send button off screen, or the member list in
// the wrong place for the width.
func checkLayout(t *testing.T, tb *tab, name string, phone bool) {
	t.Helper()
	raw := eval[[]byte](tb, `(() => {
		const shown = (el) => getComputedStyle(el).display !== "none" && el.getBoundingClientRect().width > 0;
		const vw = document.documentElement.clientWidth;
		return {
			viewportWidth: vw,
			scrollWidth: document.documentElement.scrollWidth,
			composerBottom: document.getElementById("composer").getBoundingClientRect().bottom,
			viewportHeight: window.innerHeight,
			sendRight: document.getElementById("send").getBoundingClientRect().right,
			sidebarShown: shown(document.getElementById("sidebar")),
			toggleShown: shown(document.getElementById("members-toggle")),
			messagesFit: Array.from(document.querySelectorAll("#messages .message"))
				.every((m) => { const r = m.getBoundingClientRect(); return r.left >= 0 && r.right <= vw; }),
		};
	})()`)
	var l layout
	if err := json.Unmarshal(raw, &l); err != nil {
		t.Fatalf("%s: layout %s: %v", name, raw, err)
	}
	t.Logf("%s layout: %+v", name, l)
	switch {
	case l.ScrollWidth > l.ViewportWidth:
		t.Errorf("%s: page scrolls sideways: %v px wide in a %v px viewport", name, l.ScrollWidth, l.ViewportWidth)
	case !l.MessagesFit:
		t.Errorf("%s: a message sticks out of the viewport", name)
	case l.ComposerBottom > l.ViewportHeight+1:
		t.Errorf("%s: composer ends at %v px, below the %v px viewport", name, l.ComposerBottom, l.ViewportHeight)
	case l.SendRight > l.ViewportWidth:
		t.Errorf("%s: Send button off screen (right edge %v px)", name, l.SendRight)
	}
	if phone && (l.SidebarShown || !l.ToggleShown) {
		t.Errorf("%s: on a phone the member list should fold behind the Members toggle: %+v", name, l)
	}
	if !phone && (!l.SidebarShown || l.ToggleShown) {
		t.Errorf("%s: on a desktop the member list should be a sidebar: %+v", name, l)
	}
}

// tokenCounter is a reverse proxy in front of a server that counts the
// requests carrying each token (as Authorization: Bearer or ?token=), the
// WebSocket handshakes included, all requests, and the requests to each
// path.
type tokenCounter struct {
	URL string

	mu     sync.Mutex
	counts map[string]int
	paths  map[string]int
	total  int
}

func newTokenCounter(t *testing.T, backend string) *tokenCounter {
	t.Helper()
	target, err := url.Parse(backend)
	if err != nil {
		t.Fatal(err)
	}
	tc := &tokenCounter{counts: map[string]int{}, paths: map[string]int{}}
	proxy := httputil.NewSingleHostReverseProxy(target)
	lw := &testLogWriter{t: t}
	proxy.ErrorLog = log.New(lw, "proxy: ", 0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := r.URL.Query().Get("token")
		if h, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			token = h
		}
		tc.mu.Lock()
		tc.total++
		tc.paths[r.URL.Path]++
		if token != "" {
			tc.counts[token]++
		}
		tc.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		srv.Close()
		lw.stop()
	})
	tc.URL = srv.URL
	return tc
}

func (tc *tokenCounter) count(token string) int {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.counts[token]
}

// path is how many requests to the path reached the server.
func (tc *tokenCounter) path(p string) int {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.paths[p]
}

// requests is how many requests reached the server, with a token or not.
func (tc *tokenCounter) requests() int {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.total
}

// openWithToken opens the page at path with the token in the URL fragment,
// as a sign-in link does.
func (tb *tab) openWithToken(path, token string) {
	tb.t.Helper()
	tb.do("open "+path+" with a token", chromedp.Navigate(tb.base+path+"#token="+token))
}

// TestBrowserAuth runs the page against a server with auth on. Two pages
// signed in with #token= links of two users chat, shown by the names of
// their tokens, and the token leaves the address bar at once. A page with
// an expired, a forged or a garbage token says that sign-in is needed, and
// one with a token for other rooms that it is not allowed in: each stops
// after a bounded few requests instead of reconnecting.
func TestBrowserAuth(t *testing.T) {
	t.Parallel() // its own server and browser
	srv := startServer(t, ServeConfig{Auth: AuthConfig{Secret: authTestSecret}})
	front := newTokenCounter(t, srv.URL)
	browser := newBrowser(t)
	const room = "auth-room"

	adaTok := devToken(t, chatapp.Identity{UserID: "ada", Name: "Ada Lovelace"})
	bobTok := devToken(t, chatapp.Identity{UserID: "bob", Name: "Bob", Rooms: []string{room}})

	// Ada's link names the room: the page joins it by itself, as the
	// token's user with the token's name.
	ada := newTab(t, browser, "ada", front.URL)
	ada.openWithToken("/?room="+room, adaTok)
	ada.waitConnected()
	for _, tb := range []struct {
		what, expr string
	}{
		{"location.href", "location.href"},
		{"history.state", "JSON.stringify(history.state)"},
		{"localStorage", "JSON.stringify(localStorage)"},
		{"the page", "document.documentElement.outerHTML"},
	} {
		if got := eval[string](ada, tb.expr); strings.Contains(got, adaTok) {
			t.Errorf("ada: the token is in %s: %s", tb.what, got)
		}
	}
	if got := eval[string](ada, "location.href"); got != front.URL+"/?room="+room {
		t.Errorf("ada: location.href = %q, want the room URL without the token", got)
	}
	if got := eval[string](ada, `document.getElementById("whoami").textContent`); got != "Signed in as Ada Lovelace (ada)" {
		t.Errorf("ada: identity shown %q%s", got, ada.state())
	}

	// Bob's link opens the join form, with his token's name fixed.
	bob := newTab(t, browser, "bob", front.URL)
	bob.openWithToken("/", bobTok)
	bob.do("join with the form",
		chromedp.WaitVisible(chromedp.CSS("#join-form")),
		chromedp.SetValue(chromedp.CSS("#room"), room),
		chromedp.Click(chromedp.CSS("#join")),
		chromedp.WaitVisible(chromedp.CSS("#chat-view")),
	)
	bob.waitConnected()
	if got := eval[string](bob, `document.getElementById("identity").textContent + "|" + document.getElementById("name").value + "|" + document.getElementById("name").readOnly`); got != "Signed in as Bob (bob)|Bob|true" {
		t.Errorf("bob: join form identity|name|readonly = %q", got)
	}
	if strings.Contains(eval[string](bob, "location.href"), bobTok) {
		t.Errorf("bob: the token is in location.href")
	}
	ada.waitMembers("Ada Lovelace", "Bob")
	bob.waitMembers("Ada Lovelace", "Bob")

	ada.send("Hello Bob, signed in", false)
	bob.waitMessage("Hello Bob, signed in", "Ada Lovelace")
	ada.waitMessage("Hello Bob, signed in", "Ada Lovelace")
	bob.send("<b>Hi</b> Ada", true)
	ada.waitMessage("<b>Hi</b> Ada", "Bob")
	if n := eval[int](ada, `document.querySelectorAll("#messages b").length`); n != 0 {
		t.Errorf("ada: markup in a message became %d elements", n)
	}
	if !eval[bool](ada, `document.querySelector("#messages .message.own .text").textContent === "Hello Bob, signed in"`) {
		t.Errorf("ada: her own message (by the token's sub) is not marked .own%s", ada.state())
	}

	// A reload keeps the token (sessionStorage, this tab only) and the
	// history, read with the Authorization header.
	bob.do("reload", chromedp.Reload())
	bob.waitConnected()
	bob.waitMessage("Hello Bob, signed in", "Ada Lovelace")

	// The server stored the messages as the tokens' users.
	var h history
	r := do(t, http.MethodGet, srv.URL+"/chat?room_id="+room, nil, map[string]string{"Authorization": "Bearer " + adaTok})
	decodeJSON(t, r.Body, &h)
	var got []string
	for _, m := range h.Messages {
		got = append(got, m.UserID+"/"+m.Name+": "+m.Text)
	}
	if want := []string{"ada/Ada Lovelace: Hello Bob, signed in", "bob/Bob: <b>Hi</b> Ada"}; !slices.Equal(got, want) {
		t.Errorf("history = %q, want %q", got, want)
	}

	// Refused tokens: a clear message, and a bounded few requests.
	expired, err := (&auth.Issuer{Secret: []byte(authTestSecret), Now: func() time.Time { return time.Now().Add(-2 * time.Hour) }}).
		Issue(chatapp.Identity{UserID: "eve", Name: "Eve"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := (&auth.Issuer{Secret: []byte("some-other-secret-0123456789abcdefgh")}).Issue(chatapp.Identity{UserID: "ada", Name: "Ada"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, token, state, text string
	}{
		{"expired", expired, "unauthorized", "Sign-in needed"},
		{"forged", forged, "unauthorized", "Sign-in needed"},
		{"garbage", "abc.def.ghi", "unauthorized", "Sign-in needed"},
		{"other room", bobTok, "forbidden", "Not allowed in this room"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := front.count(tc.token)
			eve := newTab(t, browser, "eve "+tc.name, front.URL)
			eve.openWithToken("/?room=elsewhere", tc.token)
			if tc.name == "garbage" {
				// No name to read from it: the page asks for one.
				eve.do("join with the form",
					chromedp.WaitVisible(chromedp.CSS("#join-form")),
					typeInto(chromedp.CSS("#name"), "Eve"),
					chromedp.Click(chromedp.CSS("#join")),
				)
			}
			eve.waitJS("the page says it is refused", `document.getElementById("status").dataset.state === `+js(tc.state))
			if msg := eval[string](eve, `document.getElementById("error").hidden ? "" : document.getElementById("error-text").textContent`); !strings.HasPrefix(msg, tc.text) {
				t.Errorf("error banner %q, want %q…", msg, tc.text)
			}
			if !eval[bool](eve, `document.getElementById("send").disabled && document.getElementById("input").disabled`) {
				t.Errorf("the composer is enabled on a refused page%s", eve.state())
			}
			// Longer than the first reconnect delays (0.5 s, 1 s, 2 s).
			n := front.count(tc.token) - before
			time.Sleep(2500 * time.Millisecond)
			if later := front.count(tc.token) - before; later != n || n > 3 {
				t.Errorf("requests with the refused token: %d when refused, %d 2.5 s later; want at most 3 and no more after", n, later)
			}
			if strings.Contains(eval[string](eve, "location.href"), tc.token) {
				t.Errorf("the token is in location.href")
			}
			if got := eval[string](eve, `document.getElementById("status").dataset.state`); got != tc.state {
				t.Errorf("status %q after waiting, want %q", got, tc.state)
			}
			t.Logf("%s: %d requests carried the token", tc.name, n)
			eve.close()
		})
	}

	// The pages signed in are still live.
	ada.send("still here", false)
	bob.waitMessage("still here", "Ada Lovelace")
}

// TestBrowserTokenStaysHome: a sign-in link whose ?api= and ?ws= name
// another server (here a second one on another port, behind a counter)
// sends the token there only if the user accepts the dialog that names it.
// Dismissed, the page makes no request there at all and says why; accepted,
// it chats there, and a reload of the tab does not ask again. An ?api= that
// names the page's own origin asks nothing.
func TestBrowserTokenStaysHome(t *testing.T) {
	t.Parallel() // its own server and browser
	home := startServer(t, ServeConfig{Auth: AuthConfig{Secret: authTestSecret}})
	otherSrv := startServer(t, ServeConfig{Auth: AuthConfig{Secret: authTestSecret}})
	other := newTokenCounter(t, otherSrv.URL)
	browser := newBrowser(t)
	const room = "elsewhere"
	tok := devToken(t, chatapp.Identity{UserID: "ada", Name: "Ada"})
	query := "/?room=" + room + "&api=" + url.QueryEscape(other.URL+"/chat") + "&ws=" + url.QueryEscape(wsURL(other.URL)+"/ws")

	// Dismissed: nothing reaches the other server.
	no := newTab(t, browser, "dismisses", home.URL)
	no.openWithToken(query, tok)
	no.waitJS("the page connects or says it did not", `["declined", "connected"].includes(document.getElementById("status").dataset.state)`)
	time.Sleep(settle)
	if n := other.requests(); n != 0 {
		t.Errorf("%d requests reached the other server (%d with the token) after the dialog was dismissed, want none", n, other.count(tok))
	}
	if d := no.dialogsSeen(); len(d) != 1 || !strings.HasPrefix(d[0], "confirm: ") || !strings.Contains(d[0], other.URL) {
		t.Errorf("dialogs %q, want one confirm naming %s", d, other.URL)
	}
	if state := eval[string](no, `document.getElementById("status").dataset.state`); state != "declined" {
		t.Errorf("status %q, want declined%s", state, no.state())
	}
	if msg := eval[string](no, `document.getElementById("error-text").textContent`); !strings.Contains(msg, "chose not to send your sign-in token to "+other.URL) {
		t.Errorf("error banner %q", msg)
	}
	if !eval[bool](no, `document.getElementById("send").disabled && document.getElementById("input").disabled`) {
		t.Errorf("the composer is enabled on a page that did not connect%s", no.state())
	}

	// Accepted: the page chats on the other server, as the token's user.
	yes := newTab(t, browser, "accepts", home.URL)
	yes.accept.Store(true)
	yes.openWithToken(query, tok)
	yes.waitConnected()
	if d := yes.dialogsSeen(); len(d) != 1 || !strings.Contains(d[0], other.URL) {
		t.Errorf("dialogs %q, want one confirm naming %s", d, other.URL)
	}
	if other.count(tok) == 0 {
		t.Error("the token did not reach the other server after the dialog was accepted")
	}
	yes.send("over there", false)
	yes.waitMessage("over there", "Ada")
	var h history
	decodeJSON(t, do(t, http.MethodGet, otherSrv.URL+"/chat?room_id="+room, nil, map[string]string{"Authorization": "Bearer " + tok}).Body, &h)
	if len(h.Messages) != 1 || h.Messages[0].UserID != "ada" {
		t.Errorf("the other server's history: %+v", h.Messages)
	}
	yes.do("reload", chromedp.Reload())
	yes.waitConnected()
	if d := yes.dialogsSeen(); len(d) != 1 {
		t.Errorf("dialogs after a reload %q, want still the one", d)
	}

	// The page's own origin, named by ?api= and ?ws=, is home.
	own := newTab(t, browser, "own origin", home.URL)
	own.openWithToken("/?room="+room+"&api="+url.QueryEscape(home.URL+"/chat")+"&ws="+url.QueryEscape(wsURL(home.URL)+"/ws"), tok)
	own.waitConnected()
	if d := own.dialogsSeen(); len(d) != 0 {
		t.Errorf("dialogs %q for the page's own origin, want none", d)
	}
}

// TestBrowserCatchUpFollowsHasMore: messages stored while the page was away
// are more than one catch-up page holds, in bytes (the server ends a page
// early); the page follows has_more and shows every one, once.
func TestBrowserCatchUpFollowsHasMore(t *testing.T) {
	t.Parallel() // its own server and browser
	dir := t.TempDir()
	srv := startServer(t, ServeConfig{DataDir: dir})
	addr := strings.TrimPrefix(srv.URL, "http://")
	browser := newBrowser(t)
	const room = "big-catch-up"

	ada := newTab(t, browser, "ada", srv.URL)
	ada.join(room, "Ada")
	ada.send("before", false)
	ada.waitMessage("before", "Ada")

	srv.close(t)
	ada.waitJS("reconnecting", `document.getElementById("status").dataset.state === "reconnecting"`)
	// 150 messages of 16 KiB, written to the store while the server is down:
	// some 2.4 MB, three pages of the 1 MiB bound.
	ctx, cancel := contextWithTimeout()
	defer cancel()
	db, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	const n = 150
	batch := make([]*chatapp.Message, n)
	for i := range batch {
		text := fmt.Sprintf("away %03d ", i)
		batch[i] = &chatapp.Message{RoomID: room, UserID: "grace", Name: "Grace", Text: text + strings.Repeat("<", chatapp.MaxMessageBytes-len(text))}
	}
	if err := db.BulkInsert(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	restartServer(t, ServeConfig{DataDir: dir}, addr)
	ada.waitConnected()
	ada.waitJS(fmt.Sprintf("%d messages shown", n+1), fmt.Sprintf(`document.querySelectorAll("#messages .message").length >= %d`, n+1))
	time.Sleep(settle)
	got := eval[string](ada, `Array.from(document.querySelectorAll("#messages .message .text"), (e) => e.textContent.slice(0, 8)).join("|")`)
	want := []string{"before"}
	for i := range n {
		want = append(want, fmt.Sprintf("away %03d", i))
	}
	if got != strings.Join(want, "|") {
		t.Errorf("messages shown (first 8 characters):\n%s\nwant\n%s", got, strings.Join(want, "|"))
	}
}
