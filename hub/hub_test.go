package hub

import (
	"bytes"
	"context"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/gobwas/ws"

	"github.com/chatapp-dev/chatapp/internal/logtest"
)

// waitTimeout bounds each wait of these tests: a dial, a frame, a close.
const waitTimeout = 10 * time.Second

// testHub serves a hub on a loopback port as the gateway does, reduced to
// the hub's part: every handshake is upgraded, opened, accepted and served
// with limits; each message is echoed, and each end reported.
type testHub struct {
	h      *Hub
	url    string
	logs   *logtest.Buffer
	opened chan *Client
	closed chan Disconnect
}

func startHub(t *testing.T, limits Limits) *testHub {
	t.Helper()
	th := &testHub{logs: &logtest.Buffer{}, opened: make(chan *Client, 16), closed: make(chan Disconnect, 16)}
	th.h = New(slog.New(slog.NewTextHandler(th.logs, nil)))
	var ids sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ids.Lock()
		n++
		id := strings.Repeat("x", n)
		ids.Unlock()
		c := th.h.Open(id, Peer{SourceIP: "127.0.0.1"})
		if c == nil {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		c.Accept()
		conn, rw, _, err := ws.UpgradeHTTP(r, w)
		if err != nil {
			c.Close(DisconnectLost)
			c.Forget()
			return
		}
		early, _ := rw.Reader.Peek(rw.Reader.Buffered())
		th.opened <- c
		c.Start(conn, early, limits, th)
	}))
	t.Cleanup(func() {
		srv.Close()
		done := make(chan struct{})
		go func() { th.h.Shutdown(); close(done) }()
		select {
		case <-done:
		case <-time.After(waitTimeout):
			t.Errorf("Shutdown still waits after %v", waitTimeout)
		}
	})
	th.url = "ws" + strings.TrimPrefix(srv.URL, "http")
	return th
}

func (th *testHub) Message(c *Client, payload []byte) { c.Enqueue(bytes.Clone(payload)) }

func (th *testHub) Closed(_ *Client, d Disconnect) { th.closed <- d }

func (th *testHub) Refused(c *Client, answer []byte) { c.Enqueue(answer) }

// dial opens a connection and returns its client side and the hub's.
func (th *testHub) dial(t *testing.T) (*websocket.Conn, *Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, th.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	select {
	case c := <-th.opened:
		return conn, c
	case <-time.After(waitTimeout):
		t.Fatal("the hub opened no client")
		return nil, nil
	}
}

// echo sends text on conn and expects it back.
func echo(t *testing.T, conn *websocket.Conn, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := conn.Write(ctx, websocket.MessageText, []byte(text)); err != nil {
		t.Fatal(err)
	}
	if _, got, err := conn.Read(ctx); err != nil || string(got) != text {
		t.Fatalf("echo of %q: %q, %v", text, got, err)
	}
}

// expectClose reads conn until the server closes it, with want.
func expectClose(t *testing.T, conn *websocket.Conn, want websocket.StatusCode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for {
		_, _, err := conn.Read(ctx)
		if err == nil {
			continue
		}
		if got := websocket.CloseStatus(err); got != want {
			t.Fatalf("closed with %v (%v), want %v", got, err, want)
		}
		return
	}
}

// expectClosed waits for the hub to hand a connection's end over, with
// the code want.
func (th *testHub) expectClosed(t *testing.T, want ws.StatusCode) {
	t.Helper()
	select {
	case d := <-th.closed:
		if d.Code != want {
			t.Fatalf("Closed with %d %q, want %d", d.Code, d.Reason, want)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Closed was not called")
	}
}

// checkPanic fails unless one panic was counted at where, and logged at
// error level with a stack through fn.
func (th *testHub) checkPanic(t *testing.T, where, fn string) {
	t.Helper()
	if n := maps.Collect(th.h.Panics())[where]; n != 1 {
		t.Errorf("panics at %s: %d, want 1", where, n)
	}
	if !logtest.PanicLogged(th.logs.String(), where, fn) {
		t.Errorf("no error log of a panic at %s with a stack through %s:\n%s", where, fn, th.logs.String())
	}
}

// A panic in a connection's timer closes that connection with 1011, and
// its end is handed over; the others go on.
func TestPanicInTimerClosesTheSocket(t *testing.T) {
	th := startHub(t, Limits{IdleTimeout: time.Hour, MaxDuration: time.Hour, MaxFrameBytes: 1 << 10, MaxMessageBytes: 1 << 10, MessageTimeout: time.Minute})
	bystander, _ := th.dial(t)
	conn, c := th.dial(t)
	c.afterFunc(time.Millisecond, func() { panic("test: the timer panics") })
	expectClose(t, conn, websocket.StatusInternalError)
	th.expectClosed(t, ws.StatusInternalServerError)
	echo(t, bystander, "unaffected")
	th.checkPanic(t, "timer", "TestPanicInTimerClosesTheSocket")
}
