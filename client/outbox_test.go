package client

import (
	"context"
	"encoding/json"
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
		b.record(func() { b.puts = append(b.puts, in) })
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

// dialAndSend connects a client whose socket sends wait confirm for their
// push, and sends text on its socket. ctx ends with the test, within 10 s.
func (b *blackHole) dialAndSend(t *testing.T, text string, confirm time.Duration) (context.Context, *Client) {
	t.Helper()
	api, wsURL := LocalURLs(b.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	c, err := Dial(ctx, Config{APIURL: api, WebSocketURL: wsURL, Room: "r", UserID: "u", sendConfirm: confirm})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
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
