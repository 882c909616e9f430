package gateway

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"sync"

	"github.com/gobwas/ws"
)

// writeBufferSize holds many pushes per flush; writers borrow buffers from
// a pool, so idle sockets hold none.
const writeBufferSize = 32 << 10

var writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, writeBufferSize) }}

func getWriter(w io.Writer) *bufio.Writer {
	bw := writers.Get().(*bufio.Writer)
	bw.Reset(w)
	return bw
}

func putWriter(bw *bufio.Writer) {
	bw.Reset(nil)
	writers.Put(bw)
}

// writeFrame writes one unfragmented, unmasked server frame. The header is
// built in the buffer itself: this runs once per delivery.
func writeFrame(w *bufio.Writer, op ws.OpCode, payload []byte) error {
	hdr := w.AvailableBuffer()
	hdr = append(hdr, 0x80|byte(op))
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, byte(n))
	case n <= 0xffff:
		hdr = binary.BigEndian.AppendUint16(append(hdr, 126), uint16(n))
	default:
		hdr = binary.BigEndian.AppendUint64(append(hdr, 127), uint64(n))
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

// Errors of a client's frames that end the connection.
var (
	errMessageTooBig = errors.New("message larger than 128 KB")
	errProtocol      = errors.New("protocol error")
)

// message is a whole data message a client sent, or a control frame.
type message struct {
	op      ws.OpCode
	payload []byte
}

// messageReader reads a client's messages from its connection.
type messageReader struct {
	r     io.Reader
	limit int64
	// A data message in fragments; control frames may come between them.
	partial   message
	inMessage bool
}

// next reads the next control frame or whole data message (its fragments
// joined) of at most limit bytes. Client frames must be masked; no extension
// is negotiated, so no reserved bit may be set.
func (mr *messageReader) next() (message, error) {
	for {
		h, err := ws.ReadHeader(mr.r)
		if err != nil {
			return message{}, err
		}
		if h.Rsv != 0 || !h.Masked || h.OpCode.IsReserved() {
			return message{}, errProtocol
		}
		if h.OpCode.IsControl() {
			if !h.Fin || h.Length > 125 {
				return message{}, errProtocol
			}
			payload, err := readPayload(mr.r, h, nil)
			return message{h.OpCode, payload}, err
		}
		switch {
		case h.OpCode == ws.OpContinuation && !mr.inMessage, h.OpCode != ws.OpContinuation && mr.inMessage:
			return message{}, errProtocol
		case int64(len(mr.partial.payload))+h.Length > mr.limit:
			return message{}, errMessageTooBig
		}
		if !mr.inMessage {
			mr.partial, mr.inMessage = message{op: h.OpCode}, true
		}
		if mr.partial.payload, err = readPayload(mr.r, h, mr.partial.payload); err != nil {
			return message{}, err
		}
		if h.Fin {
			msg := mr.partial
			mr.partial, mr.inMessage = message{}, false
			return msg, nil
		}
	}
}

// readPayload appends a frame's unmasked payload to buf.
func readPayload(r io.Reader, h ws.Header, buf []byte) ([]byte, error) {
	start := len(buf)
	buf = append(buf, make([]byte, h.Length)...)
	if _, err := io.ReadFull(r, buf[start:]); err != nil {
		return buf, err
	}
	ws.Cipher(buf[start:], h.Mask, 0)
	return buf, nil
}

// lazyReader reads a client's connection with no buffer of its own while
// the client is quiet: a read that waits for the next frame goes straight
// into the caller's few bytes. Once a frame has begun to arrive, the rest of
// it (and whatever followed) is read in one call into a pooled buffer, which
// is returned when drained. A small frame costs two reads, an idle socket no
// buffer.
type lazyReader struct {
	conn io.Reader
	buf  *[]byte // pooled; nil when drained
	r, w int
}

const lazyBufferSize = 16 << 10

var readBuffers = sync.Pool{New: func() any { b := make([]byte, lazyBufferSize); return &b }}

func (l *lazyReader) Read(p []byte) (int, error) {
	if l.buf != nil {
		n := copy(p, (*l.buf)[l.r:l.w])
		if l.r += n; l.r == l.w {
			readBuffers.Put(l.buf)
			l.buf = nil
		}
		return n, nil
	}
	if len(p) <= 2 || len(p) >= lazyBufferSize {
		// The start of a frame (the wait for it), or a large payload.
		return l.conn.Read(p)
	}
	buf := readBuffers.Get().(*[]byte)
	n, err := l.conn.Read(*buf)
	if n == 0 {
		readBuffers.Put(buf)
		return 0, err
	}
	// An error that came with data is met again by the next read.
	l.buf, l.r, l.w = buf, 0, n
	return l.Read(p)
}
