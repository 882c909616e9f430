// TestUnityClientAlgorithm: docs/protocol.md's client algorithm scenario
// (runClientAlgorithm) against the Unity package, driven through the
// harness's --drive mode (unity/Tests~/Harness/Drive.cs).

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestUnityClientAlgorithm(t *testing.T) {
	t.Parallel() // its own server and harness process
	runClientAlgorithm(t, startUnityClient)
}

// unitySendWait bounds a send-ws command: the harness waits up to 20 s for
// the client to be connected before it sends.
const unitySendWait = 30 * time.Second

// unityAlgorithmClient is a harness process in --drive mode: its MSG lines
// are what the client delivered; the answer to each send-ws command comes
// on acks.
type unityAlgorithmClient struct {
	stdin io.WriteCloser
	acks  chan string

	mu   sync.Mutex
	msgs []deliveredMessage
}

func startUnityClient(t *testing.T, base, room string) algorithmClient {
	t.Helper()
	dir := buildUnityHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := harnessCommand(ctx, t, dir, "--drive", room, base)
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	u := &unityAlgorithmClient{stdin: stdin, acks: make(chan string, 1)}
	connected := make(chan struct{}, 1)
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20) // a message of 16 KiB, escaped
		for sc.Scan() {
			u.take(t, sc.Text(), connected)
		}
	}()
	t.Cleanup(func() {
		stdin.Close() // the harness closes its client and exits
		select {
		case <-read:
		case <-time.After(10 * time.Second):
			t.Errorf("the harness did not exit within 10 s of the end of its input")
		}
		cancel()
		<-read
		cmd.Wait()
		if t.Failed() {
			t.Logf("harness stderr:\n%s", stderr.String())
		}
	})
	select {
	case <-connected:
	case <-read:
		t.Fatalf("the harness exited before it connected")
	case <-time.After(waitTimeout):
		t.Fatalf("the harness did not connect within %v", waitTimeout)
	}
	return u
}

// take handles one line of the harness.
func (u *unityAlgorithmClient) take(t *testing.T, line string, connected chan<- struct{}) {
	if rest, ok := strings.CutPrefix(line, "MSG "); ok {
		id, quoted, _ := strings.Cut(rest, " ")
		var text string
		if err := json.Unmarshal([]byte(quoted), &text); err != nil {
			t.Errorf("harness: %.80s: %v", line, err)
			return
		}
		t.Logf("harness: MSG %s %.20q", id, text)
		u.mu.Lock()
		u.msgs = append(u.msgs, deliveredMessage{id, text})
		u.mu.Unlock()
		return
	}
	t.Logf("harness: %s", line)
	switch {
	case line == "CONNECTED":
		connected <- struct{}{}
	case line == "SENT", strings.HasPrefix(line, "SEND-FAILED"):
		u.acks <- line
	}
}

func (u *unityAlgorithmClient) delivered(*testing.T) []deliveredMessage {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]deliveredMessage(nil), u.msgs...)
}

func (u *unityAlgorithmClient) sendSocket(t *testing.T, text string) {
	t.Helper()
	if strings.ContainsAny(text, "\r\n") {
		t.Fatalf("send-ws takes one line: %q", text)
	}
	if _, err := fmt.Fprintf(u.stdin, "send-ws %s\n", text); err != nil {
		t.Fatalf("send-ws %q: %v", text, err)
	}
	select {
	case ack := <-u.acks:
		if ack != "SENT" {
			t.Fatalf("send-ws %q: %s", text, ack)
		}
	case <-time.After(unitySendWait):
		t.Fatalf("send-ws %q: no answer within %v", text, unitySendWait)
	}
}
