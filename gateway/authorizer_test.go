package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// TestAuthorizerGuardsREST checks the emulated authorizer against API
// Gateway's rules: "Unauthorized" is 401, a policy that does not allow the
// method 403, a bad context 500, preflights skip it, and the integration
// gets the context with principalId in requestContext.authorizer.
func TestAuthorizerGuardsREST(t *testing.T) {
	allow := func(resource string) events.APIGatewayCustomAuthorizerPolicy {
		return events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17", Statement: []events.IAMPolicyStatement{
			{Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{resource}},
		}}
	}
	for _, tc := range []struct {
		name   string
		resp   events.APIGatewayCustomAuthorizerResponse
		err    error
		status int
	}{
		{"unauthorized", events.APIGatewayCustomAuthorizerResponse{}, errors.New("Unauthorized"), 401},
		{"failed", events.APIGatewayCustomAuthorizerResponse{}, errors.New("boom"), 500},
		{"no statement", events.APIGatewayCustomAuthorizerResponse{PrincipalID: "u"}, nil, 403},
		{"other method", events.APIGatewayCustomAuthorizerResponse{PrincipalID: "u", PolicyDocument: allow("arn:aws:execute-api:*:*:*/dev/PUT/chat")}, nil, 403},
		{"explicit deny", events.APIGatewayCustomAuthorizerResponse{PrincipalID: "u", PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{Statement: []events.IAMPolicyStatement{
			{Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{"*"}},
			{Action: []string{"execute-api:Invoke"}, Effect: "Deny", Resource: []string{"arn:aws:execute-api:*:*:*/dev/GET/*"}},
		}}}, nil, 403},
		{"object in context", events.APIGatewayCustomAuthorizerResponse{PrincipalID: "u", PolicyDocument: allow("*"), Context: map[string]any{"rooms": []string{"a"}}}, nil, 500},
		{"allowed", events.APIGatewayCustomAuthorizerResponse{PrincipalID: "u1", PolicyDocument: allow("arn:aws:execute-api:us-east-1:*:local-rest/dev/*"), Context: map[string]any{"user_id": "u1", "n": 1.0, "b": true}}, nil, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got events.APIGatewayProxyRequest
			var authorizerCalls int
			g := New(Config{
				GatewayResponses: templateResponses(),
				REST: map[string]RESTFunc{"GET /chat": func(_ context.Context, e events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
					got = e
					return events.APIGatewayProxyResponse{StatusCode: 200}, nil
				}},
				Authorizer: func(_ context.Context, e events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
					authorizerCalls++
					if e.Type != "REQUEST" || e.MethodArn != "arn:aws:execute-api:us-east-1:000000000000:local-rest/dev/GET/chat" ||
						e.HTTPMethod != "GET" || e.Resource != "/chat" || e.Headers["Authorization"] != "Bearer t" || e.QueryStringParameters["room_id"] != "r" {
						t.Errorf("authorizer event = %+v", e)
					}
					return tc.resp, tc.err
				},
			})
			req := httptest.NewRequest(http.MethodGet, "/chat?room_id=r", nil)
			req.Header.Set("Authorization", "Bearer t")
			w := httptest.NewRecorder()
			g.ServeHTTP(w, req)
			if w.Code != tc.status {
				t.Fatalf("status %d %s, want %d", w.Code, w.Body, tc.status)
			}
			if tc.status != 200 {
				if got.HTTPMethod != "" {
					t.Error("the integration ran for a refused request")
				}
				if !strings.Contains(w.Body.String(), `"error"`) || w.Header().Get("Access-Control-Allow-Origin") != "*" {
					t.Errorf("refusal %q without the JSON error body or CORS header", w.Body)
				}
				return
			}
			a := got.RequestContext.Authorizer
			if a["principalId"] != "u1" || a["user_id"] != "u1" || a["n"] != 1.0 || a["b"] != true || a["integrationLatency"] == nil {
				t.Errorf("requestContext.authorizer = %v", a)
			}

			// A preflight never runs the authorizer.
			authorizerCalls = 0
			w = httptest.NewRecorder()
			g.ServeHTTP(w, httptest.NewRequest(http.MethodOptions, "/chat", nil))
			if w.Code != http.StatusNoContent || authorizerCalls != 0 {
				t.Errorf("OPTIONS: %d with %d authorizer calls, want 204 and none", w.Code, authorizerCalls)
			}
		})
	}
}

// TestWebSocketAuthorizerAnswerBounded: as on API Gateway, a WebSocket
// authorizer's answer over 8 KB fails the handshake (500) before $connect
// runs; one within it opens the socket.
func TestWebSocketAuthorizerAnswerBounded(t *testing.T) {
	for _, tc := range []struct {
		name    string
		context int // bytes of one context value
		status  int
	}{
		{"within 8 KB", 7 << 10, http.StatusSwitchingProtocols},
		{"over 8 KB", 9 << 10, http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var connects atomic.Int32
			g := New(Config{
				WebSocket: map[string]WebSocketFunc{"$connect": func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
					connects.Add(1)
					return events.APIGatewayProxyResponse{StatusCode: 200}, nil
				}},
				Authorizer: func(context.Context, events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
					return events.APIGatewayCustomAuthorizerResponse{PrincipalID: "u", PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
						Version:   "2012-10-17",
						Statement: []events.IAMPolicyStatement{{Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{"*"}}},
					}, Context: map[string]any{"rooms": strings.Repeat("r", tc.context)}}, nil
				},
			})
			srv := httptest.NewServer(g)
			t.Cleanup(func() { srv.CloseClientConnections(); srv.Close(); g.Close() })
			conn, resp, _ := handshake(t, strings.TrimPrefix(srv.URL, "http://"), "", upgradeRequest("GET", "HTTP/1.1", testKey, "13"))
			if conn != nil {
				defer conn.Close()
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("%s, want %d", resp.Status, tc.status)
			}
			if want := map[bool]int{true: 1, false: 0}[tc.status == http.StatusSwitchingProtocols]; int(connects.Load()) != want {
				t.Errorf("$connect ran %d times, want %d", connects.Load(), want)
			}
		})
	}
}
