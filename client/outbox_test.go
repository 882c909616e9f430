package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/protocol"
)

// blackHole is a server whose WebSocket takes every frame and pushes
// nothing back, and whose PUT /chat stores: what a client meets when its
// socket send's frame, or its push, is lost while the socket stays up.
type blackHole struct {
	*httptest.Server
	mu     sync.Mutex
	frames []protocol.SendMessageFrame
	puts   []protocol.PutRequest
	got    chan struct{}
	// reply, when set, makes the frame answered to each sendmessage.
	reply func(protocol.SendMessageFrame) []byte
	// putsHeld, when set (under mu), holds each PUT's answer until it is
	// closed.
	putsHeld chan struct{}
}

func startBlackHole(t *testing.T, reply func(protocol.SendMessageFrame) []byte) *blackHole {
	b := &blackHole{got: make(chan struct{}, 16), reply: reply}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /chat", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"messages":[]}`))
	})
	mux.HandleFunc("PUT /chat", func(w http.ResponseWriter, r *http.Request) {
		var in protocol.PutRequest
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var held chan struct{}
		b.record(func() { b.puts, held = append(b.puts, in), b.putsHeld })
		if held != nil {
			<-held
		}
		json.NewEncoder(w).Encode(protocol.PutResponse{Message: &chatapp.Message{ID: "01KAZ3F4J7Q9V2C8N6M5T0R1WX", RoomID: "r", Text: in.Text, UserID: "u"}})
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		for {
			_, data, err := conn.Read(r.Context())
			if err != nil {
				return
			}
			var f protocol.SendMessageFrame
			if json.Unmarshal(data, &f) == nil && f.Action == protocol.ActionSendMessage {
				b.record(func() { b.frames = append(b.frames, f) })
				if b.reply != nil {
					conn.Write(r.Context(), websocket.MessageText, b.reply(f))
				}
			}
		}
	})
	b.Server = httptest.NewServer(mux)
	t.Cleanup(b.Server.Close)
	return b
}

// dial connects a client whose socket sends wait confirm for their push,
// at most most of them (0: maxWaitingSends). ctx ends with the test,
// within 10 s.
func (b *blackHole) dial(t *testing.T, confirm time.Duration, most int) (context.Context, *Client) {
	t.Helper()
	api, wsURL := LocalURLs(b.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	c, err := Dial(ctx, Config{APIURL: api, WebSocketURL: wsURL, Room: "r", UserID: "u", sendConfirm: confirm, maxWaitingSends: most})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return ctx, c
}

// dialAndSend dials (b.dial) and sends text on the client's socket.
func (b *blackHole) dialAndSend(t *testing.T, text string, confirm time.Duration) (context.Context, *Client) {
	t.Helper()
	ctx, c := b.dial(t, confirm, 0)
	if err := c.SendWS(ctx, text); err != nil {
		t.Fatal(err)
	}
	return ctx, c
}

func (b *blackHole) record(f func()) {
	b.mu.Lock()
	f()
	b.mu.Unlock()
	b.got <- struct{}{}
}

// TestUnconfirmedSocketSendGoesByPut: a socket send whose push does not
// come back within sendConfirm goes again by PUT under the key its frame
// carried, once.
func TestUnconfirmedSocketSendGoesByPut(t *testing.T) {
	checkSentAgain(t, startBlackHole(t, nil), 200*time.Millisecond)
}

// TestRateLimitedSocketSendGoesByPut: an error frame rate_limited while a
// socket send waits sends it by PUT under its key, as a 429 is retried.
func TestRateLimitedSocketSendGoesByPut(t *testing.T) {
	// Only the error frame can send it by PUT within the test's 10 s.
	checkSentAgain(t, startBlackHole(t, func(protocol.SendMessageFrame) []byte {
		return []byte(`{"error":{"code":"rate_limited","message":"too many messages: slow down"}}`)
	}), time.Minute)
}

// checkSentAgain: a socket send to b, waiting confirm for its push, goes
// once as a frame, then once by PUT under the frame's key.
func checkSentAgain(t *testing.T, b *blackHole, confirm time.Duration) {
	t.Helper()
	ctx, _ := b.dialAndSend(t, "hello", confirm)
	for range 2 {
		select {
		case <-b.got:
		case <-ctx.Done():
			t.Fatal("no frame and PUT within 10 s")
		}
	}
	time.Sleep(500 * time.Millisecond) // a second PUT would come by now
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.frames) != 1 || len(b.puts) != 1 {
		t.Fatalf("%d frames and %d PUTs, want one of each", len(b.frames), len(b.puts))
	}
	if f, p := b.frames[0], b.puts[0]; f.IdempotencyKey == "" || p.IdempotencyKey != f.IdempotencyKey || p.Text != "hello" {
		t.Errorf("frame %+v, PUT %+v: want the PUT under the frame's key", f, p)
	}
}

