// The client algorithm (docs/protocol.md) against a hostile or broken
// server, written as attacks: error frames in floods, pushes duplicated and
// out of order, pages that go backwards or never end, sockets that drop
// under sends, refused reconnections.

package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/oklog/ulid/v2"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/protocol"
)

// scripted is a server whose every answer a test writes.
type scripted struct {
	*httptest.Server
	get  func(w http.ResponseWriter, r *http.Request)
	put  func(w http.ResponseWriter, r *http.Request)
	ws   func(n int, conn *websocket.Conn, r *http.Request) // n: the connection's number, from 1
	gets atomic.Int64
	puts atomic.Int64
	conn atomic.Int64
}

func startScripted(t *testing.T, s *scripted) *scripted {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /chat", func(w http.ResponseWriter, r *http.Request) {
		s.gets.Add(1)
		if s.get == nil {
			w.Write([]byte(`{"messages":[]}`))
			return
		}
		s.get(w, r)
	})
	mux.HandleFunc("PUT /chat", func(w http.ResponseWriter, r *http.Request) {
		s.puts.Add(1)
		s.put(w, r)
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		n := int(s.conn.Add(1))
		if s.ws == nil {
			http.Error(w, `{"error":{"code":"forbidden","message":"no"}}`, http.StatusForbidden)
			return
		}
		s.ws(n, nil, r) // a chance to refuse before the upgrade
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		s.ws(n, conn, r)
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Server.Close)
	return s
}

func (s *scripted) config() Config {
	api, wsURL := LocalURLs(s.URL)
	return Config{APIURL: api, WebSocketURL: wsURL, Room: "r", UserID: "u",
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, sendConfirm: 300 * time.Millisecond}
}

// storePut answers a PUT with its message stored.
func storePut(w http.ResponseWriter, r *http.Request) {
	var in protocol.PutRequest
	json.NewDecoder(r.Body).Decode(&in)
	json.NewEncoder(w).Encode(protocol.PutResponse{Message: &chatapp.Message{ID: ulid.Make().String(), RoomID: "r", Text: in.Text, UserID: "u"}})
}

// readFrames reads conn until it ends, calling f with each frame.
func readFrames(conn *websocket.Conn, f func([]byte)) {
	for {
		_, data, err := conn.Read(context.Background())
		if err != nil {
			return
		}
		f(data)
	}
}

// TestHostileUnavailableErrorFrameGoesByPut: a socket send answered by an
// error frame that says the server failed (unavailable: DynamoDB's "too
// many ...: retry shortly"; internal: the gateway's answer to a failed
// integration) goes by PUT under its key, as the same failure on PUT (503,
// 500) is retried: the message may or may not be stored, and the key
// makes it stored once. (It was dropped as a refusal.)
func TestHostileUnavailableErrorFrameGoesByPut(t *testing.T) {
	for _, code := range []string{chatapp.EUNAVAILABLE, chatapp.EINTERNAL} {
		t.Run(code, func(t *testing.T) {
			b := startBlackHole(t, func(protocol.SendMessageFrame) []byte {
				return []byte(`{"error":{"code":"` + code + `","message":"retry shortly"}}`)
			})
			ctx, _ := b.dialAndSend(t, "hello", time.Minute) // only the error frame can send it by PUT in time
			deadline := time.After(30 * time.Second)         // a bound on a hang
			for n := 0; n < 2; {
				select {
				case <-b.got:
					n++
				case <-deadline:
					b.mu.Lock()
					defer b.mu.Unlock()
					t.Fatalf("%d frames and %d PUTs: a socket send answered %q is not sent again by PUT (lost if it was not stored)", len(b.frames), len(b.puts), code)
				case <-ctx.Done():
					t.Fatal("timeout")
				}
			}
		})
	}
}

// TestHostileErrorFrameFloodSettlesOnlyWaitingSends: 500
// rate_limited error frames while three sends wait send each of the three
// by PUT once: no storm.
func TestHostileErrorFrameFloodSettlesOnlyWaitingSends(t *testing.T) {
	const sends = 3
	got := make(chan struct{}, 16)
	s := startScripted(t, &scripted{put: storePut})
	s.ws = func(n int, conn *websocket.Conn, r *http.Request) {
		if conn == nil {
			return
		}
		frames := 0
		readFrames(conn, func(data []byte) {
			if !strings.Contains(string(data), "sendmessage") {
				return
			}
			if frames++; frames == sends {
				for range 500 {
					conn.Write(r.Context(), websocket.MessageText, []byte(`{"error":{"code":"rate_limited","message":"x"}}`))
				}
				got <- struct{}{}
			}
		})
	}
	cfg := s.config()
	cfg.sendConfirm = time.Minute
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		for range c.Events() {
		}
	}()
	for i := range sends {
		if err := c.SendWS(context.Background(), fmt.Sprint("m", i)); err != nil {
			t.Fatal(err)
		}
	}
	<-got
	time.Sleep(time.Second)
	if n := s.puts.Load(); n != sends {
		t.Fatalf("%d PUTs after 500 rate_limited frames for %d waiting sends, want %d", n, sends, sends)
	}
}

