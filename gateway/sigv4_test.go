package gateway_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/coder/websocket"

	"github.com/chatapp-dev/chatapp/gateway"
)

const waitTimeout = 5 * time.Second

// managementEnv is a gateway on a loopback port whose $connect reports
// each connection's id, for driving /@connections.
type managementEnv struct {
	gw        *gateway.Gateway
	url       string
	connected chan string
}

func newManagementEnv(t *testing.T) *managementEnv {
	t.Helper()
	e := &managementEnv{connected: make(chan string, 16)}
	e.gw = gateway.New(gateway.Config{WebSocket: map[string]gateway.WebSocketFunc{
		"$connect": func(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			e.connected <- ev.RequestContext.ConnectionID
			return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
		},
	}})
	srv := httptest.NewServer(e.gw)
	t.Cleanup(func() { srv.Close(); e.gw.Close() })
	e.url = srv.URL
	return e
}

// dial opens a WebSocket and returns it with its connection id.
func (e *managementEnv) dial(t *testing.T) (*websocket.Conn, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.url, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	select {
	case id := <-e.connected:
		return c, id
	case <-time.After(waitTimeout):
		t.Fatal("no $connect")
		return nil, ""
	}
}

func (e *managementEnv) connectionURL(id string) string {
	return e.url + "/@connections/" + url.PathEscape(id)
}

// sdkClient is the Management API client functions use, on creds.
func (e *managementEnv) sdkClient(creds aws.Credentials, endpoint string) *apigatewaymanagementapi.Client {
	return apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.StaticCredentialsProvider{Value: creds},
		Retryer:      aws.NopRetryer{},
	})
}

// signed returns a request signed by the SDK's signer at signedAt.
func signed(t *testing.T, creds aws.Credentials, method, rawURL string, body []byte, signedAt time.Time) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	hash := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(hash[:]), "execute-api", "us-east-1", signedAt); err != nil {
		t.Fatal(err)
	}
	return req
}

func send(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func read(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	_, data, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// The functions' own client, signing with the gateway's credentials,
// reaches every operation, at the root and under the stage. Connection ids
// end in "=", which the SDK sends as %3D and signs as %253D.
func TestManagementAPIAcceptsSDKSignedRequests(t *testing.T) {
	e := newManagementEnv(t)
	conn, id := e.dial(t)
	if !strings.HasSuffix(id, "=") {
		t.Fatalf("connection id %q does not end with =", id)
	}
	ctx := context.Background()
	for _, endpoint := range []string{e.url, e.url + "/dev"} {
		client := e.sdkClient(e.gw.ManagementCredentials(), endpoint)
		if _, err := client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("via " + endpoint)}); err != nil {
			t.Fatalf("PostToConnection at %s: %v", endpoint, err)
		}
		if got := read(t, conn); got != "via "+endpoint {
			t.Errorf("got %q", got)
		}
		if _, err := client.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)}); err != nil {
			t.Fatalf("GetConnection at %s: %v", endpoint, err)
		}
	}
	client := e.sdkClient(e.gw.ManagementCredentials(), e.url)
	if _, err := client.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)}); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}
	readCtx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	if _, _, err := conn.Read(readCtx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("after DeleteConnection: %v, want close 1000", err)
	}
	var gone *types.GoneException
	if _, err := client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("x")}); !errors.As(err, &gone) {
		t.Errorf("PostToConnection after delete: %v, want GoneException", err)
	}
}

