package ratelimit

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeNow lets a test move the limiter's clock.
type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeNow) now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.t }
func (f *fakeNow) add(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
}

func newTestLimiter(perSecond float64, burst int) (*Limiter, *fakeNow) {
	clock := &fakeNow{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(perSecond, burst)
	l.now = clock.now
	return l, clock
}

func TestBurstThenRate(t *testing.T) {
	l, clock := newTestLimiter(2, 5)
	for i := range 5 {
		if ok, _ := l.Allow("u"); !ok {
			t.Fatalf("event %d of the burst refused", i+1)
		}
	}
	ok, retry := l.Allow("u")
	if ok {
		t.Fatal("the event after the burst was allowed")
	}
	if retry <= 0 || retry > 500*time.Millisecond {
		t.Errorf("retry after %v, want (0, 500ms] at 2/s", retry)
	}
	// A refused event costs nothing: after the advertised wait one is allowed.
	clock.add(retry)
	if ok, _ := l.Allow("u"); !ok {
		t.Error("refused after waiting the advertised time")
	}
	if ok, _ := l.Allow("u"); ok {
		t.Error("two events allowed after one token's wait")
	}
	// Keys do not share budgets.
	if ok, _ := l.Allow("other"); !ok {
		t.Error("another key was refused")
	}
}

func TestSustainedRate(t *testing.T) {
	l, clock := newTestLimiter(10, 1)
	allowed := 0
	for range 1000 { // 10 s in 10 ms steps
		if ok, _ := l.Allow("u"); ok {
			allowed++
		}
		clock.add(10 * time.Millisecond)
	}
	if allowed < 99 || allowed > 101 {
		t.Errorf("%d events allowed in 10 s at 10/s", allowed)
	}
}

func TestIdleKeysForgotten(t *testing.T) {
	l, clock := newTestLimiter(1, 1)
	for i := range 1000 {
		l.Allow(fmt.Sprint("flood-", i))
	}
	if n := l.Len(); n != 1000 {
		t.Fatalf("%d keys, want 1000", n)
	}
	clock.add(l.idle + time.Second)
	// Each shard sweeps on its next use.
	for i := range 1000 {
		l.Allow(fmt.Sprint("later-", i%3))
	}
	for i := range shards * 20 {
		l.Allow(fmt.Sprint("touch-", i))
	}
	if n, want := l.Len(), 3+shards*20; n != want {
		t.Errorf("%d keys remembered, want only the %d used since the flood went idle", n, want)
	}
}

func TestConcurrentAllow(t *testing.T) {
	l := New(1e-9, 100) // effectively no refill during the test
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if ok, _ := l.Allow("shared"); ok {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if allowed != 100 {
		t.Errorf("%d of 400 concurrent events allowed, want the burst of 100", allowed)
	}
}
