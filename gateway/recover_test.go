package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/gobwas/ws"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/internal/logtest"
	"github.com/chatapp-dev/chatapp/protocol"
)

// internalError is the body of a 500 the gateway answers for a panic.
const internalError = `{"error":{"code":"internal","message":"internal server error"}}`

// panicEnv is a test server whose $default route panics on the frame
// "panic" and echoes any other, and which reports each connection's id
// ($connect) and close code ($disconnect).
type panicEnv struct {
	*testServer
	connected    chan string
	disconnected chan int64
}

func newPanicEnv(t *testing.T, cfg Config) *panicEnv {
	t.Helper()
	e := &panicEnv{connected: make(chan string, 10), disconnected: make(chan int64, 10)}
	ok := events.APIGatewayProxyResponse{StatusCode: http.StatusOK}
	cfg.WebSocket = map[string]WebSocketFunc{
		"$connect": func(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			if ev.QueryStringParameters["panic"] != "" {
				panic("test: $connect panics")
			}
			if ev.QueryStringParameters["panicupgrade"] != "" {
				// The upgrade's answer panics: every server side
				// connection's next Write (the test has only this one).
				e.conns.Range(func(_, pc any) bool { pc.(*panicConn).arm(false, true); return true })
			}
			e.connected <- ev.RequestContext.ConnectionID
			return ok, nil
		},
		"$default": func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			if ev.Body == "panic" {
				panic("test: the route panics")
			}
			return ok, e.g.hub.Post(ctx, ev.RequestContext.ConnectionID, []byte(ev.Body))
		},
		"$disconnect": func(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			e.disconnected <- ev.RequestContext.DisconnectStatusCode
			return ok, nil
		},
	}
	e.testServer = startServer(t, cfg)
	return e
}

// dial opens a raw client and returns it with its connection id.
func (e *panicEnv) dial(t *testing.T) (*rawClient, string) {
	t.Helper()
	c := dialRaw(t, e.testServer, 0)
	select {
	case id := <-e.connected:
		c.echo("connected") // the socket now runs
		return c, id
	case <-time.After(rawWait):
		t.Fatal("no $connect")
		return nil, ""
	}
}

// conn is the server side of a client's connection.
func (e *panicEnv) conn(t *testing.T, c *rawClient) *panicConn {
	t.Helper()
	pc, ok := e.conns.Load(c.conn.LocalAddr().String())
	if !ok {
		t.Fatalf("no server side for the client at %s", c.conn.LocalAddr())
	}
	return pc.(*panicConn)
}

func (e *panicEnv) expectDisconnect(t *testing.T, want ws.StatusCode) {
	t.Helper()
	select {
	case code := <-e.disconnected:
		if code != int64(want) {
			t.Fatalf("$disconnect got %d, want %d", code, want)
		}
	case <-time.After(rawWait):
		t.Fatal("no $disconnect")
	}
}

func (e *panicEnv) checkPanics(t *testing.T, where string, want uint64, fn string) {
	t.Helper()
	if got := e.panics(where); got != want {
		t.Errorf("panics at %s: %d, want %d", where, got, want)
	}
	e.checkPanicLogged(t, where, fn)
}

// A route's function that panics has failed, as on Lambda: the client gets
// the error frame of a failed integration, and its connection stays open.
func TestPanicInRouteFailsTheIntegration(t *testing.T) {
	e := newPanicEnv(t, Config{})
	bystander, _ := e.dial(t)
	c, _ := e.dial(t)
	c.write(rawFrame(true, ws.OpText, 5, false, []byte("panic")))
	f, err := c.next()
	if err != nil || f.Header.OpCode != ws.OpText || chatapp.ErrorCode(decodeError(t, f.Payload)) != chatapp.EINTERNAL {
		t.Fatalf("after the panic: %v %q, want the internal error frame", err, f.Payload)
	}
	c.echo("still open")
	bystander.echo("unaffected")
	e.checkPanics(t, "integration", 1, "newPanicEnv")
}

// A $connect function that panics refuses the handshake with a 500, and
// leaves no socket behind (the gateway's Close would wait for it).
func TestPanicInConnectRefusesTheHandshake(t *testing.T) {
	e := newPanicEnv(t, Config{})
	bystander, _ := e.dial(t)
	req, _ := http.NewRequest(http.MethodGet, "http://"+e.addr+"/ws?panic=1", nil)
	req.Header = http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"},
		"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}, "Sec-Websocket-Version": {"13"}}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || string(body) != internalError {
		t.Fatalf("handshake of a panicking $connect: %d %s", resp.StatusCode, body)
	}
	bystander.echo("unaffected")
	if n := e.g.hub.Len(); n != 1 {
		t.Errorf("%d sockets open, want the bystander's only", n)
	}
	e.checkPanics(t, "integration", 1, "newPanicEnv")
}

