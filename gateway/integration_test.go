package gateway

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/gobwas/ws"
)

// restGet serves one REST route and GETs it.
func restGet(t *testing.T, cfg Config, query string) (int, string) {
	t.Helper()
	ts := startServer(t, cfg)
	client := &http.Client{Timeout: rawWait}
	resp, err := client.Get("http://" + ts.addr + "/r?" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	return resp.StatusCode, string(body)
}

// TestResponseOverLambdaPayloadIs502: a function's response is at most
// Lambda's 6 MB (6,291,556 bytes as JSON); one byte more fails the
// invocation, and the REST client gets 502, as from API Gateway. The
// boundary is the one the runtime interface emulator keeps
// (cmd/chatapp's TestRIEResponseOverLambdaPayloadIs502).
func TestResponseOverLambdaPayloadIs502(t *testing.T) {
	// {"statusCode":200,"headers":null,"multiValueHeaders":null,"body":""}
	const envelope = 68
	big := func(_ context.Context, e events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		n, _ := strconv.Atoi(e.QueryStringParameters["bytes"])
		return events.APIGatewayProxyResponse{StatusCode: http.StatusOK, Body: strings.Repeat("a", n)}, nil
	}
	cfg := Config{REST: map[string]RESTFunc{"GET /r": big}}
	if status, _ := restGet(t, cfg, "bytes="+strconv.Itoa(MaxResponsePayloadBytes-envelope)); status != http.StatusOK {
		t.Errorf("a response of exactly 6 MB: %d, want 200", status)
	}
	if status, body := restGet(t, cfg, "bytes="+strconv.Itoa(MaxResponsePayloadBytes-envelope+1)); status != http.StatusBadGateway {
		t.Errorf("a response a byte over 6 MB: %d %.100s, want 502", status, body)
	}
	// A body that JSON escapes six bytes a byte passes the quota sooner.
	escaped := func(_ context.Context, e events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: http.StatusOK, Body: strings.Repeat("\x01", 1<<20+10)}, nil
	}
	if status, _ := restGet(t, Config{REST: map[string]RESTFunc{"GET /r": escaped}}, ""); status != http.StatusBadGateway {
		t.Errorf("1 MiB and 10 bytes of control characters (over 6 MB as JSON): %d, want 502", status)
	}
}

// TestIntegrationTimeout: a REST function still running at the
// integration timeout (API Gateway's 29 s, shortened here) gets the
// client API Gateway's 504 and its body, whether the function gives up
// at its context's deadline or ignores it and answers late; a WebSocket
// route's sender gets an error frame, and its connection still routes.
func TestIntegrationTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	waits := func(ctx context.Context, _ events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		<-ctx.Done()
		return events.APIGatewayProxyResponse{}, ctx.Err()
	}
	// It answers once the deadline has passed, not after a sleep that a
	// loaded machine may end before the gateway's timer has fired.
	late := func(ctx context.Context, _ events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		<-ctx.Done()
		return events.APIGatewayProxyResponse{StatusCode: http.StatusOK, Body: "late"}, nil
	}
	for name, fn := range map[string]RESTFunc{"gives up": waits, "answers late": late} {
		status, body := restGet(t, Config{REST: map[string]RESTFunc{"GET /r": fn}, integrationTimeout: timeout}, "")
		if status != http.StatusGatewayTimeout || body != `{"message":"Endpoint request timed out"}` {
			t.Errorf("a function that %s: %d %s, want 504 and API Gateway's body", name, status, body)
		}
	}

	var ts *testServer
	ts = startServer(t, Config{integrationTimeout: timeout, WebSocket: map[string]WebSocketFunc{
		"$default": func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			if ev.Body == "slow" {
				<-ctx.Done()
				return events.APIGatewayProxyResponse{}, ctx.Err()
			}
			return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, ts.g.hub.Post(ctx, ev.RequestContext.ConnectionID, []byte(ev.Body))
		},
	}})
	c := dialRaw(t, ts, 0)
	c.write(rawFrame(true, ws.OpText, 4, false, []byte("slow")))
	f, err := c.next()
	if err != nil || f.Header.OpCode != ws.OpText || !strings.Contains(string(f.Payload), `"internal"`) {
		t.Fatalf("a route past the timeout: %v %q, want an error frame", err, f.Payload)
	}
	c.echo("still routed")
}
