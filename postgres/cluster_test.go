package postgres

import (
	"crypto/rand"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/internal/pglocal"
	"github.com/chatapp-dev/chatapp/storetest"
)

// clockOff gives a store the clock of a process whose clock is off by d:
// the ids it mints from its own clock are d away from the others'.
func clockOff(d time.Duration) func() (string, int64) {
	var mu sync.Mutex
	entropy := ulid.Monotonic(rand.Reader, 0)
	return func() (string, int64) {
		mu.Lock()
		defer mu.Unlock()
		ms := ulid.Timestamp(time.Now().Add(d))
		return ulid.MustNew(ms, entropy).String(), int64(ms)
	}
}

// TestIDsSortInCommitOrderAcrossProcesses: two processes, one with its
// clock 2 s behind and one 2 s ahead of a third, send into one room at
// once while a reader pages forward with after= as a catching-up client
// does. Every id the reader ever gets sorts after the last it had: no
// message is committed behind one already read, so the reader's walk
// holds the whole room, in stored order, with nothing skipped.
func TestIDsSortInCommitOrderAcrossProcesses(t *testing.T) {
	url := pglocal.Schema(t)
	stores := []*DB{openDB(t, url), openDB(t, url), openDB(t, url)}
	stores[0].newID = clockOff(-2 * time.Second)
	stores[1].newID = clockOff(2 * time.Second)
	reader := openDB(t, url)
	const room, senders, each = "busy", 4, 40

	var wg sync.WaitGroup
	sent := make([][]*chatapp.Message, len(stores)*senders)
	for i := range sent {
		s := stores[i%len(stores)]
		wg.Go(func() {
			for j := range each {
				m := &chatapp.Message{RoomID: room, UserID: fmt.Sprintf("u%d", i), Name: "N", Text: fmt.Sprintf("%d.%d", i, j)}
				if err := s.CreateMessage(t.Context(), m); err != nil {
					t.Errorf("sender %d: %v", i, err)
					return
				}
				sent[i] = append(sent[i], m)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	var read []string
	last := storetest.MessageID(time.Now().Add(-time.Hour))
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true // one more poll reads what the last commits left
		default:
		}
		page, err := reader.FindMessages(t.Context(), chatapp.MessageFilter{RoomID: room, After: last, Limit: chatapp.MaxHistoryLimit})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Messages {
			read = append(read, m.ID)
			last = m.ID
		}
	}
	if t.Failed() {
		return
	}
	var all []string
	prev := map[string]string{} // each message's PrevID, by id
	for i, ms := range sent {
		for j, m := range ms {
			if j > 0 && m.ID <= ms[j-1].ID {
				t.Errorf("sender %d: message %d has id %s, not after its previous %s", i, j, m.ID, ms[j-1].ID)
			}
			all = append(all, m.ID)
			prev[m.ID] = m.PrevID
		}
	}
	slices.Sort(all)
	// Each commit learned the id before its own, whichever process
	// committed that one: the chain the nodes of a cluster deliver by.
	for i, id := range all {
		want := ""
		if i > 0 {
			want = all[i-1]
		}
		if prev[id] != want {
			t.Errorf("message %s has PrevID %q, want the id before it, %q", id, prev[id], want)
		}
	}
	if len(read) != len(all) || !slices.Equal(read, all) {
		missed := 0
		for _, id := range all {
			if !slices.Contains(read, id) {
				missed++
			}
		}
		t.Fatalf("the reader's after= walk read %d messages of %d: %d were committed behind an id it had read", len(read), len(all), missed)
	}
}

// TestConnectionCapAcrossProcesses: connections of one user created at
// once through two processes pass a cap of 5 exactly 5 times.
func TestConnectionCapAcrossProcesses(t *testing.T) {
	url := pglocal.Schema(t)
	stores := []*DB{openDB(t, url), openDB(t, url)}
	const n, max = 40, 5
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		c := &chatapp.Connection{ID: fmt.Sprintf("c%d=", i), RoomID: fmt.Sprintf("room%d", i%3), UserID: "capped", Timestamp: time.Now().UnixMilli()}
		wg.Go(func() {
			<-start
			errs[i] = stores[i%2].CreateConnection(t.Context(), c, max)
		})
	}
	close(start)
	wg.Wait()
	stored := 0
	for i, err := range errs {
		switch chatapp.ErrorCode(err) {
		case "":
			stored++
		case chatapp.ERATELIMIT:
		default:
			t.Errorf("connection %d: %v", i, err)
		}
	}
	all, err := stores[0].ListConnections(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if stored != max || len(all) != max {
		t.Fatalf("%d racing connections were accepted and %d stored, want %d", stored, len(all), max)
	}
}

// TestIdempotentSendsAcrossProcesses: retries of one send racing through
// two processes store one message; every attempt gets its id.
func TestIdempotentSendsAcrossProcesses(t *testing.T) {
	url := pglocal.Schema(t)
	storetest.IdempotentRace(t, 20, openDB(t, url), openDB(t, url))
}
