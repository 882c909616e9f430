// A read buffer taken only while a frame is in progress: an idle
// connection holds none.

package hub

import (
	"io"
	"sync"
)

// lazyReader reads a client's connection with no buffer of its own while
// the client is quiet: a read that waits for the next frame goes straight
// into the caller's few bytes. Once a frame has begun to arrive, the rest of
// it (and whatever followed) is read in one call into a pooled buffer, which
// is returned when drained. A small frame costs two reads, an idle
// connection no buffer.
type lazyReader struct {
	conn io.Reader
	buf  *[]byte // pooled; nil when drained
	r, w int
}

const lazyBufferSize = 16 << 10

var readBuffers = sync.Pool{New: func() any { b := make([]byte, lazyBufferSize); return &b }}

// buffered is how many bytes have arrived and are not read yet.
func (l *lazyReader) buffered() int { return l.w - l.r }

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
