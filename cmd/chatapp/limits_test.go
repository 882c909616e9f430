package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"

	"github.com/chatapp-dev/chatapp"
)

// TestSendRateLimit: a user's sends beyond the burst get 429 with the JSON
// error and a Retry-After, over REST and over the socket together; nothing
// refused is stored or pushed, and other users are unaffected.
func TestSendRateLimit(t *testing.T) {
	s := startServer(t, ServeConfig{Limits: Limits{SendRate: 0.5, SendBurst: 3}})
	watcher := dial(t, s.URL, "watcher", originalQuery("watcher", "flood"))
	flooder := dial(t, s.URL, "flooder", originalQuery("flooder", "flood"))

	const tries = 8
	accepted := 0
	for i := range tries {
		body := fmt.Sprintf(`{"room_id":"flood","user_id":"flooder","text":"rest %d"}`, i)
		r := do(t, http.MethodPut, s.URL+"/chat", body, jsonHeader)
		switch r.Status {
		case http.StatusOK:
			accepted++
		case http.StatusTooManyRequests:
			if code := checkErrorBody(t, "PUT over the limit", r.Body); code != chatapp.ERATELIMIT {
				t.Errorf("PUT over the limit: code %s", code)
			}
			if secs, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || secs < 1 {
				t.Errorf("PUT over the limit: Retry-After %q", r.Header.Get("Retry-After"))
			}
		default:
			t.Fatalf("PUT %d: %d %s", i, r.Status, r.Body)
		}
	}
	if accepted != 3 {
		t.Errorf("%d of %d rapid sends accepted, want the burst of 3", accepted, tries)
	}
	// The socket shares the user's budget: spent, so an error frame.
	flooder.send(`{"action":"sendmessage","text":"over the socket"}`)
	for range accepted {
		flooder.nextMessage()
	}
	if code := flooder.nextError(); code != chatapp.ERATELIMIT {
		t.Errorf("sendmessage over the limit: %s", code)
	}
	// Another user still sends.
	putMessage(t, s.URL, "flood", "calm", "Calm", "my own budget")
	for i := range accepted {
		if m := watcher.nextMessage(); m.Text != fmt.Sprintf("rest %d", i) {
			t.Errorf("push %d: %q", i, m.Text)
		}
	}
	if m := watcher.nextMessage(); m.Text != "my own budget" {
		t.Errorf("the other user's push: %q", m.Text)
	}
	if h := getHistory(t, s.URL, "room_id=flood"); len(h.Messages) != accepted+1 {
		t.Errorf("%d messages stored, want %d", len(h.Messages), accepted+1)
	}
}

// TestFrameFlood: frames beyond a connection's rate get rate_limited error
// frames and are not routed; a client that keeps flooding is closed with
// 1008, and the room keeps working.
func TestFrameFlood(t *testing.T) {
	s := startServer(t, ServeConfig{Limits: Limits{FrameRate: 0.5, FrameBurst: 2}})
	other := dial(t, s.URL, "other", originalQuery("other", "frames"))
	c := dial(t, s.URL, "flooder", originalQuery("flooder", "frames"))
	c.send(`{"action":"sendmessage","text":"one"}`)
	c.send(`{"action":"sendmessage","text":"two"}`)
	c.send(`{"action":"sendmessage","text":"three"}`)
	for _, want := range []string{"one", "two"} {
		if m := c.nextMessage(); m.Text != want {
			t.Fatalf("push %q, want %q", m.Text, want)
		}
	}
	if code := c.nextError(); code != chatapp.ERATELIMIT {
		t.Fatalf("the third frame: %s, want %s", code, chatapp.ERATELIMIT)
	}
	// Keep flooding past the point of patience: closed, 1008.
	for range 150 {
		ctx, cancel := contextWithTimeout()
		err := c.conn.Write(ctx, websocket.MessageText, []byte(`{"action":"sendmessage","text":"spam"}`))
		cancel()
		if err != nil {
			break
		}
	}
	for {
		f := <-c.frames
		if f.err != nil {
			if got := websocket.CloseStatus(f.err); got != websocket.StatusPolicyViolation {
				t.Fatalf("the flooder's connection ended with %v, want 1008", f.err)
			}
			break
		}
		if code := checkErrorBody(t, "flood answer", f.data); code != chatapp.ERATELIMIT {
			t.Fatalf("a flood frame got %s", code)
		}
	}
	if h := getHistory(t, s.URL, "room_id=frames"); len(h.Messages) != 2 {
		t.Errorf("%d messages stored, want the 2 within the burst", len(h.Messages))
	}
	for _, want := range []string{"one", "two"} {
		if m := other.nextMessage(); m.Text != want {
			t.Errorf("other got %q, want %q", m.Text, want)
		}
	}
	putMessage(t, s.URL, "frames", "u", "U", "still working")
	if m := other.nextMessage(); m.Text != "still working" {
		t.Errorf("other got %q after the flood", m.Text)
	}
}

