package gateway

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// TestSlowBodiesHoldNoPlace: a place under MaxConcurrentRequests is held
// only while a function runs (the authorizer, then the integration), as
// Lambda's concurrency is: clients that send their bodies slowly, as many
// as there are places, leave them free, and a normal request runs. Each
// slow client's function runs once its body is in.
func TestSlowBodiesHoldNoPlace(t *testing.T) {
	const places = 2
	authorized := make(chan struct{}, 10)
	authorizer := func(context.Context, events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
		authorized <- struct{}{}
		return events.APIGatewayCustomAuthorizerResponse{PrincipalID: "u", PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version: "2012-10-17", Statement: []events.IAMPolicyStatement{{Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{"*"}}},
		}}, nil
	}
	put := func(_ context.Context, e events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: http.StatusOK, Body: e.Body}, nil
	}
	ts := startServer(t, Config{MaxConcurrentRequests: places, Authorizer: authorizer, REST: map[string]RESTFunc{"PUT /chat": put}})

	const body = `{"text":"dripped"}`
	var drippers []net.Conn
	for range places {
		conn, err := net.DialTimeout("tcp", ts.addr, rawWait)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		conn.SetDeadline(time.Now().Add(rawWait))
		// The headers and the body's first byte; the rest comes later.
		fmt.Fprintf(conn, "PUT /chat HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:1])
		drippers = append(drippers, conn)
		select {
		case <-authorized:
		case <-time.After(rawWait):
			t.Fatal("the authorizer of a slow client did not run")
		}
	}
	// Both authorizers have been called; once they have returned, no
	// function runs, and no place is held while the bodies drip.
	deadline := time.Now().Add(rawWait)
	for g := ts.g; g.inFlight.Load() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d places held by clients sending their bodies, want 0", g.inFlight.Load())
		}
	}

	client := &http.Client{Timeout: rawWait}
	resp, err := client.Do(mustRequest(t, http.MethodPut, "http://"+ts.addr+"/chat", `{"text":"normal"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a normal request while %d clients drip their bodies: %d, want 200", places, resp.StatusCode)
	}

	for _, conn := range drippers {
		if _, err := conn.Write([]byte(body[1:])); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("a slow client, its body in: %d, want 200", resp.StatusCode)
		}
	}
}

func mustRequest(t *testing.T, method, url, body string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return r
}
