package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/chatapp-dev/chatapp"
)

// Issuer signs HS256 tokens, for development and for services that share
// the secret with the authorizer.
type Issuer struct {
	Secret   []byte
	Issuer   string // the iss claim, if set
	Audience string // the aud claim, if set
	// Now is the clock; tests may set it.
	Now func() time.Time
}

// Issue returns a token for id that expires after ttl.
func (i *Issuer) Issue(id chatapp.Identity, ttl time.Duration) (string, error) {
	if len(i.Secret) < MinSecretBytes {
		return "", fmt.Errorf("auth: the HS256 secret must be at least %d bytes (try: openssl rand -hex 32)", MinSecretBytes)
	}
	if ttl <= 0 {
		return "", errors.New("auth: the token's lifetime must be positive")
	}
	if err := chatapp.ValidateUserID(id.UserID); err != nil {
		return "", err
	}
	if id.Name != "" {
		if err := chatapp.ValidateName(id.Name); err != nil {
			return "", err
		}
	}
	if len(id.Rooms) > MaxRooms {
		return "", fmt.Errorf("auth: a token may list at most %d rooms", MaxRooms)
	}
	for _, room := range id.Rooms {
		if err := chatapp.ValidateRoomID(room); err != nil {
			return "", err
		}
	}
	now := time.Now()
	if i.Now != nil {
		now = i.Now()
	}
	c := jwt.MapClaims{
		"sub": id.UserID,
		"iat": now.Unix(),
		"exp": now.Add(ttl).Unix(),
	}
	if id.Name != "" {
		c["name"] = id.Name
	}
	// A nil list means any room: the claim is left out.
	if id.Rooms != nil {
		c["rooms"] = id.Rooms
	}
	if i.Issuer != "" {
		c["iss"] = i.Issuer
	}
	if i.Audience != "" {
		c["aud"] = i.Audience
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(i.Secret)
}
