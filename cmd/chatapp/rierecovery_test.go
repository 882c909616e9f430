package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatapp-dev/chatapp/awslambda/invoke"
	"github.com/chatapp-dev/chatapp/rie"
)

// waitFile waits, at most a minute, for a file the slow function creates.
func waitFile(t *testing.T, name string) {
	t.Helper()
	for range 6000 {
		if _, err := os.Stat(name); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", name)
}

// TestRIECanceledInvocationKeepsTheEmulator: a caller that leaves while the
// emulator runs its invocation (a GET whose client hung up, an authorizer's
// handshake dropped) gets its error at once, but the invocation is not
// abandoned: the next invoke waits until the emulator has answered it.
// Sent at once, it would reach the emulator mid-invocation, and the
// emulator, which runs one invocation at a time, crashes
// ("ReserveFailed: AlreadyReserved") and exits.
func TestRIECanceledInvocationKeepsTheEmulator(t *testing.T) {
	emulator, bootstrap := rieBinary(t), slowFunction(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	fn, err := rie.Start(ctx, rie.Options{RIE: emulator, Bootstrap: bootstrap, Handler: "slow", Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer fn.Close()
	inv := &invoke.Invoker{Client: newInvokeClient(fn.Endpoint), FunctionName: rie.FunctionName, Serial: true}
	get := inv.REST()
	if _, err := get(ctx, events.APIGatewayProxyRequest{}); err != nil {
		t.Fatalf("a first invoke: %v", err)
	}

	dir := t.TempDir()
	started, release := filepath.Join(dir, "started"), filepath.Join(dir, "release")
	leaving, leave := context.WithCancel(ctx)
	left := make(chan error, 1)
	go func() {
		_, err := get(leaving, events.APIGatewayProxyRequest{QueryStringParameters: map[string]string{"started_file": started, "release_file": release}})
		left <- err
	}()
	waitFile(t, started) // the emulator runs it
	leave()
	select {
	case err := <-left:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the caller that left got %v, want context.Canceled", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the caller that left still waits for the function it left")
	}

	next := make(chan error, 1)
	go func() {
		_, err := get(ctx, events.APIGatewayProxyRequest{})
		next <- err
	}()
	// Give the next invoke its chance to reach the emulator while the
	// first still runs there, then let the first end.
	select {
	case err := <-next:
		t.Fatalf("the next invoke ended while the emulator still ran the first: %v", err)
	case <-time.After(2 * time.Second):
	}
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := <-next; err != nil {
		t.Fatalf("the invoke after a caller left: %v", err)
	}
	if _, err := get(ctx, events.APIGatewayProxyRequest{}); err != nil {
		t.Fatalf("a later invoke: %v", err)
	}
}
