package gateway

import (
	"bufio"
	"context"
	"errors"
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

	"github.com/chatapp-dev/chatapp"
)

// handshakeEnv is a test server whose $connect and $disconnect count their
// invocations, behind an authorizer that counts its own and allows all.
type handshakeEnv struct {
	*testServer
	authorized, connects, disconnects atomic.Int64
}

func newHandshakeEnv(t *testing.T, cfg Config) *handshakeEnv {
	t.Helper()
	e := &handshakeEnv{}
	ok := events.APIGatewayProxyResponse{StatusCode: http.StatusOK}
	cfg.Authorizer = func(_ context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
		e.authorized.Add(1)
		if req.QueryStringParameters["user_id"] == "no-token" {
			return events.APIGatewayCustomAuthorizerResponse{}, errors.New("Unauthorized")
		}
		return events.APIGatewayCustomAuthorizerResponse{PrincipalID: "u", PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version:   "2012-10-17",
			Statement: []events.IAMPolicyStatement{{Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{"*"}}},
		}}, nil
	}
	cfg.WebSocket = map[string]WebSocketFunc{
		"$connect": func(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			e.connects.Add(1)
			if ev.QueryStringParameters["user_id"] == "refused" {
				return events.APIGatewayProxyResponse{StatusCode: http.StatusForbidden, Body: `{"error":{"code":"forbidden","message":"no"}}`}, nil
			}
			return ok, nil
		},
		"$disconnect": func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			e.disconnects.Add(1)
			return ok, nil
		},
		"$default": func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			return ok, e.g.hub.Post(ctx, ev.RequestContext.ConnectionID, []byte(ev.Body))
		},
	}
	e.testServer = startServer(t, cfg)
	return e
}

// testKey is a Sec-WebSocket-Key: the base64 of 16 bytes.
const testKey = "dGhlIHNhbXBsZSBub25jZQ=="

// upgradeRequest is a WebSocket handshake, whole and valid unless a test
// changes it.
func upgradeRequest(method, proto, key, version string) string {
	req := fmt.Sprintf("%s /ws?room_id=hs&user_id=ghost1 %s\r\nHost: chat\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", method, proto)
	if key != "" {
		req += "Sec-WebSocket-Key: " + key + "\r\n"
	}
	if version != "" {
		req += "Sec-WebSocket-Version: " + version + "\r\n"
	}
	return req + "\r\n"
}

// handshake sends a raw request from the local address from (any
// 127.0.0.0/8 address; "" for the system's choice) and reads the answer.
// The connection stays open until the test ends, or until the caller
// closes it.
func handshake(t *testing.T, addr, from, request string) (net.Conn, *http.Response, []byte) {
	t.Helper()
	d := net.Dialer{Timeout: rawWait}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(rawWait))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to the handshake: %v", err)
	}
	var body []byte
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ = io.ReadAll(resp.Body)
	}
	conn.SetDeadline(time.Time{})
	return conn, resp, body
}

