package web

import (
	"bytes"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path"
	"regexp"
	"slices"
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
		{"GET", "/", http.StatusOK, "text/html", `<script type="module" src="app.js"`},
		{"GET", "/app.js", http.StatusOK, "text/javascript", `from "./js/room.js"`},
		{"GET", "/js/links.js", http.StatusOK, "text/javascript", "export function linkify"},
		{"GET", "/style.css", http.StatusOK, "text/css", "prefers-color-scheme"},
		// Errors are the API's JSON errors, not net/http's plain text.
		{"GET", "/missing.js", http.StatusNotFound, "application/json", `{"error":{"code":"not_found","message":"page not found"}}`},
		{"GET", "/js/missing.js", http.StatusNotFound, "application/json", `{"error":{"code":"not_found","message":"page not found"}}`},
		// A folder is not a file of the page: no listing of its files.
		{"GET", "/js/", http.StatusNotFound, "application/json", `{"error":{"code":"not_found","message":"page not found"}}`},
		{"GET", "/js", http.StatusNotFound, "application/json", `{"error":{"code":"not_found","message":"page not found"}}`},
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

// staticFiles lists the embedded files of the page (paths under static/),
// failing unless the page's own are among them.
func staticFiles(t *testing.T) []string {
	t.Helper()
	var names []string
	err := fs.WalkDir(files, "static", func(name string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, strings.TrimPrefix(name, "static/"))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"index.html", "app.js", "style.css", "js/links.js"} {
		if !slices.Contains(names, want) {
			t.Fatalf("the embedded files %q lack %s", names, want)
		}
	}
	return names
}

// scripts lists the page's scripts: app.js and the modules it imports.
func scripts(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, name := range staticFiles(t) {
		if path.Ext(name) == ".js" {
			out = append(out, name)
		}
	}
	return out
}

// The page must work offline and must never turn user text into markup;
// these greps guard against regressions that a syntax check would not see.
// Every file of the page is read: app.js and each of its modules.
func TestStaticFilesAreSelfContainedAndSafe(t *testing.T) {
	for _, name := range staticFiles(t) {
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

// TestAppJSSyntax parses app.js and each of its modules as an ES module
// (strict mode, import and export), as the browser loads them.
func TestAppJSSyntax(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not on PATH; skipping the app.js syntax check")
	}
	for _, name := range scripts(t) {
		src, err := files.ReadFile("static/" + name)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(node, "--input-type=module", "--check")
		cmd.Stdin = bytes.NewReader(src)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("node --check static/%s (as a module): %v\n%s", name, err, out)
		}
	}
}

// importLine is one static import of a module: the names and the file.
var importLine = regexp.MustCompile(`(?m)^import \{([^}]*)\} from "([^"]+)";`)

// TestModuleImportsResolve: every import of the page's scripts names a
// module that is embedded and exports each name imported, so a module
// renamed or a function moved fails here, not only in a browser.
func TestModuleImportsResolve(t *testing.T) {
	for _, name := range scripts(t) {
		src, err := files.ReadFile("static/" + name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range importLine.FindAllStringSubmatch(string(src), -1) {
			target := path.Join(path.Dir(name), m[2])
			module, err := files.ReadFile("static/" + target)
			if err != nil {
				t.Errorf("%s imports %s: %v", name, m[2], err)
				continue
			}
			for _, imported := range strings.Split(m[1], ",") {
				imported = strings.TrimSpace(imported)
				exported := regexp.MustCompile(`(?m)^export (async function|function|const|let) ` + regexp.QuoteMeta(imported) + `\b`)
				if !exported.Match(module) {
					t.Errorf("%s imports %s from %s, which does not export it", name, imported, target)
				}
			}
		}
	}
}

// TestModulesServedAsJavaScript: a browser runs a module only when its
// Content-Type is a JavaScript MIME type, whatever the host's MIME tables
// say; every script of the page is served so.
func TestModulesServedAsJavaScript(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	for _, name := range scripts(t) {
		resp, err := http.Get(srv.URL + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/javascript; charset=utf-8" {
			t.Errorf("GET /%s: %d %q, want 200 text/javascript; charset=utf-8", name, resp.StatusCode, ct)
		}
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

// TestFilesRevalidate: every file of the page answers with an ETag, and a
// request that has it gets 304 without the file; a changed tag gets the
// file. A reload then costs two dozen small answers, not the page again.
func TestFilesRevalidate(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	for _, p := range []string{"/", "/app.js", "/style.css", "/js/connection.js"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		tag := resp.Header.Get("ETag")
		if resp.StatusCode != http.StatusOK || len(tag) < 10 || tag[0] != '"' {
			t.Fatalf("GET %s: %d, ETag %q", p, resp.StatusCode, tag)
		}
		for _, tt := range []struct {
			tag  string
			want int
		}{{tag, http.StatusNotModified}, {`"stale"`, http.StatusOK}} {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+p, nil)
			req.Header.Set("If-None-Match", tt.tag)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want || (tt.want == http.StatusNotModified) != (n == 0) {
				t.Errorf("GET %s with If-None-Match %s: %d and %d bytes, want %d", p, tt.tag, resp.StatusCode, n, tt.want)
			}
		}
	}
}