// TestConnectionsPerUser: a user's connection beyond the quota is refused at
// the handshake with 429; closing one makes room.
func TestConnectionsPerUser(t *testing.T) {
	s := startServer(t, ServeConfig{Limits: Limits{ConnectionsPerUser: 2}})
	first := dial(t, s.URL, "first", originalQuery("greedy", "r1"))
	dial(t, s.URL, "second", originalQuery("greedy", "r2"))
	_, resp, err := tryDial(t, s.URL, originalQuery("greedy", "r3"))
	if err == nil {
		t.Fatal("a third connection of the user was accepted")
	}
	if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third connection: %v, want a 429 answer", err)
	}
	dial(t, s.URL, "someone else", originalQuery("modest", "r1"))
	first.close()
	eventually(t, "the first connection to be gone", func() bool { return len(getUsers(t, s.URL, "r1")) == 1 })
	dial(t, s.URL, "third", originalQuery("greedy", "r3"))
}

// TestSlowConsumerDropped: a client that stops reading is disconnected once
// its bounded queue overflows, promptly, while the room goes on: every other
// member gets every message, in order.
func TestSlowConsumerDropped(t *testing.T) {
	s := startServer(t, ServeConfig{})
	fast := dial(t, s.URL, "fast", originalQuery("fast", "busy"))
	// stuck completes the handshake and never reads again.
	stuck, _, err := tryDial(t, s.URL, originalQuery("stuck", "busy"))
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.CloseNow()
	eventually(t, "both members joined", func() bool { return len(getUsers(t, s.URL, "busy")) == 2 })

	// Large frames, so that the stuck client's socket buffers and then its
	// queue (gateway.maxQueuedBytes, 8 MB) fill.
	text := strings.Repeat("x", chatapp.MaxMessageBytes-16)
	const n = 1200
	for i := range n {
		putMessage(t, s.URL, "busy", "sender", "S", fmt.Sprintf("%05d %s", i, text))
		if i%100 == 99 {
			for j := i - 99; j <= i; j++ {
				if m := fast.nextMessage(); !strings.HasPrefix(m.Text, fmt.Sprintf("%05d ", j)) {
					t.Fatalf("fast got %.10q, want message %d", m.Text, j)
				}
			}
		}
	}
	eventually(t, "the stuck client to be dropped", func() bool {
		users := getUsers(t, s.URL, "busy")
		return len(users) == 1 && users[0].UserID == "fast"
	})
	putMessage(t, s.URL, "busy", "sender", "S", "after the drop")
	if m := fast.nextMessage(); m.Text != "after the drop" {
		t.Errorf("fast got %.20q after the drop", m.Text)
	}
}

// TestSimultaneousHandshakesOfOneUser: 60 handshakes of one user at once
// against a cap of 5 open exactly 5 WebSockets, on every backend; the
// others get 429. Before, the cap was a count read from the hub before the
// row was written, so simultaneous handshakes all passed it, and on
// DynamoDB out of process there was no cap at all.
func TestSimultaneousHandshakesOfOneUser(t *testing.T) {
	forEachBackend(t, testSimultaneousHandshakes)
}

func testSimultaneousHandshakes(t *testing.T, cfg ServeConfig) {
	const n, max = 60, 5
	cfg.Limits = Limits{ConnectionsPerUser: max}
	s := startServer(t, cfg)
	start := make(chan struct{})
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		open     []*websocket.Conn
		refused  int
		failures []string
	)
	for i := range n {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 6*waitTimeout)
			defer cancel()
			<-start
			c, resp, err := websocket.Dial(ctx, wsURL(s.URL)+"/ws?"+originalQuery("many", fmt.Sprintf("room-%d", i%3)), nil)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				open = append(open, c)
			case resp != nil && resp.StatusCode == http.StatusTooManyRequests:
				refused++
			default:
				failures = append(failures, fmt.Sprint(err))
			}
		})
	}
	close(start)
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range open {
			c.CloseNow()
		}
	})
	if len(failures) > 0 {
		t.Errorf("%d handshakes failed otherwise than with 429: %q", len(failures), failures)
	}
	if len(open) != max || refused != n-max {
		t.Fatalf("%d of %d simultaneous handshakes opened, %d got 429; want exactly %d open", len(open), n, refused, max)
	}
	members := func() int {
		total := 0
		for r := range 3 {
			total += len(getUsers(t, s.URL, fmt.Sprintf("room-%d", r)))
		}
		return total
	}
	if got := members(); got != max {
		t.Fatalf("the rooms hold %d connections of the user, want %d", got, max)
	}
	// Closing one frees its slot, once its $disconnect has run.
	open[0].Close(websocket.StatusNormalClosure, "")
	eventually(t, "the closed connection to leave", func() bool { return members() == max-1 })
	c := dial(t, s.URL, "after a close", originalQuery("many", "room-0"))
	c.close()
}
