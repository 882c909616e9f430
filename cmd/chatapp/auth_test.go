package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/auth"
	"github.com/chatapp-dev/chatapp/client"
)

const authTestSecret = "e2e-auth-test-secret-0123456789abcdef"

func devToken(t testing.TB, id chatapp.Identity) string {
	t.Helper()
	token, err := (&auth.Issuer{Secret: []byte(authTestSecret)}).Issue(id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// dialAuth opens a WebSocket with an optional Authorization header and
// returns the refused handshake's status and body when it fails.
func dialAuth(t *testing.T, base, q, bearer string) (*wsClient, int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	opts := &websocket.DialOptions{HTTPHeader: http.Header{}}
	if bearer != "" {
		opts.HTTPHeader.Set("Authorization", "Bearer "+bearer)
	}
	conn, resp, err := websocket.Dial(ctx, wsURL(base)+"/ws?"+q, opts)
	if err != nil {
		if resp == nil {
			t.Fatalf("dial ?%s: %v", q, err)
		}
		body, _ := io.ReadAll(resp.Body)
		return nil, resp.StatusCode, body
	}
	return newWSClient(t, "client", conn), http.StatusSwitchingProtocols, nil
}

// wantRefused fails unless a REST answer or refused handshake has the status
// and the JSON error code.
func wantRefused(t *testing.T, what string, status int, body []byte, wantStatus int, wantCode string) {
	t.Helper()
	if status != wantStatus {
		t.Errorf("%s: status %d %s, want %d", what, status, body, wantStatus)
		return
	}
	if code := checkErrorBody(t, what, body); code != wantCode {
		t.Errorf("%s: code %q, want %q", what, code, wantCode)
	}
}

// TestAuthEndToEnd runs `chatapp serve` with auth on, on every backend, and
// holds every route to its token. The server's and the functions' logs must
// never show a token or the secret.
func TestAuthEndToEnd(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg ServeConfig) {
		logs := &lockedBuffer{}
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		if cfg.FunctionLogs != nil {
			cfg.FunctionLogs = io.MultiWriter(cfg.FunctionLogs, logs)
		}
		cfg.Auth = AuthConfig{Secret: authTestSecret}
		s := startServer(t, cfg)

		ada := devToken(t, chatapp.Identity{UserID: "ada", Name: "Ada", Rooms: []string{"lobby"}})
		bob := devToken(t, chatapp.Identity{UserID: "bob", Name: "Bob"})
		forged, err := (&auth.Issuer{Secret: []byte("some-other-secret-0123456789abcdefgh")}).Issue(chatapp.Identity{UserID: "ada"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		expired, err := (&auth.Issuer{Secret: []byte(authTestSecret), Now: func() time.Time { return time.Now().Add(-2 * time.Hour) }}).
			Issue(chatapp.Identity{UserID: "ada"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		bearer := func(token string) map[string]string {
			return map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"}
		}

		t.Run("no token", func(t *testing.T) {
			r := do(t, http.MethodGet, s.URL+"/chat?room_id=lobby", nil, nil)
			wantRefused(t, "GET /chat", r.Status, r.Body, 401, chatapp.EUNAUTHORIZED)
			if got := r.Header.Get("Access-Control-Allow-Origin"); got != "*" {
				t.Errorf("401 without Access-Control-Allow-Origin (%q): a browser could not read it", got)
			}
			r = do(t, http.MethodPut, s.URL+"/chat", `{"room_id":"lobby","text":"hi","user_id":"ada"}`, jsonHeader)
			wantRefused(t, "PUT /chat", r.Status, r.Body, 401, chatapp.EUNAUTHORIZED)
			r = do(t, http.MethodGet, s.URL+"/chat/users?room_id=lobby", nil, nil)
			wantRefused(t, "GET /chat/users", r.Status, r.Body, 401, chatapp.EUNAUTHORIZED)
			_, status, body := dialAuth(t, s.URL, originalQuery("ada", "lobby"), "")
			wantRefused(t, "$connect", status, body, 401, chatapp.EUNAUTHORIZED)
		})

		t.Run("preflight needs no token", func(t *testing.T) {
			r := do(t, http.MethodOptions, s.URL+"/chat", nil, map[string]string{"Origin": "http://example.com", "Access-Control-Request-Method": "PUT"})
			if r.Status != http.StatusNoContent || !strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
				t.Errorf("OPTIONS /chat: %d, Allow-Headers %q; want 204 allowing Authorization", r.Status, r.Header.Get("Access-Control-Allow-Headers"))
			}
		})

		t.Run("forged and expired tokens", func(t *testing.T) {
			for name, tok := range map[string]string{"forged": forged, "expired": expired, "garbage": "abc.def.ghi"} {
				r := do(t, http.MethodGet, s.URL+"/chat?room_id=lobby", nil, bearer(tok))
				wantRefused(t, name+" GET /chat", r.Status, r.Body, 401, chatapp.EUNAUTHORIZED)
				r = do(t, http.MethodGet, s.URL+"/chat?room_id=lobby&token="+url.QueryEscape(tok), nil, nil)
				wantRefused(t, name+" GET /chat?token=", r.Status, r.Body, 401, chatapp.EUNAUTHORIZED)
				_, status, body := dialAuth(t, s.URL, "room_id=lobby&token="+url.QueryEscape(tok), "")
				wantRefused(t, name+" $connect", status, body, 401, chatapp.EUNAUTHORIZED)
			}
		})

		// Ada listens with the token in the query, as a browser must.
		listener, status, body := dialAuth(t, s.URL, "room_id=lobby&token="+url.QueryEscape(ada), "")
		if listener == nil {
			t.Fatalf("$connect with a good token in the query: %d %s", status, body)
		}
		eventually(t, "ada is in the room", func() bool { return len(getUsersAuth(t, s.URL, "lobby", ada)) == 1 })
		if users := getUsersAuth(t, s.URL, "lobby", ada); users[0].UserID != "ada" || users[0].Name != "Ada" {
			t.Errorf("users = %+v, want the token's ada/Ada", users)
		}

		t.Run("good token in the header", func(t *testing.T) {
			// Bob's body names no user and another name: both are the token's.
			r := do(t, http.MethodPut, s.URL+"/chat", `{"room_id":"lobby","text":"hello from bob","name":"Imposter"}`, bearer(bob))
			if r.Status != http.StatusOK {
				t.Fatalf("PUT /chat with a good token: %d %s", r.Status, r.Body)
			}
			if m := listener.nextMessage(); m.UserID != "bob" || m.Name != "Bob" || m.Text != "hello from bob" {
				t.Errorf("push = %+v, want bob/Bob's message", m)
			}
			ws, status, body := dialAuth(t, s.URL, "room_id=lobby", bob)
			if ws == nil {
				t.Fatalf("$connect with a good token in the header: %d %s", status, body)
			}
			ws.close()
		})

		t.Run("spoofed user_id", func(t *testing.T) {
			r := do(t, http.MethodPut, s.URL+"/chat", `{"room_id":"lobby","text":"I am bob","user_id":"bob"}`, bearer(ada))
			wantRefused(t, "PUT as another user", r.Status, r.Body, 403, chatapp.EFORBIDDEN)
			_, status, body := dialAuth(t, s.URL, originalQuery("bob", "lobby"), ada)
			wantRefused(t, "$connect as another user", status, body, 403, chatapp.EFORBIDDEN)
		})

		t.Run("room the token does not allow", func(t *testing.T) {
			r := do(t, http.MethodGet, s.URL+"/chat?room_id=ops", nil, bearer(ada))
			wantRefused(t, "GET /chat", r.Status, r.Body, 403, chatapp.EFORBIDDEN)
			r = do(t, http.MethodGet, s.URL+"/chat/users?room_id=ops", nil, bearer(ada))
			wantRefused(t, "GET /chat/users", r.Status, r.Body, 403, chatapp.EFORBIDDEN)
			r = do(t, http.MethodPut, s.URL+"/chat", `{"room_id":"ops","text":"hi"}`, bearer(ada))
			wantRefused(t, "PUT /chat", r.Status, r.Body, 403, chatapp.EFORBIDDEN)
			_, status, body := dialAuth(t, s.URL, "room_id=ops", ada)
			wantRefused(t, "$connect", status, body, 403, chatapp.EFORBIDDEN)
		})

		t.Run("sendmessage sends as the token's user", func(t *testing.T) {
			listener.send(`{"action":"sendmessage","text":"over the socket","name":"Imposter"}`)
			if m := listener.nextMessage(); m.UserID != "ada" || m.Name != "Ada" {
				t.Errorf("push = %+v, want ada/Ada", m)
			}
		})

		t.Run("history", func(t *testing.T) {
			r := do(t, http.MethodGet, s.URL+"/chat?room_id=lobby", nil, bearer(ada))
			if r.Status != http.StatusOK {
				t.Fatalf("GET /chat: %d %s", r.Status, r.Body)
			}
			var h history
			decodeJSON(t, r.Body, &h)
			var got []string
			for _, m := range h.Messages {
				got = append(got, m.UserID+"/"+m.Name+": "+m.Text)
			}
			if want := []string{"bob/Bob: hello from bob", "ada/Ada: over the socket"}; !slices.Equal(got, want) {
				t.Errorf("history = %q, want %q", got, want)
			}
		})

		t.Run("a name claim the chat would refuse", func(t *testing.T) {
			// An identity provider's name: too long, with control
			// characters. It is cleaned, not refused: refusing it would
			// lock its user out of every route.
			claims := jwt.MapClaims{"sub": "carol", "name": "\x1b[31mCarol\x00 " + strings.Repeat("n", 300), "exp": time.Now().Add(time.Hour).Unix()}
			carol, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(authTestSecret))
			if err != nil {
				t.Fatal(err)
			}
			ws, status, body := dialAuth(t, s.URL, "room_id=names", carol)
			if ws == nil {
				t.Fatalf("$connect: %d %s", status, body)
			}
			defer ws.close()
			r := do(t, http.MethodPut, s.URL+"/chat", `{"room_id":"names","text":"hi"}`, bearer(carol))
			if r.Status != http.StatusOK {
				t.Fatalf("PUT /chat: %d %s", r.Status, r.Body)
			}
			m := ws.nextMessage()
			if want := "[31mCarol " + strings.Repeat("n", chatapp.MaxNameRunes-len("[31mCarol ")); m.Name != want {
				t.Errorf("name = %q, want %q", m.Name, want)
			}
		})

		listener.close()
		s.close(t)
		for name, secret := range map[string]string{"ada's token": ada, "bob's token": bob, "forged token": forged, "expired token": expired, "the secret": authTestSecret} {
			if strings.Contains(logs.String(), secret) {
				t.Errorf("the logs hold %s:\n%s", name, logs.String())
			}
		}
		if !strings.Contains(logs.String(), "token refused") && cfg.Functions != "rie" {
			t.Errorf("the refusals were not logged (a level or wiring problem?):\n%s", logs.String())
		}
	})
}

func getUsersAuth(t *testing.T, base, room, token string) []user {
	t.Helper()
	r := do(t, http.MethodGet, base+"/chat/users?room_id="+url.QueryEscape(room), nil, map[string]string{"Authorization": "Bearer " + token})
	if r.Status != http.StatusOK {
		t.Fatalf("GET /chat/users: %d %s", r.Status, r.Body)
	}
	var out struct {
		Users []user `json:"users"`
	}
	decodeJSON(t, r.Body, &out)
	return out.Users
}

// TestAuthGoClient chats through the client library with a token: Dial,
// Send and History all carry it, and the server knows the user from it.
func TestAuthGoClient(t *testing.T) {
	s := startServer(t, ServeConfig{Auth: AuthConfig{Secret: authTestSecret}})
	api, ws := client.LocalURLs(s.URL)
	ctx, cancel := contextWithTimeout()
	defer cancel()
	c, err := client.Dial(ctx, client.Config{APIURL: api, WebSocketURL: ws, Room: "lobby", Token: devToken(t, chatapp.Identity{UserID: "ada", Name: "Ada"}), HTTPClient: specClient(nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m, err := c.Send(ctx, "hi")
	if err != nil {
		t.Fatal(err)
	}
	if m.UserID != "ada" || m.Name != "Ada" {
		t.Errorf("sent as %s/%s, want ada/Ada", m.UserID, m.Name)
	}
	for ev := range c.Events() {
		if ev.Kind == client.KindMessage {
			if ev.Message.ID != m.ID || ev.Message.UserID != "ada" {
				t.Errorf("event %v, want the message sent", ev)
			}
			break
		}
	}

	// Without a token the server refuses, and the error says so.
	_, err = client.Dial(ctx, client.Config{APIURL: api, WebSocketURL: ws, Room: "lobby", UserID: "ada", HTTPClient: specClient(nil)})
	if chatapp.ErrorCode(err) != chatapp.EUNAUTHORIZED {
		t.Errorf("Dial without a token: %v, want code %s", err, chatapp.EUNAUTHORIZED)
	}
	// A token in a failed dial's error is redacted.
	bad := devToken(t, chatapp.Identity{UserID: "ada"})
	_, err = client.Dial(ctx, client.Config{APIURL: api, WebSocketURL: "ws://127.0.0.1:1/ws", Room: "lobby", Token: bad})
	if err == nil || strings.Contains(err.Error(), bad) {
		t.Errorf("Dial to a closed port: %v; want an error without the token", err)
	}
}

// TestAuthTokenCommand checks that `chatapp token` prints a token the server
// accepts, with the identity asked for.
func TestAuthTokenCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	args := []string{"token", "--user", "ada", "--name", "Ada", "--rooms", "lobby,ops", "--ttl", "1h", "--secret", authTestSecret}
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("chatapp token: %v\n%s", err, stderr.String())
	}
	token := strings.TrimSpace(stdout.String())
	v, err := auth.NewVerifier(context.Background(), auth.Config{Secret: []byte(authTestSecret)})
	if err != nil {
		t.Fatal(err)
	}
	id, err := v.VerifyToken(context.Background(), token)
	if err != nil {
		t.Fatalf("the printed token does not verify: %v", err)
	}
	if id.UserID != "ada" || id.Name != "Ada" || !slices.Equal(id.Rooms, []string{"lobby", "ops"}) {
		t.Errorf("identity = %+v", id)
	}

	// The secret may come from the environment; the server then accepts it.
	t.Setenv("CHATAPP_AUTH_SECRET", authTestSecret)
	stdout.Reset()
	if err := run(context.Background(), []string{"token", "--user", "bob"}, &stdout, &stderr); err != nil {
		t.Fatalf("chatapp token with CHATAPP_AUTH_SECRET: %v", err)
	}
	s := startServer(t, ServeConfig{Auth: AuthConfig{Secret: authTestSecret}})
	r := do(t, http.MethodGet, s.URL+"/chat?room_id=lobby", nil, map[string]string{"Authorization": "Bearer " + strings.TrimSpace(stdout.String())})
	if r.Status != http.StatusOK {
		t.Errorf("GET /chat with the printed token: %d %s", r.Status, r.Body)
	}

	for _, bad := range [][]string{
		{"token", "--name", "Ada"},                             // no user
		{"token", "--user", "ada", "--secret", "short"},        // weak secret
		{"token", "--user", "a b", "--secret", authTestSecret}, // bad user id
	} {
		if err := run(context.Background(), bad, io.Discard, io.Discard); err == nil {
			t.Errorf("chatapp %s succeeded", strings.Join(bad, " "))
		}
	}
	t.Setenv("CHATAPP_AUTH_SECRET", "")
	if err := run(context.Background(), []string{"token", "--user", "ada"}, io.Discard, io.Discard); err == nil {
		t.Error("chatapp token without any secret succeeded")
	}
}

// TestAuthServeSaysWhetherAuthIsOn runs `chatapp serve` as the command line
// does and reads its banner and log.
func TestAuthServeSaysWhetherAuthIsOn(t *testing.T) {
	for _, tc := range []struct {
		name, secret string
		banner       string
		warn         bool
	}{
		{"off", "", "auth            OFF", true},
		{"on", authTestSecret, "auth            ON: HS256", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CHATAPP_AUTH_SECRET", tc.secret)
			stdout, stderr := serveUntilBanner(t, "--addr", "127.0.0.1:0", "--data", t.TempDir())
			if !strings.Contains(stdout, tc.banner) {
				t.Errorf("banner has no %q:\n%s", tc.banner, stdout)
			}
			warned := strings.Contains(stderr, "level=WARN") && strings.Contains(stderr, "authentication is OFF")
			if warned != tc.warn {
				t.Errorf("WARN that auth is off: %v, want %v:\n%s", warned, tc.warn, stderr)
			}
			if tc.secret != "" && strings.Contains(stdout+stderr, tc.secret) {
				t.Error("serve printed the secret")
			}
		})
	}
}

// TestAuthServeRefusesAWeakSecret: a short secret is an error at start,
// not a server anyone can sign for.
func TestAuthServeRefusesAWeakSecret(t *testing.T) {
	_, err := StartServer(context.Background(), ServeConfig{Addr: "127.0.0.1:0", DataDir: t.TempDir(), Auth: AuthConfig{Secret: "short"}})
	if err == nil || !strings.Contains(fmt.Sprint(err), "32 bytes") {
		t.Fatalf("StartServer with a short secret: %v", err)
	}
}

// TestSocketEndsWithItsToken: a WebSocket does not outlive the token it was
// opened with. Locally the gateway closes it at the expiry (1008, "token
// expired"). On AWS nothing runs at that moment, so the first push after it
// closes the socket instead of reaching it; the backend whose functions run
// under the Lambda emulator and push through the Management API shows that
// path.
func TestSocketEndsWithItsToken(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg ServeConfig) {
		cfg.Auth = AuthConfig{Secret: authTestSecret}
		s := startServer(t, cfg)
		// A busy machine (the Lambda emulator's cold authorizer, a CPU
		// hog) may take most of the token's life to connect, leaving no
		// time for the push below: then a token that lives twice as long
		// is tried, up to 16 s.
		var ada *wsClient
		var expires time.Time
		for ttl := 2 * time.Second; ada == nil; ttl *= 2 {
			short, err := (&auth.Issuer{Secret: []byte(authTestSecret)}).Issue(chatapp.Identity{UserID: "ada"}, ttl)
			if err != nil {
				t.Fatal(err)
			}
			expires = time.Now().Add(ttl)
			conn, status, body := dialAuth(t, s.URL, "room_id=expiry", short)
			switch {
			case conn != nil && time.Until(expires) > ttl/2:
				ada = conn
			case conn != nil:
				conn.close()
			case status != http.StatusUnauthorized || !strings.Contains(string(body), "expired"):
				t.Fatalf("$connect: %d %s", status, body)
			}
			if ada == nil && ttl >= 16*time.Second {
				t.Fatalf("no connection with half its token's %v left", ttl)
			}
		}
		bob := map[string]string{"Authorization": "Bearer " + devToken(t, chatapp.Identity{UserID: "bob"})}
		if r := do(t, http.MethodPut, s.URL+"/chat", `{"room_id":"expiry","text":"before"}`, bob); r.Status != http.StatusOK {
			t.Fatalf("PUT /chat: %d %s", r.Status, r.Body)
		}
		if m := ada.nextMessage(); m.Text != "before" {
			t.Fatalf("push = %+v, want bob's message", m)
		}

		time.Sleep(time.Until(expires) + 200*time.Millisecond)
		if cfg.Functions == "rie" {
			if r := do(t, http.MethodPut, s.URL+"/chat", `{"room_id":"expiry","text":"after"}`, bob); r.Status != http.StatusOK {
				t.Fatalf("PUT /chat: %d %s", r.Status, r.Body)
			}
			ada.expectClose(websocket.StatusNormalClosure) // DeleteConnection's close
		} else {
			ada.expectClose(websocket.StatusPolicyViolation)
		}
		eventually(t, "the expired connection's row is gone", func() bool {
			return len(getUsersAuth(t, s.URL, "expiry", devToken(t, chatapp.Identity{UserID: "bob"}))) == 0
		})
	})
}
