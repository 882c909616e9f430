package storetest_test

import (
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/storetest"
)

// The ids tests make for a given time sort in the order they were made
// within a millisecond, and by time across milliseconds.
func TestMessageIDSameMillisecond(t *testing.T) {
	now := time.Now()
	const n = 10000
	prev := ""
	for i := range n {
		id := storetest.MessageID(now)
		if !chatapp.ValidMessageID(id) {
			t.Fatalf("id %d %q is not a valid message id", i, id)
		}
		if id <= prev {
			t.Fatalf("id %d %q does not sort after %q", i, id, prev)
		}
		prev = id
	}
	// The id carries its millisecond, so ids sort by time across milliseconds.
	u, err := ulid.ParseStrict(prev)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := u.Time(), now.UnixMilli(); int64(got) != want {
		t.Errorf("id time = %d, want %d", got, want)
	}
	later := storetest.MessageID(now.Add(time.Millisecond))
	if later <= prev {
		t.Errorf("id of a later millisecond %q does not sort after %q", later, prev)
	}
}

func TestMessageIDConcurrent(t *testing.T) {
	now := time.Now()
	const workers, each = 16, 1000
	ids := make([][]string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range each {
				ids[w] = append(ids[w], storetest.MessageID(now))
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for w := range workers {
		for i, id := range ids[w] {
			if seen[id] {
				t.Fatalf("duplicate id %q", id)
			}
			seen[id] = true
			if i > 0 && id <= ids[w][i-1] {
				t.Fatalf("worker %d: id %q does not sort after %q", w, id, ids[w][i-1])
			}
		}
	}
}
