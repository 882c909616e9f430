package nats

import (
	"context"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/internal/natslocal"
)

// lastIDs reads a test history's last id, as the store's rooms table
// holds it.
type lastIDs struct{ *history }

func (h lastIDs) RoomsLastIDs(context.Context, []string) (map[string]string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.messages) == 0 {
		return map[string]string{}, nil
	}
	return map[string]string{"room": h.messages[len(h.messages)-1].ID}, nil
}

// TestFillBehindDeliversWhatNobodyPublished: a message committed whose
// push never came (its node died between the commit and the publish) is
// delivered by the next fill, and once only: a fill with nothing behind
// reads nothing.
func TestFillBehindDeliversWhatNobodyPublished(t *testing.T) {
	h := &history{}
	a := openNode(t, natslocal.Start(t).URL, h)
	id := a.join(t, "room", false)
	h.commit(2)
	if n, err := a.FillBehind(t.Context(), lastIDs{h}); n != 1 || err != nil {
		t.Fatalf("FillBehind: %d rooms, %v; want the room filled", n, err)
	}
	a.waitPending(t, id, 2)
	if n, err := a.FillBehind(t.Context(), lastIDs{h}); n != 0 || err != nil {
		t.Fatalf("FillBehind of a room delivered to its end: %d rooms, %v; want none", n, err)
	}
	time.Sleep(50 * time.Millisecond)
	a.waitPending(t, id, 2)
}

// TestNodeStartsWithoutItsBroker: a node opens while the broker is down,
// its members join at once, and once the broker is up it fills its rooms
// from the store and gets the other nodes' pushes.
func TestNodeStartsWithoutItsBroker(t *testing.T) {
	broker := natslocal.Start(t)
	broker.Stop()
	h := &history{}
	a := openNode(t, broker.URL, h)
	if a.Connected() {
		t.Fatal("the node says it is on a broker that is down")
	}
	start := time.Now()
	id := a.join(t, "room", false)
	if d := time.Since(start); d > time.Second {
		t.Errorf("joining a room without the broker took %v", d)
	}
	h.commit(1) // sent by another node meanwhile
	broker.Restart(t)
	a.waitPending(t, id, 1)
	deadline := time.Now().Add(5 * time.Second)
	for !a.Connected() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	b := openNode(t, broker.URL, h)
	m := h.commit(1)[0]
	if _, err := b.Broadcast(t.Context(), "room", chatapp.Push{Kind: chatapp.PushMessage, Data: []byte(m.ID), MessageID: m.ID, PrevID: m.PrevID}); err != nil {
		t.Fatal(err)
	}
	a.waitPending(t, id, 2)
}
