// Socket sends waiting for their push (docs/protocol.md, "Client
// algorithm", step 3): confirmed by it, refused by an error frame, or sent
// again by PUT under their idempotency key when it does not come (or the
// error frame says rate_limited).

package client

import (
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/chatapp-dev/chatapp"
)

// sendConfirm is how long a socket send waits for its push before it is
// sent again by PUT.
const sendConfirm = 10 * time.Second

// maxWaitingSends bounds the socket sends not settled yet, waiting for
// their push or going again by PUT, each of which holds its text (16 KiB
// at most) and a timer or a goroutine. It is the server's queue of one
// socket in frames (1024, hub's maxQueuedFrames): the pushes of more sends
// than that, sent at once, would overflow the queue, and the server would
// drop the socket as a slow consumer. The queue is also bounded in bytes
// (8 MiB) and holds the room's other pushes: a client sending long texts
// into a busy room can be dropped below this bound, reconnects and sends
// what was waiting by PUT. A send past it goes by PUT at once,
// under its key (SendWS): its caller waits for the answer, which holds
// back a caller faster than its pushes come.
const maxWaitingSends = 1024

// errOutboxFull is add's refusal of a send past maxWaitingSends.
var errOutboxFull = errors.New("client: too many socket sends waiting for their push")

// socketSend is a message sent on the socket and not yet confirmed.
type socketSend struct {
	text, key string
	timer     *time.Timer
}

// outbox holds the socket sends waiting for their push, oldest first.
// Whoever takes a send out of it (its push, its refusal, its timer, the
// socket's end) settles it, once.
type outbox struct {
	mu        sync.Mutex
	most      int // of sends waiting and resending: maxWaitingSends, or a test's
	waiting   []*socketSend
	resending int            // sends taken out and going by PUT
	closed    bool           // the client is closing: nothing is sent again
	resends   sync.WaitGroup // PUTs of sends taken out; Close waits for them
}

// add records s: it returns ErrClosed once the client is closing, and
// errOutboxFull when the most sends wait or go again by PUT.
func (o *outbox) add(s *socketSend) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case o.closed:
		return ErrClosed
	case len(o.waiting)+o.resending >= o.most:
		return errOutboxFull
	}
	o.waiting = append(o.waiting, s)
	return nil
}

// take removes s, and reports whether it was still waiting.
func (o *outbox) take(s *socketSend) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	i := slices.Index(o.waiting, s)
	if i < 0 {
		return false
	}
	o.waiting = slices.Delete(o.waiting, i, i+1)
	s.timer.Stop()
	return true
}

// confirm settles the oldest send of m's text when m is the client's own
// message: its push. A push carries no key (the original client's
// fields), so the text is what ties them.
func (c *Client) confirm(m *chatapp.Message) {
	if m.UserID != c.userID {
		return
	}
	o := &c.outbox
	o.mu.Lock()
	defer o.mu.Unlock()
	if i := slices.IndexFunc(o.waiting, func(s *socketSend) bool { return s.text == m.Text }); i >= 0 {
		o.waiting[i].timer.Stop()
		o.waiting = slices.Delete(o.waiting, i, i+1)
	}
}

// answered settles the oldest send with an error frame (delivered as a
// KindError event): an error frame names no send. A code whose status a
// PUT would retry (retryable: rate_limited, whose frame may not have been
// routed; unavailable and internal, faults after which the message may or
// may not be stored) sends it by PUT; any other code is the server's
// refusal: it is not sent again.
func (c *Client) answered(err error) {
	o := &c.outbox
	o.mu.Lock()
	if len(o.waiting) == 0 {
		o.mu.Unlock()
		return
	}
	oldest := o.waiting[0]
	if retryable(c.ctx, err) {
		o.mu.Unlock()
		c.sendAgain(oldest)
		return
	}
	oldest.timer.Stop()
	o.waiting = o.waiting[1:]
	o.mu.Unlock()
}

// sendAgain sends s by PUT under its key, if it is still waiting: whether
// or not its frame was stored, the message is stored once. A send that
// fails for good is reported as a KindError event.
func (c *Client) sendAgain(s *socketSend) {
	o := &c.outbox
	o.mu.Lock()
	defer o.mu.Unlock()
	i := slices.Index(o.waiting, s)
	if i < 0 || o.closed {
		return
	}
	o.waiting = slices.Delete(o.waiting, i, i+1)
	s.timer.Stop()
	o.resending++
	o.resends.Add(1)
	go func() {
		defer o.resends.Done()
		if _, err := c.send(c.ctx, s.text, s.key); err != nil && c.ctx.Err() == nil {
			c.emit(Event{Kind: KindError, Err: err})
		}
		o.mu.Lock()
		o.resending--
		o.mu.Unlock()
	}()
}

// socketEnded sends every waiting send again by PUT: the socket they went
// on is gone, and their pushes with it.
func (c *Client) socketEnded() {
	c.outbox.mu.Lock()
	waiting := slices.Clone(c.outbox.waiting)
	c.outbox.mu.Unlock()
	for _, s := range waiting {
		c.sendAgain(s)
	}
}

// closeOutbox stops every timer and waits for the PUTs under way, which
// Close has canceled: after it, nothing emits an event.
func (c *Client) closeOutbox() {
	o := &c.outbox
	o.mu.Lock()
	o.closed = true
	for _, s := range o.waiting {
		s.timer.Stop()
	}
	o.waiting = nil
	o.mu.Unlock()
	o.resends.Wait()
}
