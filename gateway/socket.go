package gateway

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/chatapp-dev/chatapp"
)

// Bounds of a socket's send queue. A consumer that falls this far behind is
// disconnected (close 1008) rather than allowed to stall its room or grow
// the server's memory without end.
const (
	maxQueuedFrames = 1024
	maxQueuedBytes  = 8 << 20
	writeTimeout    = 10 * time.Second
)

// socket is one client WebSocket: its send queue, its writer and its
// membership in a room.
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

	mu          sync.Mutex
	queue       [][]byte
	queuedBytes int
	closing     bool
	closeCode   websocket.StatusCode
	closeReason string
	wake        chan struct{} // a frame was queued
	done        chan struct{} // closed when the socket starts closing
	// writes is canceled when a consumer overflows its queue: a write
	// blocked on a client that stopped reading is abandoned at once, not
	// after writeTimeout.
	writes      context.Context
	abortWrites context.CancelFunc
}

func newSocket(id, sourceIP, userAgent, domainName string) *socket {
	s := &socket{
		id: id, connectedAt: time.Now(), sourceIP: sourceIP, userAgent: userAgent, domainName: domainName,
		wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
	s.writes, s.abortWrites = context.WithCancel(context.Background())
	s.touch()
	return s
}

func (s *socket) touch() { s.lastActive.Store(time.Now().UnixNano()) }

func (s *socket) lastActiveAt() time.Time { return time.Unix(0, s.lastActive.Load()) }

// enqueue queues one frame without blocking. Frames queued before the
// handshake completes are sent once it does. It reports false when the
// socket is closing or its queue overflowed.
func (s *socket) enqueue(frame []byte) bool {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return false
	}
	if len(s.queue) >= maxQueuedFrames || s.queuedBytes+len(frame) > maxQueuedBytes {
		s.mu.Unlock()
		s.close(websocket.StatusPolicyViolation, "send queue overflow: client too slow")
		s.abortWrites()
		return false
	}
	s.queue = append(s.queue, frame)
	s.queuedBytes += len(frame)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return true
}

// close starts closing the socket with a close code; the first call wins.
func (s *socket) close(code websocket.StatusCode, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return
	}
	s.closing, s.closeCode, s.closeReason = true, code, reason
	s.queue, s.queuedBytes = nil, 0
	close(s.done)
}

func (s *socket) isClosing() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// take removes and returns every queued frame.
func (s *socket) take() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	frames := s.queue
	s.queue, s.queuedBytes = nil, 0
	return frames
}

// writeLoop sends queued frames until the socket closes, then sends the
// close frame. It is the only writer of data frames on conn.
func (s *socket) writeLoop(conn *websocket.Conn) {
	for {
		select {
		case <-s.wake:
			for _, frame := range s.take() {
				ctx, cancel := context.WithTimeout(s.writes, writeTimeout)
				err := conn.Write(ctx, websocket.MessageText, frame)
				cancel()
				if err != nil {
					s.close(websocket.StatusGoingAway, "write failed")
					break
				}
			}
		case <-s.done:
			s.mu.Lock()
			code, reason := s.closeCode, s.closeReason
			s.mu.Unlock()
			if s.writes.Err() != nil {
				// Overflowed: the client is not reading, so a close
				// handshake would only wait on it.
				conn.CloseNow()
			} else {
				conn.Close(code, reason)
			}
			s.abortWrites()
			return
		}
	}
}

// expire closes the socket at API Gateway's idle timeout and maximum
// connection duration. It returns when the socket closes.
func (s *socket) expire(idle, maxDuration time.Duration) {
	deadline := time.NewTimer(maxDuration)
	defer deadline.Stop()
	idleTimer := time.NewTimer(idle)
	defer idleTimer.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-deadline.C:
			s.close(websocket.StatusGoingAway, "maximum connection duration reached")
			return
		case <-idleTimer.C:
			if left := idle - time.Since(s.lastActiveAt()); left > 0 {
				idleTimer.Reset(left)
				continue
			}
			s.close(websocket.StatusGoingAway, "idle timeout")
			return
		}
	}
}
