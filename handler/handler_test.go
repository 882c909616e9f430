package handler_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/handler"
	"github.com/chatapp-dev/chatapp/hub"
	"github.com/chatapp-dev/chatapp/internal/logtest"
	"github.com/chatapp-dev/chatapp/sqlite"
	"github.com/chatapp-dev/chatapp/storetest"
)

// env is a handler wired as `chatapp serve` wires it: the real store, and a
// hub as its Notifier and RoomIndex (no sockets, so a broadcast reaches
// nobody).
type env struct {
	h    *handler.Handler
	db   *sqlite.DB
	logs *logtest.Buffer
}

// clockStart is the handler's clock at the start of a test; every reading
// advances it by a millisecond so connection order is deterministic.
var clockStart = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func newEnv(t testing.TB) *env {
	t.Helper()
	db, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	logs := &logtest.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sockets := hub.New(logger)
	var mu sync.Mutex
	now := clockStart
	h := &handler.Handler{
		Messages:    db,
		Connections: db,
		Notifier:    sockets,
		Rooms:       sockets,
		Logger:      logger,
		Now: func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			now = now.Add(time.Millisecond)
			return now
		},
	}
	// None of the inputs in these tests may cause an internal error.
	t.Cleanup(func() {
		if s := logs.String(); strings.Contains(s, "level=ERROR") {
			t.Errorf("handler logged an error:\n%s", s)
		}
	})
	return &env{h: h, db: db, logs: logs}
}

// restRequest builds the event API Gateway sends for a REST request: no
// query string gives nil parameter maps.
func restRequest(method, path, rawQuery, body string) events.APIGatewayProxyRequest {
	req := events.APIGatewayProxyRequest{
		Resource:   path,
		Path:       path,
		HTTPMethod: method,
		Headers:    map[string]string{"Host": "abc123.execute-api.us-east-1.amazonaws.com", "Accept": "*/*"},
		MultiValueHeaders: map[string][]string{
			"Host": {"abc123.execute-api.us-east-1.amazonaws.com"}, "Accept": {"*/*"},
		},
		Body: body,
		RequestContext: events.APIGatewayProxyRequestContext{
			Stage: "dev", ResourcePath: path, HTTPMethod: method, RequestID: "req-1",
		},
	}
	if body != "" {
		req.Headers["Content-Type"] = "application/json"
		req.MultiValueHeaders["Content-Type"] = []string{"application/json"}
	}
	if rawQuery != "" {
		values, err := url.ParseQuery(rawQuery)
		if err != nil {
			panic(err)
		}
		req.QueryStringParameters = map[string]string{}
		for k, vs := range values {
			req.QueryStringParameters[k] = vs[len(vs)-1]
		}
		req.MultiValueQueryStringParameters = values
	}
	return req
}

func wsRequest(route, connectionID, rawQuery, body string) events.APIGatewayWebsocketProxyRequest {
	eventType := map[string]string{"$connect": "CONNECT", "$disconnect": "DISCONNECT"}[route]
	if eventType == "" {
		eventType = "MESSAGE"
	}
	req := events.APIGatewayWebsocketProxyRequest{
		Body: body,
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{
			Stage: "dev", RouteKey: route, EventType: eventType, ConnectionID: connectionID,
			MessageDirection: "IN", RequestID: "req-1",
		},
	}
	if rawQuery != "" {
		values, err := url.ParseQuery(rawQuery)
		if err != nil {
			panic(err)
		}
		req.QueryStringParameters = map[string]string{}
		for k, vs := range values {
			req.QueryStringParameters[k] = vs[len(vs)-1]
		}
		req.MultiValueQueryStringParameters = values
	}
	return req
}

func (e *env) get(t *testing.T, rawQuery string) events.APIGatewayProxyResponse {
	t.Helper()
	resp, err := e.h.GetMessages(context.Background(), restRequest("GET", "/chat", rawQuery, ""))
	if err != nil {
		t.Fatalf("GetMessages(%q) returned an error: %v", rawQuery, err)
	}
	return resp
}

