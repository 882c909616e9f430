// A WebSocket connection the hub holds: who opened it, its writer and
// limits, and how it starts, is accepted, takes frames and ends.

package hub

import (
	"sync/atomic"
	"time"

	"github.com/chatapp-dev/chatapp"
)

// Peer is who opened a connection, as API Gateway reports it to the
// functions and to GetConnection.
type Peer struct {
	SourceIP   string
	UserAgent  string
	DomainName string // the Host the client connected to
}

// Client is one WebSocket connection the hub holds, from before its
// $connect runs until its $disconnect has run. Each part of it has one
// owner:
//   - id, peer and connectedAt never change;
//   - the writer owns what is sent and how the connection ends
//     (writer.go);
//   - the lifetime owns the timers that end it (lifetime.go);
//   - the read loop owns the frame budget (throttle.go) and, through
//     touch, lastActive;
//   - the hub's lock guards member, the room it joined (rooms.go).
type Client struct {
	hub         *Hub
	id          string
	peer        Peer
	connectedAt time.Time

	// accepted is set once $connect has returned: as on API Gateway, a
	// connection cannot be posted to before (the hub answers 410).
	accepted   atomic.Bool
	lastActive atomic.Int64 // unix nanoseconds of the last data frame from the client (pings and pongs do not count)
	forgotten  atomic.Bool  // Forget ran

	writer   *writer
	lifetime lifetime
	throttle frameThrottle

	// member is the connection row the functions stored, nil until
	// Joined. Guarded by the hub's lock.
	member *chatapp.Connection
}

// ID is the connection id.
func (c *Client) ID() string { return c.id }

// Peer is who opened the connection.
func (c *Client) Peer() Peer { return c.peer }

// ConnectedAt is when the handshake began.
func (c *Client) ConnectedAt() time.Time { return c.connectedAt }

// Accept marks the end of $connect: from now on the connection can be
// posted to, and what is posted before the handshake's end is sent once
// the connection is served.
func (c *Client) Accept() { c.accepted.Store(true) }

// Enqueue queues text frames for the client, in order, without blocking
// (Post without the lookup); they go out in one write. It reports false
// when the connection is closing, its queue overflowed (which drops it),
// or its $connect has not returned.
func (c *Client) Enqueue(frames ...[]byte) bool {
	return c.accepted.Load() && c.writer.enqueue(frames...)
}

// hold is Enqueue for a broadcast: the frames are written by its flushers
// (directwrite.go) when mustFlush.
func (c *Client) hold(frames ...[]byte) (queued, mustFlush bool) {
	if !c.accepted.Load() {
		return false, false
	}
	return c.writer.hold(frames...)
}

// Close starts closing the connection with d; the first close wins.
func (c *Client) Close(d Disconnect) { c.writer.close(d) }

// Forget drops the client from the hub once what follows its close has
// run ($disconnect): its row may be swept from then on, and Shutdown no
// longer waits for it. Serve forgets the clients it serves once their
// handler's Closed returns; a client that is not served (its handshake
// refused or failed) must be forgotten by its owner. Only the first call
// forgets: it reports whether this one did.
func (c *Client) Forget() bool {
	if c.forgotten.Swap(true) {
		return false
	}
	c.hub.remove(c)
	c.hub.live.Done()
	return true
}

func (c *Client) touch() { c.lastActive.Store(time.Now().UnixNano()) }

func (c *Client) lastActiveAt() time.Time { return time.Unix(0, c.lastActive.Load()) }

func (c *Client) isClosing() bool { return c.writer.isClosing() }
