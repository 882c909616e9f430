package rie_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/aws/aws-lambda-go/events"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/auth"
	"github.com/chatapp-dev/chatapp/awslambda"
	"github.com/chatapp-dev/chatapp/rie"
)

// TestStartToFirstInvoke measures a cold start under the runtime interface
// emulator: from starting aws-lambda-rie with the bootstrap to the first
// successful Invoke answer, which includes the emulator's start, the
// bootstrap's exec and init, and one invocation. Two functions: the
// authorizer (a valid token: no AWS calls) and get-messages (the full init of
// a data function, the AWS config and DynamoDB client; the request lacks
// room_id, so it answers 400 without reaching DynamoDB). It checks the
// median ≤ 20 ms. Only with CHATAPP_BENCH_RIE=1 (CHATAPP_BENCH_RIE_RUNS cold
// starts a function, 30 by default).
func TestStartToFirstInvoke(t *testing.T) {
	if os.Getenv("CHATAPP_BENCH_RIE") != "1" {
		t.Skip("set CHATAPP_BENCH_RIE=1 to measure the start to first invoke")
	}
	emulator, err := filepath.Abs("../.cache/bin/aws-lambda-rie")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(emulator); err != nil {
		t.Skipf("no emulator (scripts/deps.sh installs it): %v", err)
	}
	// CHATAPP_BENCH_BOOTSTRAP names a prebuilt bootstrap (to compare builds).
	bootstrap := os.Getenv("CHATAPP_BENCH_BOOTSTRAP")
	if bootstrap == "" {
		bootstrap = filepath.Join(t.TempDir(), "bootstrap")
		build := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", bootstrap, "../cmd/bootstrap")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build bootstrap: %v\n%s", err, out)
		}
	}

	secret := "benchmark-secret-of-at-least-32-bytes!!"
	token, err := (&auth.Issuer{Secret: []byte(secret)}).Issue(chatapp.Identity{UserID: "u1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		handler string
		event   any
	}{
		{awslambda.Authorize, events.APIGatewayCustomAuthorizerRequestTypeRequest{
			Type: "REQUEST", MethodArn: "arn:aws:execute-api:us-east-1:1:api/dev/GET/chat",
			Headers: map[string]string{"Authorization": "Bearer " + token},
		}},
		{awslambda.GetMessages, events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/chat", Resource: "/chat"}},
	}
	env := []string{"CHATAPP_AUTH_SECRET=" + secret, "AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:9"}
	runs := 30
	if n, err := strconv.Atoi(os.Getenv("CHATAPP_BENCH_RIE_RUNS")); err == nil && n > 0 {
		runs = n
	}
	for _, c := range cases {
		event, _ := json.Marshal(c.event)
		toFirst := hdrhistogram.New(1, int64(10*time.Second), 3)
		toListen := hdrhistogram.New(1, int64(10*time.Second), 3)
		for range runs {
			listen, first := coldStart(t, emulator, bootstrap, c.handler, env, event)
			toListen.RecordValue(listen.Microseconds())
			toFirst.RecordValue(first.Microseconds())
		}
		us := func(h *hdrhistogram.Histogram, q float64) time.Duration {
			return time.Duration(h.ValueAtQuantile(q)) * time.Microsecond
		}
		t.Logf("%s: start to first invoke answer over %d cold starts: p50=%v p99=%v max=%v (emulator listening: p50=%v)",
			c.handler, runs, us(toFirst, 50), us(toFirst, 99), time.Duration(toFirst.Max())*time.Microsecond, us(toListen, 50))
		if p50 := us(toFirst, 50); p50 > 20*time.Millisecond {
			t.Errorf("%s: median start to first invoke %v, want ≤ 20ms", c.handler, p50)
		}
	}
}

// coldStart starts the emulator with the bootstrap, as rie.Start does (both
// addresses on loopback), and invokes until the first answer succeeds. It
// returns when the emulator first accepted a connection and when the first
// invoke answered, both from the start.
func coldStart(t *testing.T, emulator, bootstrap, handler string, env []string, event []byte) (listen, first time.Duration) {
	t.Helper()
	apiAddr, rieAddr := freeAddr(t), freeAddr(t)
	cmd := exec.Command(emulator, "--runtime-interface-emulator-address", rieAddr, "--runtime-api-address", apiAddr, bootstrap)
	cmd.Env = append(os.Environ(), "_HANDLER="+handler, "AWS_LAMBDA_FUNCTION_NAME="+handler)
	cmd.Env = append(cmd.Env, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	url := "http://" + rieAddr + "/2015-03-31/functions/" + rie.FunctionName + "/invocations"
	// A fresh transport: no connection survives from an earlier start.
	client := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()

	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stop := time.Now()
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		if d := time.Since(stop); d > time.Second {
			t.Logf("stopping the emulator took %v", d)
		}
	}()
	for deadline := start.Add(5 * time.Second); ; time.Sleep(100 * time.Microsecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: the emulator did not listen within 5s", handler)
		}
		if conn, err := net.Dial("tcp", rieAddr); err == nil {
			conn.Close()
			break
		}
	}
	listen = time.Since(start)
	resp, err := client.Post(url, "application/json", bytes.NewReader(event))
	if err != nil {
		t.Fatalf("%s: invoke: %v", handler, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	first = time.Since(start)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Amz-Function-Error") != "" || !json.Valid(body) {
		t.Fatalf("%s: invoke answered %d %s", handler, resp.StatusCode, body)
	}
	return listen, first
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
