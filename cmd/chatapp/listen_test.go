package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp"
)

// TestConnectionBounds: the listener keeps a tenth of the descriptors (at
// least 64, at most 512) for the store, the logs and the emulators;
// WebSockets leave a quarter of the listener's connections (at most 256)
// to other requests, and are at most 100,000; a larger --max-connections
// is lowered to that. A host's usual 20,000 descriptors still hold the
// 19,000 idle WebSockets of BENCHMARKS.md.
func TestConnectionBounds(t *testing.T) {
	for _, c := range []struct{ files, listener, websockets int }{
		{300, 236, 177},
		{1024, 922, 692},
		{20_000, 19_488, 19_232},
		{1 << 20, 1_048_064, 100_000},
	} {
		b, err := boundsFor(c.files)
		if err != nil || b.listener != c.listener || b.websockets != c.websockets {
			t.Errorf("boundsFor(%d) = %+v, %v; want listener %d, websockets %d", c.files, b, err, c.listener, c.websockets)
		}
	}
	if _, err := boundsFor(70); err == nil {
		t.Error("a limit of 70 descriptors was taken: it leaves 6 connections")
	}
	b, _ := boundsFor(300)
	var log strings.Builder
	logger := slog.New(slog.NewTextHandler(&log, nil))
	for requested, want := range map[int]int{0: 177, 50: 50, 177: 177, 100_000: 177} {
		if got := b.webSocketCap(requested, logger); got != want {
			t.Errorf("webSocketCap(%d) = %d, want %d", requested, got, want)
		}
	}
	if n := strings.Count(log.String(), "level=WARN"); n != 1 || !strings.Contains(log.String(), "requested=100000") {
		t.Errorf("want one warning, for the cap of 100000 lowered:\n%s", log.String())
	}
}

// TestIsLoopback: the per-address cap's default is off only on an
// address that takes loopback clients only.
func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.0.0.2:0": true, "localhost:8080": true, "[::1]:8080": true,
		":8080": false, "0.0.0.0:8080": false, "[::]:8080": false, "192.0.2.1:8080": false, "chat.example.com:443": false,
	} {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestServeConnectionFlags: on a loopback address `serve` has no cap per
// address unless one is given; a --max-connections above what the file
// descriptors allow is lowered to it, with a warning.
func TestServeConnectionFlags(t *testing.T) {
	files, err := openFileLimit()
	if err != nil {
		t.Fatal(err)
	}
	b, err := boundsFor(files)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		flags []string
		want  string
		warn  bool
	}{
		{nil, fmt.Sprintf("  connections     %d WebSockets (no limit per address), %d in all (file descriptor limit %d)\n", b.websockets, b.listener, files), false},
		{[]string{"--max-connections-per-ip", "7", "--max-connections", "10"}, "  connections     10 WebSockets (7 per address),", false},
		{[]string{"--max-connections", fmt.Sprint(b.websockets + 1)}, fmt.Sprintf("  connections     %d WebSockets (", b.websockets), true},
	} {
		stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- runServe(ctx, append([]string{"--addr", "127.0.0.1:0", "--data", t.TempDir(), "--log-level", "warn"}, c.flags...), stdout, stderr)
		}()
		eventually(t, "the banner is printed", func() bool { return strings.Contains(stdout.String(), "Press Ctrl-C") })
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("serve %v: %v", c.flags, err)
			}
		case <-time.After(waitTimeout):
			t.Fatal("serve did not stop")
		}
		if !strings.Contains(stdout.String(), c.want) {
			t.Errorf("serve %v: the banner has no %q:\n%s", c.flags, c.want, stdout.String())
		}
		if warned := strings.Contains(stderr.String(), "--max-connections lowered"); warned != c.warn {
			t.Errorf("serve %v: warned %v, want %v:\n%s", c.flags, warned, c.warn, stderr.String())
		}
	}
}

