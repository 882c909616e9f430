package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp"
)

func openTestDB(t *testing.T, dir string) *DB {
	t.Helper()
	db, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func request(m *chatapp.Message) *createRequest {
	return &createRequest{ctx: context.Background(), m: m, done: make(chan error, 1)}
}

// commit runs one batch as the writer goroutine does.
func (db *DB) commit(ms ...*chatapp.Message) []error {
	batch := make([]*createRequest, len(ms))
	for i, m := range ms {
		batch[i] = request(m)
	}
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	return db.commitBatch(batch)
}

func roomIDs(t *testing.T, db *DB, room string) []string {
	t.Helper()
	page, err := db.FindMessages(context.Background(), chatapp.MessageFilter{RoomID: room, Limit: chatapp.MaxHistoryLimit})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range page.Messages {
		ids = append(ids, m.ID)
	}
	return ids
}

// TestConcurrentCreatesAcrossRooms: 100 rooms send at once, one message in
// flight per room as the handler's room lock allows. Each message is
// readable the moment its CreateMessage returns, survives a reopen, and the
// sends shared commits.
func TestConcurrentCreatesAcrossRooms(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	const rooms, each = 100, 20
	sent := make([][]string, rooms)
	var wg sync.WaitGroup
	for r := range rooms {
		wg.Go(func() {
			room := fmt.Sprintf("room-%d", r)
			for i := range each {
				m := &chatapp.Message{RoomID: room, UserID: "u", Text: fmt.Sprintf("%d", i)}
				if err := db.CreateMessage(ctx, m); err != nil {
					t.Errorf("CreateMessage: %v", err)
					return
				}
				page, err := db.FindMessages(ctx, chatapp.MessageFilter{RoomID: room, Limit: 1})
				if err != nil || len(page.Messages) != 1 || page.Messages[0].ID != m.ID {
					t.Errorf("room %s: latest after return = %+v, %v; want %s", room, page.Messages, err, m.ID)
					return
				}
				sent[r] = append(sent[r], m.ID)
			}
		})
	}
	wg.Wait()
	if commits := db.commits.Load(); commits >= rooms*each {
		t.Errorf("%d sends took %d commits: no batching", rooms*each, commits)
	} else {
		t.Logf("%d sends in %d commits", rooms*each, commits)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTestDB(t, dir)
	for r := range rooms {
		if got := roomIDs(t, db, fmt.Sprintf("room-%d", r)); fmt.Sprint(got) != fmt.Sprint(sent[r]) {
			t.Fatalf("room %d after reopen holds %v, want %v", r, got, sent[r])
		}
	}
}

// TestBatchKeyConflictFailsOnlyItsMessage: a message whose id is taken fails
// alone; the rest of its batch commits, in order.
func TestBatchKeyConflictFailsOnlyItsMessage(t *testing.T) {
	db := openTestDB(t, t.TempDir())
	existing := &chatapp.Message{RoomID: "r", UserID: "u", Text: "existing"}
	if err := db.CreateMessage(context.Background(), existing); err != nil {
		t.Fatal(err)
	}
	a := &chatapp.Message{RoomID: "r", UserID: "u", Text: "a"}
	clash := &chatapp.Message{ID: existing.ID, RoomID: "r", UserID: "u", Text: "clash"}
	b := &chatapp.Message{RoomID: "r", UserID: "u", Text: "b"}
	errs := db.commit(a, clash, b)
	if errs[0] != nil || errs[2] != nil {
		t.Fatalf("the messages around the conflict failed: %v", errs)
	}
	if errs[1] == nil || errors.Is(errs[1], chatapp.ErrDuplicate) {
		t.Fatalf("the conflicting message: err = %v, want a key conflict", errs[1])
	}
	if got, want := roomIDs(t, db, "r"), []string{existing.ID, a.ID, b.ID}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("history %v, want %v", got, want)
	}
}

// TestBatchIdempotencyKeys: a retry in the same batch as its first attempt
// is a duplicate of it; a retry in a later batch is a duplicate of the
// stored one; a first attempt that fails does not stand for its retry.
func TestBatchIdempotencyKeys(t *testing.T) {
	db := openTestDB(t, t.TempDir())
	first := &chatapp.Message{RoomID: "r", UserID: "u", Name: "U", Text: "once", IdempotencyKey: "k"}
	retry := &chatapp.Message{RoomID: "r", UserID: "u", Name: "U", Text: "once", IdempotencyKey: "k"}
	otherUser := &chatapp.Message{RoomID: "r", UserID: "v", Text: "mine", IdempotencyKey: "k"}
	errs := db.commit(first, retry, otherUser)
	if errs[0] != nil || errs[2] != nil || !errors.Is(errs[1], chatapp.ErrDuplicate) {
		t.Fatalf("errs = %v, want nil, ErrDuplicate, nil", errs)
	}
	if *retry != *first {
		t.Fatalf("retry filled with %+v, want the first %+v", *retry, *first)
	}

	later := &chatapp.Message{RoomID: "r", UserID: "u", Text: "once", IdempotencyKey: "k"}
	if errs := db.commit(later); !errors.Is(errs[0], chatapp.ErrDuplicate) || later.ID != first.ID {
		t.Fatalf("retry in a later batch: %v, id %s; want ErrDuplicate, %s", errs[0], later.ID, first.ID)
	}

	failing := &chatapp.Message{ID: first.ID, RoomID: "r", UserID: "u", Text: "x", IdempotencyKey: "k2"}
	itsRetry := &chatapp.Message{RoomID: "r", UserID: "u", Text: "x", IdempotencyKey: "k2"}
	errs = db.commit(failing, itsRetry)
	if errs[0] == nil || errs[1] != nil {
		t.Fatalf("errs = %v, want a key conflict, then nil", errs)
	}
	if got, want := roomIDs(t, db, "r"), []string{first.ID, otherUser.ID, itsRetry.ID}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("history %v, want %v", got, want)
	}
}

