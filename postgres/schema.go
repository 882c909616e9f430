package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// The store's advisory lock spaces (pg_advisory_xact_lock's first key):
// one for the schema's migration, one for users' connection caps.
const (
	lockSchema = 0x63686174 // "chat"
	lockUsers  = 0x63686175
)

// migrations are applied in order, each once; chatapp_schema's one row
// counts those done, so that a later version can change the tables of a
// running store. Every statement is also safe to run again (IF NOT
// EXISTS), for a database whose tables someone created by hand.
//
// Every key column is COLLATE "C": ids order bytewise, as ULIDs sort and
// the sqlite store orders them, whatever the database's default collation,
// and comparing bytes is faster than a locale's rules.
// message is bytea: a text column refuses U+0000, which a valid chat text
// may hold, and the store keeps what it is given.
var migrations = []string{
	`CREATE TABLE IF NOT EXISTS messages (
		room_id         text COLLATE "C" NOT NULL,
		id              text COLLATE "C" NOT NULL,
		timestamp       bigint NOT NULL,
		user_id         text COLLATE "C" NOT NULL,
		name            text NOT NULL,
		message         bytea NOT NULL,
		idempotency_key text COLLATE "C",
		-- StoredSize, which a page's MaxBytes counts: the primary key
		-- holds it, so a page's bytes are summed from the index alone.
		size integer GENERATED ALWAYS AS (octet_length(room_id) + octet_length(id) +
			octet_length(user_id) + octet_length(name) + octet_length(message)) STORED,
		PRIMARY KEY (room_id, id) INCLUDE (size)
	);
	CREATE UNIQUE INDEX IF NOT EXISTS messages_idempotency ON messages (room_id, user_id, idempotency_key)
		WHERE idempotency_key IS NOT NULL;
	-- The last id minted in each room; inserts lock its row (package doc).
	CREATE TABLE IF NOT EXISTS rooms (
		room_id text COLLATE "C" PRIMARY KEY,
		last_id text COLLATE "C" NOT NULL
	);
	CREATE TABLE IF NOT EXISTS connections (
		connection_id text COLLATE "C" PRIMARY KEY,
		room_id       text COLLATE "C" NOT NULL,
		user_id       text COLLATE "C" NOT NULL,
		name          text NOT NULL,
		timestamp     bigint NOT NULL,
		presence      boolean NOT NULL,
		expires_at    bigint NOT NULL
	);
	-- A room's connections, oldest first, without a sort.
	CREATE INDEX IF NOT EXISTS connections_room ON connections (room_id, timestamp, connection_id);
	-- The cap's count of a user's connections, from the index alone.
	CREATE INDEX IF NOT EXISTS connections_user ON connections (user_id, connection_id);`,
	// The nodes of a cluster, each of which writes its row every few
	// seconds (nodes.go); the database's clock, not the nodes', ages them.
	`CREATE TABLE IF NOT EXISTS nodes (
		tag        text COLLATE "C" PRIMARY KEY,
		started_at timestamptz NOT NULL DEFAULT now(),
		seen_at    timestamptz NOT NULL DEFAULT now()
	);`,
}

// migrate applies the migrations not yet applied, under an advisory lock:
// processes starting together on one database migrate it once.
func (db *DB) migrate(ctx context.Context) error {
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, 0)`, lockSchema); err != nil {
			return fmt.Errorf("lock the schema: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS chatapp_schema (version integer NOT NULL)`); err != nil {
			return fmt.Errorf("create chatapp_schema: %w", err)
		}
		var version int
		err := tx.QueryRow(ctx, `SELECT version FROM chatapp_schema`).Scan(&version)
		if errors.Is(err, pgx.ErrNoRows) {
			_, err = tx.Exec(ctx, `INSERT INTO chatapp_schema (version) VALUES (0)`)
		}
		if err != nil {
			return fmt.Errorf("read the schema version: %w", err)
		}
		if version > len(migrations) {
			return fmt.Errorf("database schema version %d is newer than this chatapp (%d)", version, len(migrations))
		}
		for i := version; i < len(migrations); i++ {
			if _, err := tx.Exec(ctx, migrations[i]); err != nil {
				return fmt.Errorf("migration %d: %w", i+1, err)
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE chatapp_schema SET version = $1`, len(migrations)); err != nil {
			return fmt.Errorf("write the schema version: %w", err)
		}
		return nil
	})
}
