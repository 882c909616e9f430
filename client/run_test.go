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
			if d := backoff(attempt, lo, hi); d < 0 || d > ceil {
				t.Fatalf("attempt %d: %v not in [0, %v]", attempt, d, ceil)
			}
		}
	}
	// Full jitter: the waits spread over the whole range, not only its top.
	var low, high int
	for range 1000 {
		switch d := backoff(10, lo, hi); {
		case d < hi/4:
			low++
		case d > 3*hi/4:
			high++
		}
	}
	if low < 150 || high < 150 {
		t.Errorf("of 1000 waits in [0, %v], %d under a quarter and %d over three quarters: want about 250 each", hi, low, high)
	}
}