// TestBatchFailureRollsBackTheBatch: an error that may end the transaction
// (here a trigger's RAISE(ROLLBACK)) fails every message of the batch, and
// none of them is stored: no acknowledged send is missing, no failed one
// half-stored.
func TestBatchFailureRollsBackTheBatch(t *testing.T) {
	db := openTestDB(t, t.TempDir())
	if _, err := db.writer.Exec(`CREATE TRIGGER boom BEFORE INSERT ON messages WHEN NEW.message = 'boom'
		BEGIN SELECT RAISE(ROLLBACK, 'boom'); END`); err != nil {
		t.Fatal(err)
	}
	errs := db.commit(
		&chatapp.Message{RoomID: "r", UserID: "u", Text: "before"},
		&chatapp.Message{RoomID: "r", UserID: "u", Text: "boom"},
		&chatapp.Message{RoomID: "r", UserID: "u", Text: "after"},
	)
	for i, err := range errs {
		if err == nil {
			t.Errorf("message %d succeeded in a failed batch", i)
		}
	}
	if got := roomIDs(t, db, "r"); len(got) != 0 {
		t.Fatalf("a failed batch stored %v", got)
	}
	if err := db.CreateMessage(context.Background(), &chatapp.Message{RoomID: "r", UserID: "u", Text: "next"}); err != nil {
		t.Fatalf("the next batch: %v", err)
	}
}

// TestCloseDrainsPendingWrites: sends queued behind a busy writer when Close
// is called are committed before it returns; sends after it get ErrClosed.
func TestCloseDrainsPendingWrites(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	db.writeMu.Lock() // the writer takes a batch and waits here
	const n = 50
	// The writer's batch is whatever is queued when it wakes, all of the
	// first n if the scheduler lets them queue first: sends go on until n/2
	// wait behind it.
	ms := make([]*chatapp.Message, 0, 4*n)
	errs := make([]error, 4*n)
	var wg sync.WaitGroup
	send := func() {
		i := len(ms)
		ms = append(ms, &chatapp.Message{RoomID: fmt.Sprintf("room-%d", i), UserID: "u", Text: "pending"})
		m := ms[i]
		wg.Go(func() { errs[i] = db.CreateMessage(ctx, m) })
	}
	for range n {
		send()
	}
	for deadline := time.Now().Add(15 * time.Second); db.queue.Len() < n/2; {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d sends queued", db.queue.Len(), len(ms))
		}
		if len(ms) < cap(ms) {
			send()
		}
		time.Sleep(time.Millisecond)
	}
	closed := make(chan error)
	go func() { closed <- db.Close() }()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if db.queue.Closing() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Close did not start")
		}
	}
	db.writeMu.Unlock()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := db.CreateMessage(ctx, &chatapp.Message{RoomID: "r", UserID: "u", Text: "late"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("CreateMessage after Close: %v, want ErrClosed", err)
	}

	db = openTestDB(t, dir)
	committed := 0
	for i, m := range ms {
		switch got := roomIDs(t, db, m.RoomID); {
		case errs[i] == nil && (len(got) != 1 || got[0] != m.ID):
			t.Errorf("acknowledged send %d is missing after Close: %v", i, got)
		case errs[i] == nil:
			committed++
		case !errors.Is(errs[i], ErrClosed):
			t.Errorf("send %d: %v", i, errs[i])
		}
	}
	if committed < n/2 {
		t.Errorf("Close committed %d of the %d or more sends queued", committed, n/2)
	}
}

