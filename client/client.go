// The Client and its WebSocket API: Dial, Events, SendWS and Close. Config
// is in config.go, the REST calls in rest.go; the connection's life in
// session.go (one connection), run.go (one after another, reconnecting),
// parse.go (its frames) and catchup.go (the history it reads).

package client

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/protocol"
)

// EventBuffer is the capacity of the Events channel.
const EventBuffer = 256

// defaultTimeout bounds each request of the default HTTP client, and
// each WebSocket handshake.
const defaultTimeout = 30 * time.Second

// ErrNotConnected is returned by SendWS while the WebSocket is down: the
// client is reconnecting. Send works at any time.
var ErrNotConnected = errors.New("client: not connected")

// ErrClosed is returned by SendWS after Close.
var ErrClosed = errors.New("client: closed")

// ErrKeepAliveUnanswered is why a connection whose keepalive went
// unanswered ended (the Err of the KindReconnecting event that follows).
var ErrKeepAliveUnanswered = errors.New("client: the keepalive got no answer: the connection is dead")

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
	outbox outbox  // socket sends waiting for their push
	// userID is the user the server knows the client as: Config.UserID,
	// or the token's subject. Its pushes confirm its socket sends.
	userID string

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
		outbox:  outbox{most: cfg.maxWaitingSends},
		userID:  cfg.userID(),
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
	backlog, err := c.backlog(ctx)
	if err != nil {
		s.close(true)
		c.closeIdle()
		return nil, fmt.Errorf("client: read history: %w", err)
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.setConn(s.conn)
	go c.run(s, backlog)
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
// closed. It waits for the client's goroutines to end. Socket sends still
// waiting for their push, or going by PUT, are abandoned: each may or may
// not be stored.
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

// SendWS sends a message over the WebSocket (the sendmessage route) under
// an idempotency key of its own. It returns once the message is written
// (in frames of at most maxFrameBytes: API Gateway closes a connection on
// a larger one); the message arrives as a KindMessage event, and a refusal
// by the server as a KindError event. If its push has not come back
// within 10 s, or the socket drops first, the client sends it again by
// PUT under the same key (as Send does), so that it is stored once
// whether or not the frame reached the server; a PUT that fails for good
// is a KindError event. At most 1024 socket sends are unsettled (waiting
// for their push, or gone again by PUT): a send past them goes by PUT at
// once, as Send does, and SendWS returns once it is stored (or with the
// error that ends its tries). Blank text is refused here with an *Error.
// While reconnecting it returns ErrNotConnected.
func (c *Client) SendWS(ctx context.Context, text string) error {
	if err := chatapp.ValidateText(text); err != nil {
		return &Error{StatusCode: protocol.ErrorStatus(err), Code: chatapp.ErrorCode(err), Message: chatapp.ErrorMessage(err)}
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
	s := &socketSend{text: text, key: rand.Text()}
	data, err := chatapp.MarshalJSON(protocol.SendMessageFrame{Action: protocol.ActionSendMessage, Text: text, IdempotencyKey: s.key})
	if err != nil {
		return err
	}
	// Waiting before the write: its push may come back at once.
	s.timer = time.AfterFunc(c.cfg.sendConfirm, func() { c.sendAgain(s) })
	if err := c.outbox.add(s); err != nil {
		s.timer.Stop()
		if errors.Is(err, errOutboxFull) { // the most sends are unsettled: this one goes by PUT now
			err = c.sendPastTheBound(ctx, text, s.key)
		}
		return err
	}
	if err := writeMessage(ctx, conn, data); err != nil {
		if c.outbox.take(s) {
			return fmt.Errorf("client: send: %w", err)
		}
		return nil // the socket's end took it: it goes by PUT
	}
	return nil
}

// sendPastTheBound sends by PUT a socket send that found the outbox full.
// It ends with ctx or with Close, like the socket sends the outbox holds,
// so that no send of a closed client goes on running.
func (c *Client) sendPastTheBound(ctx context.Context, text, key string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(c.ctx, cancel)()
	_, err := c.send(ctx, text, key)
	if err != nil && c.ctx.Err() != nil {
		return ErrClosed
	}
	return err
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
