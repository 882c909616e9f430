package sqlite_test

import (
	"testing"

	"github.com/chatapp-dev/chatapp/sqlite"
	"github.com/chatapp-dev/chatapp/storetest"
)

// TestConformance runs the store contract shared with the dynamodb store,
// on a fresh database per subtest.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		db, err := sqlite.Open(t.Context(), t.TempDir())
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() {
			if err := db.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return db
	})
}
