package chatapp

import (
	"crypto/rand"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// ulids makes the ids of stored messages. Its monotonic entropy is its own:
// an id made for another time (a test's cursor) would reset it, and the
// next id of the current millisecond could then sort before the last.
var ulids = struct {
	sync.Mutex
	entropy *ulid.MonotonicEntropy
	last    uint64 // the millisecond of the last id
}{entropy: ulid.Monotonic(rand.Reader, 0)}

// clock is the time NextMessageID reads; tests turn it back.
var clock = time.Now

// NextMessageID returns the id of a message stored now and its time, in
// epoch milliseconds. Every id it returns in a process is greater than the
// one before: it reads the clock under the generator's lock, and never goes
// back a millisecond when the wall clock does. (Monotonic entropy restarts
// at random when the millisecond changes, so an id of millisecond t made
// after one of t+1 could otherwise sort before an earlier id of t.)
func NextMessageID() (id string, ms int64) {
	ulids.Lock()
	defer ulids.Unlock()
	at := max(ulid.Timestamp(clock()), ulids.last)
	ulids.last = at
	return ulid.MustNew(at, ulids.entropy).String(), int64(at)
}

// ValidMessageID reports whether s is a well-formed message id, so that a
// cursor from a client is checked before it reaches a store.
func ValidMessageID(s string) bool {
	_, err := ulid.ParseStrict(s)
	return err == nil
}

// AssignID gives m, as a store commits it, the next id and the time now,
// unless it has them (a caller may bring its own, tests do).
func (m *Message) AssignID() {
	if m.ID == "" {
		var ms int64
		m.ID, ms = NextMessageID()
		if m.Timestamp == 0 {
			m.Timestamp = ms
		}
	} else if m.Timestamp == 0 {
		m.Timestamp = time.Now().UnixMilli()
	}
}
