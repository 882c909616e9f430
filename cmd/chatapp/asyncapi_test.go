package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/chatapp-dev/chatapp/internal/apispec"
	"github.com/chatapp-dev/chatapp/internal/component"
)

// checkSeenFrames checks the frames the tests' WebSockets met (seenFrames)
// against docs/asyncapi.yaml, once every test has passed, and returns the
// exit code: 1 when a frame does not match, or when the checker is missing
// under CI=true.
func checkSeenFrames() int {
	if seenFrames.Len() == 0 {
		return 0
	}
	dir, err := os.MkdirTemp("", "chatapp-frames-")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "frames.jsonl")
	if err := seenFrames.WriteFile(path); err != nil {
		fmt.Println(err)
		return 1
	}
	out, err := apispec.CheckFrames(path)
	switch {
	case errors.Is(err, apispec.ErrNoChecker) && !component.CI():
		fmt.Printf("skipped the AsyncAPI check of %d frames: %v\n", seenFrames.Len(), err)
		return 0
	case err != nil:
		fmt.Printf("FAIL: the WebSocket frames the tests met do not match docs/asyncapi.yaml:\n%v\n", err)
		return 1
	}
	fmt.Print(out)
	return 0
}

// TestAsyncAPIFrames drives a session that makes every kind of frame the
// WebSocket API has (messages, presence joins and leaves, pongs, error
// frames, the close codes a client can provoke) and checks them all against
// docs/asyncapi.yaml with the AsyncAPI parser; then a frame the document
// does not allow must fail the check, so that it cannot pass vacuously.
func TestAsyncAPIFrames(t *testing.T) {
	apispec.RequireFrameChecker(t)
	s := startServer(t, ServeConfig{})
	var log apispec.FrameLog
	record := func(c *wsClient) *wsClient {
		c.log.Store(&log)
		return c
	}
	watcher := record(dial(t, s.URL, "watcher", "room_id=spec&user_id=watcher&events=presence"))
	ada := record(dial(t, s.URL, "ada", "room_id=spec&user_id=ada&name=Ada"))
	if m := watcher.nextMap(); m["type"] != "join" {
		t.Fatalf("watcher got %v, want ada's join", m)
	}

	ada.send(`{"action":"sendmessage","text":"over the socket","idempotency_key":"k-1"}`)
	ada.nextMessage()
	watcher.nextMessage()
	putMessage(t, s.URL, "spec", "rest", "Rest", "over REST")
	ada.nextMessage()
	watcher.nextMessage()

	ada.send(`{"action":"ping"}`)
	if m := ada.nextMap(); m["type"] != "pong" {
		t.Fatalf("ping answered %v, want the pong", m)
	}
	for _, bad := range []string{
		`{"action":"dance"}`,
		`not JSON`,
		`{"action":"sendmessage","text":"   "}`,
		`{"action":"sendmessage","text":"` + strings.Repeat("x", 17000) + `"}`,
	} {
		ada.send(bad)
		ada.nextError()
	}

	ada.close() // 1000, echoed
	if m := watcher.nextMap(); m["type"] != "leave" {
		t.Fatalf("watcher got %v, want ada's leave", m)
	}
	binary := record(dial(t, s.URL, "binary", "room_id=spec&user_id=b"))
	binary.write(websocket.MessageBinary, []byte("\x00\x01"))
	binary.expectClose(websocket.StatusUnsupportedData)
	big := record(dial(t, s.URL, "big", "room_id=spec&user_id=big"))
	big.send(strings.Repeat("y", 40000))
	big.expectClose(websocket.StatusMessageTooBig)

	path := filepath.Join(t.TempDir(), "frames.jsonl")
	if err := log.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	out, err := apispec.CheckFrames(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(strings.TrimSpace(out))
	for _, kind := range []string{
		"server message", "server presence", "server pong", "server error",
		"client sendMessage", "client ping", "client unrouted",
		"close 1000", "close 1003", "close 1009",
	} {
		if !strings.Contains(out, kind+":") {
			t.Errorf("the check saw no %q frame: %s", kind, out)
		}
	}

	// A push with the original client's routing field, and a close code
	// the server never sends: each must fail.
	wrong := filepath.Join(t.TempDir(), "wrong.jsonl")
	os.WriteFile(wrong, []byte(`{"from":"server","data":"{\"id\":\"01KAZ3F4J7Q9V2C8N6M5T0R1WX\",\"room_id\":\"spec\",\"timestamp\":1,\"message\":\"hi\",\"user_id\":\"u\",\"name\":\"\",\"command\":\"join\"}"}`+"\n"+
		`{"from":"server","close":1006}`+"\n"), 0o644)
	out, err = apispec.CheckFrames(wrong)
	if err == nil {
		t.Fatalf("frames that asyncapi.yaml does not allow passed the check: %s", out)
	}
	for _, want := range []string{"wrong.jsonl:1: a server frame that matches no message", "wrong.jsonl:2: the server closed with 1006"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the check's report lacks %q: %v", want, err)
		}
	}
}
