package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/auth"
	"github.com/chatapp-dev/chatapp/client"
	"github.com/chatapp-dev/chatapp/internal/apispec"
)

// dialClient connects a client.Client to the server at base with fast
// reconnects; it is closed when the test ends.
func dialClient(t *testing.T, base string, cfg client.Config) *client.Client {
	t.Helper()
	c, err := tryDialClient(base, cfg)
	if err != nil {
		t.Fatalf("Dial %s as %s: %v", cfg.Room, cfg.UserID, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func tryDialClient(base string, cfg client.Config) (*client.Client, error) {
	cfg.APIURL, cfg.WebSocketURL = client.LocalURLs(base)
	cfg.HTTPClient = specClient(cfg.HTTPClient)
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = 10 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 100 * time.Millisecond
	}
	ctx, cancel := contextWithTimeout()
	defer cancel()
	return client.Dial(ctx, cfg)
}

// clientTransport is the REST and handshake transport of the clients that
// tests dial without one of their own.
var clientTransport = http.DefaultTransport.(*http.Transport).Clone()

// libraryHTTP, as a Config's HTTPClient, has tryDialClient leave the
// client its own default HTTP client, unchecked: for a test of that client.
var libraryHTTP = new(http.Client)

// specClient wraps c's transport (nil: a client of clientTransport) so that
// its exchanges are checked against docs/openapi.yaml (apispec.Watch).
func specClient(c *http.Client) *http.Client {
	switch c {
	case libraryHTTP:
		return nil
	case nil:
		return &http.Client{Transport: &apispec.Transport{Base: clientTransport}, Timeout: 3 * waitTimeout}
	}
	wrapped := *c
	wrapped.Transport = &apispec.Transport{Base: c.Transport}
	return &wrapped
}

// recorder drains a client's events into a list that a test waits on.
type recorder struct {
	t       *testing.T
	name    string
	mu      sync.Mutex
	events  []client.Event
	changed chan struct{}
	done    chan struct{}
}

func record(t *testing.T, name string, c *client.Client) *recorder {
	r := &recorder{t: t, name: name, changed: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for ev := range c.Events() {
			r.mu.Lock()
			r.events = append(r.events, ev)
			r.mu.Unlock()
			select {
			case r.changed <- struct{}{}:
			default:
			}
		}
	}()
	return r
}

func (r *recorder) snapshot() []client.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// wait returns the events once cond holds for them, failing the test if it
// does not within waitTimeout.
func (r *recorder) wait(what string, cond func([]client.Event) bool) []client.Event {
	r.t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		evs := r.snapshot()
		if cond(evs) {
			return evs
		}
		select {
		case <-r.changed:
		case <-r.done:
			if evs := r.snapshot(); cond(evs) {
				return evs
			}
			r.t.Fatalf("%s: events closed before %s; got:\n%s", r.name, what, describeEvents(r.snapshot()))
		case <-deadline.C:
			r.t.Fatalf("%s: timed out waiting for %s; got:\n%s", r.name, what, describeEvents(r.snapshot()))
		}
	}
}

// waitText waits for a message with this text and returns it.
func (r *recorder) waitText(text string) *chatapp.Message {
	r.t.Helper()
	var found *chatapp.Message
	r.wait(fmt.Sprintf("message %q", text), func(evs []client.Event) bool {
		for _, ev := range evs {
			if ev.Kind == client.KindMessage && ev.Message.Text == text {
				found = ev.Message
				return true
			}
		}
		return false
	})
	return found
}

// messages returns the messages delivered so far, in delivery order.
func messagesOf(evs []client.Event) []*chatapp.Message {
	var out []*chatapp.Message
	for _, ev := range evs {
		if ev.Kind == client.KindMessage {
			out = append(out, ev.Message)
		}
	}
	return out
}

func count(evs []client.Event, kind client.Kind) int {
	n := 0
	for _, ev := range evs {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}

func describeEvents(evs []client.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "  %v\n", ev)
	}
	return b.String()
}

func texts(ms []*chatapp.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Text
	}
	return out
}