func (e *env) put(t *testing.T, body string, base64Encoded bool) events.APIGatewayProxyResponse {
	t.Helper()
	req := restRequest("PUT", "/chat", "", body)
	req.IsBase64Encoded = base64Encoded
	resp, err := e.h.PutMessage(context.Background(), req)
	if err != nil {
		t.Fatalf("PutMessage(%.80q) returned an error: %v", body, err)
	}
	return resp
}

func (e *env) users(t *testing.T, rawQuery string) events.APIGatewayProxyResponse {
	t.Helper()
	resp, err := e.h.GetUsers(context.Background(), restRequest("GET", "/chat/users", rawQuery, ""))
	if err != nil {
		t.Fatalf("GetUsers(%q) returned an error: %v", rawQuery, err)
	}
	return resp
}

type wsFunc func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error)

func (e *env) ws(t *testing.T, fn wsFunc, route, connectionID, rawQuery, body string) events.APIGatewayProxyResponse {
	t.Helper()
	resp, err := fn(context.Background(), wsRequest(route, connectionID, rawQuery, body))
	if err != nil {
		t.Fatalf("%s returned an error: %v", route, err)
	}
	return resp
}

func (e *env) connect(t *testing.T, connectionID, rawQuery string) events.APIGatewayProxyResponse {
	t.Helper()
	return e.ws(t, e.h.Connect, "$connect", connectionID, rawQuery, "")
}

// checkJSON asserts a REST response's status, headers and encoding, and
// returns its body.
func checkJSON(t *testing.T, resp events.APIGatewayProxyResponse, status int) []byte {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, status, resp.Body)
	}
	if got := resp.Headers["Content-Type"]; got != "application/json; charset=utf-8" {
		t.Errorf("Content-Type = %q", got)
	}
	if got := resp.Headers["Access-Control-Allow-Origin"]; got != "*" {
		t.Errorf("Access-Control-Allow-Origin = %q", got)
	}
	// A page on another origin reads Retry-After only when it is exposed.
	if got := resp.Headers["Access-Control-Expose-Headers"]; !strings.Contains(got, "Retry-After") {
		t.Errorf("Access-Control-Expose-Headers = %q, want Retry-After among them", got)
	}
	if resp.IsBase64Encoded {
		t.Error("IsBase64Encoded = true for a JSON body")
	}
	if !json.Valid([]byte(resp.Body)) {
		t.Fatalf("body is not JSON: %s", resp.Body)
	}
	return []byte(resp.Body)
}

// checkError asserts an error response: its status, never 5xx, and the body
// {"error":{"code":code,"message":"..."}}.
func checkError(t *testing.T, resp events.APIGatewayProxyResponse, status int, code string) {
	t.Helper()
	if resp.StatusCode >= 500 {
		t.Fatalf("status %d for a bad input; body %s", resp.StatusCode, resp.Body)
	}
	body := checkJSON(t, resp, status)
	var e map[string]map[string]string
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %s: %v", body, err)
	}
	if len(e) != 1 || e["error"]["code"] != code || e["error"]["message"] == "" || len(e["error"]) != 2 {
		t.Fatalf("error body = %s, want code %q and a message", body, code)
	}
}

type historyBody struct {
	Messages   []chatapp.Message `json:"messages"`
	NextCursor *string           `json:"next_cursor"`
	HasMore    bool              `json:"has_more"`
}

