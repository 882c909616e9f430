package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/internal/pglocal"
	"github.com/chatapp-dev/chatapp/storetest"
)

// TestGroupCommitSharesCommits: sends queued together share transactions,
// and each wait returns once its own message is stored.
func TestGroupCommitSharesCommits(t *testing.T) {
	db := openDB(t, pglocal.Schema(t))
	const n = 300
	waits := make([]func() error, n)
	ms := make([]*chatapp.Message, n)
	for i := range n {
		ms[i] = &chatapp.Message{RoomID: fmt.Sprintf("r%d", i%7), UserID: "u", Text: fmt.Sprint(i)}
		var err error
		if waits[i], err = db.QueueMessage(t.Context(), ms[i]); err != nil {
			t.Fatal(err)
		}
	}
	for i, wait := range waits {
		if err := wait(); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if c := db.commits.Load(); c >= n {
		t.Errorf("%d sends took %d commits: none shared", n, c)
	} else {
		t.Logf("%d sends in %d commits", n, c)
	}
	for room := range 7 {
		page, err := db.FindMessages(t.Context(), chatapp.MessageFilter{RoomID: fmt.Sprintf("r%d", room), Limit: n})
		if err != nil {
			t.Fatal(err)
		}
		for j, m := range page.Messages {
			want := *ms[room+7*j]
			want.PrevID = "" // only the answer to the message's writer carries it
			if *m != want {
				t.Fatalf("room %d, message %d = %+v, want %+v (queue order)", room, j, *m, want)
			}
		}
	}
}

// TestBatchWriteFailsAlone: a write the tables cannot hold is refused on
// its own; the batch's other writes commit.
func TestBatchWriteFailsAlone(t *testing.T) {
	db := openDB(t, pglocal.Schema(t))
	ws := []*write{
		{ctx: t.Context(), m: &chatapp.Message{RoomID: "r", UserID: "u", Text: "a\x00NUL is text"}},
		{ctx: t.Context(), m: &chatapp.Message{RoomID: "r", UserID: "bad\xff", Text: "not UTF-8"}},
		{ctx: t.Context(), m: &chatapp.Message{RoomID: "r", UserID: "u", ID: "not-an-id", Text: "given a bad id"}},
		{ctx: t.Context(), m: &chatapp.Message{RoomID: "r", UserID: "u", ID: strings.ToLower(storetest.MessageID(time.Now())), Text: "an id in lower case"}},
		{ctx: t.Context(), m: &chatapp.Message{RoomID: "r", UserID: "u", Text: "fine"}},
	}
	db.commit(t.Context(), ws)
	for i, w := range ws {
		want := ""
		if i == 1 || i == 2 || i == 3 {
			want = chatapp.EINVALID
		}
		if got := chatapp.ErrorCode(w.err); got != want || (want == "" && w.err != nil) {
			t.Errorf("write %d: %v, want code %q", i, w.err, want)
		}
	}
	page, err := db.FindMessages(t.Context(), chatapp.MessageFilter{RoomID: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 2 || page.Messages[0].Text != "a\x00NUL is text" || page.Messages[1].Text != "fine" {
		t.Fatalf("stored %+v, want the NUL text and fine", page.Messages)
	}
}

// TestFailedBatchFailsEveryWrite: when the transaction fails, no write of
// the batch is acknowledged, and each message is left as it was given,
// with no id, so that a retry is a new attempt.
func TestFailedBatchFailsEveryWrite(t *testing.T) {
	db := openDB(t, pglocal.Schema(t))
	// A constraint the server checks at the insert, which the store
	// cannot foresee: it aborts the transaction.
	if _, err := db.pool.Exec(t.Context(), `ALTER TABLE messages ADD CONSTRAINT no_boom CHECK (message <> 'boom'::bytea)`); err != nil {
		t.Fatal(err)
	}
	first := &chatapp.Message{RoomID: "r", UserID: "u", Text: "first", IdempotencyKey: "k"}
	if err := db.CreateMessage(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	ws := []*write{
		{ctx: t.Context(), m: &chatapp.Message{RoomID: "r", UserID: "u", Text: "fine"}},
		{ctx: t.Context(), m: &chatapp.Message{RoomID: "r", UserID: "u", Text: "first", IdempotencyKey: "k"}}, // a replay
		{ctx: t.Context(), m: &chatapp.Message{RoomID: "r2", UserID: "u", Text: "boom"}},
	}
	given := make([]chatapp.Message, len(ws))
	for i, w := range ws {
		given[i] = *w.m
	}
	db.commit(t.Context(), ws)
	for i, w := range ws {
		if w.err == nil || errors.Is(w.err, chatapp.ErrDuplicate) {
			t.Errorf("write %d of the failed batch: %v, want the transaction's failure", i, w.err)
		}
		if *w.m != given[i] {
			t.Errorf("write %d: the message became %+v, want it as given %+v", i, *w.m, given[i])
		}
	}
	page, err := db.FindMessages(t.Context(), chatapp.MessageFilter{RoomID: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 1 {
		t.Fatalf("room holds %d messages, want only the first", len(page.Messages))
	}
	// The store goes on: the failed connection was dropped, not reused.
	if err := db.CreateMessage(t.Context(), &chatapp.Message{RoomID: "r", UserID: "u", Text: "after"}); err != nil {
		t.Fatalf("a send after the failed batch: %v", err)
	}
}

// TestCloseCommitsQueued: Close commits what is queued before it returns,
// and a send after Close gets ErrClosed.
func TestCloseCommitsQueued(t *testing.T) {
	url := pglocal.Schema(t)
	db, err := Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	var waits []func() error
	for i := range 50 {
		wait, err := db.QueueMessage(context.Background(), &chatapp.Message{RoomID: "r", UserID: "u", Text: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, wait)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for i, wait := range waits {
		if err := wait(); err != nil {
			t.Errorf("send %d queued before Close: %v", i, err)
		}
	}
	if _, err := db.QueueMessage(context.Background(), &chatapp.Message{RoomID: "r", UserID: "u", Text: "late"}); !errors.Is(err, ErrClosed) {
		t.Errorf("send after Close: %v, want ErrClosed", err)
	}
	page, err := openDB(t, url).FindMessages(t.Context(), chatapp.MessageFilter{RoomID: "r"})
	if err != nil || len(page.Messages) != 50 {
		t.Fatalf("after Close the room holds %d messages (%v), want 50", len(page.Messages), err)
	}
}