// TestFileDescriptorsNeverRunOut runs the real binary under `ulimit -n
// 300`, the reproduction of issue 9's fd exhaustion: 320 WebSockets of
// distinct users from one client used to take every descriptor, accept
// failed with EMFILE, and /healthz, like everyone else, went unanswered.
// Now the server derives its bounds from the limit it runs with: the
// handshakes past its WebSocket cap get 503 while REST, /healthz and
// /metrics still answer; connections past the listener's bound (raw TCP,
// never a request) are closed at once, and /healthz answers again as soon
// as one is released (a WebSocket's); accept never fails.
func TestFileDescriptorsNeverRunOut(t *testing.T) {
	bin := buildBinary(t)
	p := startCommand(t, exec.Command("/bin/sh", "-c", `ulimit -n 300 && exec "$0" "$@"`,
		bin, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()))

	var clients []*wsClient
	refused := 0
	for i := range 320 {
		user := fmt.Sprintf("u%d", i)
		c, resp, err := tryDial(t, p.url, originalQuery(user, "fd"))
		if err == nil {
			clients = append(clients, newWSClient(t, user, c))
			continue
		}
		if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("handshake %d: %v, want 101, or 503 past the WebSocket cap", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if code := checkErrorBody(t, "503", body); code != chatapp.EUNAVAILABLE {
			t.Fatalf("handshake %d: code %q, want %q", i, code, chatapp.EUNAVAILABLE)
		}
		refused++
	}
	if refused == 0 || len(clients) == 0 {
		t.Fatalf("%d WebSockets opened and %d refused: want the cap that 300 descriptors allow", len(clients), refused)
	}
	t.Logf("%d WebSockets opened, %d refused with 503", len(clients), refused)

	// The WebSockets are full: every other request still gets through.
	for _, path := range []string{"/healthz", "/metrics", "/chat?room_id=fd"} {
		if r := do(t, http.MethodGet, p.url+path, nil, nil); r.Status != http.StatusOK {
			t.Fatalf("GET %s with the WebSockets full: %d %s", path, r.Status, truncate(r.Body))
		}
	}
	if r := do(t, http.MethodPut, p.url+"/chat", `{"room_id":"fd","user_id":"rest","name":"R","text":"still here"}`, jsonHeader); r.Status != http.StatusOK {
		t.Fatalf("PUT /chat with the WebSockets full: %d %s", r.Status, truncate(r.Body))
	}
	if m := clients[0].nextMessage(); m.Text != "still here" {
		t.Fatalf("the push of the send: %+v", m)
	}

	// Raw connections until the listener's bound: a /healthz probe past it
	// is closed unanswered.
	var raws []net.Conn
	for healthz(t, p.url) {
		if len(raws) >= 300 {
			t.Fatalf("%d raw connections held and /healthz still answers: no bound under 300 descriptors", len(raws))
		}
		for range 10 {
			raws = append(raws, rawConn(t, p.url))
		}
	}
	t.Logf("the listener's bound reached with %d raw connections", len(raws))
	// A WebSocket's connection, hijacked from the HTTP server, gives its
	// place back when it closes, as any other.
	clients[1].close()
	for deadline := time.Now().Add(waitTimeout); !healthz(t, p.url); {
		if time.Now().After(deadline) {
			t.Fatalf("/healthz still refused %v after a WebSocket closed", waitTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}

	if strings.Contains(p.stderr.String(), "too many open files") {
		t.Fatalf("the server ran out of file descriptors:\n%s", p.stderr.String())
	}
	p.interrupt(t)
}

// healthz sends GET /healthz on a new connection and reports whether it
// was answered 200, or false when the server closed the connection
// unanswered. Any other answer, or none within waitTimeout, fails the
// test: a connection left waiting is one the server neither took nor
// refused.
func healthz(t *testing.T, base string) bool {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(waitTimeout))
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: chat\r\nConnection: close\r\n\r\n"); err != nil {
		return false // closed already
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("/healthz neither answered nor refused within %v", waitTimeout)
		}
		return false
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %s", resp.Status)
	}
	return true
}

// boundedServer serves /ok over a bounded listener of max connections, with
// the valve `serve` sets: near the bound, idle keep-alive connections close.
func boundedServer(t *testing.T, max, perSource int) (string, *boundedListener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bl := newBoundedListener(ln.(*net.TCPListener), max, slog.New(slog.DiscardHandler))
	bl.limitSources(perSource)
	srv := &http.Server{
		Handler:     http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) }),
		IdleTimeout: time.Minute, // far longer than the test: only the valve can close them
	}
	bl.onPressure(func(on bool) { srv.SetKeepAlivesEnabled(!on) })
	bl.hold = 100 * time.Millisecond
	go srv.Serve(bl)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), bl
}

// holdKeepAlive makes one request on a new connection and keeps it open,
// idle, as a client holding places would.
func holdKeepAlive(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprint(c, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("holding a connection: %v", err)
	}
	resp.Body.Close()
	return c
}

