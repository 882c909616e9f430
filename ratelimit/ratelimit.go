// Package ratelimit is chatapp.RateLimiter on golang.org/x/time/rate: one
// token bucket per key, kept in memory. A bucket that is full again is the
// same as a new one, so it can be forgotten; and however fast distinct keys
// arrive (with auth off anyone can invent user ids), at most MaxKeys buckets
// are kept.
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

// MaxKeys bounds the buckets kept, MaxKeys/64 per shard: some 30 MB at most.
// A key needs its bucket only while it is spending (for Burst/Rate after its
// last event), so this is the number of keys that may be spending at once.
const MaxKeys = shards * 2048

// evictScan is how many of a full shard's least recently used buckets are
// looked at for ones that are full again, before the oldest is evicted.
const evictScan = 16

// Limiter is a set of token buckets, one per key: Rate events a second,
// bursts of Burst. It is safe for concurrent use.
type Limiter struct {
	limit    rate.Limit
	burst    int
	idle     time.Duration // a bucket unused this long is full again: forget it
	perShard int           // buckets kept per shard
	now      func() time.Time
	seed     maphash.Seed

	shards [shards]shard
}

// shard is a map of buckets and the same buckets in a list from the most
// recently used (head) to the least (tail).
type shard struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	head    *bucket
	tail    *bucket
}

type bucket struct {
	key        string
	lim        *rate.Limiter
	last       time.Time
	prev, next *bucket // toward head, toward tail
}

var _ chatapp.RateLimiter = (*Limiter)(nil)

// maxFill bounds how long an unused bucket is remembered.
const maxFill = 24 * time.Hour

// New returns a limiter of perSecond (> 0) events a second per key, with
// bursts of burst (at least 1).
func New(perSecond float64, burst int) *Limiter {
	burst = max(burst, 1)
	l := &Limiter{limit: rate.Limit(perSecond), burst: burst, perShard: MaxKeys / shards, now: time.Now, seed: maphash.MakeSeed()}
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
	// The list is in order of last use: the idle buckets are its tail.
	for sh.tail != nil && now.Sub(sh.tail.last) > l.idle {
		sh.remove(sh.tail)
	}
	b := sh.buckets[key]
	if b == nil {
		if len(sh.buckets) >= l.perShard {
			l.evict(sh, now)
		}
		b = &bucket{key: key, lim: rate.NewLimiter(l.limit, l.burst)}
		sh.buckets[key] = b
	} else {
		sh.unlink(b)
	}
	sh.pushFront(b)
	b.last = now
	r := b.lim.ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		return false, delay
	}
	return true, 0
}

// evict makes room in a full shard for a new key. A bucket that is full
// again is dropped at no cost: the new bucket its key would get is the
// same. Every such bucket among the evictScan least recently used goes. If
// there is none, the least recently used bucket goes anyway: its key gets a
// new, full bucket if it comes back, at most one extra burst. Refusing new
// keys instead would let a flood of invented ids lock every new user out,
// and an attacker gains nothing from the eviction that inventing one more
// id would not give.
func (l *Limiter) evict(sh *shard, now time.Time) {
	full := float64(l.burst)
	freed := false
	b := sh.tail
	for range evictScan {
		if b == nil {
			break
		}
		prev := b.prev
		if b.lim.TokensAt(now) >= full {
			sh.remove(b)
			freed = true
		}
		b = prev
	}
	if !freed {
		sh.remove(sh.tail)
	}
}

func (sh *shard) remove(b *bucket) {
	sh.unlink(b)
	delete(sh.buckets, b.key)
}

func (sh *shard) unlink(b *bucket) {
	if b.prev != nil {
		b.prev.next = b.next
	} else {
		sh.head = b.next
	}
	if b.next != nil {
		b.next.prev = b.prev
	} else {
		sh.tail = b.prev
	}
	b.prev, b.next = nil, nil
}

func (sh *shard) pushFront(b *bucket) {
	b.next = sh.head
	if sh.head != nil {
		sh.head.prev = b
	}
	sh.head = b
	if sh.tail == nil {
		sh.tail = b
	}
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
