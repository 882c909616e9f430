package sqlite_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/sqlite"
)

// createMessages stores n messages in room, in order, and returns them.
func createMessages(t *testing.T, db *sqlite.DB, room string, n int) []*chatapp.Message {
	t.Helper()
	ms := make([]*chatapp.Message, n)
	for i := range n {
		m := &chatapp.Message{RoomID: room, UserID: "u1", Name: "Alice", Text: fmt.Sprintf("%s message %d", room, i)}
		if err := db.CreateMessage(context.Background(), m); err != nil {
			t.Fatalf("CreateMessage %d: %v", i, err)
		}
		ms[i] = m
	}
	return ms
}

// assertMessages checks that got holds exactly want, in order, field by field.
func assertMessages(t *testing.T, got, want []*chatapp.Message) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d messages, want %d", len(got), len(want))
	}
	for i := range got {
		if *got[i] != *want[i] {
			t.Fatalf("message %d = %+v, want %+v", i, *got[i], *want[i])
		}
	}
}

func TestCreateMessageAssignsIDAndTimestamp(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t)
	before := time.Now().UnixMilli()
	m := &chatapp.Message{RoomID: "lobby", UserID: "u1", Name: "Alice", Text: "hello"}
	if err := db.CreateMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	after := time.Now().UnixMilli()
	if !chatapp.ValidMessageID(m.ID) {
		t.Fatalf("ID %q is not a valid message id", m.ID)
	}
	if m.Timestamp < before || m.Timestamp > after {
		t.Errorf("Timestamp %d not within [%d, %d]", m.Timestamp, before, after)
	}
	if u := ulid.MustParseStrict(m.ID); int64(u.Time()) != m.Timestamp {
		t.Errorf("id time %d != timestamp %d", u.Time(), m.Timestamp)
	}

	// A caller's id and timestamp are kept.
	id := chatapp.NewMessageID(time.UnixMilli(1_000_000))
	given := &chatapp.Message{ID: id, RoomID: "lobby", UserID: "u2", Text: "old", Timestamp: 1_000_000}
	if err := db.CreateMessage(ctx, given); err != nil {
		t.Fatal(err)
	}
	if given.ID != id || given.Timestamp != 1_000_000 {
		t.Errorf("caller's id/timestamp changed to %q/%d", given.ID, given.Timestamp)
	}

	// The same id twice in a room is refused: a message is never overwritten.
	dup := &chatapp.Message{ID: id, RoomID: "lobby", UserID: "u3", Text: "dup"}
	if err := db.CreateMessage(ctx, dup); err == nil {
		t.Error("storing a duplicate id succeeded")
	}

	page, err := db.FindMessages(ctx, chatapp.MessageFilter{RoomID: "lobby"})
	if err != nil {
		t.Fatal(err)
	}
	assertMessages(t, page.Messages, []*chatapp.Message{given, m})
}

func TestFindMessagesLatestPage(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t)

	page, err := db.FindMessages(ctx, chatapp.MessageFilter{RoomID: "lobby"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 0 || page.More {
		t.Fatalf("empty room: %d messages, More=%v", len(page.Messages), page.More)
	}

	sent := createMessages(t, db, "lobby", 5)
	tests := []struct {
		limit int
		want  []*chatapp.Message
		more  bool
	}{
		{0, sent, false}, // default limit
		{1, sent[4:], true},
		{3, sent[2:], true},
		{4, sent[1:], true},
		{5, sent, false}, // exactly all: nothing older
		{6, sent, false},
		{chatapp.MaxHistoryLimit, sent, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("limit=%d", tt.limit), func(t *testing.T) {
			page, err := db.FindMessages(ctx, chatapp.MessageFilter{RoomID: "lobby", Limit: tt.limit})
			if err != nil {
				t.Fatal(err)
			}
			assertMessages(t, page.Messages, tt.want)
			if page.More != tt.more {
				t.Errorf("More = %v, want %v", page.More, tt.more)
			}
		})
	}
}

func TestFindMessagesInvalidFilter(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t)
	createMessages(t, db, "lobby", 1)
	id := chatapp.NewMessageID(time.Now())
	for _, f := range []chatapp.MessageFilter{
		{},
		{RoomID: "bad room"},
		{RoomID: "lobby", Limit: -1},
		{RoomID: "lobby", Limit: chatapp.MaxHistoryLimit + 1},
		{RoomID: "lobby", Before: "garbage"},
		{RoomID: "lobby", After: "garbage"},
		{RoomID: "lobby", Before: id, After: id},
	} {
		if _, err := db.FindMessages(ctx, f); chatapp.ErrorCode(err) != chatapp.EINVALID {
			t.Errorf("FindMessages(%+v) = %v, want code invalid", f, err)
		}
	}
}

