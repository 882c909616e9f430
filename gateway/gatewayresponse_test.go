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

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/awslambda"
	"github.com/chatapp-dev/chatapp/protocol"
)

// templateResponses is awslambda.RESTGatewayResponses, the gateway
// responses of template.yaml, as chatapp serve hands them to the gateway.
func templateResponses() map[string]GatewayResponse {
	out := map[string]GatewayResponse{}
	for typ, r := range awslambda.RESTGatewayResponses {
		out[typ] = GatewayResponse(r)
	}
	return out
}

// TestGatewayResponses provokes every answer the REST API gives of its
// own and checks that each is the gateway response of its type: with
// template.yaml's table, its status and the project's error body with its
// code and message; without one, AWS's default status and
// {"message": "..."} body. Either way with the CORS header.
func TestGatewayResponses(t *testing.T) {
	const timeout = 200 * time.Millisecond
	ok := func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: http.StatusOK, Body: "{}"}, nil
	}
	authorizer := func(_ context.Context, e events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
		allow := events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17", Statement: []events.IAMPolicyStatement{
			{Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{e.MethodArn}},
		}}
		switch e.Headers["X-Auth"] {
		case "unauthorized":
			return events.APIGatewayCustomAuthorizerResponse{}, errors.New("Unauthorized")
		case "deny":
			allow.Statement[0].Effect = "Deny"
		case "fail":
			return events.APIGatewayCustomAuthorizerResponse{}, errors.New("boom")
		case "object context":
			return events.APIGatewayCustomAuthorizerResponse{PolicyDocument: allow, Context: map[string]any{"rooms": []string{"a"}}}, nil
		}
		return events.APIGatewayCustomAuthorizerResponse{PrincipalID: "u", PolicyDocument: allow}, nil
	}
	cfg := Config{
		REST: map[string]RESTFunc{
			"GET /chat": ok,
			"PUT /chat": ok,
			"GET /fail": func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
				return events.APIGatewayProxyResponse{}, errors.New("the function failed")
			},
			"GET /slow": func(ctx context.Context, _ events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
				<-ctx.Done()
				return events.APIGatewayProxyResponse{}, ctx.Err()
			},
		},
		Authorizer:         authorizer,
		MaxBodyBytes:       64,
		integrationTimeout: timeout,
	}
	requests := []struct {
		name, typ, method, path, auth, body string
		chunked                             bool
	}{
		{"unknown resource", ResponseMissingAuthenticationToken, "GET", "/chat/zzz", "", "", false},
		{"unknown resource, preflight", ResponseMissingAuthenticationToken, "OPTIONS", "/chat/zzz", "", "", false},
		{"unknown method", ResponseMissingAuthenticationToken, "DELETE", "/chat", "", "", false},
		{"unknown path, no fallback", ResponseMissingAuthenticationToken, "GET", "/elsewhere/page.html", "", "", false},
		{"no token", ResponseUnauthorized, "GET", "/chat", "unauthorized", "", false},
		{"denied", ResponseAccessDenied, "GET", "/chat", "deny", "", false},
		{"authorizer failed", ResponseAuthorizerFailure, "GET", "/chat", "fail", "", false},
		{"authorizer's context an object", ResponseAuthorizerConfigurationError, "GET", "/chat", "object context", "", false},
		{"body declared too large", ResponseRequestTooLarge, "PUT", "/chat", "", strings.Repeat("a", 65), false},
		{"chunked body too large", ResponseRequestTooLarge, "PUT", "/chat", "", strings.Repeat("a", 65), true},
		{"function failed", ResponseIntegrationFailure, "GET", "/fail", "", "", false},
		{"function timed out", ResponseIntegrationTimeout, "GET", "/slow", "", "", false},
	}
	seen := map[string]bool{}
	for _, table := range []string{"template", "none"} {
		t.Run(table, func(t *testing.T) {
			cfg := cfg
			if table == "template" {
				cfg.GatewayResponses = templateResponses()
			}
			ts := startServer(t, cfg)
			client := &http.Client{Timeout: rawWait}
			for _, rq := range requests {
				seen[rq.typ] = true
				var body io.Reader
				if rq.body != "" {
					body = strings.NewReader(rq.body)
					if rq.chunked {
						body = io.MultiReader(body) // no length: sent chunked
					}
				}
				req, err := http.NewRequest(rq.method, "http://"+ts.addr+rq.path, body)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("X-Auth", rq.auth)
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("%s: %v", rq.name, err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()

				want := awsDefaultResponses[rq.typ]
				wantBody, _ := chatapp.MarshalJSON(map[string]string{"message": want.Message})
				if table == "template" {
					want = GatewayResponse(awslambda.RESTGatewayResponses[rq.typ])
					wantBody = protocol.EncodeError(&chatapp.Error{Code: want.Code, Message: want.Message})
				}
				if resp.StatusCode != want.Status || string(got) != string(wantBody) {
					t.Errorf("%s: %d %s, want %s's %d %s", rq.name, resp.StatusCode, got, rq.typ, want.Status, wantBody)
				}
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("%s: Content-Type %q", rq.name, ct)
				}
				if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
					t.Errorf("%s: no Access-Control-Allow-Origin: *", rq.name)
				}
				if resp.Header.Get("Allow") != "" {
					t.Errorf("%s: an Allow header, which API Gateway does not send", rq.name)
				}
			}
		})
	}
	// Every type the gateway answers with is provoked above.
	for typ := range awsDefaultResponses {
		if !seen[typ] {
			t.Errorf("no request provokes %s", typ)
		}
	}
}
