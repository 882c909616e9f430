// Package postgres is the store for several `chatapp serve` processes that
// share one PostgreSQL database (pgx v5): the original's two tables, plus
// one row per room that orders the room's messages.
//
// # Order: the store decides it
//
// A message's id sorts in commit order within its room, whichever
// process inserts it and whatever its clock says, so that a reader paging
// forward with after= never sees an id appear behind one it has read.
// Each insert locks its room's row in rooms (SELECT ... FOR UPDATE, rooms
// sorted by id, so that transactions locking several never deadlock),
// mints the id under the lock as the larger of a new ULID and the room's
// last id plus one (in ULID order), stores it as the room's last id, and
// holds the lock until its commit. The next insert into the room waits for
// that commit, reads the id it left, and mints a larger one: ids of one
// room are minted and committed one after another, in the same order. A
// process whose clock is behind mints last id + 1 (its message's
// timestamp stays its own clock's), one whose clock is ahead moves the
// room's ids ahead for everyone. A message that comes with an id (tests,
// imports) keeps it, and moves the room's last id to it if it is later.
// Each message committed learns the room's last id before it (its
// PrevID): the nodes of a cluster deliver a room's messages in that
// chain, and a break in it tells them to read what they missed.
//
// # Group commit
//
// A process's sends wait in one queue, and one goroutine commits all that
// wait in one transaction of two round trips (commit.go): begin, lock the
// batch's rooms, read their last ids and the keys and ids in use; mint the
// ids in queue order; insert, move the rooms' last ids, commit. One
// process's batches commit one after another; several processes'
// interleave room by room, as the locks decide.
//
// # Idempotent sends
//
// One message per room, user and key: a unique index says so, and the
// room lock makes the lookup of a key and the insert one step, so racing
// retries, from any process, store one message and the others replay it
// (ErrDuplicate, or ECONFLICT for another text), as in the sqlite store.
//
// # The per-user connection cap
//
// A capped CreateConnection takes a transaction-scoped advisory lock on
// its user (pg_advisory_xact_lock on a hash of the user id), then counts
// the user's rows and inserts in one statement: $connects of one user
// racing on several processes pass the cap one at a time.
//
// # Pages
//
// Every page is a range of the primary key (room_id, id), which also holds
// each row's size (INCLUDE): the window of a page's running count and
// bytes is computed from the index, and only the rows the page takes are
// read whole, so a request for 1000 rows under a byte budget reads its
// budget, not 1000 texts (queryplan_test.go).
//
// # Durability
//
// The store's sessions commit with synchronous_commit on (unless the URL
// sets it), so a send is acknowledged only once its commit is flushed to
// the server's WAL; that holds across a power loss only where the server
// runs with fsync on, its default.
package postgres

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/internal/commitqueue"
)

var (
	_ chatapp.MessageStore     = (*DB)(nil)
	_ chatapp.ConnectionStore  = (*DB)(nil)
	_ chatapp.ConnectionLister = (*DB)(nil)
)

// DB is an open PostgreSQL store. It implements chatapp.MessageStore,
// chatapp.ConnectionStore and chatapp.ConnectionLister.
type DB struct {
	pool *pgxpool.Pool
	// newID mints the id of a message stored now and its time
	// (chatapp.NextMessageID); the ordering tests give a store a clock of
	// its own.
	newID func() (id string, ms int64)

	// Messages are written by one goroutine in batches (groupcommit.go).
	queue   *commitqueue.Queue[*queued]
	commits atomic.Int64 // batches committed, for tests and benchmarks
}

// Open connects to the database at url (a PostgreSQL URL or key=value
// string, as libpq takes them; pool_max_conns sets the pool's size) and
// creates or migrates the store's tables, in the first schema of the
// connection's search_path.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if _, set := cfg.ConnConfig.RuntimeParams["synchronous_commit"]; !set {
		// A send is acknowledged once committed: committed must mean on disk.
		cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	}
	if _, set := cfg.ConnConfig.RuntimeParams["application_name"]; !set {
		cfg.ConnConfig.RuntimeParams["application_name"] = "chatapp"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db := &DB{pool: pool, newID: chatapp.NextMessageID}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db.queue = commitqueue.Start(maxBatch, ErrClosed, db.commitQueued)
	return db, nil
}

// Describe names the database of url for a log or a banner: user, host,
// port and database, never the password.
func Describe(url string) string {
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		return "(an address that does not parse)"
	}
	return fmt.Sprintf("%s@%s/%s", cfg.User, net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), cfg.Database)
}

// Close commits the sends already queued, waits for them, and closes the
// store's connections once the calls using them have returned them. Sends
// after Close get ErrClosed.
func (db *DB) Close() error {
	db.queue.Close()
	db.pool.Close()
	return nil
}
