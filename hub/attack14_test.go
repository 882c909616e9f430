// Attacks on the direct writes of a broadcast (directwrite.go): what a
// real socket does to them that a pipe does not.

package hub

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/internal/wstest"
)

// TestDirectWriteAfterTheWriterGoroutineWentQuiet: a connection whose
// writer goroutine wrote once (an echo here; a pong or a Post does the
// same) and then went quiet longer than writeTimeout still gets the
// room's next broadcast. The goroutine leaves its write deadline on the
// socket, and a direct write (syscall.RawConn.Write) checks it first.
func TestDirectWriteAfterTheWriterGoroutineWentQuiet(t *testing.T) {
	th := startHub(t, Limits{IdleTimeout: time.Hour, MaxDuration: time.Hour, MaxFrameBytes: 1 << 10, MaxMessageBytes: 1 << 10, MessageTimeout: time.Minute})
	const timeout = 100 * time.Millisecond
	th.h.mu.Lock()
	th.h.writeTimeout = timeout // before the client opens
	th.h.mu.Unlock()
	conn, c := th.dial(t)
	th.h.Joined(&chatapp.Connection{ID: c.id, RoomID: "r"})
	echo(t, conn, "hello") // the writer goroutine writes, under writeTimeout
	time.Sleep(2 * timeout)
	if _, err := th.h.Broadcast(context.Background(), "r", chatapp.Push{Kind: chatapp.PushMessage, Data: []byte("m")}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, got, err := conn.Read(ctx); err != nil || string(got) != "m" {
		t.Fatalf("read %q, %v (closed with %+v); want the broadcast", got, err, c.writer.disconnect())
	}
}

// dialSlow opens a raw WebSocket to th with a small receive buffer, so
// that the server's socket fills after a few frames, and returns it with
// the hub's client.
func dialSlow(t *testing.T, th *testHub) (net.Conn, *bufio.Reader, *Client) {
	t.Helper()
	d := net.Dialer{Timeout: waitTimeout, Control: func(_, _ string, rc syscall.RawConn) error {
		var err error
		rc.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return err
	}}
	addr := strings.TrimPrefix(th.url, "ws://")
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", addr)
	in := bufio.NewReader(conn)
	resp, err := http.ReadResponse(in, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	select {
	case c := <-th.opened:
		return conn, in, c
	case <-time.After(waitTimeout):
		t.Fatal("the hub opened no client")
		return nil, nil, nil
	}
}

// idle waits a little for w to have no writer; it reports false if one
// still writes (a goroutine blocked on a full socket).
func idle(w *writer) bool {
	for deadline := time.Now().Add(100 * time.Millisecond); time.Now().Before(deadline); runtime.Gosched() {
		w.mu.Lock()
		writing := w.writing
		w.mu.Unlock()
		if !writing {
			return true
		}
	}
	return false
}

// TestSlowReaderSeesWholeFramesInOrder: a client that does not read while
// a room's broadcasts fill its socket, and pings meanwhile, then reads,
// sees every broadcast whole and in order, and pongs only between frames.
// With closeAtEnd the server closes it after the broadcasts: the close
// frame follows whole frames.
func TestSlowReaderSeesWholeFramesInOrder(t *testing.T) {
	for _, closeAtEnd := range []bool{false, true} {
		t.Run(fmt.Sprint("close=", closeAtEnd), func(t *testing.T) {
			th := startHub(t, Limits{IdleTimeout: time.Hour, MaxDuration: time.Hour, MaxFrameBytes: 1 << 10, MaxMessageBytes: 1 << 10, MessageTimeout: time.Minute})
			conn, in, c := dialSlow(t, th)
			th.h.Joined(&chatapp.Connection{ID: c.id, RoomID: "r"})
			const n = 300
			pad := strings.Repeat("p", 20000) // 6 MB in all: past what the loopback socket buffers
			for i := range n {
				if _, err := th.h.Broadcast(context.Background(), "r", chatapp.Push{Kind: chatapp.PushMessage, Data: fmt.Appendf(nil, "%04d%s", i, pad)}); err != nil {
					t.Fatal(err)
				}
				if i >= n/2 && i%7 == 0 { // after the socket filled: pongs behind a direct write's leftover
					conn.SetWriteDeadline(time.Now().Add(waitTimeout))
					if _, err := conn.Write(wstest.ClientFrame(true, ws.OpPing, 2, false, []byte("pi"))); err != nil {
						t.Fatal(err)
					}
				}
				if i < n/2 {
					idle(c.writer) // each broadcast its own direct write, until the socket is full
				}
			}
			if closeAtEnd {
				c.Close(DisconnectNormal)
			}
			conn.SetReadDeadline(time.Now().Add(waitTimeout))
			next := 0
			for next < n {
				f, err := ws.ReadFrame(in)
				if err != nil {
					t.Fatalf("after frame %d: %v (closed with %+v)", next, err, c.writer.disconnect())
				}
				switch f.Header.OpCode {
				case ws.OpPong:
					if string(f.Payload) != "pi" {
						t.Fatalf("after frame %d: pong %q", next, f.Payload)
					}
				case ws.OpText:
					want := fmt.Sprintf("%04d%s", next, pad)
					if string(f.Payload) != want {
						t.Fatalf("frame %d: %.10q..., len %d", next, f.Payload, len(f.Payload))
					}
					next++
				case ws.OpClose:
					if !closeAtEnd {
						t.Fatalf("closed after %d frames: %q", next, f.Payload)
					}
					return
				default:
					t.Fatalf("after frame %d: opcode %v", next, f.Header.OpCode)
				}
			}
		})
	}
}

// TestPresenceIndexUnderRaces: members that join, move, change their
// presence and leave while presence and message batches go to their rooms
// leave the presence index holding exactly the members of each room that
// asked for presence.
func TestPresenceIndexUnderRaces(t *testing.T) {
	h := New(nil)
	const members = 8
	for i := range members {
		c := h.Open(fmt.Sprint("m", i), Peer{})
		c.Accept() // never attached: its frames stay queued
		t.Cleanup(func() { c.Close(DisconnectNormal); c.Forget() })
	}
	rooms := []string{"a", "b", "c"}
	var wg sync.WaitGroup
	for i := range members {
		wg.Go(func() {
			id := fmt.Sprint("m", i)
			for j := range 200 {
				switch j % 5 {
				case 4:
					h.Left(id)
				default:
					h.Joined(&chatapp.Connection{ID: id, RoomID: rooms[(i+j)%len(rooms)], Presence: (i+j)%2 == 0})
				}
			}
		})
	}
	for _, room := range rooms {
		wg.Go(func() {
			for j := range 100 {
				kind := chatapp.PushPresence
				if j%3 == 0 {
					kind = chatapp.PushMessage
				}
				if _, err := h.BroadcastBatch(context.Background(), room, []chatapp.Push{{Kind: kind, Data: []byte("x")}}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	h.mu.RLock()
	defer h.mu.RUnlock()
	for room, set := range h.watching {
		for c := range set {
			if _, in := h.rooms[room][c]; !in || !c.member.Presence || c.member.RoomID != room {
				t.Errorf("room %s's presence index holds %s, which is not a presence member there", room, c.id)
			}
		}
	}
	for room, set := range h.rooms {
		for c := range set {
			if _, in := h.watching[room][c]; c.member.Presence && !in {
				t.Errorf("room %s's presence index misses %s", room, c.id)
			}
		}
	}
}

// TestShutdownWhileFlushersWrite: clients that read nothing, some
// dropping their sockets, while a room's broadcasts fill them, then the
// hub's Shutdown: Shutdown returns, and no flusher or writer goroutine
// is left.
func TestShutdownWhileFlushersWrite(t *testing.T) {
	th := startHub(t, Limits{IdleTimeout: time.Hour, MaxDuration: time.Hour, MaxFrameBytes: 1 << 10, MaxMessageBytes: 1 << 10, MessageTimeout: time.Minute})
	go func() { // testHub's Closed waits for its reader
		for range th.closed {
		}
	}()
	var conns []net.Conn
	for range 70 { // past 64: more than one flusher
		conn, _, c := dialSlow(t, th)
		th.h.Joined(&chatapp.Connection{ID: c.id, RoomID: "r"})
		conns = append(conns, conn)
	}
	pad := strings.Repeat("p", 8000)
	for i := range 60 {
		if _, err := th.h.Broadcast(context.Background(), "r", chatapp.Push{Kind: chatapp.PushMessage, Data: []byte(pad)}); err != nil {
			t.Fatal(err)
		}
		if i < len(conns)/2 {
			conns[i*2].Close()
		}
	}
	done := make(chan struct{})
	go func() { th.h.Shutdown(); close(done) }()
	for _, conn := range conns {
		conn.Close() // the rest read nothing: their close handshake times out otherwise
	}
	select {
	case <-done:
	case <-time.After(waitTimeout):
		buf := make([]byte, 1<<20)
		t.Fatalf("Shutdown still waits:\n%s", buf[:runtime.Stack(buf, true)])
	}
	for deadline := time.Now().Add(waitTimeout); ; time.Sleep(10 * time.Millisecond) {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(stacks, "hub.flushEach") && !strings.Contains(stacks, "(*writer).loop") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("writer goroutines left after Shutdown:\n%s", stacks)
		}
	}
}
