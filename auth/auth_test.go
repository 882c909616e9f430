package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/auth"
)

var secret = []byte("0123456789abcdef0123456789abcdef-test")

func verifier(t *testing.T, cfg auth.Config) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

func issue(t *testing.T, iss *auth.Issuer, id chatapp.Identity, ttl time.Duration) string {
	t.Helper()
	token, err := iss.Issue(id, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// sign signs claims with any method and key, for tokens an Issuer refuses
// to make.
func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims, kid string) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validClaims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"sub": "ada", "name": "Ada", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
}

// wantUnauthorized fails unless err is an EUNAUTHORIZED error whose message
// contains reason and not the token.
func wantUnauthorized(t *testing.T, err error, token, reason string) {
	t.Helper()
	if chatapp.ErrorCode(err) != chatapp.EUNAUTHORIZED {
		t.Fatalf("err = %v, want code %s", err, chatapp.EUNAUTHORIZED)
	}
	if msg := chatapp.ErrorMessage(err); !strings.Contains(msg, reason) || (token != "" && strings.Contains(err.Error(), token)) {
		t.Errorf("message %q: want it to say %q and not echo the token", msg, reason)
	}
}

func TestVerifyValidToken(t *testing.T) {
	v := verifier(t, auth.Config{Secret: secret})
	token := issue(t, &auth.Issuer{Secret: secret}, chatapp.Identity{UserID: "ada", Name: "Ada Lovelace", Rooms: []string{"lobby", "ops"}}, time.Hour)
	id, err := v.VerifyToken(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	if id.UserID != "ada" || id.Name != "Ada Lovelace" || !slices.Equal(id.Rooms, []string{"lobby", "ops"}) {
		t.Errorf("identity = %+v", id)
	}
	if !id.AllowsRoom("ops") || id.AllowsRoom("other") {
		t.Errorf("AllowsRoom: ops %v, other %v; want true, false", id.AllowsRoom("ops"), id.AllowsRoom("other"))
	}
}

func TestVerifyRoomsClaim(t *testing.T) {
	v := verifier(t, auth.Config{Secret: secret})
	iss := &auth.Issuer{Secret: secret}
	for _, tc := range []struct {
		name  string
		rooms []string
		room  string
		want  bool
	}{
		{"absent allows any room", nil, "anything", true},
		{"empty allows none", []string{}, "lobby", false},
		{"listed", []string{"lobby"}, "lobby", true},
		{"unlisted", []string{"lobby"}, "ops", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := v.VerifyToken(context.Background(), issue(t, iss, chatapp.Identity{UserID: "u1", Rooms: tc.rooms}, time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if (id.Rooms == nil) != (tc.rooms == nil) {
				t.Errorf("Rooms = %#v, want %#v", id.Rooms, tc.rooms)
			}
			if got := id.AllowsRoom(tc.room); got != tc.want {
				t.Errorf("AllowsRoom(%q) = %v, want %v", tc.room, got, tc.want)
			}
		})
	}
}

func TestVerifyRefusesExpiredToken(t *testing.T) {
	v := verifier(t, auth.Config{Secret: secret})
	iss := &auth.Issuer{Secret: secret, Now: func() time.Time { return time.Now().Add(-2 * time.Hour) }}
	token := issue(t, iss, chatapp.Identity{UserID: "ada"}, time.Hour)
	_, err := v.VerifyToken(context.Background(), token)
	wantUnauthorized(t, err, token, "expired")
}

func TestVerifyRefusesTokenWithoutExpiry(t *testing.T) {
	v := verifier(t, auth.Config{Secret: secret})
	c := validClaims()
	delete(c, "exp")
	token := sign(t, jwt.SigningMethodHS256, secret, c, "")
	_, err := v.VerifyToken(context.Background(), token)
	wantUnauthorized(t, err, token, "missing")
}

func TestVerifyRefusesTokenIssuedInTheFuture(t *testing.T) {
	v := verifier(t, auth.Config{Secret: secret})
	c := validClaims()
	c["iat"] = time.Now().Add(time.Hour).Unix()
	token := sign(t, jwt.SigningMethodHS256, secret, c, "")
	_, err := v.VerifyToken(context.Background(), token)
	wantUnauthorized(t, err, token, "not valid yet")
}

func TestVerifyRefusesWrongSignature(t *testing.T) {
	v := verifier(t, auth.Config{Secret: secret})
	token := issue(t, &auth.Issuer{Secret: []byte("another-secret-of-at-least-32-bytes!!")}, chatapp.Identity{UserID: "ada"}, time.Hour)
	_, err := v.VerifyToken(context.Background(), token)
	wantUnauthorized(t, err, token, "signature")

	// A valid token whose payload was edited keeps its old signature.
	good := issue(t, &auth.Issuer{Secret: secret}, chatapp.Identity{UserID: "ada"}, time.Hour)
	parts := strings.Split(good, ".")
	payload, _ := json.Marshal(validClaims())
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"ada"`, `"admin"`, 1)))
	forged := strings.Join(parts, ".")
	_, err = v.VerifyToken(context.Background(), forged)
	wantUnauthorized(t, err, forged, "signature")
}

func TestVerifyRefusesAlgNone(t *testing.T) {
	v := verifier(t, auth.Config{Secret: secret})
	token := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, validClaims(), "")
	_, err := v.VerifyToken(context.Background(), token)
	wantUnauthorized(t, err, token, "signature")
}

func TestVerifyRefusesRS256InSecretMode(t *testing.T) {
	v := verifier(t, auth.Config{Secret: secret})
	key := rsaKey(t)
	token := sign(t, jwt.SigningMethodRS256, key, validClaims(), "")
	_, err := v.VerifyToken(context.Background(), token)
	wantUnauthorized(t, err, token, "signature")
}

func TestVerifyIssuerAndAudience(t *testing.T) {
	v := verifier(t, auth.Config{Secret: secret, Issuer: "https://issuer.example", Audience: "chatapp"})
	id := chatapp.Identity{UserID: "ada"}
	for _, tc := range []struct {
		name, iss, aud, reason string
	}{
		{"right", "https://issuer.example", "chatapp", ""},
		{"wrong issuer", "https://evil.example", "chatapp", "wrong issuer"},
		{"no issuer", "", "chatapp", "missing"},
		{"wrong audience", "https://issuer.example", "other-app", "wrong audience"},
		{"no audience", "https://issuer.example", "", "missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := issue(t, &auth.Issuer{Secret: secret, Issuer: tc.iss, Audience: tc.aud}, id, time.Hour)
			_, err := v.VerifyToken(context.Background(), token)
			if tc.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantUnauthorized(t, err, token, tc.reason)
		})
	}
}

func TestVerifyRefusesBadClaims(t *testing.T) {
	v := verifier(t, auth.Config{Secret: secret})
	for name, edit := range map[string]func(jwt.MapClaims){
		"no sub":         func(c jwt.MapClaims) { delete(c, "sub") },
		"sub not an id":  func(c jwt.MapClaims) { c["sub"] = "a b" },
		"bad room":       func(c jwt.MapClaims) { c["rooms"] = []string{"lob by"} },
		"rooms a string": func(c jwt.MapClaims) { c["rooms"] = "lobby" },
	} {
		t.Run(name, func(t *testing.T) {
			c := validClaims()
			edit(c)
			token := sign(t, jwt.SigningMethodHS256, secret, c, "")
			_, err := v.VerifyToken(context.Background(), token)
			wantUnauthorized(t, err, token, "invalid token")
		})
	}
	_, err := v.VerifyToken(context.Background(), "")
	wantUnauthorized(t, err, "", "no token")
	_, err = v.VerifyToken(context.Background(), "not-a-jwt")
	wantUnauthorized(t, err, "not-a-jwt", "malformed")
}

func TestNewVerifierRefusesWeakConfig(t *testing.T) {
	for name, cfg := range map[string]auth.Config{
		"nothing":      {},
		"short secret": {Secret: []byte("short")},
		"both modes":   {Secret: secret, JWKSURL: "http://127.0.0.1:1/jwks.json"},
	} {
		if _, err := auth.NewVerifier(context.Background(), cfg); err == nil {
			t.Errorf("%s: NewVerifier succeeded", name)
		}
	}
	if _, err := (&auth.Issuer{Secret: []byte("short")}).Issue(chatapp.Identity{UserID: "u"}, time.Hour); err == nil {
		t.Error("Issue with a short secret succeeded")
	}
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// jwksServer serves the public half of key as a JWKS, as Cognito serves
// /.well-known/jwks.json.
func jwksServer(t *testing.T, kid string, key *rsa.PrivateKey) *httptest.Server {
	t.Helper()
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	body, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
	}}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestVerifyJWKS(t *testing.T) {
	key := rsaKey(t)
	srv := jwksServer(t, "key-1", key)
	v := verifier(t, auth.Config{JWKSURL: srv.URL + "/.well-known/jwks.json", Issuer: "https://issuer.example", Audience: "chatapp"})

	c := validClaims()
	c["iss"], c["aud"], c["rooms"] = "https://issuer.example", "chatapp", []string{"lobby"}
	token := sign(t, jwt.SigningMethodRS256, key, c, "key-1")
	id, err := v.VerifyToken(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	if id.UserID != "ada" || id.Name != "Ada" || !slices.Equal(id.Rooms, []string{"lobby"}) {
		t.Errorf("identity = %+v", id)
	}

	t.Run("another key under the same kid", func(t *testing.T) {
		token := sign(t, jwt.SigningMethodRS256, rsaKey(t), c, "key-1")
		_, err := v.VerifyToken(context.Background(), token)
		wantUnauthorized(t, err, token, "signature")
	})
	t.Run("unknown kid", func(t *testing.T) {
		token := sign(t, jwt.SigningMethodRS256, key, c, "key-2")
		_, err := v.VerifyToken(context.Background(), token)
		wantUnauthorized(t, err, token, "invalid token")
	})
	t.Run("HS256 keyed with the public key", func(t *testing.T) {
		// The classic confusion: the public key (which anyone can read)
		// used as an HMAC secret.
		der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
		pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		token := sign(t, jwt.SigningMethodHS256, pub, c, "key-1")
		_, err := v.VerifyToken(context.Background(), token)
		wantUnauthorized(t, err, token, "signature")
	})
	t.Run("expired", func(t *testing.T) {
		c := jwt.MapClaims{"sub": "ada", "iss": "https://issuer.example", "aud": "chatapp", "exp": time.Now().Add(-time.Hour).Unix()}
		token := sign(t, jwt.SigningMethodRS256, key, c, "key-1")
		_, err := v.VerifyToken(context.Background(), token)
		wantUnauthorized(t, err, token, "expired")
	})
}

func TestNewVerifierFailsWithoutJWKS(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	if _, err := auth.NewVerifier(context.Background(), auth.Config{JWKSURL: srv.URL}); err == nil {
		t.Error("NewVerifier succeeded with a JWKS URL that answers 404")
	}
}

// TestVerifyBoundsRooms: a token listing more than MaxRooms rooms is
// refused: the authorizer passes the list on, and API Gateway refuses a
// WebSocket authorizer's answer over 8 KB. The Issuer will not make one.
func TestVerifyBoundsRooms(t *testing.T) {
	v := verifier(t, auth.Config{Secret: secret})
	rooms := make([]any, auth.MaxRooms+1)
	for i := range rooms {
		rooms[i] = fmt.Sprintf("room-%03d-%s", i, strings.Repeat("r", 100))
	}
	claims := validClaims()
	claims["rooms"] = rooms
	token := sign(t, jwt.SigningMethodHS256, secret, claims, "")
	_, err := v.VerifyToken(context.Background(), token)
	wantUnauthorized(t, err, token, "more than")
	claims["rooms"] = rooms[:auth.MaxRooms]
	if _, err := v.VerifyToken(context.Background(), sign(t, jwt.SigningMethodHS256, secret, claims, "")); err != nil {
		t.Errorf("a token of %d rooms: %v", auth.MaxRooms, err)
	}
	many := make([]string, auth.MaxRooms+1)
	for i := range many {
		many[i] = fmt.Sprint("r", i)
	}
	if _, err := (&auth.Issuer{Secret: secret}).Issue(chatapp.Identity{UserID: "ada", Rooms: many}, time.Hour); err == nil {
		t.Error("the Issuer made a token of too many rooms")
	}
}
