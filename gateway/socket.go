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
// An idle socket costs one goroutine (its read loop) and no buffers: the
// writer is a goroutine started when frames are queued, with a buffer from
// a pool, that ends when the queue is empty. Frames queued while it writes
// go out in the same flush, so a busy socket makes one write call for many
// frames.
type socket struct {
	id          string
	connectedAt time.Time
	sourceIP    string
	userAgent   string
	domainName  string       // the Host the client connected to
	lastActive  atomic.Int64 // unix nanoseconds of the last frame or ping from the client
	throttle    frameThrottle

	// member is the connection row the $connect function stored, set by
	// the tracking store; nil until then. Guarded by the hub's lock.
	member *chatapp.Connection

	idle, maxAge *time.Timer
	expiry       *time.Timer // the token's expiry (expiry.go); nil without a token

	mu          sync.Mutex
	conn        net.Conn // nil until the handshake completes
	queue       []outFrame
	queuedBytes int
	writing     bool          // a writer goroutine runs
	stopped     chan struct{} // closed when the writer stops, if someone waits for that
	closing     bool
	closeSent   bool
	aborted     bool // dropped without a close handshake
	closeCode   ws.StatusCode
	closeReason string
	done        chan struct{} // closed when the socket starts closing
}

// outFrame is a frame waiting to be written: a shared push, an error frame
// or a pong.
type outFrame struct {
	op   ws.OpCode
	data []byte
}

func newSocket(id, sourceIP, userAgent, domainName string) *socket {
	s := &socket{
		id: id, connectedAt: time.Now(), sourceIP: sourceIP, userAgent: userAgent, domainName: domainName,
		done: make(chan struct{}),
	}
	s.touch()
	return s
}

func (s *socket) touch() { s.lastActive.Store(time.Now().UnixNano()) }

func (s *socket) lastActiveAt() time.Time { return time.Unix(0, s.lastActive.Load()) }

// enqueue queues one text frame without blocking. Frames queued before the
// handshake completes are sent once it does. It reports false when the
// socket is closing or its queue overflowed.
func (s *socket) enqueue(frame []byte) bool {
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
	s.queue = append(s.queue, outFrame{ws.OpText, frame})
	s.queuedBytes += len(frame)
	s.kickLocked()
	return true
}

// pong answers a ping. Control frames do not count against the queue's
// bounds, and a closing socket answers no more.
func (s *socket) pong(payload []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closing {
		s.queue = append(s.queue, outFrame{ws.OpPong, payload})
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
	if len(s.queue) == 0 && !(s.closing && !s.closeSent) {
		return
	}
	s.writing = true
	go s.writeLoop(s.conn)
}

// writeLoop writes queued frames, many per flush, until the queue is empty,
// and the close frame once the socket closes. It is the only writer on the
// connection.
func (s *socket) writeLoop(conn net.Conn) {
	w := getWriter(conn)
	defer putWriter(w)
	for {
		s.mu.Lock()
		frames := s.queue
		s.queue, s.queuedBytes = nil, 0
		sendClose := s.closing && !s.closeSent && !s.aborted
		if sendClose {
			s.closeSent = true
		}
		code, reason := s.closeCode, s.closeReason
		if len(frames) == 0 && !sendClose || s.aborted {
			s.stopWritingLocked()
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()

		conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		var err error
		for _, f := range frames {
			if err = writeFrame(w, f.op, f.data); err != nil {
				break
			}
		}
		if err == nil && sendClose {
			err = writeFrame(w, ws.OpClose, ws.NewCloseFrameBody(code, reason))
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
			return
		}
		if sendClose {
			// The read loop ends on the client's close frame, or at this
			// deadline if none comes.
			conn.SetReadDeadline(time.Now().Add(closeWait))
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
	s.maxAge = time.AfterFunc(maxDuration, func() { s.close(ws.StatusGoingAway, "maximum connection duration reached") })
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
	s.idle = time.AfterFunc(idle, check)
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
