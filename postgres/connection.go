package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/chatapp-dev/chatapp"
)

const (
	connectionColumns = `connection_id, room_id, user_id, name, timestamp, presence, expires_at`
	upsertConnection  = ` ON CONFLICT (connection_id) DO UPDATE SET room_id = EXCLUDED.room_id, user_id = EXCLUDED.user_id,
		name = EXCLUDED.name, timestamp = EXCLUDED.timestamp, presence = EXCLUDED.presence, expires_at = EXCLUDED.expires_at`
	insertConnectionSQL = `INSERT INTO connections (` + connectionColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7)` + upsertConnection
	// restoreConnectionsSQL writes rows back in one statement, never over
	// a stored one, and returns the ids it wrote.
	restoreConnectionsSQL = `INSERT INTO connections (` + connectionColumns + `)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::boolean[], $7::bigint[])
		ON CONFLICT (connection_id) DO NOTHING RETURNING connection_id`
	// lockUserSQL serializes the capped $connects of one user, across
	// processes, until their transaction ends. Users whose ids hash alike
	// share a lock: they only wait for each other a little.
	lockUserSQL = `SELECT pg_advisory_xact_lock($1, hashtext($2))`
	// insertConnectionCappedSQL inserts nothing when the user has the
	// most rows allowed, not counting the row it replaces. It runs after
	// lockUserSQL, so its snapshot holds every row of the user that the
	// lock's previous holders committed. The count reads the index
	// connections_user alone (TestConnectionCapQueryPlan).
	insertConnectionCappedSQL = `INSERT INTO connections (` + connectionColumns + `)
		SELECT $1, $2, $3, $4, $5, $6, $7 WHERE (` + countUserConnectionsSQL + `) < $8` + upsertConnection
	countUserConnectionsSQL = `SELECT count(*) FROM connections WHERE user_id = $3 AND connection_id <> $1`
)

// CreateConnection stores c, replacing a row of the same id, unless its
// user already has maxPerUser other rows (maxPerUser > 0). The lock, the
// count and the insert go in one round trip: a batch is one transaction
// (pgx runs a batch as the server's implicit transaction), which holds the
// user's lock to its commit.
func (db *DB) CreateConnection(ctx context.Context, c *chatapp.Connection, maxPerUser int) error {
	args := []any{c.ID, c.RoomID, c.UserID, c.Name, c.Timestamp, c.Presence, c.ExpiresAt}
	if maxPerUser <= 0 {
		if _, err := db.pool.Exec(ctx, insertConnectionSQL, args...); err != nil {
			return fmt.Errorf("insert connection: %w", err)
		}
		return nil
	}
	b := &pgx.Batch{}
	b.Queue(lockUserSQL, lockUsers, c.UserID)
	insert := b.Queue(insertConnectionCappedSQL, append(args, maxPerUser)...)
	var inserted int64
	insert.Exec(func(tag pgconn.CommandTag) error {
		inserted = tag.RowsAffected()
		return nil
	})
	if err := db.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("insert connection: %w", err)
	}
	if inserted == 0 {
		return chatapp.TooManyConnections(c.UserID, maxPerUser)
	}
	return nil
}

// RestoreConnections stores those of conns whose id has no row, in one
// round trip: the live connections' rows that another node swept, taking
// their node for dead. It returns those it wrote (no cap: each was
// counted when it connected).
func (db *DB) RestoreConnections(ctx context.Context, conns []*chatapp.Connection) ([]*chatapp.Connection, error) {
	var ids, rooms, users, names []string
	var timestamps, expiries []int64
	var presences []bool
	byID := make(map[string]*chatapp.Connection, len(conns))
	for _, c := range conns {
		ids, rooms, users, names = append(ids, c.ID), append(rooms, c.RoomID), append(users, c.UserID), append(names, c.Name)
		timestamps, presences, expiries = append(timestamps, c.Timestamp), append(presences, c.Presence), append(expiries, c.ExpiresAt)
		byID[c.ID] = c
	}
	rows, _ := db.pool.Query(ctx, restoreConnectionsSQL, ids, rooms, users, names, timestamps, presences, expiries)
	wrote, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("restore connections: %w", err)
	}
	written := make([]*chatapp.Connection, len(wrote))
	for i, id := range wrote {
		written[i] = byID[id]
	}
	return written, nil
}

// DeleteConnection removes a connection if it is stored, and returns it:
// of racing deletes, the one whose DELETE removed the row.
func (db *DB) DeleteConnection(ctx context.Context, id string) (*chatapp.Connection, error) {
	row := db.pool.QueryRow(ctx, `DELETE FROM connections WHERE connection_id = $1 RETURNING `+connectionColumns, id)
	c, err := scanConnection(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("delete connection: %w", err)
	}
	return c, nil
}

// FindConnection returns one connection or ENOTFOUND.
func (db *DB) FindConnection(ctx context.Context, id string) (*chatapp.Connection, error) {
	row := db.pool.QueryRow(ctx, `SELECT `+connectionColumns+` FROM connections WHERE connection_id = $1`, id)
	c, err := scanConnection(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, chatapp.Errorf(chatapp.ENOTFOUND, "connection not found")
	}
	if err != nil {
		return nil, fmt.Errorf("find connection: %w", err)
	}
	return c, nil
}

// FindConnectionsByRoom returns a room's connections, oldest first, in the
// order of the index connections_room.
func (db *DB) FindConnectionsByRoom(ctx context.Context, roomID string) ([]*chatapp.Connection, error) {
	return db.queryConnections(ctx, `SELECT `+connectionColumns+` FROM connections WHERE room_id = $1 ORDER BY timestamp, connection_id`, roomID)
}

// ListConnections returns every stored connection, for the sweeper.
func (db *DB) ListConnections(ctx context.Context) ([]*chatapp.Connection, error) {
	return db.queryConnections(ctx, `SELECT `+connectionColumns+` FROM connections`)
}

func (db *DB) queryConnections(ctx context.Context, query string, args ...any) ([]*chatapp.Connection, error) {
	rows, _ := db.pool.Query(ctx, query, args...) // an error comes back from the rows
	conns, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*chatapp.Connection, error) { return scanConnection(row) })
	if err != nil {
		return nil, fmt.Errorf("query connections: %w", err)
	}
	return conns, nil
}

func scanConnection(row pgx.Row) (*chatapp.Connection, error) {
	c := &chatapp.Connection{}
	if err := row.Scan(&c.ID, &c.RoomID, &c.UserID, &c.Name, &c.Timestamp, &c.Presence, &c.ExpiresAt); err != nil {
		return nil, err
	}
	return c, nil
}
