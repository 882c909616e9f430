package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
)

func TestHandlerServesStaticFiles(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()

	tests := []struct {
		method      string
		path        string
		status      int
		contentType string // substring expected in Content-Type
		body        string // substring expected in the body
	}{
		{"GET", "/", http.StatusOK, "text/html", `<script src="app.js"`},
		{"GET", "/app.js", http.StatusOK, "javascript", `"use strict"`},
		{"GET", "/style.css", http.StatusOK, "text/css", "prefers-color-scheme"},
		// Errors are the API's JSON errors, not net/http's plain text.
		{"GET", "/missing.js", http.StatusNotFound, "application/json", `{"error":{"code":"not_found","message":"page not found"}}`},
		{"POST", "/", http.StatusMethodNotAllowed, "application/json", `{"error":{"code":"method_not_allowed",`},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.Contains(ct, tt.contentType) {
				t.Errorf("Content-Type = %q, want it to contain %q", ct, tt.contentType)
			}
			if !strings.Contains(string(body), tt.body) {
				t.Errorf("body does not contain %q", tt.body)
			}
			if tt.status == http.StatusOK && resp.Header.Get("Cache-Control") != "no-cache" {
				t.Errorf("Cache-Control = %q, want no-cache", resp.Header.Get("Cache-Control"))
			}
		})
	}
}

// The page must work offline and must never turn user text into markup;
// these greps guard against regressions that a syntax check would not see.
func TestStaticFilesAreSelfContainedAndSafe(t *testing.T) {
	for _, name := range []string{"index.html", "app.js", "style.css"} {
		data, err := files.ReadFile("static/" + name)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"http://", "https://", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"} {
			if strings.Contains(string(data), bad) {
				t.Errorf("%s contains %q", name, bad)
			}
		}
	}
}

func TestAppJSSyntax(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not on PATH; skipping the app.js syntax check")
	}
	out, err := exec.Command(node, "--check", "static/app.js").CombinedOutput()
	if err != nil {
		t.Fatalf("node --check static/app.js: %v\n%s", err, out)
	}
}

// TestManyRangesServeTheWholeFile: a request of thousands of ranges would
// make an answer many times the file's size; it gets the file once. One
// range is still honoured.
func TestManyRangesServeTheWholeFile(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	get := func(ranges string) (int, int) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/app.js", nil)
		req.Header.Set("Range", ranges)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, len(body)
	}
	_, whole := get("")
	if status, n := get("bytes=0-9"); status != http.StatusPartialContent || n != 10 {
		t.Errorf("one range: %d, %d bytes; want 206, 10", status, n)
	}
	if status, n := get("bytes=0-0" + strings.Repeat(",0-0", 5000)); status != http.StatusOK || n != whole {
		t.Errorf("5001 ranges: %d, %d bytes; want 200 and the file's %d", status, n, whole)
	}
}
