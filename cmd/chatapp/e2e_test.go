package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatapp-dev/chatapp/protocol"
)

// TestHistoryPaging reads 250 messages back through limit and next_cursor,
// and forward through after.
func TestHistoryPaging(t *testing.T) { forEachBackend(t, testHistoryPaging) }

func testHistoryPaging(t *testing.T, cfg ServeConfig) {
	s := startServer(t, cfg)
	const room, total = "paging", 250
	var sent []message
	for i := range total {
		out := putMessage(t, s.URL, room, "pager", "P", fmt.Sprintf("m%03d", i))
		b, _ := json.Marshal(out["message"])
		var m message
		if err := json.Unmarshal(b, &m); err != nil || m.ID == "" {
			t.Fatalf("PUT answered message %s", b)
		}
		sent = append(sent, m)
	}
	texts := func(ms []message) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.Text)
		}
		return out
	}
	want := texts(sent)

	// Without a limit: the latest DefaultHistoryLimit (100), oldest first.
	h := getHistory(t, s.URL, "room_id="+room+"&")
	if got := texts(h.Messages); !slices.Equal(got, want[150:]) {
		t.Fatalf("default page: %d messages %v..., want m150..m249", len(got), got[:min(3, len(got))])
	}
	if h.NextCursor != h.Messages[0].ID {
		t.Errorf("default page next_cursor %q, want the oldest id on the page %q", h.NextCursor, h.Messages[0].ID)
	}

	// Backwards through the whole room, 100 at a time.
	var pages [][]message
	query := "room_id=" + room + "&limit=100"
	for range 10 {
		h := getHistory(t, s.URL, query)
		if h.HasMore {
			t.Errorf("a backward page has has_more")
		}
		pages = append(pages, h.Messages)
		if h.NextCursor == "" {
			break
		}
		query = "room_id=" + room + "&limit=100&cursor=" + url.QueryEscape(h.NextCursor)
	}
	if len(pages) != 3 {
		t.Fatalf("read %d pages, want 3", len(pages))
	}
	if n := []int{len(pages[0]), len(pages[1]), len(pages[2])}; !slices.Equal(n, []int{100, 100, 50}) {
		t.Errorf("page sizes %v, want [100 100 50]", n)
	}
	var all []message
	for i := len(pages) - 1; i >= 0; i-- {
		all = append(all, pages[i]...)
	}
	if got := texts(all); !slices.Equal(got, want) {
		t.Fatalf("paged history differs from what was sent:\n got %v\nwant %v", got, want)
	}
	if !slices.Equal(all, sent) {
		t.Errorf("paged history entries differ from the messages PUT answered")
	}

	// A limit that covers the rest exactly: no cursor.
	h = getHistory(t, s.URL, "room_id="+room+"&limit=50&cursor="+sent[50].ID)
	if got := texts(h.Messages); !slices.Equal(got, want[:50]) || h.NextCursor != "" {
		t.Errorf("last page: %d messages, next_cursor %q; want m000..m049 and none", len(got), h.NextCursor)
	}

	// Forward with after=.
	h = getHistory(t, s.URL, "room_id="+room+"&after="+sent[199].ID+"&limit=30")
	if got := texts(h.Messages); !slices.Equal(got, want[200:230]) || !h.HasMore || h.NextCursor != "" {
		t.Errorf("after m199 limit 30: %v has_more=%v next_cursor=%q; want m200..m229, has_more, no cursor", got, h.HasMore, h.NextCursor)
	}
	h = getHistory(t, s.URL, "room_id="+room+"&after="+sent[229].ID+"&limit=100")
	if got := texts(h.Messages); !slices.Equal(got, want[230:]) || h.HasMore {
		t.Errorf("after m229: %v has_more=%v; want m230..m249 without has_more", got, h.HasMore)
	}
	h = getHistory(t, s.URL, "room_id="+room+"&after="+sent[total-1].ID)
	if len(h.Messages) != 0 || h.HasMore {
		t.Errorf("after the newest: %d messages has_more=%v, want none", len(h.Messages), h.HasMore)
	}

	// Another room's history is not mixed in.
	putMessage(t, s.URL, "other", "x", "X", "elsewhere")
	h = getHistory(t, s.URL, "room_id="+room+"&limit=1000")
	if got := texts(h.Messages); !slices.Equal(got, want) {
		t.Errorf("limit=1000: %d messages, want the room's %d", len(got), total)
	}
}

