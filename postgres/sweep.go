// The sweep of dead nodes: a cluster node not seen for a while loses its
// connection rows, and its row in the nodes table with them, in one
// statement that checks, at the moment it deletes, that the node is
// still not seen; a node's beat (TouchNode) learns under the same row
// lock whether such a sweep came first.
//
// Under READ COMMITTED, a DELETE that meets a row another transaction
// is updating waits for that transaction, and, if it committed, tests
// its WHERE again on the row as that transaction left it. TouchNode locks
// the node's row (SELECT ... FOR UPDATE) before it writes it, and the
// sweep deletes the node's row before its connection rows, in the same
// statement. So of a beat and a sweep of one node, one takes the row's
// lock first, and:
//   - the beat first: the sweep waits for the beat's commit, finds the
//     row seen now, and deletes neither it nor the node's connection
//     rows (the statement deletes only the rows of the nodes whose row
//     it deleted);
//   - the sweep first: the beat waits for the sweep's commit and finds
//     no row, so it reports the node lapsed, writes its row again, and
//     writes back its connections' rows after the sweep has committed,
//     never while it runs: none of them is deleted again. Its own clock
//     does not count: a row that is there was not swept.
//
// A connection row whose node has no row at all (a node that stopped
// while a $disconnect failed, an older chatapp's rows) is given a node
// row, never seen (InsertDeadNodes), and is swept the same way.

package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chatapp-dev/chatapp"
)

// sweepDeadNodesSQL deletes the rows of the nodes of $1 not seen for $2
// seconds, by the database's clock when it deletes each, and the
// connection rows of those it deleted (a range of connections_pkey
// each), returning them: the leaves to announce.
var sweepDeadNodesSQL = `WITH dead AS (
		DELETE FROM nodes WHERE tag = ANY($1::text[]) AND seen_at < now() - make_interval(secs => $2)
		RETURNING tag)
	DELETE FROM connections c USING dead
	WHERE c.connection_id >= dead.tag AND c.connection_id < ` + fmt.Sprintf(pastPrefix, "dead.tag") + `
	RETURNING ` + connectionColumns

// SweepDeadNodes deletes, in one statement, the rows of those nodes of
// tags that are still not seen within `within` when it deletes them, with
// all their connection rows, and returns the connection rows it deleted:
// of sweeps racing, each row comes back to one, whose leave it announces.
// A node that beat since the caller read it dead keeps its rows.
func (db *DB) SweepDeadNodes(ctx context.Context, tags []string, within time.Duration) ([]*chatapp.Connection, error) {
	if tags = nonEmpty(tags); len(tags) == 0 {
		return nil, nil
	}
	return db.queryConnections(ctx, sweepDeadNodesSQL, tags, within.Seconds())
}

// InsertDeadNodes writes a row, never seen, for each of tags that has
// none: the connection rows of a tag whose node has no row are then a
// dead node's, and SweepDeadNodes takes them. A node that writes its row
// first keeps it, and a node that beats after finds it stale.
func (db *DB) InsertDeadNodes(ctx context.Context, tags []string) error {
	if len(tags) == 0 {
		return nil
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO nodes (tag, seen_at) SELECT unnest($1::text[]), '-infinity'
		ON CONFLICT (tag) DO NOTHING`, tags)
	if err != nil {
		return fmt.Errorf("insert dead nodes: %w", err)
	}
	return nil
}

// TouchNode records that the node is alive now. A row another node
// removed (it took this node for dead) is written again. It reports
// whether the node had lapsed: its row was missing, or not written for
// longer than within (by the database's clock), so that other nodes may
// have swept its connection rows and announced their leaves. It locks
// the row before it reads it (the file's comment): a missing row is one
// a sweep deleted, with every connection row it will delete.
func (db *DB) TouchNode(ctx context.Context, tag string, within time.Duration) (lapsed bool, err error) {
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var stale bool
		err := tx.QueryRow(ctx, `SELECT seen_at < now() - make_interval(secs => $2) FROM nodes WHERE tag = $1 FOR UPDATE`, tag, within.Seconds()).Scan(&stale)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			lapsed = true
		case err != nil:
			return err
		default:
			lapsed = stale
		}
		_, err = tx.Exec(ctx, `INSERT INTO nodes (tag) VALUES ($1) ON CONFLICT (tag) DO UPDATE SET seen_at = now()`, tag)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("touch node: %w", err)
	}
	return lapsed, nil
}
