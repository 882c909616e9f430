package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/coder/websocket"
	"github.com/gobwas/ws"

	"github.com/chatapp-dev/chatapp/protocol"
)

// The client protocols the load generator speaks: chatapp's own (the
// default) and Centrifugo's JSON protocol (centrifugo.go), so that both
// servers are measured by the same members, senders and checks.

// Protocol names of Config.Protocol.
const (
	ProtocolChatapp    = "chatapp"
	ProtocolCentrifugo = "centrifugo"
)

// wire is what members and senders need to know of a server's protocol.
type wire interface {
	// url is the WebSocket URL a member or sender of room dials as user.
	url(base, room, user string) string
	// join is what a connection says after the handshake to become a
	// member of room; it returns once the server has agreed.
	join(ctx context.Context, c frameConn, room string) error
	// sendFrame is the frame that sends the seq-th text of sender to room.
	sendFrame(room, text string, sender, seq int) []byte
	// split calls each for every message in frame and returns the frame
	// to answer with (a pong), or nil.
	split(frame []byte, each func(msg []byte)) (reply []byte)
}

// wireOf returns the protocol of a name ("" is chatapp's).
func wireOf(name string) (wire, error) {
	switch name {
	case "", ProtocolChatapp:
		return chatappWire{}, nil
	case ProtocolCentrifugo:
		return centrifugoWire{}, nil
	}
	return nil, fmt.Errorf("unknown protocol %q: want %s or %s", name, ProtocolChatapp, ProtocolCentrifugo)
}

// frameConn is a connection's frames, for join.
type frameConn interface {
	write(ctx context.Context, frame []byte) error
	read(ctx context.Context) ([]byte, error)
}

// chatappWire is chatapp's protocol: the room is in the URL, one message
// a frame, no pings to answer.
type chatappWire struct{}

func (chatappWire) url(base, room, user string) string { return wsURL(base, room, user) }

func (chatappWire) join(context.Context, frameConn, string) error { return nil }

func (chatappWire) sendFrame(_, text string, _, _ int) []byte {
	// Built by hand: the benchmark's texts need no escapes.
	return []byte(`{"action":"` + protocol.ActionSendMessage + `","text":"` + text + `"}`)
}

func (chatappWire) split(frame []byte, each func([]byte)) []byte {
	each(frame)
	return nil
}

// senderConn is a sender's coder/websocket connection as a frameConn.
type senderConn struct{ c *websocket.Conn }

func (s senderConn) write(ctx context.Context, frame []byte) error {
	return s.c.Write(ctx, websocket.MessageText, frame)
}

func (s senderConn) read(ctx context.Context) ([]byte, error) {
	_, b, err := s.c.Read(ctx)
	return b, err
}

// write sends a member's text frame (masked, as a client's must be).
// Its deadline is ctx's, or writeTimeout: a server that stops reading
// must not hold a member's reader.
func (c *memberConn) write(ctx context.Context, frame []byte) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(writeTimeout)
	}
	c.conn.SetWriteDeadline(deadline)
	return ws.WriteFrame(c.conn, ws.MaskFrame(ws.NewTextFrame(frame)))
}

// read is next, bounded by ctx's deadline.
func (c *memberConn) read(ctx context.Context) ([]byte, error) {
	if d, ok := ctx.Deadline(); ok {
		c.conn.SetReadDeadline(d)
		defer c.conn.SetReadDeadline(time.Time{})
	}
	return c.next()
}
