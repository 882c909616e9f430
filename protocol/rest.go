// The REST API's parameters, headers and bodies.

package protocol

import (
	"encoding/json"

	"github.com/chatapp-dev/chatapp"
)

// Query parameters of GET /chat, GET /chat/users and the WebSocket
// handshake.
const (
	QueryRoomID = "room_id"
	QueryUserID = "user_id"
	QueryName   = "name"
	QueryLimit  = "limit"
	QueryCursor = "cursor" // the page of messages older than this id
	QueryAfter  = "after"  // the messages newer than this id: a catch-up
	// QueryEvents=EventsPresence opts a WebSocket in to join and leave
	// events.
	QueryEvents    = "events"
	EventsPresence = "presence"
	// QueryToken carries a bearer token where a header cannot: a
	// browser's WebSocket handshake.
	QueryToken = "token"
)

// Headers of PUT /chat.
const (
	// IdempotencyKeyHeader carries a send's idempotency key (or the body's
	// idempotency_key).
	IdempotencyKeyHeader = "Idempotency-Key"
	// ReplayedHeader marks the answer to a retried send: the message was
	// stored by an earlier attempt and is not pushed again.
	ReplayedHeader = "Idempotent-Replayed"
	// ExposedHeaders is Access-Control-Expose-Headers of every REST
	// answer: a page on another origin reads only what CORS exposes, and
	// a client's retry needs Retry-After (docs/protocol.md, "Client
	// algorithm").
	ExposedHeaders = "Retry-After, " + ReplayedHeader
)

// PutRequest is the body of PUT /chat, as the original client sends it.
type PutRequest struct {
	RoomID FlexString `json:"room_id"`
	Text   string     `json:"text"`
	UserID FlexString `json:"user_id"`
	Name   string     `json:"name,omitempty"`
	// IdempotencyKey may also come as the Idempotency-Key header.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// PutResponse is the body of PUT /chat's answer: the original's "users"
// (the room's connections, cut with UsersTruncated), the stored message,
// and how many connections it was handed to.
type PutResponse struct {
	Users          []*chatapp.Connection `json:"users"`
	UsersTruncated bool                  `json:"users_truncated,omitempty"`
	Message        *chatapp.Message      `json:"message"`
	Delivered      int                   `json:"delivered"`
}

// UsersResponse is the body of GET /chat/users's answer.
type UsersResponse struct {
	Users          []*chatapp.Connection `json:"users"`
	UsersTruncated bool                  `json:"users_truncated,omitempty"`
}

// HistoryResponse is the body of GET /chat's answer: a page of messages,
// oldest first. NextCursor is set while older messages exist (pass it as
// cursor); HasMore on an after page that stopped before the newest.
type HistoryResponse struct {
	Messages   []*chatapp.Message `json:"messages"`
	NextCursor string             `json:"next_cursor,omitempty"`
	HasMore    bool               `json:"has_more,omitempty"`
}

// FlexString accepts a JSON string or number: a Unity client may
// serialize a numeric user id (its process id) as a number.
type FlexString string

func (s *FlexString) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err == nil {
		*s = FlexString(str)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*s = FlexString(n.String())
	return nil
}
