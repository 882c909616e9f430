// Package ratelimit is chatapp.RateLimiter on golang.org/x/time/rate: one
// token bucket per key, kept in memory, forgotten once it has been full and
// unused for a while so that a flood of distinct keys cannot grow it without
// bound.
package ratelimit

import (
	"hash/maphash"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/chatapp-dev/chatapp"
)

// shards spreads keys over locks, so concurrent sends of different users
// rarely contend.
const shards = 64

// Limiter is a set of token buckets, one per key: Rate events a second,
// bursts of Burst. It is safe for concurrent use.
type Limiter struct {
	limit rate.Limit
	burst int
	idle  time.Duration // a bucket unused this long is full again: forget it
	now   func() time.Time
	seed  maphash.Seed

	shards [shards]shard
}

type shard struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time
}

var _ chatapp.RateLimiter = (*Limiter)(nil)

// maxFill bounds how long an unused bucket is remembered.
const maxFill = 24 * time.Hour

// New returns a limiter of perSecond (> 0) events a second per key, with
// bursts of burst (at least 1).
func New(perSecond float64, burst int) *Limiter {
	burst = max(burst, 1)
	l := &Limiter{limit: rate.Limit(perSecond), burst: burst, now: time.Now, seed: maphash.MakeSeed()}
	// The time a bucket takes to fill from empty, and some: after it, a
	// fresh bucket is the same as the old one. (Capped, for rates so low
	// that the duration would overflow.)
	fill := min(float64(burst)/perSecond, maxFill.Seconds())
	l.idle = time.Duration(fill*float64(time.Second)) + time.Minute
	for i := range l.shards {
		l.shards[i].buckets = map[string]*bucket{}
	}
	return l
}

// Allow implements chatapp.RateLimiter.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	sh := &l.shards[maphash.String(l.seed, key)%shards]
	now := l.now()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if now.Sub(sh.swept) > l.idle {
		sh.sweep(now, l.idle)
	}
	b := sh.buckets[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		sh.buckets[key] = b
	}
	b.last = now
	r := b.lim.ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		return false, delay
	}
	return true, 0
}

// Len returns how many keys are remembered.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		n += len(sh.buckets)
		sh.mu.Unlock()
	}
	return n
}

func (sh *shard) sweep(now time.Time, idle time.Duration) {
	for key, b := range sh.buckets {
		if now.Sub(b.last) > idle {
			delete(sh.buckets, key)
		}
	}
	sh.swept = now
}
