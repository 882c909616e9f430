package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/protocol"
	"github.com/chatapp-dev/chatapp/sqlite"
)

// Bounds of the crash test's load: senders of each kind, sends per sender,
// and how many acknowledgements of each kind to collect before the kill.
const (
	crashSenders    = 6
	crashSendsEach  = 300
	crashAcksToKill = 200
	crashLoadLimit  = 20 * time.Second
)

// ackLog records every send the server acknowledged: its text (unique per
// send) and the id the server stored it under.
type ackLog struct {
	mu       sync.Mutex
	ids      map[string]string
	rest, ws atomic.Int64
	attempts atomic.Int64
}

func (a *ackLog) add(t *testing.T, text, id string, ws bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if prev, ok := a.ids[text]; ok {
		t.Errorf("%q acknowledged twice, as %s and %s", text, prev, id)
		return
	}
	a.ids[text] = id
	if ws {
		a.ws.Add(1)
	} else {
		a.rest.Add(1)
	}
}

// TestCrashKeepsAcknowledgedSends kills the real binary with SIGKILL in the
// middle of concurrent REST and WebSocket sends, restarts it on the same
// data, and finds every acknowledged message in the history, once, with its
// id and text. A REST send is acknowledged by its 200; a sendmessage frame
// has no reply, so it counts as acknowledged when its push reaches the
// sender, which happens only after the commit.
func TestCrashKeepsAcknowledgedSends(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the chatapp binary")
	}
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	p := startProcess(t, bin, data)

	const room = "crash"
	tag := fmt.Sprintf("%x", time.Now().UnixNano())
	acks := &ackLog{ids: map[string]string{}}
	ctx, cancel := context.WithTimeout(context.Background(), crashLoadLimit)
	defer cancel()

	// Dial first, so that every socket is open when the load starts.
	var conns []*websocket.Conn
	for g := range crashSenders {
		c, _, err := tryDial(t, p.url, originalQuery(fmt.Sprintf("ws-%d", g), room))
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		c.SetReadLimit(1 << 20)
		defer c.CloseNow()
		conns = append(conns, c)
	}
	var wg sync.WaitGroup
	for g := range crashSenders {
		wg.Go(func() { sendREST(ctx, t, p.url, room, fmt.Sprintf("rest %d %s", g, tag), acks) })
		wg.Go(func() { sendWS(ctx, t, conns[g], fmt.Sprintf("ws-%d", g), fmt.Sprintf("ws %d %s", g, tag), acks) })
	}

	// Kill once both kinds have been acknowledged often enough, with sends
	// of both still in flight.
	for acks.rest.Load() < crashAcksToKill || acks.ws.Load() < crashAcksToKill {
		if ctx.Err() != nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	select {
	case <-p.exited:
	case <-time.After(waitTimeout):
		t.Fatal("chatapp still running after SIGKILL")
	}
	wg.Wait()
	cancel()
	restAcks, wsAcks := acks.rest.Load(), acks.ws.Load()
	if restAcks == 0 || wsAcks == 0 {
		t.Fatalf("no load to measure: %d REST and %d WebSocket sends acknowledged", restAcks, wsAcks)
	}

	p2 := startProcess(t, bin, data)
	stored := readRoom(t, p2.url, room)
	byText := map[string]message{}
	byID := map[string]bool{}
	for i, m := range stored {
		if i > 0 && m.ID <= stored[i-1].ID {
			t.Errorf("history out of id order: %s after %s", m.ID, stored[i-1].ID)
		}
		if byID[m.ID] {
			t.Errorf("id %s is in the history twice", m.ID)
		}
		byID[m.ID] = true
		if prev, ok := byText[m.Text]; ok {
			t.Errorf("%q stored twice, as %s and %s", m.Text, prev.ID, m.ID)
		}
		byText[m.Text] = m
		if !strings.Contains(m.Text, tag) {
			t.Errorf("history holds %q, which was never sent", m.Text)
		}
	}
	lost := 0
	for text, id := range acks.ids {
		m, ok := byText[text]
		switch {
		case !ok:
			lost++
			t.Errorf("acknowledged %q (%s) is not in the history after the crash", text, id)
		case m.ID != id:
			t.Errorf("acknowledged %q as %s, stored as %s", text, id, m.ID)
		}
	}
	t.Logf("%d sends attempted, %d acknowledged (%d REST, %d WebSocket), the rest cut off by the SIGKILL; "+
		"%d stored after restart, %d of them committed but never acknowledged; %d acknowledged sends lost",
		acks.attempts.Load(), restAcks+wsAcks, restAcks, wsAcks,
		len(stored), len(stored)-len(acks.ids), lost)

	// The restarted store takes writes.
	out := putMessage(t, p2.url, room, "after", "After", "after the crash "+tag)
	if h := getHistory(t, p2.url, "room_id="+room+"&limit=1"); len(h.Messages) != 1 || h.Messages[0].ID != out["message"].(map[string]any)["id"] {
		t.Errorf("latest message after restart = %+v, want the one just sent", h.Messages)
	}
	p2.stop(t, syscall.SIGTERM)
}