// TestConfirmedSocketSendStays: a socket send whose push comes back is
// done: it is not sent again.
func TestConfirmedSocketSendStays(t *testing.T) {
	checkNotSentAgain(t, KindMessage, func(f protocol.SendMessageFrame) []byte {
		push, _ := json.Marshal(chatapp.Message{ID: "01KAZ3F4J7Q9V2C8N6M5T0R1WX", RoomID: "r", Text: f.Text, UserID: "u"})
		return push
	})
}

// TestRefusedSocketSendStays: an error frame other than rate_limited
// while a socket send waits is its refusal: it is not sent again.
func TestRefusedSocketSendStays(t *testing.T) {
	checkNotSentAgain(t, KindError, func(protocol.SendMessageFrame) []byte {
		return []byte(`{"error":{"code":"invalid","message":"message is blank"}}`)
	})
}

// checkNotSentAgain: a socket send answered by reply, delivered as an
// event of kind, goes once as a frame and never by PUT.
func checkNotSentAgain(t *testing.T, kind Kind, reply func(protocol.SendMessageFrame) []byte) {
	t.Helper()
	b := startBlackHole(t, reply)
	// Long enough for its answer to come first however busy the machine.
	_, c := b.dialAndSend(t, "hello", 2*time.Second)
	for ev := range c.Events() {
		if ev.Kind == kind {
			break
		}
	}
	time.Sleep(2500 * time.Millisecond) // past sendConfirm
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.frames) != 1 || len(b.puts) != 0 {
		t.Fatalf("%d frames and %d PUTs, want one frame and no PUT", len(b.frames), len(b.puts))
	}
}

// TestSocketSendPastTheBoundGoesByPut: while the most socket sends wait
// for their push, one more goes by PUT at once, under a key of its own,
// and SendWS returns once it is stored; the others go on waiting.
func TestSocketSendPastTheBoundGoesByPut(t *testing.T) {
	b := startBlackHole(t, nil)
	const most = 3
	ctx, c := b.dial(t, time.Minute, most)
	for i := range most + 1 {
		if err := c.SendWS(ctx, fmt.Sprint("m", i)); err != nil {
			t.Fatal(err)
		}
	}
	for range most + 1 {
		select {
		case <-b.got:
		case <-ctx.Done():
			t.Fatal("no frames and PUT within 10 s")
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var texts []string
	for _, f := range b.frames {
		texts = append(texts, f.Text)
		if len(b.puts) > 0 && f.IdempotencyKey == b.puts[0].IdempotencyKey {
			t.Errorf("the PUT has the key of the frame %+v", f)
		}
	}
	if fmt.Sprint(texts) != "[m0 m1 m2]" || len(b.puts) != 1 || b.puts[0].Text != "m3" || b.puts[0].IdempotencyKey == "" {
		t.Fatalf("frames %v and PUTs %+v: want m0 to m2 as frames and m3 by PUT, under a key", texts, b.puts)
	}
	c.outbox.mu.Lock()
	defer c.outbox.mu.Unlock()
	if n := len(c.outbox.waiting); n != most {
		t.Errorf("%d socket sends wait, want %d", n, most)
	}
}

// TestSocketSendsGoingByPutCountTowardTheBound: socket sends that went
// again by PUT, and wait for its answer, still count: while they do, one
// more send goes by PUT at once, not on the socket.
func TestSocketSendsGoingByPutCountTowardTheBound(t *testing.T) {
	b := startBlackHole(t, nil)
	b.mu.Lock()
	b.putsHeld = make(chan struct{})
	b.mu.Unlock()
	const most = 2
	ctx, c := b.dial(t, time.Millisecond, most)
	for i := range most {
		if err := c.SendWS(ctx, fmt.Sprint("m", i)); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 * most { // their frames, then their PUTs, held
		select {
		case <-b.got:
		case <-ctx.Done():
			t.Fatal("no frames and PUTs within 10 s")
		}
	}
	sent := make(chan error, 1)
	go func() { sent <- c.SendWS(ctx, "past the bound") }()
	select {
	case <-b.got:
	case <-ctx.Done():
		t.Fatal("nothing more within 10 s")
	}
	b.mu.Lock()
	frames, last := len(b.frames), b.puts[len(b.puts)-1].Text
	close(b.putsHeld)
	b.mu.Unlock()
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if frames != most || last != "past the bound" {
		t.Fatalf("%d frames, and the last PUT %q: want %d frames, and the send past the bound by PUT", frames, last, most)
	}
}
