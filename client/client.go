package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/chatapp-dev/chatapp"
)

// Defaults of Config.
const (
	DefaultMinBackoff = 250 * time.Millisecond
	DefaultMaxBackoff = 10 * time.Second
	// DefaultKeepAlive is how often the client sends the keepalive message
	// ({"action":"ping"}): well within API Gateway's 10-minute idle
	// timeout, so that one lost on the way still leaves time for the next,
	// and rare enough to cost little (each is two WebSocket messages on
	// AWS, the ping and its answer: about $0.02 a month for a client
	// connected all month, at $1 per million). docs/protocol.md weighs it.
	DefaultKeepAlive = 4 * time.Minute
)

// EventBuffer is the capacity of the Events channel.
const EventBuffer = 256

const (
	// frameBuffer is how many frames the socket reader may get ahead of
	// the goroutine that delivers events; beyond it, reading stops.
	frameBuffer = 256
	// keepAliveTimeout is how long after a keepalive message the client
	// waits for a frame, whatever the interval: with none by then the
	// connection is taken for dead, closed and made again. Any frame
	// answers, not only the pong: on AWS a throttled ping gets an error
	// frame, and a connection that delivers frames is alive. It does not
	// shrink with a short KeepAlive, which would make every connection
	// whose round-trip is longer die, over and over.
	keepAliveTimeout = 30 * time.Second
	// minKeepAlive is the shortest keepalive interval; a shorter KeepAlive
	// is raised to it, as the web page clamps ?keepalive=: each keepalive
	// is a billed message, and counts against the stage's throttle.
	minKeepAlive = time.Second
	// stableConnection is how long a connection must have stayed up for
	// the next reconnection to start the backoff again from its first
	// attempt (the web page's STABLE_CONNECTION_MS). A connection that
	// ends sooner counts as a failed attempt: a server that closes every
	// socket right after the handshake is met with a growing backoff, not
	// a reconnection (and a catch-up GET) every MinBackoff.
	stableConnection = 5 * time.Second
	// skipLogInterval is how often, at most, the client logs a frame it
	// skips (not JSON, or of no known kind); the warning counts the ones
	// skipped since the last, so a server streaming garbage costs the
	// client its parsing only, not a log call a frame.
	skipLogInterval = 10 * time.Second
	// readLimit bounds a message the client reads (the frames of one
	// joined): above API Gateway's 128 KB message payload quota, which
	// bounds what the server posts; its frames are 32 KB at most.
	readLimit = 256 << 10
	// defaultTimeout bounds each request of the default HTTP client, and
	// each WebSocket handshake.
	defaultTimeout = 30 * time.Second
)

// ErrNotConnected is returned by SendWS while the WebSocket is down: the
// client is reconnecting. Send works at any time.
var ErrNotConnected = errors.New("client: not connected")

// ErrClosed is returned by SendWS after Close.
var ErrClosed = errors.New("client: closed")

// Config says where the chat is and who is chatting.
type Config struct {
	// APIURL is the REST resource: http://127.0.0.1:8080/chat locally,
	// https://{id}.execute-api.{region}.amazonaws.com/dev/chat on AWS.
	APIURL string
	// WebSocketURL is the WebSocket API: ws://127.0.0.1:8080/ws locally,
	// wss://{id}.execute-api.{region}.amazonaws.com/dev on AWS.
	WebSocketURL string

	// Room, UserID and Name are the room to chat in, the user's id and
	// display name (optional). The server validates them: a bad one makes
	// Dial fail with an *Error of code chatapp.EINVALID.
	Room   string
	UserID string
	Name   string

	// Token is a bearer token, for a server that requires one: it goes as
	// the token query parameter of the WebSocket handshake (browsers can
	// set no header there) and as "Authorization: Bearer" on REST. The
	// server then takes the user id and name from it; UserID may be empty.
	Token string

	// Presence asks for join and leave events (KindJoin, KindLeave).
	Presence bool

	// Backlog is how many of the room's latest messages Dial delivers as
	// KindMessage events before the live ones, at most
	// chatapp.MaxHistoryLimit. With 0, only messages sent after Dial are
	// delivered; read older ones with History.
	Backlog int

	// HTTPClient makes the REST requests and the WebSocket handshakes.
	// Default: a client of its own with a 30 s timeout, whose idle
	// connections Close closes.
	HTTPClient *http.Client
	// Logger gets the client's diagnostics (reconnects, dropped frames).
	// Default: none.
	Logger *slog.Logger

	// KeepAlive is how often the client sends the keepalive message
	// ({"action":"ping"}, answered {"type":"pong"}) on its WebSocket:
	// it keeps the connection from the server's idle timeout (API
	// Gateway's is 10 minutes; WebSocket pings are not documented to
	// count). When no frame at all (the pong, an error frame for a
	// throttled ping, a message) has come 30 s after a keepalive, the
	// connection is dead: the client reconnects. Default
	// DefaultKeepAlive, at least 1 s (a shorter one is raised to it);
	// behind a proxy that closes connections idle for 60 s, use less,
	// such as 45 s.
	KeepAlive time.Duration

	// MinBackoff and MaxBackoff bound the wait before a reconnection
	// attempt (defaults 250 ms and 10 s). Attempt n waits a random time
	// between MinBackoff and min(MaxBackoff, MinBackoff·2ⁿ). Attempts are
	// counted from the last connection that stayed up 5 s: one that
	// ends sooner was a failed attempt too, and the next waits longer.
	MinBackoff time.Duration
	MaxBackoff time.Duration

	// keepAlive and pongTimeout are the keepalive interval and how long
	// after a keepalive a frame is awaited: by default KeepAlive raised
	// to minKeepAlive, and keepAliveTimeout. The package's tests set them
	// apart, below those floors, so as not to wait seconds.
	keepAlive   time.Duration
	pongTimeout time.Duration
}

