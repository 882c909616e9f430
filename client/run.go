// The client's goroutine: it delivers the events of one connection after
// another, reconnecting with backoff when one ends, until Close.

package client

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/chatapp-dev/chatapp"
)

// stableConnection is how long a connection must have stayed up for
// the next reconnection to start the backoff again from its first
// attempt (the web page's STABLE_CONNECTION_MS). A connection that
// ends sooner counts as a failed attempt: a server that closes every
// socket right after the handshake is met with a growing backoff, not
// a reconnection (and a catch-up GET) every MinBackoff.
const stableConnection = 5 * time.Second

// run delivers the events of one connection after another until Close.
// attempt is the reconnection attempt that made the connection: it goes
// back to 0 only once a connection has stayed up stableConnection.
func (c *Client) run(s *session, batch []*chatapp.Message) {
	defer close(c.done)
	defer close(c.events)
	defer c.closeOutbox() // before Events closes: its PUTs may emit
	attempt, truncated := 0, false
	for {
		err := c.serve(s, batch, attempt, truncated)
		c.setConn(nil)
		closing := c.ctx.Err() != nil
		s.close(closing)
		if closing {
			return
		}
		c.socketEnded()
		c.log.Info("chatapp client: connection lost", "room_id", c.cfg.Room, "err", err)
		if time.Since(s.opened) >= stableConnection {
			attempt = 0
		}
		if s, batch, truncated, attempt = c.reconnect(err, attempt); s == nil {
			return
		}
	}
}

// serve delivers the events of one connection: Connected, then the batch of
// missed messages merged with the pushes that arrived while it was read,
// then the live frames. It returns why the connection ended.
func (c *Client) serve(s *session, batch []*chatapp.Message, attempt int, truncated bool) error {
	if !c.emit(Event{Kind: KindConnected, Attempt: attempt}) {
		return c.ctx.Err()
	}
	var others []Event
	var ended error
drain:
	for {
		select {
		case f := <-s.frames:
			if f.err != nil {
				ended = f.err
				break drain
			}
			if ev, ok := c.parse(f.data); ok && ev.Kind == KindMessage {
				batch = append(batch, ev.Message)
			} else if ok {
				others = append(others, ev)
			}
		default:
			break drain
		}
	}
	for _, m := range c.dedupe.merge(batch) {
		if !c.emit(Event{Kind: KindMessage, Message: m}) {
			return c.ctx.Err()
		}
		c.confirm(m)
	}
	if truncated && !c.emit(Event{Kind: KindError, Err: ErrCatchUpTruncated}) {
		return c.ctx.Err()
	}
	for _, ev := range others {
		if !c.deliver(ev) {
			return c.ctx.Err()
		}
	}
	if ended != nil {
		return ended
	}
	for {
		select {
		case <-c.ctx.Done():
			return c.ctx.Err()
		case f := <-s.frames:
			if f.err != nil {
				return f.err
			}
			ev, ok := c.parse(f.data)
			if !ok || (ev.Kind == KindMessage && !c.dedupe.accept(ev.Message.ID)) {
				continue
			}
			if !c.deliver(ev) {
				return c.ctx.Err()
			}
		}
	}
}

// reconnect opens a new connection, with backoff, from the attempt after
// last (0: the last connection was stable), and reads the messages missed
// since the last one delivered. It returns the session and the attempt
// that made it, or a nil session on Close.
func (c *Client) reconnect(cause error, last int) (s *session, batch []*chatapp.Message, truncated bool, attempt int) {
	for attempt = last + 1; ; attempt++ {
		delay := backoff(attempt, c.cfg.MinBackoff, c.cfg.MaxBackoff)
		if !c.emit(Event{Kind: KindReconnecting, Attempt: attempt, Delay: delay, Err: cause}) {
			return nil, nil, false, 0
		}
		timer := time.NewTimer(delay)
		select {
		case <-c.ctx.Done():
			timer.Stop()
			return nil, nil, false, 0
		case <-timer.C:
		}
		var err error
		s, err = c.connect(c.ctx)
		if refusedForGood(err) {
			c.log.Info("chatapp client: reconnection refused: stopping", "room_id", c.cfg.Room, "err", err)
			// The sends the lost socket handed to PUT report first.
			c.closeOutbox()
			c.emit(Event{Kind: KindClosed, Err: err})
			c.cancel() // SendWS says ErrClosed from now on
			return nil, nil, false, 0
		}
		if err != nil {
			c.log.Debug("chatapp client: reconnect failed", "attempt", attempt, "err", err)
			cause = err
			continue
		}
		batch, truncated, err = c.catchUp(c.ctx)
		if err != nil {
			c.log.Debug("chatapp client: catch-up failed", "attempt", attempt, "err", err)
			s.close(false)
			cause = err
			continue
		}
		c.setConn(s.conn)
		return s, batch, truncated, attempt
	}
}

// deliver emits an event of the socket, and settles the socket send it
// answers: a message confirms its sender's, an error frame answers one.
func (c *Client) deliver(ev Event) bool {
	if !c.emit(ev) {
		return false
	}
	switch ev.Kind {
	case KindMessage:
		c.confirm(ev.Message)
	case KindError:
		c.answered(ev.Err)
	}
	return true
}

// emit delivers one event, waiting for room in the channel until Close.
func (c *Client) emit(ev Event) bool {
	select {
	case c.events <- ev:
		return true
	case <-c.ctx.Done():
		return false
	}
}

func (c *Client) setConn(conn *websocket.Conn) {
	c.mu.Lock()
	c.conn = conn
	c.mu.Unlock()
}

// refusedForGood tells whether a failed handshake will fail again
// however often it is tried: a 4xx other than 408 and 429 (an invalid
// room, a token expired or refused, a user over the connection quota).
func refusedForGood(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode >= 400 && e.StatusCode < 500 &&
		e.StatusCode != http.StatusRequestTimeout && e.StatusCode != http.StatusTooManyRequests
}

// backoff is the wait before attempt n (from 1) of a reconnection or a
// retried send: full jitter, a random time in [0, min(hi, lo·2ⁿ)].
func backoff(attempt int, lo, hi time.Duration) time.Duration {
	ceil := hi
	if attempt < 30 {
		if c := lo << attempt; c > 0 && c < hi {
			ceil = c
		}
	}
	return rand.N(ceil + 1)
}
