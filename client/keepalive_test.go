package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/chatapp-dev/chatapp"
)

// keepaliveServer is a chat server reduced to what the keepalive needs:
// an empty history and WebSockets that never answer a WebSocket ping (AWS
// does not document that API Gateway does) and answer the keepalive
// message only when told to.
type keepaliveServer struct {
	*httptest.Server
	answer      bool
	connections atomic.Int64 // WebSockets opened
	keepalives  atomic.Int64 // keepalive messages received
	pings       atomic.Int64 // WebSocket pings received (never answered)
	wg          sync.WaitGroup
}

func startKeepaliveServer(t *testing.T, answer bool) *keepaliveServer {
	ks := &keepaliveServer{answer: answer}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /chat", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"messages":[]}`))
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		conn, _, _, err := ws.UpgradeHTTP(r, w)
		if err != nil {
			return
		}
		ks.connections.Add(1)
		ks.wg.Add(1)
		go func() {
			defer ks.wg.Done()
			defer conn.Close()
			for {
				f, err := ws.ReadFrame(conn)
				if err != nil {
					return
				}
				if f.Header.Masked {
					ws.Cipher(f.Payload, f.Header.Mask, 0)
				}
				switch {
				case f.Header.OpCode == ws.OpPing:
					ks.pings.Add(1)
				case f.Header.OpCode == ws.OpClose:
					ws.WriteFrame(conn, ws.NewCloseFrame(f.Payload))
					return
				case string(f.Payload) == string(pingFrame):
					ks.keepalives.Add(1)
					if ks.answer {
						ws.WriteFrame(conn, ws.NewTextFrame([]byte(chatapp.PongFrame)))
					}
				}
			}
		}()
	})
	ks.Server = httptest.NewServer(mux)
	t.Cleanup(func() {
		ks.Server.CloseClientConnections()
		ks.Server.Close()
		ks.wg.Wait()
	})
	return ks
}

// dial connects a client that sends its keepalive every keepAlive and
// waits pongTimeout for each answer (0: as the client does by default).
func (ks *keepaliveServer) dial(t *testing.T, keepAlive, pongTimeout time.Duration) *Client {
	t.Helper()
	api, wsURL := LocalURLs(ks.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, Config{APIURL: api, WebSocketURL: wsURL, Room: "r", UserID: "u",
		KeepAlive: keepAlive, pongTimeout: pongTimeout, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestKeepAliveNeedsNoPong: against a server that never answers WebSocket
// pings, the client keeps its connection with the keepalive message, and
// sends no WebSocket ping at all. Each answer may take 10 s, far more than
// the interval: a loaded machine that delays one does not end the
// connection here.
func TestKeepAliveNeedsNoPong(t *testing.T) {
	const keepAlive = 300 * time.Millisecond
	ks := startKeepaliveServer(t, true)
	c := ks.dial(t, keepAlive, 10*time.Second)
	deadline := time.After(8 * keepAlive)
	for done := false; !done; {
		select {
		case ev := <-c.Events():
			if ev.Kind != KindConnected {
				t.Fatalf("event %v, want none past Connected", ev)
			}
		case <-deadline:
			done = true
		}
	}
	if n := ks.keepalives.Load(); n < 3 {
		t.Errorf("the server got %d keepalive messages in %v, want at least 3 (one every %v)", n, 8*keepAlive, keepAlive)
	}
	if n := ks.pings.Load(); n != 0 {
		t.Errorf("the client sent %d WebSocket pings, want none", n)
	}
	if n := ks.connections.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// TestKeepAliveUnansweredReconnects: a connection whose keepalive goes
// unanswered is dead to the client: it reconnects, and says why.
func TestKeepAliveUnansweredReconnects(t *testing.T) {
	const keepAlive = 200 * time.Millisecond
	ks := startKeepaliveServer(t, false)
	c := ks.dial(t, keepAlive, 0)
	deadline := time.After(10 * time.Second)
	reconnecting := false
	for {
		select {
		case ev := <-c.Events():
			switch {
			case ev.Kind == KindConnected && reconnecting:
				return // connected again
			case ev.Kind != KindReconnecting || reconnecting:
				continue
			}
			reconnecting = true
			if !errors.Is(ev.Err, errUnanswered) {
				t.Fatalf("reconnecting because %v, want %v", ev.Err, errUnanswered)
			}
			// The new connection's keepalive may be counted before this
			// event is read: at least the one left unanswered.
			if n := ks.keepalives.Load(); n < 1 {
				t.Errorf("%d keepalive messages before the reconnect, want at least 1", n)
			}
		case <-deadline:
			t.Fatalf("after 10 s (a keepalive every %v, %d sent): reconnecting %v, and not connected again", keepAlive, ks.keepalives.Load(), reconnecting)
		}
	}
}

// TestIsPong: the keepalive's answer is chatapp.PongFrame, byte for byte,
// as the gateway's mock route and API Gateway's route response send it;
// other frames, an event with more fields included, are not.
func TestIsPong(t *testing.T) {
	for frame, want := range map[string]bool{
		chatapp.PongFrame:                   true,
		`{"type":"pong","room_id":"r"}`:     false,
		`{"type":"join","connection_id":1}`: false,
		`{"type":"ping"}`:                   false,
		``:                                  false,
	} {
		if got := isPong([]byte(frame)); got != want {
			t.Errorf("isPong(%q) = %v, want %v", frame, got, want)
		}
	}
}