// TestBadHandshakesLeaveNoTrace: a request with the Upgrade and Connection
// headers of a WebSocket handshake that is not a valid one (no key, a key
// that is not the base64 of 16 bytes, no version or another version, not
// GET, not HTTP/1.1) is answered with the status the upgrade itself would
// give, and the JSON error body, before the authorizer and $connect run: a
// connection that never opens never joins a room, and costs no store
// write.
func TestBadHandshakesLeaveNoTrace(t *testing.T) {
	e := newHandshakeEnv(t, Config{})
	for _, c := range []struct {
		name, request string
		status        int
	}{
		{"no key", upgradeRequest("GET", "HTTP/1.1", "", "13"), http.StatusBadRequest},
		{"key of 24 characters, not base64", upgradeRequest("GET", "HTTP/1.1", "!!!!!!!!!!!!!!!!!!!!!!!!", "13"), http.StatusBadRequest},
		{"key of 24 characters, base64 of 18 bytes", upgradeRequest("GET", "HTTP/1.1", "AAAAAAAAAAAAAAAAAAAAAAAA", "13"), http.StatusBadRequest},
		{"key of 15 bytes", upgradeRequest("GET", "HTTP/1.1", "AAAAAAAAAAAAAAAAAAAA", "13"), http.StatusBadRequest},
		{"no version", upgradeRequest("GET", "HTTP/1.1", testKey, ""), http.StatusBadRequest},
		{"version 8", upgradeRequest("GET", "HTTP/1.1", testKey, "8"), http.StatusUpgradeRequired},
		{"POST", upgradeRequest("POST", "HTTP/1.1", testKey, "13"), http.StatusMethodNotAllowed},
		{"HTTP/1.0", upgradeRequest("GET", "HTTP/1.0", testKey, "13"), http.StatusHTTPVersionNotSupported},
		// As the upgrade reads them: the first Connection value, as tokens.
		{"Connection: keep-alive, then Connection: upgrade", strings.Replace(upgradeRequest("GET", "HTTP/1.1", testKey, "13"), "Connection: Upgrade", "Connection: keep-alive\r\nConnection: upgrade", 1), http.StatusUpgradeRequired},
		{"Connection: a;b, upgrade", strings.Replace(upgradeRequest("GET", "HTTP/1.1", testKey, "13"), "Connection: Upgrade", "Connection: a;b, upgrade", 1), http.StatusUpgradeRequired},
		{"a malformed subprotocol", strings.Replace(upgradeRequest("GET", "HTTP/1.1", testKey, "13"), "Host: chat", "Host: chat\r\nSec-WebSocket-Protocol: a;b", 1), http.StatusBadRequest},
		{"empty Host", strings.Replace(upgradeRequest("GET", "HTTP/1.1", testKey, "13"), "Host: chat", "Host: ", 1), http.StatusBadRequest},
		{"Connection: noupgrade", strings.Replace(upgradeRequest("GET", "HTTP/1.1", testKey, "13"), "Connection: Upgrade", "Connection: noupgrade", 1), http.StatusUpgradeRequired},
		{"a body", strings.Replace(upgradeRequest("GET", "HTTP/1.1", testKey, "13"), "\r\n\r\n", "\r\nContent-Length: 6\r\n\r\n\x81\x80abcd", 1), http.StatusBadRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, resp, body := handshake(t, e.addr, "", c.request)
			if resp.StatusCode != c.status {
				t.Errorf("%s, want %d", resp.Status, c.status)
			}
			if a, n := e.authorized.Load(), e.connects.Load(); a != 0 || n != 0 {
				t.Fatalf("the authorizer ran %d times and $connect %d for a handshake that was refused", a, n)
			}
			decodeError(t, body)
			if !resp.Close {
				t.Errorf("a refused handshake keeps its connection (no Connection: close)")
			}
			if c.name == "version 8" && resp.Header.Get("Sec-WebSocket-Version") != "13" {
				t.Errorf("426 without Sec-WebSocket-Version: 13: %v", resp.Header)
			}
		})
	}
	// A valid handshake still opens, and is the first to reach $connect.
	c := dialRaw(t, e.testServer, 0)
	c.echo("valid")
	if a, n, d := e.authorized.Load(), e.connects.Load(), e.disconnects.Load(); a != 1 || n != 1 || d != 0 {
		t.Fatalf("authorizer %d, $connect %d, $disconnect %d: want 1, 1 and 0", a, n, d)
	}
}

// TestRefusedHandshakesCloseTheirConnection: a handshake the authorizer or
// $connect refuses gets its answer and Connection: close, rather than a
// keep-alive connection that would hold a file descriptor for nothing.
func TestRefusedHandshakesCloseTheirConnection(t *testing.T) {
	e := newHandshakeEnv(t, Config{})
	for user, status := range map[string]int{"no-token": http.StatusUnauthorized, "refused": http.StatusForbidden} {
		req := strings.Replace(upgradeRequest("GET", "HTTP/1.1", testKey, "13"), "user_id=ghost1", "user_id="+user, 1)
		_, resp, _ := handshake(t, e.addr, "", req)
		if resp.StatusCode != status || !resp.Close {
			t.Errorf("%s: %s, Connection: close %v; want %d and the connection closed", user, resp.Status, resp.Close, status)
		}
	}
}

