package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/client"
)

// bigRoomBody is the history body budget (handler.MaxHistoryBodyBytes).
const bigRoomBody = 1 << 20

// TestBigRoom: a room of 100 messages of 16 KiB of "<" (9.8 MB as one page
// under json.Marshal; on Lambda, over its 6 MB response limit, a 502 for
// the room) is read whole on every backend, the Lambda emulator included:
// a client that was away catches up over pages the server ended early
// (has_more), a client dialled with a backlog of 100 follows next_cursor,
// and every page is within the byte budget.
func TestBigRoom(t *testing.T) { forEachBackend(t, testBigRoom) }

func testBigRoom(t *testing.T, cfg ServeConfig) {
	if cfg.Store == "" {
		cfg.DataDir = t.TempDir()
	}
	s1 := startServer(t, cfg)
	addr := strings.TrimPrefix(s1.URL, "http://")
	const room = "big"
	g := newGate(t)
	away := dialClient(t, s1.URL, client.Config{Room: room, UserID: "away", HTTPClient: &http.Client{Transport: g}})
	r := record(t, "away", away)
	putMessage(t, s1.URL, room, "u", "U", "first")
	r.waitText("first")

	// The client loses its connection; 100 large messages are sent
	// meanwhile (by 100 users: each user's sends are rate limited).
	g.down.Store(true)
	s1.close(t)
	r.wait("a failed reconnection attempt", func(evs []client.Event) bool { return count(evs, client.KindReconnecting) >= 1 })
	s2 := restartServer(t, cfg, addr)
	var want []string
	for i := range 100 {
		text := fmt.Sprintf("%03d ", i)
		text += strings.Repeat("<", chatapp.MaxMessageBytes-len(text))
		putRaw(t, s2.URL, room, fmt.Sprint("u", i), "<Ada>", text)
		want = append(want, text)
	}
	g.down.Store(false)
	r.waitText(want[99])
	if got := texts(messagesOf(r.snapshot())); !slices.Equal(got, append([]string{"first"}, want...)) {
		t.Errorf("caught up %d messages, want first and the 100 in order", len(got))
	}

	// The latest page and a walk back over next_cursor, and an after=
	// walk over has_more.
	var walked []string
	q := "room_id=" + room
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("the cursor walk does not end")
		}
		h := getBigPage(t, s2.URL, q)
		walked = append(historyTexts(h), walked...)
		if h.NextCursor == "" {
			break
		}
		q = "room_id=" + room + "&cursor=" + h.NextCursor
	}
	if !slices.Equal(walked, append([]string{"first"}, want...)) {
		t.Errorf("the cursor walk read %d messages, want first and the 100 in order", len(walked))
	}
	walked = nil
	after := "00000000000000000000000000"
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("the after walk does not end")
		}
		h := getBigPage(t, s2.URL, "room_id="+room+"&limit=1000&after="+after)
		walked = append(walked, historyTexts(h)...)
		if !h.HasMore {
			break
		}
		after = h.Messages[len(h.Messages)-1].ID
	}
	if !slices.Equal(walked, append([]string{"first"}, want...)) {
		t.Errorf("the after walk read %d messages, want first and the 100 in order", len(walked))
	}

	// A client dialled with a backlog of 100 gets the 100 latest.
	fresh := dialClient(t, s2.URL, client.Config{Room: room, UserID: "fresh", Backlog: 100})
	rf := record(t, "fresh", fresh)
	putMessage(t, s2.URL, room, "u", "U", "live")
	rf.waitText("live")
	if got := texts(messagesOf(rf.snapshot())); !slices.Equal(got, append(want, "live")) {
		t.Errorf("backlog and live: %d messages, want the 100 and live", len(got))
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	// The client sends 16 KiB of "<" as 16 KiB, not 96 KiB of escapes.
	if _, err := fresh.Send(ctx, want[0]); err != nil {
		t.Errorf("Send of 16 KiB of <: %v", err)
	}
	if err := fresh.SendWS(ctx, want[1]); err != nil {
		t.Errorf("SendWS of 16 KiB of <: %v", err)
	}
	if page, err := fresh.History(ctx, client.HistoryOptions{Limit: 1000}); err != nil || len(page.Messages) == 0 || page.NextCursor == "" {
		t.Errorf("History limit 1000: %d messages, next_cursor %q, %v; want a page ended early", len(page.Messages), page.NextCursor, err)
	}
}

// putRaw is putMessage with a body that holds the text as it is: as
// json.Marshal writes it, 16 KiB of "<" is 96 KiB of \u003c escapes.
func putRaw(t *testing.T, base, room, user, name, text string) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]string{"room_id": room, "text": text, "user_id": user, "name": name}); err != nil {
		t.Fatal(err)
	}
	if r := do(t, http.MethodPut, base+"/chat", buf.Bytes(), jsonHeader); r.Status != http.StatusOK {
		t.Fatalf("PUT /chat: %d %s", r.Status, truncate(r.Body))
	}
}

// getBigPage reads a history page, which must fit the byte budget and hold
// a message.
func getBigPage(t *testing.T, base, query string) history {
	t.Helper()
	resp := do(t, http.MethodGet, base+"/chat?"+query, nil, nil)
	if resp.Status != http.StatusOK {
		t.Fatalf("GET /chat?%s: %d %s", query, resp.Status, truncate(resp.Body))
	}
	if len(resp.Body) > bigRoomBody {
		t.Errorf("GET /chat?%s: %d bytes, over %d", query, len(resp.Body), bigRoomBody)
	}
	h := getHistory(t, base, query)
	if len(h.Messages) == 0 {
		t.Fatalf("GET /chat?%s: no message", query)
	}
	return h
}
