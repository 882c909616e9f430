package gateway

import (
	"bufio"
	"context"
	"fmt"
	"iter"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/gobwas/ws"

	"github.com/chatapp-dev/chatapp/internal/logtest"
	"github.com/chatapp-dev/chatapp/internal/wstest"
)

// rawWait bounds each wait of the tests over raw connections: a dial, a
// frame, a close.
const rawWait = 10 * time.Second

// testServer is a gateway on a loopback port, whose server-side
// connections can be made to panic (panicConn), with its logs.
type testServer struct {
	g    *Gateway
	addr string // host:port
	logs *logtest.Buffer
	// conns are the server sides of the connections, by the client's
	// address.
	conns *sync.Map
}

// echoRoutes make $default push a frame's body back to its sender.
func echoRoutes(g **Gateway) map[string]WebSocketFunc {
	return map[string]WebSocketFunc{
		"$default": func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, (*g).hub.Post(ctx, ev.RequestContext.ConnectionID, []byte(ev.Body))
		},
	}
}

// startServer serves a gateway for cfg (echoRoutes when it has no
// WebSocket routes) on a loopback port, closed when the test ends.
func startServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	ts := &testServer{logs: &logtest.Buffer{}, conns: &sync.Map{}}
	cfg.Logger = slog.New(slog.NewTextHandler(ts.logs, nil))
	if cfg.WebSocket == nil {
		cfg.WebSocket = echoRoutes(&ts.g)
	}
	ts.g = New(cfg)
	srv := httptest.NewUnstartedServer(ts.g)
	srv.Listener = panicListener{srv.Listener, ts.conns}
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		closed := make(chan struct{})
		go func() { ts.g.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(rawWait):
			t.Errorf("the gateway's Close still waits for its sockets after %v", rawWait)
		}
	})
	ts.addr = srv.Listener.Addr().String()
	return ts
}

// panics returns the count of panics recovered at where, by the gateway
// or its hub.
func (ts *testServer) panics(where string) uint64 {
	for _, counts := range []iter.Seq2[string, uint64]{ts.g.Panics(), ts.g.hub.Panics()} {
		for w, n := range counts {
			if w == where {
				return n
			}
		}
	}
	return 0
}

// checkPanicLogged fails unless a panic at where was logged at error level
// with its stack, naming the function that panicked.
func (ts *testServer) checkPanicLogged(t *testing.T, where, fn string) {
	t.Helper()
	if !logtest.PanicLogged(ts.logs.String(), where, fn) {
		t.Errorf("no error log of a panic at %s with a stack through %s:\n%s", where, fn, ts.logs.String())
	}
}

// panicListener hands out panicConns, and keeps each by its client's
// address.
type panicListener struct {
	net.Listener
	conns *sync.Map
}

func (l panicListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	pc := &panicConn{Conn: c}
	l.conns.Store(c.RemoteAddr().String(), pc)
	return pc, nil
}

// panicConn is a server-side connection whose next Read or Write panics,
// once, when the test arms it: a fault inside the gateway's own goroutines.
type panicConn struct {
	net.Conn
	mu                        sync.Mutex
	panicOnRead, panicOnWrite bool
}

func (c *panicConn) arm(read, write bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.panicOnRead, c.panicOnWrite = read, write
}

func (c *panicConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	armed := c.panicOnRead
	c.panicOnRead = false
	c.mu.Unlock()
	if armed {
		panic("test: the connection's Read panics")
	}
	return c.Conn.Read(p)
}

func (c *panicConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	armed := c.panicOnWrite
	c.panicOnWrite = false
	c.mu.Unlock()
	if armed {
		panic("test: the connection's Write panics")
	}
	return c.Conn.Write(p)
}

// rawClient is a WebSocket client that writes frames byte by byte as the
// test builds them, on a plain TCP connection.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	in   *bufio.Reader
}

// dialRaw opens a WebSocket to the test server with a hand-written
// handshake. A receive buffer of rcvBuf bytes (0: the system's) is set
// before connecting, so that it also bounds the TCP window.
func dialRaw(t *testing.T, ts *testServer, rcvBuf int) *rawClient {
	t.Helper()
	d := net.Dialer{Timeout: rawWait}
	if rcvBuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var err error
			rc.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvBuf) })
			return err
		}
	}
	conn, err := d.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(rawWait))
	fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", ts.addr)
	in := bufio.NewReader(conn)
	resp, err := http.ReadResponse(in, nil)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %s", resp.Status)
	}
	conn.SetDeadline(time.Time{})
	return &rawClient{t: t, conn: conn, in: in}
}

// rawFrame builds a masked client frame (wstest.ClientFrame).
var rawFrame = wstest.ClientFrame

func (c *rawClient) write(frames ...[]byte) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(rawWait))
	for _, f := range frames {
		if _, err := c.conn.Write(f); err != nil {
			c.t.Fatalf("write: %v", err)
		}
	}
}

// next reads the server's next frame.
func (c *rawClient) next() (ws.Frame, error) {
	c.conn.SetReadDeadline(time.Now().Add(rawWait))
	return ws.ReadFrame(c.in)
}

// expectClose reads past data and control frames to the server's close
// frame, checks its code, and closes the connection.
func (c *rawClient) expectClose(want ws.StatusCode) {
	c.t.Helper()
	for {
		f, err := c.next()
		if err != nil {
			c.t.Fatalf("before a close frame %d: %v", want, err)
		}
		if f.Header.OpCode == ws.OpClose {
			if code, reason := ws.ParseCloseFrameData(f.Payload); code != want {
				c.t.Fatalf("closed with %d %q, want %d", code, reason, want)
			}
			c.conn.Close()
			return
		}
	}
}

// echo checks that the connection still routes: a text frame comes back.
func (c *rawClient) echo(text string) {
	c.t.Helper()
	c.write(rawFrame(true, ws.OpText, uint64(len(text)), false, []byte(text)))
	for {
		f, err := c.next()
		if err != nil {
			c.t.Fatalf("echo of %q: %v", text, err)
		}
		if f.Header.OpCode == ws.OpText {
			if string(f.Payload) != text {
				c.t.Fatalf("echo of %q: got %q", text, f.Payload)
			}
			return
		}
	}
}