// sendREST sends PUT /chat until its count is done, ctx ends or the server
// is gone. Each send has its own user, so that no per-user limit refuses it.
func sendREST(ctx context.Context, t *testing.T, base, room, prefix string, acks *ackLog) {
	for i := range crashSendsEach {
		if ctx.Err() != nil {
			return
		}
		text := fmt.Sprintf("%s %d", prefix, i)
		body, _ := json.Marshal(map[string]string{"room_id": room, "text": text, "user_id": fmt.Sprintf("rest-%d", acks.attempts.Add(1))})
		r, err := tryDo(http.MethodPut, base+"/chat", body, jsonHeader)
		if err != nil {
			return // killed
		}
		if r.Status != http.StatusOK {
			if r.Status >= 500 {
				t.Errorf("PUT %s: %d %s", body, r.Status, r.Body)
			}
			continue
		}
		var out struct{ Message message }
		if err := json.Unmarshal(r.Body, &out); err != nil || out.Message.ID == "" || out.Message.Text != text {
			t.Errorf("PUT %s: 200 with %s", body, r.Body)
			continue
		}
		acks.add(t, text, out.Message.ID, false)
	}
}

// sendWS sends sendmessage frames on c, one at a time: each waits for its
// push (the acknowledgement) or an error frame. Pushes of the other senders
// in the room are skipped.
func sendWS(ctx context.Context, t *testing.T, c *websocket.Conn, userID, prefix string, acks *ackLog) {
	for i := range crashSendsEach {
		if ctx.Err() != nil {
			return
		}
		text := fmt.Sprintf("%s %d", prefix, i)
		acks.attempts.Add(1)
		frame, _ := json.Marshal(map[string]string{"action": "sendmessage", "text": text})
		if c.Write(ctx, websocket.MessageText, frame) != nil {
			return // killed
		}
		for {
			_, data, err := c.Read(ctx)
			if err != nil {
				return // killed
			}
			var e protocol.ErrorBody
			if json.Unmarshal(data, &e) == nil && e.Error.Code != "" {
				// A refusal (a rate limit) is no acknowledgement; a fault is a bug.
				if e.Error.Code == chatapp.EINTERNAL {
					t.Errorf("%s: error frame %s", userID, data)
				}
				time.Sleep(50 * time.Millisecond)
				break
			}
			var f message
			if err := json.Unmarshal(data, &f); err != nil {
				t.Errorf("%s: frame %q: %v", userID, data, err)
				return
			}
			if f.UserID == userID && f.Text == text {
				acks.add(t, text, f.ID, true)
				break
			}
		}
	}
}

// readRoom pages through a room's whole history with cursors, oldest first.
func readRoom(t *testing.T, base, room string) []message {
	t.Helper()
	var all []message
	query := "room_id=" + url.QueryEscape(room) + "&limit=50"
	for page := ""; ; {
		h := getHistory(t, base, query+page)
		all = append(h.Messages, all...)
		if h.NextCursor == "" {
			return all
		}
		if len(all) > 100_000 {
			t.Fatalf("history of %s does not end", room)
		}
		page = "&cursor=" + url.QueryEscape(h.NextCursor)
	}
}

// TestSIGTERMClosesClientsAndKeepsData stops the real binary as a service
// manager does: its clients get 1001, it exits 0, every connection row is
// gone ($disconnect ran), and the database file is whole, checkpointed and
// holds the history.
func TestSIGTERMClosesClientsAndKeepsData(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the chatapp binary")
	}
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	p := startProcess(t, bin, data)

	const room = "sigterm"
	putMessage(t, p.url, room, "u1", "One", "first")
	putMessage(t, p.url, room, "u2", "Two", "second")
	clients := []*wsClient{
		dial(t, p.url, "a", originalQuery("a", room)),
		dial(t, p.url, "b", originalQuery("b", room)),
		dial(t, p.url, "watcher", originalQuery("w", room)+"events=presence"),
	}
	clients[0].send(`{"action":"sendmessage","text":"third"}`)
	for _, c := range clients[:2] {
		if m := c.nextMessage(); m.Text != "third" {
			t.Fatalf("%s: push %+v, want third", c.name, m)
		}
	}
	for {
		if m := clients[2].nextMap(); m["message"] == "third" {
			break // after the presence frames of a and b
		}
	}

	p.stop(t, syscall.SIGTERM)
	for _, c := range clients {
		c.expectClose(websocket.StatusGoingAway)
	}

	// A clean close checkpoints the write-ahead log into the database file
	// and removes it.
	path := filepath.Join(data, sqlite.FileName)
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		t.Errorf("%s-wal is left with %d bytes: the store was not closed", path, fi.Size())
	}
	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	var check string
	if err := raw.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check: %q, %v", check, err)
	}
	raw.Close()

	ctx, cancel := contextWithTimeout()
	defer cancel()
	db, err := sqlite.Open(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	page, err := db.FindMessages(ctx, chatapp.MessageFilter{RoomID: room})
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, m := range page.Messages {
		texts = append(texts, m.Text)
	}
	if got := strings.Join(texts, "|"); got != "first|second|third" {
		t.Errorf("history after SIGTERM: %q, want first|second|third", got)
	}
	if conns, err := db.FindConnectionsByRoom(ctx, room); err != nil || len(conns) != 0 {
		t.Errorf("connections left after SIGTERM: %+v, %v ($disconnect did not run)", conns, err)
	}
}
