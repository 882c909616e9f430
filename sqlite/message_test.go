package sqlite_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

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
