// the bound of unsettled socket sends under Close and racing
// senders.

package client

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestCloseEndsASendPastTheBound: a SendWS past the bound goes by PUT
// at once under the caller's context, not the client's: Close does not end
// it, and a caller with a context that does not end (context.Background)
// stays in SendWS after Close until the server answers, where every other
// send the client holds ends with Close (closeOutbox waits for them).
func TestCloseEndsASendPastTheBound(t *testing.T) {
	b := startBlackHole(t, nil)
	b.mu.Lock()
	b.putsHeld = make(chan struct{})
	b.mu.Unlock()
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		select {
		case <-b.putsHeld:
		default:
			close(b.putsHeld)
		}
	})
	ctx, c := b.dial(t, time.Minute, 1)
	if err := c.SendWS(ctx, "waits"); err != nil {
		t.Fatal(err)
	}
	<-b.got
	sent := make(chan error, 1)
	go func() { sent <- c.SendWS(context.Background(), "past the bound") }()
	<-b.got // its PUT, held by the server
	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return within 5 s")
	}
	select {
	case err := <-sent:
		t.Logf("SendWS returned %v after Close", err)
	case <-time.After(3 * time.Second):
		t.Error("SendWS past the bound still runs 3 s after Close returned (its PUT is the caller's, not the client's)")
	}
}

// TestRacingSendsStayWithinTheBound: 64 goroutines send 20 messages
// each on the socket of a client bounded at 8, against a server that never
// pushes: at most 8 are ever waiting, every other went by PUT, and each
// message went exactly once, one way or the other.
func TestRacingSendsStayWithinTheBound(t *testing.T) {
	b := startBlackHole(t, nil)
	const most, senders, each = 8, 64, 20
	ctx, c := b.dial(t, time.Minute, most)
	go func() {
		for range b.got {
		}
	}()
	var wg sync.WaitGroup
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := c.SendWS(ctx, fmt.Sprintf("g%d-%d", g, i)); err != nil {
					t.Error(err)
					return
				}
				c.outbox.mu.Lock()
				n := len(c.outbox.waiting) + c.outbox.resending
				c.outbox.mu.Unlock()
				if n > most {
					t.Errorf("%d sends unsettled, past the bound of %d", n, most)
				}
			}
		}()
	}
	wg.Wait()
	b.mu.Lock()
	defer b.mu.Unlock()
	seen := map[string]int{}
	for _, f := range b.frames {
		seen[f.Text]++
	}
	for _, p := range b.puts {
		seen[p.Text]++
	}
	if len(seen) != senders*each {
		t.Errorf("%d distinct messages reached the server, want %d", len(seen), senders*each)
	}
	for text, n := range seen {
		if n != 1 {
			t.Errorf("%q reached the server %d times", text, n)
		}
	}
	if len(b.frames) > most {
		t.Errorf("%d frames, want at most %d (none is ever settled)", len(b.frames), most)
	}
}
