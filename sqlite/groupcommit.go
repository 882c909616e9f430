package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/chatapp-dev/chatapp"
)

// Group commit. A commit costs one fsync of the WAL whatever it holds, so
// one goroutine (commitLoop) takes every CreateMessage waiting in the queue
// and commits them in one transaction; each caller returns only after the
// transaction holding its message has committed. Batches form by themselves:
// while one commits, the next sends queue up. A lone send is not delayed.
//
// Errors: a key conflict (a given id already stored) undoes only its own
// INSERT in SQLite, so only that message fails and the rest of the batch
// commits. Any other error (I/O, disk full) rolls the whole batch back and
// fails every message of it: none was committed, so none is acknowledged,
// and clients retry (idempotently, with their key).

// maxBatch bounds one transaction, and so the wait of its first sender.
const maxBatch = 512

// ErrClosed is returned by writes to a closed store.
var ErrClosed = errors.New("sqlite: store closed")

// createRequest is one write waiting for its batch: a CreateMessage, or
// another write (exec, a connection row's) that shares the batch's fsync.
type createRequest struct {
	ctx  context.Context
	m    *chatapp.Message
	exec func(ctx context.Context, tx *sql.Tx) error // set for writes other than messages
	done chan error                                  // receives the outcome once the batch has committed
}

// write runs exec in the next batch's transaction and returns once that
// batch has committed: the connection rows of many $connects share one
// fsync, as messages do.
func (db *DB) write(ctx context.Context, exec func(ctx context.Context, tx *sql.Tx) error) error {
	r := &createRequest{ctx: ctx, exec: exec, done: make(chan error, 1)}
	if err := db.enqueue(r); err != nil {
		return err
	}
	return <-r.done
}

// startCommitLoop starts the writer goroutine; Close stops it.
func (db *DB) startCommitLoop() {
	db.queue = make(chan *createRequest, maxBatch)
	db.loopDone = make(chan struct{})
	go db.commitLoop()
}

// enqueue hands r to the writer, or fails once the store is closing.
func (db *DB) enqueue(r *createRequest) error {
	db.closeMu.RLock()
	defer db.closeMu.RUnlock()
	if db.closing {
		return ErrClosed
	}
	select {
	case db.queue <- r:
		return nil
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
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
	batch := make([]*createRequest, 0, maxBatch)
	for first := range db.queue {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-db.queue:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		db.writeMu.Lock()
		results := db.commitBatch(batch)
		db.writeMu.Unlock()
		for i, r := range batch {
			r.done <- results[i]
			batch[i] = nil
		}
	}
}

// commitBatch stores the batch in one transaction and returns each
// message's outcome, in order. The caller holds writeMu. Ids are assigned
// here, in batch order, and batches commit one after another, so id order
// is commit order.
func (db *DB) commitBatch(batch []*createRequest) []error {
	results := make([]error, len(batch))
	// One sender's deadline must not abort the others: the transaction has
	// its own context. A sender whose context ended while queued is skipped.
	ctx := context.Background()
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return fill(results, fmt.Errorf("begin: %w", err))
	}
	defer tx.Rollback()
	insert := tx.StmtContext(ctx, db.insertMessage)
	lookup := tx.StmtContext(ctx, db.findIdempotent)

	// The first message of this batch for each idempotency key, so that a
	// retry queued with its original is a duplicate too.
	var keys map[idempotencyKey]*chatapp.Message
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if r.exec != nil {
			// A connection write; its errors are its own, unless the
			// transaction itself fails at commit.
			results[i] = r.exec(ctx, tx)
			continue
		}
		m := r.m
		if m.IdempotencyKey != "" {
			k := idempotencyKey{m.RoomID, m.UserID, m.IdempotencyKey}
			if first := keys[k]; first != nil {
				*m = *first
				results[i] = chatapp.ErrDuplicate
				continue
			}
			stored, err := findByIdempotencyKey(ctx, lookup, m)
			if err != nil {
				return fill(results, err)
			}
			if stored != nil {
				*m = *stored
				results[i] = chatapp.ErrDuplicate
				continue
			}
			if keys == nil {
				keys = make(map[idempotencyKey]*chatapp.Message)
			}
			keys[k] = m
		}
		m.AssignID()
		_, err := insert.ExecContext(ctx, m.RoomID, m.ID, m.Timestamp, m.UserID, m.Name, m.Text,
			sql.NullString{String: m.IdempotencyKey, Valid: m.IdempotencyKey != ""})
		if err != nil {
			err = fmt.Errorf("insert message: %w", err)
			if !isKeyConflict(err) {
				return fill(results, err)
			}
			results[i] = err
			// A failed first does not stand for the retries behind it.
			delete(keys, idempotencyKey{m.RoomID, m.UserID, m.IdempotencyKey})
		}
	}
	if err := tx.Commit(); err != nil {
		return fill(results, fmt.Errorf("commit: %w", err))
	}
	db.commits.Add(1)
	return results
}

type idempotencyKey struct{ room, user, key string }

// fill sets every result to err: the batch failed as a whole.
func fill(results []error, err error) []error {
	for i := range results {
		results[i] = err
	}
	return results
}

// isKeyConflict tells a primary key or unique index violation, which SQLite
// answers by undoing that one INSERT (the default ABORT resolution) while
// the transaction goes on, from errors that may end the transaction (a
// trigger's RAISE(ROLLBACK) is a constraint error too).
func isKeyConflict(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	code := e.Code()
	return code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || code == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}
