package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp/internal/apispec"
)

// TestBadHandshakesLeaveNoTrace: requests to /ws with the Upgrade and
// Connection headers of a handshake that is not a valid one (issue 9: no
// Sec-WebSocket-Key, a bad version, POST, HTTP/1.0) are refused before
// $connect runs: the room's presence listeners see no join and no leave of
// a user who never connected, and no connection row is ever stored.
func TestBadHandshakesLeaveNoTrace(t *testing.T) {
	s := startServer(t, ServeConfig{})
	watcher := dial(t, s.URL, "watcher", "user_id=w&room_id=hs&events=presence&")
	eventually(t, "the watcher is in the room", func() bool { return len(getUsers(t, s.URL, "hs")) == 1 })
	const key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	for _, c := range []struct {
		name, line, headers string
		status              int
	}{
		{"no key", "GET /ws?room_id=hs&user_id=ghost1 HTTP/1.1", "Sec-WebSocket-Version: 13\r\n", http.StatusBadRequest},
		{"version 8", "GET /ws?room_id=hs&user_id=ghost2 HTTP/1.1", key + "Sec-WebSocket-Version: 8\r\n", http.StatusUpgradeRequired},
		{"POST", "POST /ws?room_id=hs&user_id=ghost3 HTTP/1.1", key + "Sec-WebSocket-Version: 13\r\n", http.StatusMethodNotAllowed},
		{"HTTP/1.0", "GET /ws?room_id=hs&user_id=ghost4 HTTP/1.0", key + "Sec-WebSocket-Version: 13\r\n", http.StatusHTTPVersionNotSupported},
	} {
		conn := rawConn(t, s.URL)
		conn.SetDeadline(time.Now().Add(waitTimeout))
		raw := fmt.Sprintf("%s\r\nHost: chat\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n%s\r\n", c.line, c.headers)
		io.WriteString(conn, raw)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, resp.StatusCode, body, c.status)
		}
		checkErrorBody(t, c.name, body)
		apispec.CheckRaw(t, raw, resp, body)
	}
	putMessage(t, s.URL, "hs", "u", "U", "after the bad handshakes")
	if m := watcher.nextMap(); m["message"] != "after the bad handshakes" {
		t.Fatalf("the watcher's next frame is %v, want the message sent after the bad handshakes", m)
	}
	if users := getUsers(t, s.URL, "hs"); len(users) != 1 || users[0].UserID != "w" {
		t.Fatalf("users of the room: %+v, want the watcher alone", users)
	}
}
