package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/sqlite"
)

// openDB opens a store in a fresh directory and closes it with the test.
func openDB(t *testing.T) (*sqlite.DB, string) {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db, dir
}

func TestOpenCreatesDirectoryAndFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "data")
	db, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	if _, err := os.Stat(filepath.Join(dir, sqlite.FileName)); err != nil {
		t.Fatalf("database file: %v", err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	var sent []*chatapp.Message
	for _, text := range []string{"first", "second", "third"} {
		m := &chatapp.Message{RoomID: "lobby", UserID: "u1", Name: "Alice", Text: text}
		if err := db.CreateMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, m)
	}
	conn := &chatapp.Connection{ID: "c1=", RoomID: "lobby", UserID: "u1", Timestamp: 5, Presence: true}
	if err := db.CreateConnection(ctx, conn, 0); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// Opening the same directory again must not re-run the migration (which
	// would fail on existing tables) and must see every committed row.
	for range 2 {
		db, err = sqlite.Open(ctx, dir)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		page, err := db.FindMessages(ctx, chatapp.MessageFilter{RoomID: "lobby"})
		if err != nil {
			t.Fatal(err)
		}
		assertMessages(t, page.Messages, sent)
		got, err := db.FindConnection(ctx, "c1=")
		if err != nil {
			t.Fatal(err)
		}
		if *got != *conn {
			t.Errorf("connection after reopen = %+v, want %+v", *got, *conn)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
