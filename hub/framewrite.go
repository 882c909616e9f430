// Writing frames to a socket, through pooled buffers.

package hub

import (
	"bufio"
	"encoding/binary"
	"io"
	"sync"

	"github.com/gobwas/ws"
)

// writeBufferSize holds many pushes per flush; writers borrow buffers from
// a pool, so idle connections hold none.
const writeBufferSize = 32 << 10

var buffers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, writeBufferSize) }}

func getBuffer(w io.Writer) *bufio.Writer {
	bw := buffers.Get().(*bufio.Writer)
	bw.Reset(w)
	return bw
}

func putBuffer(bw *bufio.Writer) {
	bw.Reset(nil)
	buffers.Put(bw)
}

// writeFrame writes one unfragmented, unmasked server frame. The header is
// built in the buffer itself: this runs once per delivery.
func writeFrame(w *bufio.Writer, op ws.OpCode, payload []byte) error {
	if _, err := w.Write(appendHeader(w.AvailableBuffer(), op, len(payload))); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

// appendFrame appends one unfragmented, unmasked server frame to b.
func appendFrame(b []byte, op ws.OpCode, payload []byte) []byte {
	return append(appendHeader(b, op, len(payload)), payload...)
}

// appendHeader appends the header of an unfragmented, unmasked server
// frame of n bytes.
func appendHeader(b []byte, op ws.OpCode, n int) []byte {
	b = append(b, 0x80|byte(op))
	switch {
	case n < 126:
		return append(b, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, 127), uint64(n))
	}
}
