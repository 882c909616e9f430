package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/chatapp-dev/chatapp"
)

// BulkInsert stores ms in one transaction, assigning ids and timestamps as
// CreateMessage does, without idempotency checks. It is for benchmarks and
// seeding (a room of a million messages in seconds), not for sends.
func (db *DB) BulkInsert(ctx context.Context, ms []*chatapp.Message) error {
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	insert := tx.StmtContext(ctx, db.insertMessage)
	for _, m := range ms {
		m.AssignID()
		if _, err := insert.ExecContext(ctx, m.RoomID, m.ID, m.Timestamp, m.UserID, m.Name, m.Text,
			sql.NullString{String: m.IdempotencyKey, Valid: m.IdempotencyKey != ""}); err != nil {
			return fmt.Errorf("insert message: %w", err)
		}
	}
	return tx.Commit()
}
