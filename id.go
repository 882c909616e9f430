package chatapp

import (
	"crypto/rand"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// ulids is shared by the whole process so that ids made in the same
// millisecond still increase.
var ulids = struct {
	sync.Mutex
	entropy *ulid.MonotonicEntropy
}{entropy: ulid.Monotonic(rand.Reader, 0)}

// NewMessageID returns a new message id for time t: a ULID, unique and
// sorting in time order within one process (and by millisecond across them).
func NewMessageID(t time.Time) string {
	ulids.Lock()
	defer ulids.Unlock()
	return ulid.MustNew(ulid.Timestamp(t), ulids.entropy).String()
}

// ValidMessageID reports whether s is a well-formed message id, so that a
// cursor from a client is checked before it reaches a store.
func ValidMessageID(s string) bool {
	_, err := ulid.ParseStrict(s)
	return err == nil
}
