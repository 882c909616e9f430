package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/awslambda"
	"github.com/chatapp-dev/chatapp/awslambda/invoke"
	"github.com/chatapp-dev/chatapp/gateway"
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
	emulator, bootstrap := rieBinary(t), testFunction(t, "slowfunction")
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

// okStore answers every read at once, with nothing.
type okStore struct{ chatapp.MessageStore }

func (okStore) FindMessages(context.Context, chatapp.MessageFilter) (chatapp.MessagePage, error) {
	return chatapp.MessagePage{}, nil
}

// copyExecutable copies the executable src to dst.
func copyExecutable(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestRIEKilledEmulatorIsRestarted: under --functions rie, a function's
// emulator that dies (here SIGKILL; a crash alike) is started again, and
// the function answers again through the same integration. While it cannot
// be (its binary is gone), /healthz answers 503 and the log says why.
func TestRIEKilledEmulatorIsRestarted(t *testing.T) {
	emulator, bootstrap := rieBinary(t), testFunction(t, "slowfunction")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// A copy of the emulator, which the test takes away and gives back.
	bin := filepath.Join(t.TempDir(), "aws-lambda-rie")
	copyExecutable(t, emulator, bin)
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	cfg := ServeConfig{RIE: RIEConfig{Binary: bin, Bootstrap: bootstrap}, Logger: logger}
	in, err := underRIE(ctx, cfg, "http://127.0.0.1:1", gateway.NewManagementCredentials(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	health := healthHandler(okStore{}, in.Err, logger)
	healthz := func() int {
		rec := httptest.NewRecorder()
		health.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		return rec.Code
	}
	get := in.rest["GET /chat"]
	if _, err := get(ctx, events.APIGatewayProxyRequest{}); err != nil {
		t.Fatalf("GET /chat before the kill: %v", err)
	}
	if code := healthz(); code != http.StatusOK {
		t.Fatalf("/healthz before the kill: %d", code)
	}

	fn := in.emulators[awslambda.GetMessages]
	killed := fn.Pid()
	if err := os.Remove(bin); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(killed, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventuallyWithin(t, "/healthz reports the dead emulator", func() bool { return healthz() == http.StatusServiceUnavailable })
	if _, err := get(ctx, events.APIGatewayProxyRequest{}); err == nil {
		t.Error("GET /chat succeeded with its emulator dead")
	}
	if !strings.Contains(logs.String(), "function emulator exited") {
		t.Errorf("the emulator's exit is not logged:\n%s", logs)
	}

	copyExecutable(t, emulator, bin)
	eventuallyWithin(t, "the emulator restarted", func() bool { return fn.Pid() != 0 })
	if fn.Pid() == killed {
		t.Fatalf("the emulator's pid is still %d", killed)
	}
	if code := healthz(); code != http.StatusOK {
		t.Errorf("/healthz after the restart: %d", code)
	}
	if _, err := get(ctx, events.APIGatewayProxyRequest{}); err != nil {
		t.Errorf("GET /chat after the restart: %v\n%s", err, logs)
	}
}

// eventuallyWithin polls cond every 50 ms, at most a minute.
func eventuallyWithin(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 1200 {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not within a minute", what)
}

// TestRIEHangUpsKeepFunctionsRunning is the attack on `serve --functions
// rie`: clients send a GET and hang up 1 to 3 ms later, cancelling the
// authorizer's and the function's invocations mid-run, while another client
// reads the room. The other client must get its answer every time, and a
// request without a token its 401: an invocation sent to an emulator still
// running the abandoned one crashed it, and every later request got 502
// (500 from the authorizer) for good.
func TestRIEHangUpsKeepFunctionsRunning(t *testing.T) {
	if testing.Short() {
		t.Skip("runs DynamoDB Local and the emulator")
	}
	cfg := dynamoConfig(t)
	cfg.Functions = "rie"
	cfg.RIE = RIEConfig{Binary: rieBinary(t), Bootstrap: bootstrapBinary(t)}
	cfg.Auth = AuthConfig{Secret: authTestSecret}
	s := startServer(t, cfg)
	const room = "hangup"
	token := devToken(t, chatapp.Identity{UserID: "ada", Name: "Ada", Rooms: []string{room}})
	bearer := map[string]string{"Authorization": "Bearer " + token}
	addr := strings.TrimPrefix(s.URL, "http://")
	request := "GET /chat?room_id=" + room + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + "\r\n\r\n"

	for round := range 20 {
		hungUp := make(chan error, 1)
		go func() {
			conn, err := net.DialTimeout("tcp", addr, waitTimeout)
			if err != nil {
				hungUp <- err
				return
			}
			_, err = conn.Write([]byte(request))
			time.Sleep(time.Duration(1+round%3) * time.Millisecond)
			conn.Close()
			hungUp <- err
		}()
		if r := do(t, http.MethodGet, s.URL+"/chat?room_id="+room, nil, bearer); r.Status != http.StatusOK {
			t.Fatalf("round %d: GET /chat beside a client that hung up: %d %s", round, r.Status, r.Body)
		}
		if r := do(t, http.MethodGet, s.URL+"/chat?room_id="+room, nil, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("round %d: GET /chat without a token: %d %s, want 401", round, r.Status, r.Body)
		}
		if err := <-hungUp; err != nil {
			t.Fatal(err)
		}
	}
}
