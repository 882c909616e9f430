package budget

import (
	"sync"
	"testing"
)

// TestRacingHoldersStayWithinTheLimit: holders racing to reserve and
// release never see the count past the limit or below zero, and leave it
// at zero; past the limit a reservation takes nothing.
func TestRacingHoldersStayWithinTheLimit(t *testing.T) {
	b := &Bytes{Limit: 100}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 2000 {
				if b.Reserve(7) {
					if h := b.Held(); h > b.Limit || h < 7 {
						t.Errorf("held %d with a reservation of 7 in a limit of %d", h, b.Limit)
					}
					b.Release(7)
				}
			}
		})
	}
	wg.Wait()
	if h := b.Held(); h != 0 {
		t.Fatalf("held %d after every release", h)
	}
	if !b.Reserve(100) || b.Reserve(1) {
		t.Fatal("the limit is not exact")
	}
}

// TestNoLimit: a budget without a limit takes everything and counts
// nothing.
func TestNoLimit(t *testing.T) {
	var b Bytes
	if !b.Reserve(1 << 40) {
		t.Fatal("a budget without a limit refused")
	}
	b.Release(1 << 40)
	if b.Held() != 0 {
		t.Fatal("a budget without a limit counted")
	}
}
