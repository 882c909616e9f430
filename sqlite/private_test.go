//go:build unix

package sqlite_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/sqlite"
)

// TestDataIsPrivate: the data directory Open creates is 0700 and the
// database files (chatapp.db, -wal, -shm) are 0600, even under a umask
// that lets everyone read; files an earlier version left readable are made
// 0600 at the next Open. The test is not parallel: the umask is the
// process's.
func TestDataIsPrivate(t *testing.T) {
	defer syscall.Umask(syscall.Umask(0))
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "nested", "data")
	db, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	// A write, so that the -wal and -shm files exist.
	if err := db.CreateMessage(ctx, &chatapp.Message{RoomID: "r", UserID: "u", Text: "secret"}); err != nil {
		t.Fatal(err)
	}
	files := []string{sqlite.FileName, sqlite.FileName + "-wal", sqlite.FileName + "-shm"}
	assertMode(t, dir, 0o700|fs.ModeDir)
	for _, name := range files {
		assertMode(t, filepath.Join(dir, name), 0o600)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// As an earlier version left them (Close removed the -wal and -shm).
	for _, name := range files {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		if err := os.Chmod(filepath.Join(dir, name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db, err = sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, name := range files {
		assertMode(t, filepath.Join(dir, name), 0o600)
	}
	if page, err := db.FindMessages(ctx, chatapp.MessageFilter{RoomID: "r"}); err != nil || len(page.Messages) != 1 {
		t.Fatalf("the message after the reopen: %v, %v", page.Messages, err)
	}
}

func assertMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode(); got != want {
		t.Errorf("%s: mode %v, want %v", filepath.Base(path), got, want)
	}
}