// TestBadInput sends malformed requests everywhere: each gets a 4xx with the
// JSON error shape and CORS, never a 5xx.
func TestBadInput(t *testing.T) { forEachBackend(t, testBadInput) }

func testBadInput(t *testing.T, cfg ServeConfig) {
	s := startServer(t, cfg)
	putMessage(t, s.URL, "room", "u", "N", "exists") // a room with history

	put := func(fields map[string]any) string { return mustJSON(t, fields) }
	okPut := map[string]any{"room_id": "room", "text": "hi", "user_id": "u", "name": "N"}
	with := func(k string, v any) string {
		m := map[string]any{}
		for k, v := range okPut {
			m[k] = v
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return put(m)
	}
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		status int
	}{
		{"GET without query", "GET", "/chat/", nil, 400},
		{"GET without query, no slash", "GET", "/chat", nil, 400},
		{"GET empty room_id", "GET", "/chat/?room_id=&", nil, 400},
		{"GET bad room_id", "GET", "/chat/?room_id=%3Cscript%3E", nil, 400},
		{"GET invalid UTF-8 room_id", "GET", "/chat/?room_id=%FF%FE", nil, 400},
		{"GET limit not a number", "GET", "/chat/?room_id=room&limit=ten", nil, 400},
		{"GET limit zero", "GET", "/chat/?room_id=room&limit=0", nil, 400},
		{"GET limit negative", "GET", "/chat/?room_id=room&limit=-5", nil, 400},
		{"GET limit too large", "GET", "/chat/?room_id=room&limit=1001", nil, 400},
		{"GET limit overflow", "GET", "/chat/?room_id=room&limit=99999999999999999999", nil, 400},
		{"GET bad cursor", "GET", "/chat/?room_id=room&cursor=zzz", nil, 400},
		{"GET bad after", "GET", "/chat/?room_id=room&after=%00", nil, 400},
		{"GET cursor and after", "GET", "/chat/?room_id=room&cursor=01ARZ3NDEKTSV4RRFFQ69G5FAV&after=01ARZ3NDEKTSV4RRFFQ69G5FAV", nil, 400},
		{"PUT no body", "PUT", "/chat/", nil, 400},
		{"PUT not JSON", "PUT", "/chat/", "xx", 400},
		{"PUT array", "PUT", "/chat/", "[]", 400},
		{"PUT null", "PUT", "/chat/", "null", 400},
		{"PUT empty object", "PUT", "/chat/", "{}", 400},
		{"PUT missing text", "PUT", "/chat/", with("text", nil), 400},
		{"PUT empty text", "PUT", "/chat/", with("text", ""), 400},
		{"PUT whitespace text", "PUT", "/chat/", with("text", " \t\n\u3000 "), 400},
		{"PUT text not a string", "PUT", "/chat/", with("text", 5), 400},
		{"PUT missing room_id", "PUT", "/chat/", with("room_id", nil), 400},
		{"PUT missing user_id", "PUT", "/chat/", with("user_id", nil), 400},
		{"PUT room_id object", "PUT", "/chat/", with("room_id", map[string]any{}), 400},
		{"PUT script room_id", "PUT", "/chat/", with("room_id", "<script>alert(1)</script>"), 400},
		{"PUT long room_id", "PUT", "/chat/", with("room_id", strings.Repeat("r", 129)), 400},
		{"PUT long name", "PUT", "/chat/", with("name", strings.Repeat("n", 65)), 400},
		{"PUT control name", "PUT", "/chat/", with("name", "a\x07b"), 400},
		{"PUT 20 KB text", "PUT", "/chat/", with("text", strings.Repeat("x", 20*1024)), 413},
		{"PUT 130 KB body", "PUT", "/chat/", with("name", strings.Repeat("n", 130*1024)), 413},
		{"PUT 11 MB body", "PUT", "/chat/", bytes.Repeat([]byte("x"), 11<<20), 413},
		{"PUT invalid UTF-8 text", "PUT", "/chat/", []byte("{\"room_id\":\"room\",\"text\":\"bad \xff\xfe\",\"user_id\":\"u\",\"name\":\"N\"}"), 400},
		{"PUT invalid UTF-8 room_id", "PUT", "/chat/", []byte("{\"room_id\":\"r\xc3\",\"text\":\"hi\",\"user_id\":\"u\",\"name\":\"N\"}"), 400},
		{"POST /chat", "POST", "/chat", okPut["text"], 404},
		{"POST /chat/", "POST", "/chat/", put(okPut), 404},
		{"DELETE /chat/", "DELETE", "/chat/", nil, 404},
		{"PUT /chat/users", "PUT", "/chat/users", put(okPut), 404},
		{"GET /chat/zzz", "GET", "/chat/zzz", nil, 404},
		{"PUT /chat/zzz", "PUT", "/chat/zzz", put(okPut), 404},
		{"GET /chat/users/x", "GET", "/chat/users/x", nil, 404},
		{"GET /chat/users without room", "GET", "/chat/users", nil, 400},
		{"GET /chat/users bad room", "GET", "/chat/users?room_id=a%20b", nil, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, tt.method, s.URL+tt.path, tt.body, jsonHeader)
			if r.Status != tt.status {
				t.Errorf("%s %s: %d %s, want %d", tt.method, tt.path, r.Status, truncate(r.Body), tt.status)
			}
			if r.Status >= 500 {
				t.Errorf("%s %s: a 5xx for bad input", tt.method, tt.path)
			}
			if got := r.Header.Get("Access-Control-Allow-Origin"); got == "" {
				t.Errorf("%s %s: no Access-Control-Allow-Origin", tt.method, tt.path)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("%s %s: Content-Type %q", tt.method, tt.path, ct)
			}
			code := checkErrorBody(t, tt.method+" "+tt.path, r.Body)
			if want := map[int]string{400: "invalid", 404: "not_found", 413: "too_large"}[tt.status]; code != want {
				t.Errorf("error code %q, want %q", code, want)
			}
		})
	}

	// Nothing bad was stored: the room holds its one message.
	if h := getHistory(t, s.URL, "room_id=room&limit=1000"); len(h.Messages) != 1 {
		t.Errorf("history holds %d messages after the bad input, want 1", len(h.Messages))
	}

	wsTests := []struct{ name, query string }{
		{"no query", ""},
		{"no user_id", "room_id=room&"},
		{"no room_id", "user_id=u&"},
		{"empty user_id", "user_id=&room_id=room&"},
		{"bad room_id", "user_id=u&room_id=%3Cscript%3E&"},
		{"long user_id", "user_id=" + strings.Repeat("u", 129) + "&room_id=room&"},
		{"control name", "user_id=u&room_id=room&name=%07"},
	}
	for _, tt := range wsTests {
		t.Run("WebSocket "+tt.name, func(t *testing.T) {
			c, resp, err := tryDial(t, s.URL, tt.query)
			if err == nil {
				c.CloseNow()
				t.Fatalf("handshake with ?%s accepted", tt.query)
			}
			if resp == nil {
				t.Fatalf("handshake with ?%s: no HTTP response: %v", tt.query, err)
			}
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("handshake with ?%s: %d, want 400", tt.query, resp.StatusCode)
			}
			if resp.Header.Get("Access-Control-Allow-Origin") == "" {
				t.Errorf("handshake rejection without Access-Control-Allow-Origin")
			}
			body, _ := io.ReadAll(resp.Body)
			if code := checkErrorBody(t, "handshake rejection", body); code != "invalid" {
				t.Errorf("error code %q, want invalid", code)
			}
		})
	}
	if users := getUsers(t, s.URL, "room"); len(users) != 0 {
		t.Errorf("rejected handshakes left connections: %+v", users)
	}
}

