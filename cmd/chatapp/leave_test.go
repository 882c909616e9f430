package main

import (
	"context"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestLeaveOfClosingSocket: a client that sends a binary frame is closed
// with 1003; one that then neither answers the close nor hangs up keeps
// the gateway waiting (closeWait, 5 s) before its $disconnect runs. The
// sweep, which runs many times meanwhile, must leave its row alone: the
// socket is the gateway's until $disconnect, which removes the row and
// announces the leave. Were the sweep to take the row, the room would
// hear the leave from it, long before the wait ends, and $disconnect
// would find no row. So the room hears exactly one leave, and not before
// the wait is over.
func TestLeaveOfClosingSocket(t *testing.T) { forEachBackend(t, testLeaveOfClosingSocket) }

// lingerAtLeast is less than the gateway's 5 s wait for a client that
// does not answer the close, which starts after the binary frame is
// written: no leave from $disconnect can come sooner. The sweep (every
// 200 ms, the row past its grace) would take the row within a second.
const lingerAtLeast = 4 * time.Second

func testLeaveOfClosingSocket(t *testing.T, cfg ServeConfig) {
	const grace = 500 * time.Millisecond
	cfg.SweepInterval, cfg.SweepGrace = 200*time.Millisecond, grace
	s := startServer(t, cfg)
	watcher := dial(t, s.URL, "watcher", "user_id=w&room_id=closing&events=presence&")
	victim, _, err := tryDial(t, s.URL, "user_id=v&room_id=closing&")
	if err != nil {
		t.Fatal(err)
	}
	defer victim.CloseNow()
	join := watcher.nextMap()
	if join["type"] != "join" || join["user_id"] != "v" {
		t.Fatalf("watcher got %v, want the join of v", join)
	}
	// Older than the grace: only its socket keeps the sweep off its row.
	time.Sleep(2 * grace)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	// Written, never read: the victim does not see the close frame, and
	// does not answer it.
	if err := victim.Write(ctx, websocket.MessageBinary, []byte{1}); err != nil {
		t.Fatal(err)
	}
	written := time.Now()
	// The gateway waits 5 s for the victim; then $disconnect runs.
	select {
	case f := <-watcher.frames:
		if f.err != nil {
			t.Fatalf("watcher: %v", f.err)
		}
		var m map[string]any
		decodeJSON(t, f.data, &m)
		if m["type"] != "leave" || m["connection_id"] != join["connection_id"] {
			t.Fatalf("watcher got %s, want the leave of v", f.data)
		}
		if waited := time.Since(written); waited < lingerAtLeast {
			t.Fatalf("the leave of v came %v after its close, while the gateway still waited for it: not from its $disconnect (the sweep took its row)", waited)
		}
	case <-time.After(4 * waitTimeout):
		t.Fatal("the watcher never heard v leave")
	}
	// And only once.
	select {
	case f := <-watcher.frames:
		t.Fatalf("after the leave of v, watcher got %s (err %v), want nothing", f.data, f.err)
	case <-time.After(time.Second):
	}
}

// TestSweptRowLeaveAnnounced: a row the sweep removes (its socket gone
// with a crash) is announced to its room as a $disconnect's would be: in
// process through the hub, under the emulator through the Management API
// (the hub knows no rooms then).
func TestSweptRowLeaveAnnounced(t *testing.T) { forEachBackend(t, testSweptRowLeaveAnnounced) }

func testSweptRowLeaveAnnounced(t *testing.T, cfg ServeConfig) {
	cfg.DataDir = t.TempDir()
	cfg.SweepInterval, cfg.SweepGrace = 50*time.Millisecond, time.Minute
	s := startServer(t, cfg)
	store := connectionStore(t, cfg)
	watcher := dial(t, s.URL, "watcher", "user_id=w&room_id=swept&events=presence&")
	stale := staleConnection("swept", time.Now().Add(-time.Hour))
	if err := store.CreateConnection(t.Context(), stale, 0); err != nil {
		t.Fatal(err)
	}
	m := watcher.nextMap()
	if m["type"] != "leave" || m["connection_id"] != stale.ID || m["user_id"] != "ghost" || m["name"] != "Ghost" || m["room_id"] != "swept" {
		t.Fatalf("watcher got %v, want the leave of the swept row %s", m, stale.ID)
	}
}
