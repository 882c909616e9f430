package handler_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/protocol"
)

// The fuzz targets feed hostile input to the functions as API Gateway would
// deliver it. Whatever comes in, a function answers 2xx or 4xx with the JSON
// error, never 5xx, never a panic, and stores only valid messages.
// `make test` runs each briefly; `go test -fuzz=FuzzX ./handler` runs longer.

// checkAnswer fails on a 5xx or on a 4xx whose body is not the JSON error.
func checkAnswer(t *testing.T, what string, resp events.APIGatewayProxyResponse, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: function failed: %v", what, err)
	}
	if resp.StatusCode >= 500 {
		t.Fatalf("%s: %d %s", what, resp.StatusCode, resp.Body)
	}
	if resp.StatusCode >= 400 {
		var body protocol.ErrorBody
		if json.Unmarshal([]byte(resp.Body), &body) != nil || body.Error.Code == "" || body.Error.Message == "" {
			t.Fatalf("%s: %d with body %q, want the JSON error", what, resp.StatusCode, resp.Body)
		}
	}
}

func FuzzPutMessage(f *testing.F) {
	for _, seed := range []string{
		`{"room_id":"r","text":"hi","user_id":"u","name":"n"}`,
		`{"room_id":"r","text":"hi","user_id":42}`,
		`{"room_id":"r","text":"hi","user_id":"u","idempotency_key":"k-1"}`,
		`{"room_id":"<script>","text":"x","user_id":"u"}`,
		`{"room_id":"r","text":"   ","user_id":"u"}`,
		`{"room_id":"r","text":"\u0000\ud800","user_id":"u"}`,
		`{"room_id":["r"],"text":{},"user_id":null}`,
		`[]`, `null`, `"str"`, `{`, ``, "\xff\xfe",
	} {
		f.Add(seed, false)
	}
	f.Add("eyJyb29tX2lkIjoiciIsInRleHQiOiJoaSIsInVzZXJfaWQiOiJ1In0=", true)
	f.Add("!!not base64!!", true)
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, body string, base64 bool) {
		resp, err := e.h.PutMessage(context.Background(), events.APIGatewayProxyRequest{
			HTTPMethod: "PUT", Body: body, IsBase64Encoded: base64,
		})
		checkAnswer(t, "PUT", resp, err)
		if resp.StatusCode != 200 {
			return
		}
		var out struct{ Message chatapp.Message }
		if err := json.Unmarshal([]byte(resp.Body), &out); err != nil {
			t.Fatalf("200 with body %q: %v", resp.Body, err)
		}
		if err := out.Message.Validate(); err != nil {
			t.Fatalf("stored an invalid message %+v: %v", out.Message, err)
		}
	})
}

func FuzzGetMessages(f *testing.F) {
	f.Add("r", "10", "", "")
	f.Add("", "", "", "")
	f.Add("r", "-1", "01J0000000000000000000000", "")
	f.Add("r", "1001", "", "zz")
	f.Add("r\x00", "1e3", "01J00000000000000000000000", "01J00000000000000000000000")
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, room, limit, cursor, after string) {
		q := map[string]string{}
		for k, v := range map[string]string{"room_id": room, "limit": limit, "cursor": cursor, "after": after} {
			if v != "" {
				q[k] = v
			}
		}
		if len(q) == 0 {
			q = nil // as API Gateway sends no query string
		}
		resp, err := e.h.GetMessages(context.Background(), events.APIGatewayProxyRequest{HTTPMethod: "GET", QueryStringParameters: q})
		checkAnswer(t, "GET", resp, err)
	})
}

func FuzzWebSocketRoutes(f *testing.F) {
	f.Add("room", "user", "name", `{"action":"sendmessage","text":"hi"}`)
	f.Add("", "", "", `{"action":"sendmessage"}`)
	f.Add("r", "u", "", `{"action":"sendmessage","text":"x","idempotency_key":"bad key"}`)
	f.Add("r", "u", "\x1b[31m", "not json")
	f.Add("r:1", "u@x", "Ünïcødé", `{"action":7}`)
	e := newEnv(f)
	n := 0
	f.Fuzz(func(t *testing.T, room, user, name, frame string) {
		n++
		id := "FuzzConnection" + string(rune('A'+n%26)) + "="
		ctx := context.Background()
		connect := events.APIGatewayWebsocketProxyRequest{QueryStringParameters: map[string]string{"room_id": room, "user_id": user, "name": name}}
		connect.RequestContext.ConnectionID = id
		connect.RequestContext.RouteKey = "$connect"
		resp, err := e.h.Connect(ctx, connect)
		checkAnswer(t, "$connect", resp, err)

		msg := events.APIGatewayWebsocketProxyRequest{Body: frame}
		msg.RequestContext.ConnectionID = id
		resp, err = e.h.SendMessage(ctx, msg)
		checkAnswer(t, "sendmessage", resp, err)
		resp, err = e.h.Default(ctx, msg)
		checkAnswer(t, "$default", resp, err)

		resp, err = e.h.Disconnect(ctx, msg)
		checkAnswer(t, "$disconnect", resp, err)
	})
}