// TestWebSocketRoutes sends over the socket: sendmessage reaches the room and
// is stored; anything else gives the sender alone an error frame and leaves
// the connection open; an oversize frame closes it with 1009.
func TestWebSocketRoutes(t *testing.T) { forEachBackend(t, testWebSocketRoutes) }

func testWebSocketRoutes(t *testing.T, cfg ServeConfig) {
	s := startServer(t, cfg)
	sender := dial(t, s.URL, "sender", "user_id=alice&room_id=ws&name=Alice&")
	other := dial(t, s.URL, "other", originalQuery("bob", "ws"))

	sender.send(`{"action":"sendmessage","text":"over the socket","name":"Al"}`)
	for _, c := range []*wsClient{sender, other} {
		m := c.nextMessage()
		if m.Text != "over the socket" || m.UserID != "alice" || m.RoomID != "ws" || m.Name != "Al" {
			t.Errorf("%s got %+v", c.name, m)
		}
	}
	// Without a name the one given at $connect is used.
	sender.send(`{"action":"sendmessage","text":"unnamed"}`)
	for _, c := range []*wsClient{sender, other} {
		if m := c.nextMessage(); m.Text != "unnamed" || m.Name != "Alice" {
			t.Errorf("%s got %+v, want name Alice", c.name, m)
		}
	}
	h := getHistory(t, s.URL, "room_id=ws")
	if len(h.Messages) != 2 || h.Messages[0].Text != "over the socket" || h.Messages[0].UserID != "alice" || h.Messages[1].Text != "unnamed" {
		t.Errorf("history after two socket sends: %+v", h.Messages)
	}

	// Mistakes: one error frame each, to the sender only.
	sender.send(`{"action":"nope"}`)
	sender.send(`not json`)
	sender.send(`{"action":"sendmessage","text":"   "}`)
	sender.send(`{"action":"sendmessage","text":` + mustJSON(t, strings.Repeat("y", 17*1024)) + `}`)
	sender.send(`{"action":"$connect"}`)
	sender.send("{\"action\":\"sendmessage\",\"text\":\"bad \xff\"}")
	for i, want := range []string{"invalid", "invalid", "invalid", "too_large", "invalid", "invalid"} {
		if code := sender.nextError(); code != want {
			t.Errorf("error frame %d has code %q, want %q", i, code, want)
		}
	}
	// The connection still works, and the other client saw none of it.
	sender.send(`{"action":"sendmessage","text":"still here"}`)
	for _, c := range []*wsClient{sender, other} {
		if m := c.nextMessage(); m.Text != "still here" {
			t.Errorf("%s got %+v, want the message after the mistakes", c.name, m)
		}
	}
	if n := len(getHistory(t, s.URL, "room_id=ws").Messages); n != 3 {
		t.Errorf("history holds %d messages, want 3", n)
	}

	// A frame over API Gateway's 32 KB (a message over its 128 KB too) closes
	// the connection with 1009.
	big := `{"action":"sendmessage","text":"` + strings.Repeat("z", 130*1024) + `"}`
	ctx, cancel := contextWithTimeout()
	defer cancel()
	_ = sender.conn.Write(ctx, websocket.MessageText, []byte(big)) // may fail once the server closes
	sender.expectClose(websocket.StatusMessageTooBig)

	// The room goes on without it.
	eventually(t, "the closed sender leaves the room", func() bool { return len(getUsers(t, s.URL, "ws")) == 1 })
	putMessage(t, s.URL, "ws", "bob", "Bob", "after the big one")
	if m := other.nextMessage(); m.Text != "after the big one" {
		t.Errorf("other got %+v", m)
	}

	// A binary frame closes the connection with 1003, as API Gateway
	// does; nothing of it is stored or pushed.
	binary := dial(t, s.URL, "binary", "user_id=carol&room_id=ws&")
	binary.write(websocket.MessageBinary, []byte(`{"action":"sendmessage","text":"in binary"}`))
	binary.expectClose(websocket.StatusUnsupportedData)
	putMessage(t, s.URL, "ws", "bob", "Bob", "after the binary one")
	if m := other.nextMessage(); m.Text != "after the binary one" {
		t.Errorf("other got %+v, want the message after the binary frame", m)
	}
}

