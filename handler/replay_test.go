package handler_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/protocol"
)

// membersNotifier is a room whose connections the notifier knows: the
// live ones, which may not be every row of the table.
type membersNotifier struct{ live []*chatapp.Connection }

func (n membersNotifier) Broadcast(context.Context, string, chatapp.Push) (chatapp.Delivery, error) {
	return chatapp.Delivery{Connections: n.live, Delivered: len(n.live)}, nil
}

func (n membersNotifier) Members(context.Context, string) ([]*chatapp.Connection, error) {
	return n.live, nil
}

func (membersNotifier) Post(context.Context, string, []byte) error       { return nil }
func (membersNotifier) Disconnect(context.Context, string, string) error { return nil }

// TestReplayListsTheSameUsers: the users of a PUT's answer come from one
// source, the notifier, whether the send is stored or replayed: a retry
// lists whom the first send reached, not the table's rows (here a stale
// row the notifier does not hold).
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
	e.h.Notifier = membersNotifier{live: []*chatapp.Connection{live}}
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
