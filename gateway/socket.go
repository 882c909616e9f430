package gateway

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/chatapp-dev/chatapp"
)

// Bounds of a socket's send queue. A consumer that falls this far behind is
// dropped rather than allowed to stall its room or grow the server's memory
// without end.
const (
	maxQueuedFrames = 1024
	maxQueuedBytes  = 8 << 20
	writeTimeout    = 10 * time.Second
	// closeWait is how long a socket that sent its close frame waits for
	// the client's before it drops the connection.
	closeWait = 5 * time.Second
)

// socket is one client WebSocket: its send queue, its membership in a room,
// and its timers.
//
// What a client can make it hold is bounded: the queue by maxQueuedFrames
// and maxQueuedBytes, and pongs by one: a ping arriving while the answer to
// the previous one is unsent replaces it (RFC 6455 §5.5.3 lets an endpoint
// answer only the most recent ping), so a client that pings and never reads
// costs at most one pong.
//
// An idle socket costs one goroutine (its read loop) and no buffers: the
// writer is a goroutine started when frames are queued, with a buffer from
// a pool, that ends when the queue is empty. Frames queued while it writes
// go out in the same flush, so a busy socket makes one write call for many
// frames.
type socket struct {
	id          string
	hub         *Hub // reports the socket's recovered panics
	connectedAt time.Time
	sourceIP    string
	userAgent   string
	domainName  string       // the Host the client connected to
	lastActive  atomic.Int64 // unix nanoseconds of the last data frame from the client (pings and pongs do not count)
	// connected is set once $connect has returned: as on API Gateway, a
	// connection cannot be posted to before (the hub answers 410).
	connected atomic.Bool
	throttle  frameThrottle

	// member is the connection row the $connect function stored, set by
	// the tracking store; nil until then. Guarded by the hub's lock.
	member *chatapp.Connection

	idle, maxAge *time.Timer
	// expiresAt is when the token the socket was opened with expires (zero
	// without one): the hub's join records it during $connect, and
	// startTimers ends the socket then. API Gateway checks a token at
	// $connect only; without this a socket would outlive its token by up
	// to the maximum connection duration.
	expiresAt time.Time

	mu          sync.Mutex
	conn        net.Conn // nil until the handshake completes
	queue       [][]byte // text frames: shared pushes, error frames
	queuedBytes int
	pongData    []byte // the payload of the ping to answer, if pongPending
	pongPending bool
	writing     bool          // a writer goroutine runs
	stopped     chan struct{} // closed when the writer stops, if someone waits for that
	closing     bool
	closeSent   bool
	aborted     bool // dropped without a close handshake
	closeCode   ws.StatusCode
	closeReason string
	done        chan struct{} // closed when the socket starts closing
}

func newSocket(h *Hub, id, sourceIP, userAgent, domainName string) *socket {
	s := &socket{
		id: id, hub: h, connectedAt: time.Now(), sourceIP: sourceIP, userAgent: userAgent, domainName: domainName,
		done: make(chan struct{}),
	}
	s.touch()
	return s
}

func (s *socket) touch() { s.lastActive.Store(time.Now().UnixNano()) }

func (s *socket) lastActiveAt() time.Time { return time.Unix(0, s.lastActive.Load()) }

