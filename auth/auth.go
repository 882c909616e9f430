// Package auth issues and verifies the chat's bearer tokens: JSON Web
// Tokens signed with a shared HS256 secret, or by an identity provider
// (Amazon Cognito and the like) that publishes its keys as a JWKS.
//
// Claims: sub is the user id, name the display name (cleaned to what the
// chat accepts: chatapp.SanitizeName), rooms (optional) the
// room ids the token may join and send to, exp is required, iat is checked
// when present, iss and aud when configured.
package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/chatapp-dev/chatapp"
)

// MinSecretBytes is the shortest HS256 secret accepted: RFC 7518 asks for
// a key at least as long as the hash.
const MinSecretBytes = 32

// MaxRooms bounds a token's rooms claim. The authorizer hands the list on
// in its context, and API Gateway refuses a WebSocket authorizer's answer
// over 8 KB: 32 room ids of the longest (128 bytes) fit with room to
// spare.
const MaxRooms = 32

// leeway absorbs clock skew between the issuer and the verifier.
const leeway = 30 * time.Second

// Config says which tokens to trust: Secret for HS256, or JWKSURL for an
// identity provider's asymmetric keys. Issuer and Audience, when set, must
// match the token's iss and aud.
type Config struct {
	Secret   []byte
	JWKSURL  string
	Issuer   string
	Audience string
	// HTTPClient fetches the JWKS; default http.DefaultClient with a
	// 10-second timeout per request.
	HTTPClient *http.Client
}

// Verifier checks tokens. It is a chatapp.TokenVerifier.
type Verifier struct {
	keyfunc jwt.Keyfunc
	parser  *jwt.Parser
	stop    context.CancelFunc
}

// asymmetric are the algorithms a JWKS key may sign with. HS* is never
// among them: a public key used as an HMAC secret would let anyone sign.
var asymmetric = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// NewVerifier returns a verifier for cfg. In JWKS mode it fetches the key
// set now and refreshes it in the background (hourly, and when a token names
// an unknown key) until Close.
func NewVerifier(ctx context.Context, cfg Config) (*Verifier, error) {
	opts := []jwt.ParserOption{
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	v := &Verifier{stop: func() {}}
	switch {
	case len(cfg.Secret) > 0 && cfg.JWKSURL != "":
		return nil, errors.New("auth: give a secret or a JWKS URL, not both")
	case len(cfg.Secret) > 0:
		if len(cfg.Secret) < MinSecretBytes {
			return nil, fmt.Errorf("auth: the HS256 secret must be at least %d bytes (try: openssl rand -hex 32)", MinSecretBytes)
		}
		secret := cfg.Secret
		v.keyfunc = func(*jwt.Token) (any, error) { return secret, nil }
		opts = append(opts, jwt.WithValidMethods([]string{"HS256"}))
	case cfg.JWKSURL != "":
		client := cfg.HTTPClient
		if client == nil {
			client = http.DefaultClient
		}
		ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		failFirst := false
		k, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{cfg.JWKSURL}, keyfunc.Override{
			Client:                    client,
			HTTPTimeout:               10 * time.Second,
			NoErrorReturnFirstHTTPReq: &failFirst,
		})
		if err != nil {
			cancel()
			return nil, fmt.Errorf("auth: JWKS %s: %w", cfg.JWKSURL, err)
		}
		v.keyfunc, v.stop = k.Keyfunc, cancel
		opts = append(opts, jwt.WithValidMethods(asymmetric))
	default:
		return nil, errors.New("auth: no secret and no JWKS URL")
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// Close stops refreshing the JWKS.
func (v *Verifier) Close() error {
	v.stop()
	return nil
}

// claims are the token's claims the chat reads.
type claims struct {
	Name string `json:"name"`
	// Rooms stays nil when the claim is absent (any room) and is an empty
	// list for "rooms":[] (no room).
	Rooms []string `json:"rooms"`
	jwt.RegisteredClaims
}

// VerifyToken checks token and returns its identity. Every failure is an
// EUNAUTHORIZED *chatapp.Error whose message says why, never the token.
func (v *Verifier) VerifyToken(ctx context.Context, token string) (*chatapp.Identity, error) {
	if token == "" {
		return nil, chatapp.Errorf(chatapp.EUNAUTHORIZED, "no token")
	}
	var c claims
	if _, err := v.parser.ParseWithClaims(token, &c, v.keyfunc); err != nil {
		return nil, chatapp.Errorf(chatapp.EUNAUTHORIZED, "invalid token: %s", reason(err))
	}
	if err := chatapp.ValidateUserID(c.Subject); err != nil {
		return nil, chatapp.Errorf(chatapp.EUNAUTHORIZED, "invalid token: sub is not a valid user id")
	}
	if len(c.Rooms) > MaxRooms {
		return nil, chatapp.Errorf(chatapp.EUNAUTHORIZED, "invalid token: rooms lists more than %d rooms", MaxRooms)
	}
	for _, room := range c.Rooms {
		if chatapp.ValidateRoomID(room) != nil {
			return nil, chatapp.Errorf(chatapp.EUNAUTHORIZED, "invalid token: rooms holds an invalid room id")
		}
	}
	// The name is the provider's, not the user's to fix: a name the chat
	// would refuse (too long, control characters) is cleaned, not refused,
	// so that it cannot lock its user out.
	id := &chatapp.Identity{UserID: c.Subject, Name: chatapp.SanitizeName(c.Name), Rooms: c.Rooms}
	if c.ExpiresAt != nil { // required by the parser; checked for safety
		id.ExpiresAt = c.ExpiresAt.Time
	}
	return id, nil
}

// reason names why a token failed, in words that cannot echo the token.
func reason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "a required claim is missing"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued), errors.Is(err, jwt.ErrTokenNotValidYet):
		return "not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "wrong issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "wrong audience"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "bad signature or algorithm"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed"
	}
	return "rejected"
}
