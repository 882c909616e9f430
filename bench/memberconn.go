package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/gobwas/ws"
)

// memberConn is a receiving member's WebSocket, read with gobwas/ws: a
// member only reads, and reading through a light frame reader keeps the
// load generator's CPU, which shares the machine with the server, off the
// measurements. (Senders use coder/websocket, a full client.)
type memberConn struct {
	conn net.Conn
	r    *bufio.Reader
	buf  []byte
}

// dialMember opens a member's WebSocket to url from source ("" for any
// address).
func dialMember(ctx context.Context, source, url string) (*memberConn, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if source != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(source)}
	}
	dialer := ws.Dialer{NetDial: d.DialContext}
	conn, br, _, err := dialer.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	if br == nil {
		br = bufio.NewReaderSize(conn, 4096)
	}
	return &memberConn{conn: conn, r: br}, nil
}

// errClosed is a close frame from the server.
type errClosed struct {
	code   ws.StatusCode
	reason string
}

func (e errClosed) Error() string { return fmt.Sprintf("close %d %s", e.code, e.reason) }

// next returns the next text message; the slice is valid until the next call.
func (c *memberConn) next() ([]byte, error) {
	c.buf = c.buf[:0]
	for {
		h, err := ws.ReadHeader(c.r)
		if err != nil {
			return nil, err
		}
		if h.Length > 1<<20 || int64(len(c.buf))+h.Length > 4<<20 {
			return nil, fmt.Errorf("frame of %d bytes after %d of its message", h.Length, len(c.buf))
		}
		start := len(c.buf)
		c.buf = append(c.buf, make([]byte, h.Length)...)
		if _, err := io.ReadFull(c.r, c.buf[start:]); err != nil {
			return nil, err
		}
		if h.Masked {
			ws.Cipher(c.buf[start:], h.Mask, 0)
		}
		switch {
		case h.OpCode == ws.OpClose:
			code, reason := ws.ParseCloseFrameData(c.buf[start:])
			return nil, errClosed{code, reason}
		case h.OpCode.IsControl():
			c.buf = c.buf[:start] // the server sends no pings; ignore pongs
			continue
		case !h.Fin:
			continue
		}
		return c.buf, nil
	}
}

func (c *memberConn) Close() error { return c.conn.Close() }