func decodeHistory(t *testing.T, resp events.APIGatewayProxyResponse) historyBody {
	t.Helper()
	body := checkJSON(t, resp, 200)
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	if string(raw["messages"]) == "null" || raw["messages"] == nil {
		t.Fatalf("messages is not an array: %s", body)
	}
	if c, ok := raw["next_cursor"]; ok && string(c) == `""` {
		t.Errorf("next_cursor present but empty: %s", body)
	}
	var h historyBody
	if err := json.Unmarshal(body, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// storedMessages reads a room's whole history from the store.
func (e *env) storedMessages(t *testing.T, room string) []*chatapp.Message {
	t.Helper()
	page, err := e.db.FindMessages(context.Background(), chatapp.MessageFilter{RoomID: room, Limit: chatapp.MaxHistoryLimit})
	if err != nil {
		t.Fatal(err)
	}
	return page.Messages
}

// putMessages sends texts through PUT /chat and returns the stored messages.
func (e *env) putMessages(t *testing.T, room string, texts ...string) []chatapp.Message {
	t.Helper()
	var out []chatapp.Message
	for _, text := range texts {
		b, _ := json.Marshal(map[string]string{"room_id": room, "user_id": "u1", "name": "Alice", "text": text})
		var body struct {
			Message chatapp.Message `json:"message"`
		}
		if err := json.Unmarshal(checkJSON(t, e.put(t, string(b), false), 200), &body); err != nil {
			t.Fatal(err)
		}
		out = append(out, body.Message)
	}
	return out
}

func messageIDs(ms []chatapp.Message) []string {
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	return ids
}

func TestGetMessagesWithoutQuery(t *testing.T) {
	e := newEnv(t)
	req := restRequest("GET", "/chat", "", "")
	if req.QueryStringParameters != nil || req.MultiValueQueryStringParameters != nil {
		t.Fatal("test setup: query maps must be nil")
	}
	resp, err := e.h.GetMessages(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	checkError(t, resp, 400, chatapp.EINVALID)
}

func TestGetMessagesHistory(t *testing.T) {
	e := newEnv(t)

	// An empty room is an empty array, not null, and has no cursor.
	h := decodeHistory(t, e.get(t, "room_id=lobby"))
	if len(h.Messages) != 0 || h.NextCursor != nil {
		t.Fatalf("empty room: %+v", h)
	}

	sent := e.putMessages(t, "lobby", "one", "two", "three")
	e.putMessages(t, "other", "elsewhere")

	resp := e.get(t, "room_id=lobby")
	body := checkJSON(t, resp, 200)
	var raw struct {
		Messages []map[string]json.RawMessage `json:"messages"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.Messages) != 3 {
		t.Fatalf("got %d messages, want 3: %s", len(raw.Messages), body)
	}
	wantFields := []string{"id", "message", "name", "room_id", "timestamp", "user_id"}
	for i, m := range raw.Messages {
		var fields []string
		for k := range m {
			fields = append(fields, k)
		}
		slices.Sort(fields)
		if !slices.Equal(fields, wantFields) {
			t.Errorf("message %d fields = %v, want %v", i, fields, wantFields)
		}
		var ts int64
		if err := json.Unmarshal(m["timestamp"], &ts); err != nil || ts <= 0 {
			t.Errorf("message %d timestamp %s is not a positive number", i, m["timestamp"])
		}
	}
	h = decodeHistory(t, resp)
	if h.NextCursor != nil {
		t.Errorf("next_cursor %q with nothing older", *h.NextCursor)
	}
	for i, want := range []string{"one", "two", "three"} {
		m := h.Messages[i]
		if m.Text != want || m.RoomID != "lobby" || m.UserID != "u1" || m.Name != "Alice" || m.ID != sent[i].ID || m.Timestamp != sent[i].Timestamp {
			t.Errorf("message %d = %+v, want text %q as sent %+v", i, m, want, sent[i])
		}
	}
	if !slices.IsSorted(messageIDs(h.Messages)) {
		t.Error("messages are not oldest first")
	}
}

func TestGetMessagesCursor(t *testing.T) {
	e := newEnv(t)
	sent := e.putMessages(t, "lobby", "m0", "m1", "m2", "m3", "m4")
	ids := messageIDs(sent)

	// Exactly all messages: no cursor.
	if h := decodeHistory(t, e.get(t, "room_id=lobby&limit=5")); h.NextCursor != nil || !slices.Equal(messageIDs(h.Messages), ids) {
		t.Errorf("limit=5: %+v", h)
	}

	var got [][]string
	query := "room_id=lobby&limit=2"
	for range 5 {
		h := decodeHistory(t, e.get(t, query))
		got = append(got, messageIDs(h.Messages))
		if h.NextCursor == nil {
			break
		}
		if *h.NextCursor != h.Messages[0].ID {
			t.Errorf("next_cursor %q is not the oldest message of the page %q", *h.NextCursor, h.Messages[0].ID)
		}
		query = "room_id=lobby&limit=2&cursor=" + url.QueryEscape(*h.NextCursor)
	}
	want := [][]string{ids[3:5], ids[1:3], ids[0:1]}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("pages = %v, want %v", got, want)
	}

	// after= reads forward and reports has_more instead of a cursor.
	h := decodeHistory(t, e.get(t, "room_id=lobby&limit=2&after="+ids[0]))
	if !slices.Equal(messageIDs(h.Messages), ids[1:3]) || !h.HasMore || h.NextCursor != nil {
		t.Errorf("after first, limit 2: %+v", h)
	}
	h = decodeHistory(t, e.get(t, "room_id=lobby&limit=2&after="+ids[2]))
	if !slices.Equal(messageIDs(h.Messages), ids[3:5]) || h.HasMore || h.NextCursor != nil {
		t.Errorf("after third, limit 2: %+v", h)
	}
}

func TestGetMessagesBadQuery(t *testing.T) {
	e := newEnv(t)
	e.putMessages(t, "lobby", "hello")
	id := storetest.MessageID(time.Now())
	tests := []string{
		"limit=10",
		"room_id=",
		"room_id=a+b",
		"room_id=%3Cscript%3E",
		"room_id=" + strings.Repeat("r", chatapp.MaxIDBytes+1),
		"room_id=lobby&limit=0",
		"room_id=lobby&limit=-1",
		"room_id=lobby&limit=abc",
		"room_id=lobby&limit=1.5",
		"room_id=lobby&limit=1001",
		"room_id=lobby&limit=99999999999999999999999",
		"room_id=lobby&cursor=garbage",
		"room_id=lobby&cursor=" + id + "X",
		"room_id=lobby&after=garbage",
		"room_id=lobby&cursor=" + id + "&after=" + id,
	}
	for _, q := range tests {
		t.Run(q[:min(len(q), 60)], func(t *testing.T) {
			checkError(t, e.get(t, q), 400, chatapp.EINVALID)
		})
	}
	// The boundaries are accepted.
	for _, q := range []string{"room_id=lobby&limit=1", "room_id=lobby&limit=1000", "room_id=lobby&limit=", "room_id=lobby&cursor=" + id} {
		decodeHistory(t, e.get(t, q))
	}
}

func TestPutMessage(t *testing.T) {
	e := newEnv(t)
	resp := e.put(t, `{"room_id":"lobby","text":"hello <world>","user_id":"u1","name":"Alice"}`, false)
	body := checkJSON(t, resp, 200)
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	if string(raw["users"]) != "[]" {
		t.Errorf("users = %s, want []", raw["users"])
	}
	if string(raw["delivered"]) != "0" {
		t.Errorf("delivered = %s, want 0", raw["delivered"])
	}
	var m chatapp.Message
	if err := json.Unmarshal(raw["message"], &m); err != nil {
		t.Fatal(err)
	}
	if !chatapp.ValidMessageID(m.ID) || m.Timestamp <= 0 {
		t.Errorf("message has id %q and timestamp %d", m.ID, m.Timestamp)
	}
	stored := e.storedMessages(t, "lobby")
	if len(stored) != 1 || *stored[0] != m {
		t.Fatalf("stored %v, response message %+v", stored, m)
	}
	if m.Text != "hello <world>" || m.UserID != "u1" || m.Name != "Alice" || m.RoomID != "lobby" {
		t.Errorf("message = %+v", m)
	}
}

func TestPutMessageUsersListsTrackedConnections(t *testing.T) {
	e := newEnv(t)
	// With no socket open, the hub has no members, so users stays an empty
	// array (never null) even though a connection row is stored.
	if resp := e.connect(t, "c1=", "room_id=lobby&user_id=u1"); resp.StatusCode != 200 {
		t.Fatalf("connect: %d %s", resp.StatusCode, resp.Body)
	}
	body := checkJSON(t, e.put(t, `{"room_id":"lobby","text":"hi","user_id":"u2"}`, false), 200)
	var out struct {
		Users     []json.RawMessage `json:"users"`
		Delivered *int              `json:"delivered"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	if out.Users == nil || out.Delivered == nil {
		t.Fatalf("users or delivered missing: %s", body)
	}
}

func TestPutMessageFlexibleInput(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		base64 bool
		room   string
		user   string
		text   string
	}{
		{"base64 body", base64.StdEncoding.EncodeToString([]byte(`{"room_id":"lobby","text":"from base64","user_id":"u1"}`)), true, "lobby", "u1", "from base64"},
		{"numeric user_id", `{"room_id":"lobby","text":"hi","user_id":12345,"name":"Unity"}`, false, "lobby", "12345", "hi"},
		{"negative numeric user_id", `{"room_id":"lobby","text":"hi","user_id":-7}`, false, "lobby", "-7", "hi"},
		{"numeric room_id", `{"room_id":42,"text":"hi","user_id":"u"}`, false, "42", "u", "hi"},
		{"unknown fields ignored", `{"room_id":"lobby","text":"hi","user_id":"u","extra":[1,2]}`, false, "lobby", "u", "hi"},
		{"unicode text", `{"room_id":"lobby","text":"こんにちは\n🌏","user_id":"u"}`, false, "lobby", "u", "こんにちは\n🌏"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			body := checkJSON(t, e.put(t, tt.body, tt.base64), 200)
			var out struct {
				Message chatapp.Message `json:"message"`
			}
			if err := json.Unmarshal(body, &out); err != nil {
				t.Fatal(err)
			}
			stored := e.storedMessages(t, tt.room)
			if len(stored) != 1 {
				t.Fatalf("room %s holds %d messages", tt.room, len(stored))
			}
			if m := stored[0]; m.UserID != tt.user || m.Text != tt.text || m.ID != out.Message.ID {
				t.Errorf("stored %+v, want user %q text %q id %q", *m, tt.user, tt.text, out.Message.ID)
			}
		})
	}
}

func TestPutMessageBadInput(t *testing.T) {
	huge := strings.Repeat("x", chatapp.MaxMessageBytes+1)
	tests := []struct {
		name   string
		body   string
		base64 bool
		status int
		code   string
	}{
		{"empty body", "", false, 400, chatapp.EINVALID},
		{"truncated JSON", `{"room_id":"bad","text":"hi"`, false, 400, chatapp.EINVALID},
		{"not JSON", `room_id=bad&text=hi`, false, 400, chatapp.EINVALID},
		{"JSON array", `[{"room_id":"bad","text":"hi","user_id":"u"}]`, false, 400, chatapp.EINVALID},
		{"JSON string", `"hello"`, false, 400, chatapp.EINVALID},
		{"JSON null", `null`, false, 400, chatapp.EINVALID},
		{"empty object", `{}`, false, 400, chatapp.EINVALID},
		{"missing room_id", `{"text":"hi","user_id":"u"}`, false, 400, chatapp.EINVALID},
		{"missing user_id", `{"room_id":"bad","text":"hi"}`, false, 400, chatapp.EINVALID},
		{"missing text", `{"room_id":"bad","user_id":"u"}`, false, 400, chatapp.EINVALID},
		{"null text", `{"room_id":"bad","user_id":"u","text":null}`, false, 400, chatapp.EINVALID},
		{"blank text", `{"room_id":"bad","text":"   ","user_id":"u"}`, false, 400, chatapp.EINVALID},
		{"whitespace text", `{"room_id":"bad","text":"\n\t ","user_id":"u"}`, false, 400, chatapp.EINVALID},
		{"text is a number", `{"room_id":"bad","text":5,"user_id":"u"}`, false, 400, chatapp.EINVALID},
		{"user_id is a bool", `{"room_id":"bad","text":"hi","user_id":true}`, false, 400, chatapp.EINVALID},
		{"user_id is an object", `{"room_id":"bad","text":"hi","user_id":{"id":1}}`, false, 400, chatapp.EINVALID},
		{"room_id with space", `{"room_id":"bad room","text":"hi","user_id":"u"}`, false, 400, chatapp.EINVALID},
		{"room_id with <", `{"room_id":"bad<","text":"hi","user_id":"u"}`, false, 400, chatapp.EINVALID},
		{"name with control char", `{"room_id":"bad","text":"hi","user_id":"u","name":"a\u0007b"}`, false, 400, chatapp.EINVALID},
		{"name too long", `{"room_id":"bad","text":"hi","user_id":"u","name":"` + strings.Repeat("n", chatapp.MaxNameRunes+1) + `"}`, false, 400, chatapp.EINVALID},
		{"huge text", `{"room_id":"bad","text":"` + huge + `","user_id":"u"}`, false, 413, chatapp.ETOOLARGE},
		{"huge body", `{"room_id":"bad","text":"hi","user_id":"u","pad":"` + strings.Repeat("p", handler.MaxBodyBytes) + `"}`, false, 413, chatapp.ETOOLARGE},
		{"bad base64", `{"room_id":"bad","text":"hi","user_id":"u"}`, true, 400, chatapp.EINVALID},
		{"base64 of garbage", base64.StdEncoding.EncodeToString([]byte{0xff, 0x00, 0xfe}), true, 400, chatapp.EINVALID},
	}
	e := newEnv(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkError(t, e.put(t, tt.body, tt.base64), tt.status, tt.code)
		})
	}
	if n := len(e.storedMessages(t, "bad")); n != 0 {
		t.Errorf("room bad holds %d messages after bad requests", n)
	}
}

