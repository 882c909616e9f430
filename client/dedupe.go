package client

import (
	"slices"
	"strings"

	"github.com/chatapp-dev/chatapp"
)

// seenWindow is how many delivered ids are remembered to drop duplicates.
const seenWindow = 2048

// dedupe decides which messages are new. Message ids are ULIDs, whose string
// order is time order. It keeps the highest id delivered (the watermark), the
// ids of the last seenWindow messages delivered, and a floor: every id at or
// below the floor counts as delivered (or as history from before Dial).
//
// It is owned by the client's run goroutine.
type dedupe struct {
	floor string
	last  string
	seen  map[string]struct{}
	ring  []string // seen ids in delivery order, for eviction
	next  int
}

func newDedupe() *dedupe {
	return &dedupe{seen: make(map[string]struct{}, seenWindow), ring: make([]string, 0, seenWindow)}
}

// accept reports whether the message with this id is new, and records it.
func (d *dedupe) accept(id string) bool {
	if id <= d.floor {
		return false
	}
	if _, ok := d.seen[id]; ok {
		return false
	}
	d.seen[id] = struct{}{}
	if len(d.ring) < seenWindow {
		d.ring = append(d.ring, id)
	} else {
		old := d.ring[d.next]
		delete(d.seen, old)
		d.raiseFloor(old)
		d.ring[d.next] = id
		d.next = (d.next + 1) % seenWindow
	}
	if id > d.last {
		d.last = id
	}
	return true
}

// raiseFloor declares every id up to id handled.
func (d *dedupe) raiseFloor(id string) {
	if id > d.floor {
		d.floor = id
	}
}

// merge returns the new messages among batch, sorted by id, and records them.
func (d *dedupe) merge(batch []*chatapp.Message) []*chatapp.Message {
	slices.SortStableFunc(batch, func(a, b *chatapp.Message) int { return strings.Compare(a.ID, b.ID) })
	out := batch[:0:0]
	for _, m := range batch {
		if d.accept(m.ID) {
			out = append(out, m)
		}
	}
	return out
}
