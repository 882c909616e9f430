package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatapp-dev/chatapp/awslambda"
	"github.com/chatapp-dev/chatapp/awslambda/invoke"
	"github.com/chatapp-dev/chatapp/gateway"
	"github.com/chatapp-dev/chatapp/internal/gobuild"
	"github.com/chatapp-dev/chatapp/rie"
)

// testFunction builds ./testdata/name, a function of the tests, as a
// Lambda bootstrap, and returns its path.
func testFunction(t *testing.T, name string) string {
	t.Helper()
	bootstrap := filepath.Join(t.TempDir(), "bootstrap")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := gobuild.Command(ctx, "-tags", "lambda.norpc", "-o", bootstrap, "./testdata/"+name).CombinedOutput(); err != nil {
		t.Fatalf("go build ./testdata/%s: %v\n%s", name, err, out)
	}
	return bootstrap
}

// serveTestFunction runs testFunction(name) under the runtime interface
// emulator with timeout (0: the emulator's own), as the REST route GET /r
// of a gateway, and returns the gateway's URL and the function's invoker;
// both end with the test.
func serveTestFunction(t *testing.T, name string, timeout time.Duration) (string, *invoke.Invoker) {
	t.Helper()
	emulator, bootstrap := rieBinary(t), testFunction(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	fn, err := rie.Start(ctx, rie.Options{RIE: emulator, Bootstrap: bootstrap, Handler: name, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fn.Close() })
	inv := &invoke.Invoker{Client: newInvokeClient(fn.Endpoint), FunctionName: rie.FunctionName, Serial: true}
	srv := httptest.NewServer(gateway.New(gateway.Config{REST: map[string]gateway.RESTFunc{"GET /r": inv.REST()}}))
	t.Cleanup(srv.Close)
	return srv.URL, inv
}

// TestRIEFunctionTimeout: under the runtime interface emulator a function
// still running at its timeout (AWS_LAMBDA_FUNCTION_TIMEOUT, here 1 s)
// fails, as Lambda stops it, and the gateway answers the REST client 502;
// the function then runs again. The in-process counterpart is the
// gateway's TestLambdaTimeout.
func TestRIEFunctionTimeout(t *testing.T) {
	url, inv := serveTestFunction(t, "slowfunction", time.Second)

	for _, c := range []struct {
		sleep time.Duration
		want  int
	}{
		{0, http.StatusOK},
		{3 * time.Second, http.StatusBadGateway},
		{0, http.StatusOK}, // the function runs again
	} {
		resp, err := (&http.Client{Timeout: time.Minute}).Get(url + "/r?sleep_ms=" + strconv.Itoa(int(c.sleep.Milliseconds())))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("a function running %v with a timeout of 1 s: %d %s, want %d", c.sleep, resp.StatusCode, body, c.want)
			continue
		}
		if left, err := strconv.Atoi(string(body)); c.want == http.StatusOK && (err != nil || left <= 0 || left > 1000) {
			t.Errorf("the function's deadline was %s ms away, want at most its timeout, 1000", body)
		}
	}
	// The failure is Lambda's timeout, not an answer the invoker misread.
	_, err := inv.REST()(t.Context(), events.APIGatewayProxyRequest{QueryStringParameters: map[string]string{"sleep_ms": "3000"}})
	var fe *invoke.FunctionError
	if !errors.As(err, &fe) || fe.Type != "Sandbox.Timedout" || fe.Message() != "Task timed out after 1.00 seconds" {
		t.Errorf("a function past its timeout: %v, want a Sandbox.Timedout function error", err)
	}
}

// TestRIEFunctionsHaveTheirTimeout: `serve --functions rie` starts every
// function under the timeout template.yaml deploys it with
// (awslambda.Timeout), not the emulator's default of 300 s: each one's
// context deadline, which the emulator sets from it, is that far away.
func TestRIEFunctionsHaveTheirTimeout(t *testing.T) {
	emulator, bootstrap := rieBinary(t), testFunction(t, "slowfunction")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := ServeConfig{RIE: RIEConfig{Binary: emulator, Bootstrap: bootstrap}, Auth: AuthConfig{Secret: authTestSecret}}
	in, err := underRIE(ctx, cfg, "http://127.0.0.1:1", gateway.NewManagementCredentials(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	check := func(route, name, left string) {
		t.Helper()
		ms, err := strconv.Atoi(left)
		timeout := awslambda.Timeout(name)
		if err != nil || ms <= 0 || time.Duration(ms)*time.Millisecond > timeout || time.Duration(ms)*time.Millisecond < timeout-5*time.Second {
			t.Errorf("%s (%s): its deadline was %s ms away, want its timeout %v", route, name, left, timeout)
		}
	}
	for route, name := range awslambda.RESTRoutes {
		resp, err := in.rest[route](ctx, events.APIGatewayProxyRequest{})
		if err != nil {
			t.Fatalf("%s: %v", route, err)
		}
		check(route, name, resp.Body)
	}
	for route, name := range awslambda.WebSocketRoutes {
		resp, err := in.websocket[route](ctx, events.APIGatewayWebsocketProxyRequest{})
		if err != nil {
			t.Fatalf("%s: %v", route, err)
		}
		check(route, name, resp.Body)
	}
	resp, err := in.authorizer(ctx, events.APIGatewayCustomAuthorizerRequestTypeRequest{})
	if err != nil {
		t.Fatalf("authorizer: %v", err)
	}
	check("authorizer", awslambda.Authorize, fmtNumber(resp.Context["deadline_ms"]))
}

// fmtNumber is a JSON number's text.
func fmtNumber(v any) string {
	if f, ok := v.(float64); ok {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return "none"
}