// LocalURLs returns the REST and WebSocket URLs of a `chatapp serve` at
// server, such as "http://127.0.0.1:8080" (a bare "host:port" means http).
func LocalURLs(server string) (api, ws string) {
	server = strings.TrimRight(server, "/")
	switch {
	case strings.HasPrefix(server, "https://"):
		return server + "/chat", "wss://" + strings.TrimPrefix(server, "https://") + "/ws"
	case strings.HasPrefix(server, "http://"):
		return server + "/chat", "ws://" + strings.TrimPrefix(server, "http://") + "/ws"
	}
	return "http://" + server + "/chat", "ws://" + server + "/ws"
}

func (cfg *Config) check() error {
	u, err := url.Parse(cfg.APIURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("client: APIURL %q is not an http or https URL", cfg.APIURL)
	}
	u, err = url.Parse(cfg.WebSocketURL)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return fmt.Errorf("client: WebSocketURL %q is not a ws or wss URL", cfg.WebSocketURL)
	}
	switch {
	case cfg.Room == "":
		return errors.New("client: Room is required")
	case cfg.UserID == "" && cfg.Token == "":
		return errors.New("client: UserID (or a Token) is required")
	case cfg.Backlog < 0 || cfg.Backlog > chatapp.MaxHistoryLimit:
		return fmt.Errorf("client: Backlog must be between 0 and %d", chatapp.MaxHistoryLimit)
	case cfg.MinBackoff < 0 || cfg.MaxBackoff < 0:
		return errors.New("client: negative backoff")
	case cfg.KeepAlive < 0:
		return errors.New("client: negative KeepAlive")
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = DefaultKeepAlive
	}
	if cfg.keepAlive == 0 {
		cfg.keepAlive = max(cfg.KeepAlive, minKeepAlive)
	}
	if cfg.pongTimeout == 0 {
		cfg.pongTimeout = keepAliveTimeout
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.MinBackoff)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Client is a connection to one room. Its methods may be called from any
// goroutine.
type Client struct {
	cfg       Config
	http      *http.Client
	transport *http.Transport // the default client's, closed by Close
	log       *slog.Logger

	events    chan Event
	ctx       context.Context // canceled by Close
	cancel    context.CancelFunc
	done      chan struct{} // closed when run returns
	closeOnce sync.Once

	mu   sync.Mutex
	conn *websocket.Conn // the open connection, nil while reconnecting

	dedupe *dedupe // owned by run

	// skipLog lets a warning about a skipped frame through once per
	// skipLogInterval; skipped counts the frames skipped since the last
	// one. Both owned by run.
	skipLog rate.Sometimes
	skipped int
}

