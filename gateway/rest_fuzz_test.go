package gateway_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chatapp-dev/chatapp"
)

// Methods and paths FuzzREST picks from by index: every route, its
// neighbours, and methods no route has.
var (
	fuzzMethods = []string{"GET", "PUT", "POST", "DELETE", "OPTIONS", "PATCH", "HEAD"}
	fuzzPaths   = []string{"/chat", "/chat/", "/chat/users", "/chat/users/", "/chat/nope"}
)

// FuzzREST sends any query string, body and Idempotency-Key through the
// gateway to the REST handlers. Every answer is below 500; an error is the
// JSON error; a stored message is valid, is the text that was sent and is
// the latest of its room's history.
func FuzzREST(f *testing.F) {
	add := func(method, path int, query, body, key string) {
		f.Add(uint8(method), uint8(path), query, []byte(body), key)
	}
	add(0, 0, "room_id=lobby&limit=10", "", "")
	add(0, 1, "room_id=lobby&", "", "")
	add(0, 0, "room_id=lobby&cursor=01J00000000000000000000000&after=zz", "", "")
	add(0, 0, "room_id=%zz&limit=1e3&limit=-1", "", "")
	add(0, 0, "room_id=lobby&limit=99999999999999999999999", "", "")
	add(0, 2, "room_id=lobby", "", "")
	add(0, 3, "room_id=caf%C3%A9&room_id=%00", "", "")
	add(1, 0, "", `{"room_id":"lobby","text":"hi","user_id":"u1","name":"Ada"}`, "")
	add(1, 1, "", `{"room_id":"lobby","text":"hi","user_id":42}`, "key-1")
	add(1, 0, "", `{"room_id":"lobby","text":"hi","user_id":"u1","idempotency_key":"other"}`, "key-1")
	add(1, 0, "", `{"room_id":"lobby","text":"\u0000\ud800\udfff","user_id":"u1"}`, "")
	add(1, 0, "", `{"room_id":"lobby","text":"hi","user_id":1e400}`, "")
	add(1, 0, "", "\xff\xfe{}", "")
	add(1, 0, "", strings.Repeat("[", 10000), "")
	add(2, 0, "", `{}`, "")
	add(4, 2, "", "", "")
	add(6, 4, "", "", "")
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, methodIndex, pathIndex uint8, query string, body []byte, key string) {
		method := fuzzMethods[int(methodIndex)%len(fuzzMethods)]
		path := fuzzPaths[int(pathIndex)%len(fuzzPaths)]
		r := &http.Request{
			Method: method, URL: &url.URL{Path: path, RawQuery: query}, RequestURI: path + "?" + query,
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"application/json"}},
			Body:   io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
			Host: "127.0.0.1:8080", RemoteAddr: "127.0.0.1:40000",
		}
		if key != "" {
			r.Header.Set("Idempotency-Key", key)
		}
		w := httptest.NewRecorder()
		e.g.ServeHTTP(w, r)
		what := method + " " + path + "?" + query
		if w.Code >= 500 {
			t.Fatalf("%s: %d %s", what, w.Code, w.Body)
		}
		if w.Header().Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("%s: %d without Access-Control-Allow-Origin", what, w.Code)
		}
		switch {
		case w.Code >= 400:
			checkErrorBody(t, what, w.Body.Bytes())
		case w.Code == 200 && method == "PUT":
			checkStored(t, e, body, w.Body.Bytes(), w.Header().Get("Idempotent-Replayed") == "true")
		case w.Code == 200 && method == "GET":
			var out struct{ Messages []chatapp.Message }
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
				t.Fatalf("%s: 200 with %q: %v", what, w.Body, err)
			}
		case w.Code != 204 || method != "OPTIONS":
			t.Fatalf("%s: unexpected %d %s", what, w.Code, w.Body)
		}
		e.checkLogs(t)
	})
}

// checkStored checks a PUT's 200: its message is valid and, unless an
// earlier send with the key stored it, holds the text the body sent and is
// the newest of its room.
func checkStored(t *testing.T, e *fuzzEnv, body, answer []byte, replayed bool) {
	t.Helper()
	var out struct{ Message chatapp.Message }
	if err := json.Unmarshal(answer, &out); err != nil {
		t.Fatalf("PUT %q: 200 with %q: %v", body, answer, err)
	}
	m := out.Message
	if err := m.Validate(); err != nil {
		t.Fatalf("PUT %q stored an invalid message %+v: %v", body, m, err)
	}
	if replayed {
		return
	}
	var in struct{ Text string }
	if err := json.Unmarshal(body, &in); err != nil || in.Text != m.Text {
		t.Fatalf("PUT %q stored text %q", body, m.Text)
	}
	page, err := e.db.FindMessages(t.Context(), chatapp.MessageFilter{RoomID: m.RoomID, Limit: 1})
	if err != nil || len(page.Messages) != 1 || page.Messages[0].ID != m.ID || page.Messages[0].Text != m.Text {
		t.Fatalf("PUT %q answered %+v; newest stored is %+v (%v)", body, m, page.Messages, err)
	}
}
