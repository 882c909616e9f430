// Attacks on a room's rounds of pushes (roomlock.go).

package handler

import (
	"slices"
	"testing"
	"time"
)

// TestAFailedSendAtTheHeadLeadsTheSendsBehindIt: a send whose store
// failed (or that was a replay) hands its turn on with push(nil, nil).
// When it is the room's next turn and committed sends already wait behind
// it, it leads their round: they must be pushed, by the run they gave,
// and nobody panics.
func TestAFailedSendAtTheHeadLeadsTheSendsBehindIt(t *testing.T) {
	var l roomLocks
	var r rounds
	turns := takeTurns(&l, 2)
	panicked := make(chan any, 2)
	go func() {
		defer func() { panicked <- recover() }()
		turns[1].push(sendOf(1), r.run)
	}()
	waitHanded(t, turns[0], 1)
	func() {
		defer func() { panicked <- recover() }()
		turns[0].push(nil, nil) // its store failed
	}()
	for range 2 {
		select {
		case v := <-panicked:
			if v != nil {
				t.Errorf("a send panicked: %v", v)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a send still waits for its push")
		}
	}
	if got, want := r.get(), [][]string{{"1"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("rounds %q, want %q", got, want)
	}
}
