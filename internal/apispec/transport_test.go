package apispec

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// recordingTB catches what Watch reports at the end of a test.
type recordingTB struct {
	testing.TB
	cleanups []func()
	errors   []string
}

func (r *recordingTB) Helper()                   {}
func (r *recordingTB) Cleanup(f func())          { r.cleanups = append(r.cleanups, f) }
func (r *recordingTB) Errorf(f string, a ...any) { r.errors = append(r.errors, fmt.Sprintf(f, a...)) }
func (r *recordingTB) end() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

const goodMessage = `{"id":"01KAZ3F4J7Q9V2C8N6M5T0R1WX","room_id":"lobby","timestamp":1764067200000,"message":"hi","user_id":"42","name":"Ada"}`

// TestTransportJudgesExchanges: a server that answers as the document says
// passes; each way of straying from it is reported, with what strayed.
func TestTransportJudgesExchanges(t *testing.T) {
	for _, tc := range []struct {
		name, method, path string
		status             int
		body               string
		cors               bool
		want               string // "" for no report
	}{
		{"a documented answer", "GET", "/chat?room_id=lobby", 200, `{"messages":[` + goodMessage + `]}`, true, ""},
		{"the original client's path", "GET", "/chat/?room_id=lobby&", 200, `{"messages":[],"next_cursor":"01KAZ3F4J7Q9V2C8N6M5T0R1WX"}`, true, ""},
		{"a bad request refused as documented", "GET", "/chat", 400, `{"error":{"code":"invalid","message":"room_id is required"}}`, true, ""},
		{"an undocumented route refused", "GET", "/chat/nope", 404, `{"error":{"code":"not_found","message":"no such method or resource"}}`, true, ""},
		{"an undocumented route served", "GET", "/chat/nope", 200, `{}`, true, "is not in openapi.yaml, but was answered 200"},
		{"an undocumented method served", "DELETE", "/chat", 200, `{}`, true, "is not in openapi.yaml, but was answered 200"},
		{"a bad request served", "GET", "/chat", 200, `{"messages":[]}`, true, "the request does not match openapi.yaml"},
		{"a push field the original client routes by", "GET", "/chat?room_id=lobby", 200, `{"messages":[` + strings.Replace(goodMessage, `"name":"Ada"`, `"name":"Ada","command":"x"`, 1) + `]}`, true, "the 200 answer does not match"},
		{"an error code nobody knows", "GET", "/chat", 400, `{"error":{"code":"oops","message":"x"}}`, true, "the 400 answer does not match"},
		{"an undocumented status", "GET", "/chat?room_id=lobby", 418, `{"error":{"code":"invalid","message":"x"}}`, true, "the 418 answer does not match"},
		{"a path without its parameter", "GET", "/@connections/", 404, `{"error":{"code":"not_found","message":"page not found"}}`, true, ""},
		{"what the document leaves out", "GET", "/debug/pprof/heap", 200, `profile`, false, ""},
		{"an unclean path redirected", "GET", "/chat/../chat/x", 307, ``, false, ""},
		{"no CORS header", "GET", "/chat?room_id=lobby", 200, `{"messages":[]}`, false, "Access-Control-Allow-Origin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				if tc.cors {
					w.Header().Set("Access-Control-Allow-Origin", "*")
				}
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			rec := &recordingTB{TB: t}
			Watch(rec, srv.URL)
			client := &http.Client{Transport: &Transport{}}
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != tc.body {
				t.Errorf("the transport changed the body: %q, want %q", body, tc.body)
			}
			rec.end()
			switch {
			case tc.want == "" && len(rec.errors) > 0:
				t.Errorf("reported %q", rec.errors)
			case tc.want != "" && (len(rec.errors) != 1 || !strings.Contains(rec.errors[0], tc.want)):
				t.Errorf("reported %q, want one report with %q", rec.errors, tc.want)
			}
		})
	}
}

// TestTransportIgnoresUnwatchedServers: only the servers a test watches
// are held to the document.
func TestTransportIgnoresUnwatchedServers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "anything") }))
	defer srv.Close()
	rec := &recordingTB{TB: t}
	Watch(rec, "http://127.0.0.1:1") // another server
	resp, err := (&http.Client{Transport: &Transport{}}).Get(srv.URL + "/chat/nope")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	rec.end()
	if len(rec.errors) > 0 {
		t.Errorf("reported %q for a server nobody watches", rec.errors)
	}
}
