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
