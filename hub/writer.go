// A connection's writer: its bounded send queue, its pong and its close.

package hub

import (
	"net"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/gobwas/ws"
)

// Bounds of a connection's send queue. A consumer that falls this far
// behind is dropped rather than allowed to stall its room or grow the
// server's memory without end.
const (
	maxQueuedFrames = 1024
	maxQueuedBytes  = 8 << 20
	// closeWait is how long a connection that sent its close frame waits
	// for the client's before it drops the connection.
	closeWait = 5 * time.Second
)

// writeTimeout bounds a writer goroutine's flush: a client that stops
// reading is dropped once it has held a write this long (Hub.writeTimeout,
// shorter in tests).
const writeTimeout = 10 * time.Second

// writer owns everything a connection sends and how it ends: the send
// queue, the pending pong, the close (the first Disconnect wins), and who
// writes: one writer at a time holds the turn (writing), its goroutine
// (loop) or a broadcast's flusher (directwrite.go), which hands the turn
// to the goroutine for anything it cannot finish.
//
// What a client can make it hold is bounded: the queue by maxQueuedFrames
// and maxQueuedBytes, and pongs by one: a ping arriving while the answer to
// the previous one is unsent replaces it (RFC 6455 §5.5.3 lets an endpoint
// answer only the most recent ping), so a client that pings and never
// reads costs at most one pong.
//
// An idle connection costs no writer goroutine and no buffer: one is
// started when frames are queued, with a buffer from a pool, and ends when
// the queue is empty. Frames queued while it writes go out in the same
// flush, so a busy connection makes one write call for many frames; and
// before each flush it yields (runtime.Gosched), so that goroutines ready
// to run first (broadcasts queuing more frames here) do, and their frames
// share the write. A broadcast's frames are mostly written by flushers
// instead (directwrite.go), which yield the same way.
type writer struct {
	// recovered counts and logs a panic of the writer goroutine.
	recovered func(v any)
	timeout   time.Duration // of a flush: writeTimeout

	mu          sync.Mutex
	conn        net.Conn        // nil until the handshake completes
	raw         syscall.RawConn // conn's socket, for direct writes (directwrite.go); nil: none
	leftover    []byte          // what a direct write left unwritten: the goroutine writes it first
	queue       [][]byte        // text frames: shared pushes, error frames
	queuedBytes int
	pongData    []byte // the payload of the ping to answer, if pongPending
	pongPending bool
	writing     bool          // a writer holds the turn: the goroutine runs, or a flusher owes a flushDirect
	stopped     chan struct{} // closed when the goroutine stops, if someone waits for that
	// closing and done say the same, that the connection started
	// closing, to two readers: closing to code under mu, done to those
	// that wait for it or look without the lock (isClosing).
	closing   bool
	done      chan struct{}
	closeSent bool
	why       Disconnect // set once closing
}

func newWriter(recovered func(v any), timeout time.Duration) *writer {
	return &writer{recovered: recovered, timeout: timeout, done: make(chan struct{})}
}

// enqueue queues text frames, in order, without blocking: all of them or,
// past the queue's bounds, none, and the connection is dropped. Frames
// queued before the handshake's end are sent once it ends (attach). It
// reports false when the connection is closing or its queue overflowed.
func (w *writer) enqueue(frames ...[]byte) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.queueLocked(frames) {
		return false
	}
	w.kickLocked()
	return true
}

// queueLocked queues frames within the queue's bounds, or, past them,
// drops the connection; it reports false then, or when it is closing.
func (w *writer) queueLocked(frames [][]byte) bool {
	if w.closing {
		return false
	}
	size := 0
	for _, f := range frames {
		size += len(f)
	}
	if len(w.queue)+len(frames) > maxQueuedFrames || w.queuedBytes+size > maxQueuedBytes {
		w.closeLocked(DisconnectSlowConsumer)
		return false
	}
	w.queue = append(w.queue, frames...)
	w.queuedBytes += size
	return true
}

// pong answers a ping, in place of an answer still unsent: one pong at
// most waits, written ahead of the queue. A closing connection answers no
// more.
func (w *writer) pong(payload []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closing {
		w.pongData, w.pongPending = payload, true
		w.kickLocked()
	}
}

// close starts closing with d; the first call wins. Queued frames are
// dropped; the close frame is sent next, or, if d aborts, the connection
// is dropped at once (which unblocks a write stuck on the client and the
// read loop).
func (w *writer) close(d Disconnect) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closeLocked(d)
}

func (w *writer) closeLocked(d Disconnect) {
	if w.closing {
		return
	}
	w.closing, w.why = true, d
	w.queue, w.queuedBytes = nil, 0
	w.pongData, w.pongPending = nil, false
	close(w.done)
	if d.Abort && w.conn != nil {
		w.conn.Close()
	}
	w.kickLocked()
}

func (w *writer) isClosing() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// disconnect is why the connection closed (zero while it is open).
func (w *writer) disconnect() Disconnect {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.why
}

