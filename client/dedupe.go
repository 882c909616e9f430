// Which messages are new: the ids delivered, the newest of them, and where
// a catch-up starts.

package client

import (
	"slices"
	"strings"

	"github.com/oklog/ulid/v2"

	"github.com/chatapp-dev/chatapp"
)

// seenWindow is how many delivered ids are remembered to drop duplicates.
const seenWindow = 2048

// dedupe decides which messages are new (docs/protocol.md, "Client
// algorithm": last and seen). Message ids are ULIDs, whose string order is
// time order. It keeps the highest id delivered (last), the ids of the
// last seenWindow messages delivered (seen), the newest id of the history
// read at Dial (start: a catch-up never reads below it), and the highest id
// forgotten from seen (evicted: every id at or below it counts as
// delivered, so that a catch-up's overlap cannot bring it back).
//
// It is owned by the client's run goroutine.
type dedupe struct {
	start   string
	evicted string
	last    string
	seen    map[string]struct{}
	ring    []string // seen ids in delivery order, for eviction
	next    int
}

func newDedupe() *dedupe {
	return &dedupe{seen: make(map[string]struct{}, seenWindow), ring: make([]string, 0, seenWindow)}
}

// accept reports whether the message with this id is new, and records it.
// A message older than the history read at Dial is new if it was not in
// it: committed out of id order after that read.
func (d *dedupe) accept(id string) bool {
	if id <= d.evicted {
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
		d.evicted = max(d.evicted, old)
		d.ring[d.next] = id
		d.next = (d.next + 1) % seenWindow
	}
	if id > d.last {
		d.last = id
	}
	return true
}

// started records the history read at Dial: ids, which count as delivered
// (delivered as the Backlog, or not at all), and its newest id, below
// which a catch-up does not read.
func (d *dedupe) started(ids []string, newest string) {
	for _, id := range ids {
		d.accept(id)
	}
	d.start = max(d.start, newest)
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

// resumeAfter is the ?after= cursor of a catch-up: catchUpOverlap before
// the last message delivered, and never below start. With nothing
// delivered and no start (the room was empty at Dial), it is the room's
// beginning.
func (d *dedupe) resumeAfter() string {
	base := max(d.last, d.start)
	if base == "" {
		return zeroID
	}
	id, err := ulid.ParseStrict(base)
	if err != nil {
		return base
	}
	ms := int64(id.Time()) - catchUpOverlap.Milliseconds()
	if ms < 0 {
		ms = 0
	}
	var back ulid.ULID
	if back.SetTime(uint64(ms)) != nil {
		return base
	}
	return max(back.String(), d.start)
}
