package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/chatapp-dev/chatapp"
)

var (
	_ chatapp.ConnectionStore  = (*DB)(nil)
	_ chatapp.ConnectionLister = (*DB)(nil)
)

// CreateConnection stores c, replacing a row of the same id, unless its
// user already has maxPerUser other rows (maxPerUser > 0). The count is a
// subquery of the INSERT, and the single writer runs it inside the batch's
// transaction, so no other write falls between the count and the insert:
// racing $connects of one user never pass the cap together. It shares a
// commit with the writes queued beside it.
func (db *DB) CreateConnection(ctx context.Context, c *chatapp.Connection, maxPerUser int) error {
	return db.write(ctx, insertConnection(c, maxPerUser))
}

// insertConnection is CreateConnection's write, for the batch to run.
func insertConnection(c *chatapp.Connection, maxPerUser int) func(ctx context.Context, tx *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		query, args := insertConnectionSQL, []any{c.ID, c.RoomID, c.UserID, c.Name, c.Timestamp, c.Presence, c.ExpiresAt}
		if maxPerUser > 0 {
			query, args = insertConnectionCappedSQL, append(args, c.UserID, c.ID, maxPerUser)
		}
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("insert connection: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("insert connection: %w", err)
		} else if n == 0 {
			return chatapp.TooManyConnections(c.UserID, maxPerUser)
		}
		return nil
	}
}

const (
	insertConnectionSQL = `INSERT OR REPLACE INTO connections (` + connectionColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?)`
	// insertConnectionCappedSQL inserts nothing when the user has the most
	// rows allowed, not counting the row it replaces. The count is a search
	// of the covering index connections_user (TestConnectionCapQueryPlan).
	insertConnectionCappedSQL = `INSERT OR REPLACE INTO connections (` + connectionColumns + `)
		SELECT ?, ?, ?, ?, ?, ?, ? WHERE (` + countUserConnectionsSQL + `) < ?`
	countUserConnectionsSQL = `SELECT count(*) FROM connections WHERE user_id = ? AND connection_id <> ?`
)

// DeleteConnection removes a connection if it is stored, and returns it.
func (db *DB) DeleteConnection(ctx context.Context, id string) (*chatapp.Connection, error) {
	var c *chatapp.Connection
	err := db.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		row := tx.QueryRowContext(ctx, `DELETE FROM connections WHERE connection_id = ? RETURNING `+connectionColumns, id)
		var err error
		if c, err = scanConnection(row); errors.Is(err, sql.ErrNoRows) {
			c, err = nil, nil
		}
		if err != nil {
			return fmt.Errorf("delete connection: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DeleteAllConnections empties the connections table. The local gateway
// calls it at start: no socket outlives the process that held it.
func (db *DB) DeleteAllConnections(ctx context.Context) error {
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	if _, err := db.writer.ExecContext(ctx, `DELETE FROM connections`); err != nil {
		return fmt.Errorf("delete connections: %w", err)
	}
	return nil
}

const connectionColumns = `connection_id, room_id, user_id, name, timestamp, presence, expires_at`

// FindConnection returns one connection or ENOTFOUND.
func (db *DB) FindConnection(ctx context.Context, id string) (*chatapp.Connection, error) {
	row := db.reader.QueryRowContext(ctx, `SELECT `+connectionColumns+` FROM connections WHERE connection_id = ?`, id)
	c, err := scanConnection(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, chatapp.Errorf(chatapp.ENOTFOUND, "connection not found")
	}
	return c, err
}

// FindConnectionsByRoom returns a room's connections, oldest first.
func (db *DB) FindConnectionsByRoom(ctx context.Context, roomID string) ([]*chatapp.Connection, error) {
	return db.queryConnections(ctx, `SELECT `+connectionColumns+` FROM connections WHERE room_id = ? ORDER BY timestamp, connection_id`, roomID)
}

// ListConnections returns every stored connection, oldest first.
func (db *DB) ListConnections(ctx context.Context) ([]*chatapp.Connection, error) {
	return db.queryConnections(ctx, `SELECT `+connectionColumns+` FROM connections ORDER BY timestamp, connection_id`)
}

func (db *DB) queryConnections(ctx context.Context, query string, args ...any) ([]*chatapp.Connection, error) {
	rows, err := db.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query connections: %w", err)
	}
	defer rows.Close()
	conns := []*chatapp.Connection{}
	for rows.Next() {
		c, err := scanConnection(rows)
		if err != nil {
			return nil, err
		}
		conns = append(conns, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query connections: %w", err)
	}
	return conns, nil
}

func scanConnection(row interface{ Scan(...any) error }) (*chatapp.Connection, error) {
	c := &chatapp.Connection{}
	if err := row.Scan(&c.ID, &c.RoomID, &c.UserID, &c.Name, &c.Timestamp, &c.Presence, &c.ExpiresAt); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		return nil, fmt.Errorf("scan connection: %w", err)
	}
	return c, nil
}
