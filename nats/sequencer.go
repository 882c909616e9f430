package nats

import (
	"cmp"
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/internal/budget"
)

// Bounds of a sequencer.
const (
	// gapWait is how long a break in a room's chain may wait for the
	// message that closes it, which the broker is still carrying, before
	// the store is read: far longer than a publish takes, short enough
	// that nobody sees a message late.
	gapWait = 100 * time.Millisecond
	// maxHeld bounds the pushes a room holds for a break: past it (or
	// past the node's maxHeldBytes) a push is dropped, and the read of
	// the store that follows brings it (it was committed before it was
	// published).
	maxHeld = 1000
	// fillBytes bounds one page read to fill a break.
	fillBytes = 1 << 20
	// readTimeout bounds one read of the store.
	readTimeout = 10 * time.Second
	// leastID sorts before every message id: a read after it reads a room
	// from its first message (one after "" would read its latest).
	leastID = "00000000000000000000000000"
)

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

// MessageReader is what a sequencer reads of the store: a room's history.
type MessageReader interface {
	FindMessages(ctx context.Context, filter chatapp.MessageFilter) (chatapp.MessagePage, error)
}

// sequencer delivers one room's message pushes to this node's members in
// the room's stored order, each once, whichever node sent them and in
// whatever order the broker brings them. Each push names its message and
// the message stored before it in the room (chatapp.Message.PrevID): a
// push whose previous is the last one delivered is delivered, and so is
// whatever it lets through; any other waits. A break that lasts gapWait,
// a broker reconnect, or a subscription's dropped messages make the
// sequencer read the room from the store after the last delivered, page
// by page, and deliver that; what is at or below the last delivered is
// dropped, so a message that came both ways is delivered once. The pushes
// held are bounded per room (maxHeld) and, in bytes, per node (a budget
// the node's sequencers share, maxHeldBytes); a push past either is
// dropped, to be read, and a room whose read failed drops what it holds:
// the next read that succeeds brings it all.
//
// A sequencer starts from the room's last id read from the store once its
// subscription is active (sync, before the first member's $connect
// returns): a message stored later is published later and arrives; one
// stored before is in the history that member reads on connecting.
type sequencer struct {
	room    string
	store   MessageReader
	budget  *budget.Bytes         // the node's, shared by its sequencers (maxHeldBytes)
	deliver func(frames [][]byte) // to the room's members on this node, in one batch
	logger  *slog.Logger
	wait    time.Duration // gapWait, shorter in tests

	mu      sync.Mutex
	started bool   // last is known
	last    string // the id last delivered, or the room's last when it started
	held    map[string]held
	missed  bool        // a push was dropped since the last read began: a read must bring it
	timer   *time.Timer // a sync to come, after a break or a failed read
	syncing bool        // a sync is reading the store
	again   bool        // another sync was asked for meanwhile
	closed  bool        // nothing is delivered any more
	out     [][]byte    // delivered under the lock, handed over together by flushLocked
}

// held is a push waiting for its previous message, keyed by that one's id.
type held struct {
	id   string
	data []byte
}

// size is what a held push counts against the node's budget.
func (h held) size(prev string) int64 { return int64(len(prev) + len(h.id) + len(h.data)) }

func newSequencer(room string, store MessageReader, budget *budget.Bytes, deliver func([][]byte), logger *slog.Logger) *sequencer {
	return &sequencer{room: room, store: store, budget: budget, deliver: deliver, logger: logger, wait: gapWait, held: map[string]held{}}
}

// offered is a message push as it comes: its id, the id stored before it,
// its frame.
type offered struct {
	id, prev string
	data     []byte
}

// offerAll offers each push in turn; what they deliver goes to the
// members in one batch.
func (s *sequencer) offerAll(pushes []offered) {
	s.mu.Lock()
	defer s.mu.Unlock()
	arm := false
	for _, p := range pushes {
		arm = s.offerLocked(p) || arm
	}
	s.flushLocked()
	if arm {
		s.armLocked()
	}
}

// lost says a push of the room was lost on its way (a malformed batch):
// the store is read after the sequencer's wait, with any break.
func (s *sequencer) lost() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.missed = true
	s.armLocked()
}

// offerLocked delivers or holds one push, and reports whether it left a
// break to wait on.
func (s *sequencer) offerLocked(p offered) bool {
	switch {
	case s.closed || (s.started && p.id <= s.last):
		return false // delivered already
	case s.started && p.prev == s.last:
		s.deliverLocked(p.id, p.data)
		s.releaseLocked()
		return false
	case !s.holdLocked(p.prev, held{p.id, p.data}):
		s.missed = true
	}
	return true
}

// holdLocked keeps h until prev is delivered, within the room's maxHeld
// and the node's budget; it reports whether it does.
func (s *sequencer) holdLocked(prev string, h held) bool {
	if _, ok := s.held[prev]; ok {
		return true // the same push again: a chain has one message after prev
	}
	if len(s.held) >= maxHeld || !s.budget.Reserve(h.size(prev)) {
		return false
	}
	s.held[prev] = h
	return true
}

