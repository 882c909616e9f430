package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestEveryErrorIsJSON: whatever path or method a client strays to, on
// every layer of `serve` (the REST API, the web page's file server, the
// operator's endpoints, pprof), the answer is the documented JSON error,
// never net/http's plain text.
func TestEveryErrorIsJSON(t *testing.T) {
	s := startServer(t, ServeConfig{Metrics: true, Pprof: true})
	cases := []struct {
		method, path string
		header       map[string]string
		status       int
		code         string
	}{
		{"GET", "/nope", nil, 404, "not_found"},
		{"GET", "/nope/deeper/page.html", nil, 404, "not_found"},
		{"GET", "/index.htm", map[string]string{"Accept": "text/html"}, 404, "not_found"},
		{"GET", "/ws/extra", nil, 404, "not_found"},
		{"GET", "/@connections/", nil, 404, "not_found"},
		{"GET", "/healthz/extra", nil, 404, "not_found"},
		{"GET", "/metrics/extra", nil, 404, "not_found"},
		{"GET", "/chat/unknown", nil, 404, "not_found"},
		{"DELETE", "/chat", nil, 404, "not_found"},
		{"POST", "/chat/users", nil, 404, "not_found"},
		{"POST", "/", nil, 405, "method_not_allowed"},
		{"DELETE", "/app.js", nil, 405, "method_not_allowed"},
		{"GET", "/app.js", map[string]string{"Range": "bytes=99999999-"}, 416, "invalid"},
		{"POST", "/ws", nil, 426, "invalid"},
		{"GET", "/debug/pprof/nonexistent", nil, 404, "not_found"},
		{"GET", "/debug/pprof/cmdline", nil, 404, "not_found"},
		{"GET", "/debug/pprof/heap?seconds=never", nil, 400, "invalid"},
		// pprof reads a POST body's seconds= first, past the 30 s cap.
		{"POST", "/debug/pprof/profile", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 405, "method_not_allowed"},
		{"PUT", "/debug/pprof/", nil, 405, "method_not_allowed"},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			r := do(t, c.method, s.URL+c.path, nil, c.header)
			checkJSONError(t, r, c.status, c.code)
			// The APIs answer as API Gateway does (no nosniff); the
			// rest is ours.
			if api := strings.HasPrefix(c.path, "/chat") || c.path == "/ws"; !api && r.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", r.Header.Get("X-Content-Type-Options"))
			}
		})
	}
	t.Run("HEAD /nope", func(t *testing.T) {
		r := do(t, http.MethodHead, s.URL+"/nope", nil, nil)
		if r.Status != http.StatusNotFound || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Errorf("HEAD /nope: %d %q, want 404 application/json", r.Status, r.Header.Get("Content-Type"))
		}
	})
	t.Run("CONNECT host:port", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprint(conn, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: http.MethodConnect})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		checkJSONError(t, response{Status: resp.StatusCode, Header: resp.Header, Body: body}, 404, "not_found")
		if v := resp.Header.Get("X-Content-Type-Options"); v != "nosniff" {
			t.Errorf("X-Content-Type-Options %q, want nosniff", v)
		}
	})
	t.Run("the page's files are served as they were", func(t *testing.T) {
		for path, contentType := range map[string]string{"/": "text/html", "/app.js": "javascript", "/js/connection.js": "javascript", "/style.css": "text/css"} {
			r := do(t, http.MethodGet, s.URL+path, nil, nil)
			if r.Status != http.StatusOK || !strings.Contains(r.Header.Get("Content-Type"), contentType) {
				t.Errorf("GET %s: %d %q, want 200 %s", path, r.Status, r.Header.Get("Content-Type"), contentType)
			}
		}
	})
}

// checkJSONError fails unless r is the error of status and code, in
// exactly the documented shape: {"error":{"code":"...","message":"..."}}.
func checkJSONError(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Errorf("status %d, want %d (%s)", r.Status, status, truncate(r.Body))
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json (%s)", ct, truncate(r.Body))
	}

	var body map[string]map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || len(body) != 1 || body["error"] == nil {
		t.Fatalf("body %q is not {\"error\":{...}} (%v)", truncate(r.Body), err)
	}
	e := body["error"]
	checkKeys(t, "error", e, "code", "message")
	if e["code"] != code {
		t.Errorf("code %v, want %s", e["code"], code)
	}
	if m, ok := e["message"].(string); !ok || m == "" {
		t.Errorf("message %v, want a non-empty string", e["message"])
	}
}
