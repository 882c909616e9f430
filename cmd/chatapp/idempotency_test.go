package main

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/chatapp-dev/chatapp"
)

// TestIdempotentSends retries sends as the original Unity client does (the
// same PUT again) and as a careful client does (racing attempts with one
// key, over REST and over the socket): each logical send is stored once and
// pushed once.
func TestIdempotentSends(t *testing.T) { forEachBackend(t, testIdempotentSends) }

func testIdempotentSends(t *testing.T, cfg ServeConfig) {
	s := startServer(t, cfg)
	const room = "retries"
	listener := dial(t, s.URL, "listener", originalQuery("listener", room))
	sender := dial(t, s.URL, "sender", originalQuery("sender", room))

	body := mustJSON(t, map[string]string{"room_id": room, "text": "once over REST", "user_id": "u1", "name": "U"})
	header := map[string]string{"Content-Type": "application/json", "Idempotency-Key": "7f9c1c7e-2b7a-4f5e-9d7e-000000000001"}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ids     = map[string]bool{}
		replays int
	)
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := tryDo(http.MethodPut, s.URL+"/chat/", body, header)
			if err != nil || r.Status != http.StatusOK {
				t.Errorf("PUT: %v %d %s", err, r.Status, r.Body)
				return
			}
			var out struct {
				Message struct {
					ID string `json:"id"`
				} `json:"message"`
			}
			if err := json.Unmarshal(r.Body, &out); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			ids[out.Message.ID] = true
			if r.Header.Get("Idempotent-Replayed") == "true" {
				replays++
			}
		}()
	}
	wg.Wait()
	if len(ids) != 1 || replays != 4 {
		t.Errorf("5 attempts answered ids %v with %d replays, want one id and 4 replays", ids, replays)
	}

	// The key in the body works the same; over the socket too.
	keyed := mustJSON(t, map[string]string{"room_id": room, "text": "once in the body", "user_id": "u1", "idempotency_key": "body-key"})
	for range 2 {
		if r := do(t, http.MethodPut, s.URL+"/chat", keyed, jsonHeader); r.Status != http.StatusOK {
			t.Fatalf("PUT with idempotency_key: %d %s", r.Status, r.Body)
		}
	}
	for range 3 {
		sender.send(`{"action":"sendmessage","text":"once over the socket","idempotency_key":"ws-key"}`)
	}
	// The gateway runs one connection's frames in order, so the sentinel
	// comes after every retry has been handled.
	sender.send(`{"action":"sendmessage","text":"sentinel"}`)

	// Each client sees each send once, then the sentinel.
	for _, c := range []*wsClient{listener, sender} {
		var texts []string
		for {
			m := c.nextMessage()
			texts = append(texts, m.Text)
			if m.Text == "sentinel" {
				break
			}
		}
		want := map[string]bool{"once over REST": true, "once in the body": true, "once over the socket": true, "sentinel": true}
		if len(texts) != len(want) {
			t.Errorf("%s received %q, want each of %d sends once", c.name, texts, len(want))
		}
		for _, text := range texts {
			if !want[text] {
				t.Errorf("%s received %q twice or unexpectedly", c.name, text)
			}
			delete(want, text)
		}
	}
	if h := getHistory(t, s.URL, "room_id="+room); len(h.Messages) != 4 {
		t.Errorf("history holds %d messages, want 4: %+v", len(h.Messages), h.Messages)
	}

	// A header and a body that disagree are refused.
	clash := mustJSON(t, map[string]string{"room_id": room, "text": "x", "user_id": "u1", "idempotency_key": "a"})
	r := do(t, http.MethodPut, s.URL+"/chat", clash, map[string]string{"Idempotency-Key": "b"})
	if r.Status != http.StatusBadRequest || checkErrorBody(t, "clashing keys", r.Body) != "invalid" {
		t.Errorf("clashing keys: %d %s", r.Status, r.Body)
	}
}

// TestIdempotencyKeyReusedForAnotherText: a key its user already used in the
// room for another text is answered 409 conflict, over REST and over the
// socket, and nothing is stored or pushed. Before, the client was answered
// with the first message as if its text had been stored.
func TestIdempotencyKeyReusedForAnotherText(t *testing.T) {
	forEachBackend(t, testIdempotencyConflict)
}

