package bench

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
)

// centrifugoWire is Centrifugo's JSON client protocol over WebSocket, as
// the load generator needs it: every connection sends connect and
// subscribes to the channel "chat:ROOM"; a sender publishes to it. The
// server writes several replies and pushes in one frame, a line each, and
// pings with an empty reply `{}` that the client answers with an empty
// command. Centrifugo keeps no ids for a memory-engine channel, so a
// publication carries the sender's own: its data is
// {"message":"TEXT","id":"SENDER-SEQ"}, the text (latency stamp first) and
// id where parseFrame finds chatapp's.
type centrifugoWire struct{}

// centrifugoPing is the server's ping and the client's pong.
var centrifugoPing = []byte("{}")

func (centrifugoWire) url(base, _, _ string) string { return wsBase(base) + "/connection/websocket" }

func centrifugoChannel(room string) string { return "chat:" + room }

// join sends connect and subscribe in one frame (commands 1 and 2) and
// waits for both replies, answering a ping meanwhile.
func (centrifugoWire) join(ctx context.Context, c frameConn, room string) error {
	hello := `{"id":1,"connect":{}}` + "\n" + `{"id":2,"subscribe":{"channel":"` + centrifugoChannel(room) + `"}}`
	if err := c.write(ctx, []byte(hello)); err != nil {
		return err
	}
	replied := 0
	for replied < 2 {
		frame, err := c.read(ctx)
		if err != nil {
			return err
		}
		var failed []byte
		pong := centrifugoWire{}.split(frame, func(msg []byte) {
			if bytes.HasPrefix(msg, []byte(`{"id":1,`)) || bytes.HasPrefix(msg, []byte(`{"id":2,`)) {
				replied++
				if bytes.Contains(msg, []byte(`"error":`)) {
					failed = msg
				}
			}
		})
		if failed != nil {
			return fmt.Errorf("centrifugo: %s", failed)
		}
		if pong != nil {
			if err := c.write(ctx, pong); err != nil {
				return err
			}
		}
	}
	return nil
}

// sendFrame publishes; command ids 1 and 2 are join's.
func (centrifugoWire) sendFrame(room, text string, sender, seq int) []byte {
	b := make([]byte, 0, len(text)+len(room)+96)
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, int64(seq)+3, 10)
	b = append(b, `,"publish":{"channel":"`...)
	b = append(b, centrifugoChannel(room)...)
	// Built by hand: the benchmark's texts need no escapes.
	b = append(b, `","data":{"message":"`...)
	b = append(b, text...)
	b = append(b, `","id":"`...)
	b = strconv.AppendInt(b, int64(sender), 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(seq), 10)
	return append(b, `"}}}`...)
}

// split calls each for every line of frame but pings, and answers a ping
// with a pong.
func (centrifugoWire) split(frame []byte, each func([]byte)) (reply []byte) {
	for len(frame) > 0 {
		line := frame
		if i := bytes.IndexByte(frame, '\n'); i >= 0 {
			line, frame = frame[:i], frame[i+1:]
		} else {
			frame = nil
		}
		switch {
		case len(line) == 0:
		case bytes.Equal(line, centrifugoPing):
			reply = centrifugoPing
		default:
			each(line)
		}
	}
	return reply
}
