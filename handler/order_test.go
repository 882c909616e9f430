package handler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/sqlite"
)

// orderNotifier records the message ids of a room's pushes in the order the
// handler hands them over.
type orderNotifier struct {
	mu  sync.Mutex
	ids map[string][]string
}

func (n *orderNotifier) Broadcast(_ context.Context, roomID string, push chatapp.Push) (chatapp.Delivery, error) {
	var m chatapp.Message
	if err := json.Unmarshal(push.Data, &m); err != nil {
		return chatapp.Delivery{}, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.ids[roomID] = append(n.ids[roomID], m.ID)
	return chatapp.Delivery{}, nil
}

// batchOrderNotifier is orderNotifier taking batches, as the hub does: a
// batch's pushes are recorded in its order.
type batchOrderNotifier struct{ *orderNotifier }

func (n batchOrderNotifier) BroadcastBatch(ctx context.Context, roomID string, pushes []chatapp.Push) ([]chatapp.Delivery, error) {
	ds := make([]chatapp.Delivery, len(pushes))
	for i, p := range pushes {
		var err error
		if ds[i], err = n.Broadcast(ctx, roomID, p); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

func (n *orderNotifier) Members(context.Context, string) ([]*chatapp.Connection, error) {
	return nil, nil
}

func (n *orderNotifier) Disconnect(context.Context, string, string) error { return nil }

func (n *orderNotifier) Post(context.Context, string, []byte) error { return nil }

// lateReturn widens the window between a commit and the push that follows it,
// as a busy machine does: CreateMessage returns a random while after it
// commits. It has no group commit: QueueMessage commits before it returns,
// as DynamoDB's does.
type lateReturn struct{ chatapp.MessageStore }

func (s lateReturn) CreateMessage(ctx context.Context, m *chatapp.Message) error {
	err := s.MessageStore.CreateMessage(ctx, m)
	time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
	return err
}

func (s lateReturn) QueueMessage(ctx context.Context, m *chatapp.Message) (func() error, error) {
	return chatapp.Committed(s.CreateMessage(ctx, m)), nil
}

// TestConcurrentSendsPushInStoredOrder: however concurrent sends to a room
// interleave, they are pushed in the order of their ids, which is the
// history's order.
func TestConcurrentSendsPushInStoredOrder(t *testing.T) {
	e := newEnv(t)
	e.h.Messages = lateReturn{e.db} // hides group commit: the room lock's path
	checkPushOrder(t, e, false)
}

// TestGroupCommittedSendsPushInStoredOrder: on a store with group commit,
// many sends of a room share a commit and are woken together; they are
// still pushed in id order.
func TestGroupCommittedSendsPushInStoredOrder(t *testing.T) {
	for _, batches := range []bool{false, true} {
		t.Run(fmt.Sprintf("batches=%v", batches), func(t *testing.T) {
			e := newEnv(t)
			if _, ok := e.h.Messages.(*sqlite.DB); !ok {
				t.Fatalf("the store is a %T, not SQLite's, whose group commit this tests", e.h.Messages)
			}
			checkPushOrder(t, e, batches)
		})
	}
}

// checkPushOrder sends from several goroutines to two rooms, and checks
// that each room's pushes are its stored ids in order; batches has the
// notifier take the rounds of sends that committed together as batches.
func checkPushOrder(t *testing.T, e *env, batches bool) {
	t.Helper()
	n := &orderNotifier{ids: map[string][]string{}}
	e.h.Notifier = n
	if batches {
		e.h.Notifier = batchOrderNotifier{n}
	}
	rooms := []string{"a", "b"}
	const senders, each = 8, 25
	var wg sync.WaitGroup
	for w := range senders {
		wg.Go(func() {
			for i := range each {
				room := rooms[(w+i)%len(rooms)]
				body := fmt.Sprintf(`{"room_id":%q,"text":"m%d-%d","user_id":"u%d"}`, room, w, i, w)
				resp, err := e.h.PutMessage(context.Background(), restRequest("PUT", "/chat", "", body))
				if err != nil || resp.StatusCode != 200 {
					t.Errorf("PUT: %v %d %s", err, resp.StatusCode, resp.Body)
					return
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for _, room := range rooms {
		pushed := n.ids[room]
		total += len(pushed)
		if !slices.IsSorted(pushed) {
			t.Errorf("room %s: pushes out of id order: %v", room, pushed)
		}
		page, err := e.db.FindMessages(context.Background(), chatapp.MessageFilter{RoomID: room, Limit: chatapp.MaxHistoryLimit})
		if err != nil {
			t.Fatal(err)
		}
		var stored []string
		for _, m := range page.Messages {
			stored = append(stored, m.ID)
		}
		if !slices.Equal(stored, pushed) {
			t.Errorf("room %s: pushed %d ids, stored %d, not the same sequence", room, len(pushed), len(stored))
		}
	}
	if total != senders*each {
		t.Errorf("%d pushes, want %d", total, senders*each)
	}
}
