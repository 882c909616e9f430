// Config: what Dial needs to know, its defaults and their bounds.

package client

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/chatapp-dev/chatapp"
)

// Defaults of Config.
const (
	DefaultMinBackoff = 500 * time.Millisecond
	DefaultMaxBackoff = 10 * time.Second
	// DefaultKeepAlive is how often the client sends the keepalive message
	// ({"action":"ping"}): well within API Gateway's 10-minute idle
	// timeout, so that one lost on the way still leaves time for the next,
	// and rare enough to cost little (each is two WebSocket messages on
	// AWS, the ping and its answer: about $0.02 a month for a client
	// connected all month, at $1 per million). docs/protocol.md weighs it.
	DefaultKeepAlive = 4 * time.Minute
)

const (
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
)

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

	// MinBackoff and MaxBackoff are the base and the cap of the wait
	// before a reconnection attempt, or a retried send (defaults 500 ms
	// and 10 s). Attempt n (from 1) waits a random time between 0 and
	// min(MaxBackoff, MinBackoff·2ⁿ): full jitter, as docs/protocol.md's
	// client algorithm says. Attempts are counted from the last
	// connection that stayed up 5 s: one that ends sooner was a failed
	// attempt too, and the next waits longer.
	MinBackoff time.Duration
	MaxBackoff time.Duration

	// keepAlive and pongTimeout are the keepalive interval and how long
	// after a keepalive a frame is awaited: by default KeepAlive raised
	// to minKeepAlive, and keepAliveTimeout. The package's tests set them
	// apart, below those floors, so as not to wait seconds.
	keepAlive   time.Duration
	pongTimeout time.Duration
	// sendConfirm is how long a socket send waits for its push: by
	// default sendConfirm (the constant); the package's tests set less.
	sendConfirm time.Duration
	// maxWaitingSends is how many socket sends wait for their push at
	// most: by default maxWaitingSends; the package's tests set less.
	maxWaitingSends int
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
	if cfg.sendConfirm == 0 {
		cfg.sendConfirm = sendConfirm
	}
	if cfg.maxWaitingSends == 0 {
		cfg.maxWaitingSends = maxWaitingSends
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

// userID is the user the server knows the client as: UserID, or else the
// subject of the token, read without checking it (the server checks it).
func (cfg *Config) userID() string {
	if cfg.UserID != "" || cfg.Token == "" {
		return cfg.UserID
	}
	parts := strings.Split(cfg.Token, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return ""
	}
	return claims.Sub
}
