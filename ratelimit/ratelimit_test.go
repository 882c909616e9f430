package ratelimit

import (
	"fmt"
	"hash/maphash"
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

// TestKeysCapped: a flood of distinct keys, sent faster than any bucket
// refills (the clock does not move), leaves at most shards×perShard buckets,
// and a new key is still served: the limiter makes room rather than
// refusing. The shards are made small (16 buckets, as MaxKeys makes them
// 2,048) so that the flood is 50 times the cap in a fraction of a second.
func TestKeysCapped(t *testing.T) {
	l, _ := newTestLimiter(1, 1)
	l.perShard = 16
	const maxKeys = shards * 16
	for i := range 50 * maxKeys {
		if ok, _ := l.Allow(fmt.Sprint("flood-", i)); !ok {
			t.Fatalf("new key %d refused", i)
		}
	}
	if n := l.Len(); n > maxKeys {
		t.Errorf("%d keys remembered after a flood of %d, want at most %d", n, 50*maxKeys, maxKeys)
	}
	if ok, _ := l.Allow("newcomer"); !ok {
		t.Error("a new key was refused after the flood")
	}
}

// keysInShard returns n keys with prefix that fall in key's shard.
func keysInShard(l *Limiter, key, prefix string, n int) []string {
	want := maphash.String(l.seed, key) % shards
	var out []string
	for i := 0; len(out) < n; i++ {
		k := fmt.Sprint(prefix, i)
		if maphash.String(l.seed, k)%shards == want {
			out = append(out, k)
		}
	}
	return out
}

// TestFullBucketsEvictedFirst: in a full shard, the buckets that are full
// again go before one that is still spending, even one used less recently;
// and with none full again, the least recently used goes.
func TestFullBucketsEvictedFirst(t *testing.T) {
	l, clock := newTestLimiter(1, 2)
	l.perShard = 8
	// The spender empties its bucket, then others arrive and spend one
	// token each.
	for range 2 {
		l.Allow("spender")
	}
	for _, k := range keysInShard(l, "spender", "early-", 7) {
		l.Allow(k)
	}
	// A second later the others are full again; the spender has 1 of 2.
	clock.add(time.Second)
	for _, k := range keysInShard(l, "spender", "late-", 7) {
		l.Allow(k)
	}
	if ok, _ := l.Allow("spender"); !ok {
		t.Fatal("the spender's refilled token was refused")
	}
	if ok, _ := l.Allow("spender"); ok {
		t.Error("the spender got a new bucket: its half-spent one was evicted before the full ones")
	}
	if n := l.Len(); n > shards*l.perShard {
		t.Errorf("%d keys, over the cap", n)
	}

	// No bucket is full again (the clock stands still): each new key
	// evicts the least recently used, here the spender's.
	l2, _ := newTestLimiter(1, 2)
	l2.perShard = 4
	for range 2 {
		l2.Allow("spender")
	}
	for _, k := range keysInShard(l2, "spender", "other-", 4) {
		if ok, _ := l2.Allow(k); !ok {
			t.Fatalf("new key %s refused in a full shard", k)
		}
	}
	if ok, _ := l2.Allow("spender"); !ok {
		t.Error("the spender, least recently used, kept its empty bucket in a full shard")
	}
}