// TestPresence checks the opt-in join and leave frames and GET /chat/users.
func TestPresence(t *testing.T) { forEachBackend(t, testPresence) }

func testPresence(t *testing.T, cfg ServeConfig) {
	s := startServer(t, cfg)
	watcher := dial(t, s.URL, "watcher", "user_id=w&room_id=p&events=presence&")
	plain := dial(t, s.URL, "plain", originalQuery("plain", "p"))

	checkPresence := func(typ, user string) string {
		t.Helper()
		m := watcher.nextMap()
		if m["type"] != typ || m["user_id"] != user || m["room_id"] != "p" {
			t.Fatalf("watcher got %v, want %s of %s", m, typ, user)
		}
		id, _ := m["connection_id"].(string)
		if id == "" {
			t.Errorf("presence frame without connection_id: %v", m)
		}
		if _, ok := m["timestamp"].(json.Number); !ok {
			t.Errorf("presence timestamp is %T", m["timestamp"])
		}
		if _, ok := m["message"]; ok {
			t.Errorf("presence frame has a message field: %v", m)
		}
		return id
	}
	// A connection is not told of its own join: on AWS its $connect
	// cannot post to it (410), and a notifier that took that 410 for a
	// dead connection would delete the joiner's row. Its next frame is the
	// join of the next connection.
	checkPresence("join", "plain")

	users := getUsers(t, s.URL, "p")
	var got []string
	for _, u := range users {
		got = append(got, u.UserID)
		if u.RoomID != "p" || u.ConnectionID == "" {
			t.Errorf("user %+v", u)
		}
	}
	if !slices.Equal(got, []string{"w", "plain"}) {
		t.Errorf("users %v, want [w plain] oldest first", got)
	}
	// The watcher's row survived its own announcement: it sends over its
	// socket and gets the push back.
	watcher.send(`{"action":"sendmessage","text":"the watcher is here"}`)
	if m := watcher.nextMessage(); m.Text != "the watcher is here" || m.UserID != "w" {
		t.Fatalf("the watcher's own send came back as %+v", m)
	}
	if m := plain.nextMessage(); m.Text != "the watcher is here" {
		t.Errorf("plain got %+v", m)
	}

	visitor := dial(t, s.URL, "visitor", "user_id=v&room_id=p&name=Vic&")
	visitorID := checkPresence("join", "v")
	if n := len(getUsers(t, s.URL, "p")); n != 3 {
		t.Errorf("%d users with the visitor in, want 3", n)
	}
	visitor.close()
	if id := checkPresence("leave", "v"); id != visitorID {
		t.Errorf("leave of %s, joined as %s", id, visitorID)
	}
	eventually(t, "the visitor leaves /chat/users", func() bool {
		for _, u := range getUsers(t, s.URL, "p") {
			if u.ConnectionID == visitorID {
				return false
			}
		}
		return true
	})

	// The plain client saw none of it: its next frame is this message, and
	// the watcher gets the message too.
	putMessage(t, s.URL, "p", "w", "W", "after the visit")
	if m := plain.nextMessage(); m.Text != "after the visit" {
		t.Errorf("plain got %+v", m)
	}
	if m := watcher.nextMessage(); m.Text != "after the visit" {
		t.Errorf("watcher got %+v", m)
	}

	// A connection in another room is not announced here.
	dial(t, s.URL, "elsewhere", "user_id=e&room_id=q&")
	putMessage(t, s.URL, "p", "w", "W", "second")
	if m := watcher.nextMessage(); m.Text != "second" {
		t.Errorf("watcher got %+v", m)
	}

	// The client that leaves without a close frame is announced too.
	plainID := ""
	for _, u := range getUsers(t, s.URL, "p") {
		if u.UserID == "plain" {
			plainID = u.ConnectionID
		}
	}
	plain.conn.CloseNow()
	if id := checkPresence("leave", "plain"); id != plainID {
		t.Errorf("leave of %s, want %s", id, plainID)
	}
	eventually(t, "only the watcher is left", func() bool { return len(getUsers(t, s.URL, "p")) == 1 })
}

