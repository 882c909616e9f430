package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/awslambda/invoke"
	"github.com/chatapp-dev/chatapp/gateway"
	"github.com/chatapp-dev/chatapp/handler"
	"github.com/chatapp-dev/chatapp/hub"
	"github.com/chatapp-dev/chatapp/sqlite"
)

// TestAConnectionsSendsKeepTheirOrder: a client's sendmessage frames,
// written back to back, run together (each is read once the one before
// has its place: gateway/flights.go), and are stored and pushed in the
// order it wrote them, through the real functions and store.
func TestAConnectionsSendsKeepTheirOrder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sockets := hub.New(slog.New(slog.DiscardHandler))
	h := &handler.Handler{Messages: db, Connections: db, Notifier: sockets, Rooms: sockets, Logger: slog.New(slog.DiscardHandler)}
	cfg := gateway.Config{Hub: sockets, Logger: h.Logger}
	cfg.REST, cfg.WebSocket = invoke.InProcess(h)
	gw := gateway.New(cfg)
	srv := httptest.NewServer(gw)
	t.Cleanup(func() { srv.Close(); gw.Close(); db.Close() })
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws?room_id=r&user_id="
	sender, _, err := websocket.Dial(ctx, url+"sender", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sender.CloseNow()
	member, _, err := websocket.Dial(ctx, url+"member", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer member.CloseNow()
	const n = 200
	for i := range n {
		frame := fmt.Sprintf(`{"action":"sendmessage","text":"m%03d"}`, i)
		if err := sender.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		_, b, err := member.Read(ctx)
		if err != nil {
			t.Fatalf("push %d: %v", i, err)
		}
		var m chatapp.Message
		if err := json.Unmarshal(b, &m); err != nil || m.Text != fmt.Sprintf("m%03d", i) {
			t.Fatalf("push %d: %s (%v), want m%03d", i, b, err, i)
		}
	}
	page, err := db.FindMessages(ctx, chatapp.MessageFilter{RoomID: "r", Limit: chatapp.MaxHistoryLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != min(n, chatapp.MaxHistoryLimit) {
		t.Fatalf("%d stored, want %d", len(page.Messages), min(n, chatapp.MaxHistoryLimit))
	}
	first := n - len(page.Messages)
	for i, m := range page.Messages {
		if m.Text != fmt.Sprintf("m%03d", first+i) {
			t.Fatalf("stored %d: %q, want m%03d", i, m.Text, first+i)
		}
	}
}
