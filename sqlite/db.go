// Package sqlite is the embedded store: the original's two DynamoDB tables as
// SQLite tables, through modernc.org/sqlite (pure Go, no cgo), in WAL mode.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/chatapp-dev/chatapp/internal/commitqueue"
)

// FileName is the database file inside the data directory.
const FileName = "chatapp.db"

// DB is an open embedded store. It implements chatapp.MessageStore and
// chatapp.ConnectionStore.
type DB struct {
	// SQLite has one writer at a time: one connection writes, under writeMu,
	// so ids assigned under the lock are committed in id order; a pool reads.
	// Messages are written by one goroutine in batches (groupcommit.go).
	writer  *sql.DB
	reader  *sql.DB
	writeMu sync.Mutex

	insertMessage, findIdempotent *sql.Stmt // prepared on the writer
	findReplay                    *sql.Stmt // findIdempotentSQL on the reader

	queue   *commitqueue.Queue[*createRequest]
	commits atomic.Int64 // batches committed, for tests and benchmarks
}

// Open opens or creates the store in directory dir. The directory it
// creates and the database files are its owner's alone (see private).
func Open(ctx context.Context, dir string) (*DB, error) {
	path := filepath.Join(dir, FileName)
	if err := private(dir, path); err != nil {
		return nil, err
	}
	writer, err := openPool(path, 1)
	if err != nil {
		return nil, err
	}
	db := &DB{writer: writer}
	if err := db.migrate(ctx); err != nil {
		writer.Close()
		return nil, err
	}
	if db.reader, err = openPool(path, 8); err != nil {
		writer.Close()
		return nil, err
	}
	if err := db.prepare(ctx); err != nil {
		db.reader.Close()
		writer.Close()
		return nil, err
	}
	db.queue = commitqueue.Start(maxBatch, ErrClosed, db.commitQueued)
	return db, nil
}

func (db *DB) prepare(ctx context.Context) (err error) {
	if db.insertMessage, err = db.writer.PrepareContext(ctx, insertMessageSQL); err != nil {
		return fmt.Errorf("prepare insert: %w", err)
	}
	if db.findIdempotent, err = db.writer.PrepareContext(ctx, findIdempotentSQL); err != nil {
		return fmt.Errorf("prepare idempotency lookup: %w", err)
	}
	if db.findReplay, err = db.reader.PrepareContext(ctx, findIdempotentSQL); err != nil {
		return fmt.Errorf("prepare idempotency lookup: %w", err)
	}
	return nil
}

// private creates the data directory 0700 when it is missing and the
// database file 0600, and makes the database files 0600 that an earlier
// version left readable, whatever the umask: they hold every room's
// messages. SQLite creates the -wal and -shm files with the mode of the
// database file, so creating that one first is enough for the others. A
// directory that exists is the operator's choice and is left as it is.
func private(dir, path string) error {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create data directory: %w", err)
		}
		if err := os.Chmod(dir, 0o700); err != nil { // MkdirAll's mode is under the umask
			return fmt.Errorf("create data directory: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("make %s private: %w", p, err)
		}
	}
	return nil
}

// openPool opens a pool whose every connection is in WAL mode with full
// sync (the driver runs each _pragma on every new connection). A send is
// acknowledged only after its INSERT has committed, so what survives is:
//
//   - A process crash (SIGKILL, panic, OOM kill): every commit. A commit has
//     written its frames to chatapp.db-wal, so they are in the kernel's page
//     cache when the call returns; the next Open replays the log and drops a
//     half-written last transaction. This holds at any synchronous level.
//   - A power loss or kernel crash: every commit too, because FULL fsyncs the
//     log at each commit. NORMAL, WAL's usual level, syncs only at
//     checkpoints and may lose the last commits (the file stays whole). This
//     needs a disk that honours flushes; macOS's fsync does not flush the
//     drive's cache (SQLite's fullfsync would, at a large cost per commit).
func openPool(path string, size int) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_txlock", "immediate")
	pool, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	pool.SetMaxOpenConns(size)
	pool.SetMaxIdleConns(size)
	pool.SetConnMaxLifetime(0)
	if err := pool.Ping(); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return pool, nil
}

// Close commits the sends already queued, waits for them, and closes the
// store; committed data is on disk. Sends after Close get ErrClosed.
func (db *DB) Close() error {
	db.queue.Close()
	var rerr error
	if db.reader != nil {
		rerr = db.reader.Close()
	}
	if err := db.writer.Close(); err != nil {
		return err
	}
	return rerr
}

// migrations are applied in order; PRAGMA user_version counts those done.
var migrations = []string{
	`CREATE TABLE messages (
		room_id   TEXT NOT NULL,
		id        TEXT NOT NULL,
		timestamp INTEGER NOT NULL,
		user_id   TEXT NOT NULL,
		name      TEXT NOT NULL,
		message   TEXT NOT NULL,
		PRIMARY KEY (room_id, id)
	) WITHOUT ROWID;
	CREATE TABLE connections (
		connection_id TEXT PRIMARY KEY,
		room_id       TEXT NOT NULL,
		user_id       TEXT NOT NULL,
		name          TEXT NOT NULL,
		timestamp     INTEGER NOT NULL,
		presence      INTEGER NOT NULL
	);
	CREATE INDEX connections_room ON connections (room_id, timestamp);`,
	// Idempotent sends: one message per room, user and client key.
	`ALTER TABLE messages ADD COLUMN idempotency_key TEXT;
	CREATE UNIQUE INDEX messages_idempotency ON messages (room_id, user_id, idempotency_key)
		WHERE idempotency_key IS NOT NULL;`,
	// The per-user connection cap counts a user's rows at every $connect:
	// (user_id, connection_id) covers that count without reading the table.
	`CREATE INDEX connections_user ON connections (user_id, connection_id);`,
	// The expiry of the token a connection was opened with (0: none).
	`ALTER TABLE connections ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;`,
}

func (db *DB) migrate(ctx context.Context) error {
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this chatapp (%d)", version, len(migrations))
	}
	for i := version; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, len(migrations))); err != nil {
		return err
	}
	return tx.Commit()
}
