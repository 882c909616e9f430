package postgres

import (
	"strings"
	"sync"
	"testing"

	"github.com/chatapp-dev/chatapp/internal/pglocal"
)

// TestProcessesStartTogether: processes opening one new database at once
// create its tables once (the migration's advisory lock), and each opens.
func TestProcessesStartTogether(t *testing.T) {
	url := pglocal.Schema(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			db, err := Open(t.Context(), url)
			if err != nil {
				t.Errorf("Open: %v", err)
				return
			}
			db.Close()
		})
	}
	wg.Wait()
	db := openDB(t, url)
	var version, rows int
	if err := db.pool.QueryRow(t.Context(), `SELECT max(version), count(*) FROM chatapp_schema`).Scan(&version, &rows); err != nil {
		t.Fatal(err)
	}
	if version != len(migrations) || rows != 1 {
		t.Errorf("chatapp_schema holds %d rows, version %d; want 1 row, %d", rows, version, len(migrations))
	}
}

// TestNewerSchemaIsRefused: a database a later chatapp migrated is not
// opened by this one, which would misread it.
func TestNewerSchemaIsRefused(t *testing.T) {
	url := pglocal.Schema(t)
	db := openDB(t, url)
	if _, err := db.pool.Exec(t.Context(), `UPDATE chatapp_schema SET version = version + 1`); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(t.Context(), url); err == nil || !strings.Contains(err.Error(), "newer than this chatapp") {
		t.Fatalf("Open of a newer schema: %v", err)
	}
}
