// Attacks on a room's batches of pushes on the broker (issue 14).

package nats

import (
	"bytes"
	"testing"
)

// TestAHeldPushOfABatchPinsOnlyItsOwnBytes: a push a sequencer holds for
// a break counts its bytes against the node's budget (maxHeldBytes, which
// bounds the memory held). A push that came in a batch must then hold no
// more than those bytes: its frame must not keep the whole broker message
// (up to the largest payload, 1 MiB) alive, or a node's held pushes take
// up to ~the largest payload each, far past the budget.
func TestAHeldPushOfABatchPinsOnlyItsOwnBytes(t *testing.T) {
	h := &history{}
	s, _ := newTestSequencer(t, h, gapWait)
	s.mu.Lock()
	s.started, s.last = true, "A"
	s.mu.Unlock()
	batch := appendOffered(nil, offered{"C", "B", []byte("small")}) // waits for B
	batch = appendOffered(batch, offered{"D", "C", bytes.Repeat([]byte("x"), 1<<20)})
	pushes, err := parseBatch(batch)
	if err != nil {
		t.Fatal(err)
	}
	s.offerAll(pushes)
	s.mu.Lock()
	defer s.mu.Unlock()
	held, ok := s.held["B"]
	if !ok {
		t.Fatalf("the push after the break is not held: %v", s.held)
	}
	counted := held.size("B")
	if pinned := int64(cap(held.data)); pinned > 2*counted {
		t.Errorf("a held push counted as %d bytes keeps %d bytes of its batch alive", counted, pinned)
	}
}
