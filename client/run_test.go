package client

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	lo, hi := 100*time.Millisecond, 2*time.Second
	for attempt := 1; attempt < 100; attempt++ {
		ceil := hi
		if attempt < 5 {
			ceil = lo << attempt
		}
		for range 50 {
			if d := backoff(attempt, lo, hi); d < lo || d > ceil {
				t.Fatalf("attempt %d: %v not in [%v, %v]", attempt, d, lo, ceil)
			}
		}
	}
	if d := backoff(3, time.Second, time.Second); d != time.Second {
		t.Errorf("lo == hi: %v", d)
	}
}
