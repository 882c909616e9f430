package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/chatapp-dev/chatapp"
)

var _ chatapp.MessageStore = (*DB)(nil)

// CreateMessage commits m, assigning its id and timestamp in the writer
// goroutine so that id order is commit order (see groupcommit.go). It
// returns once the transaction holding m has committed. A used idempotency
// key gives the stored message and ErrDuplicate; the single writer makes the
// check and the insert one step.
func (db *DB) CreateMessage(ctx context.Context, m *chatapp.Message) error {
	wait, err := db.QueueMessage(ctx, m)
	if err != nil {
		return err
	}
	return wait()
}

// QueueMessage queues m for the writer and returns; wait returns the
// outcome once m's batch is done. Messages are committed, and given their
// ids, in queue order.
func (db *DB) QueueMessage(ctx context.Context, m *chatapp.Message) (wait func() error, err error) {
	r := &createRequest{ctx: ctx, m: m, done: make(chan error, 1)}
	if err := db.queue.Add(ctx, r); err != nil {
		return nil, err
	}
	// Once queued, m belongs to the writer until its batch is done: wait
	// for the outcome even if ctx ends meanwhile.
	return func() error { return <-r.done }, nil
}

const (
	insertMessageSQL  = `INSERT INTO messages (room_id, id, timestamp, user_id, name, message, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?)`
	findIdempotentSQL = `SELECT id, timestamp, name, message FROM messages WHERE room_id = ? AND user_id = ? AND idempotency_key = ?`
)

// FindReplay looks m's idempotency key up on a reader: a send past the
// rate limit is not queued for the writer.
func (db *DB) FindReplay(ctx context.Context, m *chatapp.Message) error {
	if m.IdempotencyKey == "" {
		return nil
	}
	stored, err := findByIdempotencyKey(ctx, db.findReplay, m)
	if err != nil || stored == nil {
		return err
	}
	return chatapp.Replay(m, stored)
}

func findByIdempotencyKey(ctx context.Context, lookup *sql.Stmt, m *chatapp.Message) (*chatapp.Message, error) {
	stored := &chatapp.Message{RoomID: m.RoomID, UserID: m.UserID, IdempotencyKey: m.IdempotencyKey}
	err := lookup.QueryRowContext(ctx, m.RoomID, m.UserID, m.IdempotencyKey).
		Scan(&stored.ID, &stored.Timestamp, &stored.Name, &stored.Text)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find idempotency key: %w", err)
	}
	return stored, nil
}

// FindMessages reads one page of history. It reads one row past the limit to
// learn whether more exist, and stops reading, with More, at the first row
// that f.MaxBytes does not take: rows are stepped one at a time, so a page
// loads its budget and one row, not its limit's worth.
func (db *DB) FindMessages(ctx context.Context, f chatapp.MessageFilter) (chatapp.MessagePage, error) {
	if err := f.Validate(); err != nil {
		return chatapp.MessagePage{}, err
	}
	query, args, newestFirst := historyQuery(f)
	rows, err := db.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return chatapp.MessagePage{}, fmt.Errorf("query messages: %w", err)
	}
	defer rows.Close()
	var page chatapp.MessagePage
	used := 0
	for rows.Next() {
		m := &chatapp.Message{RoomID: f.RoomID}
		if err := rows.Scan(&m.ID, &m.Timestamp, &m.UserID, &m.Name, &m.Text); err != nil {
			return chatapp.MessagePage{}, fmt.Errorf("scan message: %w", err)
		}
		size := m.StoredSize()
		if !f.Takes(len(page.Messages), used, size) {
			page.More = true
			break
		}
		used += size
		page.Messages = append(page.Messages, m)
	}
	if err := rows.Err(); err != nil {
		return chatapp.MessagePage{}, fmt.Errorf("query messages: %w", err)
	}
	if newestFirst {
		slices.Reverse(page.Messages)
	}
	return page, nil
}

// historyQuery is the SQL of a page. Every form is a range of the primary
// key (room_id, id), read in key order, so a page costs its own rows
// whatever the room's size (TestHistoryQueryPlans).
func historyQuery(f chatapp.MessageFilter) (query string, args []any, newestFirst bool) {
	query = `SELECT id, timestamp, user_id, name, message FROM messages WHERE room_id = ?`
	args = []any{f.RoomID}
	newestFirst = true
	switch {
	case f.After != "":
		query += ` AND id > ? ORDER BY id ASC`
		args = append(args, f.After)
		newestFirst = false
	case f.Before != "":
		query += ` AND id < ? ORDER BY id DESC`
		args = append(args, f.Before)
	default:
		query += ` ORDER BY id DESC`
	}
	query += ` LIMIT ?`
	args = append(args, f.Limit+1)
	return query, args, newestFirst
}