// unholdLocked forgets the push held for prev, and gives back its bytes.
func (s *sequencer) unholdLocked(prev string) {
	if h, ok := s.held[prev]; ok {
		delete(s.held, prev)
		s.budget.Release(h.size(prev))
	}
}

// sync reads the store: the room's last id if the sequencer has not
// started, else every message after the last delivered, which it
// delivers. A sync asked for while one runs runs again after it. A failed
// read is tried again after the sequencer's wait.
func (s *sequencer) sync() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if s.timer != nil { // this sync does its work (or the one running does)
		s.timer.Stop()
		s.timer = nil
	}
	if s.syncing {
		s.again = true
		s.mu.Unlock()
		return
	}
	s.syncing = true
	s.mu.Unlock()
	for {
		more, err := s.readOnce()
		s.mu.Lock()
		if err != nil && !s.closed {
			s.logger.Warn("reading a room to deliver its messages in order failed; trying again", "room_id", s.room, "err", err)
			s.syncing, s.again = false, false
			// The store may stay out of reach while the other nodes go on
			// sending: the read that succeeds brings what the room holds.
			s.dropHeldLocked()
			s.missed = true
			s.retryLocked()
			s.mu.Unlock()
			return
		}
		if s.closed || (!more && !s.again) {
			s.syncing = false
			s.pruneLocked()
			s.armLocked()
			s.mu.Unlock()
			return
		}
		s.again = false
		s.mu.Unlock()
	}
}

// readOnce reads the room's last id, or one page after the last
// delivered, and delivers it. It reports whether the page was cut short.
func (s *sequencer) readOnce() (more bool, err error) {
	s.mu.Lock()
	started, from := s.started, s.last
	s.missed = false // a push dropped before now was committed before this read
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	if !started {
		page, err := s.store.FindMessages(ctx, chatapp.MessageFilter{RoomID: s.room, Limit: 1})
		if err != nil {
			return false, err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(page.Messages) > 0 {
			s.last = page.Messages[0].ID
		}
		s.started = true
		s.releaseLocked()
		s.flushLocked()
		return false, nil
	}
	page, err := s.store.FindMessages(ctx, chatapp.MessageFilter{RoomID: s.room, After: cmp.Or(from, leastID), Limit: chatapp.MaxHistoryLimit, MaxBytes: fillBytes})
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The page follows from, each message right after the one before it;
	// pushes may have moved last along the same chain meanwhile.
	for _, m := range page.Messages {
		if m.ID <= s.last || s.closed {
			continue
		}
		data, err := chatapp.MarshalJSON(m)
		if err != nil {
			return false, err
		}
		s.deliverLocked(m.ID, data)
	}
	s.releaseLocked()
	s.flushLocked()
	return page.More, nil
}

// deliverLocked moves last to one message, whose push flushLocked hands
// to the room's members.
func (s *sequencer) deliverLocked(id string, data []byte) {
	if s.closed {
		return
	}
	s.out = append(s.out, data)
	s.last = id
}

// flushLocked hands what was delivered to the room's members, in one
// batch: a socket gets it in one write.
func (s *sequencer) flushLocked() {
	if len(s.out) > 0 && !s.closed {
		s.deliver(s.out)
	}
	s.out = nil
}

// releaseLocked delivers the held pushes that follow last, one after the
// other.
func (s *sequencer) releaseLocked() {
	for !s.closed {
		h, ok := s.held[s.last]
		if !ok {
			return
		}
		s.unholdLocked(s.last)
		if h.id > s.last {
			s.deliverLocked(h.id, h.data)
		}
	}
}

// pruneLocked drops the held pushes of messages delivered already.
func (s *sequencer) pruneLocked() {
	for prev, h := range s.held {
		if h.id <= s.last {
			s.unholdLocked(prev)
		}
	}
}

// dropHeldLocked forgets every held push.
func (s *sequencer) dropHeldLocked() {
	for prev := range s.held {
		s.unholdLocked(prev)
	}
}

// armLocked schedules a sync for a break that the broker has not closed:
// held pushes wait for it at most the sequencer's wait, and so do dropped
// ones, which only a read brings.
func (s *sequencer) armLocked() {
	if (len(s.held) > 0 || s.missed) && s.timer == nil && !s.syncing && !s.closed {
		s.timer = time.AfterFunc(s.wait, s.sync)
	}
}

// retryLocked schedules a sync after a failed one.
func (s *sequencer) retryLocked() {
	if s.timer == nil && !s.closed {
		s.timer = time.AfterFunc(s.wait, s.sync)
	}
}

// behind reports whether the room's message id, stored, is past the last
// the sequencer delivered, once it has started.
func (s *sequencer) behind(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started && !s.closed && id > s.last
}

// close stops the sequencer: once it returns, nothing more is delivered.
func (s *sequencer) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	s.dropHeldLocked()
}
