package chatapp

import (
	"context"
	"slices"
	"time"
)

// Identity is who a verified token says the caller is.
type Identity struct {
	UserID string
	Name   string
	// Rooms lists the rooms the token may join and send to; nil allows
	// every room, an empty list none.
	Rooms []string
	// ExpiresAt is when the token expires: a connection opened with it
	// is closed then. Zero means never.
	ExpiresAt time.Time
}

// AllowsRoom reports whether the identity may join, read and send to room.
func (id *Identity) AllowsRoom(room string) bool {
	return id.Rooms == nil || slices.Contains(id.Rooms, room)
}

// TokenVerifier checks a bearer token and returns its identity. A token
// that is missing, malformed, expired or not signed by the trusted key is
// an *Error of code EUNAUTHORIZED.
type TokenVerifier interface {
	VerifyToken(ctx context.Context, token string) (*Identity, error)
}
