package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatapp-dev/chatapp/internal/apispec"
)

// waitTimeout bounds every single wait of these tests: a frame, a close, a
// response, a poll. It bounds a hang, never a speed: it must hold on a
// machine as busy as `make test` with a CPU hog beside it, where catching up
// megabytes of history through the Lambda emulator under -race took over 5 s.
const waitTimeout = 15 * time.Second

// testLogWriter sends the server's log to t.Log until the test is over; a
// late write (a goroutine outliving Close) is dropped instead of panicking.
type testLogWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testLogWriter) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
}

// testServer is a Server that a test may close early; it is closed once.
type testServer struct {
	*Server
	once sync.Once
	err  error
}

// close closes the server (once) and fails the test if it did not close
// cleanly.
func (s *testServer) close(t testing.TB) {
	t.Helper()
	s.once.Do(func() { s.err = s.Server.Close() })
	if s.err != nil {
		t.Errorf("Server.Close: %v", s.err)
	}
}

// startServer starts the whole system in process on a free loopback port.
// cfg.DataDir defaults to a fresh temporary directory. The server is closed
// when the test ends, after the clients dialled later have been closed.
func startServer(t *testing.T, cfg ServeConfig) *testServer {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	lw := &testLogWriter{t: t}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(lw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	s, err := StartServer(ctx, cfg)
	if err != nil {
		t.Fatalf("StartServer: %v", err)
	}
	ts := &testServer{Server: s}
	t.Cleanup(func() {
		ts.close(t)
		lw.stop()
	})
	apispec.Watch(t, ts.URL)
	return ts
}

// serveUntilBanner runs `chatapp serve` with args as the command line
// does, until it has printed its banner, then stops it as Ctrl-C does and
// fails the test unless it stopped cleanly. It returns what serve wrote.
func serveUntilBanner(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	out, errs := &lockedBuffer{}, &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, args, out, errs) }()
	eventually(t, "the banner is printed", func() bool { return strings.Contains(out.String(), "Press Ctrl-C") })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("serve did not stop")
	}
	return out.String(), errs.String()
}

func wsURL(base string) string { return "ws" + strings.TrimPrefix(base, "http") }

// httpClient is used for every REST call; its timeout bounds each request.
// Its transport checks each exchange with a server a test started against
// docs/openapi.yaml (apispec.Watch), as wsHTTPClient does for handshakes.
var httpClient = &http.Client{Timeout: 3 * waitTimeout, Transport: &apispec.Transport{}}

// wsHTTPClient makes the WebSocket handshakes of dial.
var wsHTTPClient = &http.Client{Transport: &apispec.Transport{}}

