package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatapp-dev/chatapp"
)

// TestBodyBudgetBoundsSlowBodies: the bytes of REST bodies held at once
// are bounded by MaxBufferedBodyBytes, however many clients send bodies
// slowly: a body that would take the gateway past it is answered 503
// unavailable with Retry-After at once, before a byte of it is read, while
// a request without a body (a GET) still runs. Once a slow client leaves,
// its bytes are free for the next body; a chunked body reserves the most a
// body may be.
func TestBodyBudgetBoundsSlowBodies(t *testing.T) {
	const maxBody = 1024
	echo := func(_ context.Context, e events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: http.StatusOK, Body: e.Body}, nil
	}
	ts := startServer(t, Config{MaxBodyBytes: maxBody, MaxBufferedBodyBytes: 2 * maxBody, REST: map[string]RESTFunc{"PUT /chat": echo, "GET /chat": echo}})

	dial := func(head, start string) net.Conn {
		t.Helper()
		conn, err := net.DialTimeout("tcp", ts.addr, rawWait)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		conn.SetDeadline(time.Now().Add(rawWait))
		fmt.Fprintf(conn, "PUT /chat HTTP/1.1\r\nHost: x\r\n%s\r\n%s", head, start)
		return conn
	}
	waitHeld := func(want int64) {
		t.Helper()
		deadline := time.Now().Add(rawWait)
		for ts.g.restBodies.Held() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%d body bytes reserved, want %d", ts.g.restBodies.Held(), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	client := &http.Client{Timeout: rawWait}
	do := func(method, body string) (*http.Response, []byte) {
		t.Helper()
		resp, err := client.Do(mustRequest(t, method, "http://"+ts.addr+"/chat", body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp, data
	}

	// Two slow bodies take the whole budget: one of the most a body may
	// be, by its Content-Length, and a chunked one, which may grow to it.
	sized := dial(fmt.Sprintf("Content-Length: %d\r\n", maxBody), "x")
	chunked := dial("Transfer-Encoding: chunked\r\n", "4\r\n{\"a\"\r\n")
	waitHeld(2 * maxBody)

	// A third is refused at once, not left to wait for its body.
	third := dial("Content-Length: 100\r\n", "x")
	resp, err := http.ReadResponse(bufio.NewReader(third), nil)
	if err != nil {
		t.Fatalf("no answer to a body past the budget: %v", err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || errorCode(data) != chatapp.EUNAVAILABLE {
		t.Errorf("a body past the budget: %d Retry-After %q %s, want 503 unavailable with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"), data)
	}
	if resp, body := do(http.MethodPut, `{"text":"normal"}`); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a normal PUT while the budget is full: %d %s, want 503", resp.StatusCode, body)
	}
	// A request without a body needs none of it.
	if resp, body := do(http.MethodGet, ""); resp.StatusCode != http.StatusOK {
		t.Errorf("a GET while the budget is full: %d %s, want 200", resp.StatusCode, body)
	}

	// The sized client leaves: its bytes are free, and a normal PUT runs.
	sized.Close()
	waitHeld(maxBody)
	if resp, body := do(http.MethodPut, `{"text":"normal"}`); resp.StatusCode != http.StatusOK || string(body) != `{"text":"normal"}` {
		t.Errorf("a normal PUT once a slow body is gone: %d %s, want 200", resp.StatusCode, body)
	}

	// The chunked body, once in, is served, and its bytes given back.
	fmt.Fprint(chunked, "4\r\n:1}\n\r\n0\r\n\r\n")
	resp, err = http.ReadResponse(bufio.NewReader(chunked), nil)
	if err != nil {
		t.Fatal(err)
	}
	data, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(data) != "{\"a\":1}\n" {
		t.Errorf("the chunked body, in: %d %q, want 200 and the body", resp.StatusCode, data)
	}
	waitHeld(0)
}

// errorCode is the code of a {"error":{"code":...}} body.
func errorCode(body []byte) string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	json.Unmarshal(body, &e)
	return e.Error.Code
}