// TestManagementAPI drives the Management API over HTTP, as a function
// running out of process would, signing with the gateway's credentials.
func TestManagementAPI(t *testing.T) {
	s := startServer(t, ServeConfig{})
	c := dial(t, s.URL, "target", "user_id=t&room_id=mgmt&")
	c.notChat() // it gets the arbitrary frames posted below
	peer := dial(t, s.URL, "peer", "user_id=p&room_id=mgmt&")
	users := getUsers(t, s.URL, "mgmt")
	if len(users) != 2 || users[0].UserID != "t" {
		t.Fatalf("users %+v", users)
	}
	id := users[0].ConnectionID
	if !strings.HasSuffix(id, "=") {
		t.Errorf("connection id %q does not end with = as API Gateway's do", id)
	}
	connURL := s.URL + "/@connections/" + url.PathEscape(id)

	// POST: exactly that frame, to that connection only.
	payload := `{"custom":"frame","n":1}`
	if r := signedDo(t, s, http.MethodPost, connURL, payload, nil); r.Status != http.StatusOK {
		t.Fatalf("POST @connections: %d %s", r.Status, r.Body)
	}
	if got := string(c.next()); got != payload {
		t.Errorf("target got %q, want %q", got, payload)
	}
	// Also under the stage prefix, as an SDK endpoint with a stage calls it.
	if r := signedDo(t, s, http.MethodPost, s.URL+"/dev/@connections/"+url.PathEscape(id), "second", nil); r.Status != http.StatusOK {
		t.Fatalf("POST /dev/@connections: %d %s", r.Status, r.Body)
	}
	if got := string(c.next()); got != "second" {
		t.Errorf("target got %q, want second", got)
	}
	putMessage(t, s.URL, "mgmt", "x", "X", "marker")
	if m := peer.nextMessage(); m.Text != "marker" {
		t.Errorf("peer got %+v before the marker: posts leaked to it", m)
	}
	if m := c.nextMessage(); m.Text != "marker" {
		t.Errorf("target got %+v", m)
	}

	// GET: the connection's description.
	r := signedDo(t, s, http.MethodGet, connURL, nil, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET @connections: %d %s", r.Status, r.Body)
	}
	var info map[string]any
	decodeJSON(t, r.Body, &info)
	checkKeys(t, "GetConnection", info, "ConnectedAt", "Identity", "LastActiveAt")
	for _, k := range []string{"ConnectedAt", "LastActiveAt"} {
		v, _ := info[k].(string)
		ts, err := time.Parse(time.RFC3339Nano, v)
		if err != nil || time.Since(ts) > time.Minute || time.Until(ts) > time.Minute {
			t.Errorf("%s = %q, want a recent RFC 3339 time", k, v)
		}
	}
	ident, _ := info["Identity"].(map[string]any)
	if ident["SourceIp"] != "127.0.0.1" {
		t.Errorf("Identity %v, want SourceIp 127.0.0.1", info["Identity"])
	}

	// DELETE: the client sees its socket closed and leaves the room.
	r = signedDo(t, s, http.MethodDelete, connURL, nil, nil)
	if r.Status != http.StatusNoContent {
		t.Fatalf("DELETE @connections: %d %s", r.Status, r.Body)
	}
	c.expectClose(websocket.StatusNormalClosure)
	eventually(t, "the deleted connection leaves /chat/users", func() bool {
		users := getUsers(t, s.URL, "mgmt")
		return len(users) == 1 && users[0].UserID == "p"
	})

	// It is gone now, and so is an id that never was.
	for _, u := range []string{connURL, s.URL + "/@connections/" + url.PathEscape("AAAAAAAAAAAAAAA=")} {
		for _, method := range []string{http.MethodPost, http.MethodGet, http.MethodDelete} {
			r := signedDo(t, s, method, u, "data", nil)
			if r.Status != http.StatusGone || r.Header.Get("X-Amzn-ErrorType") != "GoneException" {
				t.Errorf("%s %s: %d X-Amzn-ErrorType=%q, want 410 GoneException", method, u, r.Status, r.Header.Get("X-Amzn-ErrorType"))
			}
		}
	}
	// A frame over 128 KB is refused.
	peerID := getUsers(t, s.URL, "mgmt")[0].ConnectionID
	r = signedDo(t, s, http.MethodPost, s.URL+"/@connections/"+url.PathEscape(peerID), bytes.Repeat([]byte("x"), 128*1024+1), nil)
	if r.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("POST of 128 KB + 1: %d, want 413", r.Status)
	}
	if r := signedDo(t, s, http.MethodPut, s.URL+"/@connections/"+url.PathEscape(peerID), "x", nil); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("PUT @connections: %d, want 405", r.Status)
	}
	putMessage(t, s.URL, "mgmt", "x", "X", "peer still fine")
	if m := peer.nextMessage(); m.Text != "peer still fine" {
		t.Errorf("peer got %+v", m)
	}
}

