package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/auth"
	"github.com/chatapp-dev/chatapp/handler"
)

// AuthConfig turns authentication on: Secret for HS256 tokens (`chatapp
// token` makes them), or JWKSURL for an identity provider's, with the
// Issuer and Audience they must name. Empty, anyone may claim any user id.
type AuthConfig struct {
	Secret   string
	JWKSURL  string
	Issuer   string
	Audience string
}

func (a AuthConfig) enabled() bool { return a.Secret != "" || a.JWKSURL != "" }

func (a AuthConfig) verifierConfig() auth.Config {
	return auth.Config{Secret: []byte(a.Secret), JWKSURL: a.JWKSURL, Issuer: a.Issuer, Audience: a.Audience}
}

// env is the authorizer's and the functions' environment under the Lambda
// emulator, as template.yaml sets it on AWS.
func (a AuthConfig) env() []string {
	if !a.enabled() {
		return nil
	}
	return []string{
		"CHATAPP_REQUIRE_AUTH=true",
		"CHATAPP_AUTH_SECRET=" + a.Secret,
		"CHATAPP_AUTH_JWKS_URL=" + a.JWKSURL,
		"CHATAPP_AUTH_ISSUER=" + a.Issuer,
		"CHATAPP_AUTH_AUDIENCE=" + a.Audience,
	}
}

// describe is the banner's auth line.
func (a AuthConfig) describe() string {
	switch {
	case a.JWKSURL != "":
		return "ON: tokens signed by the keys at " + a.JWKSURL
	case a.Secret != "":
		return `ON: HS256 tokens (make one with "chatapp token --user U")`
	}
	return "OFF: anyone can claim any user_id (local development; --auth-secret turns it on)"
}

// setupAuth gives the handler a verifier and makes it require identities,
// or warns that auth is off. The verifier is to be closed with the server.
func setupAuth(ctx context.Context, cfg ServeConfig, h *handler.Handler) (io.Closer, error) {
	if !cfg.Auth.enabled() {
		cfg.Logger.Warn("authentication is OFF: any client may send as any user_id; start with --auth-secret (or CHATAPP_AUTH_SECRET) or --auth-jwks-url to require tokens")
		return nil, nil
	}
	if cfg.Auth.Secret != "" && cfg.Auth.JWKSURL != "" {
		return nil, errors.New("--auth-secret and --auth-jwks-url exclude each other")
	}
	v, err := auth.NewVerifier(ctx, cfg.Auth.verifierConfig())
	if err != nil {
		return nil, err
	}
	h.Tokens, h.RequireAuth = v, true
	return v, nil
}

// authFlags adds the auth flags to fs. Defaults come from the environment
// after parsing (see fill), so that -h never prints a secret.
func authFlags(fs *flag.FlagSet, a *AuthConfig) {
	fs.StringVar(&a.Secret, "auth-secret", "", "require HS256 tokens signed with this secret, at least 32 bytes (default $CHATAPP_AUTH_SECRET; the variable keeps it out of ps)")
	fs.StringVar(&a.JWKSURL, "auth-jwks-url", "", "require tokens signed by the keys of this JWKS, e.g. Cognito's https://cognito-idp.REGION.amazonaws.com/POOL/.well-known/jwks.json (default $CHATAPP_AUTH_JWKS_URL)")
	fs.StringVar(&a.Issuer, "auth-issuer", "", "the iss tokens must have (default $CHATAPP_AUTH_ISSUER)")
	fs.StringVar(&a.Audience, "auth-audience", "", "the aud tokens must have (default $CHATAPP_AUTH_AUDIENCE)")
}

func (a *AuthConfig) fill() {
	for p, key := range map[*string]string{
		&a.Secret: "CHATAPP_AUTH_SECRET", &a.JWKSURL: "CHATAPP_AUTH_JWKS_URL",
		&a.Issuer: "CHATAPP_AUTH_ISSUER", &a.Audience: "CHATAPP_AUTH_AUDIENCE",
	} {
		if *p == "" {
			*p = os.Getenv(key)
		}
	}
	if a.JWKSURL != "" && os.Getenv("CHATAPP_AUTH_SECRET") == a.Secret {
		a.Secret = "" // an explicit JWKS URL wins over a secret in the environment
	}
}

const tokenUsage = `Usage: chatapp token --user U [--name N] [--rooms a,b] [--ttl 24h] [--secret S]

Prints an HS256 token for a chatapp serve started with the same secret
(--auth-secret or CHATAPP_AUTH_SECRET), for development and tests. Clients
send it as "Authorization: Bearer TOKEN" or as the token query parameter.

Flags:
`

// runToken is `chatapp token`: print a development token.
func runToken(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), tokenUsage)
		fs.PrintDefaults()
	}
	var (
		id    chatapp.Identity
		rooms string
		iss   auth.Issuer
		ttl   time.Duration
		key   string
	)
	fs.StringVar(&id.UserID, "user", "", "the user id (the sub claim); required")
	fs.StringVar(&id.Name, "name", "", "the display name (the name claim)")
	fs.StringVar(&rooms, "rooms", "", "comma-separated room ids the token may use (default: any room)")
	fs.DurationVar(&ttl, "ttl", 24*time.Hour, "how long the token is valid")
	fs.StringVar(&key, "secret", "", "the HS256 secret (default $CHATAPP_AUTH_SECRET)")
	fs.StringVar(&iss.Issuer, "issuer", os.Getenv("CHATAPP_AUTH_ISSUER"), "the iss claim, if the server checks one")
	fs.StringVar(&iss.Audience, "audience", os.Getenv("CHATAPP_AUTH_AUDIENCE"), "the aud claim, if the server checks one")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("token: unexpected arguments %q", fs.Args())
	}
	if id.UserID == "" {
		fs.Usage()
		return errors.New("token: --user is required")
	}
	if key == "" {
		key = os.Getenv("CHATAPP_AUTH_SECRET")
	}
	if key == "" {
		return errors.New("token: no secret: give --secret or set CHATAPP_AUTH_SECRET")
	}
	if rooms != "" {
		id.Rooms = strings.Split(rooms, ",")
	}
	iss.Secret = []byte(key)
	token, err := iss.Issue(id, ttl)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	fmt.Fprintln(stdout, token)
	return nil
}
