// The bytes of pushes a node's sequencers hold for breaks in their
// rooms' chains: one budget per node, whatever the number of rooms.

package nats

import "sync/atomic"

// maxHeldBytes bounds the bytes of the pushes all the rooms of a node
// hold waiting for a break to close. maxHeld bounds one room, but a node
// cut off from the store while the others go on sending holds pushes in
// every busy room: 1000 frames of 16 KiB and more in each of 100 rooms is
// 1.6 GB. Past the budget a push is dropped, and the read of the store
// that follows brings it (it was committed before it was published): the
// bound costs a read, never a message. 64 MiB is 4,000 of the largest
// frames, far more than breaks of 100 ms hold on a node that reaches its
// store, and a fraction of the memory its sockets' queues may take.
const maxHeldBytes = 64 << 20

// heldBytes counts the bytes a node's sequencers hold, within a limit.
type heldBytes struct {
	limit int64
	used  atomic.Int64
}

func newHeldBytes() *heldBytes { return &heldBytes{limit: maxHeldBytes} }

// take reserves n bytes, or nothing if that would pass the limit; it
// reports whether it did.
func (b *heldBytes) take(n int64) bool {
	for {
		used := b.used.Load()
		if used+n > b.limit {
			return false
		}
		if b.used.CompareAndSwap(used, used+n) {
			return true
		}
	}
}

// give returns n bytes taken before.
func (b *heldBytes) give(n int64) { b.used.Add(-n) }