// connectionRequest is a CreateConnection's write as the batch gets it.
func connectionRequest(c *chatapp.Connection) *createRequest {
	return &createRequest{ctx: context.Background(), exec: insertConnection(c, 0), done: make(chan error, 1)}
}

// TestBatchConnectionFailureRollsBackTheBatch: a connection write whose
// error ended the transaction (a trigger's RAISE(ROLLBACK)) fails every
// write of its batch, before and after it, and none is stored. Before,
// the batch went on as if only that write had failed: the messages after
// it were committed one by one outside the transaction, and then all were
// told they failed.
func TestBatchConnectionFailureRollsBackTheBatch(t *testing.T) {
	db := openTestDB(t, t.TempDir())
	if _, err := db.writer.Exec(`CREATE TRIGGER boom BEFORE INSERT ON connections WHEN NEW.name = 'boom'
		BEGIN SELECT RAISE(ROLLBACK, 'boom'); END`); err != nil {
		t.Fatal(err)
	}
	before := &chatapp.Message{RoomID: "r", UserID: "u", Text: "before"}
	boom := &chatapp.Connection{ID: "boom=", RoomID: "r", UserID: "u", Name: "boom"}
	fine := &chatapp.Connection{ID: "fine=", RoomID: "r", UserID: "u", Name: "fine"}
	after := &chatapp.Message{RoomID: "r", UserID: "u", Text: "after"}
	batch := []*createRequest{request(before), connectionRequest(fine), connectionRequest(boom), request(after)}
	db.writeMu.Lock()
	errs := db.commitBatch(batch)
	db.writeMu.Unlock()
	for i, err := range errs {
		if err == nil {
			t.Errorf("write %d succeeded in a rolled back batch", i)
		}
	}
	if got := roomIDs(t, db, "r"); len(got) != 0 {
		t.Errorf("a rolled back batch stored messages %v", got)
	}
	for _, id := range []string{fine.ID, boom.ID} {
		if _, err := db.FindConnection(context.Background(), id); chatapp.ErrorCode(err) != chatapp.ENOTFOUND {
			t.Errorf("connection %s of a rolled back batch: %v, want not_found", id, err)
		}
	}
	if err := db.CreateConnection(context.Background(), fine, 0); err != nil {
		t.Fatalf("the next batch: %v", err)
	}
}

// TestBatchStatementFailureFailsOnlyItsWrite: a connection write whose
// statement fails without ending the transaction (RAISE(ABORT)) fails
// alone; the writes around it commit.
func TestBatchStatementFailureFailsOnlyItsWrite(t *testing.T) {
	db := openTestDB(t, t.TempDir())
	if _, err := db.writer.Exec(`CREATE TRIGGER refuse BEFORE INSERT ON connections WHEN NEW.name = 'refuse'
		BEGIN SELECT RAISE(ABORT, 'refused'); END`); err != nil {
		t.Fatal(err)
	}
	before := &chatapp.Message{RoomID: "r", UserID: "u", Text: "before"}
	refused := &chatapp.Connection{ID: "refused=", RoomID: "r", UserID: "u", Name: "refuse"}
	fine := &chatapp.Connection{ID: "fine=", RoomID: "r", UserID: "u", Name: "fine"}
	after := &chatapp.Message{RoomID: "r", UserID: "u", Text: "after"}
	db.writeMu.Lock()
	errs := db.commitBatch([]*createRequest{request(before), connectionRequest(refused), connectionRequest(fine), request(after)})
	db.writeMu.Unlock()
	if errs[0] != nil || errs[1] == nil || errs[2] != nil || errs[3] != nil {
		t.Fatalf("errs = %v, want only the refused connection's", errs)
	}
	if got, want := roomIDs(t, db, "r"), []string{before.ID, after.ID}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("history %v, want %v", got, want)
	}
	if _, err := db.FindConnection(context.Background(), fine.ID); err != nil {
		t.Errorf("the connection after the refused one: %v", err)
	}
}
