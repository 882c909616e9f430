package handler_test

// Tests of the byte bounds of the REST answers and bodies: what a history
// request loads from the store, the largest valid send, the users lists.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"unicode/utf16"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/gateway"
	"github.com/chatapp-dev/chatapp/handler"
)

// loadRecorder is a message store that records what each FindMessages
// loaded: how many messages, and how many bytes of text, name and ids.
type loadRecorder struct {
	chatapp.MessageStore
	mu              sync.Mutex
	messages, bytes int
}

func (r *loadRecorder) FindMessages(ctx context.Context, f chatapp.MessageFilter) (chatapp.MessagePage, error) {
	page, err := r.MessageStore.FindMessages(ctx, f)
	n := 0
	for _, m := range page.Messages {
		n += m.StoredSize()
	}
	r.mu.Lock()
	r.messages, r.bytes = len(page.Messages), n
	r.mu.Unlock()
	return page, err
}

func (r *loadRecorder) last() (messages, bytes int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.messages, r.bytes
}

// TestHistoryLoadsAboutAPage: GET /chat?limit=1000 on a room of 1000
// messages of 16 KiB made the store load all 1000 (16 MB) for a body that
// holds 63 of them. The store now loads at most the body's 1 MiB (and about
// the messages the body holds), on every page of a cursor walk and of an
// after= walk, which still return every message once, in order. A room of
// 200 shows it: a store that loaded the whole room would load 200 for 63.
func TestHistoryLoadsAboutAPage(t *testing.T) {
	e := newEnv(t)
	rec := &loadRecorder{MessageStore: e.db}
	e.h.Messages = rec
	const room = "heavy"
	text := strings.Repeat("x", chatapp.MaxMessageBytes)
	batch := make([]*chatapp.Message, 200)
	for i := range batch {
		batch[i] = &chatapp.Message{RoomID: room, UserID: "u1", Name: "Alice", Text: text}
	}
	if err := e.db.BulkInsert(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	want := make([]string, len(batch))
	for i, m := range batch {
		want[i] = m.ID
	}

	// check asserts what the store loaded for a page the handler answered.
	check := func(q string, page pageBody) {
		t.Helper()
		loaded, bytes := rec.last()
		if bytes > maxHistoryBody {
			t.Fatalf("GET /chat?%s: the store loaded %d messages, %d bytes, for a body of at most %d", q, loaded, bytes, maxHistoryBody)
		}
		if loaded > len(page.Messages)+1 {
			t.Errorf("GET /chat?%s: the store loaded %d messages for a page of %d", q, loaded, len(page.Messages))
		}
		if q == "room_id="+room+"&limit=1000" {
			t.Logf("the latest page: %d messages sent, %d loaded (%d bytes)", len(page.Messages), loaded, bytes)
		}
	}

	var got []string
	q := "room_id=" + room + "&limit=1000"
	for pages, cursor := 0, ""; ; pages++ {
		if pages > len(want) {
			t.Fatal("the cursor walk does not end")
		}
		page := e.getPage(t, q+cursor)
		check(q+cursor, page)
		ids := make([]string, len(page.Messages))
		for i, m := range page.Messages {
			ids[i] = m.ID
		}
		got = append(ids, got...)
		if page.NextCursor == "" {
			break
		}
		cursor = "&cursor=" + page.NextCursor
	}
	checkWalk(t, "cursor walk", got, want)

	got = nil
	after := "00000000000000000000000000"
	for pages := 0; ; pages++ {
		if pages > len(want) {
			t.Fatal("the after walk does not end")
		}
		page := e.getPage(t, q+"&after="+after)
		check(q+"&after="+after, page)
		for _, m := range page.Messages {
			got = append(got, m.ID)
		}
		if !page.HasMore {
			break
		}
		after = page.Messages[len(page.Messages)-1].ID
	}
	checkWalk(t, "after walk", got, want)
}

// asciiJSON is s as a JSON string written by an encoder that escapes every
// character outside printable ASCII (Python's json.dumps, Newtonsoft's
// EscapeNonAscii): the longest form a client sends. A control character
// takes 6 bytes, a character outside the BMP 12 (a surrogate pair).
func asciiJSON(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// worstMessage is the valid message whose JSON is largest: 16 KiB of
// control characters, a name of 64 characters outside the BMP, ids of 128
// bytes of letters outside the BMP (4 bytes each, 12 escaped).
func worstMessage() (room, user, name, text, key string) {
	return strings.Repeat("𝐀", chatapp.MaxIDBytes/4),
		strings.Repeat("𝐁", chatapp.MaxIDBytes/4),
		strings.Repeat("😀", chatapp.MaxNameRunes),
		strings.Repeat("\x01", chatapp.MaxMessageBytes),
		strings.Repeat("𝐂", chatapp.MaxIDBytes/4)
}

// TestLargestValidSend: the largest valid PUT body, as a client's JSON
// encoder writes it, is about 98 KiB; the 64 KiB body limit refused it with
// 413. It is stored as sent. The same message over the WebSocket
// (sendmessage), and its push, fit API Gateway's 128 KB message payload.
func TestLargestValidSend(t *testing.T) {
	e := newEnv(t)
	n := &pushNotifier{}
	e.h.Notifier = n
	room, user, name, text, key := worstMessage()
	m := &chatapp.Message{RoomID: room, UserID: user, Name: name, Text: text, IdempotencyKey: key}
	if err := m.Validate(); err != nil {
		t.Fatalf("test setup: the message is not valid: %v", err)
	}
	body := `{"room_id":` + asciiJSON(room) + `,"user_id":` + asciiJSON(user) + `,"name":` + asciiJSON(name) +
		`,"idempotency_key":` + asciiJSON(key) + `,"text":` + asciiJSON(text) + `}`
	if len(body) <= 96<<10 {
		t.Fatalf("test setup: the body is %d bytes, not the largest", len(body))
	}
	t.Logf("the largest PUT body: %d bytes", len(body))
	var out struct {
		Message chatapp.Message `json:"message"`
	}
	if err := json.Unmarshal(checkJSON(t, e.put(t, body, false), 200), &out); err != nil {
		t.Fatal(err)
	}
	stored := e.storedMessages(t, room)
	if len(stored) != 1 || stored[0].Text != text || stored[0].Name != name || stored[0].UserID != user || stored[0].ID != out.Message.ID {
		t.Fatalf("PUT of %d bytes: stored %d messages, not the one sent", len(body), len(stored))
	}

	// Over the WebSocket: the frame a client sends and the push it gets.
	q := url.Values{"room_id": {room}, "user_id": {user}, "name": {name}}.Encode()
	if resp := e.connect(t, "big-conn-0000=", q); resp.StatusCode != 200 {
		t.Fatalf("connect: %d %s", resp.StatusCode, resp.Body)
	}
	frame := `{"action":"sendmessage","name":` + asciiJSON(name) + `,"idempotency_key":` + asciiJSON(strings.Repeat("𝐃", chatapp.MaxIDBytes/4)) +
		`,"text":` + asciiJSON(strings.Repeat("\x02", chatapp.MaxMessageBytes)) + `}`
	if len(frame) > gateway.MaxPayloadBytes {
		t.Errorf("the largest sendmessage frame is %d bytes, over the gateway's %d", len(frame), gateway.MaxPayloadBytes)
	}
	n.frames = nil
	if resp := e.ws(t, e.h.SendMessage, "sendmessage", "big-conn-0000=", "", frame); resp.StatusCode != 200 {
		t.Fatalf("sendmessage: %d %s", resp.StatusCode, resp.Body)
	}
	if len(n.frames) != 1 {
		t.Fatalf("%d pushes, want 1", len(n.frames))
	}
	t.Logf("the largest sendmessage frame: %d bytes, its push: %d bytes", len(frame), len(n.frames[0]))
	if len(n.frames[0]) > gateway.MaxPayloadBytes {
		t.Errorf("the push of the largest message is %d bytes, over the gateway's %d", len(n.frames[0]), gateway.MaxPayloadBytes)
	}
}

// maxUsers is the most connections an answer lists.
const maxUsers = handler.MaxUsersListed

// storeNotifier pushes nothing and reports the room's stored connections,
// as apigw's Notifier does on AWS (it reads the room from the store for
// every send).
type storeNotifier struct{ conns chatapp.ConnectionStore }

func (n storeNotifier) Broadcast(ctx context.Context, roomID string, _ chatapp.Push) (chatapp.Delivery, error) {
	conns, err := n.conns.FindConnectionsByRoom(ctx, roomID)
	return chatapp.Delivery{Connections: conns}, err
}

func (n storeNotifier) Members(ctx context.Context, roomID string) ([]*chatapp.Connection, error) {
	return n.conns.FindConnectionsByRoom(ctx, roomID)
}

func (storeNotifier) Disconnect(context.Context, string, string) error { return nil }

func (n storeNotifier) Post(context.Context, string, []byte) error { return nil }

type usersBody struct {
	Users     []chatapp.Connection `json:"users"`
	Truncated *bool                `json:"users_truncated"`
}

// TestUsersListsBounded: a room with more connections than the bound
// answers GET /chat/users and PUT /chat with the oldest 1000 of them and
// "users_truncated":true, in at most 1 MiB of body even when every field
// is at its largest; a smaller room answers the original's shape, without
// the field. Before, both lists held the whole room: unbounded, and past
// Lambda's 6 MB a 502 for every send to the room.
func TestUsersListsBounded(t *testing.T) {
	e := newEnv(t)
	e.h.Notifier = storeNotifier{e.db}
	room, _, name, _, _ := worstMessage()
	const n = maxUsers + 5
	conns := make([]*chatapp.Connection, n)
	sem := make(chan struct{}, 16) // writes share group commits
	var wg sync.WaitGroup
	for i := range conns {
		conns[i] = &chatapp.Connection{
			ID:     fmt.Sprintf("c%014d=", i),
			RoomID: room, UserID: fmt.Sprintf("%0128d", i), Name: name,
			Timestamp: clockStart.UnixMilli() + int64(i),
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := e.db.CreateConnection(context.Background(), conns[i], 0); err != nil {
				t.Errorf("CreateConnection: %v", err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	small := "small-room"
	for i := range 3 {
		c := &chatapp.Connection{ID: fmt.Sprintf("s%014d=", i), RoomID: small, UserID: "u", Timestamp: int64(i + 1)}
		if err := e.db.CreateConnection(context.Background(), c, 0); err != nil {
			t.Fatal(err)
		}
	}

	check := func(what string, resp []byte, wantUsers int, wantTruncated bool) {
		t.Helper()
		t.Logf("%s: body of %d bytes", what, len(resp))
		if len(resp) > maxHistoryBody {
			t.Errorf("%s: body of %d bytes, over %d", what, len(resp), maxHistoryBody)
		}
		var b usersBody
		if err := json.Unmarshal(resp, &b); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if len(b.Users) != wantUsers {
			t.Fatalf("%s: %d users, want %d", what, len(b.Users), wantUsers)
		}
		switch {
		case wantTruncated && (b.Truncated == nil || !*b.Truncated):
			t.Errorf("%s: users_truncated is not true", what)
		case !wantTruncated && b.Truncated != nil:
			t.Errorf("%s: users_truncated present on an uncut list", what)
		}
		if wantTruncated {
			for i, c := range b.Users {
				if c != *conns[i] {
					t.Fatalf("%s: user %d is %+v, want the %dth oldest connection", what, i, c, i)
				}
			}
		}
	}

	roomQuery := url.Values{"room_id": {room}}.Encode()
	resp := e.users(t, roomQuery)
	check("GET /chat/users", checkJSON(t, resp, 200), maxUsers, true)
	if p := len(lambdaPayload(t, resp)); p > maxLambdaPayload {
		t.Errorf("GET /chat/users: Lambda payload of %d bytes, over %d", p, maxLambdaPayload)
	}
	check("GET /chat/users of a small room", checkJSON(t, e.users(t, "room_id="+small), 200), 3, false)

	_, _, _, text, _ := worstMessage()
	put := `{"room_id":` + asciiJSON(room) + `,"user_id":"sender","name":` + asciiJSON(name) + `,"text":` + asciiJSON(text[:4096]) + `}`
	resp = e.put(t, put, false)
	check("PUT /chat", checkJSON(t, resp, 200), maxUsers, true)
	if p := len(lambdaPayload(t, resp)); p > maxLambdaPayload {
		t.Errorf("PUT /chat: Lambda payload of %d bytes, over %d", p, maxLambdaPayload)
	}
	check("PUT /chat to a small room", checkJSON(t, e.put(t, `{"room_id":"small-room","user_id":"u","text":"hi"}`, false), 200), 3, false)
}