// TestHostileLatePushBelowFirstPage: on AWS two sends can commit out of id
// order (docs/protocol.md, "Why an overlap"). A message whose id is older
// than the first page's newest, committed after the client read that page,
// is pushed on its socket, and is in no page it read: it is delivered, as
// the spec drops only ids "seen" has. (The Go client dropped every id at or
// below the first page's newest.)
func TestHostileLatePushBelowFirstPage(t *testing.T) {
	now := time.Now()
	older := ulid.MustNew(ulid.Timestamp(now.Add(-2*time.Second)), ulid.DefaultEntropy()).String()
	newer := ulid.MustNew(ulid.Timestamp(now.Add(-time.Second)), ulid.DefaultEntropy()).String()
	pageRead := make(chan struct{})
	var once sync.Once
	s := startScripted(t, &scripted{put: storePut})
	s.get = func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(protocol.HistoryResponse{Messages: []*chatapp.Message{{ID: newer, RoomID: "r", UserID: "bob", Text: "newer"}}})
		once.Do(func() { close(pageRead) })
	}
	s.ws = func(n int, conn *websocket.Conn, r *http.Request) {
		if conn == nil {
			return
		}
		<-pageRead
		time.Sleep(200 * time.Millisecond) // committed after the page was read
		push, _ := json.Marshal(chatapp.Message{ID: older, RoomID: "r", UserID: "carol", Text: "late"})
		conn.Write(r.Context(), websocket.MessageText, push)
		readFrames(conn, func([]byte) {})
	}
	cfg := s.config()
	cfg.Backlog = 10
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	timeout := time.After(30 * time.Second) // a bound on a hang
	var texts []string
	for {
		select {
		case ev := <-c.Events():
			if ev.Kind == KindMessage {
				texts = append(texts, ev.Message.Text)
				if ev.Message.Text == "late" {
					return
				}
			}
		case <-timeout:
			t.Fatalf("delivered %q: the late message, pushed after the first page, never delivered", texts)
		}
	}
}

// TestHostileEndlessCatchUp: a server whose after= pages say has_more
// forever, each moving on, does not keep the catch-up reading (and holding
// every page) without end: it stops at catchUpMaxPages, delivers, and goes
// on live.
func TestHostileEndlessCatchUp(t *testing.T) {
	var next atomic.Uint64
	next.Store(uint64(time.Now().UnixMilli()))
	s := startScripted(t, &scripted{put: storePut})
	s.get = func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("after") == "" {
			w.Write([]byte(`{"messages":[]}`))
			return
		}
		var page protocol.HistoryResponse
		for range 10 {
			page.Messages = append(page.Messages, &chatapp.Message{ID: ulid.MustNew(next.Add(1), ulid.DefaultEntropy()).String(), RoomID: "r", UserID: "bob", Text: "x"})
		}
		page.HasMore = true
		json.NewEncoder(w).Encode(page)
	}
	s.ws = func(n int, conn *websocket.Conn, r *http.Request) {
		if conn == nil {
			return
		}
		if n == 1 {
			return // the first socket drops at once: the client catches up
		}
		readFrames(conn, func([]byte) {})
	}
	c, err := Dial(context.Background(), s.config())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A bound on a hang, not a timing: 100 pages take well under a second.
	deadline := time.After(time.Minute)
	messages := 0
	for {
		select {
		case ev := <-c.Events():
			if ev.Kind == KindMessage {
				messages++
			}
			if ev.Kind == KindError && errors.Is(ev.Err, ErrCatchUpTruncated) {
				if got, want := s.gets.Load(), int64(1+catchUpMaxPages); got != want || messages != 10*catchUpMaxPages {
					t.Errorf("cut short after %d GETs and %d messages delivered, want %d GETs (the first page and %d catch-up pages) and %d messages", got, messages, want, catchUpMaxPages, 10*catchUpMaxPages)
				}
				return
			}
		case <-deadline:
			t.Fatalf("after a minute, %d history pages read and no ErrCatchUpTruncated: the catch-up never ends", s.gets.Load())
		}
	}
}

