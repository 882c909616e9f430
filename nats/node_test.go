package nats

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/hub"
	"github.com/chatapp-dev/chatapp/internal/logtest"
	"github.com/chatapp-dev/chatapp/internal/natslocal"
)

// store is a cluster's store for these tests: one room's history, and no
// connection rows.
type store struct{ *history }

func (store) FindConnectionsByRoom(context.Context, string) ([]*chatapp.Connection, error) {
	return []*chatapp.Connection{}, nil
}

// testNode is a node on a broker, with its hub.
type testNode struct {
	*Node
	hub *hub.Hub
}

func openNode(t *testing.T, url string, h *history) *testNode {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(&logtest.Buffer{}, nil))
	sockets := hub.New(logger)
	n, err := Open(t.Context(), Config{URL: url, Hub: sockets, Store: store{h}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sockets.Shutdown()
		if err := n.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &testNode{n, sockets}
}

// join opens a connection of the node's, as its gateway would, whose
// $connect has returned in room, and returns its id. Its writer has no
// socket: what is posted to it waits in its queue (hub.Pending).
func (n *testNode) join(t *testing.T, room string, presence bool) string {
	t.Helper()
	id := n.Tag() + newTag() + newTag() + "abc="
	c := n.hub.Open(id, hub.Peer{})
	t.Cleanup(func() { c.Close(hub.DisconnectLost); c.Forget() })
	n.Joined(&chatapp.Connection{ID: id, RoomID: room, UserID: "u", Presence: presence})
	c.Accept()
	return id
}

// waitPending waits until the connection's queue holds frames.
func (n *testNode) waitPending(t *testing.T, id string, frames int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, _ := n.hub.Pending(id)
		if got == frames {
			return
		}
		if got > frames || time.Now().After(deadline) {
			t.Fatalf("connection %s holds %d frames, want %d", id, got, frames)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPostReachesAnotherNodesConnection: a post and a disconnect reach a
// connection of another node through it; a connection that node does not
// hold, or of a node that is gone, is gone (410), and disconnecting it is
// no error.
func TestPostReachesAnotherNodesConnection(t *testing.T) {
	url := natslocal.Start(t).URL
	a, b := openNode(t, url, &history{}), openNode(t, url, &history{})
	if a.Tag() == b.Tag() {
		t.Fatalf("two nodes have the tag %s", a.Tag())
	}
	id := b.join(t, "room", false)
	if err := a.Post(t.Context(), id, []byte("hello")); err != nil {
		t.Fatalf("post through the other node: %v", err)
	}
	b.waitPending(t, id, 1)
	for _, gone := range []string{b.Tag() + "nobodyhere1=", "zzzz" + id[TagLen:]} {
		if err := a.Post(t.Context(), gone, []byte("hello")); chatapp.ErrorCode(err) != chatapp.EGONE {
			t.Errorf("post to %s: %v, want %s", gone, err, chatapp.EGONE)
		}
		if err := a.Disconnect(t.Context(), gone, "bye"); err != nil {
			t.Errorf("disconnect %s: %v, want none", gone, err)
		}
	}
	if err := a.Disconnect(t.Context(), id, "bye"); err != nil {
		t.Fatalf("disconnect through the other node: %v", err)
	}
	if _, err := b.hub.GetConnection(id); chatapp.ErrorCode(err) != chatapp.EGONE {
		t.Errorf("the disconnected connection is still open: %v", err)
	}
}

// TestPushesReachTheRoomOnEveryNode: a node's broadcast reaches the room's
// members on every node subscribed to it, its own included: presence to
// those that asked for it, a message to all; a room with no members on a
// node is not delivered there.
func TestPushesReachTheRoomOnEveryNode(t *testing.T) {
	url := natslocal.Start(t).URL
	h := &history{}
	a, b := openNode(t, url, h), openNode(t, url, h)
	onA, onB := a.join(t, "room", true), b.join(t, "room", true)
	quiet := b.join(t, "room", false)
	elsewhere := b.join(t, "other", true)
	if _, err := a.Broadcast(t.Context(), "room", chatapp.Push{Kind: chatapp.PushPresence, Data: []byte("join")}); err != nil {
		t.Fatal(err)
	}
	a.waitPending(t, onA, 1)
	b.waitPending(t, onB, 1)
	m := h.commit(1)[0]
	if _, err := b.Broadcast(t.Context(), "room", chatapp.Push{Kind: chatapp.PushMessage, Data: []byte(m.ID), MessageID: m.ID, PrevID: m.PrevID}); err != nil {
		t.Fatal(err)
	}
	a.waitPending(t, onA, 2)
	b.waitPending(t, onB, 2)
	b.waitPending(t, quiet, 1)
	b.waitPending(t, elsewhere, 0)
}

// TestNoRespondersIsGoneOnlyForADeadNode: a tag nobody answers to on the
// broker is gone (410) only when the store says its node is dead; a live
// node off the broker gives an error worth retrying, never EGONE, and a
// kick that was not delivered is no success.
func TestNoRespondersIsGoneOnlyForADeadNode(t *testing.T) {
	a := openNode(t, natslocal.Start(t).URL, &history{})
	id := "zzzz" + newTag() + newTag() + "abc=" // a node's that does not answer
	for _, c := range []struct {
		alive    bool
		err      error
		wantGone bool
	}{{alive: false, wantGone: true}, {alive: true}, {err: errors.New("database down")}} {
		a.alive = func(_ context.Context, tag string) (bool, error) {
			if tag != "zzzz" {
				t.Errorf("asked whether %q is alive, want zzzz", tag)
			}
			return c.alive, c.err
		}
		err := a.Post(t.Context(), id, []byte("hello"))
		if gone := chatapp.ErrorCode(err) == chatapp.EGONE; gone != c.wantGone || err == nil {
			t.Errorf("alive %v (%v): post: %v, want gone %v", c.alive, c.err, err, c.wantGone)
		}
		if err := a.Disconnect(t.Context(), id, "bye"); (err == nil) != c.wantGone {
			t.Errorf("alive %v (%v): disconnect: %v, want an error unless its node is gone", c.alive, c.err, err)
		}
	}
}
