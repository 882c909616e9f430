// Package awslambda connects the handlers to AWS Lambda: it maps the
// Handler names of template.yaml to the functions of one bootstrap binary,
// and names the function of each route. The gateway side, Lambda Invoke
// calls, is its subpackage invoke.
package awslambda

import (
	"context"
	"maps"
	"slices"

	"github.com/aws/aws-lambda-go/events"

	"github.com/chatapp-dev/chatapp/apigw"
	"github.com/chatapp-dev/chatapp/handler"
	"github.com/chatapp-dev/chatapp/protocol"
)

// The Handler names used in template.yaml: one bootstrap binary serves every
// function, and the runtime's _HANDLER variable picks one.
const (
	GetMessages = "get-messages"
	PutMessage  = "put-message"
	GetUsers    = "get-users"
	Connect     = "connect"
	Disconnect  = "disconnect"
	SendMessage = "send-message"
	Default     = "default"
	// Authorize is the REQUEST authorizer of both APIs.
	Authorize = "authorize"
)

// RESTRoutes and WebSocketRoutes say which function serves each route, as
// template.yaml wires them and the local gateway does.
var (
	RESTRoutes = map[string]string{
		"GET /chat":       GetMessages,
		"PUT /chat":       PutMessage,
		"GET /chat/users": GetUsers,
	}
	WebSocketRoutes = map[string]string{
		protocol.RouteConnect:      Connect,
		protocol.RouteDisconnect:   Disconnect,
		protocol.ActionSendMessage: SendMessage,
		protocol.RouteDefault:      Default,
	}
	// WebSocketMockRoutes are the routes API Gateway answers by itself,
	// without a function: each has a MOCK integration whose integration
	// response is this frame, and a route response that sends it back to
	// the client (a two-way route). template.yaml and the local gateway
	// both take them from here.
	WebSocketMockRoutes = map[string]string{
		protocol.ActionPing: protocol.PongFrame,
	}
)

// RESTFunc is a function behind a REST API route (a Lambda proxy
// integration).
type RESTFunc func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error)

// WebSocketFunc is a function behind a WebSocket API route.
type WebSocketFunc func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error)

// AuthorizerFunc is a Lambda REQUEST authorizer.
type AuthorizerFunc func(context.Context, events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error)

// Functions are the functions of the bootstrap binary, by Handler name,
// each typed by the events it takes.
type Functions struct {
	REST       map[string]RESTFunc      // GetMessages, PutMessage, GetUsers
	WebSocket  map[string]WebSocketFunc // Connect, Disconnect, SendMessage, Default
	Authorizer AuthorizerFunc           // Authorize
}

// Handlers returns every function of h. Unless fixedEndpoint is set (a
// custom domain, or the local gateway), a WebSocket function pushes through
// the management endpoint of the API its event came from.
func Handlers(h *handler.Handler, fixedEndpoint bool) Functions {
	ws := func(fn WebSocketFunc) WebSocketFunc {
		if fixedEndpoint {
			return fn
		}
		return withEventEndpoint(fn)
	}
	return Functions{
		REST: map[string]RESTFunc{
			GetMessages: h.GetMessages,
			PutMessage:  h.PutMessage,
			GetUsers:    h.GetUsers,
		},
		WebSocket: map[string]WebSocketFunc{
			Connect:     ws(h.Connect),
			Disconnect:  ws(h.Disconnect),
			SendMessage: ws(h.SendMessage),
			Default:     ws(h.Default),
		},
		Authorizer: h.Authorize,
	}
}

// Handler is the function with this Handler name, as lambda.Start takes it
// (a RESTFunc, a WebSocketFunc or the AuthorizerFunc), or false for a name
// that is none of them.
func (f Functions) Handler(name string) (any, bool) {
	if fn, ok := f.REST[name]; ok {
		return fn, true
	}
	if fn, ok := f.WebSocket[name]; ok {
		return fn, true
	}
	if name == Authorize {
		return f.Authorizer, true
	}
	return nil, false
}

// Names lists the Handler names, sorted.
func Names() []string {
	fns := Handlers(&handler.Handler{}, true)
	names := []string{Authorize}
	names = slices.AppendSeq(names, maps.Keys(fns.REST))
	names = slices.AppendSeq(names, maps.Keys(fns.WebSocket))
	slices.Sort(names)
	return names
}

func withEventEndpoint(fn WebSocketFunc) WebSocketFunc {
	return func(ctx context.Context, e events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		endpoint := apigw.EndpointFromEvent(e.RequestContext.DomainName, e.RequestContext.Stage)
		return fn(apigw.ContextWithEndpoint(ctx, endpoint), e)
	}
}
