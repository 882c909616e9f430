package commitqueue_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/chatapp-dev/chatapp/internal/commitqueue"
)

var errClosed = errors.New("closed")

// TestBatchesInQueueOrder: writes queued while a batch commits form the
// next batch, every write reaches commit once, in queue order, no batch
// is larger than max, and Close commits what is queued before it returns.
func TestBatchesInQueueOrder(t *testing.T) {
	var (
		mu      sync.Mutex
		got     []int
		batches int
	)
	slow := make(chan struct{})
	q := commitqueue.Start(8, errClosed, func(batch []int) {
		if batch[0] == 0 {
			<-slow // the first batch commits slowly: the next writes queue up
		}
		mu.Lock()
		defer mu.Unlock()
		if len(batch) > 8 {
			t.Errorf("a batch of %d, over the max of 8", len(batch))
		}
		got = append(got, batch...)
		batches++
	})
	for i := range 20 {
		if err := q.Add(context.Background(), i); err != nil {
			t.Fatal(err)
		}
		if i == 8 { // the queue holds 8: the rest wait for the first commit
			close(slow)
		}
	}
	q.Close()
	if want := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}; !slices.Equal(got, want) {
		t.Fatalf("committed %v, want %v", got, want)
	}
	if batches >= 20 {
		t.Errorf("%d batches of 20 writes: none shared", batches)
	}
	if err := q.Add(context.Background(), 20); !errors.Is(err, errClosed) {
		t.Errorf("Add after Close: %v, want the closed error", err)
	}
	q.Close() // again: a no-op
}

// TestAddEndsWithItsContext: a write that cannot be queued (the queue is
// full behind a commit that does not end) gives up with its context.
func TestAddEndsWithItsContext(t *testing.T) {
	block := make(chan struct{})
	q := commitqueue.Start(1, errClosed, func([]int) { <-block })
	defer q.Close()
	defer close(block)
	ctx, cancel := context.WithCancel(context.Background())
	q.Add(ctx, 1) // taken by the commit, which blocks
	if err := q.Add(ctx, 2); err != nil {
		t.Fatalf("Add: %v", err) // waits in the queue, which is then full
	}
	cancel()
	if err := q.Add(ctx, 3); !errors.Is(err, context.Canceled) {
		t.Fatalf("Add to a full queue with its context ended: %v, want context.Canceled", err)
	}
}