// Dial connects to the room's WebSocket and returns once it is open. ctx
// bounds only the connection; Close ends the client. If the first connection
// fails, Dial fails: a refused handshake is an *Error with the server's code
// (chatapp.EINVALID and status 400 for a bad room or user id). Later drops
// are retried without end, as Events reports.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	c := &Client{
		cfg:     cfg,
		http:    cfg.HTTPClient,
		log:     cfg.Logger,
		events:  make(chan Event, EventBuffer),
		done:    make(chan struct{}),
		dedupe:  newDedupe(),
		skipLog: rate.Sometimes{First: 1, Interval: skipLogInterval},
	}
	if c.http == nil {
		c.transport = http.DefaultTransport.(*http.Transport).Clone()
		c.http = &http.Client{Transport: c.transport, Timeout: defaultTimeout}
	}
	s, err := c.connect(ctx)
	if err != nil {
		c.closeIdle()
		return nil, err
	}
	// The latest message when the socket opened is the baseline: it and
	// all before it are history, delivered only as the Backlog. Anything
	// after it arrives on the socket, or from a catch-up after a drop.
	latest, err := c.latest(ctx, max(cfg.Backlog, 1))
	if err != nil {
		s.close(true)
		c.closeIdle()
		return nil, fmt.Errorf("client: read history: %w", err)
	}
	var baseline string
	if n := len(latest); n > 0 {
		baseline = latest[n-1].ID
	}
	var backlog []*chatapp.Message
	if cfg.Backlog > 0 {
		backlog = latest
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.setConn(s.conn)
	go c.run(s, backlog, baseline)
	return c, nil
}

// Events returns the channel of everything that happens, in order: messages
// (each exactly once, in id order but for concurrent sends that may arrive
// slightly out of it), presence, connection changes and error frames. Close
// closes it.
//
// The channel holds EventBuffer events and must be drained. While it is
// full, the client stops reading its socket; the server then buffers the
// room's pushes for it, and past its limit (1024 frames) closes the socket
// as a slow consumer. Nothing is lost: once the channel drains, the client
// reconnects and fetches the missed messages from the history.
func (c *Client) Events() <-chan Event { return c.events }

// Close closes the connection and stops reconnecting; then Events is
// closed. It waits for the client's goroutines to end.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.cancel()
		<-c.done
		c.closeIdle()
	})
	return nil
}

func (c *Client) closeIdle() {
	if c.transport != nil {
		c.transport.CloseIdleConnections()
	}
}

// SendWS sends a message over the WebSocket (the sendmessage route). It
// returns once the message is written (in frames of at most maxFrameBytes:
// API Gateway closes a connection on a larger one); the message arrives as
// a KindMessage event, and a refusal by the server as a KindError event.
// Blank text is refused here with an *Error. While reconnecting it
// returns ErrNotConnected.
func (c *Client) SendWS(ctx context.Context, text string) error {
	if err := chatapp.ValidateText(text); err != nil {
		return &Error{StatusCode: chatapp.ErrorStatus(err), Code: chatapp.ErrorCode(err), Message: chatapp.ErrorMessage(err)}
	}
	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	if conn == nil {
		if c.ctx.Err() != nil {
			return ErrClosed
		}
		return ErrNotConnected
	}
	data, err := chatapp.MarshalJSON(struct {
		Action string `json:"action"`
		Text   string `json:"text"`
	}{"sendmessage", text})
	if err != nil {
		return err
	}
	if err := writeMessage(ctx, conn, data); err != nil {
		return fmt.Errorf("client: send: %w", err)
	}
	return nil
}

// maxFrameBytes is the most one frame the client sends carries. API
// Gateway closes a connection with 1009 on a client frame over 32 KB,
// while a message may be 128 KB (its "WebSocket frame size" and "Message
// payload size" quotas), and the largest valid sendmessage, 16 KiB of
// text that JSON escapes six bytes a character, is about 96 KB. 32,000
// bytes is within 32 KB whether AWS counts a KB as 1,000 bytes or 1,024.
const maxFrameBytes = 32000

// writeMessage sends data as one text message: in one frame if it fits
// maxFrameBytes, else in fragments of at most maxFrameBytes through the
// library's message writer, each of whose Writes is one frame (it ends
// the message with an empty final frame on Close).
func writeMessage(ctx context.Context, conn *websocket.Conn, data []byte) error {
	if len(data) <= maxFrameBytes {
		return conn.Write(ctx, websocket.MessageText, data)
	}
	w, err := conn.Writer(ctx, websocket.MessageText)
	if err != nil {
		return err
	}
	for len(data) > 0 {
		n := min(len(data), maxFrameBytes)
		if _, err := w.Write(data[:n]); err != nil {
			w.Close()
			return err
		}
		data = data[n:]
	}
	return w.Close()
}

func (c *Client) setConn(conn *websocket.Conn) {
	c.mu.Lock()
	c.conn = conn
	c.mu.Unlock()
}