func TestFindMessagesPagesBackThroughHistory(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t)
	const n, limit = 250, 100
	sent := createMessages(t, db, "lobby", n)
	createMessages(t, db, "noise", 10)

	var all []*chatapp.Message
	var sizes []int
	cursor := ""
	for range n {
		page, err := db.FindMessages(ctx, chatapp.MessageFilter{RoomID: "lobby", Before: cursor, Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(page.Messages))
		// Each page is oldest first and precedes what was read so far.
		all = append(append([]*chatapp.Message{}, page.Messages...), all...)
		if !page.More {
			break
		}
		cursor = page.Messages[0].ID
	}
	if fmt.Sprint(sizes) != "[100 100 50]" {
		t.Errorf("page sizes = %v, want [100 100 50]", sizes)
	}
	assertMessages(t, all, sent)

	// A page that ends exactly at the oldest message says there is no more.
	page, err := db.FindMessages(ctx, chatapp.MessageFilter{RoomID: "lobby", Before: sent[3].ID, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	assertMessages(t, page.Messages, sent[:3])
	if page.More {
		t.Error("More set on the page that holds the oldest message")
	}
	// Before the oldest message: empty.
	page, err = db.FindMessages(ctx, chatapp.MessageFilter{RoomID: "lobby", Before: sent[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 0 || page.More {
		t.Errorf("before the oldest: %d messages, More=%v", len(page.Messages), page.More)
	}
}

func TestFindMessagesPagesForwardWithAfter(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t)
	sent := createMessages(t, db, "lobby", 25)
	createMessages(t, db, "noise", 5)

	var all []*chatapp.Message
	var sizes []int
	after := sent[0].ID // read everything newer than the first message
	for range len(sent) {
		page, err := db.FindMessages(ctx, chatapp.MessageFilter{RoomID: "lobby", After: after, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(page.Messages))
		all = append(all, page.Messages...)
		if !page.More {
			break
		}
		after = page.Messages[len(page.Messages)-1].ID
	}
	if fmt.Sprint(sizes) != "[10 10 4]" {
		t.Errorf("page sizes = %v, want [10 10 4]", sizes)
	}
	assertMessages(t, all, sent[1:])

	// After the newest: nothing, no more.
	page, err := db.FindMessages(ctx, chatapp.MessageFilter{RoomID: "lobby", After: sent[len(sent)-1].ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 0 || page.More {
		t.Errorf("after the newest: %d messages, More=%v", len(page.Messages), page.More)
	}
	// A page that reaches the newest exactly says there is no more.
	page, err = db.FindMessages(ctx, chatapp.MessageFilter{RoomID: "lobby", After: sent[21].ID, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	assertMessages(t, page.Messages, sent[22:])
	if page.More {
		t.Error("More set on the page that holds the newest message")
	}
}

func TestFindMessagesRoomsIsolated(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t)
	// Interleave rooms so that ids of one room fall between those of another.
	var a, b []*chatapp.Message
	for i := range 6 {
		for _, room := range []string{"a", "b"} {
			m := &chatapp.Message{RoomID: room, UserID: "u", Text: fmt.Sprint(room, i)}
			if err := db.CreateMessage(ctx, m); err != nil {
				t.Fatal(err)
			}
			if room == "a" {
				a = append(a, m)
			} else {
				b = append(b, m)
			}
		}
	}
	for _, tt := range []struct {
		room string
		want []*chatapp.Message
	}{{"a", a}, {"b", b}} {
		page, err := db.FindMessages(ctx, chatapp.MessageFilter{RoomID: tt.room})
		if err != nil {
			t.Fatal(err)
		}
		assertMessages(t, page.Messages, tt.want)
		// Cursors from another room's messages still select by this room only.
		page, err = db.FindMessages(ctx, chatapp.MessageFilter{RoomID: tt.room, Before: a[3].ID, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Messages {
			if m.RoomID != tt.room || m.ID >= a[3].ID {
				t.Errorf("room %s before %s returned %+v", tt.room, a[3].ID, *m)
			}
		}
	}
	page, err := db.FindMessages(ctx, chatapp.MessageFilter{RoomID: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 0 {
		t.Errorf("room c has %d messages", len(page.Messages))
	}
	// Room ids are exact, not prefixes or case-folded.
	page, err = db.FindMessages(ctx, chatapp.MessageFilter{RoomID: "A"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 0 {
		t.Errorf("room A has %d messages", len(page.Messages))
	}
}

func TestCreateMessageConcurrent(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t)
	const n = 200
	sent := make([]*chatapp.Message, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			m := &chatapp.Message{RoomID: "lobby", UserID: fmt.Sprintf("u%d", i), Text: fmt.Sprintf("message %d", i)}
			errs[i] = db.CreateMessage(ctx, m)
			sent[i] = m
		})
	}
	wg.Wait()
	byID := map[string]*chatapp.Message{}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("CreateMessage %d: %v", i, err)
		}
		if byID[sent[i].ID] != nil {
			t.Fatalf("id %s assigned twice", sent[i].ID)
		}
		byID[sent[i].ID] = sent[i]
	}

	page, err := db.FindMessages(ctx, chatapp.MessageFilter{RoomID: "lobby", Limit: chatapp.MaxHistoryLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != n || page.More {
		t.Fatalf("history holds %d messages (More=%v), want %d", len(page.Messages), page.More, n)
	}
	for i, got := range page.Messages {
		want := byID[got.ID]
		if want == nil {
			t.Fatalf("history holds unknown id %s", got.ID)
		}
		if *got != *want {
			t.Errorf("stored %+v, sent %+v", *got, *want)
		}
		if i > 0 {
			prev := page.Messages[i-1]
			if got.ID <= prev.ID {
				t.Fatalf("history out of id order at %d: %s after %s", i, got.ID, prev.ID)
			}
			// Ids and timestamps are assigned together under the write
			// lock, so id order is also time order.
			if got.Timestamp < prev.Timestamp {
				t.Fatalf("timestamp goes back at %d: %d after %d", i, got.Timestamp, prev.Timestamp)
			}
		}
	}
}

// TestFindMessagesTailWhileWriting reads a room forward with After while
// writers add to it, as a client polling for new messages does. Ids are
// assigned in commit order, so a reader's cursor never passes a message that
// commits later: the tail sees every message exactly once, in order.
func TestFindMessagesTailWhileWriting(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t)
	first := createMessages(t, db, "lobby", 1)[0]
	const writers, each = 20, 10
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				m := &chatapp.Message{RoomID: "lobby", UserID: "u", Text: fmt.Sprintf("w%d-%d", w, i)}
				if err := db.CreateMessage(ctx, m); err != nil {
					t.Errorf("CreateMessage: %v", err)
					return
				}
			}
		})
	}
	go func() { wg.Wait(); close(done) }()

	seen := map[string]bool{}
	cursor := first.ID
	poll := func() {
		page, err := db.FindMessages(ctx, chatapp.MessageFilter{RoomID: "lobby", After: cursor, Limit: 7})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Messages {
			if m.ID <= cursor || seen[m.ID] {
				t.Fatalf("tail returned %s again or out of order (cursor %s)", m.ID, cursor)
			}
			seen[m.ID] = true
			cursor = m.ID
		}
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
			poll()
		}
	}
	for before := -1; before != len(seen); {
		before = len(seen)
		poll()
	}
	if len(seen) != writers*each {
		all := len(storedIDs(t, db, "lobby")) - 1
		t.Fatalf("tail saw %d messages, the room holds %d new ones: a cursor passed an uncommitted id", len(seen), all)
	}
}

func storedIDs(t *testing.T, db *sqlite.DB, room string) []string {
	t.Helper()
	page, err := db.FindMessages(context.Background(), chatapp.MessageFilter{RoomID: room, Limit: chatapp.MaxHistoryLimit})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(page.Messages))
	for i, m := range page.Messages {
		ids[i] = m.ID
	}
	return ids
}
