package handler_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/hub"
	"github.com/chatapp-dev/chatapp/protocol"
)

// TestReplayListsTheSameUsers: the users of a PUT's answer come from one
// source, the notifier (the real hub), whether the send is stored or
// replayed: a retry lists whom the first send reached, not the table's
// rows (here a stale row that has no socket in the hub).
func TestReplayListsTheSameUsers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	live := &chatapp.Connection{ID: "LiveConnection0=", RoomID: "r", UserID: "live", Timestamp: 1}
	stale := &chatapp.Connection{ID: "StaleConnectio0=", RoomID: "r", UserID: "stale", Timestamp: 2}
	for _, c := range []*chatapp.Connection{live, stale} {
		if err := e.db.CreateConnection(ctx, c, 0); err != nil {
			t.Fatal(err)
		}
	}
	// live's socket is held by the hub and has joined its room; stale's is
	// not (a row left by a crash, until the sweep).
	sockets := hub.New(nil)
	client := sockets.Open(live.ID, hub.Peer{SourceIP: "127.0.0.1"})
	t.Cleanup(func() { client.Forget() })
	sockets.Joined(live)
	e.h.Notifier, e.h.Rooms = sockets, sockets
	body := `{"room_id":"r","user_id":"u","text":"hi","idempotency_key":"k-1"}`
	var users [2][]string
	for i := range users {
		resp, err := e.h.PutMessage(ctx, restRequest("PUT", "/chat", "", body))
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("PUT %d: %d %s %v", i, resp.StatusCode, resp.Body, err)
		}
		if replayed := resp.Headers[protocol.ReplayedHeader] == "true"; replayed != (i == 1) {
			t.Fatalf("PUT %d replayed: %v", i, replayed)
		}
		var out struct{ Users []chatapp.Connection }
		if err := json.Unmarshal([]byte(resp.Body), &out); err != nil {
			t.Fatal(err)
		}
		for _, c := range out.Users {
			users[i] = append(users[i], c.UserID)
		}
	}
	if len(users[0]) != 1 || users[0][0] != "live" || len(users[1]) != 1 || users[1][0] != "live" {
		t.Fatalf("users of the send %v, of its replay %v; want [live] both", users[0], users[1])
	}
}
