package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/gateway"
)

// boundsWait bounds each wait of these tests. Every bound they check is
// far shorter, and every client that misbehaves would go on far longer.
const boundsWait = 5 * time.Second

// boundsEnv is a gateway with counting fake functions behind a plain
// http.Server that has no timeouts of its own: what is bounded is bounded
// by the gateway.
type boundsEnv struct {
	addr     string
	rest     atomic.Int64 // PUT /chat and GET /chat invocations
	connects atomic.Int64 // $connect invocations
	// handled is sent the end of each request's handler.
	handled chan struct{}
}

// newBoundsEnv serves a gateway for cfg, with PUT /chat echoing the body's
// length, GET /chat answering answer bytes after delay, and a $connect
// that accepts.
func newBoundsEnv(t *testing.T, cfg gateway.Config, answer int, delay time.Duration) *boundsEnv {
	t.Helper()
	e := &boundsEnv{handled: make(chan struct{}, 100)}
	cfg.REST = map[string]gateway.RESTFunc{
		"PUT /chat": func(_ context.Context, r events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
			e.rest.Add(1)
			return events.APIGatewayProxyResponse{StatusCode: 200, Body: fmt.Sprint(len(r.Body))}, nil
		},
		"GET /chat": func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
			e.rest.Add(1)
			time.Sleep(delay)
			return events.APIGatewayProxyResponse{StatusCode: 200, Body: strings.Repeat("x", answer)}, nil
		},
	}
	cfg.WebSocket = map[string]gateway.WebSocketFunc{
		"$connect": func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			e.connects.Add(1)
			return events.APIGatewayProxyResponse{StatusCode: 200}, nil
		},
	}
	g := gateway.New(cfg)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			select {
			case e.handled <- struct{}{}:
			default:
			}
		}()
		g.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		g.Close()
	})
	e.addr = srv.Listener.Addr().String()
	return e
}

// rawConn opens a TCP connection to addr, closed when the test ends.
func rawConn(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, boundsWait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// readAnswer reads one response from conn within boundsWait.
func readAnswer(t *testing.T, conn net.Conn) (*http.Response, []byte) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(boundsWait))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer within %v: %v", boundsWait, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("answer %d: reading its body: %v", resp.StatusCode, err)
	}
	return resp, body
}

