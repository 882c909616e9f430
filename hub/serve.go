// A connection's read loop, with the limits its owner gives it.

package hub

import (
	"bytes"
	"errors"
	"io"
	"net"
	"time"

	"github.com/gobwas/ws"
)

// Limits bound one connection, as its owner (the gateway, which emulates
// API Gateway's quotas) gives them to Start. Every field must be set but
// FrameRate and MaxFrameBytes, whose zero is no limit: a zero timeout
// closes at once, a zero MaxMessageBytes refuses every message.
type Limits struct {
	// IdleTimeout closes a connection with no message from its client for
	// this long; MaxDuration closes it this long after it opened.
	IdleTimeout, MaxDuration time.Duration
	// MaxFrameBytes bounds each data frame (a whole message or one
	// fragment of it), MaxMessageBytes a message with its fragments
	// joined: a larger one closes with 1009.
	MaxFrameBytes, MaxMessageBytes int64
	// MessageTimeout bounds how long a message may take to arrive once it
	// is seen incomplete (slowmessage.go).
	MessageTimeout time.Duration
	// FrameRate and FrameBurst bound the frames the client may send
	// (throttle.go); 0 means no limit.
	FrameRate  float64
	FrameBurst int
}

// Handler is what a served connection's messages and end are handed to.
type Handler interface {
	// Message is called with each whole text message, in order, on the
	// connection's read loop: the next is not read until it returns.
	Message(c *Client, payload []byte)
	// Refused is called with the hub's own answer to a frame it refused
	// (a rate_limited error frame), on the read loop: the handler sends it
	// after the answers of the messages before it, and may hold the read
	// loop until then, so that no later message overtakes it.
	Refused(c *Client, answer []byte)
	// Closed is called once the connection has closed and left its room
	// ($disconnect); the hub forgets the client once it returns.
	Closed(c *Client, d Disconnect)
}

// Start serves an upgraded connection on a goroutine of its own, with a
// small stack, until it ends; it then hands the end to h and forgets the
// client. early holds bytes the client sent right behind its handshake,
// read before the connection: Start copies them (they are the HTTP
// server's buffer) before it returns. A panic anywhere in the goroutine
// ends the connection with 1011, never the process.
func (c *Client) Start(conn net.Conn, early []byte, limits Limits, h Handler) {
	var in io.Reader = conn
	if len(early) > 0 {
		in = io.MultiReader(bytes.NewReader(bytes.Clone(early)), conn)
	}
	go func() {
		defer c.Forget()
		lazy := &lazyReader{conn: in}
		d := c.serve(conn, lazy, &limits, h)
		c.closed(h, d)
	}()
}

// serve reads the connection until it ends, and returns why, once the
// close handshake is over and the connection dropped.
func (c *Client) serve(conn net.Conn, lazy *lazyReader, limits *Limits, h Handler) (d Disconnect) {
	defer func() {
		if v := recover(); v != nil {
			c.hub.panics.Recovered(panicSocket, v)
			c.Close(DisconnectInternal)
			c.lifetime.stop()
			c.hub.Left(c.id)
			conn.Close()
			d = c.writer.disconnect()
		}
	}()
	c.writer.attach(conn)
	c.lifetime.start(c, limits.IdleTimeout, limits.MaxDuration)
	mr := &messageReader{r: lazy, limit: limits.MaxMessageBytes, frameLimit: limits.MaxFrameBytes, wait: messageWait{writer: c.writer, lazy: lazy, timeout: limits.MessageTimeout}}
	err := c.readMessages(mr, limits, h)
	c.lifetime.stop()
	// The closing connection leaves its room at once (no broadcast lists
	// it), but the hub keeps it until its $disconnect has run: the sweep
	// spares its row, and $disconnect is the one that removes it and
	// announces the leave.
	c.hub.Left(c.id)
	c.awaitClose(conn, lazy, refused(err))
	return c.writer.disconnect()
}

// closed hands the connection's end to h; a panic of h is counted as the
// connection's.
func (c *Client) closed(h Handler, d Disconnect) {
	defer func() {
		if v := recover(); v != nil {
			c.hub.panics.Recovered(panicSocket, v)
		}
	}()
	h.Closed(c, d)
}