// enqueue queues one text frame without blocking. Frames queued between
// $connect's return and the handshake's end are sent once it ends. It
// reports false when the socket is closing, its queue overflowed, or its
// $connect has not returned: API Gateway answers 410 to such a post.
func (s *socket) enqueue(frame []byte) bool {
	if !s.connected.Load() {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	if len(s.queue) >= maxQueuedFrames || s.queuedBytes+len(frame) > maxQueuedBytes {
		// The client is not reading: a close handshake would only wait on it.
		s.abortLocked("send queue overflow: client too slow")
		return false
	}
	s.queue = append(s.queue, frame)
	s.queuedBytes += len(frame)
	s.kickLocked()
	return true
}

// pong answers a ping, in place of an answer still unsent: one pong at
// most waits, written ahead of the queue. A closing socket answers no more.
func (s *socket) pong(payload []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closing {
		s.pongData, s.pongPending = payload, true
		s.kickLocked()
	}
}

// close starts closing the socket with a close code; the first call wins.
// Queued frames are dropped and the close frame is sent next.
func (s *socket) close(code ws.StatusCode, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeLocked(code, reason)
}

func (s *socket) closeLocked(code ws.StatusCode, reason string) {
	if s.closing {
		return
	}
	s.closing, s.closeCode, s.closeReason = true, code, reason
	s.queue, s.queuedBytes = nil, 0
	s.pongData, s.pongPending = nil, false
	close(s.done)
	s.kickLocked()
}

// abortLocked drops the connection at once: the socket closes with 1008,
// and the client, which is not reading, gets no close frame.
func (s *socket) abortLocked(reason string) {
	s.closeLocked(ws.StatusPolicyViolation, reason)
	s.aborted = true
	if s.conn != nil {
		s.conn.Close() // unblocks a writer stuck on the client and the read loop
	}
}

func (s *socket) isClosing() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// closeStatus is the code and reason the socket closed with.
func (s *socket) closeStatus() (ws.StatusCode, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closeCode, s.closeReason
}

// setMessageDeadline sets the connection's read deadline for a message in
// progress (slowmessage.go), or clears it (zero t), unless the socket is
// closing: its close handshake has a deadline of its own, closeWait.
func (s *socket) setMessageDeadline(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closing && s.conn != nil {
		s.conn.SetReadDeadline(t)
	}
}

// attach gives the socket its connection once the handshake completed, and
// sends what was queued before.
func (s *socket) attach(conn net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conn = conn
	if s.aborted {
		conn.Close()
		return
	}
	s.kickLocked()
}

// kickLocked starts a writer if there is something to write and none runs.
func (s *socket) kickLocked() {
	if s.conn == nil || s.writing || s.aborted {
		return
	}
	if len(s.queue) == 0 && !s.pongPending && !(s.closing && !s.closeSent) {
		return
	}
	s.writing = true
	go s.writeLoop(s.conn)
}

// writeLoop writes the pending pong and queued frames, many per flush,
// until there are none, and the close frame once the socket closes. It is
// the only writer on the connection.
func (s *socket) writeLoop(conn net.Conn) {
	w := getWriter(conn)
	defer s.recoverWriter(conn)
	for {
		s.mu.Lock()
		frames := s.queue
		s.queue, s.queuedBytes = nil, 0
		pong, sendPong := s.pongData, s.pongPending
		s.pongData, s.pongPending = nil, false
		sendClose := s.closing && !s.closeSent && !s.aborted
		if sendClose {
			s.closeSent = true
		}
		code, reason := s.closeCode, s.closeReason
		if len(frames) == 0 && !sendPong && !sendClose || s.aborted {
			s.stopWritingLocked()
			s.mu.Unlock()
			putWriter(w)
			return
		}
		s.mu.Unlock()

		conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		var err error
		if sendPong {
			err = writeFrame(w, ws.OpPong, pong)
		}
		for _, f := range frames {
			if err != nil {
				break
			}
			err = writeFrame(w, ws.OpText, f)
		}
		if err == nil && sendClose {
			err = writeFrame(w, ws.OpClose, closeFrameBody(code, reason))
		}
		if err == nil {
			err = w.Flush()
		}
		if err != nil {
			s.mu.Lock()
			s.closeLocked(ws.StatusGoingAway, "write failed")
			s.aborted = true
			s.stopWritingLocked()
			s.mu.Unlock()
			conn.Close()
			putWriter(w)
			return
		}
		if sendClose {
			// The read loop ends on the client's close frame, or at this
			// deadline if none comes. Set under the lock: a message's
			// deadline (setMessageDeadline) never replaces it.
			s.mu.Lock()
			conn.SetReadDeadline(time.Now().Add(closeWait))
			s.mu.Unlock()
		}
	}
}

// stopWritingLocked records that the writer ends, and tells awaitWriter.
func (s *socket) stopWritingLocked() {
	s.writing = false
	if s.stopped != nil {
		close(s.stopped)
		s.stopped = nil
	}
}

// awaitWriter waits, at most d, until no writer runs: the close frame is
// then sent, or the connection is broken.
func (s *socket) awaitWriter(d time.Duration) {
	s.mu.Lock()
	if !s.writing {
		s.mu.Unlock()
		return
	}
	if s.stopped == nil {
		s.stopped = make(chan struct{})
	}
	stopped := s.stopped
	s.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-stopped:
	case <-t.C:
	}
}

// startTimers closes the socket at API Gateway's idle timeout and maximum
// connection duration. Timers, not a goroutine per socket.
func (s *socket) startTimers(idle, maxDuration time.Duration) {
	end, code, reason := maxDuration, ws.StatusGoingAway, "maximum connection duration reached"
	s.mu.Lock()
	expiresAt := s.expiresAt
	s.mu.Unlock()
	if left := time.Until(expiresAt); !expiresAt.IsZero() && left < maxDuration {
		end, code, reason = left, ws.StatusPolicyViolation, "token expired"
	}
	s.maxAge = s.afterFunc(end, func() { s.close(code, reason) })
	var check func()
	check = func() {
		if left := idle - time.Since(s.lastActiveAt()); left > 0 {
			s.mu.Lock()
			s.idle.Reset(left)
			s.mu.Unlock()
			return
		}
		s.close(ws.StatusGoingAway, "idle timeout")
	}
	s.mu.Lock()
	s.idle = s.afterFunc(idle, check)
	s.mu.Unlock()
}

func (s *socket) stopTimers() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.maxAge != nil {
		s.maxAge.Stop()
		s.idle.Stop()
	}
}

// afterFunc is time.AfterFunc for the socket's timers: a panic of f is
// logged and counted, and closes the socket with 1011, not the process.
func (s *socket) afterFunc(d time.Duration, f func()) *time.Timer {
	return time.AfterFunc(d, func() {
		defer s.recoverTimer()
		f()
	})
}

// recoverTimer, deferred, ends a panic of a timer's function: it is logged
// and counted, and the socket closes with 1011.
func (s *socket) recoverTimer() {
	if v := recover(); v != nil {
		s.hub.recovered(panicTimer, v)
		s.close(ws.StatusInternalServerError, "internal server error")
	}
}

// recoverWriter, deferred by writeLoop, ends a panic of the writer. The
// connection may have been left in the middle of a frame, so no close frame
// can follow: the connection is dropped, and the socket closes with 1011.
// The writer's buffer is not pooled again.
func (s *socket) recoverWriter(conn net.Conn) {
	v := recover()
	if v == nil {
		return
	}
	s.hub.recovered(panicWriter, v)
	s.mu.Lock()
	s.closeLocked(ws.StatusInternalServerError, "internal server error")
	s.aborted = true
	s.stopWritingLocked()
	s.mu.Unlock()
	conn.Close()
}