// Every request that is not signed with the gateway's credentials, over
// exactly what was sent, is refused with AWS's 403 and delivers nothing.
func TestManagementAPIRefusesBadSignatures(t *testing.T) {
	e := newManagementEnv(t)
	conn, id := e.dial(t)
	other, otherID := e.dial(t)
	creds := e.gw.ManagementCredentials()
	wrongSecret := creds
	wrongSecret.SecretAccessKey = "not-the-secret"
	wrongKey := gateway.NewManagementCredentials()
	wrongKey.SecretAccessKey = creds.SecretAccessKey
	target := e.connectionURL(id)
	now := time.Now()
	body := []byte(`{"frame":"evil"}`)

	tests := []struct {
		name    string
		req     func() *http.Request
		errType string
	}{
		{"unsigned", func() *http.Request {
			req, _ := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
			return req
		}, "ForbiddenException"},
		{"tampered body", func() *http.Request {
			req := signed(t, creds, http.MethodPost, target, []byte(`{"frame":"good"}`), now)
			req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
			return req
		}, "InvalidSignatureException"},
		{"tampered path", func() *http.Request {
			// Signed for one connection, sent to another.
			req := signed(t, creds, http.MethodPost, e.connectionURL(otherID), body, now)
			req.URL, _ = url.Parse(target)
			return req
		}, "InvalidSignatureException"},
		{"tampered method", func() *http.Request {
			req := signed(t, creds, http.MethodGet, target, nil, now)
			req.Method = http.MethodDelete
			return req
		}, "InvalidSignatureException"},
		{"wrong secret", func() *http.Request {
			return signed(t, wrongSecret, http.MethodPost, target, body, now)
		}, "InvalidSignatureException"},
		{"wrong access key", func() *http.Request {
			return signed(t, wrongKey, http.MethodPost, target, body, now)
		}, "ForbiddenException"},
		{"stale date", func() *http.Request {
			return signed(t, creds, http.MethodPost, target, body, now.Add(-6*time.Minute))
		}, "InvalidSignatureException"},
		{"future date", func() *http.Request {
			return signed(t, creds, http.MethodPost, target, body, now.Add(6*time.Minute))
		}, "InvalidSignatureException"},
		{"other service", func() *http.Request {
			req, _ := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
			hash := sha256.Sum256(body)
			v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(hash[:]), "dynamodb", "us-east-1", now)
			return req
		}, "InvalidSignatureException"},
		{"malformed header", func() *http.Request {
			req := signed(t, creds, http.MethodPost, target, body, now)
			req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Signature=abc")
			return req
		}, "InvalidSignatureException"},
		{"other scheme", func() *http.Request {
			req := signed(t, creds, http.MethodPost, target, body, now)
			req.Header.Set("Authorization", "Bearer "+creds.SecretAccessKey)
			return req
		}, "InvalidSignatureException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, respBody := send(t, tt.req())
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != tt.errType {
				t.Fatalf("%d X-Amzn-ErrorType=%q %s, want 403 %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), respBody, tt.errType)
			}
			var m map[string]string
			if err := json.Unmarshal(respBody, &m); err != nil || m["message"] == "" || len(m) != 1 {
				t.Errorf("body %s, want {\"message\":...}", respBody)
			}
		})
	}

	// The SDK's client with foreign credentials gets the typed error.
	var forbidden *types.ForbiddenException
	_, err := e.sdkClient(wrongKey, e.url).PostToConnection(context.Background(), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: body})
	if !errors.As(err, &forbidden) {
		t.Errorf("PostToConnection with a foreign key: %v, want ForbiddenException", err)
	}

	// Nothing reached either socket, and both are still open: the first
	// frame each reads is a signed post.
	for _, c := range []struct {
		conn *websocket.Conn
		id   string
	}{{conn, id}, {other, otherID}} {
		resp, respBody := send(t, signed(t, creds, http.MethodPost, e.connectionURL(c.id), []byte("marker"), time.Now()))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("signed POST: %d %s", resp.StatusCode, respBody)
		}
		if got := read(t, c.conn); got != "marker" {
			t.Errorf("connection %s got %q first, want marker", c.id, got)
		}
	}
	if resp, _ := send(t, signed(t, creds, http.MethodGet, target, nil, time.Now())); resp.StatusCode != http.StatusOK {
		t.Errorf("GET of the target after the refusals: %d, want 200", resp.StatusCode)
	}
}

// The path the client signed is the escaped one it sent: an id sent with
// a literal "=" verifies as well as one sent as %3D.
func TestManagementAPIVerifiesTheWirePath(t *testing.T) {
	e := newManagementEnv(t)
	conn, id := e.dial(t)
	creds := e.gw.ManagementCredentials()
	for _, rawURL := range []string{e.url + "/@connections/" + id, e.connectionURL(id), e.url + "/dev/@connections/" + url.PathEscape(id)} {
		resp, body := send(t, signed(t, creds, http.MethodPost, rawURL, []byte(rawURL), time.Now()))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %d %s", rawURL, resp.StatusCode, body)
		}
		if got := read(t, conn); got != rawURL {
			t.Errorf("got %q, want %q", got, rawURL)
		}
	}
}
