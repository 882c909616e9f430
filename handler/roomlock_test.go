package handler

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp"
)

// rounds records the rounds of pushes a room's leaders run: the message
// ids of each, in order.
type rounds struct {
	mu  sync.Mutex
	ids [][]string
}

func (r *rounds) run(sends []*roundSend) {
	var ids []string
	for _, s := range sends {
		ids = append(ids, s.m.ID)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, ids)
}

func (r *rounds) get() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ids)
}

// takeTurns takes n turns of room "r", each queued at once.
func takeTurns(l *roomLocks, n int) []*turn {
	turns := make([]*turn, n)
	for i := range turns {
		turns[i] = l.take("r")
		turns[i].queued()
	}
	return turns
}

func sendOf(i int) *roundSend { return &roundSend{m: &chatapp.Message{ID: fmt.Sprint(i)}} }

// waitHanded waits until n turns of the room wait for their push.
func waitHanded(t *testing.T, tr *turn, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		tr.lock.Lock()
		got := len(tr.lock.ready)
		tr.lock.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d turns handed over, want %d", got, n)
		}
	}
}

// pushAll pushes turns[i] with its send on a goroutine each, and returns
// a wait for their pushes, with what each panicked with.
func pushAll(turns []*turn, sends []*roundSend, run func([]*roundSend)) func() []any {
	panics := make([]any, len(turns))
	var wg sync.WaitGroup
	for i, tr := range turns {
		wg.Go(func() {
			defer func() { panics[i] = recover() }()
			defer tr.settle()
			tr.push(sends[i], run)
		})
	}
	return func() []any { wg.Wait(); return panics }
}

// TestReadySendsPushInOneRound: sends that committed while the room's
// next turn had not pushed yet are pushed with it, in one round, in turn
// order; and the room's entry is freed after.
func TestReadySendsPushInOneRound(t *testing.T) {
	var l roomLocks
	var r rounds
	turns := takeTurns(&l, 5)
	sends := []*roundSend{sendOf(0), sendOf(1), sendOf(2), sendOf(3), sendOf(4)}
	wait := pushAll(turns[1:], sends[1:], r.run)
	waitHanded(t, turns[0], 4)
	turns[0].push(sends[0], r.run)
	turns[0].settle()
	wait()
	if got, want := r.get(), [][]string{{"0", "1", "2", "3", "4"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("rounds %q, want %q", got, want)
	}
	if len(l.rooms) != 0 {
		t.Errorf("%d room entries left", len(l.rooms))
	}
}

// TestFailedSendNeitherWaitsNorBlocks: a send with nothing to push (its
// store failed) hands its turn on at once, before the sends ahead of it
// have pushed, and the round skips it.
func TestFailedSendNeitherWaitsNorBlocks(t *testing.T) {
	var l roomLocks
	var r rounds
	turns := takeTurns(&l, 4)
	sends := []*roundSend{sendOf(0), nil, sendOf(2), sendOf(3)}
	turns[1].settle() // returns although turn 0 has not pushed
	wait := pushAll(turns[2:], sends[2:], r.run)
	waitHanded(t, turns[0], 3)
	turns[0].push(sends[0], r.run)
	wait()
	if got, want := r.get(), [][]string{{"0", "2", "3"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("rounds %q, want %q", got, want)
	}
	if len(l.rooms) != 0 {
		t.Errorf("%d room entries left", len(l.rooms))
	}
}

// TestRoundIsBounded: a leader pushes at most maxRound sends; the next
// ready send leads the rest.
func TestRoundIsBounded(t *testing.T) {
	var l roomLocks
	var r rounds
	n := maxRound + 5
	turns := takeTurns(&l, n)
	sends := make([]*roundSend, n)
	for i := range sends {
		sends[i] = sendOf(i)
	}
	wait := pushAll(turns[1:], sends[1:], r.run)
	waitHanded(t, turns[0], n-1)
	turns[0].push(sends[0], r.run)
	wait()
	got := r.get()
	if len(got) != 2 || len(got[0]) != maxRound || len(got[1]) != 5 || got[1][0] != fmt.Sprint(maxRound) {
		t.Errorf("rounds of %d, want %d then 5 from %d", len(got), maxRound, maxRound)
	}
}

// TestRoundPanicReachesEverySend: a panic of a round's push is raised in
// each of its sends, on their own goroutines, and the room goes on.
func TestRoundPanicReachesEverySend(t *testing.T) {
	var l roomLocks
	turns := takeTurns(&l, 3)
	sends := []*roundSend{sendOf(0), sendOf(1), sendOf(2)}
	boom := func([]*roundSend) { panic("boom") }
	wait := pushAll(turns[1:], sends[1:], boom)
	waitHanded(t, turns[0], 2)
	panics := append(pushAll(turns[:1], sends[:1], boom)(), wait()...)
	for i, v := range panics {
		if v != "boom" {
			t.Errorf("send %d: panicked with %v, want boom", i, v)
		}
	}
	var r rounds
	after := takeTurns(&l, 1)
	after[0].push(sendOf(3), r.run)
	if got := r.get(); len(got) != 1 || got[0][0] != "3" {
		t.Errorf("after the panic, rounds %q", got)
	}
}
