// The nodes table: which nodes of a cluster are alive. Each node claims
// its tag at start, writes its row every heartbeat and removes it when it
// stops; a row not written for a while is a dead node's, whose connection
// rows the others sweep.

package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ClaimNode stores a new node's row, unless a node holds the tag already:
// it reports whether the tag is now this node's.
func (db *DB) ClaimNode(ctx context.Context, tag string) (bool, error) {
	res, err := db.pool.Exec(ctx, `INSERT INTO nodes (tag) VALUES ($1) ON CONFLICT (tag) DO NOTHING`, tag)
	if err != nil {
		return false, fmt.Errorf("claim node tag: %w", err)
	}
	return res.RowsAffected() == 1, nil
}

// NodeAlive reports whether a node's row was written within the last
// within, by the database's clock: a node without a row, or with a stale
// one, is dead.
func (db *DB) NodeAlive(ctx context.Context, tag string, within time.Duration) (bool, error) {
	var alive bool
	err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM nodes WHERE tag = $1 AND seen_at >= now() - make_interval(secs => $2))`, tag, within.Seconds()).Scan(&alive)
	if err != nil {
		return false, fmt.Errorf("read node: %w", err)
	}
	return alive, nil
}

// RemoveNode deletes a node's row, on a clean stop (a dead node's goes
// with its connection rows: SweepDeadNodes).
func (db *DB) RemoveNode(ctx context.Context, tag string) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM nodes WHERE tag = $1`, tag); err != nil {
		return fmt.Errorf("remove node: %w", err)
	}
	return nil
}

// Nodes returns the tags of the nodes seen within grace (live) and of
// those not seen for longer (dead), by the database's clock.
func (db *DB) Nodes(ctx context.Context, grace time.Duration) (live, dead []string, err error) {
	rows, _ := db.pool.Query(ctx, `SELECT tag, seen_at >= now() - make_interval(secs => $1) FROM nodes`, grace.Seconds())
	var tag string
	var alive bool
	_, err = pgx.ForEachRow(rows, []any{&tag, &alive}, func() error {
		if alive {
			live = append(live, tag)
		} else {
			dead = append(dead, tag)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list nodes: %w", err)
	}
	return live, dead, nil
}

// RoomsLastIDs returns the last id stored in each of rooms that has one,
// in one query: a node compares them with what it delivered.
func (db *DB) RoomsLastIDs(ctx context.Context, rooms []string) (map[string]string, error) {
	rows, _ := db.pool.Query(ctx, `SELECT room_id, last_id FROM rooms WHERE room_id = ANY($1)`, rooms)
	last := make(map[string]string, len(rooms))
	var room, id string
	if _, err := pgx.ForEachRow(rows, []any{&room, &id}, func() error { last[room] = id; return nil }); err != nil {
		return nil, fmt.Errorf("read rooms' last ids: %w", err)
	}
	return last, nil
}