func testIdempotencyConflict(t *testing.T, cfg ServeConfig) {
	s := startServer(t, cfg)
	const room = "reused-keys"
	sender := dial(t, s.URL, "sender", originalQuery("u1", room))
	send := func(text string) response {
		body := mustJSON(t, map[string]string{"room_id": room, "text": text, "user_id": "u1"})
		return do(t, http.MethodPut, s.URL+"/chat", body, map[string]string{"Content-Type": "application/json", "Idempotency-Key": "reused"})
	}
	if r := send("the first text"); r.Status != http.StatusOK {
		t.Fatalf("first PUT: %d %s", r.Status, r.Body)
	}
	if m := sender.nextMessage(); m.Text != "the first text" {
		t.Fatalf("pushed %q", m.Text)
	}
	r := send("another text")
	if code := checkErrorBody(t, "PUT with a reused key", r.Body); r.Status != http.StatusConflict || code != chatapp.ECONFLICT {
		t.Errorf("PUT with a reused key and another text: %d %s, want 409 %s", r.Status, r.Body, chatapp.ECONFLICT)
	}
	if r := send("the first text"); r.Status != http.StatusOK || r.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("a retry of the first text: %d %s, want a replay", r.Status, r.Body)
	}
	sender.send(`{"action":"sendmessage","text":"a third text","idempotency_key":"reused"}`)
	if code := sender.nextError(); code != chatapp.ECONFLICT {
		t.Errorf("sendmessage with a reused key and another text: error %s, want %s", code, chatapp.ECONFLICT)
	}
	if h := getHistory(t, s.URL, "room_id="+room); len(h.Messages) != 1 || h.Messages[0].Text != "the first text" {
		t.Errorf("history holds %+v, want the first text only", h.Messages)
	}
}

// TestReplayNotRateLimited: a retry of a send the server already stored
// (the web page's resend by PUT, under the same idempotency key, when its
// socket closed before the push came) is answered with the stored message,
// whatever the sender's send rate. Refused with 429, the page says "not
// sent" for a stored message and keeps its text; sent again, it is stored
// twice. A new send past the rate is still refused.
func TestReplayNotRateLimited(t *testing.T) {
	s := startServer(t, ServeConfig{Limits: Limits{SendRate: 0.001, SendBurst: 1}})
	body := mustJSON(t, map[string]string{"room_id": "replay", "text": "once", "user_id": "u1", "idempotency_key": "web-0123456789abcdef01234567"})
	header := map[string]string{"Content-Type": "application/json"}
	if r := do(t, http.MethodPut, s.URL+"/chat", body, header); r.Status != http.StatusOK {
		t.Fatalf("first send: %d %s", r.Status, r.Body)
	}
	r := do(t, http.MethodPut, s.URL+"/chat", body, header)
	if r.Status != http.StatusOK || r.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("the retry of a stored send: %d %s, want 200 with Idempotent-Replayed: true", r.Status, r.Body)
	}
	fresh := mustJSON(t, map[string]string{"room_id": "replay", "text": "once", "user_id": "u1", "idempotency_key": "web-another-key"})
	if r := do(t, http.MethodPut, s.URL+"/chat", fresh, header); r.Status != http.StatusTooManyRequests {
		t.Errorf("a new send past the rate: %d %s, want 429", r.Status, r.Body)
	}
	other := mustJSON(t, map[string]string{"room_id": "replay", "text": "another text", "user_id": "u1", "idempotency_key": "web-0123456789abcdef01234567"})
	if r := do(t, http.MethodPut, s.URL+"/chat", other, header); r.Status != http.StatusConflict {
		t.Errorf("the used key with another text past the rate: %d %s, want 409", r.Status, r.Body)
	}
	if h := getHistory(t, s.URL, "room_id=replay"); len(h.Messages) != 1 {
		t.Errorf("history holds %d messages, want 1", len(h.Messages))
	}
}

// TestSocketReplayNotRateLimited: the same over the WebSocket: the retry of
// a stored sendmessage is a replay (no frame), not a rate_limited error.
// Frames of one connection are handled in order, so the ping's pong comes
// after whatever the retry was answered.
func TestSocketReplayNotRateLimited(t *testing.T) {
	s := startServer(t, ServeConfig{Limits: Limits{SendRate: 0.001, SendBurst: 1}})
	sender := dial(t, s.URL, "sender", originalQuery("u1", "replay"))
	const frame = `{"action":"sendmessage","text":"once","idempotency_key":"ws-key"}`
	sender.send(frame)
	if m := sender.nextMessage(); m.Text != "once" {
		t.Fatalf("pushed %q", m.Text)
	}
	sender.send(frame)
	sender.send(`{"action":"ping"}`)
	if f := sender.nextMap(); f["type"] != "pong" {
		t.Errorf("the retry of a stored send was answered %v, want nothing (then the pong)", f)
	}
	sender.send(`{"action":"sendmessage","text":"new","idempotency_key":"ws-other"}`)
	if code := sender.nextError(); code != chatapp.ERATELIMIT {
		t.Errorf("a new send past the rate: error %s, want %s", code, chatapp.ERATELIMIT)
	}
}
