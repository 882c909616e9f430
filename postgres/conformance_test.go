package postgres_test

import (
	"os"
	"testing"

	"github.com/chatapp-dev/chatapp/internal/pglocal"
	"github.com/chatapp-dev/chatapp/postgres"
	"github.com/chatapp-dev/chatapp/storetest"
)

func TestMain(m *testing.M) { os.Exit(pglocal.Main(m)) }

// TestConformance runs the store contract shared with the sqlite and
// dynamodb stores, every subtest on one store in a schema of its own.
func TestConformance(t *testing.T) {
	db := open(t, pglocal.Schema(t))
	storetest.Run(t, func(t *testing.T) storetest.Store { return db })
}

// open opens a store on url, closed when the test ends.
func open(t *testing.T, url string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}
