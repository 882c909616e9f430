package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/auth"
)

// TestHostileBattery throws what an attacker would at a server configured as
// it is deployed (auth on, the default limits): forged, expired and
// other-secret tokens, spoofed user ids, rooms the token does not allow,
// oversize and malformed bodies and frames, odd Unicode, floods. Every
// answer must be a 4xx JSON error or a clean close, never a 5xx; the server
// must keep serving; and the history must hold exactly the messages the
// legitimate user sent.
func TestHostileBattery(t *testing.T) {
	cfg := ServeConfig{Auth: AuthConfig{Secret: authTestSecret}, Limits: DefaultLimits}
	s := startServer(t, cfg)
	const room = "vault"
	ada := devToken(t, chatapp.Identity{UserID: "ada", Name: "Ada", Rooms: []string{room}})
	mallory := devToken(t, chatapp.Identity{UserID: "mallory", Name: "Mallory", Rooms: []string{"elsewhere"}})
	expired, err := (&auth.Issuer{Secret: []byte(authTestSecret), Now: func() time.Time { return time.Now().Add(-2 * time.Hour) }}).
		Issue(chatapp.Identity{UserID: "ada"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	otherSecret, err := (&auth.Issuer{Secret: []byte("another-secret-entirely-0123456789abcdef")}).Issue(chatapp.Identity{UserID: "ada"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// The payload of ada's token with sub changed to mallory, the signature kept.
	parts := strings.Split(ada, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString(bytes.Replace(payload, []byte(`"ada"`), []byte(`"mallory"`), 1)) + "." + parts[2]
	algNone := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."

	bearer := func(token string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"}
	}
	// Ada's one legitimate message, so that "nothing else stored" means something.
	r := do(t, http.MethodPut, s.URL+"/chat", `{"room_id":"vault","text":"the only real message"}`, bearer(ada))
	if r.Status != http.StatusOK {
		t.Fatalf("ada's send: %d %s", r.Status, r.Body)
	}

	type attempt struct {
		what, method, path string
		body               any
		header             map[string]string
		status             int
	}
	sendBody := func(extra string) string { return `{"room_id":"vault","text":"injected"` + extra + `}` }
	attempts := []attempt{
		{"no token", "PUT", "/chat", sendBody(""), jsonHeader, 401},
		{"expired token", "PUT", "/chat", sendBody(""), bearer(expired), 401},
		{"token of another secret", "PUT", "/chat", sendBody(""), bearer(otherSecret), 401},
		{"forged sub", "PUT", "/chat", sendBody(""), bearer(forged), 401},
		{"alg none", "PUT", "/chat", sendBody(""), bearer(algNone), 401},
		{"garbage token", "PUT", "/chat", sendBody(""), bearer("%00%ff.<script>."), 401},
		{"token in a bad scheme", "PUT", "/chat", sendBody(""), map[string]string{"Authorization": "Basic " + ada}, 401},
		{"spoofed user_id", "PUT", "/chat", sendBody(`,"user_id":"mallory"`), bearer(ada), 403},
		{"room the token does not allow", "PUT", "/chat", `{"room_id":"vault","text":"in"}`, bearer(mallory), 403},
		{"history of a room not allowed", "GET", "/chat?room_id=vault", nil, bearer(mallory), 403},
		{"members of a room not allowed", "GET", "/chat/users?room_id=vault", nil, bearer(mallory), 403},
		{"history without a token", "GET", "/chat?room_id=vault", nil, nil, 401},
		{"oversize body", "PUT", "/chat", sendBody(`,"name":"` + strings.Repeat("x", 200<<10) + `"`), bearer(ada), 413},
		{"oversize text", "PUT", "/chat", `{"room_id":"vault","text":"` + strings.Repeat("y", chatapp.MaxMessageBytes+1) + `"}`, bearer(ada), 413},
		{"not JSON", "PUT", "/chat", "room_id=vault&text=x", bearer(ada), 400},
		{"JSON array", "PUT", "/chat", `[{"room_id":"vault","text":"x"}]`, bearer(ada), 400},
		{"deep nesting", "PUT", "/chat", strings.Repeat("[", 20000) + strings.Repeat("]", 20000), bearer(ada), 400},
		{"invalid UTF-8 text", "PUT", "/chat", []byte("{\"room_id\":\"vault\",\"text\":\"\xff\xfe\"}"), bearer(ada), 400},
		{"lone surrogate", "PUT", "/chat", `{"room_id":"vault","text":"\ud800"}`, bearer(ada), 400},
		{"only zero-width space", "PUT", "/chat", `{"room_id":"vault","text":"\u200b"}`, bearer(ada), 400},
		{"NUL in room", "PUT", "/chat", `{"room_id":"va\u0000ult","text":"x"}`, bearer(ada), 400}, // not an id: refused as such, never quoted back
		{"RTL override in text only", "PUT", "/chat", `{"room_id":"vault","text":"\u202e\u2066"}`, bearer(ada), 400},
		{"number as text", "PUT", "/chat", `{"room_id":"vault","text":1e400}`, bearer(ada), 400},
		{"bad limit", "GET", "/chat?room_id=vault&limit=-1", nil, bearer(ada), 400},
		{"bad cursor", "GET", "/chat?room_id=vault&cursor=%27%20OR%201%3D1%20--", nil, bearer(ada), 400},
		{"cursor and after", "GET", "/chat?room_id=vault&cursor=01KAZ3F4J7Q9V2C8N6M5T0R1WX&after=01KAZ3F4J7Q9V2C8N6M5T0R1WX", nil, bearer(ada), 400},
		{"unknown method", "DELETE", "/chat", nil, bearer(ada), 404}, // API Gateway: no such route
		{"unknown resource", "GET", "/chat/../../etc/passwd", nil, bearer(ada), 404},
		{"bad idempotency key", "PUT", "/chat", sendBody(`,"idempotency_key":"no spaces allowed"`), bearer(ada), 400},
	}
	for _, a := range attempts {
		r, err := tryDo(a.method, s.URL+a.path, a.body, a.header)
		if err != nil {
			t.Errorf("%s: %v", a.what, err)
			continue
		}
		if r.Status >= 500 || r.Status < 400 {
			t.Errorf("%s: %d %s, want a 4xx", a.what, r.Status, truncate(r.Body))
			continue
		}
		if r.Status != a.status {
			t.Errorf("%s: %d %s, want %d", a.what, r.Status, truncate(r.Body), a.status)
		}
		if a.path != "/chat/../../etc/passwd" { // the web page's file server answers that one
			checkErrorBody(t, a.what, r.Body)
		}
	}

	// $connect: the same tokens, refused at the handshake.
	for what, q := range map[string]string{
		"no token":         "room_id=vault",
		"expired token":    "room_id=vault&token=" + url.QueryEscape(expired),
		"forged token":     "room_id=vault&token=" + url.QueryEscape(forged),
		"spoofed user_id":  "room_id=vault&user_id=mallory&token=" + url.QueryEscape(ada),
		"room not allowed": "room_id=vault&token=" + url.QueryEscape(mallory),
		"bad room":         "room_id=" + url.QueryEscape("<script>") + "&token=" + url.QueryEscape(ada),
	} {
		_, status, body := dialAuth(t, s.URL, q, "")
		if status < 400 || status > 499 {
			t.Errorf("$connect with %s: %d %s, want a 4xx", what, status, body)
			continue
		}
		checkErrorBody(t, "$connect with "+what, body)
	}

	// Frames on Ada's own connection: error frames or clean closes only.
	frames := []struct {
		what string
		typ  websocket.MessageType
		data []byte
	}{
		{"not JSON", websocket.MessageText, []byte("hello?")},
		{"unknown action", websocket.MessageText, []byte(`{"action":"admin","text":"x"}`)},
		{"action of the wrong case", websocket.MessageText, []byte(`{"ACTION":"sendmessage","text":"x"}`)},
		{"action not a string", websocket.MessageText, []byte(`{"action":["sendmessage"],"text":"x"}`)},
		{"blank text", websocket.MessageText, []byte(`{"action":"sendmessage","text":" \t\n"}`)},
		{"invalid UTF-8", websocket.MessageText, []byte("{\"action\":\"sendmessage\",\"text\":\"\xc3\x28\"}")},
		{"oversize text", websocket.MessageText, []byte(`{"action":"sendmessage","text":"` + strings.Repeat("z", chatapp.MaxMessageBytes+1) + `"}`)},
	}
	c, status, body := dialAuth(t, s.URL, "room_id=vault&token="+url.QueryEscape(ada), "")
	if c == nil {
		t.Fatalf("ada's connection: %d %s", status, body)
	}
	for _, f := range frames {
		c.write(f.typ, f.data)
		if code := c.nextError(); code == chatapp.EINTERNAL || code == "" {
			t.Errorf("frame %s: code %q", f.what, code)
		}
	}
	// A name the token's overrides: the client's is ignored, however odd.
	for _, name := range []string{"\u202egnp.exe", strings.Repeat("N", 1000)} {
		r := do(t, "PUT", s.URL+"/chat", `{"room_id":"vault","text":"named","name":"`+name+`"}`, bearer(ada))
		var out struct{ Message message }
		decodeJSON(t, r.Body, &out)
		if r.Status != 200 || out.Message.Name != "Ada" {
			t.Errorf("a send naming itself %.10q: %d %s, want 200 as Ada", name, r.Status, truncate(r.Body))
		}
		if m := c.nextMessage(); m.Name != "Ada" {
			t.Errorf("pushed as %q", m.Name)
		}
	}

	// A frame over 32 KB: closed with 1009.
	c.write(websocket.MessageText, bytes.Repeat([]byte("a"), 129<<10))
	c.expectClose(websocket.StatusMessageTooBig)
	// A binary frame: closed with 1003, as API Gateway closes it.
	if c, status, body = dialAuth(t, s.URL, "room_id=vault&token="+url.QueryEscape(ada), ""); c == nil {
		t.Fatalf("ada's second connection: %d %s", status, body)
	}
	c.write(websocket.MessageBinary, []byte{0xff, 0x00, 0xfe})
	c.expectClose(websocket.StatusUnsupportedData)

	// Floods: a REST flood is throttled with 429s, a frame flood is closed.
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for w := range 4 {
		wg.Go(func() {
			for i := range 30 {
				r, err := tryDo("PUT", s.URL+"/chat", fmt.Sprintf(`{"room_id":"vault","text":"flood %d-%d"}`, w, i), bearer(ada))
				mu.Lock()
				if err != nil {
					statuses[-1]++
				} else {
					statuses[r.Status]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if statuses[-1] > 0 || statuses[200]+statuses[429] != 120 || statuses[429] == 0 {
		t.Errorf("REST flood answers %v, want only 200s and 429s, some 429", statuses)
	}
	flooder, status, body := dialAuth(t, s.URL, "room_id=vault&token="+url.QueryEscape(ada), "")
	if flooder == nil {
		t.Fatalf("flooder's connection: %d %s", status, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitTimeout)
	defer cancel()
	for range 2000 {
		if flooder.conn.Write(ctx, websocket.MessageText, []byte(`{"action":"nothing"}`)) != nil {
			break
		}
	}
	closed := false
	for !closed {
		select {
		case f := <-flooder.frames:
			if f.err != nil {
				if code := websocket.CloseStatus(f.err); code != websocket.StatusPolicyViolation {
					t.Errorf("frame flood ended with %v, want 1008", f.err)
				}
				closed = true
			} else if code := checkErrorBody(t, "frame flood answer", f.data); code == chatapp.EINTERNAL {
				t.Errorf("frame flood: internal error")
			}
		case <-ctx.Done():
			t.Fatal("the frame flood was never closed")
		}
	}

	// The server still serves, and stored only what Ada sent and was accepted.
	h := getHistoryAuth(t, s.URL, "room_id=vault&limit=1000", ada)
	accepted := statuses[200]
	if len(h.Messages) != 3+accepted {
		t.Fatalf("%d messages stored, want Ada's 3 and the %d accepted flood sends", len(h.Messages), accepted)
	}
	for _, m := range h.Messages {
		if m.UserID != "ada" || m.Name != "Ada" || (m.Text != "the only real message" && m.Text != "named" && !strings.HasPrefix(m.Text, "flood ")) {
			t.Errorf("stored a message it should not have: %+v", m)
		}
	}
}

// getHistoryAuth is getHistory with a bearer token.
func getHistoryAuth(t testing.TB, base, query, token string) history {
	t.Helper()
	r := do(t, http.MethodGet, base+"/chat?"+query, nil, map[string]string{"Authorization": "Bearer " + token})
	if r.Status != http.StatusOK {
		t.Fatalf("GET /chat?%s: %d %s", query, r.Status, r.Body)
	}
	var h history
	decodeJSON(t, r.Body, &h)
	return h
}
