// Package commitqueue is the stores' group commit: callers queue writes,
// and one goroutine takes every write waiting and hands them, in queue
// order, to the store's commit as one batch. A commit's cost (an fsync, a
// transaction's round trips) is then shared by the writes queued beside
// each other; batches form by themselves (while one commits, the next
// writes queue up), and a lone write is not delayed.
package commitqueue

import (
	"context"
	"sync"
)

// Queue hands queued writes of type T to one commit function, in order.
type Queue[T any] struct {
	items   chan T
	done    chan struct{}
	closed  error
	mu      sync.RWMutex // closing is set under it, sends to items happen under RLock
	closing bool
}

// Start starts the goroutine that calls commit with each batch of at most
// max writes, one batch at a time. commit must answer every write of its
// batch before it returns; the slice is reused afterwards. Add returns
// closed once Close has begun.
func Start[T any](max int, closed error, commit func(batch []T)) *Queue[T] {
	q := &Queue[T]{items: make(chan T, max), done: make(chan struct{}), closed: closed}
	go q.loop(max, commit)
	return q
}

// Add queues item for the next batch, or fails once the queue is closing,
// or when ctx ends while the queue is full.
func (q *Queue[T]) Add(ctx context.Context, item T) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closing {
		return q.closed
	}
	select {
	case q.items <- item:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close lets the goroutine commit what is queued and waits for it.
func (q *Queue[T]) Close() {
	q.mu.Lock()
	if !q.closing {
		q.closing = true
		close(q.items)
	}
	q.mu.Unlock()
	<-q.done
}

// Len is how many writes wait for a batch, for tests.
func (q *Queue[T]) Len() int { return len(q.items) }

// Closing reports whether Close has begun, for tests.
func (q *Queue[T]) Closing() bool {
	q.mu.RLock()
	defer q.mu.RUnlock()
	return q.closing
}

func (q *Queue[T]) loop(max int, commit func([]T)) {
	defer close(q.done)
	batch := make([]T, 0, max)
	for first := range q.items {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < max {
			select {
			case item, ok := <-q.items:
				if !ok {
					break fill
				}
				batch = append(batch, item)
			default:
				break fill
			}
		}
		commit(batch)
		clear(batch) // the writes' memory is theirs again
	}
}