func TestGetUsers(t *testing.T) {
	e := newEnv(t)
	checkError(t, e.users(t, ""), 400, chatapp.EINVALID)
	checkError(t, e.users(t, "room_id=a%20b"), 400, chatapp.EINVALID)

	body := checkJSON(t, e.users(t, "room_id=lobby"), 200)
	if string(body) != `{"users":[]}` {
		t.Errorf("empty room users = %s", body)
	}
}

func TestConnectWithoutQuery(t *testing.T) {
	e := newEnv(t)
	req := wsRequest("$connect", "c1=", "", "")
	if req.QueryStringParameters != nil {
		t.Fatal("test setup: query must be nil")
	}
	resp, err := e.h.Connect(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	checkError(t, resp, 400, chatapp.EINVALID)
	if _, err := e.db.FindConnection(context.Background(), "c1="); chatapp.ErrorCode(err) != chatapp.ENOTFOUND {
		t.Errorf("connection stored after a rejected $connect: %v", err)
	}
}

func TestConnectBadQuery(t *testing.T) {
	e := newEnv(t)
	for _, q := range []string{
		"room_id=lobby",
		"user_id=u1",
		"room_id=&user_id=u1",
		"room_id=lob+by&user_id=u1",
		"room_id=lobby&user_id=%3Cu%3E",
		"room_id=lobby&user_id=u1&name=a%0Ab",
		"room_id=" + strings.Repeat("r", chatapp.MaxIDBytes+1) + "&user_id=u1",
	} {
		t.Run(q[:min(len(q), 60)], func(t *testing.T) {
			checkError(t, e.connect(t, "c1=", q), 400, chatapp.EINVALID)
		})
	}
	if _, err := e.db.FindConnection(context.Background(), "c1="); chatapp.ErrorCode(err) != chatapp.ENOTFOUND {
		t.Errorf("connection stored after rejected $connects: %v", err)
	}
}

func TestConnectAndDisconnect(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if resp := e.connect(t, "c1=", "room_id=lobby&user_id=u1&name=Alice&events=presence"); resp.StatusCode != 200 {
		t.Fatalf("connect c1: %d %s", resp.StatusCode, resp.Body)
	}
	if resp := e.connect(t, "c2=", "room_id=lobby&user_id=u2"); resp.StatusCode != 200 {
		t.Fatalf("connect c2: %d %s", resp.StatusCode, resp.Body)
	}
	if resp := e.connect(t, "c3=", "room_id=other&user_id=u3"); resp.StatusCode != 200 {
		t.Fatalf("connect c3: %d %s", resp.StatusCode, resp.Body)
	}

	c1, err := e.db.FindConnection(ctx, "c1=")
	if err != nil {
		t.Fatal(err)
	}
	if c1.RoomID != "lobby" || c1.UserID != "u1" || c1.Name != "Alice" || !c1.Presence || c1.Timestamp <= clockStart.UnixMilli() {
		t.Errorf("stored c1 = %+v", *c1)
	}
	c2, err := e.db.FindConnection(ctx, "c2=")
	if err != nil {
		t.Fatal(err)
	}
	if c2.Presence || c2.Name != "" {
		t.Errorf("stored c2 = %+v, want no presence and no name", *c2)
	}

	body := checkJSON(t, e.users(t, "room_id=lobby"), 200)
	var out struct {
		Users []map[string]any `json:"users"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Users) != 2 {
		t.Fatalf("users = %s, want c1 and c2", body)
	}
	want0 := map[string]any{"connection_id": "c1=", "room_id": "lobby", "user_id": "u1", "name": "Alice", "timestamp": float64(c1.Timestamp)}
	want1 := map[string]any{"connection_id": "c2=", "room_id": "lobby", "user_id": "u2", "timestamp": float64(c2.Timestamp)}
	if fmt.Sprint(out.Users[0]) != fmt.Sprint(want0) || fmt.Sprint(out.Users[1]) != fmt.Sprint(want1) {
		t.Errorf("users = %v, want [%v %v]", out.Users, want0, want1)
	}

	if resp := e.ws(t, e.h.Disconnect, "$disconnect", "c1=", "", ""); resp.StatusCode != 200 {
		t.Fatalf("disconnect: %d %s", resp.StatusCode, resp.Body)
	}
	if _, err := e.db.FindConnection(ctx, "c1="); chatapp.ErrorCode(err) != chatapp.ENOTFOUND {
		t.Errorf("c1 still stored after $disconnect: %v", err)
	}
	body = checkJSON(t, e.users(t, "room_id=lobby"), 200)
	if !strings.Contains(string(body), `"c2="`) || strings.Contains(string(body), `"c1="`) {
		t.Errorf("users after c1 left = %s", body)
	}

	// A second $disconnect, or one for a connection never stored, is fine.
	for _, id := range []string{"c1=", "never-connected=", ""} {
		if resp := e.ws(t, e.h.Disconnect, "$disconnect", id, "", ""); resp.StatusCode != 200 {
			t.Errorf("disconnect %q: %d %s", id, resp.StatusCode, resp.Body)
		}
	}
	// Others are untouched.
	if _, err := e.db.FindConnection(ctx, "c3="); err != nil {
		t.Errorf("c3: %v", err)
	}
}

func TestSendMessage(t *testing.T) {
	e := newEnv(t)
	if resp := e.connect(t, "c1=", "room_id=lobby&user_id=u1&name=Alice"); resp.StatusCode != 200 {
		t.Fatalf("connect: %d %s", resp.StatusCode, resp.Body)
	}
	resp := e.ws(t, e.h.SendMessage, "sendmessage", "c1=", "", `{"action":"sendmessage","text":"hello"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("sendmessage: %d %s", resp.StatusCode, resp.Body)
	}
	resp = e.ws(t, e.h.SendMessage, "sendmessage", "c1=", "", `{"action":"sendmessage","text":"again","name":"Al"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("sendmessage with name: %d %s", resp.StatusCode, resp.Body)
	}
	stored := e.storedMessages(t, "lobby")
	if len(stored) != 2 {
		t.Fatalf("stored %d messages, want 2", len(stored))
	}
	for i, want := range []struct{ text, name string }{{"hello", "Alice"}, {"again", "Al"}} {
		m := stored[i]
		if m.RoomID != "lobby" || m.UserID != "u1" || m.Text != want.text || m.Name != want.name || !chatapp.ValidMessageID(m.ID) {
			t.Errorf("message %d = %+v, want text %q name %q from lobby/u1", i, *m, want.text, want.name)
		}
	}
	// The history read by REST shows what was sent on the socket.
	h := decodeHistory(t, e.get(t, "room_id=lobby"))
	if len(h.Messages) != 2 || h.Messages[0].Text != "hello" || h.Messages[1].Text != "again" {
		t.Errorf("history = %+v", h.Messages)
	}
}

func TestSendMessageBadInput(t *testing.T) {
	e := newEnv(t)
	if resp := e.connect(t, "c1=", "room_id=lobby&user_id=u1"); resp.StatusCode != 200 {
		t.Fatalf("connect: %d %s", resp.StatusCode, resp.Body)
	}
	tests := []struct {
		name         string
		connectionID string
		body         string
		status       int
		code         string
	}{
		{"unknown connection", "ghost=", `{"action":"sendmessage","text":"hi"}`, 404, chatapp.ENOTFOUND},
		{"empty connection id", "", `{"action":"sendmessage","text":"hi"}`, 404, chatapp.ENOTFOUND},
		{"not JSON", "c1=", `sendmessage hi`, 400, chatapp.EINVALID},
		{"truncated JSON", "c1=", `{"action":"sendmessage","text":"hi"`, 400, chatapp.EINVALID},
		{"empty frame", "c1=", ``, 400, chatapp.EINVALID},
		{"JSON array", "c1=", `["sendmessage","hi"]`, 400, chatapp.EINVALID},
		{"text is a number", "c1=", `{"action":"sendmessage","text":1}`, 400, chatapp.EINVALID},
		{"missing text", "c1=", `{"action":"sendmessage"}`, 400, chatapp.EINVALID},
		{"blank text", "c1=", `{"action":"sendmessage","text":"  \n"}`, 400, chatapp.EINVALID},
		{"bad name", "c1=", `{"action":"sendmessage","text":"hi","name":"\u0000"}`, 400, chatapp.EINVALID},
		{"huge text", "c1=", `{"action":"sendmessage","text":"` + strings.Repeat("y", chatapp.MaxMessageBytes+1) + `"}`, 413, chatapp.ETOOLARGE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.ws(t, e.h.SendMessage, "sendmessage", tt.connectionID, "", tt.body)
			checkError(t, resp, tt.status, tt.code)
		})
	}
	if n := len(e.storedMessages(t, "lobby")); n != 0 {
		t.Errorf("lobby holds %d messages after bad frames", n)
	}
}

func TestDefault(t *testing.T) {
	e := newEnv(t)
	if resp := e.connect(t, "c1=", "room_id=lobby&user_id=u1"); resp.StatusCode != 200 {
		t.Fatalf("connect: %d %s", resp.StatusCode, resp.Body)
	}
	for _, body := range []string{
		`{"action":"nosuchroute","text":"hi"}`,
		`{"action":5}`,
		`{"text":"no action"}`,
		`not json`,
		``,
		`[1,2]`,
	} {
		t.Run(body, func(t *testing.T) {
			for _, id := range []string{"c1=", "ghost="} {
				checkError(t, e.ws(t, e.h.Default, "$default", id, "", body), 400, chatapp.EINVALID)
			}
		})
	}
	if n := len(e.storedMessages(t, "lobby")); n != 0 {
		t.Errorf("$default stored %d messages", n)
	}
}
