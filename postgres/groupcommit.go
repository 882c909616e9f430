package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/chatapp-dev/chatapp"
)

// Group commit. A transaction costs the server a handful of statements and
// a WAL flush whatever it holds, and the store its two round trips, so one
// goroutine (internal/commitqueue) takes every message waiting and commits
// them in one transaction (commit.go): a process's sends share those
// costs. Each caller's wait returns once the transaction holding its
// message has committed.
//
// One queue per process commits one batch at a time, in queue order, so
// messages queued one after another get their ids in that order (each
// batch locks its rooms and mints ids in batch order under the locks).
// Other processes' transactions interleave with this one's per room, as
// the room locks decide.

// maxBatch bounds one transaction, and so the wait of its first sender.
const maxBatch = 512

// commitTimeout bounds one batch's transaction: a server that stops
// answering fails the batch's sends rather than holding them for good.
const commitTimeout = 30 * time.Second

// ErrClosed is returned by sends to a closed store.
var ErrClosed = errors.New("postgres: store closed")

// queued is a write waiting for its batch.
type queued struct {
	write
	done chan struct{} // closed once the write's outcome is set
}

// enqueue hands m to the writer and returns its wait.
func (db *DB) enqueue(ctx context.Context, m *chatapp.Message) (wait func() error, err error) {
	q := &queued{write: write{ctx: ctx, m: m}, done: make(chan struct{})}
	if err := db.queue.Add(ctx, q); err != nil {
		return nil, err
	}
	// Once queued, m belongs to the writer until its batch is done: wait
	// for the outcome even if ctx ends meanwhile.
	return func() error { <-q.done; return q.err }, nil
}

// commitQueued commits one batch the queue hands over. One sender's
// deadline must not abort the others: the transaction has its own. A
// sender whose context ended while queued is skipped (commit).
func (db *DB) commitQueued(batch []*queued) {
	writes := make([]*write, len(batch))
	for i, q := range batch {
		writes[i] = &q.write
	}
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	db.commit(ctx, writes)
	cancel()
	db.commits.Add(1)
	for _, q := range batch {
		close(q.done)
	}
}
