package postgres

import (
	"os"
	"testing"

	"github.com/chatapp-dev/chatapp/internal/pglocal"
	"github.com/chatapp-dev/chatapp/storetest"
)

func TestMain(m *testing.M) { os.Exit(pglocal.Main(m)) }

// TestConformance runs the store contract shared with the sqlite and
// dynamodb stores, every subtest on one store in a schema of its own.
func TestConformance(t *testing.T) {
	db := openDB(t, pglocal.Schema(t))
	storetest.Run(t, func(*testing.T) storetest.Store { return db })
}

// openDB opens a store on url, closed when the test ends. Two stores on
// one database stand for two `chatapp serve` processes: each has its own
// pool of sessions, as a process has.
func openDB(t testing.TB, url string) *DB {
	t.Helper()
	db, err := Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