// TestIdleTimeout checks that a silent client, and one that sends only
// WebSocket pings, are closed with 1001 at the idle timeout, while one that
// sends the keepalive message ({"action":"ping"}, answered {"type":"pong"})
// stays open: AWS documents that API Gateway closes a connection idle for
// 10 minutes, not that a ping is activity. The keeper's keepalive goes
// every idle/10, so that a loaded machine has most of the idle timeout to
// catch up in.
func TestIdleTimeout(t *testing.T) {
	const idle = 1500 * time.Millisecond
	s := startServer(t, ServeConfig{IdleTimeout: idle})
	silent := dial(t, s.URL, "silent", "user_id=s&room_id=idle&")
	pinger := dial(t, s.URL, "pinger", "user_id=p&room_id=idle&")
	keeper := dial(t, s.URL, "keeper", "user_id=k&room_id=idle&")
	start := time.Now()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(idle / 5)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				// Once the server has closed it, pings fail: that is the point.
				ctx, cancel := contextWithTimeout()
				pinger.conn.Ping(ctx)
				cancel()
			}
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
	}()

	for time.Since(start) < 2*idle {
		keeper.send(`{"action":"` + protocol.ActionPing + `"}`)
		if got := keeper.next(); string(got) != protocol.PongFrame {
			t.Fatalf("after %v the keeper got %q, want %s", time.Since(start), got, protocol.PongFrame)
		}
		time.Sleep(idle / 10)
	}
	silent.expectClose(websocket.StatusGoingAway)
	pinger.expectClose(websocket.StatusGoingAway)
	keeper.send(`{"action":"sendmessage","text":"awake"}`)
	if m := keeper.nextMessage(); m.Text != "awake" {
		t.Errorf("keeper got %+v", m)
	}
	eventually(t, "the closed clients leave /chat/users", func() bool { return len(getUsers(t, s.URL, "idle")) == 1 })
}

