package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/chatapp-dev/chatapp"
)

// CreateMessage commits m, minting its id under its room's lock so that id
// order is commit order (package doc). It returns once the transaction
// holding m has committed. A used idempotency key gives the stored message
// and ErrDuplicate, or ECONFLICT for another text.
func (db *DB) CreateMessage(ctx context.Context, m *chatapp.Message) error {
	wait, err := db.enqueue(ctx, m)
	if err == nil {
		err = wait()
	}
	return err
}

// QueueMessage hands m to the group commit (groupcommit.go) and returns
// its wait, which gives what CreateMessage would once m's batch is done.
// Messages queued one after another get their ids, and commit, in that
// order.
func (db *DB) QueueMessage(ctx context.Context, m *chatapp.Message) (wait func() error, err error) {
	return db.enqueue(ctx, m)
}

const findIdempotentSQL = `SELECT id, timestamp, name, message FROM messages
	WHERE room_id = $1 AND user_id = $2 AND idempotency_key = $3`

// FindReplay answers m as CreateMessage would if its key was used,
// storing nothing.
func (db *DB) FindReplay(ctx context.Context, m *chatapp.Message) error {
	if m.IdempotencyKey == "" {
		return nil
	}
	stored := &chatapp.Message{RoomID: m.RoomID, UserID: m.UserID, IdempotencyKey: m.IdempotencyKey}
	var text []byte
	err := db.pool.QueryRow(ctx, findIdempotentSQL, m.RoomID, m.UserID, m.IdempotencyKey).
		Scan(&stored.ID, &stored.Timestamp, &stored.Name, &text)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("find idempotency key: %w", err)
	}
	stored.Text = string(text)
	return chatapp.Replay(m, stored)
}
