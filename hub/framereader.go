// Reading a client's frames into messages, within the frame and message
// limits, with memory that follows the bytes received.

package hub

import (
	"errors"
	"io"

	"github.com/gobwas/ws"
)

// Errors of a client's frames that end the connection. Both sizes close
// with 1009, as API Gateway does.
var (
	errFrameTooBig   = errors.New("frame larger than 32 KB")
	errMessageTooBig = errors.New("message larger than 128 KB")
	errProtocol      = errors.New("protocol error")
)

// message is a whole data message a client sent, or a control frame, or
// (more) a data frame that does not end its message.
type message struct {
	op      ws.OpCode
	payload []byte
	// more marks a data frame that does not end its message: the reader
	// keeps its payload, and hands out the message whole with its last
	// frame. It is handed out on its own so that every frame a client
	// sends counts against its frame budget, a message's fragments too.
	more bool
}

// messageReader reads a client's messages from its connection.
type messageReader struct {
	r io.Reader
	// limit bounds a data message, its fragments joined; frameLimit, if
	// set, each data frame of it (API Gateway: 128 KB and 32 KB).
	limit, frameLimit int64
	// A data message in fragments; control frames may come between them.
	partial   message
	inMessage bool
	// wait, if set, bounds the time a message takes once it has begun
	// (slowmessage.go).
	wait messageWait
}

// next reads the next frame: a control frame, a whole data message (its
// fragments joined) of at most limit bytes with its last frame, and a
// message{more: true} without payload for each frame before the last. A
// data frame over frameLimit ends the connection (errFrameTooBig) even
// when its message would fit: a client must fragment a large message.
// Client frames must be masked; no extension is negotiated, so no reserved
// bit may be set.
//
// A frame's declared length is the client's word, up to 2^63-1: it is
// checked against what the message may still take, never added to what it
// has (their sum can overflow), and no buffer is sized by it (readPayload).
func (mr *messageReader) next() (message, error) {
	if mr.inMessage {
		mr.wait.expect(ws.MaxHeaderSize) // the next fragment
	}
	h, err := ws.ReadHeader(mr.r)
	if err != nil {
		if errors.Is(err, ws.ErrHeaderLengthMSB) || errors.Is(err, ws.ErrHeaderLengthUnexpected) {
			return message{}, errProtocol
		}
		return message{}, mr.wait.err(err)
	}
	if h.Rsv != 0 || !h.Masked || h.OpCode.IsReserved() || h.Length < 0 {
		return message{}, errProtocol
	}
	if h.OpCode.IsControl() {
		if !h.Fin || h.Length > 125 {
			return message{}, errProtocol
		}
		mr.wait.expect(h.Length)
		payload, err := readPayload(mr.r, h, nil, 125)
		if err != nil {
			return message{}, mr.wait.err(err)
		}
		if !mr.inMessage {
			mr.wait.done()
		}
		return message{op: h.OpCode, payload: payload}, nil
	}
	switch {
	case h.OpCode == ws.OpContinuation && !mr.inMessage, h.OpCode != ws.OpContinuation && mr.inMessage:
		return message{}, errProtocol
	case mr.frameLimit > 0 && h.Length > mr.frameLimit:
		return message{}, errFrameTooBig
	case h.Length > mr.limit-int64(len(mr.partial.payload)):
		return message{}, errMessageTooBig
	}
	if !mr.inMessage {
		mr.partial, mr.inMessage = message{op: h.OpCode}, true
	}
	mr.wait.expect(h.Length)
	if mr.partial.payload, err = readPayload(mr.r, h, mr.partial.payload, int(mr.limit)); err != nil {
		return message{}, mr.wait.err(err)
	}
	if !h.Fin {
		return message{op: h.OpCode, more: true}, nil
	}
	msg := mr.partial
	mr.partial, mr.inMessage = message{}, false
	mr.wait.done()
	return msg, nil
}

// payloadStep bounds how much of a frame's payload is allocated ahead of
// its bytes. A frame of up to payloadStep is read into one buffer of its
// size, as it always was. A larger one is read in steps, each of which
// grows the buffer by payloadStep or by what the message has received so
// far, whichever is more; a message in many small fragments grows its
// buffer by doubling, never past the limit. Memory follows the bytes that
// arrive (at most 2×received + payloadStep, up to the allocator's
// rounding), not the length a client declares and never sends. A read of
// payloadStep goes straight from the connection, not through the lazy
// reader's buffer.
const payloadStep = lazyBufferSize

// readPayload appends a frame's unmasked payload to buf, which the caller
// has checked may grow to limit bytes. On an error, buf holds what was
// read, still masked.
func readPayload(r io.Reader, h ws.Header, buf []byte, limit int) ([]byte, error) {
	start := len(buf)
	for left := h.Length; left > 0; {
		n := int(min(left, int64(max(payloadStep, len(buf)))))
		if cap(buf)-len(buf) < n {
			// Doubling keeps many small fragments from copying the
			// message again for each.
			grown := make([]byte, len(buf), max(len(buf)+n, min(2*len(buf), limit)))
			copy(grown, buf)
			buf = grown
		}
		got, err := io.ReadFull(r, buf[len(buf):len(buf)+n])
		buf = buf[:len(buf)+got]
		if err != nil {
			return buf, err
		}
		left -= int64(n)
	}
	ws.Cipher(buf[start:], h.Mask, 0)
	return buf, nil
}
