package handler_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/gateway"
	"github.com/chatapp-dev/chatapp/handler"
	"github.com/chatapp-dev/chatapp/sqlite"
)

// historyServer is GET /chat through the real gateway on a loopback port,
// over a store whose room "big" holds n messages. It returns the URL of the
// latest-50 page and the id its last message must have.
func historyServer(tb testing.TB, n int) (url, last string) {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	start := time.Now()
	const chunk = 50_000
	for i := 0; i < n; i += chunk {
		batch := make([]*chatapp.Message, 0, chunk)
		for range min(chunk, n-i) {
			batch = append(batch, &chatapp.Message{RoomID: "big", UserID: "u1", Name: "Ada", Text: "hello, this is a chat message of ordinary length"})
		}
		if err := db.BulkInsert(context.Background(), batch); err != nil {
			tb.Fatal(err)
		}
		last = batch[len(batch)-1].ID
	}
	tb.Logf("filled a room with %d messages in %v", n, time.Since(start).Round(time.Millisecond))
	h := &handler.Handler{Messages: db, Connections: db}
	gw := gateway.New(gateway.Config{REST: map[string]gateway.RESTFunc{"GET /chat": h.GetMessages}})
	srv := httptest.NewServer(gw) // 127.0.0.1
	tb.Cleanup(func() { srv.Close(); gw.Close() })
	return srv.URL + "/chat?room_id=big&limit=50", last
}

// getLatest50 does one GET and checks the page.
func getLatest50(tb testing.TB, client *http.Client, url, last string) {
	resp, err := client.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		tb.Fatalf("GET: %d %s %v", resp.StatusCode, body, err)
	}
	var page struct{ Messages []chatapp.Message }
	if err := json.Unmarshal(body, &page); err != nil || len(page.Messages) != 50 || page.Messages[49].ID != last {
		tb.Fatalf("page of %d messages, %v", len(page.Messages), err)
	}
}

// BenchmarkGetHistoryREST is GET /chat?limit=50 over loopback HTTP on a
// room of 100,000 (the store's cost does not grow with the room, see
// sqlite.BenchmarkFindMessagesLatest50), response decoded.
func BenchmarkGetHistoryREST(b *testing.B) {
	url, last := historyServer(b, 100_000)
	client := &http.Client{}
	b.ReportAllocs()
	for b.Loop() {
		getLatest50(b, client, url, last)
	}
}

// TestHistoryLatencyREST measures the latest 50 of a room of a million over
// REST, 10,000 times on one keep-alive connection, and checks p99 ≤ 3 ms.
// Only with CHATAPP_BENCH_HISTORY=1.
func TestHistoryLatencyREST(t *testing.T) {
	if os.Getenv("CHATAPP_BENCH_HISTORY") != "1" {
		t.Skip("set CHATAPP_BENCH_HISTORY=1 to measure history latency over REST")
	}
	url, last := historyServer(t, 1_000_000)
	client := &http.Client{}
	h := hdrhistogram.New(1, int64(time.Second), 3) // nanoseconds
	const iterations = 10_000
	for i := range iterations + 100 {
		start := time.Now()
		getLatest50(t, client, url, last)
		if i >= 100 { // warm-up: page cache, pools, the connection
			h.RecordValue(time.Since(start).Nanoseconds())
		}
	}
	p50, p99 := time.Duration(h.ValueAtQuantile(50)), time.Duration(h.ValueAtQuantile(99))
	t.Logf("GET /chat latest 50 of 1000000: n=%d p50=%v p99=%v p99.9=%v max=%v", h.TotalCount(),
		p50, p99, time.Duration(h.ValueAtQuantile(99.9)), time.Duration(h.Max()))
	if p99 > 3*time.Millisecond {
		t.Errorf("p99 %v, want ≤ 3ms", p99)
	}
}
