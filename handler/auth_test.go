package handler_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/auth"
	"github.com/chatapp-dev/chatapp/handler"
)

var testSecret = []byte("handler-test-secret-0123456789abcdef")

// newAuthEnv is newEnv with auth on: a real HS256 verifier and RequireAuth.
func newAuthEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	v, err := auth.NewVerifier(context.Background(), auth.Config{Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	e.h.Tokens, e.h.RequireAuth = v, true
	return e
}

func token(t *testing.T, id chatapp.Identity, ttl time.Duration) string {
	t.Helper()
	s, err := (&auth.Issuer{Secret: testSecret}).Issue(id, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const (
	restMethodArn    = "arn:aws:execute-api:us-east-1:123456789012:abc123/dev/PUT/chat"
	connectMethodArn = "arn:aws:execute-api:us-east-1:123456789012:ws456/dev/$connect"
)

func authorizerRequest(methodArn string, headers, query map[string]string) events.APIGatewayCustomAuthorizerRequestTypeRequest {
	return events.APIGatewayCustomAuthorizerRequestTypeRequest{
		Type: "REQUEST", MethodArn: methodArn, Headers: headers, QueryStringParameters: query,
		RequestContext: events.APIGatewayCustomAuthorizerRequestTypeRequestContext{Stage: "dev", RequestID: "req-1"},
	}
}

// authorizerContext runs the authorizer on a token and returns what API
// Gateway then puts in the integration's requestContext.authorizer: the
// context, principalId and integrationLatency.
func (e *env) authorizerContext(t *testing.T, token string) map[string]any {
	t.Helper()
	resp, err := e.h.Authorize(context.Background(), authorizerRequest(restMethodArn, map[string]string{"Authorization": "Bearer " + token}, nil))
	if err != nil {
		t.Fatalf("Authorize: %v", err)
	}
	c := maps.Clone(resp.Context)
	c["principalId"] = resp.PrincipalID
	c["integrationLatency"] = 3
	return c
}

func TestAuthorizeAllowsAValidToken(t *testing.T) {
	e := newAuthEnv(t)
	tok := token(t, chatapp.Identity{UserID: "ada", Name: "Ada", Rooms: []string{"lobby", "ops"}}, time.Hour)
	for name, req := range map[string]events.APIGatewayCustomAuthorizerRequestTypeRequest{
		"header": authorizerRequest(restMethodArn, map[string]string{"authorization": "Bearer " + tok}, nil),
		"query":  authorizerRequest(connectMethodArn, map[string]string{"Host": "x"}, map[string]string{"token": tok, "room_id": "lobby"}),
	} {
		t.Run(name, func(t *testing.T) {
			resp, err := e.h.Authorize(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.PrincipalID != "ada" {
				t.Errorf("principalId = %q, want ada", resp.PrincipalID)
			}
			// One policy for the whole stage, so that API Gateway's cached
			// answer for one route does not deny the others.
			wantResource := req.MethodArn[:strings.Index(req.MethodArn, "/dev/")] + "/dev/*"
			stmts := resp.PolicyDocument.Statement
			if len(stmts) != 1 || stmts[0].Effect != "Allow" || len(stmts[0].Action) != 1 || stmts[0].Action[0] != "execute-api:Invoke" ||
				len(stmts[0].Resource) != 1 || stmts[0].Resource[0] != wantResource {
				t.Errorf("policy = %+v, want Allow execute-api:Invoke on %s", resp.PolicyDocument, wantResource)
			}
			wantExpiry(t, resp.Context, time.Hour)
			want := map[string]any{"user_id": "ada", "name": "Ada", "rooms": `["lobby","ops"]`, "exp": resp.Context["exp"]}
			if !maps.Equal(resp.Context, want) {
				t.Errorf("context = %v, want %v", resp.Context, want)
			}
			for k, v := range resp.Context {
				if _, ok := v.(string); !ok {
					t.Errorf("context %s is a %T: API Gateway takes only strings, numbers and booleans", k, v)
				}
			}
		})
	}
	t.Run("no rooms claim", func(t *testing.T) {
		tok := token(t, chatapp.Identity{UserID: "bob"}, time.Hour)
		resp, err := e.h.Authorize(context.Background(), authorizerRequest(restMethodArn, nil, map[string]string{"token": tok}))
		if err != nil {
			t.Fatal(err)
		}
		wantExpiry(t, resp.Context, time.Hour)
		if want := map[string]any{"user_id": "bob", "exp": resp.Context["exp"]}; !maps.Equal(resp.Context, want) {
			t.Errorf("context = %v, want %v", resp.Context, want)
		}
	})
}

func TestAuthorizeRefusesBadTokens(t *testing.T) {
	e := newAuthEnv(t)
	expired, err := (&auth.Issuer{Secret: testSecret, Now: func() time.Time { return time.Now().Add(-3 * time.Hour) }}).Issue(chatapp.Identity{UserID: "ada"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := (&auth.Issuer{Secret: []byte("not-the-server-secret-0123456789abc")}).Issue(chatapp.Identity{UserID: "ada"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for name, req := range map[string]events.APIGatewayCustomAuthorizerRequestTypeRequest{
		"no token":    authorizerRequest(restMethodArn, map[string]string{"Host": "x"}, nil),
		"not bearer":  authorizerRequest(restMethodArn, map[string]string{"Authorization": "Basic " + forged}, nil),
		"expired":     authorizerRequest(restMethodArn, map[string]string{"Authorization": "Bearer " + expired}, nil),
		"forged":      authorizerRequest(connectMethodArn, nil, map[string]string{"token": forged}),
		"garbage":     authorizerRequest(connectMethodArn, nil, map[string]string{"token": "abc.def.ghi"}),
		"empty query": authorizerRequest(connectMethodArn, nil, map[string]string{"token": ""}),
	} {
		t.Run(name, func(t *testing.T) {
			resp, err := e.h.Authorize(context.Background(), req)
			// API Gateway answers 401 only for this exact error message.
			if err == nil || err.Error() != "Unauthorized" || !errors.Is(err, handler.ErrUnauthorized) {
				t.Fatalf("Authorize = %+v, %v; want the error Unauthorized", resp, err)
			}
		})
	}
	for _, tok := range []string{expired, forged} {
		if strings.Contains(e.logs.String(), tok) {
			t.Errorf("the log holds a token:\n%s", e.logs.String())
		}
	}
}

func TestAuthorizeWithoutVerifierFails(t *testing.T) {
	e := newEnv(t)
	e.h.Logger = nil // the error it logs is expected
	_, err := e.h.Authorize(context.Background(), authorizerRequest(restMethodArn, map[string]string{"Authorization": "Bearer x"}, nil))
	if err == nil || errors.Is(err, handler.ErrUnauthorized) {
		t.Fatalf("Authorize without a verifier = %v, want an error other than Unauthorized (API Gateway's 500)", err)
	}
}

func authREST(method, path, rawQuery, body string, authorizer map[string]any) events.APIGatewayProxyRequest {
	req := restRequest(method, path, rawQuery, body)
	req.RequestContext.Authorizer = authorizer
	return req
}

func authWS(route, connectionID, rawQuery, body string, authorizer map[string]any) events.APIGatewayWebsocketProxyRequest {
	req := wsRequest(route, connectionID, rawQuery, body)
	if authorizer != nil {
		req.RequestContext.Authorizer = authorizer
	}
	return req
}

func TestRequireAuthREST(t *testing.T) {
	e := newAuthEnv(t)
	ctx := context.Background()
	ada := e.authorizerContext(t, token(t, chatapp.Identity{UserID: "ada", Name: "Ada", Rooms: []string{"lobby"}}, time.Hour))

	put := func(body string, authz map[string]any) events.APIGatewayProxyResponse {
		t.Helper()
		resp, err := e.h.PutMessage(ctx, authREST("PUT", "/chat", "", body, authz))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	checkError(t, put(`{"room_id":"lobby","text":"hi","user_id":"ada"}`, nil), 401, chatapp.EUNAUTHORIZED)
	checkError(t, put(`{"room_id":"lobby","text":"hi","user_id":"mallory"}`, ada), 403, chatapp.EFORBIDDEN)
	checkError(t, put(`{"room_id":"lobby","text":"hi","user_id":42}`, ada), 403, chatapp.EFORBIDDEN)
	checkError(t, put(`{"room_id":"ops","text":"hi","user_id":"ada"}`, ada), 403, chatapp.EFORBIDDEN)
	// Ids that are not ids are refused as such, and never quoted back: a
	// client cannot make an answer or a log line as large as its body.
	huge := strings.Repeat("B", 60000)
	for _, body := range []string{
		`{"room_id":"lobby","text":"hi","user_id":"` + huge + `"}`,
		`{"room_id":"` + huge + `","text":"hi","user_id":"ada"}`,
	} {
		resp := put(body, ada)
		checkError(t, resp, 400, chatapp.EINVALID)
		if len(resp.Body) > 200 {
			t.Errorf("the answer to a 60 KB id is %d bytes: %.80s…", len(resp.Body), resp.Body)
		}
	}
	if got := e.storedMessages(t, "lobby"); len(got) != 0 {
		t.Fatalf("refused sends stored %d messages", len(got))
	}

	// The user and name are the token's, whatever the body says; a body
	// without user_id is fine.
	for _, body := range []string{`{"room_id":"lobby","text":"one","user_id":"ada","name":"Imposter"}`, `{"room_id":"lobby","text":"two"}`} {
		checkJSON(t, put(body, ada), 200)
	}
	for _, m := range e.storedMessages(t, "lobby") {
		if m.UserID != "ada" || m.Name != "Ada" {
			t.Errorf("stored %q as %s/%s, want ada/Ada", m.Text, m.UserID, m.Name)
		}
	}

	for _, tc := range []struct {
		fn     func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error)
		path   string
		authz  map[string]any
		room   string
		status int
	}{
		{e.h.GetMessages, "/chat", nil, "lobby", 401},
		{e.h.GetMessages, "/chat", ada, "ops", 403},
		{e.h.GetMessages, "/chat", ada, "lobby", 200},
		{e.h.GetUsers, "/chat/users", nil, "lobby", 401},
		{e.h.GetUsers, "/chat/users", ada, "ops", 403},
		{e.h.GetUsers, "/chat/users", ada, "lobby", 200},
	} {
		resp, err := tc.fn(ctx, authREST("GET", tc.path, "room_id="+tc.room, "", tc.authz))
		if err != nil {
			t.Fatal(err)
		}
		if tc.status == 200 {
			checkJSON(t, resp, 200)
		} else {
			checkError(t, resp, tc.status, map[int]string{401: chatapp.EUNAUTHORIZED, 403: chatapp.EFORBIDDEN}[tc.status])
		}
	}
}

func TestRequireAuthWebSocket(t *testing.T) {
	e := newAuthEnv(t)
	ctx := context.Background()
	ada := e.authorizerContext(t, token(t, chatapp.Identity{UserID: "ada", Name: "Ada", Rooms: []string{"lobby"}}, time.Hour))
	connect := func(id, q string, authz map[string]any) events.APIGatewayProxyResponse {
		t.Helper()
		resp, err := e.h.Connect(ctx, authWS("$connect", id, q, "", authz))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	checkError(t, connect("c1", "room_id=lobby&user_id=ada", nil), 401, chatapp.EUNAUTHORIZED)
	checkError(t, connect("c1", "room_id=lobby&user_id=mallory", ada), 403, chatapp.EFORBIDDEN)
	checkError(t, connect("c1", "room_id=ops", ada), 403, chatapp.EFORBIDDEN)
	if _, err := e.db.FindConnection(ctx, "c1"); chatapp.ErrorCode(err) != chatapp.ENOTFOUND {
		t.Fatalf("a refused $connect stored its connection: %v", err)
	}

	if resp := connect("c1", "room_id=lobby&name=Imposter", ada); resp.StatusCode != 200 {
		t.Fatalf("$connect with a good identity: %d %s", resp.StatusCode, resp.Body)
	}
	c, err := e.db.FindConnection(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if c.UserID != "ada" || c.Name != "Ada" {
		t.Errorf("connection stored as %s/%s, want the token's ada/Ada", c.UserID, c.Name)
	}

	// sendmessage sends as the connection's user; the frame cannot rename.
	e.ws(t, e.h.SendMessage, "sendmessage", "c1", "", `{"action":"sendmessage","text":"hello","name":"Imposter"}`)
	got := e.storedMessages(t, "lobby")
	if len(got) != 1 || got[0].UserID != "ada" || got[0].Name != "Ada" {
		t.Fatalf("stored %+v, want one message by ada/Ada", got)
	}
}

// TestRequireAuthAfterJSON runs the authorizer's context through JSON, as it
// reaches a function on Lambda.
func TestRequireAuthAfterJSON(t *testing.T) {
	e := newAuthEnv(t)
	ada := e.authorizerContext(t, token(t, chatapp.Identity{UserID: "ada", Rooms: []string{"lobby"}}, time.Hour))
	data, err := json.Marshal(authWS("$connect", "c9", "room_id=ops", "", ada))
	if err != nil {
		t.Fatal(err)
	}
	var req events.APIGatewayWebsocketProxyRequest
	if err := json.Unmarshal(data, &req); err != nil {
		t.Fatal(err)
	}
	resp, err := e.h.Connect(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	checkError(t, resp, 403, chatapp.EFORBIDDEN)
}

func TestAuthOffKeepsClientIdentity(t *testing.T) {
	e := newEnv(t)
	// An authorizer context is ignored while RequireAuth is off.
	authz := map[string]any{"user_id": "someone-else", "rooms": `[]`}
	resp, err := e.h.PutMessage(context.Background(), authREST("PUT", "/chat", "", `{"room_id":"lobby","text":"hi","user_id":"42","name":"Ada"}`, authz))
	if err != nil {
		t.Fatal(err)
	}
	checkJSON(t, resp, 200)
	if got := e.storedMessages(t, "lobby"); len(got) != 1 || got[0].UserID != "42" || got[0].Name != "Ada" {
		t.Errorf("stored %+v, want the client's 42/Ada", got)
	}
}

// wantExpiry checks the context's exp: the token's expiry, ttl from now, in
// Unix seconds as a string.
func wantExpiry(t *testing.T, c map[string]any, ttl time.Duration) {
	t.Helper()
	s, _ := c[handler.AuthorizerExpires].(string)
	sec, err := strconv.ParseInt(s, 10, 64)
	if want := time.Now().Add(ttl).Unix(); err != nil || sec < want-60 || sec > want+60 {
		t.Errorf("context exp = %v, want the token's expiry (about %d) as a string", c[handler.AuthorizerExpires], want)
	}
}
