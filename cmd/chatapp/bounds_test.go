package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/handler"
	"github.com/chatapp-dev/chatapp/internal/apispec"
)

// short are HTTP limits far below the tests' waits, so that a test sees
// them act; every client that misbehaves below would go on far longer.
// A test shortens only the limits it is about, so that a slow machine
// cannot make another one cut a well-behaved request.
var short = HTTPLimits{
	ReadHeaderTimeout: 300 * time.Millisecond,
	ReadTimeout:       300 * time.Millisecond,
	WriteTimeout:      300 * time.Millisecond,
	IdleTimeout:       300 * time.Millisecond,
}

// rawConn opens a TCP connection to the server at base (http://host:port),
// closed when the test ends.
func rawConn(t *testing.T, base string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// dripBody writes one byte every interval, up to n, until a write fails or
// the test ends.
func dripBody(t *testing.T, conn net.Conn, n int, interval time.Duration) {
	done, stopped := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() {
		close(done)
		conn.Close()
		<-stopped
	})
	go func() {
		defer close(stopped)
		for range n {
			select {
			case <-done:
				return
			case <-time.After(interval):
			}
			if _, err := conn.Write([]byte("x")); err != nil {
				return
			}
		}
	}()
}

// readUntilClosed reads what the server sends until it closes the
// connection, and fails the test if it has not within waitTimeout.
func readUntilClosed(t *testing.T, conn net.Conn, what string) []byte {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(waitTimeout))
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		got = append(got, buf[:n]...)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("%s: the connection is still open after %v; read %q", what, waitTimeout, truncate(got))
		}
		if err != nil {
			return got // EOF, or a reset after the answer
		}
	}
}

// TestSlowRequestsAreCutOff: on every route a body dripped a byte at a
// time (1000 bytes over 50 s) loses its connection once ReadTimeout
// passes; the REST API says 408 first.
func TestSlowRequestsAreCutOff(t *testing.T) {
	s := startServer(t, ServeConfig{Metrics: true, Pprof: true, HTTP: HTTPLimits{ReadTimeout: short.ReadTimeout}})
	for _, route := range []string{
		"PUT /chat",
		"POST /@connections/abc", // the Management API
		"POST /",                 // the web page
		"POST /healthz",
		"POST /metrics",
		"POST /debug/pprof/symbol",
	} {
		t.Run(route, func(t *testing.T) {
			method, path, _ := strings.Cut(route, " ")
			conn := rawConn(t, s.URL)
			raw := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: chat\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n", method, path)
			io.WriteString(conn, raw)
			dripBody(t, conn, 1000, 50*time.Millisecond)
			got := readUntilClosed(t, conn, route)
			if route == "PUT /chat" {
				resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(got)), nil)
				if err != nil || resp.StatusCode != http.StatusRequestTimeout {
					t.Fatalf("answer %q (%v), want 408", truncate(got), err)
				}
				body, _ := io.ReadAll(resp.Body)
				apispec.CheckRaw(t, raw, resp, body)
			}
		})
	}
	putMessage(t, s.URL, "slow", "u", "U", "the server still serves")
}

// TestIdleKeepAliveClosed: a keep-alive connection with no next request is
// closed after IdleTimeout.
func TestIdleKeepAliveClosed(t *testing.T) {
	s := startServer(t, ServeConfig{HTTP: HTTPLimits{IdleTimeout: short.IdleTimeout}})
	conn := rawConn(t, s.URL)
	fmt.Fprint(conn, "GET /healthz HTTP/1.1\r\nHost: chat\r\n\r\n")
	conn.SetReadDeadline(time.Now().Add(waitTimeout))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("GET /healthz: %d, close %v; want 200 on a kept connection", resp.StatusCode, resp.Close)
	}
	if _, err := br.ReadByte(); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("an idle keep-alive connection is still open after %v", waitTimeout)
	} else if err == nil {
		t.Fatal("the server sent bytes nobody asked for")
	}
}

// TestWebSocketOutlivesHTTPTimeouts: the HTTP server's read, write and
// idle timeouts end at the upgrade; a WebSocket quiet for many times them
// still sends and receives.
func TestWebSocketOutlivesHTTPTimeouts(t *testing.T) {
	s := startServer(t, ServeConfig{HTTP: short})
	c := dial(t, s.URL, "patient", originalQuery("patient", "long"))
	time.Sleep(5 * short.ReadTimeout)
	putMessage(t, s.URL, "long", "u", "U", "over REST")
	if m := c.nextMessage(); m.Text != "over REST" {
		t.Fatalf("push %q, want over REST", m.Text)
	}
	time.Sleep(5 * short.WriteTimeout)
	c.send(`{"action":"sendmessage","text":"over the socket"}`)
	if m := c.nextMessage(); m.Text != "over the socket" {
		t.Fatalf("push %q, want over the socket", m.Text)
	}
}

// TestLargeHeadersRefused: request headers past maxHeaderBytes get 431 and
// the server goes on; a large token's worth fits.
func TestLargeHeadersRefused(t *testing.T) {
	s := startServer(t, ServeConfig{})
	r := do(t, http.MethodGet, s.URL+"/healthz", nil, map[string]string{"X-Padding": strings.Repeat("a", 64<<10)})
	if r.Status != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("64 KiB of headers: %d %s, want 431", r.Status, truncate(r.Body))
	}
	r = do(t, http.MethodGet, s.URL+"/healthz", nil, map[string]string{"Authorization": "Bearer " + strings.Repeat("t", 16<<10)})
	if r.Status != http.StatusOK {
		t.Fatalf("16 KiB of headers: %d %s, want 200", r.Status, truncate(r.Body))
	}
}

// TestRESTBodyLimitIsTheFunctions: the gateway of `serve` refuses a body
// larger than the functions take on its Content-Length alone, at once, not
// after reading API Gateway's 10 MB.
func TestRESTBodyLimitIsTheFunctions(t *testing.T) {
	s := startServer(t, ServeConfig{})
	conn := rawConn(t, s.URL)
	raw := fmt.Sprintf("PUT /chat HTTP/1.1\r\nHost: chat\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", handler.MaxBodyBytes+1)
	io.WriteString(conn, raw)
	conn.SetReadDeadline(time.Now().Add(waitTimeout))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a declared %d-byte body: %v", handler.MaxBodyBytes+1, err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("declared %d bytes: %d %s, want 413", handler.MaxBodyBytes+1, resp.StatusCode, body)
	}
	if code := checkErrorBody(t, "413", body); code != chatapp.ETOOLARGE {
		t.Errorf("code %q, want %q", code, chatapp.ETOOLARGE)
	}
	apispec.CheckRaw(t, raw, resp, body)
}

// TestMaxConnectionsServe: past Limits.Connections a handshake gets 503
// with the JSON error, and no connection row.
func TestMaxConnectionsServe(t *testing.T) {
	s := startServer(t, ServeConfig{Limits: Limits{Connections: 2}})
	dial(t, s.URL, "a", originalQuery("a", "full"))
	dial(t, s.URL, "b", originalQuery("b", "full"))
	_, resp, err := tryDial(t, s.URL, originalQuery("c", "full"))
	if err == nil {
		t.Fatal("a third connection was accepted past the cap of 2")
	}
	if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third handshake: %v, want 503", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if code := checkErrorBody(t, "503", body); code != chatapp.EUNAVAILABLE {
		t.Errorf("code %q, want %q", code, chatapp.EUNAVAILABLE)
	}
	if users := getUsers(t, s.URL, "full"); len(users) != 2 {
		t.Errorf("%d connections in the room, want the 2 admitted: %+v", len(users), users)
	}
}