// TestMaxConnectionDuration: a connection is closed with 1001 at API
// Gateway's maximum connection duration (2 hours, shortened here as
// TestIdleTimeout shortens the idle timeout), however busy it is: messages
// reset the idle timer, not this one.
func TestMaxConnectionDuration(t *testing.T) {
	const limit = 3 * time.Second
	s := startServer(t, ServeConfig{MaxConnectionDuration: limit})
	start := time.Now() // before the server's own start of the connection
	chatter := dial(t, s.URL, "chatter", "user_id=c&room_id=duration&")
	// Chatting all along: answered for the first half, so that a loaded
	// machine's last round trip has the other half to end in.
	for time.Since(start) < limit/2 {
		chatter.send(`{"action":"ping"}`)
		if got := chatter.next(); string(got) != protocol.PongFrame {
			t.Fatalf("after %v the chatter got %q, want %s", time.Since(start), got, protocol.PongFrame)
		}
		time.Sleep(limit / 20)
	}
	// Still chatting, past the limit: the close comes, whatever is sent.
	for time.Since(start) < limit+limit/4 {
		ctx, cancel := contextWithTimeout()
		err := chatter.conn.Write(ctx, websocket.MessageText, []byte(`{"action":"ping"}`))
		cancel()
		if err != nil {
			break // closed: that is the point
		}
		time.Sleep(limit / 20)
	}
	for {
		select {
		case f := <-chatter.frames:
			if f.err == nil {
				continue // a pong to a ping before the close
			}
			var ce websocket.CloseError
			if !errors.As(f.err, &ce) || ce.Code != websocket.StatusGoingAway || ce.Reason != "maximum connection duration reached" {
				t.Fatalf("the chatter's connection ended with %v, want 1001 maximum connection duration reached", f.err)
			}
			if age := time.Since(start); age < limit {
				t.Fatalf("closed after %v, before the %v limit", age, limit)
			}
			eventually(t, "the closed chatter leaves /chat/users", func() bool { return len(getUsers(t, s.URL, "duration")) == 0 })
			return
		case <-time.After(waitTimeout):
			t.Fatalf("still open %v after the %v limit", time.Since(start)-limit, limit)
		}
	}
}

