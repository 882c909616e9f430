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
	if err := db.CreateConnection(ctx, conn); err != nil {
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

func TestConnections(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t)

	// Stored out of order: the room's list is by timestamp, oldest first.
	conns := []*chatapp.Connection{
		{ID: "c3=", RoomID: "lobby", UserID: "u3", Name: "Carol", Timestamp: 300},
		{ID: "c1=", RoomID: "lobby", UserID: "u1", Name: "Alice", Timestamp: 100, Presence: true},
		{ID: "other=", RoomID: "other", UserID: "u9", Timestamp: 50},
		{ID: "c2=", RoomID: "lobby", UserID: "u2", Timestamp: 200},
	}
	for _, c := range conns {
		if err := db.CreateConnection(ctx, c); err != nil {
			t.Fatalf("CreateConnection(%s): %v", c.ID, err)
		}
	}

	t.Run("find", func(t *testing.T) {
		for _, want := range conns {
			got, err := db.FindConnection(ctx, want.ID)
			if err != nil {
				t.Fatalf("FindConnection(%s): %v", want.ID, err)
			}
			if *got != *want {
				t.Errorf("FindConnection(%s) = %+v, want %+v", want.ID, *got, *want)
			}
		}
	})

	t.Run("find missing", func(t *testing.T) {
		got, err := db.FindConnection(ctx, "nope=")
		if code := chatapp.ErrorCode(err); code != chatapp.ENOTFOUND {
			t.Fatalf("FindConnection(missing) = %v, %v; want code %q", got, err, chatapp.ENOTFOUND)
		}
		if got != nil {
			t.Errorf("FindConnection(missing) returned %+v", got)
		}
	})

	t.Run("by room", func(t *testing.T) {
		got, err := db.FindConnectionsByRoom(ctx, "lobby")
		if err != nil {
			t.Fatal(err)
		}
		assertConnectionIDs(t, got, "c1=", "c2=", "c3=")
		if !got[0].Presence || got[1].Presence || got[2].Presence {
			t.Errorf("presence flags = %v %v %v, want true false false", got[0].Presence, got[1].Presence, got[2].Presence)
		}
		if got[0].Name != "Alice" || got[1].Name != "" {
			t.Errorf("names = %q %q, want Alice and empty", got[0].Name, got[1].Name)
		}
	})

	t.Run("empty room is an empty slice", func(t *testing.T) {
		got, err := db.FindConnectionsByRoom(ctx, "empty")
		if err != nil {
			t.Fatal(err)
		}
		if got == nil || len(got) != 0 {
			t.Errorf("FindConnectionsByRoom(empty) = %#v, want an empty non-nil slice", got)
		}
	})

	t.Run("create replaces same id", func(t *testing.T) {
		moved := &chatapp.Connection{ID: "c2=", RoomID: "other", UserID: "u2", Timestamp: 400, Presence: true}
		if err := db.CreateConnection(ctx, moved); err != nil {
			t.Fatal(err)
		}
		got, err := db.FindConnection(ctx, "c2=")
		if err != nil {
			t.Fatal(err)
		}
		if *got != *moved {
			t.Errorf("after replace = %+v, want %+v", *got, *moved)
		}
		lobby, _ := db.FindConnectionsByRoom(ctx, "lobby")
		assertConnectionIDs(t, lobby, "c1=", "c3=")
		other, _ := db.FindConnectionsByRoom(ctx, "other")
		assertConnectionIDs(t, other, "other=", "c2=")
	})

	t.Run("delete", func(t *testing.T) {
		if err := db.DeleteConnection(ctx, "c1="); err != nil {
			t.Fatal(err)
		}
		if _, err := db.FindConnection(ctx, "c1="); chatapp.ErrorCode(err) != chatapp.ENOTFOUND {
			t.Errorf("FindConnection after delete: %v, want not_found", err)
		}
		lobby, _ := db.FindConnectionsByRoom(ctx, "lobby")
		assertConnectionIDs(t, lobby, "c3=")
		if err := db.DeleteConnection(ctx, "c1="); err != nil {
			t.Errorf("deleting a missing connection: %v", err)
		}
		if err := db.DeleteConnection(ctx, "never-existed="); err != nil {
			t.Errorf("deleting a never stored connection: %v", err)
		}
	})

	t.Run("delete all", func(t *testing.T) {
		if err := db.DeleteAllConnections(ctx); err != nil {
			t.Fatal(err)
		}
		for _, room := range []string{"lobby", "other"} {
			got, err := db.FindConnectionsByRoom(ctx, room)
			if err != nil {
				t.Fatal(err)
			}
			assertConnectionIDs(t, got)
		}
		if _, err := db.FindConnection(ctx, "c3="); chatapp.ErrorCode(err) != chatapp.ENOTFOUND {
			t.Errorf("FindConnection after DeleteAllConnections: %v", err)
		}
		if err := db.DeleteAllConnections(ctx); err != nil {
			t.Errorf("DeleteAllConnections on an empty table: %v", err)
		}
	})
}

func TestConnectionPresenceRoundTrip(t *testing.T) {
	ctx := context.Background()
	db, _ := openDB(t)
	for _, presence := range []bool{true, false} {
		id := "p-false="
		if presence {
			id = "p-true="
		}
		if err := db.CreateConnection(ctx, &chatapp.Connection{ID: id, RoomID: "r", UserID: "u", Timestamp: 1, Presence: presence}); err != nil {
			t.Fatal(err)
		}
		got, err := db.FindConnection(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Presence != presence {
			t.Errorf("Presence = %v after storing %v", got.Presence, presence)
		}
		byRoom, err := db.FindConnectionsByRoom(ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range byRoom {
			if c.ID == id && c.Presence != presence {
				t.Errorf("by room: Presence = %v after storing %v", c.Presence, presence)
			}
		}
	}
}

func assertConnectionIDs(t *testing.T, got []*chatapp.Connection, want ...string) {
	t.Helper()
	ids := make([]string, len(got))
	for i, c := range got {
		ids[i] = c.ID
	}
	if len(ids) != len(want) {
		t.Fatalf("connections = %v, want %v", ids, want)
	}
	for i := range ids {
		if ids[i] != want[i] {
			t.Fatalf("connections = %v, want %v", ids, want)
		}
	}
}
