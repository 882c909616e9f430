package client

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/chatapp-dev/chatapp/internal/hostilews"
)

// TestReconnectBackoffAcrossSessions: against a server that closes every
// WebSocket right after the handshake, the backoff grows from one
// connection to the next, as from one failed attempt to the next: a
// connection that did not stay up stableConnection was a failed attempt.
// The old client began again at attempt 1 after each connection, and made
// one (and a catch-up GET) every MinBackoff or so: with 10 ms, hundreds in
// the window. Growing to MaxBackoff (1 s), it makes about ten; 40 would
// take four dozen waits at their shortest in a row.
func TestReconnectBackoffAcrossSessions(t *testing.T) {
	const window = 3 * time.Second
	ks := startKeepaliveServer(t, hostilews.Options{CloseAtOnce: true})
	cfg := ks.config(time.Minute, 0)
	cfg.MinBackoff, cfg.MaxBackoff = 10*time.Millisecond, time.Second
	c := ks.dial(t, cfg)
	deadline := time.After(window)
	maxAttempt := 0
	for done := false; !done; {
		select {
		case ev := <-c.Events():
			if ev.Kind == KindReconnecting {
				maxAttempt = max(maxAttempt, ev.Attempt)
			}
		case <-deadline:
			done = true
		}
	}
	n := ks.Connections.Load()
	t.Logf("%d connections in %v, attempts up to %d", n, window, maxAttempt)
	if n > 40 {
		t.Errorf("%d connections in %v to a server that closes each at once, want at most 40 (the backoff grows)", n, window)
	}
	if n < 3 || maxAttempt < 3 {
		t.Errorf("%d connections, attempts up to %d: want at least 3 of each (the client goes on reconnecting)", n, maxAttempt)
	}
}

// countingHandler counts the warnings logged, and keeps their "skipped".
type countingHandler struct {
	mu      sync.Mutex
	warns   int
	skipped int64
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *countingHandler) WithGroup(string) slog.Handler            { return h }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.warns++
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "skipped" {
			h.skipped += a.Value.Int64()
		}
		return true
	})
	return nil
}

func (h *countingHandler) counts() (warns int, skipped int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.warns, h.skipped
}

// TestGarbageFramesLogSparsely: a server that streams frames the client
// cannot use (not JSON, or of no known kind) gets them skipped with a
// warning now and then, not one a frame: the old client made 584,683 log
// calls in 5 s of such a stream. A message after the garbage shows that
// the client has read it all.
func TestGarbageFramesLogSparsely(t *testing.T) {
	const garbage = 3000
	var frames [][]byte
	for i := range garbage {
		if i%2 == 0 {
			frames = append(frames, fmt.Appendf(nil, "garbage %d", i))
		} else {
			frames = append(frames, fmt.Appendf(nil, `{"type":"nonsense","n":%d}`, i))
		}
	}
	frames = append(frames, []byte(`{"id":"01HZZZZZZZZZZZZZZZZZZZZZZZ","room_id":"r","user_id":"u","message":"after the garbage","timestamp":1}`))
	ks := startKeepaliveServer(t, hostilews.Options{Frames: frames})
	h := &countingHandler{}
	cfg := ks.config(time.Minute, 0)
	cfg.Logger = slog.New(h)
	c := ks.dial(t, cfg)
	deadline := time.After(20 * time.Second)
	for got := false; !got; {
		select {
		case ev := <-c.Events():
			got = ev.Kind == KindMessage && ev.Message.Text == "after the garbage"
		case <-deadline:
			t.Fatal("no message after the garbage within 20 s")
		}
	}
	// One warning, and one more each skipLogInterval (10 s) the stream
	// took: at most 3 within the 20 s allowed.
	if warns, _ := h.counts(); warns < 1 || warns > 3 {
		t.Errorf("%d warnings for %d frames skipped, want 1 to 3", warns, garbage)
	}
}

// TestSkipCountsWhatItDidNotLog: each warning says how many frames were
// skipped since the last one, so that none goes uncounted.
func TestSkipCountsWhatItDidNotLog(t *testing.T) {
	const interval = 50 * time.Millisecond
	h := &countingHandler{}
	c := &Client{log: slog.New(h), skipLog: rate.Sometimes{First: 1, Interval: interval}}
	const n = 1000
	for range n {
		c.skip("unknown frame", []byte("x"), nil)
	}
	time.Sleep(interval + 10*time.Millisecond)
	c.skip("unknown frame", []byte("x"), nil) // logged: the interval is past
	warns, skipped := h.counts()
	if skipped != n+1 {
		t.Errorf("the warnings counted %d frames skipped, want %d", skipped, n+1)
	}
	if warns < 2 || warns > n/2 {
		t.Errorf("%d warnings for %d frames, want at least 2 (the first, and one after the interval) and far fewer than frames", warns, n+1)
	}
}
