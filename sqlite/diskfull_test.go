package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/chatapp-dev/chatapp"
)

// smallFilesystem mounts a tmpfs of size bytes on a fresh directory and
// unmounts it when the test ends. It returns "" where mounting is not
// permitted (not root, no tmpfs).
func smallFilesystem(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if os.Geteuid() != 0 {
		return ""
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0700", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Logf("mount tmpfs: %v %s", err, out)
		return ""
	}
	t.Cleanup(func() { // before TempDir's removal, which was registered first
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// fillFilesystem writes a file into dir until the filesystem is full, then
// frees leave bytes of it. It returns the file.
func fillFilesystem(t *testing.T, dir string, leave int64) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	block := make([]byte, 64<<10)
	var size int64
	for {
		n, err := f.Write(block)
		size += int64(n)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(max(size-leave, 0)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil && !errors.Is(err, syscall.ENOSPC) {
		t.Fatal(err)
	}
	return path
}

// write is one write of the test and what its caller was told.
type write struct {
	msg  *chatapp.Message    // a message, found again by its text
	conn *chatapp.Connection // or a connection, by its id
	err  error
}

// TestDiskFullTellsEachWriterTheTruth: on a full filesystem, every writer
// told success finds its row after a reopen, and every writer told failure
// does not: a batch that SQLite rolled back fails whole, and nothing of it
// is committed behind its writers' backs. The database is on a small tmpfs,
// filled up; where mounting is not permitted, SQLite's max_page_count
// provokes the same SQLITE_FULL.
func TestDiskFullTellsEachWriterTheTruth(t *testing.T) {
	ctx := context.Background()
	dir := smallFilesystem(t, 4<<20)
	mounted := dir != ""
	if !mounted {
		dir = t.TempDir()
		t.Log("no tmpfs: SQLITE_FULL from max_page_count")
	}
	db, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	// A page cache smaller than a batch makes SQLite write pages to the
	// WAL in the middle of the transaction, as a large batch does: a
	// failure there may roll the whole transaction back.
	if _, err := db.writer.Exec(`PRAGMA cache_size = 16`); err != nil {
		t.Fatal(err)
	}
	var writes []*write
	message := func(text string) *write {
		w := &write{msg: &chatapp.Message{RoomID: "r", UserID: "u", Name: "U", Text: fmt.Sprintf("%04d %s", len(writes), text)}}
		writes = append(writes, w)
		return w
	}
	connection := func(name string) *write {
		w := &write{conn: &chatapp.Connection{ID: fmt.Sprintf("c%04d=", len(writes)), RoomID: "r", UserID: "u", Name: name}}
		writes = append(writes, w)
		return w
	}
	first := message("before the disk filled up")
	first.err = db.CreateMessage(ctx, first.msg)

	var filler string
	if mounted {
		filler = fillFilesystem(t, dir, 256<<10)
	} else {
		var pages int
		if err := db.writer.QueryRow(`PRAGMA page_count`).Scan(&pages); err != nil {
			t.Fatal(err)
		}
		if _, err := db.writer.Exec(fmt.Sprintf(`PRAGMA max_page_count = %d`, pages+64)); err != nil {
			t.Fatal(err)
		}
	}

	// One batch: messages, a connection row too large for the space left,
	// more messages.
	var batch []*createRequest
	var batchWrites []*write
	for i := range 40 {
		var w *write
		var r *createRequest
		if i == 15 {
			w = connection(strings.Repeat("n", 1<<20))
			r = connectionRequest(w.conn)
		} else {
			w = message(strings.Repeat("x", 2000))
			r = request(w.msg)
		}
		batch, batchWrites = append(batch, r), append(batchWrites, w)
	}
	db.writeMu.Lock()
	errs := db.commitBatch(batch)
	db.writeMu.Unlock()
	failed := 0
	for i, err := range errs {
		batchWrites[i].err = err
		if err != nil {
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("no write of the batch failed: the disk did not fill up")
	}
	t.Logf("the batch: %d of %d writes failed: %v", failed, len(errs), errs[15])

	// Writers at once, through the store's own queue.
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 60 {
		mu.Lock()
		var w *write
		if i%3 == 0 {
			w = connection(strings.Repeat("n", 20000))
		} else {
			w = message(strings.Repeat("y", 4000))
		}
		mu.Unlock()
		wg.Go(func() {
			var err error
			if w.conn != nil {
				err = db.CreateConnection(ctx, w.conn, 0)
			} else {
				err = db.CreateMessage(ctx, w.msg)
			}
			mu.Lock()
			w.err = err
			mu.Unlock()
		})
	}
	wg.Wait()

	if err := db.Close(); err != nil {
		t.Logf("Close on a full disk: %v", err)
	}
	if filler != "" {
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
	}
	db, err = Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	texts := map[string]bool{}
	rows, err := db.reader.Query(`SELECT message FROM messages WHERE room_id = 'r'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var text string
		if err := rows.Scan(&text); err != nil {
			t.Fatal(err)
		}
		texts[text] = true
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	told := map[bool]int{}
	for i, w := range writes {
		var stored bool
		what := "message"
		if w.msg != nil {
			stored = texts[w.msg.Text]
		} else {
			what = "connection"
			_, err := db.FindConnection(ctx, w.conn.ID)
			if err != nil && chatapp.ErrorCode(err) != chatapp.ENOTFOUND {
				t.Fatal(err)
			}
			stored = err == nil
		}
		told[w.err == nil]++
		switch {
		case w.err == nil && !stored:
			t.Errorf("write %d (%s) was acknowledged and is not stored", i, what)
		case w.err != nil && stored:
			t.Errorf("write %d (%s) was told %q and is stored", i, what, firstLine(w.err))
		}
	}
	t.Logf("%d writes told success, %d failure", told[true], told[false])
	if told[true] == 0 {
		t.Error("no write succeeded")
	}
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
