// Direct writes: a broadcast's frames written to a room's sockets by a
// few goroutines, with non-blocking writes, instead of a goroutine per
// socket.

package hub

import (
	"bytes"
	"runtime"
	"syscall"

	"github.com/gobwas/ws"
)

// A broadcast to a room queues its frames on every member (hold) and
// then writes them by flushers, one goroutine per CPU, each walking its
// share of the members: one non-blocking write a socket, of everything
// queued there. A socket that does not take it all, or has more to do (a
// pong, its close), is handed to its own writer goroutine (writer.loop),
// which blocks under writeTimeout as before: a slow client never holds a
// flusher. A quiet room's message then costs its sockets one write each
// and no goroutine. A flusher yields before each write, so under load the
// sends being placed, committed and pushed run first, and a busy room's
// next rounds join the frames still queued for the flushers: the write
// carries them all.
//
// Room of 1,000 (BENCHMARKS.md): at 20 messages/s the server's CPU went
// from 16 µs a delivery to 11, most of it the write itself (the
// loopback's receive included); with 16 senders at saturation, 22 frames
// a write instead of 12, and 4 senders 9 instead of 4.

// directMax bounds the bytes a flusher writes for one socket; a socket
// with more queued is handed to its writer goroutine.
const directMax = 64 << 10

// flushersFor is how many flushers write a broadcast to n sockets: one a
// CPU, and one for a small room, whose writes cost less than a goroutine.
func flushersFor(n int) int {
	if n < 64 {
		return 1
	}
	return min(runtime.GOMAXPROCS(0), n/32)
}

// flush writes the frames held on writers, spread over flushersFor
// goroutines; it returns without waiting for them.
func flush(writers []*writer) {
	if len(writers) == 0 {
		return
	}
	parts := flushersFor(len(writers))
	for i := range parts {
		go flushEach(writers[i*len(writers)/parts : (i+1)*len(writers)/parts])
	}
}

// flushEach is one flusher: a write for each writer, through one buffer.
func flushEach(writers []*writer) {
	var buf []byte
	for _, w := range writers {
		// Yield first: under load, the goroutines ready to run (the
		// sends being placed, committed and pushed) run before this
		// write, and whatever they queue on w meanwhile goes out in it.
		runtime.Gosched()
		buf = w.flushDirect(buf)
	}
}

// hold queues frames as enqueue does, but starts no goroutine when the
// connection can be written directly: it then reports mustFlush, and the
// caller owes the writer a flushDirect. Otherwise the writer's goroutine
// writes them, as for enqueue.
func (w *writer) hold(frames ...[]byte) (queued, mustFlush bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.queueLocked(frames) {
		return false, false
	}
	if w.writing || w.raw == nil {
		w.kickLocked()
		return true, false
	}
	w.writing = true // the caller's flusher writes; no goroutine starts meanwhile
	return true, true
}

// flushDirect writes what the writer holds in one non-blocking write,
// through buf, which it returns for the next writer. What it cannot finish
// goes to the writer's goroutine. A panic (of the connection's) drops the
// connection, as the goroutine's does.
func (w *writer) flushDirect(buf []byte) []byte {
	defer func() {
		if v := recover(); v != nil {
			w.recovered(v)
			w.fail(w.conn, DisconnectInternal)
		}
	}()
	frames, ok := w.takeDirect()
	if !ok {
		return buf
	}
	buf = buf[:0]
	for _, f := range frames {
		buf = appendFrame(buf, ws.OpText, f)
	}
	n, err := writeNonBlocking(w.raw, buf)
	if err != nil {
		w.fail(w.conn, DisconnectWriteFailed)
		return buf
	}
	w.afterDirect(buf[n:])
	if cap(buf) > directMax {
		return nil // a large write's buffer is not kept
	}
	return buf
}

// takeDirect takes the queued frames for a direct write, or hands the
// writer to its goroutine when there is more than frames to send (a pong,
// a close) or too much.
func (w *writer) takeDirect() ([][]byte, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closing || w.pongPending || len(w.leftover) > 0 || w.queuedBytes > directMax {
		go w.loop(w.conn)
		return nil, false
	}
	frames := w.queue
	w.queue, w.queuedBytes = nil, 0
	return frames, true
}

// afterDirect hands unwritten bytes, and anything queued meanwhile, to the
// writer's goroutine, or ends the writer's turn.
func (w *writer) afterDirect(unwritten []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(unwritten) > 0 {
		w.leftover = bytes.Clone(unwritten)
	}
	if len(w.leftover) > 0 || len(w.queue) > 0 || w.pongPending || w.closing && !w.closeSent && !w.why.Abort {
		go w.loop(w.conn)
		return
	}
	w.stopLocked()
}

// writeNonBlocking writes buf to the socket until it would block, and
// reports how much it took. The socket is non-blocking (Go's poller), so
// the write returns EAGAIN rather than wait.
func writeNonBlocking(raw syscall.RawConn, buf []byte) (n int, err error) {
	var werr error
	err = raw.Write(func(fd uintptr) bool {
		for n < len(buf) {
			m, e := syscall.Write(int(fd), buf[n:])
			if m > 0 {
				n += m
			}
			switch {
			case e == syscall.EINTR:
				continue
			case e == syscall.EAGAIN:
				return true
			case e != nil:
				werr = e
				return true
			case m <= 0:
				return true // nothing taken, no error: the goroutine retries
			}
		}
		return true
	})
	if err == nil {
		err = werr
	}
	return n, err
}
