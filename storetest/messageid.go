package storetest

import (
	"crypto/rand"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// messageIDs makes the ids of MessageID. Its monotonic entropy is its
// own, not the stores' (chatapp.NextMessageID): an id made for another
// time must not reset theirs.
var messageIDs = struct {
	sync.Mutex
	entropy *ulid.MonotonicEntropy
}{entropy: ulid.Monotonic(rand.Reader, 0)}

// MessageID returns a message id of time t, for tests: a cursor, or a
// message stored as if sent at t. Ids of one millisecond made in one
// process sort in the order they were made; the stores make the ids of
// the messages they store (chatapp.NextMessageID).
func MessageID(t time.Time) string {
	messageIDs.Lock()
	defer messageIDs.Unlock()
	return ulid.MustNew(ulid.Timestamp(t), messageIDs.entropy).String()
}