// TestRestartKeepsHistory stops the server and starts another on the same
// data directory.
func TestRestartKeepsHistory(t *testing.T) { forEachBackend(t, testRestartKeepsHistory) }

func testRestartKeepsHistory(t *testing.T, cfg ServeConfig) {
	cfg.DataDir = t.TempDir()
	s1 := startServer(t, cfg)
	c := dial(t, s1.URL, "before", "user_id=u&room_id=keep&")
	for i := range 3 {
		putMessage(t, s1.URL, "keep", "u", "U", fmt.Sprintf("kept %d", i))
	}
	before := getHistory(t, s1.URL, "room_id=keep")
	for i := range 3 {
		if m := c.nextMessage(); m.Text != fmt.Sprintf("kept %d", i) {
			t.Errorf("push %d: %+v", i, m)
		}
	}
	s1.close(t)
	c.expectClose(websocket.StatusGoingAway)

	s2 := startServer(t, cfg)
	if s2.URL == s1.URL {
		t.Logf("the second server got the same address %s", s2.URL)
	}
	after := getHistory(t, s2.URL, "room_id=keep&")
	if !slices.Equal(after.Messages, before.Messages) || len(after.Messages) != 3 {
		t.Fatalf("history after restart %+v, want %+v", after.Messages, before.Messages)
	}
	// The connection of the first run is not listed, and sending works.
	if users := getUsers(t, s2.URL, "keep"); len(users) != 0 {
		t.Errorf("users after restart: %+v", users)
	}
	putMessage(t, s2.URL, "keep", "u", "U", "kept 3")
	h := getHistory(t, s2.URL, "room_id=keep")
	if len(h.Messages) != 4 || h.Messages[3].Text != "kept 3" || h.Messages[3].ID <= h.Messages[2].ID {
		t.Errorf("history after a send on restart: %+v", h.Messages)
	}
}
