package invoke_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatapp-dev/chatapp"
	"github.com/chatapp-dev/chatapp/awslambda"
	"github.com/chatapp-dev/chatapp/awslambda/invoke"
	"github.com/chatapp-dev/chatapp/handler"
)

// deadlines is every dependency of the functions (stores, notifier, token
// verifier): each call records how far its context's deadline is, and
// fails, which ends the function there.
type deadlines struct {
	mu   sync.Mutex
	left []time.Duration // -1: no deadline
}

var errRecorded = errors.New("recorded")

func (d *deadlines) record(ctx context.Context) error {
	left := time.Duration(-1)
	if deadline, ok := ctx.Deadline(); ok {
		left = time.Until(deadline)
	}
	d.mu.Lock()
	d.left = append(d.left, left)
	d.mu.Unlock()
	return errRecorded
}

func (d *deadlines) take() []time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	left := d.left
	d.left = nil
	return left
}

func (d *deadlines) CreateMessage(ctx context.Context, _ *chatapp.Message) error {
	return d.record(ctx)
}
func (d *deadlines) QueueMessage(ctx context.Context, _ *chatapp.Message) (func() error, error) {
	return chatapp.Committed(nil), d.record(ctx)
}
func (d *deadlines) FindReplay(ctx context.Context, _ *chatapp.Message) error {
	return d.record(ctx)
}
func (d *deadlines) FindMessages(ctx context.Context, _ chatapp.MessageFilter) (chatapp.MessagePage, error) {
	return chatapp.MessagePage{}, d.record(ctx)
}
func (d *deadlines) CreateConnection(ctx context.Context, _ *chatapp.Connection, _ int) error {
	return d.record(ctx)
}
func (d *deadlines) DeleteConnection(ctx context.Context, _ string) (*chatapp.Connection, error) {
	return nil, d.record(ctx)
}
func (d *deadlines) FindConnection(ctx context.Context, _ string) (*chatapp.Connection, error) {
	return nil, d.record(ctx)
}
func (d *deadlines) FindConnectionsByRoom(ctx context.Context, _ string) ([]*chatapp.Connection, error) {
	return nil, d.record(ctx)
}
func (d *deadlines) Broadcast(ctx context.Context, _ string, _ chatapp.Push) (chatapp.Delivery, error) {
	return chatapp.Delivery{}, d.record(ctx)
}
func (d *deadlines) Members(ctx context.Context, _ string) ([]*chatapp.Connection, error) {
	return nil, d.record(ctx)
}
func (d *deadlines) Post(ctx context.Context, _ string, _ []byte) error { return d.record(ctx) }
func (d *deadlines) Disconnect(ctx context.Context, _, _ string) error  { return d.record(ctx) }
func (d *deadlines) VerifyToken(ctx context.Context, _ string) (*chatapp.Identity, error) {
	return nil, d.record(ctx)
}

// TestInProcessFunctionsHaveTheirTimeout: every function the gateway runs in
// process runs with its context's deadline at its Lambda timeout, as
// template.yaml deploys it (awslambda.Timeout), as aws-lambda-go's context
// has on Lambda.
func TestInProcessFunctionsHaveTheirTimeout(t *testing.T) {
	d := &deadlines{}
	h := &handler.Handler{Messages: d, Connections: d, Notifier: d, Tokens: d}
	rest, websocket := invoke.InProcess(h)
	authorizer := invoke.InProcessAuthorizer(h)
	query := map[string]string{"room_id": "lobby", "user_id": "ada", "name": "Ada"}
	calls := map[string]func(){
		"GET /chat": func() {
			rest["GET /chat"](context.Background(), events.APIGatewayProxyRequest{HTTPMethod: "GET", QueryStringParameters: query})
		},
		"PUT /chat": func() {
			rest["PUT /chat"](context.Background(), events.APIGatewayProxyRequest{HTTPMethod: "PUT", Body: `{"room_id":"lobby","user_id":"ada","name":"Ada","text":"hi"}`})
		},
		"GET /chat/users": func() {
			rest["GET /chat/users"](context.Background(), events.APIGatewayProxyRequest{HTTPMethod: "GET", QueryStringParameters: query})
		},
		"authorizer": func() {
			authorizer(context.Background(), events.APIGatewayCustomAuthorizerRequestTypeRequest{Headers: map[string]string{"Authorization": "Bearer x"}})
		},
	}
	for route := range websocket {
		calls[route] = func() {
			e := events.APIGatewayWebsocketProxyRequest{Body: `{"action":"sendmessage","text":"hi"}`, QueryStringParameters: query}
			e.RequestContext.RouteKey, e.RequestContext.ConnectionID = route, "c1"
			websocket[route](context.Background(), e)
		}
	}
	names := map[string]string{"authorizer": awslambda.Authorize}
	for route, name := range awslambda.RESTRoutes {
		names[route] = name
	}
	for route, name := range awslambda.WebSocketRoutes {
		names[route] = name
	}
	if len(calls) != len(names) {
		t.Fatalf("%d routes called, want %d", len(calls), len(names))
	}
	for route, call := range calls {
		call()
		left := d.take()
		timeout := awslambda.Timeout(names[route])
		if len(left) == 0 {
			t.Errorf("%s (%s) called none of its dependencies", route, names[route])
		}
		for _, l := range left {
			// Generous: only a deadline at the timeout, not one far later
			// (none, or the 29 s of API Gateway), passes.
			if l <= 0 || l > timeout || l < timeout-5*time.Second {
				t.Errorf("%s (%s): its context's deadline is %v away, want its timeout %v", route, names[route], l, timeout)
			}
		}
	}
}
