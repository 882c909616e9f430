package chatapp

import "time"

// Connection is one WebSocket connection in a room: a row of the original's
// "userlist" table.
type Connection struct {
	ID        string `json:"connection_id"`
	RoomID    string `json:"room_id"`
	UserID    string `json:"user_id"`
	Name      string `json:"name,omitempty"`
	Timestamp int64  `json:"timestamp"` // connected at, epoch milliseconds
	// Presence is set when the client asked for join and leave events.
	Presence bool `json:"-"`
	// ExpiresAt is when the token the connection was opened with expires,
	// epoch milliseconds; 0 without a token. The connection ends then: a
	// socket must not outlive the token that let it in.
	ExpiresAt int64 `json:"-"`
}

// Expired reports whether the connection's token has expired at now.
func (c *Connection) Expired(now time.Time) bool {
	return c.ExpiresAt > 0 && now.UnixMilli() >= c.ExpiresAt
}

// TokenExpired is the error of a connection whose token has expired: the
// client must connect again with a new one.
func TokenExpired() error {
	return Errorf(EUNAUTHORIZED, "the token has expired: connect again with a new one")
}

// TooManyConnections is the error of a CreateConnection refused because
// the user already has maxPerUser connections: the client is rate limited
// (429), and may connect again once one of its connections closes.
func TooManyConnections(userID string, maxPerUser int) error {
	return Errorf(ERATELIMIT, "user %s has %d connections open, the most allowed", userID, maxPerUser)
}

// Wants reports whether the connection accepts a push of kind k.
func (c *Connection) Wants(k PushKind) bool {
	return k == PushMessage || (k == PushPresence && c.Presence)
}

// PresenceEvent is the opt-in frame sent when a connection joins or leaves.
type PresenceEvent struct {
	Type         string `json:"type"` // "join" or "leave"
	RoomID       string `json:"room_id"`
	ConnectionID string `json:"connection_id"`
	UserID       string `json:"user_id"`
	Name         string `json:"name,omitempty"`
	Timestamp    int64  `json:"timestamp"`
}