// A panic after $connect accepted a handshake and before the hub took the
// connection over (here: in the upgrade's answer) ends the request, and
// the connection's $disconnect runs, as for any end: its row is not left
// to the sweep. Found by an attack on the hub split.
func TestPanicAfterConnectRunsDisconnect(t *testing.T) {
	e := newPanicEnv(t, Config{})
	conn, err := net.DialTimeout("tcp", e.addr, rawWait)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(rawWait))
	req := "GET /ws?panicupgrade=1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-e.connected:
	case <-time.After(rawWait):
		t.Fatal("no $connect")
	}
	e.expectDisconnect(t, ws.StatusInternalServerError)
	// $disconnect runs inside the panicking request, before ServeHTTP
	// recovers the panic and logs it: wait for both.
	for deadline := time.Now().Add(rawWait); e.g.hub.Len() != 0 || !logtest.PanicLogged(e.logs.String(), "http", "panicConn"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			break
		}
	}
	if n := e.g.hub.Len(); n != 0 {
		t.Errorf("%d clients held after the panic, want none", n)
	}
	e.checkPanics(t, "http", 1, "panicConn")
}

// A REST function that panics is a failed invocation: 502.
func TestPanicInRESTFunctionIsBadGateway(t *testing.T) {
	e := newPanicEnv(t, Config{REST: map[string]RESTFunc{
		"GET /boom": func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
			panic("test: the REST function panics")
		},
		"GET /ok": func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
			return events.APIGatewayProxyResponse{StatusCode: http.StatusOK, Body: "ok"}, nil
		},
	}, GatewayResponses: templateResponses()})
	bystander, _ := e.dial(t)
	if status, body := get(t, e.addr, "/boom"); status != http.StatusBadGateway || body != internalError {
		t.Fatalf("GET /boom: %d %s, want 502 %s", status, body, internalError)
	}
	if status, body := get(t, e.addr, "/ok"); status != http.StatusOK || body != "ok" {
		t.Fatalf("GET /ok after the panic: %d %s", status, body)
	}
	bystander.echo("unaffected")
	e.checkPanics(t, "integration", 1, "TestPanicInRESTFunctionIsBadGateway")
}

// A handler of the gateway's own that panics answers that request 500
// with the JSON error, or, once it has begun its answer, cuts it off.
func TestPanicInHandlerAnswers500(t *testing.T) {
	e := newPanicEnv(t, Config{Fallback: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/panic":
			w.Header().Set("X-Half-Done", "1")
			panic("test: the handler panics")
		case "/half":
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusOK)
			w.Write([]byte("the first half"))
			panic("test: the handler panics mid-answer")
		}
		w.Write([]byte("page"))
	})})
	bystander, _ := e.dial(t)
	resp, err := http.Get("http://" + e.addr + "/panic")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || string(body) != internalError ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || resp.Header.Get("X-Half-Done") != "" {
		t.Fatalf("GET /panic: %d %v %s, want 500 with the JSON error only", resp.StatusCode, resp.Header, body)
	}
	// A client of its own, whose connection is new: a reused one that
	// fails is retried.
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := fresh.Get("http://" + e.addr + "/half"); err == nil {
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Fatalf("GET /half: %d %q read whole, want it cut off", resp.StatusCode, body)
		}
	}
	if status, body := get(t, e.addr, "/"); status != http.StatusOK || body != "page" {
		t.Fatalf("GET / after the panics: %d %s", status, body)
	}
	bystander.echo("unaffected")
	e.checkPanics(t, "http", 2, "TestPanicInHandlerAnswers500")
}

// A panic in a connection's read loop closes that socket with 1011, and
// $disconnect runs.
func TestPanicInReadLoopClosesTheSocket(t *testing.T) {
	e := newPanicEnv(t, Config{})
	bystander, _ := e.dial(t)
	c, _ := e.dial(t)
	// One of the Reads of the next frame panics.
	e.conn(t, c).arm(true, false)
	c.write(rawFrame(true, ws.OpText, 5, false, []byte("hello")))
	c.expectClose(ws.StatusInternalServerError)
	e.expectDisconnect(t, ws.StatusInternalServerError)
	bystander.echo("unaffected")
	e.checkPanics(t, "socket", 1, "panicConn")
}

// A panic in a connection's writer drops that connection (it may be in the
// middle of a frame: no close frame can follow); the socket ends with
// 1011 and $disconnect runs.
func TestPanicInWriterDropsTheSocket(t *testing.T) {
	e := newPanicEnv(t, Config{})
	bystander, _ := e.dial(t)
	c, _ := e.dial(t)
	e.conn(t, c).arm(false, true)
	c.write(rawFrame(true, ws.OpText, 5, false, []byte("hello")))
	if f, err := c.next(); !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		t.Fatalf("after the writer's panic: %v %q, want the connection dropped", err, f.Payload)
	}
	e.expectDisconnect(t, ws.StatusInternalServerError)
	bystander.echo("unaffected")
	e.checkPanics(t, "writer", 1, "panicConn")
}

func get(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func decodeError(t *testing.T, body []byte) error {
	t.Helper()
	var e protocol.ErrorBody
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("%q is not an error body", body)
	}
	return chatapp.Errorf(e.Error.Code, "%s", e.Error.Message)
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}