// drip writes one byte of body every interval, up to n bytes, until a
// write fails or the test ends.
func drip(t *testing.T, conn net.Conn, n int, interval time.Duration) {
	done := make(chan struct{})
	stopped := make(chan struct{})
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

// TestRESTSlowBodyTimesOut: a body dripped a byte at a time (it would take
// 50 s) is cut off with 408 once ReadTimeout passes, and the function is
// never invoked, though the server has no timeouts of its own.
func TestRESTSlowBodyTimesOut(t *testing.T) {
	e := newBoundsEnv(t, gateway.Config{ReadTimeout: 300 * time.Millisecond}, 0, 0)
	conn := rawConn(t, e.addr)
	fmt.Fprint(conn, "PUT /chat HTTP/1.1\r\nHost: chat\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
	drip(t, conn, 999, 50*time.Millisecond)
	resp, body := readAnswer(t, conn)
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("dripped body: %d %s, want 408", resp.StatusCode, body)
	}
	if code := checkErrorBody(t, "answer", body); code != chatapp.EINVALID {
		t.Errorf("code %q, want %q (a 4xx outside the table)", code, chatapp.EINVALID)
	}
	if !resp.Close {
		t.Error("the connection is kept after a body that did not arrive")
	}
	if n := e.rest.Load(); n != 0 {
		t.Errorf("the function ran %d times on a body that never arrived", n)
	}
}

// TestRESTUnreadAnswerTimesOut: a client that never reads its answer holds
// the handler no longer than WriteTimeout.
func TestRESTUnreadAnswerTimesOut(t *testing.T) {
	// 16 MB: more than the kernel buffers of both ends hold.
	e := newBoundsEnv(t, gateway.Config{WriteTimeout: 300 * time.Millisecond}, 16<<20, 0)
	conn := rawConn(t, e.addr)
	conn.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprint(conn, "GET /chat HTTP/1.1\r\nHost: chat\r\n\r\n")
	select {
	case <-e.handled:
	case <-time.After(2 * boundsWait):
		t.Fatalf("the handler still writes to a client that does not read, %v on", 2*boundsWait)
	}
}

// TestRESTWriteTimeoutStartsWithTheAnswer: a function slower than
// WriteTimeout still gets its answer to the client: the deadline bounds
// writing, not the function.
func TestRESTWriteTimeoutStartsWithTheAnswer(t *testing.T) {
	e := newBoundsEnv(t, gateway.Config{WriteTimeout: 100 * time.Millisecond}, 10, 400*time.Millisecond)
	conn := rawConn(t, e.addr)
	fmt.Fprint(conn, "GET /chat HTTP/1.1\r\nHost: chat\r\n\r\n")
	resp, body := readAnswer(t, conn)
	if resp.StatusCode != http.StatusOK || string(body) != "xxxxxxxxxx" {
		t.Fatalf("slow function's answer: %d %q", resp.StatusCode, body)
	}
}

// TestRESTBodyLimit: a Content-Length over MaxBodyBytes is refused with
// 413 before a byte of the body is sent; a chunked body is refused once it
// passes the limit, without its end; a body at the limit is taken whole.
func TestRESTBodyLimit(t *testing.T) {
	const limit = 1024
	e := newBoundsEnv(t, gateway.Config{MaxBodyBytes: limit, GatewayResponses: templateResponses()}, 0, 0)

	t.Run("declared", func(t *testing.T) {
		conn := rawConn(t, e.addr)
		fmt.Fprintf(conn, "PUT /chat HTTP/1.1\r\nHost: chat\r\nContent-Length: %d\r\n\r\n", limit+1)
		resp, body := readAnswer(t, conn)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || checkErrorBody(t, "answer", body) != chatapp.ETOOLARGE {
			t.Fatalf("declared %d bytes: %d %s, want 413 too_large", limit+1, resp.StatusCode, body)
		}
		if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Error("413 without CORS")
		}
	})
	t.Run("chunked", func(t *testing.T) {
		conn := rawConn(t, e.addr)
		fmt.Fprint(conn, "PUT /chat HTTP/1.1\r\nHost: chat\r\nTransfer-Encoding: chunked\r\n\r\n")
		chunk := strings.Repeat("y", 512)
		for range 3 { // 1536 bytes, and never the last chunk
			fmt.Fprintf(conn, "%x\r\n%s\r\n", len(chunk), chunk)
		}
		resp, body := readAnswer(t, conn)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || checkErrorBody(t, "answer", body) != chatapp.ETOOLARGE {
			t.Fatalf("chunked body past the limit: %d %s, want 413 too_large", resp.StatusCode, body)
		}
	})
	if n := e.rest.Load(); n != 0 {
		t.Errorf("the function ran %d times on refused bodies", n)
	}
	t.Run("at the limit", func(t *testing.T) {
		conn := rawConn(t, e.addr)
		fmt.Fprintf(conn, "PUT /chat HTTP/1.1\r\nHost: chat\r\nContent-Length: %d\r\n\r\n%s", limit, strings.Repeat("z", limit))
		resp, body := readAnswer(t, conn)
		if resp.StatusCode != http.StatusOK || string(body) != fmt.Sprint(limit) {
			t.Fatalf("a body of %d bytes: %d %s, want 200 and the whole body", limit, resp.StatusCode, body)
		}
	})
}

// TestMaxConnections: past MaxConnections a handshake gets 503 unavailable
// before the authorizer and $connect run; a closed connection frees its
// place.
func TestMaxConnections(t *testing.T) {
	var authorized atomic.Int64
	allow := func(context.Context, events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
		authorized.Add(1)
		return events.APIGatewayCustomAuthorizerResponse{PrincipalID: "u", PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version:   "2012-10-17",
			Statement: []events.IAMPolicyStatement{{Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{"*"}}},
		}}, nil
	}
	e := newBoundsEnv(t, gateway.Config{MaxConnections: 2, Authorizer: allow}, 0, 0)
	dial := func() (*websocket.Conn, *http.Response, error) {
		ctx, cancel := context.WithTimeout(context.Background(), boundsWait)
		defer cancel()
		c, resp, err := websocket.Dial(ctx, "ws://"+e.addr+"/ws?room_id=r&user_id=u", nil)
		if c != nil {
			t.Cleanup(func() { c.CloseNow() })
		}
		return c, resp, err
	}
	first, _, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := dial(); err != nil {
		t.Fatal(err)
	}
	_, resp, err := dial()
	if err == nil {
		t.Fatal("a third connection was accepted past MaxConnections 2")
	}
	if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third handshake: %v, want 503", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if code := checkErrorBody(t, "answer", body); code != chatapp.EUNAVAILABLE {
		t.Errorf("code %q, want %q", code, chatapp.EUNAVAILABLE)
	}
	if c, a := e.connects.Load(), authorized.Load(); c != 2 || a != 2 {
		t.Errorf("$connect ran %d times and the authorizer %d, want 2 each: the refused handshake ran them", c, a)
	}

	first.Close(websocket.StatusNormalClosure, "")
	deadline := time.Now().Add(boundsWait)
	for {
		_, _, err := dial()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no place freed by a closed connection: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if c := e.connects.Load(); c != 3 {
		t.Errorf("$connect ran %d times, want 3", c)
	}
}
