package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/chatapp-dev/chatapp"
)

// Group commit. A commit costs one fsync of the WAL whatever it holds, so
// one goroutine (internal/commitqueue) takes every CreateMessage waiting in
// the queue and commits them in one transaction; each caller returns only
// after the transaction holding its message has committed. Batches form by
// themselves: while one commits, the next sends queue up. A lone send is
// not delayed.
//
// Errors: every writer learns the truth about its own write. A statement
// that fails without ending the transaction (a key conflict: a given id
// already stored) fails only its writer, and the rest of the batch commits.
// When SQLite rolled the whole transaction back (disk full, I/O error), or
// the commit fails, every write of the batch fails: none was committed, so
// none is acknowledged, and clients retry (idempotently, with their key).

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
	if err := db.queue.Add(ctx, r); err != nil {
		return err
	}
	return <-r.done
}

// commitQueued commits one batch the queue hands over, and answers each
// write once the batch is done.
func (db *DB) commitQueued(batch []*createRequest) {
	db.writeMu.Lock()
	results := db.commitBatch(batch)
	db.writeMu.Unlock()
	for i, r := range batch {
		r.done <- results[i]
	}
}

// commitBatch stores the batch in one transaction and returns each
// write's outcome, in order. The caller holds writeMu. Ids are assigned
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
	b := batchTx{insert: tx.StmtContext(ctx, db.insertMessage), lookup: tx.StmtContext(ctx, db.findIdempotent)}
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		var err error
		if r.exec != nil {
			err = r.exec(ctx, tx)
		} else {
			err = b.createMessage(ctx, r.m)
		}
		if err != nil && !isAnswer(err) && !transactionOpen(ctx, tx) {
			// SQLite rolled the whole transaction back: the writes before
			// this one are undone, and one after it would commit alone.
			return fill(results, err)
		}
		results[i] = err
	}
	if err := tx.Commit(); err != nil {
		// Nothing of the batch is committed (the driver rolls back what
		// a failed COMMIT left open).
		return fill(results, fmt.Errorf("commit: %w", err))
	}
	db.commits.Add(1)
	return results
}

// batchTx is the state of one batch's transaction for its messages.
type batchTx struct {
	insert, lookup *sql.Stmt // prepared on the writer, bound to the transaction
	// keys holds the message of each idempotency key inserted in this
	// batch, so that a retry queued with its original is its replay too.
	keys map[idempotencyKey]*chatapp.Message
}

// createMessage inserts m, or answers a replay of its idempotency key with
// the stored message (ErrDuplicate) or, when the key stored another text,
// ECONFLICT.
func (b *batchTx) createMessage(ctx context.Context, m *chatapp.Message) error {
	var k idempotencyKey
	if m.IdempotencyKey != "" {
		k = idempotencyKey{m.RoomID, m.UserID, m.IdempotencyKey}
		stored := b.keys[k]
		if stored == nil {
			var err error
			if stored, err = findByIdempotencyKey(ctx, b.lookup, m); err != nil {
				return err
			}
		}
		if stored != nil {
			return chatapp.Replay(m, stored)
		}
	}
	m.AssignID()
	_, err := b.insert.ExecContext(ctx, m.RoomID, m.ID, m.Timestamp, m.UserID, m.Name, m.Text,
		sql.NullString{String: m.IdempotencyKey, Valid: m.IdempotencyKey != ""})
	if err != nil {
		// A failed first attempt does not stand for the retries behind it.
		return fmt.Errorf("insert message: %w", err)
	}
	if m.IdempotencyKey != "" {
		if b.keys == nil {
			b.keys = make(map[idempotencyKey]*chatapp.Message)
		}
		b.keys[k] = m
	}
	return nil
}

type idempotencyKey struct{ room, user, key string }

// fill sets every result to err: the batch failed as a whole.
func fill(results []error, err error) []error {
	for i := range results {
		results[i] = err
	}
	return results
}

// isAnswer tells the errors that are a write's answer (a replay, a refused
// connection) from failures of its SQL.
func isAnswer(err error) bool {
	var e *chatapp.Error
	return errors.Is(err, chatapp.ErrDuplicate) || errors.As(err, &e)
}

// transactionOpen reports whether tx is still open after one of its
// statements failed. SQLite undoes a failed statement and goes on with the
// transaction (a key conflict), except that after some errors (disk full,
// I/O, out of memory, a trigger's RAISE(ROLLBACK)) it may have rolled the
// whole transaction back: the connection is then in autocommit mode, where
// each later statement would commit alone, outside the batch. SQL has no
// question for this, but BEGIN inside a transaction fails with "cannot
// start a transaction within a transaction"; when it succeeds it opened an
// empty one, which the batch's deferred Rollback ends. Any other failure of
// BEGIN counts as rolled back: failing the whole batch is safe, going on
// outside a transaction is not.
func transactionOpen(ctx context.Context, tx *sql.Tx) bool {
	_, err := tx.ExecContext(ctx, "BEGIN")
	return err != nil && strings.Contains(err.Error(), "within a transaction")
}
