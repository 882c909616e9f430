// Package handler holds the Lambda functions of the chat, written against
// aws-lambda-go's API Gateway event types so that the same code runs on AWS
// Lambda and in the local gateway:
//
//	GetMessages  REST GET /chat        (the original chatapp-message-get)
//	PutMessage   REST PUT /chat        (chatapp-message-put)
//	GetUsers     REST GET /chat/users  (the room's connections)
//	Connect      WebSocket $connect    (chatapp-onConnect)
//	Disconnect   WebSocket $disconnect (chatapp-onDisconnect)
//	SendMessage  WebSocket sendmessage (send over the socket)
//	Default      WebSocket $default    (unknown action: an error frame)
//	Authorize    REQUEST authorizer    (bearer token → identity, both APIs)
package handler

import (
	"log/slog"
	"time"

	"github.com/chatapp-dev/chatapp"
)

// Handler carries what the functions depend on.
type Handler struct {
	Messages    chatapp.MessageStore
	Connections chatapp.ConnectionStore
	Notifier    chatapp.Notifier
	// Rooms, if set, is told of every connection stored and removed: the
	// local hub's index of rooms (chatapp.RoomIndex). Nil on AWS.
	Rooms  chatapp.RoomIndex
	Logger *slog.Logger
	// Now is the clock; tests may set it.
	Now func() time.Time

	// SendLimiter, if set, bounds each user's sends (REST and WebSocket
	// together); over it a send gets 429 rate_limited.
	SendLimiter chatapp.RateLimiter
	// MaxConnectionsPerUser, if above 0, refuses with 429 a $connect of a
	// user who has that many connections stored. The connection store
	// enforces it atomically (chatapp.ConnectionStore.CreateConnection), so
	// simultaneous handshakes cannot pass it together.
	MaxConnectionsPerUser int

	// RequireAuth takes the caller's user id and name from the
	// authorizer's context (see Authorize) instead of the request, and
	// holds every request to the rooms its token allows.
	RequireAuth bool
	// Tokens verifies bearer tokens for Authorize.
	Tokens chatapp.TokenVerifier

	rooms roomLocks // orders each room's sends from commit to push
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}
