// Package storetest is the contract of chatapp's stores as one test suite:
// every store (sqlite, dynamodb, postgres) runs it from its own tests, so
// that they cannot drift apart.
package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp"
)

// Store is what a chatapp store implements.
type Store interface {
	chatapp.MessageStore
	chatapp.ConnectionStore
	chatapp.ConnectionLister
}

// Run runs the suite. open returns the store a subtest uses; it may return
// the same store every time, because each subtest works in rooms and
// connections of its own. Subtests run in parallel.
func Run(t *testing.T, open func(t *testing.T) Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s Store)
	}{
		{"CreateMessageAssignsIDAndTimestamp", testCreateMessageAssigns},
		{"CreateMessageKeepsGivenIDAndTimestamp", testCreateMessageKeeps},
		{"SameMillisecond", testSameMillisecond},
		{"QueueMessageCommitsInQueueOrder", testQueueMessage},
		{"PrevIDChainsTheRoom", testPrevID},
		{"DuplicateIDIsRejected", testDuplicateID},
		{"IdempotentSend", testIdempotentSend},
		{"ConcurrentIdempotentSends", testConcurrentIdempotentSends},
		{"IdempotencyKeyReusedForAnotherText", testIdempotencyConflict},
		{"FindReplay", testFindReplay},
		{"LatestPage", testLatestPage},
		{"EmptyRoom", testEmptyRoom},
		{"BeforePagesBack", testBeforePagesBack},
		{"AfterPagesForward", testAfterPagesForward},
		{"ByteBudget", testByteBudget},
		{"RoomsAreIsolated", testRoomsIsolated},
		{"ConcurrentCreateMessage", testConcurrentCreate},
		{"InvalidFilter", testInvalidFilter},
		{"Connections", testConnections},
		{"ConnectionReplaced", testConnectionReplaced},
		{"DeleteConnectionOnce", testDeleteConnectionOnce},
		{"Presence", testPresence},
		{"TokenExpiry", testTokenExpiry},
		{"ManyConnections", testManyConnections},
		{"ListConnections", testListConnections},
		{"ConnectionCap", testConnectionCap},
		{"ConnectionCapRace", testConnectionCapRace},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

var (
	runID = rand.Text()[:8] // tells this run's rows from an earlier one's on a shared store
	seq   atomic.Int64
)

// newID returns an id no other subtest of any run uses.
func newID(prefix string) string {
	return fmt.Sprintf("%s-%s-%d", prefix, runID, seq.Add(1))
}

func ctx(t *testing.T) context.Context { return t.Context() }

func createMessages(t *testing.T, s Store, room string, n int) []*chatapp.Message {
	t.Helper()
	ms := make([]*chatapp.Message, n)
	for i := range ms {
		ms[i] = &chatapp.Message{RoomID: room, UserID: "u" + fmt.Sprint(i%3), Name: "User", Text: fmt.Sprintf("message %d", i)}
		if err := s.CreateMessage(ctx(t), ms[i]); err != nil {
			t.Fatalf("CreateMessage %d: %v", i, err)
		}
	}
	return ms
}

func find(t *testing.T, s Store, f chatapp.MessageFilter) chatapp.MessagePage {
	t.Helper()
	page, err := s.FindMessages(ctx(t), f)
	if err != nil {
		t.Fatalf("FindMessages(%+v): %v", f, err)
	}
	return page
}

// assertPage checks a page's messages, field by field, and its More.
func assertPage(t *testing.T, page chatapp.MessagePage, want []*chatapp.Message, more bool) {
	t.Helper()
	if len(page.Messages) != len(want) {
		t.Fatalf("got %d messages %v, want %d %v", len(page.Messages), ids(page.Messages), len(want), ids(want))
	}
	for i := range want {
		w := *want[i]
		w.PrevID = "" // only the answer to the message's writer carries it
		if *page.Messages[i] != w {
			t.Fatalf("message %d = %+v, want %+v", i, *page.Messages[i], w)
		}
	}
	if page.More != more {
		t.Fatalf("More = %v, want %v", page.More, more)
	}
}

func ids(ms []*chatapp.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func testCreateMessageAssigns(t *testing.T, s Store) {
	room := newID("room")
	before := time.Now().UnixMilli()
	m := &chatapp.Message{RoomID: room, UserID: "42", Text: "héllo 👋 <b>&</b>"} // no name
	if err := s.CreateMessage(ctx(t), m); err != nil {
		t.Fatal(err)
	}
	after := time.Now().UnixMilli()
	if !chatapp.ValidMessageID(m.ID) {
		t.Fatalf("ID %q is not a message id", m.ID)
	}
	if m.Timestamp < before || m.Timestamp > after {
		t.Fatalf("Timestamp %d not within [%d, %d]", m.Timestamp, before, after)
	}
	m2 := &chatapp.Message{RoomID: room, UserID: "42", Name: "Ada", Text: "second"}
	if err := s.CreateMessage(ctx(t), m2); err != nil {
		t.Fatal(err)
	}
	if m2.ID <= m.ID {
		t.Fatalf("second id %s does not sort after first %s", m2.ID, m.ID)
	}
	assertPage(t, find(t, s, chatapp.MessageFilter{RoomID: room}), []*chatapp.Message{m, m2}, false)
}

// testQueueMessage: messages queued one after another (the handlers queue a
// room's sends under its lock) get ids in queue order, whenever their waits
// are called, and a used idempotency key comes back through the wait as
// CreateMessage gives it.
func testQueueMessage(t *testing.T, s Store) {
	room := newID("room")
	var ms []*chatapp.Message
	var waits []func() error
	for i := range 20 {
		m := &chatapp.Message{RoomID: room, UserID: "42", Text: fmt.Sprintf("queued %d", i), IdempotencyKey: fmt.Sprintf("q-%d", i%15)}
		wait, err := s.QueueMessage(ctx(t), m)
		if err != nil {
			t.Fatalf("QueueMessage %d: %v", i, err)
		}
		ms, waits = append(ms, m), append(waits, wait)
	}
	for i := len(waits) - 1; i >= 0; i-- { // the last first: the order must not depend on it
		err := waits[i]()
		switch {
		case i < 15 && err != nil:
			t.Fatalf("wait %d: %v", i, err)
		case i >= 15 && chatapp.ErrorCode(err) != chatapp.ECONFLICT:
			t.Fatalf("wait %d, its key used for another text: %v, want conflict", i, err)
		}
	}
	for i := 1; i < 15; i++ {
		if ms[i].ID <= ms[i-1].ID {
			t.Fatalf("queued message %d has id %s, not after %s", i, ms[i].ID, ms[i-1].ID)
		}
	}
	if got, want := ids(find(t, s, chatapp.MessageFilter{RoomID: room}).Messages), ids(ms[:15]); !slices.Equal(got, want) {
		t.Fatalf("history %v, want the queued messages %v", got, want)
	}
}

// testPrevID: a store that says each message's previous id in its room
// (chatapp.Message.PrevID: postgres) chains each room's messages in id
// order, whether created one by one or queued side by side with another
// room's; a store that does not leaves every one empty.
func testPrevID(t *testing.T, s Store) {
	rooms := []string{newID("room"), newID("room")}
	chains := [][]*chatapp.Message{createMessages(t, s, rooms[0], 2), createMessages(t, s, rooms[1], 1)}
	var waits []func() error
	for i := range 10 {
		m := &chatapp.Message{RoomID: rooms[i%2], UserID: "u", Text: fmt.Sprintf("queued %d", i)}
		wait, err := s.QueueMessage(ctx(t), m)
		if err != nil {
			t.Fatalf("QueueMessage %d: %v", i, err)
		}
		chains[i%2] = append(chains[i%2], m)
		waits = append(waits, wait)
	}
	for i, wait := range waits {
		if err := wait(); err != nil {
			t.Fatalf("wait %d: %v", i, err)
		}
	}
	says := chains[0][1].PrevID != ""
	for r, chain := range chains {
		for i, m := range chain {
			want := ""
			if says && i > 0 {
				want = chain[i-1].ID
			}
			if m.PrevID != want {
				t.Errorf("room %d, message %d: PrevID %q, want %q (the store says PrevIDs: %v)", r, i, m.PrevID, want, says)
			}
		}
	}
}

func testCreateMessageKeeps(t *testing.T, s Store) {
	room := newID("room")
	ts := time.Now().Add(-time.Hour)
	m := &chatapp.Message{ID: MessageID(ts), RoomID: room, Timestamp: ts.UnixMilli(), UserID: "u", Name: "N", Text: "t"}
	want := *m
	if err := s.CreateMessage(ctx(t), m); err != nil {
		t.Fatal(err)
	}
	if *m != want {
		t.Fatalf("CreateMessage changed %+v into %+v", want, *m)
	}
	assertPage(t, find(t, s, chatapp.MessageFilter{RoomID: room}), []*chatapp.Message{&want}, false)
}

// The original keyed messages by (room, millisecond) and lost one of two
// sent in the same millisecond.
func testSameMillisecond(t *testing.T, s Store) {
	room := newID("room")
	ts := time.Now().UnixMilli()
	ms := []*chatapp.Message{
		{RoomID: room, Timestamp: ts, UserID: "a", Text: "one"},
		{RoomID: room, Timestamp: ts, UserID: "b", Text: "two"},
	}
	for _, m := range ms {
		if err := s.CreateMessage(ctx(t), m); err != nil {
			t.Fatal(err)
		}
	}
	assertPage(t, find(t, s, chatapp.MessageFilter{RoomID: room}), ms, false)
}

func testDuplicateID(t *testing.T, s Store) {
	room := newID("room")
	m := &chatapp.Message{RoomID: room, UserID: "u", Text: "original"}
	if err := s.CreateMessage(ctx(t), m); err != nil {
		t.Fatal(err)
	}
	dup := &chatapp.Message{ID: m.ID, RoomID: room, Timestamp: m.Timestamp, UserID: "u", Text: "overwrite"}
	if err := s.CreateMessage(ctx(t), dup); err == nil {
		t.Fatal("CreateMessage with an existing id succeeded")
	}
	assertPage(t, find(t, s, chatapp.MessageFilter{RoomID: room}), []*chatapp.Message{m}, false)
}

// testIdempotentSend: a retried send with the same key stores nothing new
// and gives back the first message; the key is scoped by room and user.
func testIdempotentSend(t *testing.T, s Store) {
	room := newID("room")
	first := &chatapp.Message{RoomID: room, UserID: "u", Name: "U", Text: "once", IdempotencyKey: "key-1"}
	if err := s.CreateMessage(ctx(t), first); err != nil {
		t.Fatal(err)
	}
	retry := &chatapp.Message{RoomID: room, UserID: "u", Name: "U", Text: "once", IdempotencyKey: "key-1"}
	if err := s.CreateMessage(ctx(t), retry); !errors.Is(err, chatapp.ErrDuplicate) {
		t.Fatalf("retry: err = %v, want ErrDuplicate", err)
	}
	if retry.ID != first.ID || retry.Timestamp != first.Timestamp || retry.Text != "once" || retry.Name != "U" {
		t.Errorf("retry was filled with %+v, want the stored %+v", retry, first)
	}
	// Another user, or another room, may use the same key.
	other := &chatapp.Message{RoomID: room, UserID: "v", Text: "mine", IdempotencyKey: "key-1"}
	if err := s.CreateMessage(ctx(t), other); err != nil {
		t.Fatalf("same key, other user: %v", err)
	}
	elsewhere := &chatapp.Message{RoomID: newID("room"), UserID: "u", Text: "there", IdempotencyKey: "key-1"}
	if err := s.CreateMessage(ctx(t), elsewhere); err != nil {
		t.Fatalf("same key, other room: %v", err)
	}
	plain := &chatapp.Message{RoomID: room, UserID: "u", Text: "once"}
	if err := s.CreateMessage(ctx(t), plain); err != nil {
		t.Fatalf("no key: %v", err)
	}
	page := find(t, s, chatapp.MessageFilter{RoomID: room})
	var ids []string
	for _, m := range page.Messages {
		ids = append(ids, m.ID)
	}
	if want := []string{first.ID, other.ID, plain.ID}; !slices.Equal(ids, want) {
		t.Errorf("history ids %v, want %v", ids, want)
	}
}

// testConcurrentIdempotentSends: ten attempts of one send racing each other
// (a client retrying while the first attempt is still in flight) store one.
func testConcurrentIdempotentSends(t *testing.T, s Store) {
	IdempotentRace(t, 10, s)
}

// IdempotentRace races n attempts of one send (one room, user and key)
// through stores in turn (several handles of one database: processes)
// and checks that one stored it, every attempt got its id, and the
// history holds it once.
func IdempotentRace(t *testing.T, n int, stores ...Store) {
	t.Helper()
	room := newID("room")
	var wg sync.WaitGroup
	ids := make([]string, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range ids {
		wg.Go(func() {
			m := &chatapp.Message{RoomID: room, UserID: "u", Text: "race", IdempotencyKey: "same"}
			<-start
			errs[i] = stores[i%len(stores)].CreateMessage(ctx(t), m)
			ids[i] = m.ID
		})
	}
	close(start)
	wg.Wait()
	created := 0
	for i, err := range errs {
		switch {
		case err == nil:
			created++
		case !errors.Is(err, chatapp.ErrDuplicate):
			t.Errorf("attempt %d: %v", i, err)
		}
		if ids[i] != ids[0] {
			t.Errorf("attempt %d got id %s, attempt 0 %s", i, ids[i], ids[0])
		}
	}
	if created != 1 {
		t.Errorf("%d attempts created a message, want 1", created)
	}
	if page := find(t, stores[0], chatapp.MessageFilter{RoomID: room}); len(page.Messages) != 1 {
		t.Errorf("history holds %d messages, want 1", len(page.Messages))
	}
}

// testIdempotencyConflict: a key reused by its user in its room for another
// text is refused with ECONFLICT, not answered with the first message as if
// the second had been stored; the retry of the first text is still a replay.
func testIdempotencyConflict(t *testing.T, s Store) {
	room := newID("room")
	first := &chatapp.Message{RoomID: room, UserID: "u", Name: "U", Text: "first", IdempotencyKey: "key-1"}
	if err := s.CreateMessage(ctx(t), first); err != nil {
		t.Fatal(err)
	}
	other := &chatapp.Message{RoomID: room, UserID: "u", Name: "U", Text: "second", IdempotencyKey: "key-1"}
	if err := s.CreateMessage(ctx(t), other); chatapp.ErrorCode(err) != chatapp.ECONFLICT {
		t.Fatalf("same key, another text: err = %v, want code %s", err, chatapp.ECONFLICT)
	}
	if other.Text != "second" || other.ID == first.ID {
		t.Errorf("the refused message was filled with the stored one: %+v", *other)
	}
	retry := &chatapp.Message{RoomID: room, UserID: "u", Name: "U", Text: "first", IdempotencyKey: "key-1"}
	if err := s.CreateMessage(ctx(t), retry); !errors.Is(err, chatapp.ErrDuplicate) || retry.ID != first.ID {
		t.Fatalf("retry of the first text: err = %v, id %s; want ErrDuplicate, %s", err, retry.ID, first.ID)
	}
	want := *first
	want.IdempotencyKey = ""
	assertPage(t, find(t, s, chatapp.MessageFilter{RoomID: room}), []*chatapp.Message{&want}, false)
}

// testFindReplay: looking a key up answers as CreateMessage would for a
// replay (the stored message, or ECONFLICT for another text) and stores
// nothing; an unused key, or none, is nil.
func testFindReplay(t *testing.T, s Store) {
	room := newID("room")
	unused := &chatapp.Message{RoomID: room, UserID: "u", Text: "once", IdempotencyKey: "key-1"}
	if err := s.FindReplay(ctx(t), unused); err != nil || unused.ID != "" {
		t.Fatalf("unused key: err = %v, id %q; want nil and no id", err, unused.ID)
	}
	if err := s.FindReplay(ctx(t), &chatapp.Message{RoomID: room, UserID: "u", Text: "once"}); err != nil {
		t.Fatalf("no key: %v", err)
	}
	first := &chatapp.Message{RoomID: room, UserID: "u", Name: "U", Text: "once", IdempotencyKey: "key-1"}
	if err := s.CreateMessage(ctx(t), first); err != nil {
		t.Fatal(err)
	}
	retry := &chatapp.Message{RoomID: room, UserID: "u", Text: "once", IdempotencyKey: "key-1"}
	if err := s.FindReplay(ctx(t), retry); !errors.Is(err, chatapp.ErrDuplicate) {
		t.Fatalf("used key: err = %v, want ErrDuplicate", err)
	}
	if retry.ID != first.ID || retry.Timestamp != first.Timestamp || retry.Name != "U" || retry.IdempotencyKey != "key-1" {
		t.Errorf("the replay was filled with %+v, want the stored %+v", *retry, *first)
	}
	other := &chatapp.Message{RoomID: room, UserID: "u", Text: "another", IdempotencyKey: "key-1"}
	if err := s.FindReplay(ctx(t), other); chatapp.ErrorCode(err) != chatapp.ECONFLICT || other.ID != "" {
		t.Errorf("used key, another text: err = %v, id %q; want code %s and no id", err, other.ID, chatapp.ECONFLICT)
	}
	for _, m := range []*chatapp.Message{
		{RoomID: room, UserID: "v", Text: "once", IdempotencyKey: "key-1"},
		{RoomID: newID("room"), UserID: "u", Text: "once", IdempotencyKey: "key-1"},
	} {
		if err := s.FindReplay(ctx(t), m); err != nil {
			t.Errorf("the key in another room or of another user (%s, %s): %v", m.RoomID, m.UserID, err)
		}
	}
	want := *first
	want.IdempotencyKey = ""
	assertPage(t, find(t, s, chatapp.MessageFilter{RoomID: room}), []*chatapp.Message{&want}, false)
}

func testLatestPage(t *testing.T, s Store) {
	room := newID("room")
	ms := createMessages(t, s, room, 5)
	assertPage(t, find(t, s, chatapp.MessageFilter{RoomID: room, Limit: 3}), ms[2:], true)
	assertPage(t, find(t, s, chatapp.MessageFilter{RoomID: room, Limit: 1}), ms[4:], true)
	assertPage(t, find(t, s, chatapp.MessageFilter{RoomID: room, Limit: 5}), ms, false) // exactly all: no More
	assertPage(t, find(t, s, chatapp.MessageFilter{RoomID: room, Limit: 6}), ms, false)
	assertPage(t, find(t, s, chatapp.MessageFilter{RoomID: room}), ms, false) // default limit
}

func testEmptyRoom(t *testing.T, s Store) {
	room := newID("room")
	for _, f := range []chatapp.MessageFilter{
		{RoomID: room},
		{RoomID: room, Before: MessageID(time.Now())},
		{RoomID: room, After: MessageID(time.Now().Add(-time.Hour))},
	} {
		assertPage(t, find(t, s, f), nil, false)
	}
}

func testBeforePagesBack(t *testing.T, s Store) {
	room := newID("room")
	ms := createMessages(t, s, room, 250)

	// Page back from the latest as a client does with next_cursor.
	var got []*chatapp.Message
	f := chatapp.MessageFilter{RoomID: room, Limit: 100}
	for pages := 1; ; pages++ {
		page := find(t, s, f)
		if len(page.Messages) == 0 {
			t.Fatalf("page %d is empty", pages)
		}
		if !slices.IsSortedFunc(page.Messages, func(a, b *chatapp.Message) int { return compareID(a, b) }) {
			t.Fatalf("page %d is not oldest first: %v", pages, ids(page.Messages))
		}
		got = append(page.Messages, got...)
		if !page.More {
			if pages != 3 {
				t.Fatalf("%d pages, want 3", pages)
			}
			break
		}
		if pages == 3 {
			t.Fatal("third page says More")
		}
		f.Before = page.Messages[0].ID
	}
	assertPage(t, chatapp.MessagePage{Messages: got}, ms, false)

	// A Before page that ends exactly at the oldest message has no More.
	assertPage(t, find(t, s, chatapp.MessageFilter{RoomID: room, Before: ms[10].ID, Limit: 10}), ms[:10], false)
	assertPage(t, find(t, s, chatapp.MessageFilter{RoomID: room, Before: ms[10].ID, Limit: 9}), ms[1:10], true)
	assertPage(t, find(t, s, chatapp.MessageFilter{RoomID: room, Before: ms[0].ID}), nil, false)
}

func compareID(a, b *chatapp.Message) int {
	switch {
	case a.ID < b.ID:
		return -1
	case a.ID > b.ID:
		return 1
	}
	return 0
}

func testAfterPagesForward(t *testing.T, s Store) {
	room := newID("room")
	ms := createMessages(t, s, room, 7)
	assertPage(t, find(t, s, chatapp.MessageFilter{RoomID: room, After: ms[0].ID, Limit: 4}), ms[1:5], true)
	assertPage(t, find(t, s, chatapp.MessageFilter{RoomID: room, After: ms[4].ID, Limit: 4}), ms[5:], false)
	assertPage(t, find(t, s, chatapp.MessageFilter{RoomID: room, After: ms[2].ID, Limit: 4}), ms[3:], false) // exactly the rest
	assertPage(t, find(t, s, chatapp.MessageFilter{RoomID: room, After: ms[6].ID}), nil, false)
	// A cursor need not be a stored id: any id orders by time.
	old := MessageID(time.UnixMilli(ms[0].Timestamp).Add(-time.Minute))
	assertPage(t, find(t, s, chatapp.MessageFilter{RoomID: room, After: old}), ms, false)
}

// testByteBudget: a page stops at MaxBytes of StoredSize as it stops at
// Limit, keeping what it reads first (the newest of a latest or Before page,
// the oldest of an After page) and saying More; it holds one message however
// large, so walks of next pages return every message once, in order.
func testByteBudget(t *testing.T, s Store) {
	room := newID("room")
	// Messages of 1 to 5 KB, and two of the largest text, more than any
	// budget below: such a message is a page of its own.
	ms := make([]*chatapp.Message, 40)
	total := 0
	for i := range ms {
		n := 1000 * (1 + i*3%5)
		if i == 7 || i == 31 {
			n = chatapp.MaxMessageBytes
		}
		ms[i] = &chatapp.Message{RoomID: room, UserID: fmt.Sprintf("u%d", i%3), Name: "Name", Text: strings.Repeat(string(rune('a'+i%26)), n)}
		if err := s.CreateMessage(ctx(t), ms[i]); err != nil {
			t.Fatalf("CreateMessage %d: %v", i, err)
		}
		total += ms[i].StoredSize()
	}

	for _, budget := range []int{1, 4000, 9000, 20000} {
		// Walk back from the latest page, as a client follows next_cursor.
		var got []*chatapp.Message
		f := chatapp.MessageFilter{RoomID: room, Limit: 100, MaxBytes: budget}
		for pages := 0; ; pages++ {
			if pages > len(ms) {
				t.Fatalf("budget %d: the Before walk does not end", budget)
			}
			page := find(t, s, f)
			rest := ms[:len(ms)-len(got)]
			want, more := budgetPage(rest, true, f.Limit, budget)
			assertPage(t, page, want, more)
			got = append(page.Messages, got...)
			if !page.More {
				break
			}
			f.Before = page.Messages[0].ID
		}
		assertPage(t, chatapp.MessagePage{Messages: got}, ms, false)

		// Walk forward from before the first, as a catch-up does.
		got = nil
		f = chatapp.MessageFilter{RoomID: room, Limit: 100, MaxBytes: budget, After: MessageID(time.UnixMilli(ms[0].Timestamp).Add(-time.Minute))}
		for pages := 0; ; pages++ {
			if pages > len(ms) {
				t.Fatalf("budget %d: the After walk does not end", budget)
			}
			page := find(t, s, f)
			want, more := budgetPage(ms[len(got):], false, f.Limit, budget)
			assertPage(t, page, want, more)
			got = append(got, page.Messages...)
			if !page.More {
				break
			}
			f.After = page.Messages[len(page.Messages)-1].ID
		}
		assertPage(t, chatapp.MessagePage{Messages: got}, ms, false)
	}

	// The count still cuts first when it is the smaller bound.
	assertPage(t, find(t, s, chatapp.MessageFilter{RoomID: room, Limit: 2, MaxBytes: 1 << 20}), ms[38:], true)
	// A budget that holds the room exactly has no More; a byte less drops
	// the oldest.
	assertPage(t, find(t, s, chatapp.MessageFilter{RoomID: room, Limit: 100, MaxBytes: total}), ms, false)
	assertPage(t, find(t, s, chatapp.MessageFilter{RoomID: room, Limit: 100, MaxBytes: total - 1}), ms[1:], true)
	assertPage(t, find(t, s, chatapp.MessageFilter{RoomID: room, Limit: 100, MaxBytes: total - 1, After: ms[0].ID}), ms[1:], false)
}

// budgetPage is the page a store must return of rest (a room's messages,
// oldest first, beyond the cursor), read from its newest when backward, under
// limit and budget: as many as fit, at least one, and whether more remain.
func budgetPage(rest []*chatapp.Message, backward bool, limit, budget int) ([]*chatapp.Message, bool) {
	n, used := 0, 0
	for n < len(rest) && n < limit {
		m := rest[n]
		if backward {
			m = rest[len(rest)-1-n]
		}
		size := m.StoredSize()
		if n > 0 && used+size > budget {
			break
		}
		used += size
		n++
	}
	if backward {
		return rest[len(rest)-n:], n < len(rest)
	}
	return rest[:n], n < len(rest)
}

func testRoomsIsolated(t *testing.T, s Store) {
	// Rooms whose ids are prefixes of each other catch a prefix match.
	a := newID("room")
	b, c := a+"x", a+"-b" // newID never ends so
	msA := createMessages(t, s, a, 3)
	msB := createMessages(t, s, b, 2)
	assertPage(t, find(t, s, chatapp.MessageFilter{RoomID: a}), msA, false)
	assertPage(t, find(t, s, chatapp.MessageFilter{RoomID: b}), msB, false)
	assertPage(t, find(t, s, chatapp.MessageFilter{RoomID: c}), nil, false)
	// A cursor from another room still orders by id and selects in this one.
	assertPage(t, find(t, s, chatapp.MessageFilter{RoomID: a, Before: msB[1].ID}), msA, false)
	assertPage(t, find(t, s, chatapp.MessageFilter{RoomID: b, After: msA[0].ID}), msB, false)
}

func testConcurrentCreate(t *testing.T, s Store) {
	room := newID("room")
	const n = 50
	ms := make([]*chatapp.Message, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range ms {
		ms[i] = &chatapp.Message{RoomID: room, UserID: "u", Text: fmt.Sprintf("burst %d", i)}
		wg.Go(func() { errs <- s.CreateMessage(ctx(t), ms[i]) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("CreateMessage: %v", err)
		}
	}
	seen := map[string]bool{}
	for _, m := range ms {
		if seen[m.ID] {
			t.Fatalf("id %s given twice", m.ID)
		}
		seen[m.ID] = true
	}
	slices.SortFunc(ms, compareID)
	assertPage(t, find(t, s, chatapp.MessageFilter{RoomID: room}), ms, false)
}

func testInvalidFilter(t *testing.T, s Store) {
	room := newID("room")
	id := MessageID(time.Now())
	for _, f := range []chatapp.MessageFilter{
		{},
		{RoomID: "bad room"},
		{RoomID: "a/b"},
		{RoomID: string(make([]byte, chatapp.MaxIDBytes+1))},
		{RoomID: room, Before: "not-an-id"},
		{RoomID: room, After: "not-an-id"},
		{RoomID: room, Before: id, After: id},
		{RoomID: room, Limit: -1},
		{RoomID: room, Limit: chatapp.MaxHistoryLimit + 1},
		{RoomID: room, MaxBytes: -1},
	} {
		_, err := s.FindMessages(ctx(t), f)
		if code := chatapp.ErrorCode(err); code != chatapp.EINVALID {
			t.Errorf("FindMessages(%+v) = %v, want code %s", f, err, chatapp.EINVALID)
		}
	}
	if _, err := s.FindMessages(ctx(t), chatapp.MessageFilter{RoomID: room, Limit: chatapp.MaxHistoryLimit}); err != nil {
		t.Errorf("FindMessages at the maximum limit: %v", err)
	}
}

func createConnection(t *testing.T, s Store, c *chatapp.Connection) {
	t.Helper()
	if err := s.CreateConnection(ctx(t), c, 0); err != nil {
		t.Fatalf("CreateConnection(%+v): %v", *c, err)
	}
}

func findConnection(t *testing.T, s Store, id string) *chatapp.Connection {
	t.Helper()
	c, err := s.FindConnection(ctx(t), id)
	if err != nil {
		t.Fatalf("FindConnection(%q): %v", id, err)
	}
	return c
}

func assertNotFound(t *testing.T, s Store, id string) {
	t.Helper()
	c, err := s.FindConnection(ctx(t), id)
	if code := chatapp.ErrorCode(err); code != chatapp.ENOTFOUND {
		t.Fatalf("FindConnection(%q) = %v, %v; want code %s", id, c, err, chatapp.ENOTFOUND)
	}
}

func byRoom(t *testing.T, s Store, room string) []*chatapp.Connection {
	t.Helper()
	conns, err := s.FindConnectionsByRoom(ctx(t), room)
	if err != nil {
		t.Fatalf("FindConnectionsByRoom(%q): %v", room, err)
	}
	if conns == nil {
		t.Fatalf("FindConnectionsByRoom(%q) = nil, want a non-nil slice", room)
	}
	return conns
}

func assertConnections(t *testing.T, got, want []*chatapp.Connection) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d connections, want %d", len(got), len(want))
	}
	for i := range want {
		if *got[i] != *want[i] {
			t.Fatalf("connection %d = %+v, want %+v", i, *got[i], *want[i])
		}
	}
}

func testConnections(t *testing.T, s Store) {
	room, other := newID("room"), newID("room")
	now := time.Now().UnixMilli()
	// Connection ids look like API Gateway's, ending in "=".
	c1 := &chatapp.Connection{ID: newID("c") + "=", RoomID: room, UserID: "u2", Name: "Bob", Timestamp: now - 2000}
	c2 := &chatapp.Connection{ID: newID("c") + "=", RoomID: room, UserID: "u1", Timestamp: now - 1000} // no name
	c3 := &chatapp.Connection{ID: newID("b") + "=", RoomID: room, UserID: "u3", Name: "Cy", Timestamp: now - 1000}
	c4 := &chatapp.Connection{ID: newID("c") + "=", RoomID: other, UserID: "u1", Timestamp: now - 3000}
	for _, c := range []*chatapp.Connection{c2, c4, c3, c1} {
		createConnection(t, s, c)
	}

	for _, c := range []*chatapp.Connection{c1, c2, c3, c4} {
		assertConnections(t, []*chatapp.Connection{findConnection(t, s, c.ID)}, []*chatapp.Connection{c})
	}
	assertNotFound(t, s, newID("missing")+"=")

	// Oldest first; ties by connection id; other rooms left out.
	assertConnections(t, byRoom(t, s, room), []*chatapp.Connection{c1, c3, c2})
	assertConnections(t, byRoom(t, s, other), []*chatapp.Connection{c4})
	assertConnections(t, byRoom(t, s, newID("room")), nil)

	// The delete returns what it removed: $disconnect reads nothing else.
	deleted, err := s.DeleteConnection(ctx(t), c3.ID)
	if err != nil || deleted == nil {
		t.Fatalf("DeleteConnection = %v, %v; want the connection removed", deleted, err)
	}
	assertConnections(t, []*chatapp.Connection{deleted}, []*chatapp.Connection{c3})
	assertNotFound(t, s, c3.ID)
	assertConnections(t, byRoom(t, s, room), []*chatapp.Connection{c1, c2})
	for range 2 { // deleting what is gone, or never was, is fine
		for _, id := range []string{c3.ID, newID("missing") + "="} {
			if c, err := s.DeleteConnection(ctx(t), id); err != nil || c != nil {
				t.Fatalf("DeleteConnection(%q) of a missing connection = %v, %v; want nil, nil", id, c, err)
			}
		}
	}
	assertConnections(t, byRoom(t, s, room), []*chatapp.Connection{c1, c2})
}

func testConnectionReplaced(t *testing.T, s Store) {
	room, moved := newID("room"), newID("room")
	c := &chatapp.Connection{ID: newID("c") + "=", RoomID: room, UserID: "u1", Timestamp: time.Now().UnixMilli()}
	createConnection(t, s, c)
	c2 := &chatapp.Connection{ID: c.ID, RoomID: moved, UserID: "u9", Name: "New", Timestamp: c.Timestamp + 1, Presence: true}
	createConnection(t, s, c2)
	assertConnections(t, []*chatapp.Connection{findConnection(t, s, c.ID)}, []*chatapp.Connection{c2})
	assertConnections(t, byRoom(t, s, room), nil)
	assertConnections(t, byRoom(t, s, moved), []*chatapp.Connection{c2})
	deleted, err := s.DeleteConnection(ctx(t), c.ID)
	if err != nil || deleted == nil {
		t.Fatalf("DeleteConnection = %v, %v; want the connection removed", deleted, err)
	}
	assertConnections(t, []*chatapp.Connection{deleted}, []*chatapp.Connection{c2})
	assertConnections(t, byRoom(t, s, moved), nil)
}

// testDeleteConnectionOnce: of deletes of one connection racing each other
// ($disconnect and a broadcast's 410), exactly one returns the connection,
// so its leave is announced once.
func testDeleteConnectionOnce(t *testing.T, s Store) {
	for round := range 3 {
		c := &chatapp.Connection{ID: newID("c") + "=", RoomID: newID("room"), UserID: "u1", Name: "Once", Timestamp: time.Now().UnixMilli(), Presence: true}
		createConnection(t, s, c)
		const n = 8
		var (
			wg       sync.WaitGroup
			returned atomic.Int32
			errs     = make(chan error, n)
		)
		for range n {
			wg.Go(func() {
				got, err := s.DeleteConnection(ctx(t), c.ID)
				if err != nil {
					errs <- err
				} else if got != nil {
					returned.Add(1)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: DeleteConnection: %v", round, err)
		}
		if got := returned.Load(); got != 1 {
			t.Fatalf("round %d: %d of %d racing deletes returned the connection, want exactly 1", round, got, n)
		}
		assertNotFound(t, s, c.ID)
	}
}

func testPresence(t *testing.T, s Store) {
	room := newID("room")
	now := time.Now().UnixMilli()
	on := &chatapp.Connection{ID: newID("c") + "=", RoomID: room, UserID: "u1", Timestamp: now, Presence: true}
	off := &chatapp.Connection{ID: newID("c") + "=", RoomID: room, UserID: "u2", Timestamp: now + 1, Presence: false}
	createConnection(t, s, on)
	createConnection(t, s, off)
	if got := findConnection(t, s, on.ID); !got.Presence {
		t.Fatal("Presence true read back false")
	}
	if got := findConnection(t, s, off.ID); got.Presence {
		t.Fatal("Presence false read back true")
	}
	assertConnections(t, byRoom(t, s, room), []*chatapp.Connection{on, off})
}

// testTokenExpiry: a connection keeps the expiry of the token it was opened
// with, in every read, so that whoever pushes to it can end it then.
func testTokenExpiry(t *testing.T, s Store) {
	room := newID("room")
	now := time.Now()
	expires := now.Add(time.Hour).UnixMilli()
	with := &chatapp.Connection{ID: newID("c") + "=", RoomID: room, UserID: "u1", Timestamp: now.UnixMilli(), ExpiresAt: expires}
	without := &chatapp.Connection{ID: newID("c") + "=", RoomID: room, UserID: "u2", Timestamp: now.UnixMilli() + 1}
	createConnection(t, s, with)
	createConnection(t, s, without)
	if got := findConnection(t, s, with.ID); got.ExpiresAt != expires || got.Expired(now) || !got.Expired(now.Add(2*time.Hour)) {
		t.Fatalf("ExpiresAt read back %d, want %d", got.ExpiresAt, expires)
	}
	if got := findConnection(t, s, without.ID); got.ExpiresAt != 0 || got.Expired(now.Add(1000*time.Hour)) {
		t.Fatalf("a connection without a token read back ExpiresAt %d, want 0", got.ExpiresAt)
	}
	got := byRoom(t, s, room)
	if len(got) != 2 || got[0].ExpiresAt != expires || got[1].ExpiresAt != 0 {
		t.Fatalf("FindConnectionsByRoom lost the expiry: %+v", got)
	}
}

func testManyConnections(t *testing.T, s Store) {
	room := newID("room")
	const n = 120
	base := time.Now().UnixMilli() - n
	want := make([]*chatapp.Connection, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range want {
		// Users in reverse of connection order, so an index sorted by user
		// returns them in the wrong order.
		want[i] = &chatapp.Connection{ID: newID("c") + "=", RoomID: room, UserID: fmt.Sprintf("u%03d", n-i), Timestamp: base + int64(i), Presence: i%2 == 0}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := s.CreateConnection(ctx(t), want[i], 0); err != nil {
				t.Errorf("CreateConnection: %v", err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	assertConnections(t, byRoom(t, s, room), want)
}

// testListConnections checks that a listing holds every room's rows, whole,
// and no deleted one. The store may be shared with other subtests, so only
// this subtest's rows are checked.
func testListConnections(t *testing.T, s Store) {
	rooms := []string{newID("room"), newID("room"), newID("room")}
	now := time.Now().UnixMilli()
	const n = 60 // spans several pages of a paged store
	want := map[string]*chatapp.Connection{}
	for i := range n {
		c := &chatapp.Connection{ID: newID("c") + "=", RoomID: rooms[i%len(rooms)], UserID: fmt.Sprintf("u%d", i), Name: "N", Timestamp: now - int64(i), Presence: i%2 == 0}
		createConnection(t, s, c)
		want[c.ID] = c
	}
	gone := []string{}
	for id := range want {
		if len(gone) == 5 {
			break
		}
		if _, err := s.DeleteConnection(ctx(t), id); err != nil {
			t.Fatalf("DeleteConnection: %v", err)
		}
		gone = append(gone, id)
	}
	for _, id := range gone {
		delete(want, id)
	}

	all, err := s.ListConnections(ctx(t))
	if err != nil {
		t.Fatalf("ListConnections: %v", err)
	}
	seen := map[string]bool{}
	for _, c := range all {
		if slices.Contains(gone, c.ID) {
			t.Errorf("ListConnections holds deleted connection %s", c.ID)
		}
		w, ok := want[c.ID]
		if !ok {
			continue // another subtest's row
		}
		if seen[c.ID] {
			t.Errorf("ListConnections holds %s twice", c.ID)
		}
		seen[c.ID] = true
		if *c != *w {
			t.Errorf("listed %+v, want %+v", *c, *w)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("ListConnections holds %d of this subtest's %d connections", len(seen), len(want))
	}
}

// capConnection returns a connection of user in a room of its own.
func capConnection(user string, i int) *chatapp.Connection {
	return &chatapp.Connection{ID: newID("cap") + "=", RoomID: newID("room"), UserID: user, Name: "N", Timestamp: time.Now().UnixMilli() + int64(i)}
}

// testConnectionCap: with a cap, a user's connection past it is refused
// with ERATELIMIT and not stored; deleting one frees a slot; storing a row
// again under its id is no new connection; other users and calls without a
// cap are not limited.
func testConnectionCap(t *testing.T, s Store) {
	const max = 3
	user := newID("user")
	var conns []*chatapp.Connection
	for i := range max {
		c := capConnection(user, i)
		if err := s.CreateConnection(ctx(t), c, max); err != nil {
			t.Fatalf("connection %d of %d: %v", i+1, max, err)
		}
		conns = append(conns, c)
	}
	over := capConnection(user, max)
	if err := s.CreateConnection(ctx(t), over, max); chatapp.ErrorCode(err) != chatapp.ERATELIMIT {
		t.Fatalf("connection past the cap: err = %v, want code %s", err, chatapp.ERATELIMIT)
	}
	assertNotFound(t, s, over.ID)
	assertConnections(t, byRoom(t, s, over.RoomID), nil)

	again := *conns[1]
	again.Presence = true
	if err := s.CreateConnection(ctx(t), &again, max); err != nil {
		t.Fatalf("storing a connection again at the cap: %v", err)
	}
	if err := s.CreateConnection(ctx(t), capConnection(newID("user"), 0), 1); err != nil {
		t.Fatalf("another user: %v", err)
	}

	if _, err := s.DeleteConnection(ctx(t), conns[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateConnection(ctx(t), over, max); err != nil {
		t.Fatalf("after a delete freed a slot: %v", err)
	}
	assertConnections(t, []*chatapp.Connection{findConnection(t, s, over.ID)}, []*chatapp.Connection{over})
	if err := s.CreateConnection(ctx(t), capConnection(user, max+1), max); chatapp.ErrorCode(err) != chatapp.ERATELIMIT {
		t.Fatalf("past the cap again: err = %v, want code %s", err, chatapp.ERATELIMIT)
	}
	// No cap: the store counts nothing.
	if err := s.CreateConnection(ctx(t), capConnection(user, max+2), 0); err != nil {
		t.Fatalf("without a cap: %v", err)
	}
}

// testConnectionCapRace: connections of one user created at once, as
// simultaneous handshakes do, pass a cap of 5 exactly 5 times.
func testConnectionCapRace(t *testing.T, s Store) {
	const n, max = 30, 5
	user := newID("user")
	errs := make([]error, n)
	conns := make([]*chatapp.Connection, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		conns[i] = capConnection(user, i)
		wg.Go(func() {
			<-start
			errs[i] = s.CreateConnection(ctx(t), conns[i], max)
		})
	}
	close(start)
	wg.Wait()
	var stored []*chatapp.Connection
	for i, err := range errs {
		switch chatapp.ErrorCode(err) {
		case "":
			stored = append(stored, conns[i])
		case chatapp.ERATELIMIT:
			assertNotFound(t, s, conns[i].ID)
		default:
			t.Errorf("connection %d: %v", i, err)
		}
	}
	if len(stored) != max {
		t.Fatalf("%d of %d racing connections were stored, want exactly %d", len(stored), n, max)
	}
	for _, c := range stored {
		findConnection(t, s, c.ID)
	}
	if _, err := s.DeleteConnection(ctx(t), stored[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateConnection(ctx(t), capConnection(user, n), max); err != nil {
		t.Fatalf("after a delete freed a slot: %v", err)
	}
}