// wsURL is the WebSocket URL with the connect query.
func (c *Client) wsURL() string {
	u, _ := url.Parse(c.cfg.WebSocketURL) // checked by Dial
	q := u.Query()
	q.Set("room_id", c.cfg.Room)
	if c.cfg.UserID != "" {
		q.Set("user_id", c.cfg.UserID)
	}
	if c.cfg.Token != "" {
		q.Set(chatapp.TokenQueryParameter, c.cfg.Token)
	}
	if c.cfg.Name != "" {
		q.Set("name", c.cfg.Name)
	}
	if c.cfg.Presence {
		q.Set("events", "presence")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

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
var pingFrame = []byte(`{"action":"` + chatapp.PingAction + `"}`)

// ErrKeepAliveUnanswered is why a connection whose keepalive went
// unanswered ended (the Err of the KindReconnecting event that follows).
var ErrKeepAliveUnanswered = errors.New("client: the keepalive got no answer: the connection is dead")

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
// chatapp.PongFrame, as the gateway's mock route and API Gateway's route
// response (template.yaml, checked against it) send it. The reader drops
// it (any frame proves the connection alive; this one says nothing else).
// A comparison of bytes, no decoding: every frame the server sends goes
// through it.
func isPong(data []byte) bool {
	return string(data) == chatapp.PongFrame
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

// run delivers the events of one connection after another until Close.
// attempt is the reconnection attempt that made the connection: it goes
// back to 0 only once a connection has stayed up stableConnection.
func (c *Client) run(s *session, batch []*chatapp.Message, baseline string) {
	defer close(c.done)
	defer close(c.events)
	attempt := 0
	for {
		err := c.serve(s, batch, baseline, attempt)
		c.setConn(nil)
		closing := c.ctx.Err() != nil
		s.close(closing)
		if closing {
			return
		}
		c.log.Info("chatapp client: connection lost", "room_id", c.cfg.Room, "err", err)
		if time.Since(s.opened) >= stableConnection {
			attempt = 0
		}
		if s, batch, attempt = c.reconnect(err, attempt); s == nil {
			return
		}
		baseline = ""
	}
}

// serve delivers the events of one connection: Connected, then the batch of
// missed messages merged with the pushes that arrived while it was read,
// then the live frames. It returns why the connection ended.
func (c *Client) serve(s *session, batch []*chatapp.Message, baseline string, attempt int) error {
	if !c.emit(Event{Kind: KindConnected, Attempt: attempt}) {
		return c.ctx.Err()
	}
	var others []Event
	var ended error
drain:
	for {
		select {
		case f := <-s.frames:
			if f.err != nil {
				ended = f.err
				break drain
			}
			if ev, ok := c.parse(f.data); ok && ev.Kind == KindMessage {
				batch = append(batch, ev.Message)
			} else if ok {
				others = append(others, ev)
			}
		default:
			break drain
		}
	}
	for _, m := range c.dedupe.merge(batch) {
		if !c.emit(Event{Kind: KindMessage, Message: m}) {
			return c.ctx.Err()
		}
	}
	c.dedupe.raiseFloor(baseline)
	for _, ev := range others {
		if !c.emit(ev) {
			return c.ctx.Err()
		}
	}
	if ended != nil {
		return ended
	}
	for {
		select {
		case <-c.ctx.Done():
			return c.ctx.Err()
		case f := <-s.frames:
			if f.err != nil {
				return f.err
			}
			ev, ok := c.parse(f.data)
			if !ok || (ev.Kind == KindMessage && !c.dedupe.accept(ev.Message.ID)) {
				continue
			}
			if !c.emit(ev) {
				return c.ctx.Err()
			}
		}
	}
}

// reconnect opens a new connection, with backoff, from the attempt after
// last (0: the last connection was stable), and reads the messages missed
// since the last one delivered. It returns the session and the attempt
// that made it, or a nil session on Close.
func (c *Client) reconnect(cause error, last int) (*session, []*chatapp.Message, int) {
	for attempt := last + 1; ; attempt++ {
		delay := backoff(attempt, c.cfg.MinBackoff, c.cfg.MaxBackoff)
		if !c.emit(Event{Kind: KindReconnecting, Attempt: attempt, Delay: delay, Err: cause}) {
			return nil, nil, 0
		}
		timer := time.NewTimer(delay)
		select {
		case <-c.ctx.Done():
			timer.Stop()
			return nil, nil, 0
		case <-timer.C:
		}
		s, err := c.connect(c.ctx)
		if err != nil {
			c.log.Debug("chatapp client: reconnect failed", "attempt", attempt, "err", err)
			cause = err
			continue
		}
		batch, err := c.catchUp(c.ctx)
		if err != nil {
			c.log.Debug("chatapp client: catch-up failed", "attempt", attempt, "err", err)
			s.close(false)
			cause = err
			continue
		}
		c.setConn(s.conn)
		return s, batch, attempt
	}
}

// latest reads the room's n latest messages, oldest first. The server ends
// a page early when its messages are large (a page is bounded in bytes), so
// it follows NextCursor until it has n or has reached the room's beginning.
func (c *Client) latest(ctx context.Context, n int) ([]*chatapp.Message, error) {
	var out []*chatapp.Message
	opts := HistoryOptions{}
	for len(out) < n {
		opts.Limit = n - len(out)
		page, err := c.History(ctx, opts)
		if err != nil {
			return nil, err
		}
		out = append(page.Messages, out...)
		if page.NextCursor == "" || len(page.Messages) == 0 {
			break
		}
		opts.Cursor = page.NextCursor
	}
	return out, nil
}

// catchUp reads every message after the resume cursor, page by page, for as
// long as the server says it has more: a page may end before its limit. It
// runs once the new socket is open, so a message is either in it or pushed
// on the socket (or both: dedupe drops the second).
func (c *Client) catchUp(ctx context.Context) ([]*chatapp.Message, error) {
	after := c.dedupe.resumeAfter()
	var out []*chatapp.Message
	for {
		page, err := c.History(ctx, HistoryOptions{Limit: chatapp.MaxHistoryLimit, After: after})
		if err != nil {
			return nil, fmt.Errorf("client: catch up: %w", err)
		}
		out = append(out, page.Messages...)
		if !page.HasMore || len(page.Messages) == 0 {
			return out, nil
		}
		after = page.Messages[len(page.Messages)-1].ID
	}
}

// emit delivers one event, waiting for room in the channel until Close.
func (c *Client) emit(ev Event) bool {
	select {
	case c.events <- ev:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// parse turns a frame into an event: a message, a presence event or an
// error frame. Anything else is skipped, and logged now and then (skip).
func (c *Client) parse(data []byte) (Event, bool) {
	var f struct {
		ID    string `json:"id"`
		Type  string `json:"type"`
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		c.skip("frame is not JSON", data, err)
		return Event{}, false
	}
	switch {
	case f.Error != nil:
		e := &Error{Code: f.Error.Code, Message: f.Error.Message}
		e.StatusCode = chatapp.ErrorStatus(&chatapp.Error{Code: e.Code})
		return Event{Kind: KindError, Err: e}, true
	case f.ID != "":
		var m chatapp.Message
		if err := json.Unmarshal(data, &m); err != nil {
			c.skip("bad message frame", data, err)
			return Event{}, false
		}
		return Event{Kind: KindMessage, Message: &m}, true
	case f.Type == "join" || f.Type == "leave":
		var p chatapp.PresenceEvent
		if err := json.Unmarshal(data, &p); err != nil {
			c.skip("bad presence frame", data, err)
			return Event{}, false
		}
		kind := KindJoin
		if p.Type == "leave" {
			kind = KindLeave
		}
		return Event{Kind: kind, Presence: &p}, true
	}
	c.skip("unknown frame", data, nil)
	return Event{}, false
}

// skip logs a frame that parse skips, at most once per skipLogInterval,
// with the count of those skipped since the last warning (this one
// included): a server streaming garbage must not turn each frame into a
// log call. Frames that parse are not counted: this costs them nothing.
func (c *Client) skip(why string, data []byte, err error) {
	c.skipped++
	c.skipLog.Do(func() {
		args := []any{"frame", string(data[:min(len(data), 200)]), "skipped", c.skipped}
		if err != nil {
			args = append(args, "err", err)
		}
		c.log.Warn("chatapp client: "+why, args...)
		c.skipped = 0
	})
}

// backoff is the wait before reconnection attempt n (from 1): exponential
// with full jitter, between lo and min(hi, lo·2ⁿ).
func backoff(attempt int, lo, hi time.Duration) time.Duration {
	ceil := hi
	if attempt < 30 {
		if c := lo << attempt; c > 0 && c < hi {
			ceil = c
		}
	}
	if ceil <= lo {
		return lo
	}
	return lo + rand.N(ceil-lo+1)
}
