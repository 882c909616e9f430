// One WebSocket connection: its handshake, the goroutine that reads its
// frames, the one that keeps it alive, and how it is closed.

package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/chatapp-dev/chatapp/protocol"
)

const (
	// frameBuffer is how many frames the socket reader may get ahead of
	// the goroutine that delivers events; beyond it, reading stops.
	frameBuffer = 256
	// readLimit bounds a message the client reads (the frames of one
	// joined): above API Gateway's 128 KB message payload quota, which
	// bounds what the server posts; its frames are 32 KB at most.
	readLimit = 256 << 10
)

// session is one WebSocket connection: a goroutine reads its frames into
// frames, another keeps it alive (keepalive).
type session struct {
	conn   *websocket.Conn
	frames chan frame
	stop   chan struct{}
	wg     sync.WaitGroup
	// awaiting is set while a keepalive waits for a frame: the reader
	// clears it on the next frame, whatever that frame is, and tells the
	// keepalive on answered (room for one). Any other frame costs the
	// reader one atomic load.
	awaiting atomic.Bool
	answered chan struct{}
	// unanswered is set when a keepalive went unanswered, before the
	// connection is closed for it: the reader then says so.
	unanswered atomic.Bool
	// opened is when the connection was made.
	opened time.Time
}

// pingFrame is the keepalive message. The writer masks a copy of it, so
// every session can send the same bytes.
var pingFrame = []byte(`{"action":"` + protocol.ActionPing + `"}`)

// frame is a frame read, or the error that ended the connection.
type frame struct {
	data []byte
	err  error
}

// connect opens a WebSocket.
func (c *Client) connect(ctx context.Context) (*session, error) {
	ctx, cancel := context.WithTimeout(ctx, defaultTimeout)
	defer cancel()
	u := c.wsURL()
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: c.http})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			var body []byte
			if resp.Body != nil {
				body, _ = io.ReadAll(resp.Body)
			}
			return nil, fmt.Errorf("client: connect: %w", decodeError(resp.StatusCode, body))
		}
		// The dial error quotes the URL, token included.
		return nil, fmt.Errorf("client: connect to %s: %w", redact(u), redactToken(err, c.cfg.Token))
	}
	conn.SetReadLimit(readLimit)
	s := &session{conn: conn, frames: make(chan frame, frameBuffer), stop: make(chan struct{}),
		answered: make(chan struct{}, 1), opened: time.Now()}
	s.wg.Add(2)
	go s.read()
	go s.keepalive(c.cfg.keepAlive, c.cfg.pongTimeout)
	return s, nil
}

// wsURL is the WebSocket URL with the connect query.
func (c *Client) wsURL() string {
	u, _ := url.Parse(c.cfg.WebSocketURL) // checked by Dial
	q := u.Query()
	q.Set(protocol.QueryRoomID, c.cfg.Room)
	if c.cfg.UserID != "" {
		q.Set(protocol.QueryUserID, c.cfg.UserID)
	}
	if c.cfg.Token != "" {
		q.Set(protocol.QueryToken, c.cfg.Token)
	}
	if c.cfg.Name != "" {
		q.Set(protocol.QueryName, c.cfg.Name)
	}
	if c.cfg.Presence {
		q.Set(protocol.QueryEvents, protocol.EventsPresence)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func (s *session) read() {
	defer s.wg.Done()
	for {
		_, data, err := s.conn.Read(context.Background())
		if err != nil && s.unanswered.Load() {
			err = ErrKeepAliveUnanswered
		}
		if err == nil && s.awaiting.Load() && s.awaiting.CompareAndSwap(true, false) {
			select {
			case s.answered <- struct{}{}: // any frame: the socket lives
			default:
			}
		}
		if err == nil && isPong(data) {
			continue
		}
		select {
		case s.frames <- frame{data, err}:
		case <-s.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

// keepalive sends the keepalive message every interval. After one, it
// waits up to timeout for a frame, any frame (the pong, an error frame for
// a throttled ping, a push), sending the next ones meanwhile; a connection
// that gives none is closed, and the reader reports it
// (ErrKeepAliveUnanswered). It needs no WebSocket pong: AWS does not
// document that API Gateway answers pings.
func (s *session) keepalive(interval, timeout time.Duration) {
	defer s.wg.Done()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	deadline := time.NewTimer(timeout)
	deadline.Stop()
	waiting := false // a keepalive awaits its frame: deadline runs
	for {
		select {
		case <-s.stop:
			return
		case <-s.answered:
			waiting = false
			deadline.Stop()
		case <-deadline.C:
			select {
			case <-s.answered: // came as the deadline fell
				waiting = false
				continue
			default:
			}
			s.unanswered.Store(true)
			s.conn.CloseNow()
			return
		case <-tick.C:
			if !waiting {
				// Before the write, so that the quickest answer is seen.
				waiting = true
				s.awaiting.Store(true)
				deadline.Reset(timeout)
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			err := s.conn.Write(ctx, websocket.MessageText, pingFrame)
			cancel()
			if err != nil {
				s.conn.CloseNow() // the reader sees the connection end
				return
			}
		}
	}
}

// isPong reports whether a frame is the keepalive's answer: exactly
// protocol.PongFrame, as the gateway's mock route and API Gateway's route
// response (template.yaml, checked against it) send it. The reader drops
// it (any frame proves the connection alive; this one says nothing else).
// A comparison of bytes, no decoding: every frame the server sends goes
// through it.
func isPong(data []byte) bool {
	return string(data) == protocol.PongFrame
}

// close ends the connection, with a close handshake when normal, and waits
// for its goroutines.
func (s *session) close(normal bool) {
	close(s.stop)
	if normal {
		s.conn.Close(websocket.StatusNormalClosure, "")
	} else {
		s.conn.CloseNow()
	}
	s.wg.Wait()
}
