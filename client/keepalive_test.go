package client

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp/internal/hostilews"
	"github.com/chatapp-dev/chatapp/protocol"
)

// keepaliveServer is the hostile server of the keepalive tests
// (internal/hostilews): an empty history and WebSockets that never answer
// a WebSocket ping, and that answer the keepalive message, or misbehave,
// as its options say.
type keepaliveServer struct{ *hostilews.Server }

func startKeepaliveServer(t *testing.T, opts hostilews.Options) keepaliveServer {
	return keepaliveServer{hostilews.Start(t, opts)}
}

// config is a client's Config for the server, whose keepalive interval
// and wait for an answer are keepAlive and pongTimeout (0: as the client
// sets them from KeepAlive, floors included).
func (ks keepaliveServer) config(keepAlive, pongTimeout time.Duration) Config {
	api, wsURL := LocalURLs(ks.URL)
	return Config{APIURL: api, WebSocketURL: wsURL, Room: "r", UserID: "u",
		keepAlive: keepAlive, pongTimeout: pongTimeout, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
}

// dial connects a client made with cfg.
func (ks keepaliveServer) dial(t *testing.T, cfg Config) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// stayConnected reads c's events for d and fails on any past Connected.
func stayConnected(t *testing.T, c *Client, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case ev := <-c.Events():
			if ev.Kind != KindConnected {
				t.Fatalf("event %v, want none past Connected", ev)
			}
		case <-deadline:
			return
		}
	}
}

// TestKeepAliveNeedsNoPong: against a server that never answers WebSocket
// pings, the client keeps its connection with the keepalive message, and
// sends no WebSocket ping at all. Each answer may take 10 s, far more than
// the interval: a loaded machine that delays one does not end the
// connection here.
func TestKeepAliveNeedsNoPong(t *testing.T) {
	const keepAlive = 300 * time.Millisecond
	ks := startKeepaliveServer(t, hostilews.Options{Answer: protocol.PongFrame})
	c := ks.dial(t, ks.config(keepAlive, 10*time.Second))
	stayConnected(t, c, 8*keepAlive)
	if n := ks.Keepalives.Load(); n < 3 {
		t.Errorf("the server got %d keepalive messages in %v, want at least 3 (one every %v)", n, 8*keepAlive, keepAlive)
	}
	if n := ks.Pings.Load(); n != 0 {
		t.Errorf("the client sent %d WebSocket pings, want none", n)
	}
	if n := ks.Connections.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// TestKeepAliveAnyFrameAnswers: a keepalive answered by another frame
// than the pong keeps the connection: on AWS a throttled ping gets an
// error frame (locally, the gateway's rate_limited one; AWS's own is of
// another shape), and a connection that delivers frames is alive. The
// wait for an answer is far shorter than the stay, so that the old
// client, which waited for the pong only, reconnected several times.
func TestKeepAliveAnyFrameAnswers(t *testing.T) {
	const keepAlive = 200 * time.Millisecond
	for name, answer := range map[string]string{
		"rate_limited": `{"error":{"code":"rate_limited","message":"too many frames: retry in 20ms"}}`,
		"other shape":  `{"message":"Too Many Requests","connectionId":"c","requestId":"r"}`,
		"not JSON":     `throttled`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // each mostly waits
			ks := startKeepaliveServer(t, hostilews.Options{Answer: answer})
			c := ks.dial(t, ks.config(keepAlive, time.Second))
			// A rate_limited frame is a KindError event: the connection
			// stays, which is what is checked here.
			deadline := time.After(3 * time.Second)
			for done := false; !done; {
				select {
				case ev := <-c.Events():
					if ev.Kind != KindConnected && ev.Kind != KindError {
						t.Fatalf("event %v, want none past Connected but errors", ev)
					}
				case <-deadline:
					done = true
				}
			}
			if n := ks.Keepalives.Load(); n < 3 {
				t.Errorf("the server got %d keepalive messages, want at least 3 (one every %v)", n, keepAlive)
			}
			if n := ks.Connections.Load(); n != 1 {
				t.Errorf("%d connections, want 1", n)
			}
		})
	}
}

// TestKeepAliveFloor: a tiny KeepAlive neither floods the server with
// keepalives nor makes a deadline shorter than the round-trip: the old
// client waited min(KeepAlive, 30 s) for the pong, 1 ms here, so every
// connection died before its answer came, over and over.
func TestKeepAliveFloor(t *testing.T) {
	const stay = 2500 * time.Millisecond
	ks := startKeepaliveServer(t, hostilews.Options{Answer: protocol.PongFrame, Delay: 50 * time.Millisecond})
	cfg := ks.config(0, 0)
	cfg.KeepAlive = time.Millisecond
	c := ks.dial(t, cfg)
	stayConnected(t, c, stay)
	// One a second at most: 2 in the stay, 3 allowed.
	if n := ks.Keepalives.Load(); n > 3 {
		t.Errorf("the server got %d keepalive messages in %v, want at most 3 (KeepAlive raised to %v)", n, stay, minKeepAlive)
	}
	if n := ks.Connections.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// TestKeepAliveUnansweredReconnects: a connection whose keepalive goes
// unanswered is dead to the client: it reconnects, and says why.
func TestKeepAliveUnansweredReconnects(t *testing.T) {
	const keepAlive = 200 * time.Millisecond
	ks := startKeepaliveServer(t, hostilews.Options{})
	c := ks.dial(t, ks.config(keepAlive, keepAlive))
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
			if !errors.Is(ev.Err, ErrKeepAliveUnanswered) {
				t.Fatalf("reconnecting because %v, want %v", ev.Err, ErrKeepAliveUnanswered)
			}
			// The new connection's keepalive may be counted before this
			// event is read: at least the one left unanswered.
			if n := ks.Keepalives.Load(); n < 1 {
				t.Errorf("%d keepalive messages before the reconnect, want at least 1", n)
			}
		case <-deadline:
			t.Fatalf("after 10 s (a keepalive every %v, %d sent): reconnecting %v, and not connected again", keepAlive, ks.Keepalives.Load(), reconnecting)
		}
	}
}

// TestIsPong: the keepalive's answer is protocol.PongFrame, byte for byte,
// as the gateway's mock route and API Gateway's route response send it;
// other frames, an event with more fields included, are not.
func TestIsPong(t *testing.T) {
	for frame, want := range map[string]bool{
		protocol.PongFrame:                  true,
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