func ids(ms []*chatapp.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

// TestClientChat: a message sent over REST and one sent over the socket
// reach another client as events, and the stored message is returned.
func TestClientChat(t *testing.T) { forEachBackend(t, testClientChat) }

func testClientChat(t *testing.T, cfg ServeConfig) {
	s := startServer(t, cfg)
	a := dialClient(t, s.URL, client.Config{Room: "cc", UserID: "a", Name: "Ada"})
	b := dialClient(t, s.URL, client.Config{Room: "cc", UserID: "b", Name: "Bob"})
	ra, rb := record(t, "a", a), record(t, "b", b)

	ctx, cancel := contextWithTimeout()
	defer cancel()
	sent, err := a.Send(ctx, "over rest")
	if err != nil {
		t.Fatal(err)
	}
	if sent.ID == "" || sent.Text != "over rest" || sent.UserID != "a" || sent.Name != "Ada" || sent.RoomID != "cc" || sent.Timestamp == 0 {
		t.Errorf("Send returned %+v", sent)
	}
	if got := rb.waitText("over rest"); *got != *sent {
		t.Errorf("b got %+v, want %+v", got, sent)
	}
	ra.waitText("over rest") // the sender's own messages come back too

	if err := b.SendWS(ctx, "over the socket"); err != nil {
		t.Fatal(err)
	}
	got := ra.waitText("over the socket")
	if got.UserID != "b" || got.Name != "Bob" || got.ID <= sent.ID {
		t.Errorf("a got %+v", got)
	}
	evs := rb.wait("its own socket message", func(evs []client.Event) bool { return len(messagesOf(evs)) == 2 })
	if evs[0].Kind != client.KindConnected || evs[0].Attempt != 0 {
		t.Errorf("first event %v, want connected (attempt 0)", evs[0])
	}
	if got := texts(messagesOf(evs)); !slices.Equal(got, []string{"over rest", "over the socket"}) {
		t.Errorf("b got %q", got)
	}
	if n := count(evs, client.KindJoin); n != 0 {
		t.Errorf("b got %d join events without Presence", n)
	}

	users, err := a.Users(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var who []string
	for _, u := range users {
		who = append(who, u.UserID+"/"+u.Name)
	}
	slices.Sort(who)
	if !slices.Equal(who, []string{"a/Ada", "b/Bob"}) {
		t.Errorf("Users: %v", who)
	}
}

// TestClientSendsLargestMessage: the largest valid text of characters JSON
// escapes six bytes each (16 KiB of U+0001) makes a sendmessage frame of
// about 96 KB, over API Gateway's 32 KB frame quota, which the gateway
// enforces with 1009. SendWS fragments it, and it arrives whole, to the
// other member and back to the sender, on a connection still open.
func TestClientSendsLargestMessage(t *testing.T) {
	s := startServer(t, ServeConfig{})
	a := dialClient(t, s.URL, client.Config{Room: "big", UserID: "a", Name: "Ada"})
	b := dialClient(t, s.URL, client.Config{Room: "big", UserID: "b", Name: "Bob"})
	ra, rb := record(t, "a", a), record(t, "b", b)
	text := strings.Repeat("\x01", chatapp.MaxMessageBytes)

	ctx, cancel := contextWithTimeout()
	defer cancel()
	if err := a.SendWS(ctx, text); err != nil {
		t.Fatal(err)
	}
	arrived := func(evs []client.Event) bool {
		for _, ev := range evs {
			if ev.Kind == client.KindMessage && ev.Message.Text == text {
				return true
			}
		}
		return false
	}
	rb.wait("the largest message, whole", arrived)
	evs := ra.wait("the largest message back, whole", arrived)
	if n := count(evs, client.KindReconnecting) + count(evs, client.KindError); n != 0 {
		t.Errorf("the sender lost its connection or got an error: %s", describeEvents(evs))
	}
	if err := a.SendWS(ctx, "after the big one"); err != nil {
		t.Fatal(err)
	}
	rb.waitText("after the big one")
}

// TestClientHistory pages the history backward with Cursor and forward with
// After, and Backlog delivers the latest messages before live ones.
func TestClientHistory(t *testing.T) { forEachBackend(t, testClientHistory) }

func testClientHistory(t *testing.T, cfg ServeConfig) {
	s := startServer(t, cfg)
	var want []string
	for i := range 7 {
		text := fmt.Sprintf("h%d", i)
		putMessage(t, s.URL, "hist", "u", "U", text)
		want = append(want, text)
	}
	c := dialClient(t, s.URL, client.Config{Room: "hist", UserID: "reader", Backlog: 3})
	r := record(t, "reader", c)
	ctx, cancel := contextWithTimeout()
	defer cancel()

	var pages [][]string
	var all []*chatapp.Message
	opts := client.HistoryOptions{Limit: 3}
	for range 10 {
		page, err := c.History(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, texts(page.Messages))
		all = append(page.Messages, all...)
		if page.NextCursor == "" {
			break
		}
		opts.Cursor = page.NextCursor
	}
	wantPages := [][]string{{"h4", "h5", "h6"}, {"h1", "h2", "h3"}, {"h0"}}
	if !slices.EqualFunc(pages, wantPages, slices.Equal) {
		t.Errorf("pages %q, want %q", pages, wantPages)
	}
	if got := texts(all); !slices.Equal(got, want) {
		t.Errorf("history %q, want %q", got, want)
	}

	page, err := c.History(ctx, client.HistoryOptions{After: all[1].ID, Limit: 4})
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(page.Messages); !slices.Equal(got, want[2:6]) || !page.HasMore {
		t.Errorf("after h1, limit 4: %q has_more=%v, want %q and more", got, page.HasMore, want[2:6])
	}
	page, err = c.History(ctx, client.HistoryOptions{After: all[5].ID})
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(page.Messages); !slices.Equal(got, want[6:]) || page.HasMore {
		t.Errorf("after h5: %q has_more=%v", got, page.HasMore)
	}

	// The backlog comes first, then live messages.
	putMessage(t, s.URL, "hist", "u", "U", "live")
	r.waitText("live")
	if got := texts(messagesOf(r.snapshot())); !slices.Equal(got, []string{"h4", "h5", "h6", "live"}) {
		t.Errorf("backlog and live: %q", got)
	}
}

// TestClientPresence: only a client that asked for presence gets join and
// leave events.
func TestClientPresence(t *testing.T) { forEachBackend(t, testClientPresence) }

func testClientPresence(t *testing.T, cfg ServeConfig) {
	s := startServer(t, cfg)
	watcher := record(t, "watcher", dialClient(t, s.URL, client.Config{Room: "pr", UserID: "w", Presence: true}))
	plain := record(t, "plain", dialClient(t, s.URL, client.Config{Room: "pr", UserID: "p"}))

	visitor, err := tryDialClient(s.URL, client.Config{Room: "pr", UserID: "v", Name: "Vic"})
	if err != nil {
		t.Fatal(err)
	}
	joined := func(typ client.Kind) func([]client.Event) bool {
		return func(evs []client.Event) bool {
			for _, ev := range evs {
				if ev.Kind == typ && ev.Presence.UserID == "v" {
					return ev.Presence.Name == "Vic" && ev.Presence.RoomID == "pr" && ev.Presence.ConnectionID != ""
				}
			}
			return false
		}
	}
	watcher.wait("v's join", joined(client.KindJoin))
	visitor.Close()
	watcher.wait("v's leave", joined(client.KindLeave))

	// Events are in order: plain has seen everything up to this message,
	// and no presence among it.
	putMessage(t, s.URL, "pr", "x", "X", "after the visit")
	evs := plain.wait("the message", func(evs []client.Event) bool { return len(messagesOf(evs)) == 1 })
	if n := count(evs, client.KindJoin) + count(evs, client.KindLeave); n != 0 {
		t.Errorf("plain got %d presence events:\n%s", n, describeEvents(evs))
	}
}

// TestClientErrors: the server's errors are typed, with code and status.
func TestClientErrors(t *testing.T) {
	s := startServer(t, ServeConfig{})
	c := dialClient(t, s.URL, client.Config{Room: "err", UserID: "u"})
	ctx, cancel := contextWithTimeout()
	defer cancel()

	check := func(what string, err error, code string, status int) {
		t.Helper()
		var e *client.Error
		if !errors.As(err, &e) {
			t.Errorf("%s: %v (%T), want a *client.Error", what, err, err)
			return
		}
		if e.Code != code || e.StatusCode != status || e.Message == "" {
			t.Errorf("%s: %+v, want code %s status %d and a message", what, e, code, status)
		}
		if got := chatapp.ErrorCode(err); got != code {
			t.Errorf("%s: chatapp.ErrorCode = %q, want %q", what, got, code)
		}
	}

	_, err := c.Send(ctx, "  ")
	check("Send blank", err, chatapp.EINVALID, http.StatusBadRequest)
	_, err = c.Send(ctx, strings.Repeat("x", chatapp.MaxMessageBytes+1))
	check("Send too long", err, chatapp.ETOOLARGE, http.StatusRequestEntityTooLarge)
	_, err = c.History(ctx, client.HistoryOptions{Cursor: "not-an-id"})
	check("History bad cursor", err, chatapp.EINVALID, http.StatusBadRequest)
	_, err = c.History(ctx, client.HistoryOptions{Limit: chatapp.MaxHistoryLimit + 1})
	check("History over the limit", err, chatapp.EINVALID, http.StatusBadRequest)
	check("SendWS blank", c.SendWS(ctx, "\n"), chatapp.EINVALID, http.StatusBadRequest)

	// A refused handshake is the server's JSON error.
	_, err = tryDialClient(s.URL, client.Config{Room: "no spaces", UserID: "u"})
	check("Dial bad room", err, chatapp.EINVALID, http.StatusBadRequest)
	_, err = tryDialClient(s.URL, client.Config{Room: "r", UserID: "u", Name: "bell\a"})
	check("Dial bad name", err, chatapp.EINVALID, http.StatusBadRequest)

	// No server at all: an error, not an *Error.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = tryDialClient("http://"+addr, client.Config{Room: "r", UserID: "u"})
	var e *client.Error
	if err == nil || errors.As(err, &e) {
		t.Errorf("Dial with no server: %v", err)
	}
	if _, err := tryDialClient(s.URL, client.Config{UserID: "u"}); err == nil {
		t.Error("Dial without a room succeeded")
	}

	c.Close()
	if err := c.SendWS(ctx, "late"); !errors.Is(err, client.ErrClosed) {
		t.Errorf("SendWS after Close: %v", err)
	}
}

// gate is a RoundTripper that a test can take down, as if the network were
// gone: requests fail at once.
type gate struct {
	down atomic.Bool
	rt   *http.Transport
}

func newGate(t *testing.T) *gate {
	g := &gate{rt: http.DefaultTransport.(*http.Transport).Clone()}
	t.Cleanup(g.rt.CloseIdleConnections)
	return g
}

func (g *gate) RoundTrip(r *http.Request) (*http.Response, error) {
	if g.down.Load() {
		return nil, errors.New("test: network down")
	}
	return g.rt.RoundTrip(r)
}

// restartServer starts a server on addr, the address of one just closed.
func restartServer(t *testing.T, cfg ServeConfig, addr string) *testServer {
	t.Helper()
	cfg.Addr = addr
	deadline := time.Now().Add(waitTimeout)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			ln.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s stays in use: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return startServer(t, cfg)
}

// TestClientReconnect restarts the server under a connected client: the
// client sees 1001, retries until the server is back on the same address,
// and delivers every message once and in order, those sent while it was
// away included.
func TestClientReconnect(t *testing.T) { forEachBackend(t, testClientReconnect) }

func testClientReconnect(t *testing.T, cfg ServeConfig) {
	cfg.DataDir = t.TempDir()
	s1 := startServer(t, cfg)
	addr := strings.TrimPrefix(s1.URL, "http://")
	// The client's requests go through a gate, so that it stays away for
	// as long as the test needs; the server restarts on the same address.
	g := newGate(t)
	a := dialClient(t, s1.URL, client.Config{Room: "re", UserID: "a", Name: "Ada", HTTPClient: &http.Client{Transport: g}})
	r := record(t, "a", a)
	ctx, cancel := context.WithTimeout(context.Background(), 3*waitTimeout)
	defer cancel()
	chatAround(t, a, r, s1.URL, "re", "before", 3)

	g.down.Store(true)
	s1.close(t)
	evs := r.wait("two failed reconnection attempts", func(evs []client.Event) bool { return count(evs, client.KindReconnecting) >= 2 })
	var first *client.Event
	for i, ev := range evs {
		if ev.Kind == client.KindReconnecting {
			if first == nil {
				first = &evs[i]
			}
			if ev.Delay < 0 || ev.Delay > 100*time.Millisecond || ev.Err == nil {
				t.Errorf("reconnecting event %v: delay out of [0, 100ms] or no cause", ev)
			}
		}
	}
	if code := websocket.CloseStatus(first.Err); code != websocket.StatusGoingAway || first.Attempt != 1 {
		t.Errorf("first reconnecting event %v (close status %v), want attempt 1 after 1001", first, code)
	}
	if err := a.SendWS(ctx, "while down"); !errors.Is(err, client.ErrNotConnected) {
		t.Errorf("SendWS while down: %v, want ErrNotConnected", err)
	}

	s2 := restartServer(t, cfg, addr)
	for i := range 3 {
		putMessage(t, s2.URL, "re", "b", "Bob", fmt.Sprintf("while away %d", i))
	}
	g.down.Store(false)
	before := len(r.snapshot())
	r.wait("connected again", func(evs []client.Event) bool {
		return slices.ContainsFunc(evs[before:], func(ev client.Event) bool { return ev.Kind == client.KindConnected && ev.Attempt >= 1 })
	})
	chatAround(t, a, r, s2.URL, "re", "after", 2)
	checkCaughtUp(t, r, s2.URL, "re", 11)
}

// chatAround sends the messages of one side of a reconnection ("before",
// "after" it): n of Bob's over REST to base, "phase 0" and on, then a's
// "phase ws" over its socket, which it waits for. After a reconnection
// they race its catch-up.
func chatAround(t *testing.T, a *client.Client, r *recorder, base, room, phase string, n int) {
	t.Helper()
	for i := range n {
		putMessage(t, base, room, "b", "Bob", fmt.Sprintf("%s %d", phase, i))
	}
	ctx, cancel := contextWithTimeout()
	defer cancel()
	if err := a.SendWS(ctx, phase+" ws"); err != nil {
		t.Fatal(err)
	}
	r.waitText(phase + " ws")
}

// checkCaughtUp sends Bob's last message over REST to base and, once the
// reconnected client has delivered it (anything delivered twice would
// come before it), checks that it delivered the room's stored messages,
// want in all, each once and in stored order, over two connections.
func checkCaughtUp(t *testing.T, r *recorder, base, room string, want int) {
	t.Helper()
	putMessage(t, base, room, "b", "Bob", "last")
	r.waitText("last")
	got := messagesOf(r.snapshot())
	h := getHistory(t, base, "room_id="+room+"&limit=1000")
	var stored []string
	for _, m := range h.Messages {
		stored = append(stored, m.ID)
	}
	if !slices.Equal(ids(got), stored) {
		t.Errorf("delivered %q\nwant (history) %q", texts(got), historyTexts(h))
	}
	if !slices.IsSorted(ids(got)) {
		t.Errorf("delivered out of id order: %q", texts(got))
	}
	if len(stored) != want {
		t.Errorf("history holds %d messages, want %d: %q", len(stored), want, historyTexts(h))
	}
	if n := count(r.snapshot(), client.KindConnected); n != 2 {
		t.Errorf("%d connected events, want 2", n)
	}
}

func historyTexts(h history) []string {
	var out []string
	for _, m := range h.Messages {
		out = append(out, m.Text)
	}
	return out
}

// TestClientCloseLeaksNothing: Close stops every goroutine of the client,
// while connected and while reconnecting.
func TestClientCloseLeaksNothing(t *testing.T) {
	s := startServer(t, ServeConfig{})
	httpClient.CloseIdleConnections()
	base := runtime.NumGoroutine()

	// The client's own HTTP client, whose idle connections Close closes.
	c := dialClient(t, s.URL, client.Config{Room: "leak", UserID: "u", Presence: true, HTTPClient: libraryHTTP})
	r := record(t, "u", c)
	putMessage(t, s.URL, "leak", "x", "X", "hello")
	r.waitText("hello")
	c.Close()
	<-r.done
	waitGoroutines(t, base)

	// Closed while reconnecting to a server that is gone.
	s2 := startServer(t, ServeConfig{})
	httpClient.CloseIdleConnections()
	base = runtime.NumGoroutine()
	c = dialClient(t, s2.URL, client.Config{Room: "leak", UserID: "u", HTTPClient: libraryHTTP})
	r = record(t, "u", c)
	// (A push first: the race detector otherwise sees the gateway's
	// sockets.Add of this connection racing its Close's sockets.Wait.)
	putMessage(t, s2.URL, "leak", "x", "X", "hello again")
	r.waitText("hello again")
	s2.close(t)
	r.wait("a reconnection attempt", func(evs []client.Event) bool { return count(evs, client.KindReconnecting) >= 2 })
	c.Close()
	<-r.done
	waitGoroutines(t, base)
}

// waitGoroutines waits until no more than n goroutines run. The tests' own
// idle HTTP connections are closed first: their goroutines are not the
// client's.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	httpClient.CloseIdleConnections()
	deadline := time.Now().Add(waitTimeout)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), n, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestClientSlowConsumer: a consumer that stops draining Events holds the
// client back without losing anything, and Close does not wait for it.
func TestClientSlowConsumer(t *testing.T) {
	s := startServer(t, ServeConfig{})
	slow := dialClient(t, s.URL, client.Config{Room: "slow", UserID: "slow"})
	never := dialClient(t, s.URL, client.Config{Room: "slow", UserID: "never"})

	const n = client.EventBuffer + 150 // more than the channel holds
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				body := fmt.Sprintf(`{"room_id":"slow","user_id":"w","text":"m%03d"}`, i)
				if r, err := tryDo(http.MethodPut, s.URL+"/chat", body, jsonHeader); err != nil || r.Status != http.StatusOK {
					errs <- fmt.Errorf("PUT %d: %v %d %s", i, err, r.Status, r.Body)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// Only now does slow start reading: every message, once, in id order.
	r := record(t, "slow", slow)
	evs := r.wait(fmt.Sprintf("%d messages", n), func(evs []client.Event) bool { return len(messagesOf(evs)) >= n })
	got := messagesOf(evs)
	h := getHistory(t, s.URL, fmt.Sprintf("room_id=slow&limit=%d", n))
	var want []string
	for _, m := range h.Messages {
		want = append(want, m.ID)
	}
	if !slices.Equal(ids(got), want) {
		t.Errorf("delivered %d messages, want the %d of the history in order", len(got), len(want))
	}

	// never's channel fills up: Close still returns, and closes it.
	eventually(t, "never's channel is full", func() bool { return len(never.Events()) == client.EventBuffer })
	closed := make(chan struct{})
	go func() { never.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(waitTimeout):
		t.Fatal("Close blocked on a full event channel")
	}
	left := 0
	for range never.Events() {
		left++
	}
	if left != client.EventBuffer {
		t.Errorf("the full channel held %d events, want %d", left, client.EventBuffer)
	}
}

// lossyPuts is a RoundTripper that lets the first drop PUTs reach the server
// and then loses their answers, as a connection reset after the request was
// sent does. It counts the PUTs.
type lossyPuts struct {
	drop atomic.Int32
	puts atomic.Int32
	rt   *http.Transport
	// lost, if set, runs when an answer is lost, before the error returns:
	// the failure that lost it (a node's death) happens before the retry.
	lost func()
}

func (l *lossyPuts) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodPut {
		return l.rt.RoundTrip(r)
	}
	l.puts.Add(1)
	resp, err := l.rt.RoundTrip(r)
	if err == nil && l.drop.Add(-1) >= 0 {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if l.lost != nil {
			l.lost()
		}
		return nil, errors.New("test: connection reset by peer")
	}
	return resp, err
}

// TestClientSendRetriesOnce: a send whose answers are lost is retried under
// one idempotency key; the message is stored once and delivered once. A
// request the server refuses is not retried.
func TestClientSendRetriesOnce(t *testing.T) {
	s := startServer(t, ServeConfig{})
	lossy := &lossyPuts{rt: http.DefaultTransport.(*http.Transport).Clone()}
	t.Cleanup(lossy.rt.CloseIdleConnections)
	c := dialClient(t, s.URL, client.Config{Room: "retry", UserID: "u", HTTPClient: &http.Client{Transport: lossy}})
	r := record(t, "u", c)
	ctx, cancel := contextWithTimeout()
	defer cancel()

	lossy.drop.Store(2)
	m, err := c.Send(ctx, "stored once")
	if err != nil {
		t.Fatalf("Send with two lost answers: %v", err)
	}
	if got := lossy.puts.Load(); got != 3 {
		t.Errorf("%d PUTs, want 3", got)
	}
	h := getHistory(t, s.URL, "room_id=retry")
	if len(h.Messages) != 1 || h.Messages[0].ID != m.ID || h.Messages[0].Text != "stored once" {
		t.Fatalf("history after the retried send: %+v, want the one message %s", h.Messages, m.ID)
	}
	putMessage(t, s.URL, "retry", "x", "X", "marker")
	evs := r.wait("the marker", func(evs []client.Event) bool { return len(messagesOf(evs)) >= 2 })
	if got := messagesOf(evs); len(got) != 2 || got[0].ID != m.ID || got[1].Text != "marker" {
		t.Errorf("delivered %v, want the sent message once, then the marker", ids(got))
	}

	lossy.puts.Store(0)
	if _, err := c.Send(ctx, " "); chatapp.ErrorCode(err) != chatapp.EINVALID {
		t.Errorf("Send blank: %v", err)
	}
	if got := lossy.puts.Load(); got != 1 {
		t.Errorf("a refused send was tried %d times, want once", got)
	}
}

// TestClientKeepsConnectionPastIdleTimeout: a client that sends nothing
// keeps its connection past the server's idle timeout, many times over,
// with its keepalive: pings do not count as activity (AWS documents only
// that API Gateway closes a connection idle for 10 minutes), so the
// keepalive is a message, answered by the server's ping route. The
// keepalive goes every half idle timeout, which leaves a loaded machine
// 2 s; its answer is awaited 30 s.
func TestClientKeepsConnectionPastIdleTimeout(t *testing.T) {
	const idle = 4 * time.Second
	s := startServer(t, ServeConfig{IdleTimeout: idle})
	c := dialClient(t, s.URL, client.Config{Room: "keep", UserID: "k", KeepAlive: idle / 2})
	r := record(t, "keeper", c)
	time.Sleep(2 * idle)
	putMessage(t, s.URL, "keep", "x", "X", "still here")
	r.waitText("still here")
	if evs := r.snapshot(); count(evs, client.KindReconnecting) != 0 || count(evs, client.KindConnected) != 1 {
		t.Errorf("the client reconnected, idle for %v with a %v idle timeout:\n%s", 2*idle, idle, describeEvents(evs))
	}
}

// TestClientStopsWhenRefused: a client whose reconnection is refused with
// a 4xx that no retry can change (here 401: its token expired, which ended
// its socket) stops at once with KindClosed, rather than retrying without
// end, and closes Events; SendWS then says ErrClosed.
func TestClientStopsWhenRefused(t *testing.T) {
	t.Parallel() // its own server
	s := startServer(t, ServeConfig{Auth: AuthConfig{Secret: authTestSecret}})
	// A busy machine may take the token's life to connect: then a token
	// that lives twice as long is tried, up to 24 s.
	var c *client.Client
	for ttl := 3 * time.Second; c == nil; ttl *= 2 {
		token, err := (&auth.Issuer{Secret: []byte(authTestSecret)}).Issue(chatapp.Identity{UserID: "ada"}, ttl)
		if err != nil {
			t.Fatal(err)
		}
		if c, err = tryDialClient(s.URL, client.Config{Room: "refused", Token: token}); err != nil && ttl >= 24*time.Second {
			t.Fatalf("Dial with a token of %v: %v", ttl, err)
		}
	}
	t.Cleanup(func() { c.Close() })
	var evs []client.Event
	timeout := time.After(3 * waitTimeout)
	for done := false; !done; {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				done = true
				break
			}
			evs = append(evs, ev)
		case <-timeout:
			t.Fatalf("Events still open after %v: %s", 3*waitTimeout, describeEvents(evs))
		}
	}
	last := evs[len(evs)-1]
	var e *client.Error
	if last.Kind != client.KindClosed || !errors.As(last.Err, &e) || e.StatusCode != http.StatusUnauthorized {
		t.Fatalf("last event %v, want KindClosed with a 401:\n%s", last, describeEvents(evs))
	}
	if n := count(evs, client.KindReconnecting); n != 1 {
		t.Errorf("%d reconnection attempts, want 1 (a 401 is not retried):\n%s", n, describeEvents(evs))
	}
	ctx, cancel := contextWithTimeout()
	defer cancel()
	if err := c.SendWS(ctx, "too late"); !errors.Is(err, client.ErrClosed) {
		t.Errorf("SendWS after KindClosed: %v, want ErrClosed", err)
	}
}
