package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/gobwas/ws"

	"github.com/chatapp-dev/chatapp"
)

// TestLambdaTimeout: a function still running at its Lambda timeout (much
// shorter than API Gateway's 29 s) has failed, as Lambda stops it: its
// context ends at the timeout, which frees a function that heeds it, and
// the REST client gets 502 (INTEGRATION_FAILURE), not 504 and not the late
// answer of a function that did not heed it; the request's place under
// MaxConcurrentRequests is free again. A WebSocket route's sender gets an
// error frame and keeps its connection; a timed-out authorizer is
// AUTHORIZER_FAILURE.
func TestLambdaTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	// freed reports how the function that waits on its context ended.
	freed := make(chan error, 1)
	waits := func(ctx context.Context, _ events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		deadline, ok := ctx.Deadline()
		if !ok || time.Until(deadline) > timeout {
			freed <- errors.New("no deadline at the function's timeout")
			return events.APIGatewayProxyResponse{}, nil
		}
		select {
		case <-ctx.Done():
			freed <- ctx.Err()
		case <-time.After(rawWait):
			freed <- errors.New("the context did not end")
		}
		return events.APIGatewayProxyResponse{StatusCode: http.StatusOK, Body: "after its timeout"}, nil
	}
	late := func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		time.Sleep(2 * timeout)
		return events.APIGatewayProxyResponse{StatusCode: http.StatusOK, Body: "late"}, nil
	}
	quick := func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: http.StatusOK, Body: "in time"}, nil
	}
	ts := startServer(t, Config{MaxConcurrentRequests: 1, REST: map[string]RESTFunc{
		"GET /waits": WithLambdaTimeout(waits, timeout),
		"GET /late":  WithLambdaTimeout(late, timeout),
		"GET /quick": WithLambdaTimeout(quick, timeout),
	}})
	client := &http.Client{Timeout: rawWait}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := client.Get("http://" + ts.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(body)
	}
	for _, path := range []string{"/waits", "/late", "/waits"} {
		status, body := get(path)
		if status != http.StatusBadGateway || body != `{"message":"Internal server error"}` {
			t.Errorf("GET %s past the function's timeout: %d %s, want 502 and API Gateway's body", path, status, body)
		}
		if path == "/waits" {
			if err := <-freed; !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("GET %s: the function's context ended with %v, want its deadline", path, err)
			}
		}
		// The place of the timed-out request is free: the next one runs.
		if status, body := get("/quick"); status != http.StatusOK || body != "in time" {
			t.Errorf("GET /quick after GET %s: %d %s, want 200", path, status, body)
		}
	}
	if !strings.Contains(ts.logs.String(), "Task timed out after 0.20 seconds") {
		t.Errorf("the gateway's log does not say the function timed out:\n%s", ts.logs.String())
	}

	// A WebSocket route past its timeout: an error frame, and the
	// connection still routes.
	var ws2 *testServer
	ws2 = startServer(t, Config{WebSocket: map[string]WebSocketFunc{
		"$default": WithLambdaTimeout(func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			switch ev.Body {
			case "slow":
				<-ctx.Done()
				return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
			case "posts late":
				// Past its timeout the function's post fails, as its
				// request to API Gateway would on AWS; so does a broadcast
				// to a room of the sender.
				ws2.g.hub.Joined(&chatapp.Connection{ID: ev.RequestContext.ConnectionID, RoomID: "late"})
				<-ctx.Done()
				ws2.g.hub.Broadcast(ctx, "late", chatapp.Push{Data: []byte("broadcast after the timeout")})
				return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, ws2.g.hub.Post(ctx, ev.RequestContext.ConnectionID, []byte("posted after the timeout"))
			}
			return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, ws2.g.hub.Post(ctx, ev.RequestContext.ConnectionID, []byte(ev.Body))
		}, timeout),
	}})
	c := dialRaw(t, ws2, 0)
	c.write(rawFrame(true, ws.OpText, 4, false, []byte("slow")))
	f, err := c.next()
	if err != nil || f.Header.OpCode != ws.OpText || !strings.Contains(string(f.Payload), `"internal"`) {
		t.Fatalf("a route past its timeout: %v %q, want an error frame", err, f.Payload)
	}
	c.echo("still routed")
	// A function that posts after its timeout: the sender gets the
	// gateway's error frame alone, not the post too.
	c.write(rawFrame(true, ws.OpText, 10, false, []byte("posts late")))
	if f, err := c.next(); err != nil || f.Header.OpCode != ws.OpText || !strings.Contains(string(f.Payload), `"internal"`) {
		t.Fatalf("a route that posts past its timeout: %v %q, want the error frame alone", err, f.Payload)
	}
	c.echo("routed after the late post")

	// The authorizer past its timeout: AUTHORIZER_FAILURE, 500.
	authorizer := func(ctx context.Context, _ events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
		<-ctx.Done()
		return events.APIGatewayCustomAuthorizerResponse{PrincipalID: "late", PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version: "2012-10-17", Statement: []events.IAMPolicyStatement{{Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{"*"}}},
		}}, nil
	}
	status, body := restGet(t, Config{REST: map[string]RESTFunc{"GET /r": quick}, Authorizer: WithLambdaTimeout(authorizer, timeout)}, "")
	if status != http.StatusInternalServerError || body != `{"message":"Internal server error"}` {
		t.Errorf("an authorizer past its timeout: %d %s, want 500 (AUTHORIZER_FAILURE)", status, body)
	}
}
