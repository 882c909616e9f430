package handler_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp"
)

// panicOnce is a store whose first QueueMessage panics.
type panicOnce struct {
	chatapp.MessageStore
	n atomic.Int64
}

func (s *panicOnce) QueueMessage(ctx context.Context, m *chatapp.Message) (func() error, error) {
	if s.n.Add(1) == 1 {
		panic("test: QueueMessage panics")
	}
	return s.MessageStore.QueueMessage(ctx, m)
}

// TestPanicInQueueFreesTheRoom: a send whose store panics (the gateway
// answers it as a failed function) gives its room's turn back: the next
// send to the room is stored, not blocked for good. Found by an attack on
// the send path; the room's lock was held forever.
func TestPanicInQueueFreesTheRoom(t *testing.T) {
	e := newEnv(t)
	e.h.Messages = &panicOnce{MessageStore: e.db}
	put := func() (panicked bool, err error) {
		defer func() { panicked = recover() != nil }()
		resp, err := e.h.PutMessage(context.Background(), restRequest("PUT", "/chat", "", `{"room_id":"r","text":"hi","user_id":"u"}`))
		if err == nil && resp.StatusCode != 200 {
			t.Errorf("the send after the panic: %d %s", resp.StatusCode, resp.Body)
		}
		return false, err
	}
	if panicked, _ := put(); !panicked {
		t.Fatal("the first send did not panic")
	}
	done := make(chan error, 1)
	go func() { _, err := put(); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the send after a panicked one still waits: the room's lock was not given back")
	}
}
