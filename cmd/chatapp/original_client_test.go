package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
)

// originalFlow is the original Unity client's session, spoken exactly as it
// speaks it, against the server at base: two clients in one room and one in
// another, history, sends and pushes. The second client of the room
// connects to other: base, or another node of base's cluster.
func originalFlow(t *testing.T, base, other, roomA, roomB string) {
	t.Helper()
	a1 := dial(t, base, "a1", originalQuery("1001", roomA))
	a2 := dial(t, other, "a2", originalQuery("1002", roomA))
	b1 := dial(t, base, "b1", originalQuery("2001", roomB))

	// The client reads the history when it enters the room.
	r := do(t, http.MethodGet, base+"/chat/?room_id="+roomA+"&", nil, jsonHeader)
	if r.Status != http.StatusOK {
		t.Fatalf("history: %d %s", r.Status, r.Body)
	}
	if r.Header.Get("Access-Control-Allow-Origin") == "" {
		t.Errorf("history: no Access-Control-Allow-Origin")
	}
	var empty map[string]any
	decodeJSON(t, r.Body, &empty)
	if msgs, ok := empty["messages"].([]any); !ok || len(msgs) != 0 {
		t.Fatalf("history of a new room: %s, want an empty messages array", r.Body)
	}

	send := func(room, user, name, text string) {
		t.Helper()
		wantUsers := map[string][]string{roomA: {"1001", "1002"}, roomB: {"2001"}}[room]
		originalSend(t, base, room, user, name, text, wantUsers...)
	}

	send(roomA, "1001", "Alice", "hello A")
	p1 := checkPush(a1, roomA, "1001", "Alice", "hello A") // the sender too
	p2 := checkPush(a2, roomA, "1001", "Alice", "hello A")
	if p1 != p2 {
		t.Errorf("the two clients of room A got different frames: %+v and %+v", p1, p2)
	}

	// Room B's client got nothing of room A: its next frame is B's message.
	send(roomB, "2001", "Bob", "hello B")
	checkPush(b1, roomB, "2001", "Bob", "hello B")
	// And room A's clients got nothing of room B.
	send(roomA, "1002", "Carol", "second A")
	checkPush(a1, roomA, "1002", "Carol", "second A")
	checkPush(a2, roomA, "1002", "Carol", "second A")
	send(roomB, "2001", "Bob", "second B")
	checkPush(b1, roomB, "2001", "Bob", "second B")

	// History: oldest first, exactly the fields of a push.
	r = do(t, http.MethodGet, base+"/chat/?room_id="+roomA+"&", nil, jsonHeader)
	if r.Status != http.StatusOK {
		t.Fatalf("history: %d %s", r.Status, r.Body)
	}
	var raw struct {
		Messages []map[string]any `json:"messages"`
	}
	decodeJSON(t, r.Body, &raw)
	for _, m := range raw.Messages {
		checkKeys(t, "history entry", m, "id", "room_id", "timestamp", "message", "user_id", "name")
		if _, ok := m["timestamp"].(json.Number); !ok {
			t.Errorf("history timestamp is %T, want a JSON number", m["timestamp"])
		}
	}
	h := getHistory(t, base, "room_id="+roomA+"&")
	var texts []string
	for _, m := range h.Messages {
		texts = append(texts, m.Text)
	}
	if want := []string{"hello A", "second A"}; !slices.Equal(texts, want) {
		t.Fatalf("history of A: %q, want %q", texts, want)
	}
	if h.Messages[0] != p1 {
		t.Errorf("history entry %+v differs from the push %+v", h.Messages[0], p1)
	}
}

// originalSend sends as the original client does, to base, and checks the
// answer it parses: its users are exactly wantUsers (user ids, sorted).
func originalSend(t *testing.T, base, room, user, name, text string, wantUsers ...string) {
	t.Helper()
	body := mustJSON(t, map[string]string{"room_id": room, "text": text, "user_id": user, "name": name})
	r := do(t, http.MethodPut, base+"/chat/", body, jsonHeader)
	if r.Status != http.StatusOK {
		t.Fatalf("PUT /chat/: %d %s", r.Status, r.Body)
	}
	if r.Header.Get("Access-Control-Allow-Origin") == "" {
		t.Errorf("PUT /chat/: no Access-Control-Allow-Origin")
	}
	var out map[string]any
	decodeJSON(t, r.Body, &out)
	users, ok := out["users"].([]any)
	if !ok {
		t.Fatalf("PUT /chat/: users is not an array: %s", r.Body)
	}
	var gotUsers []string
	for _, u := range users {
		m, ok := u.(map[string]any)
		if !ok {
			t.Fatalf("PUT /chat/: user %v is not an object", u)
		}
		checkKeys(t, "PUT /chat/ user", m, "room_id", "connection_id", "user_id", "timestamp")
		if m["room_id"] != room {
			t.Errorf("PUT /chat/ into %s lists a user of room %v", room, m["room_id"])
		}
		if _, ok := m["timestamp"].(json.Number); !ok {
			t.Errorf("PUT /chat/ user timestamp is %T, want a number", m["timestamp"])
		}
		id, _ := m["connection_id"].(string)
		if id == "" {
			t.Errorf("PUT /chat/ user without connection_id: %v", m)
		}
		uid, _ := m["user_id"].(string)
		gotUsers = append(gotUsers, uid)
	}
	slices.Sort(gotUsers)
	if !slices.Equal(gotUsers, wantUsers) {
		t.Errorf("PUT /chat/ into %s: users %v, want %v", room, gotUsers, wantUsers)
	}
}

