package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/chatapp-dev/chatapp"
)

// Group commit. A transaction costs the server a handful of statements and
// a WAL flush whatever it holds, and the store's two round trips; one
// goroutine (commitLoop) takes every message waiting in the queue and
// commits them in one transaction (commit.go), so that a process's sends
// share those costs. Each caller's wait returns once the transaction
// holding its message has committed. Batches form by themselves: while one
// commits, the next sends queue up; a lone send is not delayed.
//
// One loop per process commits one batch at a time, in queue order, so
// messages queued one after another get their ids in that order (each
// batch locks its rooms, and mints ids in batch order under the locks).
// Another process's transactions interleave with this one's per room, as
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

// startCommitLoop starts the writer goroutine; Close stops it.
func (db *DB) startCommitLoop() {
	db.queue = make(chan *queued, maxBatch)
	db.loopDone = make(chan struct{})
	go db.commitLoop()
}

// enqueue hands m to the writer and returns its wait, or fails once the
// store is closing.
func (db *DB) enqueue(ctx context.Context, m *chatapp.Message) (wait func() error, err error) {
	q := &queued{write: write{ctx: ctx, m: m}, done: make(chan struct{})}
	db.closeMu.RLock()
	defer db.closeMu.RUnlock()
	if db.closing {
		return nil, ErrClosed
	}
	select {
	case db.queue <- q:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// Once queued, m belongs to the writer until its batch is done: wait
	// for the outcome even if ctx ends meanwhile.
	return func() error { <-q.done; return q.err }, nil
}

// stopCommitLoop lets the writer commit what is queued and waits for it.
func (db *DB) stopCommitLoop() {
	db.closeMu.Lock()
	if !db.closing {
		db.closing = true
		close(db.queue)
	}
	db.closeMu.Unlock()
	<-db.loopDone
}

func (db *DB) commitLoop() {
	defer close(db.loopDone)
	batch := make([]*queued, 0, maxBatch)
	writes := make([]*write, 0, maxBatch)
	for first := range db.queue {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < maxBatch {
			select {
			case q, ok := <-db.queue:
				if !ok {
					break fill
				}
				batch = append(batch, q)
			default:
				break fill
			}
		}
		writes = writes[:0]
		for _, q := range batch {
			writes = append(writes, &q.write)
		}
		// One sender's deadline must not abort the others: the
		// transaction has its own. A sender whose context ended while
		// queued is skipped.
		ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
		db.commit(ctx, writes)
		cancel()
		db.commits.Add(1)
		for i, q := range batch {
			close(q.done)
			batch[i] = nil
		}
	}
}
