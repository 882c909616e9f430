package sqlite

import (
	"context"
	"database/sql"
	"testing"
)

// TestDurabilitySettings checks what openPool's comment promises on every
// connection of both pools: WAL, and synchronous FULL (2), so that a commit
// is fsynced before a send is acknowledged.
func TestDurabilitySettings(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for name, pool := range map[string]*sql.DB{"writer": db.writer, "reader": db.reader} {
		// Hold several connections at once, so that each is a distinct one.
		var conns []*sql.Conn
		for range 3 {
			c, err := pool.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			if name == "writer" {
				break // a pool of one
			}
		}
		for i, c := range conns {
			var mode string
			var sync int
			if err := c.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
				t.Fatal(err)
			}
			if err := c.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync); err != nil {
				t.Fatal(err)
			}
			if mode != "wal" || sync != 2 {
				t.Errorf("%s connection %d: journal_mode %q, synchronous %d; want wal, 2 (FULL)", name, i, mode, sync)
			}
		}
		for _, c := range conns {
			c.Close()
		}
	}
}
