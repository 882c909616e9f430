package postgres

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/internal/pglocal"
)

// benchRooms is the number of rooms sending at once: the handler allows one
// CreateMessage in flight per room and process, so concurrency comes from
// rooms (sqlite/bench_test.go measures the same).
const benchRooms = 100

// BenchmarkCreateMessage is acknowledged sends over 100 rooms: 100
// goroutines, each sending to its own room one message at a time. Every
// return is a committed row, flushed to the WAL with fsync.
func BenchmarkCreateMessage(b *testing.B) {
	benchmarkSends(b, openDB(b, pglocal.Schema(b)))
}

// BenchmarkCreateMessageTwoProcesses is the same sends through two stores
// on one database, as two chatapp serve processes: the 100 rooms are
// shared, so each process's batches wait for the other's room locks.
func BenchmarkCreateMessageTwoProcesses(b *testing.B) {
	url := pglocal.Schema(b)
	benchmarkSends(b, openDB(b, url), openDB(b, url))
}

func benchmarkSends(b *testing.B, stores ...*DB) {
	var sender atomic.Int64
	b.SetParallelism(len(stores) * (benchRooms + 1) / 2) // × GOMAXPROCS goroutines; 100 per store on 2 cores
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := sender.Add(1)
		db, r := stores[int(i)%len(stores)], fmt.Sprintf("room-%d", i%benchRooms)
		for pb.Next() {
			m := &chatapp.Message{RoomID: r, UserID: "u1", Name: "Ada", Text: "hello, this is a chat message of ordinary length"}
			if err := db.CreateMessage(context.Background(), m); err != nil {
				b.Error(err)
				return
			}
		}
	})
	var commits int64
	for _, db := range stores {
		commits += db.commits.Load()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sends/s")
	b.ReportMetric(float64(b.N)/float64(commits), "sends/commit")
}

// BenchmarkCreateMessageOneRoom is one sender at a time: the latency of one
// acknowledged send.
func BenchmarkCreateMessageOneRoom(b *testing.B) {
	db := openDB(b, pglocal.Schema(b))
	b.ReportAllocs()
	for b.Loop() {
		m := &chatapp.Message{RoomID: "lobby", UserID: "u1", Name: "Ada", Text: "hello, this is a chat message of ordinary length"}
		if err := db.CreateMessage(context.Background(), m); err != nil {
			b.Fatal(err)
		}
	}
}