// TestHostileRefusedReconnectLosesPendingSend: a socket send whose socket
// drops goes by PUT; a reconnection then refused for good (KindClosed)
// waits for that PUT under way, which stores the message (or reports that
// it did not), before the client stops. (It canceled the PUT silently.)
func TestHostileRefusedReconnectLosesPendingSend(t *testing.T) {
	putStarted := make(chan struct{})
	var once sync.Once
	s := startScripted(t, &scripted{})
	var stored atomic.Bool
	s.put = func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(putStarted) })
		select { // a slow store
		case <-time.After(time.Second):
			storePut(w, r)
			stored.Store(true)
		case <-r.Context().Done():
		}
	}
	var sent atomic.Bool
	s.ws = func(n int, conn *websocket.Conn, r *http.Request) {
		if conn == nil {
			return
		}
		readFrames(conn, func(data []byte) {
			if strings.Contains(string(data), "sendmessage") && !sent.Swap(true) {
				conn.CloseNow() // the frame is lost with its socket
			}
		})
	}
	// Connections after the first are refused with 403.
	inner := s.Server.Config.Handler
	s.Server.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ws" && s.conn.Load() >= 1 {
			s.conn.Add(1)
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"error":{"code":"forbidden","message":"token no longer allows the room"}}`))
			return
		}
		inner.ServeHTTP(w, r)
	})
	cfg := s.config()
	cfg.MinBackoff, cfg.MaxBackoff = 200*time.Millisecond, 200*time.Millisecond
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendWS(context.Background(), "hello"); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	reported := false
	for ev := range c.Events() {
		kinds = append(kinds, ev.Kind.String())
		if ev.Kind == KindError {
			reported = true
		}
	}
	if !reported && !stored.Load() {
		t.Fatalf("events %v: the send's PUT was under way when the client closed itself, and no event says it was not stored", kinds)
	}
	if !stored.Load() || s.puts.Load() != 1 {
		t.Errorf("stored %v after %d PUTs: want the PUT under way finished, once", stored.Load(), s.puts.Load())
	}
}

// TestHostileCloseLeavesNothingRunning: A client closed while a
// socket send waits, a PUT hangs and a catch-up is under way ends every
// goroutine and timer of its own.
func TestHostileCloseLeavesNothingRunning(t *testing.T) {
	before := runtime.NumGoroutine()
	release := make(chan struct{})
	s := startScripted(t, &scripted{})
	s.put = func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
	s.get = func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("after") != "" {
			select { // a catch-up that hangs
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.Write([]byte(`{"messages":[]}`))
	}
	s.ws = func(n int, conn *websocket.Conn, r *http.Request) {
		if conn == nil {
			return
		}
		readFrames(conn, func(data []byte) {
			if strings.Contains(string(data), "sendmessage") {
				conn.CloseNow()
			}
		})
	}
	for range 5 {
		c, err := Dial(context.Background(), s.config())
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for range c.Events() {
			}
		}()
		c.SendWS(context.Background(), "a")
		c.SendWS(context.Background(), "b")
		time.Sleep(300 * time.Millisecond)
		c.Close()
	}
	close(release)
	s.Server.CloseClientConnections()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines after Close, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

// TestHostileDuplicatedPushesBackwardPages: Pushes duplicated and out
// of order, a catch-up whose pages go backwards and repeat, and a socket
// that closes while the catch-up is read: every message is delivered once,
// the catch-up ends, and the client connects again.
func TestHostileDuplicatedPushesBackwardPages(t *testing.T) {
	base := time.Now().Add(-time.Minute)
	ids := make([]string, 6)
	msgs := make([]*chatapp.Message, 6)
	for i := range ids {
		ids[i] = ulid.MustNew(ulid.Timestamp(base.Add(time.Duration(i)*time.Second)), ulid.DefaultEntropy()).String()
		msgs[i] = &chatapp.Message{ID: ids[i], RoomID: "r", UserID: "bob", Text: fmt.Sprint("m", i)}
	}
	push := func(conn *websocket.Conn, r *http.Request, ms ...*chatapp.Message) {
		for _, m := range ms {
			b, _ := json.Marshal(m)
			conn.Write(r.Context(), websocket.MessageText, b)
		}
	}
	var afters atomic.Int64
	s := startScripted(t, &scripted{put: storePut})
	s.get = func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("after") == "" {
			w.Write([]byte(`{"messages":[]}`))
			return
		}
		// Pages: [m2 m3 m4] has_more, then [m0 m1] has_more (backwards).
		var page protocol.HistoryResponse
		if afters.Add(1)%2 == 1 {
			page = protocol.HistoryResponse{Messages: msgs[2:5], HasMore: true}
		} else {
			page = protocol.HistoryResponse{Messages: msgs[0:2], HasMore: true}
		}
		json.NewEncoder(w).Encode(page)
	}
	s.ws = func(n int, conn *websocket.Conn, r *http.Request) {
		if conn == nil {
			return
		}
		switch n {
		case 1:
			push(conn, r, msgs[1], msgs[0], msgs[1], msgs[2], msgs[0])
			time.Sleep(200 * time.Millisecond)
			return // drop: the client catches up
		case 2:
			push(conn, r, msgs[4], msgs[3])
			return // closes while (or right after) the catch-up is read
		}
		push(conn, r, msgs[5], msgs[5], msgs[2])
		readFrames(conn, func([]byte) {})
	}
	c, err := Dial(context.Background(), s.config())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	counts := map[string]int{}
	timeout := time.After(30 * time.Second) // a bound on a hang
	for counts[ids[5]] == 0 {
		select {
		case ev := <-c.Events():
			if ev.Kind == KindMessage {
				counts[ev.Message.ID]++
			}
		case <-timeout:
			t.Fatalf("m5 not delivered: %v", counts)
		}
	}
	time.Sleep(300 * time.Millisecond)
	for len(c.Events()) > 0 {
		if ev := <-c.Events(); ev.Kind == KindMessage {
			counts[ev.Message.ID]++
		}
	}
	for i, id := range ids {
		if counts[id] != 1 {
			t.Errorf("m%d delivered %d times", i, counts[id])
		}
	}
}

// TestHostileSendsSurviveDrops: Socket sends racing a server that
// loses frames, loses pushes and drops sockets: every send SendWS took
// (returned nil) is stored, by its frame or by a PUT under its key, and
// Close afterwards leaves no race (run with -race).
func TestHostileSendsSurviveDrops(t *testing.T) {
	var mu sync.Mutex
	stored := map[string]bool{}
	store := func(text string) {
		mu.Lock()
		stored[text] = true
		mu.Unlock()
	}
	s := startScripted(t, &scripted{})
	s.put = func(w http.ResponseWriter, r *http.Request) {
		var in protocol.PutRequest
		json.NewDecoder(r.Body).Decode(&in)
		store(in.Text)
		json.NewEncoder(w).Encode(protocol.PutResponse{Message: &chatapp.Message{ID: ulid.Make().String(), RoomID: "r", Text: in.Text, UserID: "u"}})
	}
	var frames atomic.Int64
	s.ws = func(n int, conn *websocket.Conn, r *http.Request) {
		if conn == nil {
			return
		}
		for {
			_, data, err := conn.Read(r.Context())
			if err != nil {
				return
			}
			var f protocol.SendMessageFrame
			if json.Unmarshal(data, &f) != nil || f.Action != protocol.ActionSendMessage {
				continue
			}
			switch frames.Add(1) % 7 {
			case 0: // the frame is lost with its socket
				return
			case 3: // stored, its push lost with its socket
				store(f.Text)
				return
			case 5: // stored, its push lost on a live socket
				store(f.Text)
			default:
				store(f.Text)
				b, _ := json.Marshal(chatapp.Message{ID: ulid.Make().String(), RoomID: "r", Text: f.Text, UserID: "u"})
				conn.Write(r.Context(), websocket.MessageText, b)
			}
		}
	}
	c, err := Dial(context.Background(), s.config())
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range c.Events() {
		}
	}()
	var taken sync.Map
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				text := fmt.Sprintf("g%d-%d", g, i)
				if c.SendWS(context.Background(), text) == nil {
					taken.Store(text, true)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	// Every send taken is stored in time (its frame, or its PUT after
	// sendConfirm); a minute bounds a hang, not the test's speed.
	allStored := func() bool {
		mu.Lock()
		defer mu.Unlock()
		all := true
		taken.Range(func(k, _ any) bool {
			all = stored[k.(string)]
			return all
		})
		return all
	}
	for deadline := time.Now().Add(time.Minute); !allStored() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	c.Close()
	n, lost := 0, 0
	taken.Range(func(k, _ any) bool {
		n++
		mu.Lock()
		defer mu.Unlock()
		if !stored[k.(string)] {
			lost++
			t.Errorf("%s: SendWS returned nil, never stored", k)
		}
		return true
	})
	t.Logf("%d sends taken, %d lost, %d frames, %d PUTs", n, lost, frames.Load(), s.puts.Load())
}
