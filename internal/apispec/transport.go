package apispec

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// Transport is an http.RoundTripper that checks every exchange with a
// watched server (Watch) against the OpenAPI document (Spec.Check), and
// passes the rest through. It reads each request and answer whole (a 101's
// body, the WebSocket, is left alone) and hands them on unchanged.
type Transport struct {
	// Base makes the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
}

// watchers maps a host ("127.0.0.1:port") to the tests watching it, the
// latest last: a test that restarts its server on the same address watches
// it again.
var watchers struct {
	mu    sync.Mutex
	hosts map[string][]*watch
}

type watch struct {
	mu       sync.Mutex
	problems []error
	done     bool
}

// Watch makes Transport check the exchanges with the server at baseURL
// (http://host:port) until t ends, and fails t then with every exchange
// that does not match the document. It fails t at once if the document
// cannot be read.
func Watch(t testing.TB, baseURL string) {
	t.Helper()
	if _, err := OpenAPI(); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		t.Fatal(err)
	}
	w := &watch{}
	watchers.mu.Lock()
	if watchers.hosts == nil {
		watchers.hosts = map[string][]*watch{}
	}
	watchers.hosts[u.Host] = append(watchers.hosts[u.Host], w)
	watchers.mu.Unlock()
	t.Cleanup(func() {
		watchers.mu.Lock()
		list := watchers.hosts[u.Host]
		for i, x := range list {
			if x == w {
				watchers.hosts[u.Host] = append(list[:i:i], list[i+1:]...)
				break
			}
		}
		if len(watchers.hosts[u.Host]) == 0 {
			delete(watchers.hosts, u.Host)
		}
		watchers.mu.Unlock()
		w.mu.Lock()
		defer w.mu.Unlock()
		w.done = true
		for _, p := range w.problems {
			t.Errorf("API document drift: %v", p)
		}
	})
}

func watcherOf(host string) *watch {
	watchers.mu.Lock()
	defer watchers.mu.Unlock()
	list := watchers.hosts[host]
	if len(list) == 0 {
		return nil
	}
	return list[len(list)-1]
}

func (w *watch) report(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.problems = append(w.problems, err)
	}
}

// RoundTrip implements http.RoundTripper.
func (tr *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := tr.Base
	if base == nil {
		base = http.DefaultTransport
	}
	w := watcherOf(req.URL.Host)
	if w == nil {
		return base.RoundTrip(req)
	}
	var reqBody []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(reqBody)), nil }
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	spec, _ := OpenAPI() // Watch has loaded it
	if resp.StatusCode == http.StatusSwitchingProtocols {
		if err := spec.Check(req, reqBody, resp, nil); err != nil {
			w.report(err)
		}
		return resp, nil
	}
	respBody, readErr := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = &replayBody{Reader: bytes.NewReader(respBody), err: readErr}
	if readErr == nil {
		if err := spec.Check(req, reqBody, resp, respBody); err != nil {
			w.report(err)
		}
	}
	return resp, nil
}

// replayBody gives back an answer's bytes, then the error that ended
// reading it, if any.
type replayBody struct {
	*bytes.Reader
	err error
}

func (b *replayBody) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	if err == io.EOF && b.err != nil {
		err = b.err
	}
	return n, err
}

func (b *replayBody) Close() error { return nil }

// CloseIdleConnections closes the base transport's idle connections, as
// http.Client.CloseIdleConnections asks.
func (tr *Transport) CloseIdleConnections() {
	base := tr.Base
	if base == nil {
		base = http.DefaultTransport
	}
	if c, ok := base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// Watched reports whether a test watches the server at baseURL.
func Watched(baseURL string) bool {
	u, err := url.Parse(baseURL)
	return err == nil && watcherOf(u.Host) != nil
}

// CheckRaw checks an exchange a test made over a raw connection (a request
// no http.Client would send): raw is the request as written, resp and
// respBody the answer as read. A mismatch fails t at once.
func CheckRaw(t testing.TB, raw string, resp *http.Response, respBody []byte) {
	t.Helper()
	spec, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatalf("CheckRaw: %v in %q", err, raw)
	}
	body, _ := io.ReadAll(req.Body) // what was written of it, if anything
	req.URL.Scheme, req.URL.Host = "http", req.Host
	if err := spec.Check(req, body, resp, respBody); err != nil {
		t.Errorf("API document drift: %v", err)
	}
}
