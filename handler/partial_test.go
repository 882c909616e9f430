package handler_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"

	"github.com/chatapp-dev/chatapp"
)

// partialNotifier is a cluster node's notifier as the handler sees it: its
// deliveries list only part of the room (Partial); Members lists it all,
// and counts how often it was asked.
type partialNotifier struct {
	pushNotifier
	room    []*chatapp.Connection
	members atomic.Int32
}

func (n *partialNotifier) Broadcast(ctx context.Context, room string, push chatapp.Push) (chatapp.Delivery, error) {
	n.pushNotifier.Broadcast(ctx, room, push)
	return chatapp.Delivery{Partial: true}, nil
}

func (n *partialNotifier) Members(context.Context, string) ([]*chatapp.Connection, error) {
	n.members.Add(1)
	return n.room, nil
}

// TestPartialDeliveryListedOnlyForTheAnswer: a send on the socket, whose
// answer lists nobody, never asks the notifier for the whole room (on a
// cluster node, a read of the store on every send); a PUT, whose answer
// lists the room, asks once, and its users and delivered are the room's.
func TestPartialDeliveryListedOnlyForTheAnswer(t *testing.T) {
	e := newEnv(t)
	n := &partialNotifier{room: []*chatapp.Connection{
		{ID: "elsewhere-1=", RoomID: "part", UserID: "bob"},
		{ID: "elsewhere-2=", RoomID: "part", UserID: "carol"},
	}}
	e.h.Notifier = n
	if resp := e.connect(t, "partial-conn=", "room_id=part&user_id=ada"); resp.StatusCode != 200 {
		t.Fatalf("$connect: %d %s", resp.StatusCode, resp.Body)
	}
	if resp := e.ws(t, e.h.SendMessage, "sendmessage", "partial-conn=", "", `{"action":"sendmessage","text":"by socket"}`); resp.StatusCode != 200 {
		t.Fatalf("sendmessage: %d %s", resp.StatusCode, resp.Body)
	}
	if got := n.members.Load(); got != 0 {
		t.Errorf("a socket send asked for the room's members %d times, want none", got)
	}
	resp := e.put(t, `{"room_id":"part","user_id":"ada","text":"by PUT"}`, false)
	var out struct {
		Users     []json.RawMessage `json:"users"`
		Delivered int               `json:"delivered"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("PUT: %d %s %v", resp.StatusCode, resp.Body, err)
	}
	if got := n.members.Load(); got != 1 || len(out.Users) != 2 || out.Delivered != 2 {
		t.Errorf("PUT asked for the members %d times and answered %d users, delivered %d; want 1, 2 and 2", got, len(out.Users), out.Delivered)
	}
	if got := e.storedMessages(t, "part"); len(got) != 2 {
		t.Errorf("%d messages stored, want 2", len(got))
	}
}
