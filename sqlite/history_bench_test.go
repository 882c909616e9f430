package sqlite_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/sqlite"
)

// bigRoom is the size of the room the history measurements read.
const bigRoom = 1_000_000

// fillRoom stores n messages in room through BulkInsert, 50,000 a
// transaction, and returns the id of the last.
func fillRoom(tb testing.TB, db *sqlite.DB, room string, n int) string {
	tb.Helper()
	start := time.Now()
	const chunk = 50_000
	batch := make([]*chatapp.Message, 0, chunk)
	var last string
	for i := 0; i < n; i += chunk {
		batch = batch[:0]
		for j := i; j < min(i+chunk, n); j++ {
			batch = append(batch, &chatapp.Message{RoomID: room, UserID: "u1", Name: "Ada", Text: "hello, this is a chat message of ordinary length"})
		}
		if err := db.BulkInsert(context.Background(), batch); err != nil {
			tb.Fatal(err)
		}
		last = batch[len(batch)-1].ID
	}
	tb.Logf("filled %s with %d messages in %v", room, n, time.Since(start).Round(time.Millisecond))
	return last
}

// BenchmarkFindMessagesLatest50 reads the latest 50 of a room of a million.
func BenchmarkFindMessagesLatest50(b *testing.B) {
	db := openBenchDB(b)
	// A second room around it, so the room is not the whole table.
	fillRoom(b, db, "other", 10_000)
	last := fillRoom(b, db, "big", bigRoom)
	b.ReportAllocs()
	for b.Loop() {
		page, err := db.FindMessages(context.Background(), chatapp.MessageFilter{RoomID: "big", Limit: 50})
		if err != nil || len(page.Messages) != 50 || page.Messages[49].ID != last {
			b.Fatalf("page of %d, %v", len(page.Messages), err)
		}
	}
}

// TestHistoryLatency measures FindMessages of the latest 50 in a room of a
// million, 10,000 times, and checks p99 ≤ 1 ms. It takes a while, so it runs
// only with CHATAPP_BENCH_HISTORY=1.
func TestHistoryLatency(t *testing.T) {
	if os.Getenv("CHATAPP_BENCH_HISTORY") != "1" {
		t.Skip("set CHATAPP_BENCH_HISTORY=1 to measure history latency")
	}
	db, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fillRoom(t, db, "other", 10_000)
	last := fillRoom(t, db, "big", bigRoom)
	h := hdrhistogram.New(1, int64(time.Second), 3) // nanoseconds
	const iterations = 10_000
	for i := range iterations + 100 {
		start := time.Now()
		page, err := db.FindMessages(context.Background(), chatapp.MessageFilter{RoomID: "big", Limit: 50})
		took := time.Since(start)
		if err != nil || len(page.Messages) != 50 || page.Messages[49].ID != last {
			t.Fatalf("page of %d, %v", len(page.Messages), err)
		}
		if i >= 100 { // the first reads warm the page cache and the pool
			h.RecordValue(took.Nanoseconds())
		}
	}
	p50, p99 := time.Duration(h.ValueAtQuantile(50)), time.Duration(h.ValueAtQuantile(99))
	t.Logf("FindMessages latest 50 of %d: n=%d p50=%v p99=%v p99.9=%v max=%v", bigRoom, h.TotalCount(),
		p50, p99, time.Duration(h.ValueAtQuantile(99.9)), time.Duration(h.Max()))
	if p99 > time.Millisecond {
		t.Errorf("p99 %v, want ≤ 1ms", p99)
	}
}
