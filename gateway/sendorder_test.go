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
	"github.com/chatapp-dev/chatapp/awslambda"
	"github.com/chatapp-dev/chatapp/awslambda/invoke"
	"github.com/chatapp-dev/chatapp/gateway"
	"github.com/chatapp-dev/chatapp/handler"
	"github.com/chatapp-dev/chatapp/hub"
	"github.com/chatapp-dev/chatapp/protocol"
	"github.com/chatapp-dev/chatapp/sqlite"
)

// TestAConnectionsSendsKeepTheirOrder: a client's sendmessage frames,
// written back to back, run together (each is read once the one before
// has its place: gateway/flights.go), and are stored and pushed in the
// order it wrote them, through the real functions and store.
func TestAConnectionsSendsKeepTheirOrder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db := openStore(t)
	url := serveChat(t, &handler.Handler{Messages: db, Connections: db})
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

// openStore opens a SQLite store in the test's directory, closed when the
// test ends.
func openStore(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// serveChat serves h's functions through a gateway and a hub, as `chatapp
// serve` does, until the test ends (the hub is h's notifier and room
// index), and returns the WebSocket URL of room r, to which a user id is
// added.
func serveChat(t *testing.T, h *handler.Handler) string {
	t.Helper()
	return serveChatWith(t, h, nil)
}

// serveChatWith is serveChat with the gateway's mock routes.
func serveChatWith(t *testing.T, h *handler.Handler, mocks map[string]string) string {
	t.Helper()
	sockets := hub.New(slog.New(slog.DiscardHandler))
	h.Notifier, h.Rooms, h.Logger = sockets, sockets, slog.New(slog.DiscardHandler)
	cfg := gateway.Config{Hub: sockets, Logger: h.Logger, MockRoutes: mocks}
	cfg.REST, cfg.WebSocket = invoke.InProcess(h)
	gw := gateway.New(cfg)
	srv := httptest.NewServer(gw)
	t.Cleanup(func() { srv.Close(); gw.Close() })
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws?room_id=r&user_id="
}

// TestTheGatewaysAnswersKeepTheFramesOrder: a keepalive (a mock route the
// gateway answers itself) between two sends whose commits are held is
// answered after the first send's push and before the second's, as the
// frames came.
func TestTheGatewaysAnswersKeepTheFramesOrder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db := openStore(t)
	store := &slowCommits{DB: db, release: make(chan struct{})}
	url := serveChatWith(t, &handler.Handler{Messages: store, Connections: db}, awslambda.WebSocketMockRoutes)
	t.Cleanup(func() { store.once.Do(func() { close(store.release) }) })
	sender, _, err := websocket.Dial(ctx, url+"sender", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sender.CloseNow()
	writeFrames(ctx, t, sender,
		`{"action":"sendmessage","text":"first"}`,
		`{"action":"`+protocol.ActionPing+`"}`,
		`{"action":"sendmessage","text":"second"}`)
	got := readFrames(ctx, t, sender, 3, nil)
	if !strings.Contains(got[0], `"first"`) || got[1] != protocol.PongFrame || !strings.Contains(got[2], `"second"`) {
		t.Errorf("the sender got %q, want the first push, the pong, the second push", got)
	}
}

// writeFrames writes text frames on conn.
func writeFrames(ctx context.Context, t *testing.T, conn *websocket.Conn, frames ...string) {
	t.Helper()
	for _, frame := range frames {
		if err := conn.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
			t.Fatal(err)
		}
	}
}

// readFrames reads n frames from conn, calling each (if set) after each.
func readFrames(ctx context.Context, t *testing.T, conn *websocket.Conn, n int, each func()) []string {
	t.Helper()
	var got []string
	for len(got) < n {
		_, b, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		got = append(got, string(b))
		if each != nil {
			each()
		}
	}
	return got
}