// pending is what the queue holds unsent, the pong included.
func (w *writer) pending() (frames, bytes int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.queue), w.queuedBytes + len(w.pongData) + len(w.leftover)
}

// setReadDeadline sets the connection's read deadline for a message in
// progress (slowmessage.go), or clears it (zero t), unless the connection
// is closing: its close handshake has a deadline of its own, closeWait,
// which the writer sets under the same lock.
func (w *writer) setReadDeadline(t time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closing && w.conn != nil {
		w.conn.SetReadDeadline(t)
	}
}

// attach gives the writer its connection once the handshake completed,
// and sends what was queued before.
func (w *writer) attach(conn net.Conn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.conn = conn
	if sc, ok := conn.(syscall.Conn); ok {
		w.raw, _ = sc.SyscallConn()
	}
	if w.why.Abort {
		conn.Close()
		return
	}
	w.kickLocked()
}

// kickLocked starts a writer goroutine if there is something to write and
// none runs.
func (w *writer) kickLocked() {
	if w.conn == nil || w.writing || w.why.Abort {
		return
	}
	if len(w.queue) == 0 && !w.pongPending && len(w.leftover) == 0 && !(w.closing && !w.closeSent) {
		return
	}
	w.writing = true
	go w.loop(w.conn)
}

// loop writes the pending pong and queued frames, many per flush, until
// there are none, and the close frame once the connection closes.
func (w *writer) loop(conn net.Conn) {
	bw := getBuffer(conn)
	defer w.recoverLoop(conn)
	for {
		runtime.Gosched() // see writer: more frames per write under load
		w.mu.Lock()
		frames := w.queue
		w.queue, w.queuedBytes = nil, 0
		pong, sendPong := w.pongData, w.pongPending
		w.pongData, w.pongPending = nil, false
		leftover := w.leftover
		w.leftover = nil
		sendClose := w.closing && !w.closeSent && !w.why.Abort
		if sendClose {
			w.closeSent = true
		}
		why := w.why
		stop := len(frames) == 0 && !sendPong && !sendClose && len(leftover) == 0 || w.why.Abort
		if stop {
			// The flushers' direct writes check the socket's write
			// deadline too: one left behind would fail them once passed.
			conn.SetWriteDeadline(time.Time{})
			w.stopLocked()
		}
		w.mu.Unlock()
		if stop {
			putBuffer(bw)
			return
		}

		conn.SetWriteDeadline(time.Now().Add(w.timeout))
		// A direct write's unwritten end comes first: it finishes a
		// frame already begun on the wire.
		_, err := bw.Write(leftover)
		if err == nil && sendPong {
			err = writeFrame(bw, ws.OpPong, pong)
		}
		for _, f := range frames {
			if err != nil {
				break
			}
			err = writeFrame(bw, ws.OpText, f)
		}
		if err == nil && sendClose {
			err = writeFrame(bw, ws.OpClose, closeFrameBody(why.Code, why.Reason))
		}
		if err == nil {
			err = bw.Flush()
		}
		if err != nil {
			w.fail(conn, DisconnectWriteFailed)
			putBuffer(bw)
			return
		}
		if sendClose {
			// The read loop ends on the client's close frame, or at this
			// deadline if none comes. Set under the lock: a message's
			// deadline (setReadDeadline) never replaces it.
			w.closeDeadline(conn)
		}
	}
}

// closeDeadline gives the client closeWait to answer the close frame.
func (w *writer) closeDeadline(conn net.Conn) {
	w.mu.Lock()
	defer w.mu.Unlock() // a panic of conn's must not leave the lock held
	conn.SetReadDeadline(time.Now().Add(closeWait))
}

// fail ends the goroutine on a connection it can no longer write to: the
// connection closes with d unless it was closing already, and is dropped
// either way, with no close frame to follow.
func (w *writer) fail(conn net.Conn, d Disconnect) {
	func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.closeLocked(d)
		w.why.Abort = true
		w.stopLocked()
	}()
	conn.Close()
}

// stopLocked records that the goroutine ends, and tells await.
func (w *writer) stopLocked() {
	w.writing = false
	if w.stopped != nil {
		close(w.stopped)
		w.stopped = nil
	}
}

// await waits, at most d, until no writer holds the turn: the close frame
// is then sent, or the connection is broken.
func (w *writer) await(d time.Duration) {
	w.mu.Lock()
	if !w.writing {
		w.mu.Unlock()
		return
	}
	if w.stopped == nil {
		w.stopped = make(chan struct{})
	}
	stopped := w.stopped
	w.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-stopped:
	case <-t.C:
	}
}

// recoverLoop, deferred by loop, ends a panic of the writer. The
// connection may have been left in the middle of a frame, so no close
// frame can follow: it is dropped, and closes with 1011. The buffer is not
// pooled again.
func (w *writer) recoverLoop(conn net.Conn) {
	v := recover()
	if v == nil {
		return
	}
	w.recovered(v)
	w.fail(conn, DisconnectInternal)
}