// TestMaxConnectionsPerIP: past MaxConnectionsPerIP open sockets from one
// address, a handshake gets 429 rate_limited before the authorizer and
// $connect run; another address is not affected, and a closed socket frees
// its address's place.
func TestMaxConnectionsPerIP(t *testing.T) {
	e := newHandshakeEnv(t, Config{MaxConnectionsPerIP: 2})
	open := func(from string) (net.Conn, *http.Response, []byte) {
		return handshake(t, e.addr, from, upgradeRequest("GET", "HTTP/1.1", testKey, "13"))
	}
	first, resp, _ := open("127.0.0.1")
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("first socket: %s", resp.Status)
	}
	if _, resp, _ := open("127.0.0.1"); resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("second socket: %s", resp.Status)
	}
	_, resp, body := open("127.0.0.1")
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third socket from one address: %s %s, want 429", resp.Status, body)
	}
	if err := decodeError(t, body); chatapp.ErrorCode(err) != chatapp.ERATELIMIT {
		t.Errorf("code %q, want %q", chatapp.ErrorCode(err), chatapp.ERATELIMIT)
	}
	if a, n := e.authorized.Load(), e.connects.Load(); a != 2 || n != 2 {
		t.Errorf("the authorizer ran %d times and $connect %d, want 2 each: the refused handshake ran them", a, n)
	}
	if _, resp, _ := open("127.0.0.2"); resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("a socket from another address: %s", resp.Status)
	}

	first.Close()
	for deadline := time.Now().Add(rawWait); ; {
		conn, resp, _ := open("127.0.0.1")
		if resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatalf("no place freed by a closed socket: %s", resp.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSourceOf: an IPv4 address counts on its own, an IPv6 address with
// its /64 (one host may hold all of it), an IPv4-mapped IPv6 address as the
// IPv4 address it is.
func TestSourceOf(t *testing.T) {
	for ip, want := range map[string]string{
		"203.0.113.7":             "203.0.113.7/32",
		"::ffff:203.0.113.7":      "203.0.113.7/32",
		"2001:db8:1:2:3:4:5:6":    "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1":    "2001:db8:1:2::/64",
		"fe80::1%eth0":            "fe80::/64",
		"not an address":          "invalid Prefix",
		"2001:db8:1:3:3:4:5:6":    "2001:db8:1:3::/64",
		"127.0.0.1":               "127.0.0.1/32",
		"::1":                     "::/64",
		"2001:db8::":              "2001:db8::/64",
		"2001:0db8:0000:0000::9a": "2001:db8::/64",
	} {
		if got := sourceOf(ip).String(); got != want {
			t.Errorf("sourceOf(%q) = %s, want %s", ip, got, want)
		}
	}
}

// TestNoPostBeforeConnectReturns: as on API Gateway, a connection cannot be
// posted to while its $connect runs (410 GoneException); once $connect has
// returned, it can.
func TestNoPostBeforeConnectReturns(t *testing.T) {
	var during error
	var id string
	var g *Gateway
	g = New(Config{WebSocket: map[string]WebSocketFunc{
		"$connect": func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			id = ev.RequestContext.ConnectionID
			during = g.hub.Post(ctx, id, []byte("too early"))
			return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
		},
	}})
	srv := httptest.NewServer(g)
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close(); g.Close() })
	conn, resp, _ := handshake(t, strings.TrimPrefix(srv.URL, "http://"), "", upgradeRequest("GET", "HTTP/1.1", testKey, "13"))
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %s", resp.Status)
	}
	defer conn.Close()
	if chatapp.ErrorCode(during) != chatapp.EGONE {
		t.Fatalf("a post during $connect: %v, want EGONE (410)", during)
	}
	if err := g.hub.Post(context.Background(), id, []byte("on time")); err != nil {
		t.Fatalf("a post after $connect returned: %v", err)
	}
}