// errPanicked ends a read loop that panicked; errBinaryFrame, one that met
// a binary frame.
var (
	errPanicked    = errors.New("the read loop panicked")
	errBinaryFrame = errors.New("binary frame")
)

// refused reports whether the read ended on a frame the hub refused (too
// big, malformed, binary, a message too slow, a panic): the client may
// still be sending.
func refused(err error) bool {
	for _, e := range []error{errMessageTooBig, errFrameTooBig, errProtocol, errSlowMessage, errPanicked, errBinaryFrame} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// readMessages runs the read loop. A panic in it (the handler's included)
// closes the connection with 1011, which then ends as any other.
func (c *Client) readMessages(mr *messageReader, limits *Limits, h Handler) (err error) {
	defer func() {
		if v := recover(); v != nil {
			c.hub.panics.Recovered(panicSocket, v)
			c.Close(DisconnectInternal)
			err = errPanicked
		}
	}()
	return c.readLoop(mr, limits, h)
}

// awaitClose gives the writer a moment to send the close frame, then drops
// the connection. After a frame it refused, it first reads and drops what
// the client still sends, until the client closes or closeWait passes:
// closing with unread bytes would reset the connection, and the client
// would lose the close frame that says why.
func (c *Client) awaitClose(conn net.Conn, in io.Reader, linger bool) {
	deadline := time.Now().Add(closeWait)
	c.writer.await(closeWait)
	if linger {
		conn.SetReadDeadline(deadline)
		io.Copy(io.Discard, in)
	}
	conn.Close()
}

// readLoop hands every message to h until the connection ends, and
// returns the error that ended it (nil for a close frame).
//
// Every frame spends the frame budget (allowFrame): a message's fragments
// each, the frame that ends it, control frames. A message one of whose
// fragments was refused is read to its end and dropped, not handed on.
func (c *Client) readLoop(mr *messageReader, limits *Limits, h Handler) error {
	refusedPart := false // a fragment of the message being read was refused
	for {
		msg, err := mr.next()
		if err != nil {
			c.Close(readFailure(err))
			return err
		}
		if msg.op == ws.OpClose {
			// The client's close, or its answer to ours (the first wins).
			c.Close(clientClose(msg.payload))
			return nil
		}
		if c.isClosing() {
			continue // closed by us: only the client's close frame matters now
		}
		if msg.op == ws.OpBinary {
			// API Gateway takes no binary frame: it closes the connection
			// with 1003 on the first one, a message's first fragment
			// included, and routes nothing (docs/aws-fidelity.md).
			c.Close(DisconnectBinary)
			return errBinaryFrame
		}
		// A message, or a fragment of one, is activity; a ping or a pong is
		// not: AWS documents no more than that API Gateway closes a
		// connection idle for 10 minutes, so a client must keep its
		// connection with messages (the ping route), and locally it must.
		if msg.op != ws.OpPing && msg.op != ws.OpPong {
			c.touch()
		}
		// Pings and pongs spend the frame budget too: a ping flood is
		// closed as a data flood is, and so is a flood of fragments.
		allowed := c.allowFrame(limits, h)
		switch {
		case msg.more:
			refusedPart = refusedPart || !allowed
			continue
		case msg.op == ws.OpPing:
			if allowed {
				c.writer.pong(msg.payload)
			}
			continue
		case msg.op == ws.OpPong:
			continue
		}
		// A whole data message.
		if !allowed || refusedPart {
			refusedPart = false
			continue
		}
		h.Message(c, msg.payload)
	}
}

// readFailure is why a read that failed ends the connection: 1009 for an
// oversize frame or message, 1002 for a protocol error, 1008 for a message
// that did not arrive in time, or a connection lost (1006). A connection
// the hub was closing already keeps its own reason (the first close wins).
func readFailure(err error) Disconnect {
	switch {
	case errors.Is(err, errFrameTooBig), errors.Is(err, errMessageTooBig):
		return disconnectTooBig(err)
	case errors.Is(err, errProtocol):
		return DisconnectProtocol
	case errors.Is(err, errSlowMessage):
		return DisconnectSlowMessage
	}
	return DisconnectLost
}
