package sqlite_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/sqlite"
)

// benchRooms is the number of rooms sending at once: the handler allows one
// CreateMessage in flight per room, so concurrency comes from rooms.
const benchRooms = 100

func openBenchDB(b *testing.B) *sqlite.DB {
	b.Helper()
	db, err := sqlite.Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// BenchmarkCreateMessage is acknowledged sends over 100 rooms: 100
// goroutines, each sending to its own room one message at a time, as the
// handler's room lock lets them. Every return is a committed (fsynced) row.
func BenchmarkCreateMessage(b *testing.B) {
	db := openBenchDB(b)
	var room atomic.Int64
	b.SetParallelism((benchRooms + 1) / 2) // × GOMAXPROCS goroutines; 100 on 2 cores
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := fmt.Sprintf("room-%d", room.Add(1)%benchRooms)
		for pb.Next() {
			m := &chatapp.Message{RoomID: r, UserID: "u1", Name: "Ada", Text: "hello, this is a chat message of ordinary length"}
			if err := db.CreateMessage(context.Background(), m); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sends/s")
}

// BenchmarkCreateMessageOneRoom is one sender at a time: the latency of one
// acknowledged send (a commit and its fsync), which batching cannot hide.
func BenchmarkCreateMessageOneRoom(b *testing.B) {
	db := openBenchDB(b)
	b.ReportAllocs()
	for b.Loop() {
		m := &chatapp.Message{RoomID: "lobby", UserID: "u1", Name: "Ada", Text: "hello, this is a chat message of ordinary length"}
		if err := db.CreateMessage(context.Background(), m); err != nil {
			b.Fatal(err)
		}
	}
}
