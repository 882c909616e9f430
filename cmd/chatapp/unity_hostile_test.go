package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatapp-dev/chatapp/internal/hostilews"
)

// runHarness runs the Unity harness with args and the server's URL, and
// fails unless it passes its checks (want of them).
func runHarness(t *testing.T, url string, want int, args ...string) {
	t.Helper()
	dir := buildUnityHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), unityBudget)
	defer cancel()
	cmd := harnessCommand(ctx, t, dir, append(args, url)...)
	out, err := cmd.CombinedOutput()
	t.Logf("harness:\n%s", out)
	if ctx.Err() != nil {
		t.Fatalf("harness did not finish within %v", unityBudget)
	}
	if pass := "PASS all " + strconv.Itoa(want) + " checks"; err != nil || strings.Contains(string(out), "FAIL") || !strings.Contains(string(out), pass) {
		t.Errorf("harness: %v, want exit 0 and %q", err, pass)
	}
}

// TestUnityKeepAliveAnyFrame: a keepalive answered by an error frame, not
// the pong, keeps the Unity client's connection: on AWS a throttled ping
// gets an error frame, and a connection that delivers frames is alive.
// The client waits 1.5 s for an answer and stays 5 s: the old client,
// which waited for the pong only, reconnected within 3 s.
func TestUnityKeepAliveAnyFrame(t *testing.T) {
	t.Parallel() // its own server and harness process
	hs := hostilews.Start(t, hostilews.Options{Answer: `{"error":{"code":"rate_limited","message":"too many frames: retry in 20ms"}}`})
	runHarness(t, hs.URL, 1, "--keepalive", "5", "--interval", "1000", "--timeout", "1500")
	if n := hs.Keepalives.Load(); n < 2 {
		t.Errorf("the server got %d keepalive messages, want at least 2", n)
	}
	if n := hs.Connections.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// TestUnityReconnectBackoff: against a server that closes each WebSocket
// half a second after its handshake, the Unity client's reconnects count
// as failed attempts (a connection that did not stay up 5 s), and each
// waits within its attempt's growing ceiling (the harness's --flap check;
// the waits are random below it: full jitter). The old client started
// again at attempt 1 after each connection.
func TestUnityReconnectBackoff(t *testing.T) {
	t.Parallel() // its own server and harness process
	hs := hostilews.Start(t, hostilews.Options{Lifetime: 500 * time.Millisecond})
	runHarness(t, hs.URL, 1, "--flap", "6")
	t.Logf("%d connections", hs.Connections.Load())
}
