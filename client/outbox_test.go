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
	// echo pushes each sendmessage back, as the sender's own message.
	echo bool
}

func startBlackHole(t *testing.T, echo bool) *blackHole {
	b := &blackHole{got: make(chan struct{}, 16), echo: echo}
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
				if b.echo {
					push, _ := json.Marshal(chatapp.Message{ID: "01KAZ3F4J7Q9V2C8N6M5T0R1WX", RoomID: "r", Text: f.Text, UserID: "u"})
					conn.Write(r.Context(), websocket.MessageText, push)
				}
			}
		}
	})
	b.Server = httptest.NewServer(mux)
	t.Cleanup(b.Server.Close)
	return b
}

// dialAndSend connects a client whose socket sends wait 200 ms for their
// push, and sends text on its socket. ctx ends with the test, within 10 s.
func (b *blackHole) dialAndSend(t *testing.T, text string) (context.Context, *Client) {
	t.Helper()
	api, wsURL := LocalURLs(b.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	c, err := Dial(ctx, Config{APIURL: api, WebSocketURL: wsURL, Room: "r", UserID: "u", sendConfirm: 200 * time.Millisecond})
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
	b := startBlackHole(t, false)
	ctx, _ := b.dialAndSend(t, "hello")
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
	b := startBlackHole(t, true)
	_, c := b.dialAndSend(t, "hello")
	for ev := range c.Events() {
		if ev.Kind == KindMessage && ev.Message.Text == "hello" {
			break
		}
	}
	time.Sleep(time.Second) // five times sendConfirm
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.frames) != 1 || len(b.puts) != 0 {
		t.Fatalf("%d frames and %d PUTs, want one frame and no PUT", len(b.frames), len(b.puts))
	}
}
