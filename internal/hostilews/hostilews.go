// Package hostilews is a chat server reduced to what a client's keepalive
// and reconnects meet, for the tests of the Go client (client/) and of the
// Unity client (cmd/chatapp), so that both meet the same server: an empty
// history at GET /chat, and WebSockets at /ws that never answer a
// WebSocket ping (AWS does not document that API Gateway does), answer
// each keepalive message, or misbehave, as Options say. Tests only.
package hostilews

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/chatapp-dev/chatapp/protocol"
)

// Keepalive is the keepalive message the server counts and answers,
// {"action":"ping"}.
const Keepalive = `{"action":"` + protocol.ActionPing + `"}`

// Options say how a Server behaves. The zero value answers nothing and
// keeps every WebSocket until the client closes it.
type Options struct {
	// Answer is the frame sent back for each keepalive message; none when
	// empty.
	Answer string
	// Delay comes before each answer.
	Delay time.Duration
	// Frames are sent once the WebSocket is open.
	Frames [][]byte
	// CloseAtOnce closes each WebSocket right after the handshake.
	CloseAtOnce bool
	// Lifetime, when set, closes each WebSocket with 1001 that long after
	// the client's catch-up (the first GET /chat after its handshake), so
	// that every connect completes however slow the machine is.
	Lifetime time.Duration
}

// Server is a running hostile server; its URL is the base of both APIs.
type Server struct {
	*httptest.Server
	Connections atomic.Int64 // WebSockets opened
	Keepalives  atomic.Int64 // keepalive messages received
	Pings       atomic.Int64 // WebSocket pings received (never answered)
	wg          sync.WaitGroup

	mu       sync.Mutex
	caughtUp []chan struct{} // closed by the next GET /chat: the lifetimes of the sockets opened since start
}

// Start starts a server that behaves as opts say, stopped (its WebSockets
// closed and their goroutines ended) when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /chat", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"messages":[]}`))
		s.mu.Lock()
		for _, c := range s.caughtUp {
			close(c)
		}
		s.caughtUp = nil
		s.mu.Unlock()
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		// Registered before the handshake answers, so that the catch-up
		// that follows it cannot come first.
		caughtUp := make(chan struct{})
		s.mu.Lock()
		s.caughtUp = append(s.caughtUp, caughtUp)
		s.mu.Unlock()
		conn, _, _, err := ws.UpgradeHTTP(r, w)
		if err != nil {
			return
		}
		s.Connections.Add(1)
		if opts.CloseAtOnce {
			conn.Close()
			return
		}
		s.wg.Add(1)
		go s.serve(conn, opts, caughtUp)
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(func() {
		s.Server.CloseClientConnections()
		s.Server.Close()
		s.wg.Wait()
	})
	return s
}

// serve reads one WebSocket's frames until it ends: a ping is counted and
// not answered, a close frame answered, a keepalive message counted and
// answered as opts say; anything else is dropped.
func (s *Server) serve(conn net.Conn, opts Options, caughtUp <-chan struct{}) {
	defer s.wg.Done()
	defer conn.Close()
	var mu sync.Mutex // one frame written at a time: the lifetime's close comes from its timer
	write := func(f ws.Frame) error {
		mu.Lock()
		defer mu.Unlock()
		return ws.WriteFrame(conn, f)
	}
	if opts.Lifetime > 0 {
		ended := make(chan struct{})
		defer close(ended)
		go func() {
			select {
			case <-caughtUp:
			case <-ended:
				return
			}
			select {
			case <-time.After(opts.Lifetime):
				write(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusGoingAway, "going away")))
				conn.Close()
			case <-ended:
			}
		}()
	}
	for _, f := range opts.Frames {
		if write(ws.NewTextFrame(f)) != nil {
			return
		}
	}
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
			s.Pings.Add(1)
		case f.Header.OpCode == ws.OpClose:
			write(ws.NewCloseFrame(f.Payload))
			return
		case string(f.Payload) == Keepalive:
			s.Keepalives.Add(1)
			if opts.Answer != "" {
				time.Sleep(opts.Delay)
				write(ws.NewTextFrame([]byte(opts.Answer)))
			}
		}
	}
}