// response is a REST answer, read whole.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// do sends one REST request and fails the test if it gets no answer. body
// may be nil, a string or a []byte.
func do(t testing.TB, method, rawURL string, body any, header map[string]string) response {
	t.Helper()
	r, err := tryDo(method, rawURL, body, header)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tryDo is do for goroutines other than the test's: it returns the error.
func tryDo(method, rawURL string, body any, header map[string]string) (response, error) {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		return response{}, fmt.Errorf("do: body of type %T", body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*waitTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, rawURL, r)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, rawURL, err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, rawURL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: read body: %w", method, rawURL, err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

var jsonHeader = map[string]string{"Content-Type": "application/json"}

// decodeJSON decodes data into v, keeping numbers as json.Number when v is
// a map or an interface so that their JSON type can be checked.
func decodeJSON(t testing.TB, data []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %q: %v", truncate(data), err)
	}
	if dec.More() {
		t.Fatalf("trailing data after JSON value in %q", truncate(data))
	}
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// keys returns the sorted keys of m.
func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// checkKeys fails unless m has exactly the keys want.
func checkKeys(t testing.TB, what string, m map[string]any, want ...string) {
	t.Helper()
	want = slices.Clone(want)
	slices.Sort(want)
	if got := keys(m); !slices.Equal(got, want) {
		t.Errorf("%s has keys %v, want exactly %v (%v)", what, got, want, m)
	}
}

// message is a history entry or a push, as the original client reads it.
type message struct {
	ID        string `json:"id"`
	RoomID    string `json:"room_id"`
	Timestamp int64  `json:"timestamp"`
	Text      string `json:"message"`
	UserID    string `json:"user_id"`
	Name      string `json:"name"`
}

type history struct {
	Messages   []message `json:"messages"`
	NextCursor string    `json:"next_cursor"`
	HasMore    bool      `json:"has_more"`
}

// getHistory reads GET /chat/?query and expects a 200.
func getHistory(t testing.TB, base, query string) history {
	t.Helper()
	r := do(t, http.MethodGet, base+"/chat/?"+query, nil, jsonHeader)
	if r.Status != http.StatusOK {
		t.Fatalf("GET /chat/?%s: %d %s", query, r.Status, r.Body)
	}
	var h history
	if err := json.Unmarshal(r.Body, &h); err != nil {
		t.Fatalf("GET /chat/?%s: %v in %q", query, err, truncate(r.Body))
	}
	if h.Messages == nil {
		t.Fatalf("GET /chat/?%s: messages is not an array: %s", query, truncate(r.Body))
	}
	return h
}

// putMessage sends PUT /chat/ as the original client does and expects a 200.
func putMessage(t testing.TB, base, room, user, name, text string) map[string]any {
	t.Helper()
	body := mustJSON(t, map[string]string{"room_id": room, "text": text, "user_id": user, "name": name})
	r := do(t, http.MethodPut, base+"/chat/", body, jsonHeader)
	if r.Status != http.StatusOK {
		t.Fatalf("PUT /chat/ %s: %d %s", body, r.Status, r.Body)
	}
	var out map[string]any
	decodeJSON(t, r.Body, &out)
	return out
}

type user struct {
	ConnectionID string `json:"connection_id"`
	RoomID       string `json:"room_id"`
	UserID       string `json:"user_id"`
	Name         string `json:"name"`
	Timestamp    int64  `json:"timestamp"`
}

// getUsers reads GET /chat/users?room_id=room.
func getUsers(t testing.TB, base, room string) []user {
	t.Helper()
	r := do(t, http.MethodGet, base+"/chat/users?room_id="+url.QueryEscape(room), nil, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET /chat/users: %d %s", r.Status, r.Body)
	}
	var out struct {
		Users []user `json:"users"`
	}
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatalf("GET /chat/users: %v in %q", err, r.Body)
	}
	return out.Users
}

// eventually polls cond until it holds or waitTimeout passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkErrorBody fails unless body is {"error":{"code":C,"message":M}} with
// a non-empty code and message; it returns the code.
func checkErrorBody(t testing.TB, what string, body []byte) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Errorf("%s: body is not JSON: %v: %q", what, err, truncate(body))
		return ""
	}
	checkKeys(t, what+" body", m, "error")
	e, ok := m["error"].(map[string]any)
	if !ok {
		t.Errorf("%s: error is not an object: %q", what, truncate(body))
		return ""
	}
	checkKeys(t, what+" error", e, "code", "message")
	code, _ := e["code"].(string)
	msg, _ := e["message"].(string)
	if code == "" || msg == "" {
		t.Errorf("%s: empty error code or message: %q", what, truncate(body))
	}
	return code
}

// frame is one thing read from a WebSocket: a message or the read error
// that ended the connection.
type frame struct {
	typ  websocket.MessageType
	data []byte
	err  error
}

// wsClient is a WebSocket client whose frames are read by a goroutine, so
// that a wait can time out without closing the connection and pings get
// their pongs.
type wsClient struct {
	t      testing.TB
	name   string
	conn   *websocket.Conn
	frames chan frame
	closed chan struct{} // closed when the reader stops
	// log records the frames sent and received, and the server's close
	// code, for the AsyncAPI check (TestMain, TestAsyncAPIFrames); nil
	// records nothing.
	log atomic.Pointer[apispec.FrameLog]
	// closing is set by close: the server's close frame is then its echo
	// of ours, which close records, not the reader. The reader's Read
	// may report it as net.ErrClosed instead: coder/websocket's Close
	// can finish the handshake before that Read returns.
	closing atomic.Bool
}

// seenFrames holds frames of every kind that the tests' WebSockets met
// with a watched server (apispec.Watch); TestMain checks them against
// docs/asyncapi.yaml.
var seenFrames apispec.FrameLog

// notChat stops recording c's frames: for a test that posts arbitrary
// frames through the Management API, which are not the chat's.
func (c *wsClient) notChat() { c.log.Store(nil) }

// dial connects to the WebSocket API with the raw query string q, as the
// original client builds it, and fails the test if the handshake fails.
func dial(t testing.TB, base, name, q string) *wsClient {
	t.Helper()
	c, resp, err := tryDial(t, base, q)
	if err != nil {
		var body []byte
		if resp != nil && resp.Body != nil {
			body, _ = io.ReadAll(resp.Body)
		}
		t.Fatalf("dial %s ?%s: %v %s", name, q, err, body)
	}
	wc := newWSClient(t, name, c)
	if apispec.Watched(base) {
		wc.log.Store(&seenFrames)
	}
	return wc
}

func tryDial(t testing.TB, base, q string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	u := wsURL(base) + "/ws"
	if q != "" {
		u += "?" + q
	}
	return websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: wsHTTPClient})
}

func newWSClient(t testing.TB, name string, conn *websocket.Conn) *wsClient {
	conn.SetReadLimit(1 << 20)
	c := &wsClient{t: t, name: name, conn: conn, frames: make(chan frame, 4096), closed: make(chan struct{})}
	go func() {
		defer close(c.closed)
		for {
			typ, data, err := conn.Read(context.Background())
			if log := c.log.Load(); log != nil {
				switch status := websocket.CloseStatus(err); {
				case err == nil && typ == websocket.MessageText:
					log.Server(data)
				case status != -1 && !c.closing.Load():
					log.ServerClose(int(status))
				}
			}
			c.frames <- frame{typ, data, err}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		conn.CloseNow()
		<-c.closed
	})
	return c
}

