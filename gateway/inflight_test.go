package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatapp-dev/chatapp/gateway"
)

// blockingEnv is a gateway whose GET /chat and PUT /chat functions block
// until released, reporting each start, and whether their context ended.
type blockingEnv struct {
	url      string
	started  chan string // the method of each invocation that began
	release  chan struct{}
	canceled chan string // the method of each invocation whose context ended first
}

func newBlockingEnv(t *testing.T, cfg gateway.Config) *blockingEnv {
	t.Helper()
	e := &blockingEnv{started: make(chan string, 100), release: make(chan struct{}), canceled: make(chan string, 100)}
	fn := func(ctx context.Context, r events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		e.started <- r.HTTPMethod
		select {
		case <-e.release:
		case <-ctx.Done():
			e.canceled <- r.HTTPMethod
		}
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: "{}"}, nil
	}
	cfg.REST = map[string]gateway.RESTFunc{"GET /chat": fn, "PUT /chat": fn}
	g := gateway.New(cfg)
	srv := httptest.NewServer(g)
	t.Cleanup(func() {
		close(e.release)
		srv.CloseClientConnections()
		srv.Close()
		g.Close()
	})
	e.url = srv.URL
	return e
}

func (e *blockingEnv) waitStart(t *testing.T) string {
	t.Helper()
	select {
	case m := <-e.started:
		return m
	case <-time.After(boundsWait):
		t.Fatal("no invocation began")
		return ""
	}
}

// TestConcurrentRequestsCapped: past MaxConcurrentRequests, a request is
// refused at once (503, Retry-After) instead of queueing on the store; a
// place that frees is taken again.
func TestConcurrentRequestsCapped(t *testing.T) {
	e := newBlockingEnv(t, gateway.Config{MaxConcurrentRequests: 2})
	answers := make(chan int, 2)
	for range 2 {
		go func() {
			resp, err := http.Get(e.url + "/chat")
			if err != nil {
				answers <- 0
				return
			}
			resp.Body.Close()
			answers <- resp.StatusCode
		}()
		e.waitStart(t)
	}
	// Were the cap broken, this request would wait on the blocked function.
	resp, err := (&http.Client{Timeout: boundsWait}).Get(e.url + "/chat")
	if err != nil {
		t.Fatalf("the third request at once: %v, want 503 at once", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("the third request at once: %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	select {
	case m := <-e.started:
		t.Fatalf("a refused %s request ran its function", m)
	default:
	}
	e.release <- struct{}{}
	if got := <-answers; got != http.StatusOK {
		t.Fatalf("a released request answered %d", got)
	}
	go func() {
		resp, err := http.Get(e.url + "/chat")
		if err == nil {
			resp.Body.Close()
		}
	}()
	e.waitStart(t) // the freed place is taken
}

// TestAbandonedReadIsCanceled: a GET whose client hangs up stops its
// function (nobody will read the answer); a PUT runs to its end, as on
// Lambda, so that what it stores and what it pushes agree.
func TestAbandonedReadIsCanceled(t *testing.T) {
	e := newBlockingEnv(t, gateway.Config{})
	addr := strings.TrimPrefix(e.url, "http://")
	for _, req := range []string{
		"GET /chat?room_id=r HTTP/1.1\r\nHost: x\r\n\r\n",
		"PUT /chat HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
	} {
		method := strings.Fields(req)[0]
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(conn, req)
		if got := e.waitStart(t); got != method {
			t.Fatalf("started %s, want %s", got, method)
		}
		conn.Close()
		// A GET must end within the bound; a PUT must still run after a
		// second (a wait for nothing to happen).
		wait := boundsWait
		if method != http.MethodGet {
			wait = time.Second
		}
		select {
		case m := <-e.canceled:
			if m != http.MethodGet {
				t.Fatalf("the %s of a client that left was canceled: a write must run to its end", m)
			}
		case <-time.After(wait):
			if method == http.MethodGet {
				t.Fatalf("the GET of a client that left still runs after %v", wait)
			}
			e.release <- struct{}{} // the PUT ran on, as it should
		}
	}
}

// TestManagementBodyRefusedOnItsWord: a Management API request declaring a
// body larger than a frame is refused at once, before a byte of it is read
// or its signature is checked, not after waiting for a body that never
// comes.
func TestManagementBodyRefusedOnItsWord(t *testing.T) {
	g := gateway.New(gateway.Config{})
	srv := httptest.NewServer(g)
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close(); g.Close() })
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "POST /@connections/abc HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\nabc")
	conn.SetReadDeadline(time.Now().Add(boundsWait))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a declared 100 GB body (the body was waited for): %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("%s, want 413", resp.Status)
	}
}
