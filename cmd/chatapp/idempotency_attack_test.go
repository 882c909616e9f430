package main

import (
	"net/http"
	"testing"
)

// TestReplayNotRateLimited: a retry of a send the server already stored
// (the web page's resend by PUT, under the same idempotency key, when its
// socket closed before the push came) is answered with the stored message,
// whatever the sender's send rate. Refused with 429, the page says "not
// sent" for a stored message and keeps its text; sent again, it is stored
// twice.
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
}
