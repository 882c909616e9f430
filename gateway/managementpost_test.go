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
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp/gateway"
)

// TestManagementPostOfAGoneCallerIsNot410: a PostToConnection whose caller
// has hung up (its request's context is done) is not answered 410
// GoneException, which tells a notifier to delete the connection's row:
// the connection is still open, and a post from a caller that waits
// reaches it.
func TestManagementPostOfAGoneCallerIsNot410(t *testing.T) {
	e := newManagementEnv(t)
	conn, id := e.dial(t)
	for _, tc := range []struct {
		name       string
		ctx        func() (context.Context, context.CancelFunc)
		wantStatus int
	}{
		{"hung up", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, 499},
		{"deadline passed", func() (context.Context, context.CancelFunc) {
			return context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		}, http.StatusGatewayTimeout},
	} {
		ctx, cancel := tc.ctx()
		req := signed(t, e.gw.ManagementCredentials(), http.MethodPost, e.connectionURL(id), []byte("lost"), time.Now()).WithContext(ctx)
		req.RemoteAddr = "127.0.0.1:40000"
		rec := httptest.NewRecorder()
		e.gw.ServeHTTP(rec, req)
		cancel()
		if rec.Code != tc.wantStatus {
			t.Errorf("a post whose caller %s: %d %s (%s), want %d", tc.name, rec.Code, rec.Header().Get("X-Amzn-ErrorType"), rec.Body, tc.wantStatus)
		}
	}
	resp, body := send(t, signed(t, e.gw.ManagementCredentials(), http.MethodPost, e.connectionURL(id), []byte("kept"), time.Now()))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a post after them: %d %s, want 200", resp.StatusCode, body)
	}
	if got := read(t, conn); got != "kept" {
		t.Errorf("the connection got %q, want kept", got)
	}
}

// TestManagementBodiesBudgeted: the Management API's bodies, read before
// their signature is checked, are bounded in bytes held at once as REST
// bodies are (a budget of their own, at least one payload of 128 KB):
// while one chunked body, which may grow to 128 KB, fills it, a post is
// throttled at once (429 LimitExceededException, which the SDK
// retries), and once it is in, the next is served.
func TestManagementBodiesBudgeted(t *testing.T) {
	g := gateway.New(gateway.Config{MaxBodyBytes: 1024, MaxBufferedBodyBytes: 1024})
	srv := httptest.NewServer(g)
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close(); g.Close() })
	addr := strings.TrimPrefix(srv.URL, "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(boundsWait))
	fmt.Fprint(conn, "POST /@connections/abc HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n")

	// The chunked body holds the budget once its handler runs; until
	// then a request may still find room, so ask until it is refused.
	deadline := time.Now().Add(boundsWait)
	for {
		resp, body := send(t, signed(t, g.ManagementCredentials(), http.MethodPost, srv.URL+"/@connections/abc", []byte("x"), time.Now()))
		if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("X-Amzn-ErrorType") == "LimitExceededException" {
			break
		}
		if resp.StatusCode != http.StatusGone || time.Now().After(deadline) {
			t.Fatalf("a request while a chunked body holds the budget: %d %s, want 429 LimitExceededException", resp.StatusCode, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Fprint(conn, "0\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("the unsigned chunked body, in: %d, want 403", resp.StatusCode)
	}
	resp, body := send(t, signed(t, g.ManagementCredentials(), http.MethodPost, srv.URL+"/@connections/abc", []byte("x"), time.Now()))
	if resp.StatusCode != http.StatusGone {
		t.Errorf("a request once the body is in: %d %s, want 410 (no such connection)", resp.StatusCode, body)
	}
}