// TestIdleConnectionsGiveWay: a client that fills the listener with idle
// keep-alive connections (one request each, then nothing) does not lock
// others out until its connections time out: near the bound the server
// closes idle connections, and a newcomer is served at once.
func TestIdleConnectionsGiveWay(t *testing.T) {
	addr, bl := boundedServer(t, 20, 0)
	for range 20 {
		holdKeepAlive(t, addr)
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(5 * time.Second)
	for served := false; !served; {
		resp, err := client.Get("http://" + addr + "/ok")
		if err == nil {
			resp.Body.Close()
			served = resp.StatusCode == http.StatusOK
		}
		if !served && time.Now().After(deadline) {
			t.Fatalf("a newcomer is still refused 5 s after the listener filled with idle connections: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The idle ones closed, the listener is far under its marks again:
	// keep-alive is back, a connection serves a second request.
	eventually(t, "the valve closes again", func() bool {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close() // a connection's end is when the valve looks again
		}
		return !bl.underPressure.Load()
	})
	c := holdKeepAlive(t, addr)
	fmt.Fprint(c, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.Close {
		t.Fatalf("a second request on a kept-alive connection: %v (Connection: close %v); keep-alive stayed off", err, resp != nil && resp.Close)
	}
	resp.Body.Close()
}

// TestValveMarksLeaveWebSocketsAlone: WebSockets at their cap never turn the
// valve: its marks are counted in places kept from the HTTP reserve.
func TestValveMarksLeaveWebSocketsAlone(t *testing.T) {
	for _, files := range []int{300, 1024, 20000, 1 << 20} {
		b, err := boundsFor(files)
		if err != nil {
			t.Fatal(err)
		}
		l := &boundedListener{max: int64(b.listener)}
		l.onPressure(func(bool) {})
		if l.lowWater <= int64(b.websockets) || l.lowWater >= l.highWater || l.highWater > l.max {
			t.Errorf("%d descriptors: WebSockets %d, listener %d, marks %d/%d: want WebSockets < low < high ≤ listener",
				files, b.websockets, b.listener, l.lowWater, l.highWater)
		}
	}
}

// TestSourceShare: one source address holds at most its share of the
// listener; the places it cannot take stay free for others.
func TestSourceShare(t *testing.T) {
	addr, bl := boundedServer(t, 100, 3)
	var held []net.Conn
	for range 5 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	// The listener accepts in order and closes the two past the share at
	// once: a read on them ends; it holds the three within it.
	for _, c := range held[3:] {
		c.SetReadDeadline(time.Now().Add(waitTimeout))
		if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("a connection past the share of 3 is still open (%v)", err)
		}
	}
	if got := bl.open.Load(); got != 3 {
		t.Errorf("the listener holds %d connections, want 3", got)
	}
}

// TestValveHolds: closing the idle connections takes the count under the
// low mark at once; the valve stays on for its hold all the same, rather
// than turning off and on with every round of requests.
func TestValveHolds(t *testing.T) {
	var calls []bool
	l := &boundedListener{max: 1000, logger: slog.New(slog.DiscardHandler)}
	l.onPressure(func(on bool) { calls = append(calls, on) })
	l.hold = 50 * time.Millisecond
	l.watchPressure(l.highWater) // on
	l.watchPressure(0)           // the idle ones closed: still on
	if !l.underPressure.Load() || !slices.Equal(calls, []bool{true}) {
		t.Fatalf("valve calls %v within its hold, want [true]", calls)
	}
	time.Sleep(l.hold)
	l.watchPressure(0)
	if l.underPressure.Load() || !slices.Equal(calls, []bool{true, false}) {
		t.Fatalf("valve calls %v after its hold, want [true false]", calls)
	}
}

// TestSourceShareBounded: one address's share of the listener is its
// WebSockets and 64 more, but never more than a quarter of the bound (the
// default 1,000 per address on 400 descriptors let one client take all
// 336 places).
func TestSourceShareBounded(t *testing.T) {
	for _, c := range []struct{ perIP, listener, want int }{
		{1000, 19488, 1064},
		{1000, 336, 84},
		{10, 336, 74},
	} {
		if got := sourceShare(c.perIP, c.listener); got != c.want {
			t.Errorf("sourceShare(%d, %d) = %d, want %d", c.perIP, c.listener, got, c.want)
		}
	}
}
