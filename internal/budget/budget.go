// Package budget bounds what many holders hold at once: the bytes of the
// request bodies a gateway reads, or of the pushes a cluster node keeps
// waiting, whatever the number of requests or rooms.
package budget

import "sync/atomic"

// Bytes is a count of bytes held, within Limit (none when Limit <= 0).
// It is exact however many holders race: a reservation never takes it
// past Limit, not even for a moment.
type Bytes struct {
	Limit int64
	held  atomic.Int64
}

// Reserve takes n bytes, or nothing if they would take the count past
// Limit; it reports whether it took them. What it took is given back with
// Release(n).
func (b *Bytes) Reserve(n int64) bool {
	if b.Limit <= 0 || n <= 0 {
		return true
	}
	for {
		held := b.held.Load()
		if held+n > b.Limit {
			return false
		}
		if b.held.CompareAndSwap(held, held+n) {
			return true
		}
	}
}

// Release gives back n bytes a Reserve took.
func (b *Bytes) Release(n int64) {
	if b.Limit > 0 && n > 0 {
		b.held.Add(-n)
	}
}

// Held is what is held now.
func (b *Bytes) Held() int64 { return b.held.Load() }