// checkPush reads c's next frame, which must be a push of this message in
// the original's format, and returns it.
func checkPush(c *wsClient, room, user, name, text string) message {
	c.t.Helper()
	m := c.nextMessage()
	if m.RoomID != room || m.UserID != user || m.Name != name || m.Text != text || m.ID == "" || m.Timestamp <= 0 {
		c.t.Errorf("%s got %+v, want room %s user %s name %s text %q", c.name, m, room, user, name, text)
	}
	return m
}

// TestOriginalClientFlow runs the original client's wire format against the
// server in process.
func TestOriginalClientFlow(t *testing.T) { forEachBackend(t, testOriginalClientFlow) }

func testOriginalClientFlow(t *testing.T, cfg ServeConfig) {
	s := startServer(t, cfg)
	originalFlow(t, s.URL, s.URL, "roomA", "roomB")

	// The CORS preflight a browser sends before the PUT.
	for _, path := range []string{"/chat", "/chat/", "/chat/users"} {
		r := do(t, http.MethodOptions, s.URL+path, nil, map[string]string{
			"Origin":                         "http://example.com",
			"Access-Control-Request-Method":  "PUT",
			"Access-Control-Request-Headers": "content-type",
		})
		if r.Status < 200 || r.Status > 299 {
			t.Errorf("OPTIONS %s: %d, want 2xx", path, r.Status)
		}
		for _, h := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers"} {
			if r.Header.Get(h) == "" {
				t.Errorf("OPTIONS %s: no %s", path, h)
			}
		}
		if path != "/chat/users" && !strings.Contains(r.Header.Get("Access-Control-Allow-Methods"), "PUT") {
			t.Errorf("OPTIONS %s: Allow-Methods %q lacks PUT", path, r.Header.Get("Access-Control-Allow-Methods"))
		}
		if !strings.Contains(strings.ToLower(r.Header.Get("Access-Control-Allow-Headers")), "content-type") {
			t.Errorf("OPTIONS %s: Allow-Headers %q lacks Content-Type", path, r.Header.Get("Access-Control-Allow-Headers"))
		}
	}
}

// TestBurstOfSends sends 100 messages at once into one room. The original
// keyed messages by room and millisecond and lost all but one of those sent
// in the same millisecond; here each must be stored and pushed once.
func TestBurstOfSends(t *testing.T) { forEachBackend(t, testBurstOfSends) }

func testBurstOfSends(t *testing.T, cfg ServeConfig) {
	s := startServer(t, cfg)
	const room, workers, perWorker = "burst", 10, 10
	const total = workers * perWorker
	c := dial(t, s.URL, "listener", originalQuery("listener", room))

	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				body := fmt.Sprintf(`{"room_id":%q,"text":"burst %d-%d","user_id":"u%d","name":"W%d"}`, room, w, i, w, w)
				r, err := tryDo(http.MethodPut, s.URL+"/chat/", body, jsonHeader)
				if err != nil {
					t.Error(err)
				} else if r.Status != http.StatusOK {
					t.Errorf("PUT %s: %d %s", body, r.Status, r.Body)
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	wantTexts := map[string]bool{}
	for w := range workers {
		for i := range perWorker {
			wantTexts[fmt.Sprintf("burst %d-%d", w, i)] = true
		}
	}

	h := getHistory(t, s.URL, "room_id="+room+"&limit=1000")
	if len(h.Messages) != total {
		t.Fatalf("history holds %d messages, want %d", len(h.Messages), total)
	}
	ids := map[string]bool{}
	texts := map[string]bool{}
	for i, m := range h.Messages {
		ids[m.ID] = true
		texts[m.Text] = true
		if i > 0 && m.ID <= h.Messages[i-1].ID {
			t.Errorf("history not in id order at %d: %s after %s", i, m.ID, h.Messages[i-1].ID)
		}
		if i > 0 && m.Timestamp < h.Messages[i-1].Timestamp {
			t.Errorf("history not in time order at %d", i)
		}
	}
	if len(ids) != total {
		t.Errorf("history holds %d distinct ids, want %d", len(ids), total)
	}
	for text := range wantTexts {
		if !texts[text] {
			t.Errorf("history lacks %q", text)
		}
	}
	if h.NextCursor != "" {
		t.Errorf("a complete page has next_cursor %q", h.NextCursor)
	}

	pushed := map[string]bool{}
	for range total {
		m := c.nextMessage()
		if pushed[m.ID] {
			t.Errorf("message %s pushed twice", m.ID)
		}
		pushed[m.ID] = true
		if !ids[m.ID] || !wantTexts[m.Text] {
			t.Errorf("push %+v is not in the history", m)
		}
	}
	// Nothing more was pushed: the next frame is a later message.
	putMessage(t, s.URL, room, "sentinel", "S", "after the burst")
	if m := c.nextMessage(); m.Text != "after the burst" {
		t.Errorf("after %d pushes got %+v, want the sentinel", total, m)
	}
}