// next returns the next frame, failing the test if none comes in time or the
// connection ended.
func (c *wsClient) next() []byte {
	c.t.Helper()
	select {
	case f := <-c.frames:
		if f.err != nil {
			c.t.Fatalf("%s: connection ended while waiting for a frame: %v", c.name, f.err)
		}
		if f.typ != websocket.MessageText {
			c.t.Fatalf("%s: got a %v frame, want text", c.name, f.typ)
		}
		return f.data
	case <-time.After(waitTimeout):
		c.t.Fatalf("%s: no frame within %v", c.name, waitTimeout)
		return nil
	}
}

// nextMap returns the next frame decoded as a JSON object.
func (c *wsClient) nextMap() map[string]any {
	c.t.Helper()
	data := c.next()
	var m map[string]any
	decodeJSON(c.t, data, &m)
	return m
}

// nextMessage returns the next frame as a chat message and checks that it
// has exactly the fields the original client expects, with a numeric
// timestamp.
func (c *wsClient) nextMessage() message {
	c.t.Helper()
	data := c.next()
	var m map[string]any
	decodeJSON(c.t, data, &m)
	checkKeys(c.t, c.name+" push", m, "id", "room_id", "timestamp", "message", "user_id", "name")
	if _, ok := m["timestamp"].(json.Number); !ok {
		c.t.Errorf("%s: push timestamp is %T, want a JSON number: %s", c.name, m["timestamp"], data)
	}
	var msg message
	if err := json.Unmarshal(data, &msg); err != nil {
		c.t.Fatalf("%s: %v", c.name, err)
	}
	return msg
}

// nextError returns the code of the next frame, which must be an error frame.
func (c *wsClient) nextError() string {
	c.t.Helper()
	return checkErrorBody(c.t, c.name+" error frame", c.next())
}

// expectClose waits for the connection to end with a close frame of code
// want; a data frame before it fails the test.
func (c *wsClient) expectClose(want websocket.StatusCode) {
	c.t.Helper()
	select {
	case f := <-c.frames:
		if f.err == nil {
			c.t.Fatalf("%s: got frame %q, want close %v", c.name, truncate(f.data), want)
		}
		if got := websocket.CloseStatus(f.err); got != want {
			c.t.Fatalf("%s: connection ended with %v (status %v), want close %v", c.name, f.err, got, want)
		}
	case <-time.After(waitTimeout):
		c.t.Fatalf("%s: not closed within %v", c.name, waitTimeout)
	}
}

// send writes one text frame.
func (c *wsClient) send(data string) {
	c.t.Helper()
	c.write(websocket.MessageText, []byte(data))
}

func (c *wsClient) write(typ websocket.MessageType, data []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := c.conn.Write(ctx, typ, data); err != nil {
		c.t.Fatalf("%s: write: %v", c.name, err)
	}
	if log := c.log.Load(); log != nil && typ == websocket.MessageText {
		log.Client(data)
	}
}

// close closes the connection with a normal closure and waits for the
// reader to stop.
func (c *wsClient) close() {
	c.t.Helper()
	c.closing.Store(true)
	err := c.conn.Close(websocket.StatusNormalClosure, "")
	switch {
	case err == nil:
		// Close returns nil only once the server has echoed 1000.
		if log := c.log.Load(); log != nil {
			log.ServerClose(int(websocket.StatusNormalClosure))
		}
	case !errors.Is(err, context.Canceled):
		c.t.Logf("%s: close: %v", c.name, err)
	}
	select {
	case <-c.closed:
	case <-time.After(waitTimeout):
		c.t.Fatalf("%s: reader did not stop", c.name)
	}
}

// originalQuery is the query string the original Unity client connects with.
func originalQuery(user, room string) string {
	return "user_id=" + url.QueryEscape(user) + "&room_id=" + url.QueryEscape(room) + "&"
}

// contextWithTimeout is a context for one bounded wait.
func contextWithTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), waitTimeout)
}

// saveArtifact writes a screenshot into $CHATAPP_ARTIFACTS (or the test's
// artifact directory) and, when CHATAPP_UPDATE_SCREENSHOTS=1, into
// docs/images for the README.
func saveArtifact(t *testing.T, name string, data []byte) {
	t.Helper()
	dirs := []string{os.Getenv("CHATAPP_ARTIFACTS")}
	if dirs[0] == "" {
		dirs[0] = t.ArtifactDir()
	}
	if os.Getenv("CHATAPP_UPDATE_SCREENSHOTS") == "1" {
		dirs = append(dirs, filepath.Join(repoRoot(t), "docs", "images"))
	}
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
	}
}
